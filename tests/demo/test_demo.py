"""The demo: crop geometry, outputs for images, folders and videos, and one-line errors.

A stub network with known heatmap peaks checks that the JSON's 2D pixels are the peak cells mapped
back through the crop (whole image and ``--bbox``); a tiny msra_18 checkpoint (64x64 input, 16x16
output) exercises the real loading path.
"""
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from torch import nn

from pose3d import demo, predictor
from pose3d.cli import run_entry
from pose3d.evaluation.h36m import mpii16_to_h36m17, skeleton_length
from pose3d.models import create_model
from pose3d.opts import parse
from pose3d.paths import REPO_ROOT
from pose3d.skeleton import MPII16, ROOT_MPII
from pose3d.utils.errors import CheckpointError, UserError

IN, OUT = 64, 16
HEADS = {"hm": 16, "depth": 16}
# Peak cell (x, y) on the 16x16 grid and depth value of each joint for the stub network.
CELLS = np.array([[5, 13], [6, 11], [6, 9], [9, 9], [10, 11], [11, 13], [8, 9], [8, 6],
                  [8, 5], [8, 3], [5, 8], [5, 7], [6, 5], [10, 5], [11, 7], [11, 8]])
DEPTHS = np.linspace(-0.2, 0.3, 16)


class PeakNet(nn.Module):
    """Heatmaps peaking at ``CELLS`` and constant depth maps ``DEPTHS``, flip-equivariant.

    The stub sees whether its input is mirrored (the test pictures are brighter on the left) and
    then returns the mirrored maps with left/right swapped, as a perfectly trained network would;
    so the flip test averages two identical predictions.
    """

    def __init__(self) -> None:
        super().__init__()
        hm = torch.zeros(16, OUT, OUT)
        for j, (x, y) in enumerate(CELLS):
            hm[j, y, x] = 1.0
        depth = torch.tensor(DEPTHS, dtype=torch.float32)[:, None, None].expand(16, OUT, OUT)
        self.register_buffer("hm", hm)
        self.register_buffer("depth", depth.clone())
        self.calls = 0

    def forward(self, x: torch.Tensor) -> list[dict[str, torch.Tensor]]:
        self.calls += 1
        half = x.shape[3] // 2
        mirrored = x[..., :half].mean(dim=(1, 2, 3)) < x[..., half:].mean(dim=(1, 2, 3))
        flip = MPII16.flip_index
        hm = torch.where(mirrored[:, None, None, None], self.hm[flip].flip(2)[None],
                         self.hm[None])
        depth = torch.where(mirrored[:, None, None, None], self.depth[flip].flip(2)[None],
                            self.depth[None])
        return [{"hm": hm, "depth": depth}]


def gradient_image(w: int, h: int) -> np.ndarray:
    """BGR picture bright on the left, dark on the right (tells the stub which way it faces)."""
    row = np.linspace(250, 10, w).astype(np.uint8)
    img = np.repeat(np.repeat(row[None, :, None], h, 0), 3, 2)
    img[..., 1] = 128  # some colour, same everywhere
    return np.ascontiguousarray(img)


def stub_predictor() -> predictor.Predictor:
    return predictor.Predictor(PeakNet().eval(), (IN, IN), "cpu", flip=True)


def opts(*argv: str):
    return parse(["--device", "cpu", *argv])


def _expected_px(center, side) -> np.ndarray:
    """Closed form of the MSRA crop: the crop centre sits at the grid centre, side/OUT px a cell."""
    return np.asarray(center) + (CELLS - OUT / 2) * side / OUT


# ----------------------------------------------------------------------------- geometry

def test_whole_image_crop_maps_peaks_back_to_pixels(tmp_path):
    w, h = 120, 80
    cv2.imwrite(str(tmp_path / "pic.png"), gradient_image(w, h))
    out = tmp_path / "out"
    demo.run(opts("--demo", str(tmp_path / "pic.png"), "--save_dir", str(out)), stub_predictor())
    top = json.loads((out / "pic.json").read_text())
    assert top["joint_names"] == list(MPII16.names)
    assert top["boxes_from"] == "whole image" and len(top["people"]) == 1
    rec = top["people"][0]
    assert rec["box"] is None and rec["score"] is None
    got = np.array(rec["joints_2d"])
    # Whole image letter-boxed: c = (W/2, H/2), s = max(W, H).
    np.testing.assert_allclose(got, _expected_px((w / 2, h / 2), max(w, h)), atol=0.99)
    np.testing.assert_allclose(rec["confidence"], 1.0, atol=1e-4)

    mm = np.array(rec["joints_3d_mm"])
    assert mm.shape == (16, 3)
    np.testing.assert_allclose(mm[ROOT_MPII], 0.0, atol=1e-6)
    # The 4000 mm rule: 15 H36M bones of the pose sum to 4000 mm (up to the 0.1 mm rounding).
    assert abs(float(skeleton_length(mpii16_to_h36m17(mm))) - 4000.0) < 2.0
    # Same direction as the crop-unit pose (x, y = cell / 16, z = depth), root-relative.
    units = np.concatenate([CELLS / OUT, DEPTHS[:, None]], axis=1)
    units = units - units[ROOT_MPII]
    factor = np.linalg.norm(mm) / np.linalg.norm(units)
    np.testing.assert_allclose(mm, units * factor, atol=0.2)


