"""3D datasets on miniature synthetic trees: writer -> loader round trips, depth targets,
image/label pairing on the subsampled val split, per-group names, deterministic writers and
one-line errors.

Expectations are computed here from a re-render of the same sample (``render_sample``) and the
joint definitions of each format, not from the loaders' own code.
"""
import hashlib
import os
import pickle
import shutil
from pathlib import Path

import cv2
import joblib
import numpy as np
import pytest

from pose3d.datasets import DATASETS
from pose3d.datasets import h36m as l_h36m
from pose3d.datasets import mpii3d as l_mpii3d
from pose3d.datasets import occlusion_person as l_occ
from pose3d.datasets.base import DataConfig
from pose3d.datasets.h36m import procrustes_scale
from pose3d.evaluation.metrics import compute_similarity_transform
from pose3d.skeleton import H36M_TO_MPII, MPII16, MPII_TO_H36M, SYNTH18
from pose3d.synthetic import WRITERS
from pose3d.synthetic import h36m as w_h36m
from pose3d.synthetic import mpii3d as w_mpii3d
from pose3d.synthetic import occlusion_person as w_occ
from pose3d.synthetic import threedpw as w_3dpw
from pose3d.synthetic.camera import project
from pose3d.utils.errors import DataFormatError

NUM = 12  # per split: val keeps records 0 and 10 when subsampled
SEED = 3
NAMES = ("H36M", "OcclusionPerson", "MPII3D", "3DPW")
RENDER = {"H36M": w_h36m.render_sample, "OcclusionPerson": w_occ.render_sample,
          "MPII3D": w_mpii3d.render_sample, "3DPW": w_3dpw.render_sample}

S = {n: i for i, n in enumerate(SYNTH18.names)}
_LIMBS = {n: [S[n]] for n in MPII16.names if n in S}
_LIMBS["pelvis"] = [S["root"]]
_SHOULDERS = [S["l_shoulder"], S["r_shoulder"]]
# MPII-16 joint <- body joints averaged, per dataset (and split where the format differs).
MPII_SOURCES = {
    "OcclusionPerson": dict(_LIMBS, thorax=_SHOULDERS, upper_neck=[S["thorax"]],
                            head_top=[S["thorax"]]),
    "MPII3D": dict(_LIMBS, thorax=[S["spine"]], upper_neck=[S["thorax"]],
                   head_top=[S["head_top"]]),
    "3DPW/train": dict(_LIMBS, thorax=_SHOULDERS, upper_neck=[S["thorax"]],
                       head_top=[S["head_top"]]),
    "3DPW/val": dict(_LIMBS, thorax=[S["spine"]], upper_neck=[S["thorax"]],
                     head_top=[S["head_top"]]),
}


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("tree3d") / "data"
    for name in ("h36m", "occlusion_person", "mpii3d", "3dpw"):
        WRITERS[name](out, NUM, SEED, 1)
    return out


def full(name: str, split: str, root: Path):
    return DATASETS[name](split, root, DataConfig(full_test=True))


def expected(name: str, split: str, index: int) -> dict:
    """Ground truth of sample ``index`` from a re-render: gt_3d (17, 3) mm, joints (16, 2) px,
    depth_px (16,), and the render itself."""
    r = RENDER[name](split, index, SEED)
    cam3d, uv = r["joints_3d_cam"], r["joints_2d"]
    if name == "H36M":
        rel = cam3d[:17] - cam3d[0]
        _, _, rot, b, c = compute_similarity_transform(uv[:17], rel[:, :2])
        joints = (b * rel[:, :2] @ rot + c)[H36M_TO_MPII]
        return {"gt_3d": rel, "joints": joints, "depth_px": rel[H36M_TO_MPII, 2] * b, "r": r}
    src = MPII_SOURCES[f"3DPW/{split}" if name == "3DPW" else name]
    mm = np.stack([cam3d[src[n]].mean(axis=0) for n in MPII16.names])
    if name == "OcclusionPerson":  # mapped by name in 2D as well
        joints = np.stack([uv[src[n]].mean(axis=0) for n in MPII16.names])
    else:  # the 2D of the stored 3D joints
        joints = project(mm, r["camera"])
    mm = mm - mm[MPII16.index("pelvis")]
    b = compute_similarity_transform(joints, mm[:, :2])[3]
    return {"gt_3d": mm[MPII_TO_H36M], "joints": joints, "depth_px": mm[:, 2] * b, "r": r}


