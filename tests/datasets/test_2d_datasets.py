"""2D datasets (MPII, LSP + LSPET, FLIC-full, COCO) on the miniature synthetic tree.

Writer -> loader round trips: every labelled joint of a record equals the re-rendered joint
(in the format's frame: MPII stays 1-based, the others are read back to 0-based pixels), its
visibility follows the rendered flags as each format encodes them, and the sample's heatmap peak
sits at the joint's cell; flipping keeps joints and image consistent. The expectations come from
a re-render of the same sample and the joint names of each format (docs/datasets.md), not from
the loaders. Also: the exact on-disk layouts, one-line errors for broken files, NaN handling and
byte-identical output for any worker count.
"""
import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import scipy.io

from pose3d.datasets import DATASETS
from pose3d.datasets.base import DataConfig
from pose3d.datasets.transforms import get_affine_transform
from pose3d.skeleton import FLIC29, FLIC_LABELLED, MPII16, MPII_MAT_NAMES, SYNTH18
from pose3d.synthetic import WRITERS
from pose3d.synthetic import coco as w_coco
from pose3d.synthetic import flic_full as w_flic
from pose3d.synthetic import lsp as w_lsp
from pose3d.synthetic import lspet as w_lspet
from pose3d.synthetic import mpii as w_mpii
from pose3d.utils.errors import DataFormatError

NUM, SEED = 6, 7   # the session tree of conftest.py (checked by the `root` fixture)
OUT = 16
CFG = DataConfig(input_h=64, input_w=64, output_h=OUT, output_w=OUT, scale_factor=0.0,
                 rotate_factor=0.0, flip_prob=0.0)
FLIP_CFG = DataConfig(input_h=64, input_w=64, output_h=OUT, output_w=OUT, scale_factor=0.0,
                      rotate_factor=0.0, flip_prob=1.0)
NAMES = ("mpii", "lsp_extended", "flic_full", "coco")

S = {n: i for i, n in enumerate(SYNTH18.names)}
_MID = {"pelvis": ("l_hip", "r_hip"), "thorax": ("l_shoulder", "r_shoulder")}
_LIMBS = ("r_ankle", "r_knee", "r_hip", "l_hip", "l_knee", "l_ankle", "r_wrist", "r_elbow",
          "r_shoulder", "l_shoulder", "l_elbow", "l_wrist")
# MPII joint -> the SYNTH18 joints it is (the mean of), per format; absent = never labelled.
SOURCES = {
    "mpii": {**{n: (n,) for n in _LIMBS}, "pelvis": ("root",), "thorax": ("thorax",),
             "upper_neck": ("neck_nose",), "head_top": ("head_top",)},
    "lsp_extended": {**{n: (n,) for n in _LIMBS}, **_MID, "upper_neck": ("neck_nose",),
                     "head_top": ("head_top",)},
    "flic_full": {**{n: (n,) for n in _LIMBS if "knee" not in n and "ankle" not in n}, **_MID},
    "coco": {**{n: (n,) for n in _LIMBS}, **_MID},   # + approximate head joints, tested apart
}


@pytest.fixture
def root(tree_2d) -> Path:
    assert (tree_2d.num, tree_2d.seed) == (NUM, SEED)
    return tree_2d.root


def rendered(name: str, split: str) -> list[tuple[dict, int, int]]:
    """(rendered person, x offset, 1 if the format is 1-based) per record, in record order."""
    first, second = range(NUM), range(NUM, 2 * NUM)
    ids = first if split == "train" else second       # LSP and FLIC: one list, two halves
    if name == "mpii":
        tag = "train" if split == "train" else "valid"
        return [(p, dx, 1) for i in first for p, dx in w_mpii.render_sample(SEED, tag, i)]
    if name == "lsp_extended":
        lspet = [w_lspet.render_sample(SEED, i) for i in first] if split == "train" else []
        return [(p, 0, 0) for p in lspet + [w_lsp.render_sample(SEED, i) for i in ids]]
    if name == "flic_full":
        return [(w_flic.render_sample(SEED, i), 0, 0) for i in ids]
    tag = "train2017" if split == "train" else "val2017"
    return [(w_coco.render_sample(SEED, tag, i), 0, 0) for i in first]


