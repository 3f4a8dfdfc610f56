"""scripts/prepare_data.py h36m on a miniature of the official Human3.6M release."""
import json
import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import cdflib
import cv2
import numpy as np
import pytest

from pose3d.datasets import DATASETS, DataConfig
from pose3d.datasets.h36m import H36M_ACTIONS, cache_path, image_path
from pose3d.evaluation.metrics import compute_similarity_transform
from pose3d.opts import parse
from pose3d.prepare import h36m as prep
from pose3d.skeleton import H36M17, H36M32, H36M_TO_MPII, MPII16, SYNTH18_ALIASES
from pose3d.synthetic import WRITERS
from pose3d.synthetic import h36m_raw as raw
from pose3d.utils.errors import DataFormatError
from helpers import load_script, run_prepare

REPO = Path(__file__).resolve().parents[2]
NUM = 6
CACHE_KEYS = {"image", "flip_pairs", "parent_ids", "joints_3d", "joints_3d_vis",
              "joints_3d_relative", "bone_len", "center_x", "center_y", "width", "height", "s",
              "rot", "t", "crop_offset"}


SCRIPT = load_script("prepare_data")


def run(src: Path, data: Path, *extra: str):
    """The script's prepare step in this process; returns the Summary."""
    return run_prepare(SCRIPT, ["h36m", "--src", str(src), "--data_dir", str(data), "--workers",
                                "1", "--stride_train", "1", "--stride_val", "1", *extra])