# -- round trips -----------------------------------------------------------------------------------
@pytest.mark.parametrize("split", ["train", "val"])
@pytest.mark.parametrize("name", NAMES)
def test_round_trip(root, name, split):
    ds = full(name, split, root)
    assert len(ds) == NUM and ds.is_3d and not ds.rotate_in_train
    for i in (0, 5, NUM - 1):
        rec, exp = ds.records[i], expected(name, split, i)
        assert rec["gt_3d"].shape == (17, 3) and rec["joints"].shape == (16, 2)
        np.testing.assert_allclose(rec["gt_3d"], exp["gt_3d"], atol=1e-3)
        np.testing.assert_allclose(rec["joints"], exp["joints"], atol=0.5)
        np.testing.assert_allclose(rec["depth_px"], exp["depth_px"], rtol=1e-5, atol=1e-3)
        assert np.all(rec["vis"] == 1)
        img = cv2.imread(rec["image"])
        assert img is not None and img.shape[:2] == exp["r"]["image"].shape[:2]


def test_h36m_cache_is_self_consistent(root):
    with open(root / "h36m/msra_cache/HM36_eccv_challenge_Val_cache/"
              "HM36_eccv_challenge_Val_w288xh384_keypoint_jnt_bbox_db.pkl", "rb") as f:
        db = pickle.load(f)
    assert isinstance(db, list) and len(db) == NUM
    e = db[4]
    assert set(e) == {"image", "flip_pairs", "parent_ids", "joints_3d", "joints_3d_vis",
                      "joints_3d_relative", "bone_len", "center_x", "center_y", "width",
                      "height", "s", "rot", "t"}
    assert e["joints_3d"].dtype == np.float64 and e["joints_3d"].shape == (18, 3)
    assert e["flip_pairs"].dtype == np.int64 and e["parent_ids"].shape == (18,)
    assert all(type(e[k]) is float for k in ("center_x", "center_y", "width", "height", "s"))
    rel = e["joints_3d_relative"]
    np.testing.assert_allclose(rel[17], (rel[11] + rel[14]) / 2)
    np.testing.assert_allclose(e["joints_3d"][:, :2], e["s"] * rel[:, :2] @ e["rot"] + e["t"])
    np.testing.assert_allclose(e["joints_3d"][:, 2], e["s"] * rel[:, 2])
    assert e["width"] / e["height"] == pytest.approx(288 / 384)
    csv = np.genfromtxt(root / "h36m/ECCV18_Challenge/Val/POSE/00005.csv", delimiter=",")
    np.testing.assert_allclose(csv, rel[:17], atol=1e-5)


# -- depth target ----------------------------------------------------------------------------------
def _raw_side(name: str, root: Path, split: str, i: int) -> float:
    if name == "H36M":
        set_name = {"train": "Train", "val": "Val"}[split]
        path = (root / f"h36m/msra_cache/HM36_eccv_challenge_{set_name}_cache"
                / f"HM36_eccv_challenge_{set_name}_w288xh384_keypoint_jnt_bbox_db.pkl")
        with open(path, "rb") as f:
            e = pickle.load(f)[i]
        return max(e["width"], e["height"])
    if name == "OcclusionPerson":
        stem = "train" if split == "train" else "validation"
        with open(root / f"occlusion_person/unrealcv_{stem}.pkl", "rb") as f:
            return float(max(pickle.load(f)[i]["scale"]) * 200)
    db = joblib.load(root / "vibe_db" / f"{name.lower()}_{split}_db.pt")
    return float(max(db["bbox"][i][2:]))


@pytest.mark.parametrize("name", NAMES)
def test_depth_target_by_hand(root, name):
    ds = DATASETS[name]("val", root, DataConfig())
    sample = ds[1]
    rec_index = int(ds.idxs[1])
    exp = expected(name, "val", rec_index)
    h, w = exp["r"]["image"].shape[:2]
    side = min(_raw_side(name, root, "val", rec_index), max(h, w))
    mask = sample["reg_mask"].astype(bool)
    assert mask.sum() >= 10
    np.testing.assert_allclose(sample["reg_target"][mask, 0], (exp["depth_px"] / side)[mask],
                               rtol=1e-4, atol=1e-6)
    assert np.all(sample["reg_target"][~mask] == 0)


def test_closed_form_scale_matches_procrustes():
    rng = np.random.default_rng(0)
    xs, ys, ws, want = [], [], [], []
    for k in range(50):
        x = rng.normal(size=(16, 2)) * 80
        y = rng.normal(size=(16, 2)) * 250 if k % 2 else x @ np.array([[0, 1], [1, 0]]) * 3
        w = rng.random(16) > 0.25
        xs.append(x), ys.append(y), ws.append(w)
        want.append(compute_similarity_transform(x[w], y[w])[3])
    got = procrustes_scale(np.array(xs), np.array(ys), np.array(ws))
    np.testing.assert_allclose(got, want, rtol=1e-9)
    assert np.isnan(procrustes_scale(np.zeros((1, 16, 2)), np.ones((1, 16, 2))))[0]


