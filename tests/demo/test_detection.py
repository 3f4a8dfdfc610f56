"""Person boxes: both detection-file layouts, one-line errors for bad entries, the HOG detector."""
import json
import logging

import cv2
import numpy as np
import pytest

from pose3d import demo
from pose3d.cli import run_entry
from pose3d.detection import Boxes, HogDetector, _hog_module, clip_to_image, read_detections
from pose3d.opts import parse
from pose3d.utils.errors import DataFormatError, UserError

HOG = _hog_module() is not None


def _write(path, payload) -> str:
    path.write_text(payload if isinstance(payload, str) else json.dumps(payload))
    return str(path)


def test_plain_layout_keeps_scores_above_threshold_best_first(tmp_path):
    f = _write(tmp_path / "d.json", {"a.jpg": [[1, 2, 30, 40, 0.4], [5, 6, 10, 20, 0.6],
                                                [7, 8, 9, 10, 0.9]],
                                      "clip.mp4#3": [[0, 0, 5, 5, 1.0]], "sub/b.png": []})
    dets = read_detections(f, thr=0.5)
    assert set(dets) == {"a.jpg", "clip.mp4#3"}  # b.png has no box left
    np.testing.assert_allclose(dets["a.jpg"].xywh, [[7, 8, 9, 10], [5, 6, 10, 20]])
    np.testing.assert_allclose(dets["a.jpg"].scores, [0.9, 0.6])
    assert dets["a.jpg"].entries == ["entry 'a.jpg'[2]", "entry 'a.jpg'[1]"]


def test_coco_results_keep_people_and_map_ids_to_file_names(tmp_path):
    images = _write(tmp_path / "person_keypoints_val2017.json", {
        "images": [{"id": 397133, "file_name": "000000397133.jpg"},
                   {"id": 37777, "file_name": "000000037777.jpg"}], "annotations": []})
    f = _write(tmp_path / "res.json", [
        {"image_id": 397133, "category_id": 1, "bbox": [10, 20, 30, 60], "score": 0.8},
        {"image_id": 397133, "category_id": 18, "bbox": [0, 0, 30, 30], "score": 0.99},
        {"image_id": 37777, "category_id": 1, "bbox": [5, 5, 10, 10], "score": 0.3},
        {"image_id": 37777, "category_id": 1, "bbox": [1, 1, 50, 90], "score": 0.7}])
    dets = read_detections(f, images, thr=0.5)
    assert set(dets) == {"000000397133.jpg", "000000037777.jpg"}
    np.testing.assert_allclose(dets["000000397133.jpg"].xywh, [[10, 20, 30, 60]])  # no dog
    np.testing.assert_allclose(dets["000000037777.jpg"].scores, [0.7])


BAD = [  # (file content, --det_images content or None, words the one line must hold)
    ('"just a string"', None, ["top level is a str"]),
    ("{not json", None, ["not valid JSON"]),
    ({"a.jpg": [[1, 2, 3, 4]]}, None, ["entry 'a.jpg'[0]", "[x, y, w, h] and score"]),
    ({"a.jpg": {"x": 1}}, None, ["entry 'a.jpg'", "list"]),
    ('{"a.jpg": [[1, 2, NaN, 4, 0.9]]}', None, ["entry 'a.jpg'[0]", "finite"]),
    ({"a.jpg": [[0, 0, 5, 5, 0.9], [1, 2, -3, 4, 0.9]]}, None,
     ["entry 'a.jpg'[1]", "positive", "w=-3"]),
    ([{"image_id": 1, "category_id": 1, "bbox": [0, 0, 4, 4], "score": 1.0}],
     {"images": [{"id": 2, "file_name": "x.jpg"}]}, ["entry 0", "image_id 1", "imgs.json"]),
    ([{"image_id": 1, "bbox": [0, 0, 4, 4]}], {"images": []}, ["entry 0", "category_id"]),
    ([{"image_id": [1], "category_id": 1, "bbox": [0, 0, 4, 4], "score": 1.0}],
     {"images": [{"id": 1, "file_name": "a.jpg"}]}, ["entry 0", "image_id [1]"]),
    ([{"image_id": 1, "category_id": 1, "bbox": [0, 0, 4, 4], "score": 1.0}], None,
     ["--det_images"]),
    ([{"image_id": 1, "category_id": 1, "bbox": [0, 0, 4, 4], "score": 1.0}], {"x": 1},
     ["imgs.json", "no 'images' list"]),
]