def test_bbox_crops_the_box(tmp_path):
    w, h = 200, 160
    cv2.imwrite(str(tmp_path / "scene.jpg"), gradient_image(w, h))
    out = tmp_path / "out"
    x, y, bw, bh = 110, 30, 40, 80
    demo.run(opts("--demo", str(tmp_path / "scene.jpg"), "--bbox", f"{x},{y},{bw},{bh}",
                  "--save_dir", str(out)), stub_predictor())
    top = json.loads((out / "scene.json").read_text())
    assert top["boxes_from"] == "--bbox" and len(top["people"]) == 1
    rec = top["people"][0]
    assert rec["box"] == [x, y, bw, bh] and rec["score"] is None
    got = np.array(rec["joints_2d"])
    # Centre = box centre, side = 1.25 x the longer box side.
    expected = _expected_px((x + bw / 2, y + bh / 2), 1.25 * max(bw, bh))
    np.testing.assert_allclose(got, expected, atol=0.99)
    assert (got[:, 0] > x).all() and (got[:, 0] < x + bw).all()
    assert (got[:, 1] > y).all() and (got[:, 1] < y + bh).all()
    np.testing.assert_allclose(rec["crop"]["center"], [x + bw / 2, y + bh / 2])
    np.testing.assert_allclose(rec["crop"]["size"], [100, 100])


def test_bbox_outside_the_picture_is_a_user_error(tmp_path):
    cv2.imwrite(str(tmp_path / "a.png"), gradient_image(50, 40))
    with pytest.raises(UserError, match="--bbox"):
        demo.run(opts("--demo", str(tmp_path / "a.png"), "--bbox", "100,100,10,10",
                      "--save_dir", str(tmp_path / "out")), stub_predictor())


def test_network_input_uses_training_normalisation():
    img = np.full((10, 10, 3), 128, np.uint8)
    crop = predictor.make_crop((10, 10), None, (8, 8))
    x = predictor.crop_input(img, crop, (8, 8))
    # (128 / 256 - mean) / std per BGR channel, the training recipe (not the old demo's /255).
    mean, std = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
    np.testing.assert_allclose(x[:, 4, 4], (0.5 - mean) / std, rtol=1e-5)


# ----------------------------------------------------------------------------- real model

def test_folder_of_three_images_gives_nine_files(tmp_path, tiny_ckpt):
    src = tmp_path / "pics"
    src.mkdir()
    rng = np.random.default_rng(0)
    for name in ("b.jpg", "a.png", "c.bmp"):
        cv2.imwrite(str(src / name), rng.integers(0, 255, (48, 60, 3), dtype=np.uint8))
    (src / "notes.txt").write_text("not a picture")
    out = tmp_path / "out"
    written = demo.run(opts("--demo", str(src), "--load_model", str(tiny_ckpt),
                            "--save_dir", str(out)))
    files = sorted(p.name for p in out.iterdir())
    assert len(files) == 9 and len(written) == 9
    assert files == sorted(f"{s}{e}" for s in "abc" for e in ("_2d.png", "_3d.png", ".json"))
    for s in "abc":
        top = json.loads((out / f"{s}.json").read_text())
        assert Path(top["image"]).name.startswith(s)
        (rec,) = top["people"]
        assert np.array(rec["joints_2d"]).shape == (16, 2)
        assert np.array(rec["joints_3d_mm"]).shape == (16, 3)
        assert np.array(rec["joints_cam_mm"]).shape == (16, 3)
        assert len(rec["confidence"]) == 16
        assert cv2.imread(str(out / f"{s}_2d.png")).shape == (48, 60, 3)
        assert cv2.imread(str(out / f"{s}_3d.png")) is not None