def expected_joints(name: str, person: dict, dx: int, base: int):
    """(16, 2) expected record joints (NaN where the format has no such joint), and the
    rendered visible / in-image flags of each MPII joint (products for midpoints)."""
    joints = np.full((16, 2), np.nan)
    visible, inside = np.zeros(16, bool), np.zeros(16, bool)
    for j, mpii_name in enumerate(MPII16.names):
        src = SOURCES[name].get(mpii_name)
        if src:
            idx = [S[n] for n in src]
            joints[j] = person["joints_2d"][idx].mean(axis=0) + [dx + base, base]
            visible[j], inside[j] = person["visible"][idx].all(), person["in_image"][idx].all()
    return joints, visible, inside


def cells(sample: dict, joints: np.ndarray) -> np.ndarray:
    """Continuous output-grid positions of (16, 2) image joints for an unaugmented sample."""
    meta = sample["meta"]
    t = get_affine_transform(meta["center"], meta["scale"], 0, (OUT, OUT))
    return joints @ t[:, :2].T + t[:, 2]


def check_cells(sample: dict, want: np.ndarray, tol: float) -> int:
    """pts_crop is the truncated expected cell and the heatmap peaks there, per drawn joint;
    returns how many joints were checked."""
    meta, target = sample["meta"], sample["target"]
    assert np.isfinite(target).all() and np.isfinite(sample["input"]).all()
    for j in np.flatnonzero(meta["vis"]):
        cell = meta["pts_crop"][j]
        assert np.all(cell <= want[j] + tol) and np.all(cell > want[j] - 1 - tol), (j, cell)
        peak = np.unravel_index(np.argmax(target[j]), target[j].shape)
        assert (peak[1], peak[0]) == tuple(cell) and target[j].max() == pytest.approx(1.0)
    return int(meta["vis"].sum())


@pytest.mark.parametrize("split", ["val", "train"])
@pytest.mark.parametrize("name", NAMES)
def test_round_trip(root, name, split):
    ds = DATASETS[name](split, root, CFG)
    people = rendered(name, split)
    assert len(ds) == len(people)
    checked = 0
    for n, (person, dx, base) in enumerate(people):
        rec = ds.records[n]
        want, visible, inside = expected_joints(name, person, dx, base)
        vis = rec["vis"] > 0
        direct = ~np.isnan(want[:, 0])
        approx = np.zeros(16, bool)
        if name == "coco":
            approx[[MPII16.index("upper_neck"), MPII16.index("head_top")]] = True
        assert not vis[~direct & ~approx].any()
        # Visibility as each format encodes the rendered flags.
        if name == "mpii":          # labelled: inside the image; some occluded ones skipped
            assert np.all(vis[direct] <= inside[direct]) and np.all(vis >= visible & inside)
        elif name == "lsp_extended":  # LSP flag inverted / LSPET flag: visible
            assert np.array_equal(vis[direct], visible[direct])
        else:                       # FLIC: NaN outside the frame; COCO: v > 0 inside it
            assert np.array_equal(vis[direct], inside[direct])
        tol = 0.5 + 1e-6 if name == "coco" else 0.006  # COCO stores integers, MPII 2 decimals
        np.testing.assert_allclose(rec["joints"][vis & direct], want[vis & direct], atol=tol)
        sample = ds[n]
        assert not sample["target"][~vis].any()
        want_cells = cells(sample, np.where(np.isnan(want), 0.0, want))
        checked += check_cells(sample, np.where(direct[:, None], want_cells,
                                                cells(sample, rec["joints"])),
                               tol * OUT / sample["meta"]["scale"][0])
        if name in ("lsp_extended", "flic_full"):   # the joint box keeps every joint in view
            grid = want_cells[vis & direct]
            assert np.all((grid >= 0) & (grid < OUT))
    assert checked >= 6 * len(people)


@pytest.mark.parametrize("name", NAMES)
def test_flip_keeps_joints_on_the_image(root, name):
    plain = DATASETS[name]("train", root, CFG)
    flipped = DATASETS[name]("train", root, FLIP_CFG)
    flip_index = MPII16.flip_index
    for n in range(len(plain)):
        a, b = plain[n], flipped[n]
        assert b["meta"]["flip"] and not a["meta"]["flip"]
        src = cells(a, plain.records[n]["joints"])[flip_index]
        want = np.stack([OUT - src[:, 0], src[:, 1]], axis=1)
        assert check_cells(b, want, 1e-4) >= 6
        assert np.all(b["meta"]["vis"] <= plain.records[n]["vis"][flip_index])
        # Output pixel u of the flipped crop samples the image point of pixel W - u unflipped.
        diff = np.abs(b["input"][:, :, 1:] - a["input"][:, :, :0:-1])
        # warpAffine's bilinear weights are fixed point (1/32 steps in OpenCV 4): at a sharp
        # edge a pixel may differ by up to contrast/32, about 8 grey levels = 0.14 normalised.
        assert diff.mean() < 1e-3 and diff.max() < 0.15


