"""The demo on composed pictures of two and three rendered people: one result per person, in the
right place, ids kept through a video, the same paths through ONNX Runtime."""
import json
import logging

import cv2
import numpy as np
import pytest
import torch

from pose3d import demo
from pose3d.models import create_model
from pose3d.onnx_backend import export_onnx
from pose3d.opts import parse
from pose3d.skeleton import ROOT_MPII
from pose3d.utils.visualize import count_video_frames


def _opts(*argv: str):
    return parse(["--device", "cpu", *argv])


def _inside(point, box) -> bool:
    x, y, w, h = box
    return x <= point[0] <= x + w and y <= point[1] <= y + h


def test_boxes_from_a_file_give_one_person_each_in_place(scenes, stub_predictor, tmp_path):
    out = tmp_path / "out"
    written = demo.run(_opts("--demo", str(scenes["pics"]), "--det_file",
                             str(scenes["det_file"]), "--save_dir", str(out)), stub_predictor)
    assert len(written) == 6
    for name, scene in scenes["truth"].items():
        rec = json.loads((out / name.replace(".png", ".json")).read_text())
        assert rec["boxes_from"] == f"--det_file {scenes['det_file']}"
        people, truth = rec["people"], scene["people"]
        assert len(people) == len(truth)
        assert [p["id"] for p in people] == list(range(len(truth)))
        assert [p["score"] for p in people] == sorted((p["score"] for p in people), reverse=True)
        for person, gt in zip(people, truth):  # the file lists them best first, as the demo
            np.testing.assert_allclose(person["box"], gt["box"])
            root = person["joints_2d"][ROOT_MPII]
            assert _inside(root, gt["box"])
            assert not any(_inside(root, other["box"]) for other in truth if other is not gt)
            assert np.isfinite(person["joints_cam_mm"]).all()
            np.testing.assert_allclose(person["joints_cam_mm"][ROOT_MPII], person["root_cam_mm"])
        cam = rec["camera_space"]
        assert cam["estimate"] is True and cam["method"] == "weak perspective"
        assert cam["focal_px"] == 480 and cam["focal_from"] == "max(image width, image height)"
        overlay = cv2.imread(str(out / name.replace(".png", "_2d.png")))
        assert overlay.shape == scene["image"].shape
        panels = cv2.imread(str(out / name.replace(".png", "_3d.png")))
        assert panels.shape[1] == 400 * len(truth)  # one panel per person


def test_picture_missing_from_the_file_runs_whole_with_a_warning(scenes, stub_predictor,
                                                                 tmp_path, caplog):
    det_file = tmp_path / "only_two.json"
    det_file.write_text(json.dumps({"two.png": json.loads(scenes["det_file"].read_text())[
        "two.png"]}))
    with caplog.at_level(logging.WARNING, logger="pose3d.demo"):
        demo.run(_opts("--demo", str(scenes["pics"]), "--det_file", str(det_file), "--save_dir",
                       str(tmp_path / "out")), stub_predictor)
    assert "three.png" in caplog.text and "no person box" in caplog.text
    assert "two.png" not in caplog.text
    three = json.loads((tmp_path / "out" / "three.json").read_text())["people"]
    assert len(three) == 1 and three[0]["box"] is None
    assert len(json.loads((tmp_path / "out" / "two.json").read_text())["people"]) == 2


def test_focal_scales_the_root_depth(scenes, stub_predictor, tmp_path):
    depths = {}
    for focal in ("0", "960"):
        out = tmp_path / focal
        demo.run(_opts("--demo", str(scenes["pics"] / "two.png"), "--det_file",
                       str(scenes["det_file"]), "--focal", focal, "--save_dir", str(out)),
                 stub_predictor)
        rec = json.loads((out / "two.json").read_text())
        depths[focal] = np.array([p["root_cam_mm"][2] for p in rec["people"]])
    assert rec["camera_space"]["focal_px"] == 960 and rec["camera_space"]["focal_from"] == "--focal"
    np.testing.assert_allclose(depths["960"], 2 * depths["0"], rtol=1e-3)