def test_video_gives_frames_json_and_reopenable_video(tmp_path, tiny_ckpt):
    video = tmp_path / "clip.mp4"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (64, 48))
    assert writer.isOpened()
    for i in range(5):
        frame = np.full((48, 64, 3), 40 * i, np.uint8)
        cv2.circle(frame, (20 + 5 * i, 24), 8, (255, 255, 255), -1)
        writer.write(frame)
    writer.release()
    out = tmp_path / "out"
    demo.run(opts("--demo", str(video), "--load_model", str(tiny_ckpt), "--save_dir", str(out)))
    rec = json.loads((out / "clip.json").read_text())
    assert rec["num_frames"] == 5 and len(rec["frames"]) == 5
    assert [f["frame"] for f in rec["frames"]] == list(range(5))
    people = [p for f in rec["frames"] for p in f["people"]]
    assert len(people) == 5 and {p["id"] for p in people} == {0}
    assert all(np.array(p["joints_2d"]).shape == (16, 2) for p in people)
    assert all(np.array(p["joints_3d_mm"]).shape == (16, 3) for p in people)
    cap = cv2.VideoCapture(str(out / "clip_2d.mp4"))
    assert cap.isOpened()
    n = 0
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        assert frame.shape == (48, 64, 3)
        n += 1
    cap.release()
    assert n == 5
    assert len(list(out.glob("clip_0000?_2d.png"))) == 5
    assert len(list(out.glob("clip_0000?_3d.png"))) == 5


def test_stub_is_called_in_batches(tmp_path):
    src = tmp_path / "many"
    src.mkdir()
    for i in range(10):
        cv2.imwrite(str(src / f"{i:02d}.png"), gradient_image(40, 40))
    pred = stub_predictor()
    demo.run(opts("--demo", str(src), "--save_dir", str(tmp_path / "out")), pred)
    # 10 pictures in batches of 8: two batches, each run plain and mirrored.
    assert pred.model.calls == 4


def test_onnx_backend_matches_pytorch(tmp_path, tiny_ckpt):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")

    class Export(nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, x):
            o = self.m(x)[-1]
            return o["hm"], o["depth"]

    model = create_model("msra_18", HEADS, input_hw=(IN, IN)).eval()
    model.load_state_dict(torch.load(tiny_ckpt, weights_only=True)["state_dict"])
    onnx_path = tmp_path / "tiny.onnx"
    try:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(Export(model), torch.zeros(1, 3, IN, IN), str(onnx_path),
                              input_names=["input"], output_names=["hm", "depth"],
                              dynamic_axes={"input": {0: "batch"}}, dynamo=False)
    except Exception as err:  # exporter unavailable in this torch build
        pytest.skip(f"ONNX export unavailable: {err}")
    cv2.imwrite(str(tmp_path / "p.png"), gradient_image(90, 70))
    demo.run(opts("--demo", str(tmp_path / "p.png"), "--load_model", str(tiny_ckpt),
                  "--save_dir", str(tmp_path / "pt")))
    demo.run(opts("--demo", str(tmp_path / "p.png"), "--load_model", str(onnx_path),
                  "--backend", "onnxruntime", "--save_dir", str(tmp_path / "ort")))
    a = json.loads((tmp_path / "pt" / "p.json").read_text())["people"][0]
    b = json.loads((tmp_path / "ort" / "p.json").read_text())["people"][0]
    np.testing.assert_allclose(a["joints_2d"], b["joints_2d"])
    np.testing.assert_allclose(a["joints_3d_mm"], b["joints_3d_mm"], atol=1.0)


# ----------------------------------------------------------------------------- model choice

def test_missing_default_model_says_how_to_get_one(tmp_path, monkeypatch):
    monkeypatch.setattr(predictor, "DEFAULT_MODEL", tmp_path / "models" / "fusion_3d_var.pth")
    monkeypatch.setattr(predictor, "FALLBACK_MODELS", (tmp_path / "nope.pth",))
    cv2.imwrite(str(tmp_path / "a.png"), gradient_image(32, 32))
    with pytest.raises(UserError) as info:
        demo.run(opts("--demo", str(tmp_path / "a.png"), "--save_dir", str(tmp_path / "o")))
    msg = str(info.value)
    assert "\n" not in msg
    assert "fusion_3d_var.pth" in msg and "quickstart.sh" in msg


