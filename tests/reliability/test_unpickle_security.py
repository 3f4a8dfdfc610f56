"""Pickled dataset files cannot run code: the allowlist unpickler of ``pose3d.utils.io``.

Each payload would leave a trace if it ran (a marker file, a process, an imported module); every
test asserts both the one-line refusal naming the file and the global, and that no trace exists.
The same payloads go through the plain-pickle path (H36M cache, Occlusion-Person) and the joblib
path (MPI-INF-3DHP / 3DPW dbs), raw and inside a joblib object array. The real-format files the
synthetic engine writes must still load through the dataset loaders.
"""
import os
import pickle
import subprocess
import sys
from pathlib import Path

import joblib
import numpy as np
import pytest

from conftest import own_copy
from pose3d.datasets import DATASETS
from pose3d.datasets.base import DataConfig
from pose3d.synthetic.h36m import cache_path
from pose3d.synthetic.mpii3d import db_path
from pose3d.synthetic.occlusion_person import annotation_path
from pose3d.utils.errors import DataFormatError
from pose3d.utils.io import load_joblib, load_pickle

CFG = DataConfig(input_h=64, input_w=64, output_h=16, output_w=16)
# A module the test process has not imported; importing it prints and registers it.
UNIMPORTED = "this"


class Call:
    """Pickles as ``func(*args)``: what a crafted file asks the unpickler to run."""

    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args

    def __call__(self, *args):  # pickle requires a callable when a Call is itself the func
        raise AssertionError("never called while pickling")


def payloads(marker: Path) -> dict[str, object]:
    """{name of the refused global: object whose unpickling would create ``marker``}."""
    touch = f"open({str(marker)!r}, 'w').close()"
    return {
        f"{os.system.__module__}.system": Call(os.system, f"touch {marker}"),  # posix.system
        "subprocess.Popen": Call(subprocess.Popen, ["touch", str(marker)]),
        "io.open": Call(open, str(marker), "w"),  # builtins.open is io.open
        "builtins.eval": Call(eval, touch),
        "builtins.exec": Call(exec, touch),
        "builtins.__import__": Call(__import__, UNIMPORTED),
        # getattr(__import__('os'), 'system')('touch ...'): refused at the first global.
        "builtins.getattr": Call(Call(getattr, Call(__import__, "os"), "system"),
                                 f"touch {marker}"),
    }


def _assert_refused(exc: pytest.ExceptionInfo, path: Path, name: str, marker: Path) -> None:
    msg = str(exc.value)
    assert msg.startswith(f"{path}: refused to unpickle '{name}' (only numpy arrays"), msg
    assert "\n" not in msg
    assert not marker.exists(), f"{name} ran"


@pytest.fixture(autouse=True)
def _no_unimported_module():
    if UNIMPORTED in sys.modules:
        pytest.skip(f"module {UNIMPORTED!r} already imported")
    yield
    assert UNIMPORTED not in sys.modules, "builtins.__import__ ran"


@pytest.mark.parametrize("name", list(payloads(Path("x"))))
def test_pickle_payloads_refused(tmp_path: Path, name: str) -> None:
    marker = tmp_path / "ran"
    path = tmp_path / "h36m" / "cache.pkl"
    path.parent.mkdir()
    for protocol in (2, pickle.HIGHEST_PROTOCOL):  # protocol 2: Python-2 style GLOBAL opcodes
        path.write_bytes(pickle.dumps([{"joints_3d": np.zeros(3), "x": payloads(marker)[name]}],
                                      protocol=protocol))
        with pytest.raises(DataFormatError) as exc:
            load_pickle(path, tmp_path)
        _assert_refused(exc, path, name, marker)


@pytest.mark.parametrize("name", list(payloads(Path("x"))))
@pytest.mark.parametrize("in_array", [False, True], ids=["value", "object_array"])
def test_joblib_payloads_refused(tmp_path: Path, name: str, in_array: bool) -> None:
    marker = tmp_path / "ran"
    path = tmp_path / "vibe_db" / "mpii3d_train_db.pt"
    path.parent.mkdir()
    evil = payloads(marker)[name]
    # An object array is pickled by joblib in a nested stream after the array header.
    value = np.array([evil, None], dtype=object) if in_array else evil
    for compress in (0, 3):
        joblib.dump({"joints3D": np.zeros((2, 17, 3)), "x": value}, path, compress=compress)
        with pytest.raises(DataFormatError) as exc:
            load_joblib(path, tmp_path)
        _assert_refused(exc, path, name, marker)


def test_dataset_loaders_refuse_crafted_files(clone: Path, tmp_path: Path) -> None:
    """A crafted file in place of each real annotation file: the dataset refuses it."""
    marker = tmp_path / "ran"
    evil = payloads(marker)[f"{os.system.__module__}.system"]
    cases = [("H36M", cache_path(clone, "train")),
             ("OcclusionPerson", annotation_path(clone, "train")),
             ("MPII3D", db_path(clone, "mpii3d", "train")),
             ("3DPW", db_path(clone, "3dpw", "train"))]
    for dataset, path in cases:
        own_copy(path)
        if path.suffix == ".pt":
            joblib.dump({"img_name": np.array(["a.jpg"]), "x": evil}, path)
        else:
            path.write_bytes(pickle.dumps([{"image": "a.jpg", "x": evil}]))
        with pytest.raises(DataFormatError) as exc:
            DATASETS[dataset]("train", clone, CFG)
        assert str(exc.value).startswith(f"{path}: refused to unpickle '"), str(exc.value)
        assert not marker.exists()


@pytest.mark.parametrize("dataset", ["H36M", "OcclusionPerson", "MPII3D", "3DPW"])
def test_real_format_files_still_load(syn_root: Path, dataset: str) -> None:
    for split in ("train", "val"):
        ds = DATASETS[dataset](split, syn_root, CFG)
        assert len(ds.records) > 0
        sample = ds[0]
        assert sample["input"].shape == (3, 64, 64)
        assert np.isfinite(sample["meta"]["gt_3d"]).all()
        assert np.abs(sample["meta"]["gt_3d"]).max() > 0


def test_python2_numpy_pickle_loads(tmp_path: Path) -> None:
    """A Python-2 cache: ``__builtin__`` names, numpy.core globals, str data read as latin1."""
    arr = np.arange(6, dtype=np.float64).reshape(2, 3)
    raw = pickle.dumps([{"joints_3d": arr, "name": "caf\xe9"}], protocol=2)
    # What Python 2 writes: array bytes and text as 8-bit strings, numpy under numpy.core.
    raw = raw.replace(b"numpy._core.multiarray", b"numpy.core.multiarray")
    py2 = raw.replace(b"X\x05\x00\x00\x00caf\xc3\xa9", b"U\x04caf\xe9")
    assert py2 != raw
    path = tmp_path / "py2.pkl"
    path.write_bytes(py2)
    out = load_pickle(path, tmp_path)
    assert out[0]["name"] == "caf\xe9"
    np.testing.assert_array_equal(out[0]["joints_3d"], arr)
