"""3DPW release preparation: raw miniature -> scripts/prepare_data.py 3dpw -> the 3DPW loader.

Expectations come from the raw sequence files read with plain ``pickle`` (latin1) and joint
tables written here by name, not from the converter's own functions.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import joblib
import numpy as np
import pytest

from pose3d.datasets import DATASETS
from pose3d.datasets.base import DataConfig
from pose3d.opts import parse
from pose3d.skeleton import H36M17, MPII16, MPII_TO_H36M, OPENPOSE18, SMPL24
from pose3d.utils.errors import DataFormatError
from prepare.threedpw_helpers import (NUM, PREPARE, REPO, SPLIT_DIRS, copy_release,  # noqa: F401
                                      raw, raw_sequences, rewrite_pickle, run_prepare)

# MPII-16 joint <- SMPL joints averaged (head top: head + (head - neck), below).
EXPECTED_SOURCES = {"r_ankle": ["r_ankle"], "r_knee": ["r_knee"], "r_hip": ["r_hip"],
                    "l_hip": ["l_hip"], "l_knee": ["l_knee"], "l_ankle": ["l_ankle"],
                    "pelvis": ["pelvis"], "thorax": ["l_shoulder", "r_shoulder"],
                    "upper_neck": ["neck"], "r_wrist": ["r_wrist"], "r_elbow": ["r_elbow"],
                    "r_shoulder": ["r_shoulder"], "l_shoulder": ["l_shoulder"],
                    "l_elbow": ["l_elbow"], "l_wrist": ["l_wrist"]}


@pytest.fixture(scope="module")
def prepared(raw, tmp_path_factory) -> Path:
    data = tmp_path_factory.mktemp("prep") / "data"
    run_prepare(raw, data)
    return data


def expected_mpii(seq: dict, actor: int, frame: int) -> tuple[np.ndarray, np.ndarray]:
    """MPII-16 camera-frame joints (mm) and their frame pixels, from the raw file by name."""
    smpl = np.asarray(seq["jointPositions"][actor][frame]).reshape(24, 3)
    pose = seq["cam_poses"][frame]
    cam = (smpl @ pose[:3, :3].T + pose[:3, 3]) * 1000.0
    j = {n: cam[SMPL24.index(n)] for n in SMPL24}
    mm = np.stack([np.mean([j[s] for s in EXPECTED_SOURCES[n]], axis=0)
                   if n != "head_top" else 2 * j["head"] - j["neck"] for n in MPII16.names])
    K = seq["cam_intrinsics"]
    uv = np.stack([K[0, 0] * mm[:, 0] / mm[:, 2] + K[0, 2],
                   K[1, 1] * mm[:, 1] / mm[:, 2] + K[1, 2]], axis=1)
    return mm, uv


# -- (1) the raw miniature --------------------------------------------------------------------
def test_raw_release_is_readable_with_the_release_shapes(raw):
    seqs = raw_sequences(raw)
    assert len(seqs) == 4 and {p.parent.name for p in raw.glob("sequenceFiles/*/*.pkl")} == \
        set(SPLIT_DIRS)
    for name, s in seqs.items():
        path = next(raw.glob(f"sequenceFiles/*/{name}.pkl"))
        data = path.read_bytes()
        assert data[:2] == b"\x80\x02" and b"cnumpy.core.multiarray\n" in data
        assert set(s) == {"sequence", "betas", "poses", "trans", "poses_60Hz", "trans_60Hz",
                          "betas_clothed", "v_template_clothed", "genders", "texture_maps",
                          "poses2d", "jointPositions", "img_frame_ids", "cam_poses",
                          "campose_valid", "cam_intrinsics"}
        actors = len(s["jointPositions"])
        assert s["sequence"] == name and actors in (1, 2)
        assert s["img_frame_ids"].shape == (NUM,) and s["img_frame_ids"].dtype.kind == "i"
        assert s["cam_poses"].shape == (NUM, 4, 4) and s["cam_intrinsics"].shape == (3, 3)
        for k in range(actors):
            assert s["jointPositions"][k].shape == (NUM, 72)
            assert s["jointPositions"][k].dtype == np.float64
            assert s["poses2d"][k].shape == (NUM, 3, 18)
            assert s["poses"][k].shape == (NUM, 72) and s["trans"][k].shape == (NUM, 3)
            assert s["poses_60Hz"][k].shape == (2 * NUM, 72)
            assert s["betas"][k].shape == (10,) and s["v_template_clothed"][k].shape == (6890, 3)
            assert s["campose_valid"][k].dtype == bool and s["genders"][k] in ("m", "f")
        assert not all(v.all() for v in s["campose_valid"])   # some frames are unusable
        img = cv2.imread(str(raw / "imageFiles" / name / f"image_{NUM - 1:05d}.jpg"))
        assert img.shape in ((1920, 1080, 3), (1080, 1920, 3))


def test_raw_2d_detections_sit_on_the_same_named_3d_joints(raw):
    """OpenPose r_wrist is the projection of SMPL r_wrist (left stays left in the writer)."""
    for s in raw_sequences(raw).values():
        for k in range(len(s["jointPositions"])):
            for i in range(NUM):
                _, uv = expected_mpii(s, k, i)
                op = s["poses2d"][k][i]
                for name in ("r_wrist", "l_wrist", "l_knee", "r_ankle"):
                    c = OPENPOSE18.index(name)
                    if op[2, c] > 0:
                        np.testing.assert_allclose(op[:2, c], uv[MPII16.index(name)], atol=0.5)


# -- (2) + (3) the loader reads the prepared tree; round trip ----------------------------------
@pytest.mark.parametrize("split", ["train", "val"])
def test_loader_round_trip(raw, prepared, split):
    seqs = raw_sequences(raw)
    db = joblib.load(prepared / "vibe_db" / f"3dpw_{split}_db.pt")
    ds = DATASETS["3DPW"](split, prepared, DataConfig(full_test=True))
    n_valid = sum(int(np.sum(v)) for name, s in seqs.items()
                  for v in s["campose_valid"]
                  if (raw / "sequenceFiles" / {"train": "train", "val": "validation"}[split] /
                      f"{name}.pkl").is_file())
    assert len(ds) == len(db["img_name"]) == n_valid > 0
    assert db["crop_offset"].shape == (len(ds), 2)
    l_wrist, r_ankle = H36M17.index("l_wrist"), H36M17.index("r_ankle")
    for i, rec in enumerate(ds.records):
        seq_name, actor = str(db["vid_name"][i]).rsplit("_", 1)
        s, f = seqs[seq_name], int(db["frame_id"][i])
        assert s["campose_valid"][int(actor)][f]
        mm, uv = expected_mpii(s, int(actor), f)
        rel = mm - mm[MPII16.index("pelvis")]
        np.testing.assert_allclose(rec["gt_3d"], rel[MPII_TO_H36M], atol=0.01)
        # Left stays left, by name on both sides.
        smpl = np.asarray(s["jointPositions"][int(actor)][f]).reshape(24, 3)
        pose = s["cam_poses"][f]
        cam = (smpl @ pose[:3, :3].T + pose[:3, 3]) * 1000.0
        root = cam[SMPL24.index("pelvis")]
        np.testing.assert_allclose(rec["gt_3d"][l_wrist], cam[SMPL24.index("l_wrist")] - root,
                                   atol=0.01)
        np.testing.assert_allclose(rec["gt_3d"][r_ankle], cam[SMPL24.index("r_ankle")] - root,
                                   atol=0.01)
        off = db["crop_offset"][i]
        np.testing.assert_allclose(rec["joints"] + off, uv, atol=0.5)
        op = db["joints2D_openpose"][i]
        for name in ("l_wrist", "r_knee", "l_shoulder"):
            c, j = OPENPOSE18.index(name), MPII16.index(name)
            if s["poses2d"][int(actor)][f][2, c] > 0:
                np.testing.assert_allclose(op[j, :2] + off, s["poses2d"][int(actor)][f][:2, c],
                                           atol=0.5)
        # The crop holds the frame's pixels at its offset.
        crop = cv2.imread(rec["image"]).astype(np.float32)
        frame = cv2.imread(str(raw / "imageFiles" / seq_name / f"image_{f:05d}.jpg"))
        x0, y0 = int(off[0]), int(off[1])
        part = frame[y0:y0 + crop.shape[0], x0:x0 + crop.shape[1]].astype(np.float32)
        assert part.shape == crop.shape and np.abs(part - crop).mean() < 2.0
        assert rec["image"].endswith(f"_{actor}.jpg")
    sample = ds[0]
    assert sample["input"].shape == (3, 256, 256) and np.isfinite(sample["reg_target"]).all()


def test_train_samples_through_opts(prepared):
    opt = parse(["--task", "human3d", "--dataset", "3DPW", "--data_dir", str(prepared),
                 "--input_h", "64", "--input_w", "64", "--device", "cpu"])
    ds = DATASETS["3DPW"]("train", prepared, DataConfig.from_opt(opt))
    for i in range(len(ds)):
        s = ds[i]
        assert s["input"].shape == (3, 64, 64) and s["meta"]["is_3d"]
        assert s["reg_mask"].sum() > 0


def test_sidecar_names_the_joint_source(prepared):
    info = json.loads((prepared / "vibe_db" / "3dpw_prepare.json").read_text())
    assert info["joints3D_source"] == "smpl_joints" and info["full_frames"] is False
    assert set(info["rows"]) == {"train", "val", "test"}
    test_db = joblib.load(prepared / "vibe_db" / "3dpw_test_db.pt")
    assert len(test_db["img_name"]) == info["rows"]["test"] > 0


def test_full_frames_keep_whole_frames(raw, tmp_path):
    data = tmp_path / "data"
    summary = run_prepare(raw, data, "--full_frames")
    db = joblib.load(data / "vibe_db" / "3dpw_train_db.pt")
    assert (db["crop_offset"] == 0).all() and summary.reused == 0
    name = str(db["img_name"][0])
    assert name.startswith("data/3dpw/imageFiles/") and name.endswith(".jpg")
    src = raw / "imageFiles" / Path(name).parent.name / Path(name).name
    assert (tmp_path / name).read_bytes() == src.read_bytes()


# -- (4) resumability ---------------------------------------------------------------------------
def _digest(data: Path) -> str:
    return hashlib.sha256(b"".join((data / "vibe_db" / f"3dpw_{s}_db.pt").read_bytes()
                                   for s in ("train", "val", "test"))).hexdigest()


def test_rerun_reuses_sequences_and_redoes_a_damaged_one(raw, tmp_path):
    data = tmp_path / "data"
    first = run_prepare(raw, data)
    digest = _digest(data)
    assert first.reused == 0 and first.sequences == 4
    second = run_prepare(raw, data)
    assert second.reused == 4 and _digest(data) == digest
    crops = sorted((data / "3dpw" / "crops" / "courtyard_hug_00").glob("*.jpg"))
    other = data / "3dpw" / "crops" / "downtown_walking_00" / "image_00000_0.jpg"
    mtime = other.stat().st_mtime_ns
    crops[0].unlink()
    third = run_prepare(raw, data)
    assert third.reused == 3 and crops[0].is_file() and _digest(data) == digest
    assert other.stat().st_mtime_ns == mtime
    fourth = run_prepare(raw, data, "--min_joints", "16")   # other settings: everything redone
    assert fourth.reused == 0


# -- (5) bad input: one line naming the file ----------------------------------------------------
def _one_line_error(src: Path, data: Path, capsys) -> str:
    code = PREPARE.main(["3dpw", "--src", str(src), "--data_dir", str(data), "--workers", "1"])
    # Progress lines (not a terminal) come first; the error is one line.
    err = [ln for ln in capsys.readouterr().err.strip().splitlines()
           if not ln.startswith("3dpw sequences:")]
    assert code == 1 and len(err) == 1 and err[0].startswith("error: "), err
    return err[0]


SEQ = "sequenceFiles/validation/courtyard_hug_00.pkl"


@pytest.mark.parametrize("case,match", [
    ("no_key", r"courtyard_hug_00\.pkl: has no key 'jointPositions'"),
    ("truncated", r"courtyard_hug_00\.pkl: cannot be unpickled \((EOFError|UnpicklingError)"),
    ("short_2d", r"key 'poses2d' actor 1 has 5 frames but 'img_frame_ids' has 6"),
    ("bad_shape", r"key 'cam_intrinsics' has shape \(4, 4\), expected \(3, 3\)"),
    ("code", r"refused to unpickle '(os|posix)\.system'"),
])
def test_bad_sequence_file(raw, tmp_path, capsys, case, match):
    src = copy_release(raw, tmp_path / "raw")
    path = src / SEQ
    if case == "no_key":
        rewrite_pickle(path, lambda d: d.pop("jointPositions"))
    elif case == "truncated":
        path.write_bytes(path.read_bytes()[:1000])
    elif case == "short_2d":
        rewrite_pickle(path, lambda d: d["poses2d"].__setitem__(1, d["poses2d"][1][:5]))
    elif case == "bad_shape":
        rewrite_pickle(path, lambda d: d.__setitem__("cam_intrinsics", np.eye(4)))
    else:
        marker = tmp_path / "ran"
        path.write_bytes(b"cos\nsystem\n(S'touch " + str(marker).encode() + b"'\ntR.")
    line = _one_line_error(src, tmp_path / "data", capsys)
    assert str(path) in line
    with pytest.raises(DataFormatError, match=match):
        run_prepare(src, tmp_path / "data2")
    assert not (tmp_path / "ran").exists()


@pytest.mark.parametrize("case,match", [
    ("no_src", r"3DPW release folder is missing"),
    ("no_images", r"imageFiles: folder imageFiles/ of the 3DPW release is missing; extract"),
    ("no_sequence_images", r"courtyard_hug_00: image folder of courtyard_hug_00\.pkl is missing"),
    ("missing_frame", r"image_00003\.jpg: is missing: 1 of the 6 frames"),
    ("truncated_frame", r"image_00002\.jpg: is not a complete JPEG"),
])
def test_bad_release_folders(raw, tmp_path, capsys, case, match):
    src = tmp_path / "raw"
    shutil.copytree(raw / "sequenceFiles", src / "sequenceFiles")
    if case != "no_images":
        shutil.copytree(raw / "imageFiles", src / "imageFiles")
    frames = src / "imageFiles" / "courtyard_hug_00"
    if case == "no_src":
        src = tmp_path / "nowhere"
    elif case == "no_sequence_images":
        shutil.rmtree(frames)
    elif case == "missing_frame":
        (frames / "image_00003.jpg").unlink()
    elif case == "truncated_frame":
        p = frames / "image_00002.jpg"
        p.write_bytes(p.read_bytes()[:5000])
    with pytest.raises(DataFormatError, match=match):
        run_prepare(src, tmp_path / "data")
    _one_line_error(src, tmp_path / "data", capsys)


def test_failed_run_keeps_what_was_written(raw, tmp_path, capsys):
    src = copy_release(raw, tmp_path / "raw")
    data = tmp_path / "data"
    run_prepare(src, data)
    digest = _digest(data)
    (src / SEQ).write_bytes(b"\x80\x02garbage")
    os.utime(src / SEQ)
    shutil.rmtree(data / "3dpw" / "prepare_state")   # force every sequence to be read again
    _one_line_error(src, data, capsys)
    assert _digest(data) == digest
    assert not list((data / "vibe_db").glob(".*tmp*"))


# -- (6) end to end -----------------------------------------------------------------------------
@pytest.mark.slow
def test_release_to_training_and_full_test(tmp_path):
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    data = tmp_path / "data"

    def run(*cmd: str) -> subprocess.CompletedProcess:
        proc = subprocess.run([sys.executable, *cmd], cwd=REPO, env=env, capture_output=True,
                              text=True, timeout=900)
        assert proc.returncode == 0, proc.stderr[-3000:]
        return proc

    run("scripts/make_synthetic_data.py", "--datasets", "3dpw_raw", "mpii", "--out", str(data),
        "--num", "8")
    out = run("scripts/prepare_data.py", "3dpw", "--src", str(data / "3dpw_raw"), "--data_dir",
              str(data), "--workers", "1", "--input_res", "64")
    assert "3dpw: 4 sequences" in out.stdout
    common = ["--task", "human3d", "--dataset", "fusion_3d", "--dataset2D", "mpii",
              "--dataset3D", "3DPW", "--data_dir", str(data), "--exp_dir", str(tmp_path / "exp"),
              "--exp_id", "pw", "--arch", "msra_18", "--no_pretrained", "--input_h", "64",
              "--input_w", "64", "--batch_size", "4", "--num_workers", "0", "--device", "cpu"]
    run("src/main.py", *common, "--num_epochs", "1", "--val_intervals", "1")
    run("src/main.py", *common, "--test", "--full_test", "--load_model",
        str(tmp_path / "exp" / "pw" / "model_last.pth"))
    results = list((tmp_path / "exp").rglob("results.json"))
    assert results
    payload = json.loads(results[0].read_text())
    assert payload["dataset"] == "fusion_3d" and payload["metrics"]
    assert "3DPW 3D joints: smpl_joints" in payload["data"]     # which joints the numbers use
    assert all(np.isfinite(v) for v in payload["metrics"].values() if isinstance(v, float))
