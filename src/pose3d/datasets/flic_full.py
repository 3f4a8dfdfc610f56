"""FLIC-full: upper bodies in movie frames.

Layout: ``flic_full/examples.mat`` with one variable ``examples``, a 1 x N MATLAB struct array
(fields ``poselet_hit_idx, moviename, coords, filepath, imgdims, currframe, torsobox, istrain,
istest, isbad, isunchecked``), and ``flic_full/images/<movie>-<8-digit frame>.jpg``.
``coords`` is (2, 29): x and y of the MODEC part slots (``skeleton.FLIC29``), NaN where
unlabelled; only 11 slots are ever labelled (``skeleton.FLIC_LABELLED``).
"""
from pathlib import Path

import numpy as np

from pose3d.skeleton import FLIC29
from pose3d.utils.errors import DataFormatError

from .base import PoseDataset
from .lsp_extended import joint_box, load_mat_variable, require_dir, to_mpii16

_USED_FIELDS = ("coords", "filepath", "torsobox", "istrain", "istest")
_FIX = "use the original FLIC-full examples.mat"


def _get(ex: np.void, field: str, path: Path, i: int, size: int | None = None,
         numeric: bool = True) -> np.ndarray:
    """Field of example ``i`` flattened, checked for ``size`` values (any if None) and type."""
    value = np.asarray(ex[field]).ravel()
    ok = value.size == size if size else value.size > 0
    if ok and numeric:
        ok = np.issubdtype(value.dtype, np.number) or value.dtype == bool
    if not ok:
        raise DataFormatError(path, f"example {i}: field '{field}' has {value.size} values of "
                              f"type {value.dtype}, expected {size or 'some'}", _FIX)
    return value


class FLICFull(PoseDataset):
    """FLIC-full mapped to MPII16 by slot *name* (fixing the fork's off-by-one table, J.10).

    Labelled MPII joints: shoulders, elbows, wrists and hips (copied by name); pelvis and thorax
    as midpoints of the hips / shoulders (as for LSP). FLIC has no knees, ankles, neck or head
    top: those stay missing rather than invented (eyes and nose only widen the box). NaN
    coordinates are missing. Coordinates are taken as 1-based (MATLAB) and shifted to 0-based.
    Split: ``istrain == 1`` -> train, ``istest == 1`` -> val (``isbad`` / ``isunchecked`` are
    kept, as in the fork). Box: :func:`~pose3d.datasets.lsp_extended.joint_box` over the
    labelled slots and the two ``torsobox`` corners.
    """

    name = "flic_full"

    def _load_records(self) -> list[dict]:
        root = self.data_dir / "flic_full"
        require_dir(root, "FLIC-full")
        path = root / "examples.mat"
        examples = load_mat_variable(path, "examples")
        names = examples.dtype.names or ()
        for field in _USED_FIELDS:
            if field not in names:
                raise DataFormatError(path, f"struct 'examples' has no field '{field}'", _FIX)
        split_field = "istrain" if self.split == "train" else "istest"
        records = []
        for i, ex in enumerate(examples.ravel()):
            if _get(ex, split_field, path, i, 1)[0] != 1:
                continue
            coords = _get(ex, "coords", path, i, 2 * len(FLIC29)).astype(np.float64)
            xy = coords.reshape(2, len(FLIC29)).T - 1.0
            filepath = _get(ex, "filepath", path, i, 1, numeric=False)[0]
            labelled = np.isfinite(xy).all(axis=1)
            xy[~labelled] = 0.0
            joints, vis = to_mpii16(FLIC29, xy[None], labelled[None].astype(np.float64))
            torso = _get(ex, "torsobox", path, i, 4).astype(np.float64).reshape(2, 2) - 1.0
            box_pts = np.concatenate([xy[labelled], torso[np.isfinite(torso).all(axis=1)]])
            if len(box_pts) == 0:
                continue
            center, side = joint_box(box_pts)
            records.append({"image": str(root / "images" / str(filepath)), "joints": joints[0],
                            "vis": vis[0], "center": center, "scale": side})
        return records