# -- image / label pairing (fork bug J.7) ---------------------------------------------------
def _blurred_diff(a: np.ndarray, b: np.ndarray) -> float:
    blur = [cv2.GaussianBlur(x, (9, 9), 0).astype(np.float64) for x in (a, b)]
    return float(np.abs(blur[0] - blur[1]).mean())


@pytest.mark.parametrize("name", NAMES)
def test_val_pairs_image_with_its_label(root, name):
    ds = DATASETS[name]("val", root, DataConfig())
    assert list(ds.idxs) == [0, 10]
    sample = ds[1]
    assert sample["meta"]["index"] == 10
    exp, other = expected(name, "val", 10), expected(name, "val", 1)
    img = cv2.imread(ds.records[10]["image"])
    # The file read for position 1 is the render of sample 10 (JPEG noise aside), not of sample 1.
    assert _blurred_diff(img, exp["r"]["image"]) < 3
    if other["r"]["image"].shape == img.shape:
        assert _blurred_diff(img, other["r"]["image"]) > 10
    np.testing.assert_allclose(sample["meta"]["joints_img"], exp["joints"], atol=0.5)
    np.testing.assert_allclose(sample["meta"]["gt_3d"], exp["gt_3d"], atol=1e-2)
    if name == "H36M":
        assert ds.records[10]["image"].endswith(os.path.join("Val", "IMG", "00011.jpg"))


def test_groups(root):
    h36m = full("H36M", "train", root)
    want = [l_h36m.H36M_ACTIONS[w_h36m.sequence_of("train", i)[1]] for i in range(NUM)]
    assert [r["group"] for r in h36m.records] == want
    assert h36m[0]["meta"]["group"] == want[0]
    occ = full("OcclusionPerson", "val", root)
    assert occ.records[0]["group"] == w_occ.layout("val", 0)["video_id"]
    for name in ("MPII3D", "3DPW"):
        db = joblib.load(root / "vibe_db" / f"{name.lower()}_val_db.pt")
        groups = [r["group"] for r in full(name, "val", root).records]
        assert groups == [str(v) for v in db["vid_name"]] and len(set(groups)) >= 2


def test_vibe_img_name_is_resolved_against_data_dir_parent(root, tmp_path, monkeypatch):
    db = joblib.load(root / "vibe_db" / "3dpw_train_db.pt")
    assert str(db["img_name"][0]).startswith(f"{root.name}/3dpw/imageFiles/")
    db = joblib.load(root / "vibe_db" / "mpii3d_train_db.pt")
    assert str(db["img_name"][0]).startswith(f"./{root.name}/mpi_inf_3dhp/S1/Seq1/video_")
    monkeypatch.chdir(tmp_path)  # the original's 3DPW path depended on the working directory
    for name in ("MPII3D", "3DPW"):
        ds = DATASETS[name]("train", root, DataConfig())
        assert os.path.isfile(ds.records[3]["image"])
        ds[3]


def test_3dpw_unlabelled_joint_is_not_supervised(root, tmp_path):
    data = tmp_path / root.name
    (data / "vibe_db").mkdir(parents=True)
    os.symlink(root / "3dpw", data / "3dpw")
    db = joblib.load(root / "vibe_db" / "3dpw_val_db.pt")
    wrist = MPII16.index("r_wrist")
    db["joints2D"][0, wrist, 2] = 0
    joblib.dump(db, data / "vibe_db" / "3dpw_val_db.pt")
    ds = DATASETS["3DPW"]("val", data, DataConfig())
    rec = ds.records[0]
    assert rec["vis"][wrist] == 0 and ds[0]["reg_mask"][wrist] == 0
    keep = np.arange(16) != wrist
    mm = db["joints3D"][0].astype(np.float64)
    b = compute_similarity_transform(db["joints3D_image"][0][keep, :2], mm[keep, :2])[3]
    np.testing.assert_allclose(rec["depth_px"], mm[:, 2] * b, rtol=1e-5)


# -- writers ------------------------------------------------------------------------------
def test_writer_layout_matches_loader(tmp_path):
    # The writers retype the layout to stay free of torch; they must agree with the loaders.
    for split in ("train", "val"):
        assert w_h36m.cache_path(tmp_path, split) == l_h36m.cache_path(tmp_path, split)
        assert w_h36m.image_path(tmp_path, split, 4) == l_h36m.image_path(tmp_path, split, 4)
        assert w_occ.annotation_path(tmp_path, split) == l_occ.annotation_path(tmp_path, split)
        for prefix in ("mpii3d", "3dpw"):
            assert (w_mpii3d.db_path(tmp_path, prefix, split)
                    == l_mpii3d.db_path(tmp_path, prefix, split))
    assert w_occ.image_root(tmp_path) == l_occ.image_root(tmp_path)
    assert {w_h36m.ACTION_IDS[n]: n for n in w_h36m.ACTIONS} == l_h36m.H36M_ACTIONS