def test_fallback_to_quickstart_model(tmp_path, monkeypatch, tiny_ckpt, caplog):
    monkeypatch.setattr(predictor, "DEFAULT_MODEL", tmp_path / "models" / "fusion_3d_var.pth")
    monkeypatch.setattr(predictor, "FALLBACK_MODELS", (tmp_path / "nope.pth", tiny_ckpt))
    cv2.imwrite(str(tmp_path / "a.png"), gradient_image(32, 32))
    with caplog.at_level(logging.INFO, logger="pose3d.predictor"):
        demo.run(opts("--demo", str(tmp_path / "a.png"), "--save_dir", str(tmp_path / "o")))
    assert f"using {tiny_ckpt} (models/fusion_3d_var.pth not found)" in caplog.text
    assert (tmp_path / "o" / "a.json").is_file()


def test_checkpoint_without_metadata_uses_flags(tmp_path):
    torch.manual_seed(0)
    model = create_model("msra_18", HEADS, input_hw=(IN, IN))
    path = tmp_path / "bare.pth"
    torch.save({"epoch": 3, "state_dict": model.state_dict()}, path)
    cv2.imwrite(str(tmp_path / "a.png"), gradient_image(32, 32))
    demo.run(opts("--demo", str(tmp_path / "a.png"), "--load_model", str(path), "--arch",
                  "msra_18", "--input_h", "64", "--input_w", "64", "--save_dir",
                  str(tmp_path / "o")))
    assert (tmp_path / "o" / "a.json").is_file()


# ----------------------------------------------------------------------------- errors

def _run_cli(*argv: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    env.pop("DISPLAY", None)
    return subprocess.run([sys.executable, str(REPO_ROOT / "src" / "demo.py"), *argv],
                          capture_output=True, text=True, env=env, timeout=300)


def _one_line_error(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 1, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: ") and "Traceback" not in proc.stderr
    return lines[0]


def test_cli_missing_file_is_one_line(tmp_path):
    line = _one_line_error(_run_cli("--demo", str(tmp_path / "nope.jpg"), "--save_dir",
                                    str(tmp_path / "o")))
    assert "nope.jpg" in line and "no such file" in line


def test_cli_corrupt_video_is_one_line(tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(np.random.default_rng(0).integers(0, 255, 4000, dtype=np.uint8).tobytes())
    line = _one_line_error(_run_cli("--demo", str(bad), "--save_dir", str(tmp_path / "o")))
    assert "bad.mp4" in line and "video" in line


def _entry(capsys, *argv: str) -> str:
    code = run_entry(demo.main, ["--device", "cpu", *argv])
    err = capsys.readouterr().err
    assert code == 1
    lines = [ln for ln in err.strip().splitlines() if ln.startswith("error: ")]
    assert len(lines) == 1 and "Traceback" not in err
    return lines[0]


def test_unreadable_image_is_one_line(tmp_path, capsys):
    fake = tmp_path / "x.jpg"
    fake.write_text("this is text, not a JPEG\n")
    line = _entry(capsys, "--demo", str(fake), "--save_dir", str(tmp_path / "o"))
    assert "x.jpg" in line and "not a readable image" in line


def test_empty_folder_is_one_line(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    line = _entry(capsys, "--demo", str(tmp_path / "empty"), "--save_dir", str(tmp_path / "o"))
    assert "no" in line and "images" in line


def test_wrong_architecture_checkpoint_is_one_line(tmp_path, capsys):
    big = create_model("msra_34", HEADS, input_hw=(IN, IN))
    path = tmp_path / "msra34.pth"
    torch.save({"epoch": 0, "state_dict": big.state_dict()}, path)
    cv2.imwrite(str(tmp_path / "a.png"), gradient_image(32, 32))
    argv = ["--demo", str(tmp_path / "a.png"), "--load_model", str(path), "--arch", "msra_18",
            "--input_h", "64", "--input_w", "64", "--save_dir", str(tmp_path / "o")]
    with pytest.raises(CheckpointError):
        demo.run(opts(*argv))
    line = _entry(capsys, *argv)
    assert "msra34.pth" in line and "msra_18" in line


def test_show_without_display_warns(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    cv2.imwrite(str(tmp_path / "a.png"), gradient_image(40, 30))
    with caplog.at_level(logging.WARNING, logger="pose3d.demo_output"):
        demo.run(opts("--demo", str(tmp_path / "a.png"), "--show", "--save_dir",
                      str(tmp_path / "o")), stub_predictor())
    assert "--show" in caplog.text and "DISPLAY" in caplog.text
    assert len(list((tmp_path / "o").iterdir())) == 3
