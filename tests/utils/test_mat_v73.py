"""MATLAB v7.3 files (HDF5) load like MATLAB 5 files: ``pose3d.utils.io.load_mat``.

The v7.3 files are written the way MATLAB writes them: a 512-byte user block holding the MATLAB
text header (version 0x0200), arrays stored with their dimensions reversed and a
``MATLAB_class`` attribute, cell arrays as HDF5 object references into ``#refs#``, char arrays
as uint16 codes. The same content saved by scipy as MATLAB 5 must give the same result through
the loaders (PCKh ground truth, LSP joints).
"""
from pathlib import Path

import h5py
import numpy as np
import pytest
import scipy.io

from pose3d.evaluation.pckh import load_gt_valid
from pose3d.skeleton import MPII_MAT_NAMES
from pose3d.utils.errors import DataFormatError
from pose3d.utils.io import load_mat


def _matlab_header(path: Path) -> None:
    text = (b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Sun Dec  6 05:00:00 2026 "
            b"HDF5 schema 1.00 .")
    header = text.ljust(116, b" ") + b" " * 8 + b"\x00\x02IM"
    with open(path, "r+b") as f:
        f.write(header)


def _dataset(f: h5py.File, name: str, value: np.ndarray, cls: str):
    # MATLAB is column-major: HDF5 holds the array with its dimensions reversed.
    ds = f.create_dataset(name, data=np.asarray(value).T)
    ds.attrs["MATLAB_class"] = np.bytes_(cls)
    return ds


def write_v73(path: Path, numeric: dict[str, tuple[np.ndarray, str]],
              cells: dict[str, list[str]] | None = None, struct: str | None = None) -> Path:
    """A MATLAB v7.3 file with numeric arrays, 1 x n cell arrays of char, optionally a struct."""
    with h5py.File(path, "w", userblock_size=512) as f:
        for name, (value, cls) in numeric.items():
            _dataset(f, name, value, cls)
        refs = f.create_group("#refs#")
        for name, strings in (cells or {}).items():
            targets = [_dataset(refs, f"{name}_{i}", np.array([[ord(c) for c in s]], np.uint16),
                                "char") for i, s in enumerate(strings)]
            ref_array = np.array([[t.ref for t in targets]], dtype=h5py.ref_dtype)  # 1 x n
            ds = f.create_dataset(name, data=ref_array.T)
            ds.attrs["MATLAB_class"] = np.bytes_("cell")
        if struct:
            group = f.create_group(struct)
            group.attrs["MATLAB_class"] = np.bytes_("struct")
            _dataset(group, "x", np.ones((1, 2)), "double")
    _matlab_header(path)
    return path


def _gt_valid(n: int = 5) -> dict:
    rng = np.random.default_rng(0)
    pos = rng.uniform(1, 500, (16, 2, n))
    missing = (rng.random((16, n)) < 0.2).astype(np.uint8)
    pos[np.broadcast_to(missing[:, None, :] > 0, pos.shape)] = 0
    corner = rng.uniform(1, 400, (2, n))
    boxes = np.stack([corner, corner + rng.uniform(20, 60, (2, n))])
    return {"pos_gt_src": pos, "jnt_missing": missing, "headboxes_src": boxes}


def test_gt_valid_v73_reads_like_matlab5(tmp_path: Path) -> None:
    gt = _gt_valid()
    # A different joint order in the file: rows are found by name.
    order = np.random.default_rng(1).permutation(16)
    names = [MPII_MAT_NAMES[i] for i in order]
    v5 = tmp_path / "gt_valid_v5.mat"
    scipy.io.savemat(str(v5), {"dataset_joints": np.array([names], dtype=object),
                               **{k: v[order] if k != "headboxes_src" else v
                                  for k, v in gt.items()}})
    v73 = write_v73(tmp_path / "gt_valid.mat",
                    {"jnt_missing": (gt["jnt_missing"][order], "uint8"),
                     "pos_gt_src": (gt["pos_gt_src"][order], "double"),
                     "headboxes_src": (gt["headboxes_src"], "double")},
                    cells={"dataset_joints": names})
    assert scipy.io.matlab.matfile_version(str(v73)) == (2, 0)
    with pytest.raises(NotImplementedError):  # scipy alone cannot read it
        scipy.io.loadmat(str(v73))
    a, b = load_gt_valid(v5), load_gt_valid(v73)
    for key in gt:
        np.testing.assert_array_equal(a[key], b[key])
        np.testing.assert_array_equal(b[key], gt[key])  # back in MPII16 order


def test_v73_arrays_keep_matlab_shapes_and_types(tmp_path: Path) -> None:
    joints = np.arange(3 * 14 * 4, dtype=np.float64).reshape(3, 14, 4)
    flags = np.array([[1, 0, 1]], dtype=np.uint8)
    path = write_v73(tmp_path / "joints.mat", {"joints": (joints, "double"),
                                                "ok": (flags, "logical")},
                     cells={"names": ["rank", "head"]})
    mat = load_mat(path)
    np.testing.assert_array_equal(mat["joints"], joints)
    assert mat["ok"].dtype == bool and mat["ok"].tolist() == [[True, False, True]]
    assert mat["names"].shape == (1, 2) and str(mat["names"][0, 1][0]) == "head"


def test_v73_struct_and_damaged_files_are_one_line_errors(tmp_path: Path) -> None:
    path = write_v73(tmp_path / "examples.mat", {}, struct="examples")
    with pytest.raises(DataFormatError, match=r"examples\.mat: variable /examples is a MATLAB "
                                              r"v7\.3 struct.*save\(\.\.\., '-v7'\)"):
        load_mat(path)
    damaged = tmp_path / "damaged.mat"
    damaged.write_bytes(path.read_bytes()[:700])
    with pytest.raises(DataFormatError, match="damaged.mat: unreadable .mat file") as exc:
        load_mat(damaged)
    assert "\n" not in str(exc.value)