def _digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_writers_same_seed_same_bytes(tmp_path):
    a, b = tmp_path / "a" / "data", tmp_path / "b" / "data"
    # 3dpw shares mpii3d's code path (rows stacked into a joblib db); left out for speed.
    for name in ("h36m", "occlusion_person", "mpii3d"):
        WRITERS[name](a, 2, 7, 1)
        WRITERS[name](b, 2, 7, 2)
    da, db = _digest(a), _digest(b)
    assert sorted(da) == sorted(db) and len(da) > 20
    assert [k for k in da if da[k] != db[k]] == []


# -- errors -------------------------------------------------------------------------------
def _copy_annotation(root: Path, rel: str, dst_root: Path) -> Path:
    dst = dst_root / rel
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(root / rel, dst)
    return dst


H36M_VAL = ("h36m/msra_cache/HM36_eccv_challenge_Val_cache/"
            "HM36_eccv_challenge_Val_w288xh384_keypoint_jnt_bbox_db.pkl")


@pytest.mark.parametrize("name", NAMES)
def test_missing_annotation(tmp_path, name):
    with pytest.raises(DataFormatError, match="missing"):
        DATASETS[name]("val", tmp_path, DataConfig())


def test_corrupt_pickle(root, tmp_path):
    path = _copy_annotation(root, H36M_VAL, tmp_path)
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(DataFormatError, match="cannot be unpickled") as err:
        DATASETS["H36M"]("val", tmp_path, DataConfig())
    assert str(path) in str(err.value)


@pytest.mark.parametrize("edit, pattern", [
    (lambda e: e.pop("joints_3d"), r"record 3 has no field 'joints_3d'"),
    (lambda e: e.update(joints_3d=np.zeros((18, 2))), r"record 3 field 'joints_3d' has shape"),
    (lambda e: e["joints_3d_relative"].__setitem__((2, 1), np.nan),
     r"record 3 field 'joints_3d_relative' contains NaN"),
    (lambda e: e.update(width=-1.0), r"record 3 field 'width'"),
])
def test_bad_h36m_record(root, tmp_path, edit, pattern):
    path = _copy_annotation(root, H36M_VAL, tmp_path)
    with open(path, "rb") as f:
        db = pickle.load(f)
    edit(db[3])
    with open(path, "wb") as f:
        pickle.dump(db, f, protocol=4)
    with pytest.raises(DataFormatError, match=pattern):
        DATASETS["H36M"]("val", tmp_path, DataConfig())


def test_bad_occlusion_record(root, tmp_path):
    path = _copy_annotation(root, "occlusion_person/unrealcv_validation.pkl", tmp_path)
    with open(path, "rb") as f:
        db = pickle.load(f)
    db[2]["joints_3d"] = db[2]["joints_3d"][:14]
    with open(path, "wb") as f:
        pickle.dump(db, f)
    with pytest.raises(DataFormatError, match=r"record 2 field 'joints_3d' has shape \(14, 3\)"):
        DATASETS["OcclusionPerson"]("val", tmp_path, DataConfig())
    path.write_bytes(pickle.dumps({"not": "a list"}))
    with pytest.raises(DataFormatError, match="expected a list"):
        DATASETS["OcclusionPerson"]("val", tmp_path, DataConfig())


@pytest.mark.parametrize("edit, pattern", [
    (lambda d: d.pop("joints3D_image"), r"has no key 'joints3D_image'"),
    (lambda d: d["joints3D"].__setitem__((4, 0, 0), np.inf), r"row 4 key 'joints3D' contains NaN"),
    (lambda d: d.update(bbox=d["bbox"][:, :3]), r"key 'bbox' has shape"),
    (lambda d: d.update(bbox=d["bbox"][:-1]), r"key 'bbox' has \d+ rows"),
    (lambda d: d["joints3D"].__setitem__(5, 0.0), r"row 5: the 2D and 3D joints are degenerate"),
])
def test_bad_vibe_db(root, tmp_path, edit, pattern):
    path = _copy_annotation(root, "vibe_db/mpii3d_val_db.pt", tmp_path)
    db = joblib.load(path)
    edit(db)
    joblib.dump(db, path)
    with pytest.raises(DataFormatError, match=pattern):
        DATASETS["MPII3D"]("val", tmp_path, DataConfig())


def test_vibe_images_not_found(root, tmp_path):
    _copy_annotation(root, "vibe_db/mpii3d_val_db.pt", tmp_path)
    with pytest.raises(DataFormatError, match="relative to the parent of --data_dir"):
        DATASETS["MPII3D"]("val", tmp_path, DataConfig())