def test_mpii_layout(root):
    annot = root / "mpii" / "annot"
    for split in ("train", "valid"):
        recs = json.loads((annot / f"{split}.json").read_text())
        assert len(recs) == NUM + 1
        assert all(set(r) == {"image", "center", "scale", "joints", "joints_vis"} for r in recs)
        assert len({r["image"] for r in recs}) == NUM     # image 0 holds two people
        assert all(len(r["image"]) == 13 and r["image"][:9].isdigit() for r in recs)
        for r in recs:
            for xy, v in zip(r["joints"], r["joints_vis"]):
                assert v in (0, 1) and (v == 1 or xy == [-1.0, -1.0])
    valid = json.loads((annot / "valid.json").read_text())
    assert any(0 in r["joints_vis"] for r in valid + recs)
    gt = scipy.io.loadmat(str(annot / "gt_valid.mat"))
    n = len(valid)
    assert gt["dataset_joints"].shape == (1, 16) and gt["dataset_joints"].dtype == object
    assert [str(c[0]) for c in gt["dataset_joints"][0]] == list(MPII_MAT_NAMES)
    assert gt["jnt_missing"].dtype == np.uint8 and gt["jnt_missing"].shape == (16, n)
    assert gt["pos_gt_src"].dtype == np.float64 and gt["pos_gt_src"].shape == (16, 2, n)
    assert gt["headboxes_src"].dtype == np.float64 and gt["headboxes_src"].shape == (2, 2, n)
    vis = np.array([r["joints_vis"] for r in valid])
    np.testing.assert_array_equal(gt["jnt_missing"], 1 - vis.T)
    joints = np.array([r["joints"] for r in valid])
    np.testing.assert_allclose(gt["pos_gt_src"], np.where(vis[..., None] > 0, joints, 0)
                               .transpose(1, 2, 0), atol=0.006)
    assert np.all(gt["headboxes_src"][1] > gt["headboxes_src"][0])


def test_lsp_flic_coco_layouts(root):
    lsp = scipy.io.loadmat(str(root / "lsp" / "joints.mat"))["joints"]
    assert lsp.dtype == np.float64 and lsp.shape == (3, 14, 2 * NUM)
    assert set(np.unique(lsp[2])) <= {0.0, 1.0} and np.all(lsp[:2] > 0)
    assert (root / "lsp" / "images" / f"im{2 * NUM:04d}.jpg").is_file()
    et = scipy.io.loadmat(str(root / "lsp_extended" / "joints.mat"))["joints"]
    assert et.dtype == np.float64 and et.shape == (14, 3, NUM)
    hidden = et[:, 2] == 0
    assert hidden.any() and np.all((et[:, 0][hidden] <= 0) | (et[:, 1][hidden] <= 0))
    assert (root / "lsp_extended" / "images" / f"im{NUM:05d}.jpg").is_file()

    ex = scipy.io.loadmat(str(root / "flic_full" / "examples.mat"))["examples"]
    assert ex.shape == (1, 2 * NUM)
    assert ex.dtype.names == ("poselet_hit_idx", "moviename", "coords", "filepath", "imgdims",
                              "currframe", "torsobox", "istrain", "istest", "isbad",
                              "isunchecked")
    slots = [FLIC29.index(n) for n in FLIC_LABELLED]
    for i, e in enumerate(ex[0]):
        assert e[2].shape == (2, 29) and np.isnan(np.delete(e[2], slots, axis=1)).all()
        assert e[3][0] == f"{e[1][0]}-{int(e[5][0, 0]):08d}.jpg"
        assert e[4].tolist() == [[480.0, 720.0, 3.0]] and e[6].shape == (1, 4)
        assert (e[7][0, 0], e[8][0, 0]) == ((1, 0) if i < NUM else (0, 1))
        assert (root / "flic_full" / "images" / e[3][0]).is_file()

    for split in ("train2017", "val2017"):
        data = json.loads((root / "coco" / "annotations" / f"person_keypoints_{split}.json")
                          .read_text())
        assert data["categories"][0]["name"] == "person"
        assert len(data["categories"][0]["keypoints"]) == 17
        for ann in data["annotations"]:
            assert {"keypoints", "num_keypoints", "bbox", "area", "iscrowd", "category_id", "id",
                    "image_id", "segmentation"} <= set(ann)
            kps = np.array(ann["keypoints"]).reshape(17, 3)
            assert set(kps[:, 2]) <= {0, 1, 2} and ann["num_keypoints"] == (kps[:, 2] > 0).sum()
            assert np.all(kps[kps[:, 2] == 0, :2] == 0)
        for img in data["images"]:
            assert (root / "coco" / "images" / split / img["file_name"]).is_file()