@pytest.mark.parametrize("content, images, words", BAD)
def test_bad_detection_file_is_one_line_naming_file_and_entry(tmp_path, capsys, content, images,
                                                              words):
    cv2.imwrite(str(tmp_path / "a.jpg"), np.zeros((40, 40, 3), np.uint8))
    argv = ["--device", "cpu", "--demo", str(tmp_path / "a.jpg"), "--save_dir",
            str(tmp_path / "o"), "--det_file", _write(tmp_path / "bad.json", content)]
    if images is not None:
        argv += ["--det_images", _write(tmp_path / "imgs.json", images)]
    assert run_entry(demo.main, argv) == 1
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err
    assert all(w in lines[0] for w in words), lines[0]
    assert "bad.json" in lines[0] or "imgs.json" in lines[0]
    assert not (tmp_path / "o").exists()  # nothing written before the check


def test_box_outside_the_picture_names_file_and_entry(tmp_path, stub_predictor):
    cv2.imwrite(str(tmp_path / "a.jpg"), np.zeros((40, 60, 3), np.uint8))
    f = _write(tmp_path / "d.json", {"a.jpg": [[10, 10, 20, 20, 0.9], [70, 5, 10, 10, 0.8]]})
    argv = ["--device", "cpu", "--demo", str(tmp_path / "a.jpg"), "--det_file", f,
            "--save_dir", str(tmp_path / "o")]
    with pytest.raises(DataFormatError) as info:
        demo.run(parse(argv), stub_predictor)
    line = str(info.value)
    assert "\n" not in line and "d.json" in line and "entry 'a.jpg'[1]" in line
    assert "outside the 60x40 picture" in line


def test_clip_keeps_the_part_inside():
    boxes = Boxes(np.array([[-10.0, 5, 30, 50]]), np.array([0.9]), ["entry 0"])
    np.testing.assert_allclose(clip_to_image(boxes, (40, 60), "f").xywh, [[0, 5, 20, 35]])
    with pytest.raises(DataFormatError, match="entry 0"):
        clip_to_image(Boxes(np.array([[0.0, 41, 5, 5]]), np.ones(1), ["entry 0"]), (40, 60), "f")


def test_conflicting_box_flags_are_one_line(tmp_path):
    cv2.imwrite(str(tmp_path / "a.jpg"), np.zeros((40, 40, 3), np.uint8))
    f = _write(tmp_path / "d.json", {})
    with pytest.raises(UserError, match="use only one"):
        demo.run(parse(["--demo", str(tmp_path / "a.jpg"), "--det_file", f, "--bbox",
                        "1,1,5,5"]))
    with pytest.raises(UserError, match="--det_images"):
        demo.run(parse(["--demo", str(tmp_path / "a.jpg"), "--det_images", f]))
    with pytest.raises(UserError, match="--focal"):
        demo.run(parse(["--demo", str(tmp_path / "a.jpg"), "--focal", "-3"]))


@pytest.mark.skipif(not HOG, reason="this OpenCV build has no HOG detector")
def test_hog_returns_people_boxes_in_the_file_format(scenes):
    scene = scenes["truth"]["three.png"]
    boxes = HogDetector(thr=0.0)(scene["image"])
    h, w = scene["image"].shape[:2]
    assert boxes.xywh.shape == (len(boxes), 4) and boxes.xywh.dtype == np.float64
    assert (boxes.xywh[:, 2:] > 0).all()
    assert (np.diff(boxes.scores) <= 0).all()  # best first
    assert len(clip_to_image(boxes, (h, w), "hog")) == len(boxes)
    # Whatever it finds is a tall box (the HOG window is 1:2).
    np.testing.assert_allclose(boxes.xywh[:, 3] / boxes.xywh[:, 2], 2.0, rtol=0.05)


@pytest.mark.skipif(not HOG, reason="this OpenCV build has no HOG detector")
def test_hog_finding_nobody_falls_back_to_the_whole_picture(tmp_path, stub_predictor, caplog):
    cv2.imwrite(str(tmp_path / "grey.png"), np.full((120, 160, 3), 127, np.uint8))
    with caplog.at_level(logging.WARNING, logger="pose3d.demo"):
        demo.run(parse(["--device", "cpu", "--demo", str(tmp_path / "grey.png"), "--detector",
                        "hog", "--save_dir", str(tmp_path / "o")]), stub_predictor)
    assert "grey.png" in caplog.text and "no person box" in caplog.text
    rec = json.loads((tmp_path / "o" / "grey.json").read_text())
    assert rec["boxes_from"].startswith("--detector hog")
    assert len(rec["people"]) == 1 and rec["people"][0]["box"] is None


@pytest.mark.skipif(HOG, reason="this OpenCV build has the HOG detector")
def test_hog_missing_from_opencv_is_one_line(tmp_path, capsys):
    cv2.imwrite(str(tmp_path / "a.jpg"), np.zeros((40, 40, 3), np.uint8))
    argv = ["--device", "cpu", "--demo", str(tmp_path / "a.jpg"), "--detector", "hog",
            "--save_dir", str(tmp_path / "o")]
    assert run_entry(demo.main, argv) == 1
    line = capsys.readouterr().err.strip()
    assert "\n" not in line and "--detector hog" in line and "--det_file" in line
    assert cv2.__version__ in line
