"""MPI-INF-3DHP release -> ``prepare_data.py mpi_inf_3dhp`` -> the MPII3D loader.

The miniature release is read back with the libraries users read the real one with (scipy,
h5py, OpenCV). The round trip compares the loader's samples with the release's own joints, joint
by joint through the release's joint NAMES (written out here from the release's documentation,
not taken from the converter), so a left/right swap or a shifted crop fails.
"""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import h5py
import joblib
import numpy as np
import pytest
import scipy.io

from pose3d.datasets import DATASETS
from pose3d.datasets.base import DataConfig
from pose3d.skeleton import H36M17, MPII16
from pose3d.synthetic import WRITERS
from pose3d.utils.errors import DataFormatError
from helpers import load_script, run_prepare

REPO = Path(__file__).resolve().parents[2]
NUM = 6
SEED = 5
CFG = DataConfig(input_h=64, input_w=64, output_h=16, output_w=16, full_test=True)
# The release's joint names, in its orders (training annot.mat: 28; test annot_data.mat: 17).
RELEASE28 = ("spine3", "spine4", "spine2", "spine", "pelvis", "neck", "head", "head_top",
             "left_clavicle", "left_shoulder", "left_elbow", "left_wrist", "left_hand",
             "right_clavicle", "right_shoulder", "right_elbow", "right_wrist", "right_hand",
             "left_hip", "left_knee", "left_ankle", "left_foot", "left_toe", "right_hip",
             "right_knee", "right_ankle", "right_foot", "right_toe")
RELEASE17 = ("head_top", "neck", "right_shoulder", "right_elbow", "right_wrist", "left_shoulder",
             "left_elbow", "left_wrist", "right_hip", "right_knee", "right_ankle", "left_hip",
             "left_knee", "left_ankle", "pelvis", "spine", "head")
# Our joint name -> the release's: limbs by side, the original's choices for the trunk (MPII
# thorax <- "spine", upper neck <- "neck"; H36M 3D order derived from MPII as the loader does).
_SIDES = {f"{s[0]}_{part}": f"{s}_{part}" for s in ("left", "right")
          for part in ("hip", "knee", "ankle", "shoulder", "elbow", "wrist")}
MPII_TO_RELEASE = dict(_SIDES, pelvis="pelvis", thorax="spine", upper_neck="neck",
                       head_top="head_top")
H36M_TO_RELEASE = dict(_SIDES, root="pelvis", spine="spine", thorax="neck", neck_nose="head_top",
                       head="head_top")


SCRIPT = load_script("prepare_data")


def prepare(src: Path, data: Path, *extra: str):
    """Run the converter in-process as the script does; returns its Summary."""
    return run_prepare(SCRIPT, ["mpi_inf_3dhp", "--src", str(src), "--data_dir", str(data),
                                "--workers", "1", "--input_res", "64", "--stride_train", "2",
                                *extra])


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    """Real-size miniature release and its prepared tree (crops)."""
    root = tmp_path_factory.mktemp("m3dhp")
    WRITERS["mpi_inf_3dhp_raw"](root, NUM, SEED, 1)
    raw = root / "mpi_inf_3dhp_raw"
    summary = prepare(raw, root / "data")
    return {"raw": raw, "data": root / "data", "summary": summary}


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """Quarter-size miniature release (for the runs that damage or re-run it)."""
    root = tmp_path_factory.mktemp("m3dhp_small")
    WRITERS["mpi_inf_3dhp_raw"](root, 4, SEED, 1, size_div=4)
    return root / "mpi_inf_3dhp_raw"