def test_coco_head_approximation(root):
    ds = DATASETS["coco"]("val", root, CFG)
    err = []
    for rec, (person, _, _) in zip(ds.records, rendered("coco", "val")):
        j2 = person["joints_2d"]
        head = np.linalg.norm(j2[S["head_top"]] - j2[S["neck_nose"]])
        for mpii_name, synth in (("upper_neck", "neck_nose"), ("head_top", "head_top")):
            j = MPII16.index(mpii_name)
            if rec["vis"][j]:
                err.append(np.linalg.norm(rec["joints"][j] - j2[S[synth]]) / head)
    assert err and np.mean(err) < 0.5


def test_mpii_accepts_val_json(root, tmp_path):
    shutil.copytree(root / "mpii", tmp_path / "mpii")
    ref = DATASETS["mpii"]("val", root, CFG).records
    (tmp_path / "mpii" / "annot" / "valid.json").rename(tmp_path / "mpii" / "annot" / "val.json")
    got = DATASETS["mpii"]("val", tmp_path, CFG).records
    assert len(got) == len(ref)
    assert all(np.array_equal(a["joints"], b["joints"]) for a, b in zip(got, ref))
    (tmp_path / "mpii" / "annot" / "val.json").unlink()
    with pytest.raises(DataFormatError, match="valid.json or val.json"):
        DATASETS["mpii"]("val", tmp_path, CFG)


# --- broken files ----------------------------------------------------------------------------

def _edit_json(path: Path, fn) -> None:
    data = json.loads(path.read_text())
    fn(data)
    path.write_text(json.dumps(data))


def _edit_mat(path: Path, var: str, fn) -> None:
    scipy.io.savemat(str(path), {var: fn(scipy.io.loadmat(str(path))[var])})


def _drop_field(arr: np.ndarray, field: str) -> np.ndarray:
    keep = [n for n in arr.dtype.names if n != field]
    out = np.empty(arr.shape, dtype=[(n, "O") for n in keep])
    for n in keep:
        out[n] = arr[n]
    return out


def _short_coords(arr: np.ndarray) -> np.ndarray:
    arr[0, NUM]["coords"] = arr[0, NUM]["coords"][:, :28]
    return arr


COCO_VAL = "coco/annotations/person_keypoints_val2017.json"
BROKEN = {
    # id: (dataset, split, file, edit, words the message must contain)
    "mpii-field": ("mpii", "val", "mpii/annot/valid.json",
                   lambda p: _edit_json(p, lambda d: d[2].pop("scale")), ["record 2", "'scale'"]),
    "mpii-record": ("mpii", "train", "mpii/annot/train.json",
                    lambda p: _edit_json(p, lambda d: d[1]["joints"].pop()),
                    ["record 1", "'joints'", "(16, 2)"]),
    "mpii-file": ("mpii", "train", "mpii/annot/train.json",
                  lambda p: p.write_bytes(p.read_bytes()[:300]), ["not valid json"]),
    "lsp-variable": ("lsp_extended", "val", "lsp/joints.mat",
                     lambda p: scipy.io.savemat(str(p), {"points": np.zeros((3, 14, 4))}),
                     ["'joints'"]),
    "lsp-shape": ("lsp_extended", "val", "lsp/joints.mat",
                  lambda p: _edit_mat(p, "joints", lambda a: a[:, :13]), ["'joints'", "(3, 13"]),
    "lsp-file": ("lsp_extended", "val", "lsp/joints.mat",
                 lambda p: p.write_bytes(p.read_bytes()[:200]), ["unreadable .mat"]),
    "lspet-shape": ("lsp_extended", "train", "lsp_extended/joints.mat",
                    lambda p: _edit_mat(p, "joints", lambda a: a.transpose(1, 0, 2)),
                    ["'joints'", "(3, 14"]),
    "flic-field": ("flic_full", "val", "flic_full/examples.mat",
                   lambda p: _edit_mat(p, "examples", lambda a: _drop_field(a, "torsobox")),
                   ["'torsobox'"]),
    "flic-record": ("flic_full", "val", "flic_full/examples.mat",
                    lambda p: _edit_mat(p, "examples", _short_coords),
                    [f"example {NUM}", "'coords'"]),
    "coco-field": ("coco", "val", COCO_VAL,
                   lambda p: _edit_json(p, lambda d: d["annotations"][1].pop("bbox")),
                   ["annotations[1]", "'bbox'"]),
    "coco-record": ("coco", "val", COCO_VAL,
                    lambda p: _edit_json(p, lambda d: d["annotations"][0]["keypoints"].pop()),
                    ["annotations[0]", "'keypoints'"]),
    "coco-file": ("coco", "val", COCO_VAL,
                  lambda p: p.write_bytes(p.read_bytes()[:-50]), ["not valid json"]),
}


