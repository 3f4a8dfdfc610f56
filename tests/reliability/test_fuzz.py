"""Loader fuzzing: random truncations, deleted fields, odd values and NaN / inf entries in each
synthetic annotation file. A loader may refuse the file with a one-line :class:`UserError`, or
accept it; then every sample must come out with finite inputs and targets. Anything else (a
KeyError, an IndexError, a NaN target) fails.

A fixed budget of examples per format keeps this fast (``POSE3D_FUZZ_EXAMPLES`` raises it); a
failure prints the falsifying example.
"""
from __future__ import annotations

import json
import os
import pickle
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import clone_tree, own_copy
from pose3d.datasets import DATASETS
from pose3d.datasets.base import DataConfig
from pose3d.utils.errors import UserError

CFG = DataConfig(input_h=64, input_w=64, output_h=16, output_w=16)
# POSE3D_FUZZ_EXAMPLES=500 for a deeper run by hand.
BUDGET = settings(max_examples=int(os.environ.get("POSE3D_FUZZ_EXAMPLES", 15)), deadline=None,
                  database=None,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# format -> (dataset, split, annotation file, codec)
FORMATS = {
    "mpii": ("mpii", "train", "mpii/annot/train.json", "json"),
    "lsp": ("lsp_extended", "val", "lsp/joints.mat", "mat"),
    "lspet": ("lsp_extended", "train", "lsp_extended/joints.mat", "mat"),
    "flic_full": ("flic_full", "train", "flic_full/examples.mat", "mat"),
    "coco": ("coco", "train", "coco/annotations/person_keypoints_train2017.json", "json"),
    "h36m": ("H36M", "train", "h36m/msra_cache/HM36_eccv_challenge_Train_cache/"
             "HM36_eccv_challenge_Train_w288xh384_keypoint_jnt_bbox_db.pkl", "pickle"),
    "occlusion_person": ("OcclusionPerson", "train", "occlusion_person/unrealcv_train.pkl",
                         "pickle"),
    "mpii3d": ("MPII3D", "train", "vibe_db/mpii3d_train_db.pt", "joblib"),
    "3dpw": ("3DPW", "train", "vibe_db/3dpw_train_db.pt", "joblib"),
}
ODD = [None, "x", [], {}, -1, 0, 1e9, float("nan"), [1.0, 2.0]]
ODD_MAT = [np.zeros((0,)), "x", np.float64(-1), np.zeros((2, 2)), np.array([np.nan])]


# -- reading and writing each codec ----------------------------------------------------------------
def load(path: Path, codec: str):
    if codec == "json":
        return json.loads(path.read_text())
    if codec == "pickle":
        with open(path, "rb") as f:
            return pickle.load(f)
    if codec == "joblib":
        import joblib
        return joblib.load(path)
    import scipy.io
    return {k: v for k, v in scipy.io.loadmat(str(path)).items() if not k.startswith("__")}


def dump(obj, path: Path, codec: str) -> None:
    if codec == "json":
        path.write_text(json.dumps(obj))
    elif codec == "pickle":
        with open(path, "wb") as f:
            pickle.dump(obj, f)
    elif codec == "joblib":
        import joblib
        joblib.dump(obj, path)
    else:
        import scipy.io
        scipy.io.savemat(str(path), obj)


# -- where a change can be made --------------------------------------------------------------------
def sites(obj, path=(), depth=0) -> list[tuple]:
    """Paths to dict entries and the first list elements, three levels deep."""
    out = []
    if isinstance(obj, dict):
        items = list(obj.items())
    elif isinstance(obj, list):
        items = list(enumerate(obj[:3]))
    elif isinstance(obj, np.ndarray) and obj.dtype.names:  # a MATLAB struct array
        items = [((i, name), obj[name][0, i]) for i in range(min(obj.shape[1], 3))
                 for name in obj.dtype.names]
    else:
        return out
    for key, value in items:
        out.append(path + (key,))
        if depth < 3:
            out.extend(sites(value, path + (key,), depth + 1))
    return out


def get(obj, path: tuple):
    for key in path:
        obj = obj[key[1]][0, key[0]] if isinstance(key, tuple) else obj[key]
    return obj


def set_(obj, path: tuple, value) -> None:
    parent, key = get(obj, path[:-1]), path[-1]
    if isinstance(key, tuple):
        parent[key[1]][0, key[0]] = value
    else:
        parent[key] = value


def delete(obj, path: tuple):
    """Delete the entry; a struct field goes from every element. Returns the new object."""
    parent, key = get(obj, path[:-1]), path[-1]
    if isinstance(key, tuple):
        names = [n for n in parent.dtype.names if n != key[1]]
        new = np.empty(parent.shape, dtype=[(n, "O") for n in names])
        for n in names:
            new[n] = parent[n]
        set_(obj, path[:-1], new)
    else:
        del parent[key]
    return obj


def poison(value, rng_index: int, bad: float):
    """``value`` with one numeric entry replaced by NaN or inf; None if it holds no numbers."""
    try:
        arr = np.array(value, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    if arr.size == 0:
        return None
    flat = arr.reshape(-1)
    flat[rng_index % flat.size] = bad
    return arr if isinstance(value, np.ndarray) else arr.tolist()


# -- the check -------------------------------------------------------------------------------------
def check(dataset: str, split: str, root: Path) -> str:
    """Construct and read everything; returns what happened (for hypothesis' statistics)."""
    try:
        ds = DATASETS[dataset](split, root, CFG)
    except UserError as err:
        assert "\n" not in str(err).strip() and "Traceback" not in str(err), str(err)
        return "refused"
    for i in range(len(ds)):
        try:
            s = ds[(i, 1)]
        except UserError as err:  # e.g. a changed image name: the image is missing
            assert "\n" not in str(err).strip(), str(err)
            continue
        for key in ("input", "target", "reg_target"):
            assert np.isfinite(s[key]).all(), (i, key)
        assert np.isfinite(s["meta"]["gt_3d"]).all(), i
        assert np.isin(s["meta"]["vis"], (0, 1)).all(), i
    return "accepted"


@pytest.mark.parametrize("fmt", list(FORMATS))
@BUDGET
@given(data=st.data())
def test_fuzzed_annotation(fmt: str, syn_root: Path, data) -> None:
    dataset, split, rel, codec = FORMATS[fmt]
    with tempfile.TemporaryDirectory() as tmp:
        root = clone_tree(syn_root, Path(tmp) / syn_root.name)
        path = own_copy(root / rel)
        op = data.draw(st.sampled_from(["truncate", "delete", "replace", "poison"]), label="op")
        if op == "truncate":
            raw = path.read_bytes()
            path.write_bytes(raw[: data.draw(st.integers(0, len(raw) - 1), label="keep bytes")])
        else:
            obj = load(path, codec)
            where = data.draw(st.sampled_from(sites(obj)), label="where")
            if op == "delete":
                obj = delete(obj, where)
            elif op == "replace":
                set_(obj, where, data.draw(st.sampled_from(ODD_MAT if codec == "mat" else ODD),
                                           label="value"))
            else:
                new = poison(get(obj, where), data.draw(st.integers(0, 10**6), label="entry"),
                             data.draw(st.sampled_from([np.nan, np.inf, -np.inf]), label="bad"))
                if new is not None:
                    set_(obj, where, new)
            dump(obj, path, codec)
        check(dataset, split, root)


def test_every_registered_format_is_fuzzed() -> None:
    fuzzed = {spec[0] for spec in FORMATS.values()}
    assert set(DATASETS) - {"fusion_3d"} <= fuzzed  # fusion_3d reads the formats above