@pytest.fixture(scope="module")
def release(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("raw")
    WRITERS["h36m_raw"](out, NUM, 3, 1)
    return out / "h36m_raw"


@pytest.fixture(scope="module")
def prepared(release, tmp_path_factory) -> Path:
    data = tmp_path_factory.mktemp("prepared") / "data"
    run(release, data)
    return data


def pose(path: Path) -> np.ndarray:
    return cdflib.CDF(str(path))["Pose"]


def feature(release: Path, subject: str, kind: str, stem: str, cam: str) -> Path:
    return release / subject / "MyPoseFeatures" / kind / f"{stem}.{cam}.cdf"


# -- (1) the raw release ------------------------------------------------------------------------
def test_raw_release_has_the_real_files(release):
    for subject, stem, cams in raw.SEQUENCES:
        world = pose(release / subject / "MyPoseFeatures" / "D3_Positions" / f"{stem}.cdf")
        assert world.shape == (1, NUM, 96)
        for cam in cams:
            d2 = pose(feature(release, subject, "D2_Positions", stem, cam))
            d3 = pose(feature(release, subject, "D3_Positions_mono", stem, cam))
            assert d2.shape == (1, NUM, 64) and d3.shape == (1, NUM, 96)
            # 2D = pinhole projection of the camera-frame 3D, on all 32 joints.
            c = raw.camera(cam)
            xyz, uv = d3[0].reshape(NUM, 32, 3), d2[0].reshape(NUM, 32, 2)
            proj = np.stack([c["fx"] * xyz[..., 0] / xyz[..., 2] + c["cx"],
                             c["fy"] * xyz[..., 1] / xyz[..., 2] + c["cy"]], axis=-1)
            np.testing.assert_allclose(uv, proj, atol=1e-6)
            cap = cv2.VideoCapture(str(release / subject / "Videos" / f"{stem}.{cam}.mp4"))
            if (subject, stem, cam) in raw.DAMAGED_VIDEOS:
                assert not cap.isOpened()
                continue
            ok, frame = cap.read()
            assert ok and frame.shape[1::-1] == raw.CAMERAS[cam][4]
            assert cap.get(cv2.CAP_PROP_FRAME_COUNT) == NUM + raw.LONGER_VIDEOS.get(
                (subject, stem, cam), 0)
    assert (release / "S1" / "Videos" / "Directions 1.54138969.mp4").is_file()


def test_32_joint_rows_by_name():
    assert prep.ROWS17 == [0, 1, 2, 3, 6, 7, 8, 12, 13, 14, 15, 17, 18, 19, 25, 26, 27]
    assert [H36M32[r] for r in prep.ROWS17] == list(H36M17.names)
    assert H36M32[1].startswith("r_") and H36M32[6].startswith("l_")


# -- (2) the loader reads the result -------------------------------------------------------------
def _cache(data: Path, split: str) -> list:
    with open(cache_path(data, split), "rb") as f:
        return pickle.load(f)


def test_loader_reads_prepared_tree(prepared):
    opt = parse(["--task", "human3d", "--dataset", "H36M", "--data_dir", str(prepared),
                 "--input_h", "64", "--input_w", "64", "--output_h", "16", "--output_w", "16",
                 "--full_test", "--device", "cpu"])
    cfg = DataConfig.from_opt(opt)
    train, val = DATASETS["H36M"]("train", prepared, cfg), DATASETS["H36M"]("val", prepared, cfg)
    assert len(train) == 4 * NUM and len(val) == 3 * NUM     # S11 Directions.54138969 skipped
    assert {r["group"] for r in train.records} == {"Directions", "Photo"}
    assert {r["group"] for r in val.records} == {"Directions", "WalkDog"}
    sample = train[0]
    assert sample["input"].shape == (3, 64, 64) and sample["reg_mask"].sum() > 10
    rec = _cache(prepared, "train")[0]
    assert set(rec) == CACHE_KEYS
    assert rec["joints_3d"].shape == rec["joints_3d_relative"].shape == (18, 3)
    assert rec["flip_pairs"].tolist() == [[1, 4], [2, 5], [3, 6], [14, 11], [15, 12], [16, 13]]
    assert rec["image"] == "s_01_act_02_subact_01_ca_01/s_01_act_02_subact_01_ca_01_000001.jpg"
    np.testing.assert_allclose(rec["joints_3d_relative"][17], rec["joints_3d_relative"][[11, 14]]
                               .mean(axis=0))
    # Crops, not frames: smaller than the video frame, at least twice the network input.
    img = cv2.imread(str(image_path(prepared, "train", 0)))
    assert 512 <= max(img.shape[:2]) < 1000


# -- (3) round trip: loader values == raw release values -----------------------------------------
def _raw_rows(release: Path, image: str) -> tuple[np.ndarray, np.ndarray]:
    """Raw (32, 2) px and (32, 3) mm of the frame a cache ``image`` string names."""
    folder, name = image.split("/")
    parts = folder.split("_")
    subject, action, cam = f"S{int(parts[1])}", H36M_ACTIONS[int(parts[3])], int(parts[7])
    frame = int(name.rsplit("_", 1)[1][:-4]) - 1
    (stem,) = [s for subj, s, _ in raw.SEQUENCES
               if subj == subject and prep.canonical_action(s) == action]
    cam_id = prep.CAMERAS[cam - 1]
    d2 = pose(feature(release, subject, "D2_Positions", stem, cam_id))[0, frame].reshape(32, 2)
    d3 = pose(feature(release, subject, "D3_Positions_mono", stem, cam_id))[0, frame]
    return d2, d3.reshape(32, 3)


def _h36m32_row(mpii_or_h36m_name: str) -> int:
    name = SYNTH18_ALIASES.get(mpii_or_h36m_name, mpii_or_h36m_name)
    return H36M32.index(name)


@pytest.mark.parametrize("split", ["train", "val"])
def test_round_trip_against_raw_release(release, prepared, split):
    ds = DATASETS["H36M"](split, prepared, DataConfig(full_test=True))
    cache = _cache(prepared, split)
    assert len(cache) == len(ds.records)
    for i in range(0, len(cache), 2):
        d2, d3 = _raw_rows(release, cache[i]["image"])
        root = d3[H36M32.index("root")]
        rec = ds.records[i]
        for k, name in enumerate(H36M17.names):          # 3D, by name, mm
            np.testing.assert_allclose(rec["gt_3d"][k], d3[_h36m32_row(name)] - root, atol=0.01)
        frame_uv = rec["joints"] + cache[i]["crop_offset"]
        for j, mpii_name in enumerate(MPII16.names):      # 2D, by name, frame px
            h36m_name = H36M17.names[H36M_TO_MPII[j]]
            assert mpii_name[:2] == h36m_name[:2] or not mpii_name.startswith(("l_", "r_"))
            np.testing.assert_allclose(frame_uv[j], d2[_h36m32_row(h36m_name)], atol=0.5)
        # Depth in px: (Z - Z_root) x the procrustes scale from the raw X, Y to the raw pixels.
        rows = [_h36m32_row(n) for n in H36M17.names]
        b = compute_similarity_transform(d2[rows], (d3[rows] - root)[:, :2])[3]
        np.testing.assert_allclose(rec["depth_px"], (d3[rows] - root)[H36M_TO_MPII, 2] * b,
                                   rtol=1e-6, atol=1e-6)
        # The box the loader crops around lies inside the saved crop.
        img = cv2.imread(rec["image"])
        half = rec["scale"] / 2
        assert rec["center"][0] - half >= 0 or cache[i]["crop_offset"][0] == 0
        assert rec["center"][0] + half <= img.shape[1]


# -- (4) resuming --------------------------------------------------------------------------------
def _mtimes(folder: Path) -> dict:
    return {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}


def test_rerun_reuses_and_redoes_only_a_damaged_take(release, tmp_path):
    data = tmp_path / "data"
    first = run(release, data)
    assert (first.sequences, first.reused, first.frames) == (7, 0, 7 * NUM)
    caches = {s: cache_path(data, s).read_bytes() for s in ("train", "val")}
    img_dir = image_path(data, "train", 0).parent
    before = _mtimes(img_dir)
    again = run(release, data)
    assert again.reused == 7 and _mtimes(img_dir) == before
    assert {s: cache_path(data, s).read_bytes() for s in caches} == caches
    victim = image_path(data, "train", NUM + 2)          # a frame of the second take
    victim.unlink()
    third = run(release, data)
    assert third.reused == 6 and victim.is_file()
    after = _mtimes(img_dir)
    changed = sorted(n for n in after if after[n] != before.get(n))
    assert changed == [f"{i + 1:05d}.jpg" for i in range(NUM, 2 * NUM)]
    assert {s: cache_path(data, s).read_bytes() for s in caches} == caches


# -- (5) bad input -------------------------------------------------------------------------------
@pytest.fixture()
def copy(release, tmp_path) -> Path:
    dst = tmp_path / "h36m_raw"
    shutil.copytree(release / "S1", dst / "S1")
    return dst


def _write_cdf(path: Path, name: str, data: np.ndarray) -> None:
    from cdflib.cdfwrite import CDF
    path.unlink()
    cdf = CDF(str(path), cdf_spec={"Majority": "Row_major"})
    cdf.write_var({"Variable": name, "Data_Type": CDF.CDF_DOUBLE, "Num_Elements": 1,
                   "Rec_Vary": True, "Dim_Sizes": list(data.shape[1:])}, var_data=data)
    cdf.close()


def test_missing_release_folder(tmp_path):
    with pytest.raises(DataFormatError, match="release folder is missing"):
        run(tmp_path / "nowhere", tmp_path / "data")


def test_missing_subject_and_subfolder(copy, tmp_path):
    with pytest.raises(DataFormatError, match=r"S5: subject folder is missing; extract"):
        run(copy, tmp_path / "data", "--subjects", "S1", "S5")
    shutil.rmtree(copy / "S1" / "MyPoseFeatures" / "D2_Positions")
    with pytest.raises(DataFormatError, match=r"D2_Positions: S1's 2D poses is missing"):
        run(copy, tmp_path / "data")


def test_truncated_video(copy, tmp_path):
    video = copy / "S1" / "Videos" / "TakingPhoto.58860488.mp4"
    video.write_bytes(video.read_bytes()[:2000])
    with pytest.raises(DataFormatError, match=r"TakingPhoto.58860488.mp4: video cannot be opened"):
        run(copy, tmp_path / "data")


def test_cdf_without_pose_and_unreadable_cdf(copy, tmp_path):
    path = feature(copy, "S1", "D2_Positions", "Directions 1", "55011271")
    _write_cdf(path, "Positions", np.zeros((1, NUM, 64)))
    with pytest.raises(DataFormatError, match=r"55011271.cdf: has no variable 'Pose' \(found: "
                                              r"Positions\)"):
        run(copy, tmp_path / "data")
    path.write_bytes(b"not a cdf file" * 10)
    with pytest.raises(DataFormatError, match=r"55011271.cdf: is not a readable CDF file"):
        run(copy, tmp_path / "data")


def test_frame_count_mismatch_keeps_earlier_output(copy, tmp_path):
    data = tmp_path / "data"
    run(copy, data)
    cache = cache_path(data, "train").read_bytes()
    path = feature(copy, "S1", "D3_Positions_mono", "TakingPhoto", "58860488")
    _write_cdf(path, "Pose", np.ones((1, NUM + 20, 96)))
    with pytest.raises(DataFormatError, match=r"frame counts disagree by 20 \(.*mp4 has 6, "
                                              r".*D2_Positions.*has 6, .*D3_Positions_mono.*26\)"):
        run(copy, data)
    assert cache_path(data, "train").read_bytes() == cache
    assert len(DATASETS["H36M"]("train", data, DataConfig()).records) == 4 * NUM


def test_script_prints_one_line_and_exits_1(copy, tmp_path):
    path = feature(copy, "S1", "D3_Positions_mono", "TakingPhoto", "58860488")
    _write_cdf(path, "Pose", np.ones((1, NUM, 90)))
    proc = subprocess.run([sys.executable, str(REPO / "scripts" / "prepare_data.py"), "h36m",
                           "--src", str(copy), "--data_dir", str(tmp_path / "data")],
                          capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert proc.returncode == 1
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in proc.stderr
    assert "'Pose' has shape (1, 6, 90), expected (1, N, 96)" in lines[0]


# -- (6) end to end ------------------------------------------------------------------------------
@pytest.mark.slow
def test_prepare_train_and_test_end_to_end(tmp_path):
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    data, exp = tmp_path / "data", tmp_path / "exp"

    def call(*cmd: str) -> subprocess.CompletedProcess:
        proc = subprocess.run([sys.executable, *cmd], capture_output=True, text=True, env=env,
                              timeout=600, cwd=REPO)
        assert proc.returncode == 0, proc.stderr[-2000:]
        return proc

    call("scripts/make_synthetic_data.py", "--datasets", "h36m_raw", "mpii", "--out",
         str(tmp_path / "raw"), "--num", "8", "--workers", "1")
    data.mkdir()
    shutil.move(tmp_path / "raw" / "mpii", data / "mpii")
    out = call("scripts/prepare_data.py", "h36m", "--src", str(tmp_path / "raw" / "h36m_raw"),
               "--data_dir", str(data), "--workers", "2", "--stride_train", "2",
               "--stride_val", "1", "--input_res", "64").stdout
    assert "h36m: 7 sequences (0 already done), 40 frames" in out
    common = ["--task", "human3d", "--arch", "msra_18", "--no_pretrained", "--input_h", "64",
              "--input_w", "64", "--output_h", "16", "--output_w", "16", "--batch_size", "4",
              "--num_workers", "0", "--device", "cpu", "--data_dir", str(data),
              "--exp_dir", str(exp), "--exp_id", "h36m_prepared"]
    call("src/main.py", *common, "--dataset", "fusion_3d", "--dataset2D", "mpii",
         "--dataset3D", "H36M", "--num_epochs", "1", "--val_intervals", "2")
    call("src/main.py", *common, "--dataset", "H36M", "--test", "--full_test", "--load_model",
         str(exp / "h36m_prepared" / "model_last.pth"))
    # --test writes to <exp_id>FULL_TEST.
    results = json.loads((exp / "h36m_preparedFULL_TEST" / "results.json").read_text())
    assert results["num_samples"] == 24 and results["metrics"]["mpjpe"] > 0
    assert set(results["mpjpe_per_group"]) == {"Directions", "WalkDog"}
    assert set(results["pa_mpjpe_per_group"]) == {"Directions", "WalkDog"}