# -- (1) the miniature release reads like the real one -------------------------------------------
def test_raw_release_reads_with_user_libraries(tree):
    raw = tree["raw"]
    mat = scipy.io.loadmat(str(raw / "S1/Seq1/annot.mat"))
    for key, width in (("annot2", 56), ("annot3", 84), ("univ_annot3", 84)):
        assert mat[key].shape == (14, 1) and mat[key].dtype == object
        assert all(c.shape == (NUM, width) and c.dtype == np.float64 for c in mat[key][:, 0])
    assert mat["frames"].shape == (NUM, 1) and mat["cameras"].shape == (1, 14)
    assert (raw / "S1/Seq1/camera.calibration").read_text().count("name ") == 14
    for video in ("S1/Seq1/imageSequence/video_0.avi", "S2/Seq2/imageSequence/video_2.avi"):
        cap = cv2.VideoCapture(str(raw / video))
        assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == NUM
        assert int(cap.get(cv2.CAP_PROP_FOURCC)) == cv2.VideoWriter_fourcc(*"MJPG")
        ok, frame = cap.read()
        assert ok and frame.shape == (2048, 2048, 3)
    for ts, hw in ((1, (2048, 2048)), (5, (1080, 1920))):
        path = raw / f"mpi_inf_3dhp_test_set/TS{ts}/annot_data.mat"
        assert path.read_bytes()[:19] == b"MATLAB 7.3 MAT-file"
        with h5py.File(path, "r") as f:
            assert f["annot2"].shape == (NUM, 1, 17, 2) and f["annot3"].shape == (NUM, 1, 17, 3)
            assert f["univ_annot3"].shape == (NUM, 1, 17, 3)
            assert f["valid_frame"].shape == (NUM, 1)
            assert {"activity_annotation", "bb_crop"} <= set(f.keys())
            assert f["annot3"].attrs["MATLAB_class"] == b"double"
        img = cv2.imread(str(path.parent / "imageSequence/img_000001.jpg"))
        assert img.shape[:2] == hw
    # annot2 is the projection of annot3 (one camera, so the 3D and 2D agree up to a pinhole)
    a2 = mat["annot2"][0, 0].reshape(NUM, 28, 2)
    a3 = mat["annot3"][0, 0].reshape(NUM, 28, 3)
    fx = np.polyfit(a3[..., 0].ravel() / a3[..., 2].ravel(), a2[..., 0].ravel(), 1)
    assert np.abs(np.polyval(fx, a3[..., 0] / a3[..., 2]) - a2[..., 0]).max() < 1e-6