def _copy(tree: Path, dst: Path, rel: str) -> Path:
    top = rel.split("/")[0]
    shutil.copytree(tree / top, dst / top)
    if top == "lsp_extended":
        shutil.copytree(tree / "lsp", dst / "lsp")
    return dst / rel


@pytest.mark.parametrize("case", list(BROKEN))
def test_broken_file_is_one_line_error(root, tmp_path, case):
    name, split, rel, edit, words = BROKEN[case]
    path = _copy(root, tmp_path, rel)
    edit(path)
    with pytest.raises(DataFormatError) as err:
        DATASETS[name](split, tmp_path, CFG)
    msg = str(err.value)
    assert "\n" not in msg and str(path) in msg
    for word in words:
        assert word in msg, msg


MISSING = {"mpii": "mpii: .*folder is missing", "flic_full": "flic_full: .*folder is missing",
           "coco": "coco: .*folder is missing",
           "lsp_extended": "neither lsp/ .*lsp_dataset.zip.* nor lsp_extended/ .*lspet_dataset.zip"}


@pytest.mark.parametrize("name,folder", [("mpii", "mpii"), ("lsp_extended", "lsp"),
                                         ("flic_full", "flic_full"), ("coco", "coco")])
def test_missing_folder_or_image(root, tmp_path, name, folder):
    with pytest.raises(DataFormatError, match=MISSING[name]):
        DATASETS[name]("val", tmp_path, CFG)
    shutil.copytree(root / folder, tmp_path / folder)
    ds = DATASETS[name]("val", tmp_path, CFG)
    image = Path(ds.records[1]["image"])
    image.unlink()
    with pytest.raises(DataFormatError) as err:
        ds[1]
    assert str(image) in str(err.value) and "\n" not in str(err.value)


def test_nan_coordinates_are_missing(root, tmp_path):
    shutil.copytree(root / "mpii", tmp_path / "mpii")
    _edit_json(tmp_path / "mpii" / "annot" / "valid.json",
               lambda d: d[1]["joints"].__setitem__(3, [float("nan"), 12.0]))
    shutil.copytree(root / "lsp", tmp_path / "lsp")

    def nan_knee(a):
        a[0, 1, NUM + 1] = np.nan
        return a
    _edit_mat(tmp_path / "lsp" / "joints.mat", "joints", nan_knee)
    for name, joint in (("mpii", 3), ("lsp_extended", MPII16.index("r_knee"))):
        ds = DATASETS[name]("val", tmp_path, CFG)
        assert ds.records[1]["vis"][joint] == 0 and np.isfinite(ds.records[1]["joints"]).all()
        sample = ds[1]
        assert np.isfinite(sample["target"]).all() and not sample["target"][joint].any()


def test_writers_are_deterministic(tmp_path):
    def digest(root: Path) -> dict:
        return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
                for p in sorted(root.rglob("*")) if p.is_file()}

    for workers, out in ((1, tmp_path / "a"), (2, tmp_path / "b")):
        for name in ("mpii", "lsp", "lspet", "flic_full", "coco"):
            WRITERS[name](out, 2, 11, workers)
    a, b = digest(tmp_path / "a"), digest(tmp_path / "b")
    # mpii 4 images + 3 annotation files, lsp 4 + 1, lspet 2 + 1, flic_full 4 + 1, coco 4 + 2
    assert a == b and len(a) == 26