def test_tiny_model_runs_every_person(scenes, tiny_ckpt, tmp_path):
    out = tmp_path / "out"
    demo.run(_opts("--demo", str(scenes["pics"] / "three.png"), "--det_file",
                   str(scenes["det_file"]), "--load_model", str(tiny_ckpt), "--save_dir",
                   str(out)))
    rec = json.loads((out / "three.json").read_text())
    assert len(rec["people"]) == 3
    for person in rec["people"]:
        assert np.array(person["joints_2d"]).shape == (16, 2)
        assert np.array(person["joints_3d_mm"]).shape == (16, 3)
        # Each person's joints come from their own crop (1.25 x the box around its centre).
        x, y, w, h = person["box"]
        side = 1.25 * max(w, h)
        assert (np.abs(np.array(person["joints_2d"]) - [x + w / 2, y + h / 2]) <= side / 2 + 1
                ).all()


def _write_video(path, make_scene, frames: int) -> list[list[dict]]:
    """Three people walking right 40 mm a frame; returns each frame's ground-truth people."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (480, 360))
    assert writer.isOpened()
    truth = []
    for i in range(frames):
        scene = make_scene(21, 3, shift_mm=40.0 * i)
        writer.write(scene["image"])
        truth.append(scene["people"])
    writer.release()
    return truth


def test_video_keeps_ids_and_smooths(tmp_path, make_scene, stub_predictor):
    video = tmp_path / "walk.mp4"
    truth = _write_video(video, make_scene, 6)
    rng = np.random.default_rng(0)
    dets = {}
    for i, people in enumerate(truth):  # each frame lists the people in another order
        order = rng.permutation(len(people))
        dets[f"walk.mp4#{i}"] = [list(people[k]["box"]) + [0.9] for k in order]
    det_file = tmp_path / "dets.json"
    det_file.write_text(json.dumps(dets))
    out = tmp_path / "out"
    demo.run(_opts("--demo", str(video), "--det_file", str(det_file), "--smooth",
                   "--save_dir", str(out)), stub_predictor)
    rec = json.loads((out / "walk.json").read_text())
    assert rec["num_frames"] == 6 and rec["smoothing"]["method"].startswith("Savitzky-Golay")
    assert rec["tracking"] == {"method": "IoU, Hungarian", "min_iou": 0.3, "max_gap_frames": 5}
    id_of_person = {}
    for frame, people in zip(rec["frames"], truth):
        assert len(frame["people"]) == 3
        for p in frame["people"]:
            k = next(k for k, gt in enumerate(people) if np.allclose(p["box"], gt["box"]))
            id_of_person.setdefault(k, set()).add(p["id"])
    assert all(len(ids) == 1 for ids in id_of_person.values())  # one id per person
    assert len(set().union(*id_of_person.values())) == 3
    assert len(list(out.glob("walk_0000?_2d.png"))) == 6
    assert count_video_frames(out / "walk_2d.mp4") == 6


@pytest.mark.slow
def test_onnx_backend_takes_the_same_path(scenes, tiny_ckpt, tmp_path):
    pytest.importorskip("onnxruntime")
    model = create_model("msra_18", {"hm": 16, "depth": 16}, input_hw=(64, 64)).eval()
    model.load_state_dict(torch.load(tiny_ckpt, weights_only=True)["state_dict"])
    onnx_path = export_onnx(model, tmp_path / "tiny.onnx", (64, 64))
    results = {}
    for backend, path in (("pytorch", tiny_ckpt), ("onnxruntime", onnx_path)):
        demo.run(_opts("--demo", str(scenes["pics"] / "three.png"), "--det_file",
                       str(scenes["det_file"]), "--load_model", str(path), "--backend", backend,
                       "--save_dir", str(tmp_path / backend)))
        results[backend] = json.loads((tmp_path / backend / "three.json").read_text())["people"]
    assert len(results["onnxruntime"]) == len(results["pytorch"]) == 3
    for a, b in zip(results["pytorch"], results["onnxruntime"]):
        assert a["box"] == b["box"]
        np.testing.assert_allclose(a["joints_2d"], b["joints_2d"])
        np.testing.assert_allclose(a["joints_3d_mm"], b["joints_3d_mm"], atol=1.0)