# -- (2) the loader reads what the converter wrote -----------------------------------------------
def test_loader_reads_prepared_tree(tree):
    summary = tree["summary"]
    assert summary.sequences == 4 and summary.reused == 0
    assert summary.frames == 2 * 2 * NUM // 2 + 2 * NUM
    assert any("camera(s) 1,4,5,6,7,8" in why for _, why in summary.skipped)
    for split, n in (("train", 2 * 2 * NUM // 2), ("val", 2 * NUM)):
        ds = DATASETS["MPII3D"](split, tree["data"], CFG)
        assert len(ds) == n
        for i in (0, n - 1):
            sample = ds[i]
            assert sample["input"].shape == (3, 64, 64)
            assert sample["reg_mask"].sum() >= 10 and np.isfinite(sample["reg_target"]).all()
            assert np.abs(sample["meta"]["gt_3d"]).max() > 100.0
    db = joblib.load(tree["data"] / "vibe_db/mpii3d_train_db.pt")
    assert db["vid_name"][0] == "subj1_seq1_vid0_seg0" and db["frame_id"][0] == "000001"
    assert db["img_name"][0] == "./data/mpi_inf_3dhp/S1/Seq1/video_0/000001.jpg"
    assert db["joints2D"].shape == (12, 16, 3) and (db["joints2D"][..., 2] == 1).all()
    np.testing.assert_array_equal(db["joints3D"][:, MPII16.index("pelvis")], 0.0)
    np.testing.assert_array_equal(db["bbox"][:, 2], db["bbox"][:, 3])
    val = joblib.load(tree["data"] / "vibe_db/mpii3d_val_db.pt")
    assert val["valid_i"].shape == (12, 1) and val["valid_i"][NUM - 1, 0] == 0.0
    crop = cv2.imread(str(tree["data"] / "mpi_inf_3dhp/S1/Seq1/video_0/000001.jpg"))
    assert crop.shape[0] < 2048 and crop.shape[1] < 2048


# -- (3) round trip: loader == release, by joint name --------------------------------------------
def _raw_train(raw: Path, img_name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(28, 2) px, (28, 3) mm and the video frame of a train row, from the release itself."""
    parts = img_name.split("/")
    s, q, cam, frame = parts[-4], parts[-3], int(parts[-2].split("_")[1]), int(parts[-1][:6]) - 1
    mat = scipy.io.loadmat(str(raw / s / q / "annot.mat"))
    cap = cv2.VideoCapture(str(raw / s / q / "imageSequence" / f"video_{cam}.avi"))
    for _ in range(frame + 1):
        ok, image = cap.read()
    assert ok
    a2, a3 = mat["annot2"][cam, 0][frame], mat["annot3"][cam, 0][frame]
    return a2.reshape(28, 2), a3.reshape(28, 3), image


def _raw_test(raw: Path, img_name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    parts = img_name.split("/")
    ts, frame = parts[-3], int(parts[-1][4:10]) - 1
    with h5py.File(raw / "mpi_inf_3dhp_test_set" / ts / "annot_data.mat", "r") as f:
        a2, a3 = f["annot2"][frame, 0], f["annot3"][frame, 0]
    image = cv2.imread(str(raw / "mpi_inf_3dhp_test_set" / ts / "imageSequence" / parts[-1]))
    return a2, a3, image


@pytest.mark.parametrize("split", ["train", "val"])
def test_round_trip_by_joint_name(tree, split):
    ds = DATASETS["MPII3D"](split, tree["data"], CFG)
    db = joblib.load(tree["data"] / f"vibe_db/mpii3d_{split}_db.pt")
    names, read = (RELEASE28, _raw_train) if split == "train" else (RELEASE17, _raw_test)
    for i in (0, 3, len(ds.records) - 1):
        rec, offset = ds.records[i], db["crop_offset"][i]
        a2, a3, frame = read(tree["raw"], str(db["img_name"][i]))
        root = a3[names.index("pelvis")]
        for k, name in enumerate(H36M17.names):
            want = a3[names.index(H36M_TO_RELEASE[name])] - root
            np.testing.assert_allclose(rec["gt_3d"][k], want, atol=0.01, err_msg=name)
        for j, name in enumerate(MPII16.names):
            want = a2[names.index(MPII_TO_RELEASE[name])]
            np.testing.assert_allclose(rec["joints"][j] + offset, want, atol=0.5, err_msg=name)
        # left stays left: the loader's left wrist is the release's left, not right, wrist
        lw = rec["joints"][MPII16.index("l_wrist")] + offset
        assert np.linalg.norm(lw - a2[names.index("left_wrist")]) < 0.5
        assert np.linalg.norm(lw - a2[names.index("right_wrist")]) > 5.0
        # the crop holds the frame's pixels at the stored offset
        crop = cv2.imread(rec["image"]).astype(np.float64)
        x0, y0 = offset.astype(int)
        region = frame[y0:y0 + crop.shape[0], x0:x0 + crop.shape[1]].astype(np.float64)
        assert region.shape == crop.shape and np.abs(region - crop).mean() < 3.0
        # ... and every scale augmentation of the loader's box (side x 1.25) inside the frame
        box = db["bbox"][i]
        assert rec["scale"] == box[2]
        center, half = box[:2] + offset, 0.625 * box[2]
        assert (offset <= np.maximum(center - half, 0)).all()
        end = offset + crop.shape[1::-1]
        assert (end >= np.minimum(center + half, frame.shape[1::-1])).all()


def test_full_frames_keep_whole_frames(small, tmp_path):
    prepare(small, tmp_path / "data", "--full_frames")
    db = joblib.load(tmp_path / "data/vibe_db/mpii3d_val_db.pt")
    np.testing.assert_array_equal(db["crop_offset"], 0.0)
    img = cv2.imread(str(tmp_path / db["img_name"][-1]))
    assert img.shape[:2] == (1080 // 4, 1920 // 4)


def test_frames_with_a_joint_outside_are_dropped_and_split_the_video(small, tmp_path):
    raw = tmp_path / "mpi_inf_3dhp_raw"
    shutil.copytree(small, raw)
    mat = scipy.io.loadmat(str(raw / "S1/Seq1/annot.mat"))
    a2 = mat["annot2"][0, 0].reshape(4, 28, 2)
    a2[1, RELEASE28.index("left_wrist"), 0] = -40.0       # camera 0, frame 2 (1-based)
    mat["annot2"][0, 0] = a2.reshape(4, 56)
    scipy.io.savemat(str(raw / "S1/Seq1/annot.mat"), {k: mat[k] for k in ("annot2", "annot3")})
    summary = prepare(raw, tmp_path / "data", "--stride_train", "1", "--splits", "train")
    db = joblib.load(tmp_path / "data/vibe_db/mpii3d_train_db.pt")
    rows = [(str(v), str(f)) for v, f in zip(db["vid_name"], db["frame_id"])
            if str(v).startswith("subj1_seq1_vid0")]
    assert rows == [("subj1_seq1_vid0_seg0", "000001"), ("subj1_seq1_vid0_seg1", "000003"),
                    ("subj1_seq1_vid0_seg1", "000004")]
    assert ("S1/Seq1/video_0", "1 frame(s) with a joint outside the frame") in summary.skipped
    assert not (tmp_path / "data/vibe_db/mpii3d_val_db.pt").exists()


def test_crop_at_a_frame_corner_keeps_the_loader_box_cap():
    from pose3d.prepare.common import CropPolicy, crop_window
    policy = CropPolicy(rotate_factor=0.0, min_side=128)
    assert crop_window(np.array([500.0, 500.0]), 400.0, (2048, 2048), policy)[:2] == (240, 240)
    # Near a corner the clipped window is stretched so the largest box still fits in the image,
    # so the loader's cap of the box at the image side changes nothing.
    for center in ([100.0, 120.0], [100.0, 900.0]):
        x0, y0, x1, y1 = crop_window(np.array(center), 400.0, (2048, 2048), policy)
        assert x0 == 0 and max(x1 - x0, y1 - y0) >= 400.0 * (1.0 + policy.scale_factor)


# -- (4) resumability ----------------------------------------------------------------------------
def _snapshot(data: Path) -> dict:
    return {p.relative_to(data): (p.stat().st_mtime_ns, p.read_bytes())
            for p in sorted(data.rglob("*.jpg"))}


def test_rerun_reuses_sequences_and_redoes_a_damaged_one(small, tmp_path):
    data = tmp_path / "data"
    first = prepare(small, data)
    dbs = {s: (data / f"vibe_db/mpii3d_{s}_db.pt").read_bytes() for s in ("train", "val")}
    before = _snapshot(data)
    second = prepare(small, data)
    assert (first.reused, second.reused, second.sequences) == (0, 4, 4)
    assert _snapshot(data) == before
    assert {s: (data / f"vibe_db/mpii3d_{s}_db.pt").read_bytes() for s in dbs} == dbs
    gone = data / "mpi_inf_3dhp/S2/Seq2/video_2/000003.jpg"
    gone.unlink()
    third = prepare(small, data)
    assert third.reused == 3 and gone.is_file()
    after = _snapshot(data)
    redone = {p for p in after if after[p][0] != before[p][0]}
    assert redone and all(str(p).startswith("mpi_inf_3dhp/S2/Seq2/") for p in redone)
    assert {s: (data / f"vibe_db/mpii3d_{s}_db.pt").read_bytes() for s in dbs} == dbs
    assert prepare(small, data, "--stride_train", "1").reused == 2   # new stride: train redone


# -- (5) bad input: one line naming the file -----------------------------------------------------
def _damage_annot_key(raw: Path) -> None:
    mat = scipy.io.loadmat(str(raw / "S1/Seq1/annot.mat"))
    scipy.io.savemat(str(raw / "S1/Seq1/annot.mat"), {"annot2": mat["annot2"]})


def _damage_rows(raw: Path) -> None:
    mat = scipy.io.loadmat(str(raw / "S1/Seq1/annot.mat"))
    for key in ("annot2", "annot3"):
        for c in range(14):
            mat[key][c, 0] = np.vstack([mat[key][c, 0], mat[key][c, 0][-1:]])
    scipy.io.savemat(str(raw / "S1/Seq1/annot.mat"),
                     {k: mat[k] for k in ("annot2", "annot3", "univ_annot3", "frames")})


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 3])


def _drop_h5_key(raw: Path) -> None:
    with h5py.File(raw / "mpi_inf_3dhp_test_set/TS5/annot_data.mat", "a") as f:
        del f["annot3"]


BAD = {
    "annot.mat without annot3": (_damage_annot_key, "S1/Seq1/annot.mat: has no variable 'annot3'"),
    "annot.mat unreadable": (lambda r: (r / "S1/Seq1/annot.mat").write_bytes(b"\0" * 300),
                             "S1/Seq1/annot.mat: cannot be read as a MATLAB file"),
    "video shorter than annot": (_damage_rows,
                                 r"video_0.avi: has 4 frames but annot.mat annotates 5"),
    "truncated video": (lambda r: _truncate(r / "S2/Seq2/imageSequence/video_2.avi"),
                        r"video_2.avi: (ends or breaks at frame \d|has \d frames but|OpenCV)"),
    "test annot not HDF5": (lambda r: (r / "mpi_inf_3dhp_test_set/TS1/annot_data.mat")
                            .write_bytes(b"MATLAB 5.0" + b"\0" * 200),
                            "TS1/annot_data.mat: is not a readable MATLAB 7.3"),
    "test annot without annot3": (_drop_h5_key, "TS5/annot_data.mat: has no variable 'annot3'"),
    "test image missing": (lambda r: (r / "mpi_inf_3dhp_test_set/TS5/imageSequence/"
                                      "img_000002.jpg").unlink(),
                           "imageSequence: holds 3 img_\\*.jpg frames but annot_data.mat "
                           "annotates 4"),
    "no release": (lambda r: shutil.rmtree(r), "mpi_inf_3dhp_raw: MPI-INF-3DHP release folder "
                   "is missing"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_one_line(small, tmp_path, case):
    raw = tmp_path / "mpi_inf_3dhp_raw"
    shutil.copytree(small, raw)
    data = tmp_path / "data"
    damage, message = BAD[case]
    damage(raw)
    with pytest.raises(DataFormatError, match=message) as info:
        prepare(raw, data)
    assert "\n" not in str(info.value)


def test_script_error_is_one_line_and_keeps_written_output(small, tmp_path):
    raw = tmp_path / "mpi_inf_3dhp_raw"
    shutil.copytree(small, raw)
    data = tmp_path / "data"
    prepare(raw, data)
    db = (data / "vibe_db/mpii3d_train_db.pt").read_bytes()
    shutil.rmtree(data / "mpi_inf_3dhp/S1")            # S1 must be redone ...
    _truncate(raw / "S1/Seq1/imageSequence/video_0.avi")  # ... and its video is damaged
    proc = subprocess.run(
        [sys.executable, str(REPO / "scripts/prepare_data.py"), "mpi_inf_3dhp", "--src", str(raw),
         "--data_dir", str(data), "--workers", "2", "--input_res", "64", "--stride_train", "2"],
        capture_output=True, text=True, timeout=300, env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert proc.returncode == 1 and proc.stdout == ""
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1 and "video_0.avi" in lines[0]
    assert (data / "vibe_db/mpii3d_train_db.pt").read_bytes() == db
    assert DATASETS["MPII3D"]("val", data, CFG)[0]["input"].shape == (3, 64, 64)


def test_joint_maps_match_the_original_preprocessing():
    from pose3d.prepare import mpi_inf_3dhp as m
    assert m.TRAIN_TO_MPII == [25, 24, 23, 18, 19, 20, 4, 3, 5, 7, 16, 15, 14, 9, 10, 11]
    assert m.TEST_TO_MPII == [10, 9, 8, 11, 12, 13, 14, 15, 1, 0, 4, 3, 2, 5, 6, 7]


# -- (6) end to end --------------------------------------------------------------------------------
@pytest.mark.slow
def test_release_to_training_and_full_test(tmp_path):
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    data = tmp_path / "data"

    def run(*cmd: str) -> None:
        proc = subprocess.run([sys.executable, *cmd], capture_output=True, text=True,
                              timeout=600, env=env, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr[-2000:]

    synth = str(REPO / "scripts/make_synthetic_data.py")
    run(synth, "--datasets", "mpi_inf_3dhp_raw", "--out", str(tmp_path), "--num", "6")
    run(synth, "--datasets", "mpii", "--out", str(data), "--num", "8")
    run(str(REPO / "scripts/prepare_data.py"), "mpi_inf_3dhp", "--src",
        str(tmp_path / "mpi_inf_3dhp_raw"), "--data_dir", str(data), "--stride_train", "3",
        "--input_res", "64")
    common = ["--task", "human3d", "--dataset", "fusion_3d", "--dataset2D", "mpii",
              "--dataset3D", "MPII3D", "--data_dir", str(data), "--exp_dir", str(tmp_path / "exp"),
              "--exp_id", "m3", "--arch", "msra_18", "--no_pretrained", "--input_h", "64",
              "--input_w", "64", "--batch_size", "4", "--num_workers", "0", "--device", "cpu"]
    main = str(REPO / "src/main.py")
    run(main, *common, "--num_epochs", "1", "--val_intervals", "1")
    run(main, *common, "--test", "--full_test", "--load_model",
        str(tmp_path / "exp/m3/model_last.pth"))
    assert list((tmp_path / "exp").rglob("results.json"))
