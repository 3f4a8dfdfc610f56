"""MPI-INF-3DHP as pre-processed by the ECE740F21T01 fork's copy of VIBE.

Files::

    <data_dir>/vibe_db/mpii3d_{train,val}_db.pt

A ``.pt`` db is ``joblib.dump`` of a dict of arrays sharing the first dimension N (one row per
frame); 'val' is the official test set TS1-TS6. Keys read: ``img_name`` (N,) str, ``joints3D``
(N, 16, 3) MPII-16 mm root-relative, ``joints3D_image`` (N, 16, 3) ``[u, v, Z - Z_root]``,
``bbox`` (N, 4) ``[cx, cy, w, h]``; optional ``joints2D`` (N, 16, 3) whose third column is the
visibility (all ones for MPI-INF-3DHP) and ``vid_name`` (the sample's ``group``, one per sequence
segment).

As the original: ``gt_3d = (joints3D - pelvis)[MPII_TO_H36M]``; the 2D joints are
``joints3D_image[:, :2]``; the depth target is the root-relative Z times ``b``, the Procrustes scale
(px per mm) of the root-relative X, Y onto those 2D joints (labelled joints only); the crop side is
``max(bbox[2:])`` around ``bbox[:2]`` (no 1.25).

Image paths: ``img_name`` is relative to the repository root as the preprocessing script wrote it
(``./data/mpi_inf_3dhp/S1/Seq1/video_0/000001.jpg``), so it is resolved against the parent of
``data_dir`` (``data_dir/../img_name``, lexically; an absolute ``img_name`` is used as is).
"""
import logging
import os
from pathlib import Path

import numpy as np

from pose3d.skeleton import MPII16, MPII_TO_H36M, ROOT_MPII
from pose3d.utils.errors import DataFormatError
from pose3d.utils.io import require_inside

from .base import PoseDataset
from .h36m import check_shape, procrustes_scale, require_scales

logger = logging.getLogger(__name__)

_K = MPII16.num_joints


def db_path(data_dir: str | os.PathLike, prefix: str, split: str) -> Path:
    """``<data_dir>/vibe_db/<prefix>_<split>_db.pt``."""
    return Path(data_dir) / "vibe_db" / f"{prefix}_{split}_db.pt"


def resolve_img_name(data_dir: str | os.PathLike, img_name: str) -> str:
    """Image path of a db row: ``img_name`` relative to the parent of ``data_dir``."""
    return os.path.normpath(os.path.join(os.path.abspath(data_dir), os.pardir, str(img_name)))


def load_vibe_db(path: Path, required: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Load a joblib db (dict of equally long arrays) and check that ``required`` keys exist.

    Raises:
        DataFormatError: missing or unreadable file, not a dict, missing key, unequal lengths.
    """
    import joblib  # imported here: only the VIBE-style datasets need it

    if not path.is_file():
        raise DataFormatError(path, "annotation db is missing",
                              "run the fork's lib/data_utils preprocessing (see new_readme.md) or "
                              "write the synthetic tree")
    try:
        db = joblib.load(path)
    except Exception as exc:  # joblib/pickle raise many types for a damaged file
        raise DataFormatError(path, f"cannot be read with joblib.load ({type(exc).__name__}: "
                              f"{exc})", "the file is damaged or truncated; rewrite it") from exc
    if not isinstance(db, dict):
        raise DataFormatError(path, f"holds a {type(db).__name__}, expected a dict of arrays",
                              "the file does not have the documented layout")
    for key in required:
        if key not in db:
            raise DataFormatError(path, f"has no key {key!r} (keys: {sorted(db)})",
                                  "use the fork's preprocessing, which adds joints3D_image and "
                                  "MPII-16 joints in mm; VIBE's original dbs are not compatible")
    out = {}
    for key, value in db.items():
        arr = np.asarray(value)
        if arr.ndim == 0:
            raise DataFormatError(path, f"key {key!r} is a single value, expected one row per "
                                  "frame", "the file does not have the documented layout")
        out[key] = arr
    n = len(out[required[0]])
    for key, arr in out.items():
        if len(arr) != n:
            raise DataFormatError(path, f"key {key!r} has {len(arr)} rows, {required[0]!r} has "
                                  f"{n}", "the arrays must be equally long")
    return out


def numeric(db: dict[str, np.ndarray], key: str, shape: tuple, path: Path) -> np.ndarray:
    """``db[key]`` as a float64 array of ``shape`` (``None`` = any) without NaN or inf.

    Raises:
        DataFormatError: naming the key and the first bad row.
    """
    try:
        arr = np.asarray(db[key], dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise DataFormatError(path, f"key {key!r} is not numeric ({exc})") from exc
    check_shape(arr, shape, path, f"key {key!r}")
    bad = ~np.isfinite(arr.reshape(len(arr), -1)).all(axis=1)
    if bad.any():
        raise DataFormatError(path, f"row {int(np.argmax(bad))} key {key!r} contains NaN or inf",
                              "fix or drop that row")
    return arr


class MPII3D(PoseDataset):
    """MPI-INF-3DHP ('train' = S1-S8, 'val' = test set TS1-TS6) from the fork's VIBE-style db."""

    name = "MPII3D"
    is_3d = True
    rotate_in_train = False
    subsample_val = True
    db_prefix = "mpii3d"

    def _load_records(self) -> list[dict]:
        path = db_path(self.data_dir, self.db_prefix, self.split)
        require_inside(path, self.data_dir)  # a joblib db is a pickle: only from --data_dir
        db = load_vibe_db(path, ("img_name", "joints3D", "joints3D_image", "bbox"))
        n = len(db["img_name"])
        j3d = numeric(db, "joints3D", (None, _K, 3), path)
        j3d_img = numeric(db, "joints3D_image", (None, _K, 3), path)
        bbox = numeric(db, "bbox", (None, 4), path)
        if (bbox[:, 2:] <= 0).any(axis=1).any():
            i = int(np.argmax((bbox[:, 2:] <= 0).any(axis=1)))
            raise DataFormatError(path, f"row {i} key 'bbox' has a non-positive size "
                                  f"{bbox[i].tolist()}", "fix or drop that row")
        if "joints2D" in db:
            vis = numeric(db, "joints2D", (None, _K, (3, None)), path)[:, :, 2] > 0
        else:
            vis = np.ones((n, _K), dtype=bool)
        groups = db["vid_name"] if "vid_name" in db else np.full(n, "")

        mm = j3d - j3d[:, ROOT_MPII:ROOT_MPII + 1]
        joints = j3d_img[:, :, :2]
        b = procrustes_scale(joints, mm[..., :2], vis)
        require_scales(b, path, "row")
        depth = mm[..., 2] * b[:, None]
        gt_3d = mm[:, MPII_TO_H36M]

        images = [resolve_img_name(self.data_dir, name) for name in db["img_name"]]
        if images and not os.path.isfile(images[0]):
            raise DataFormatError(path, f"row 0 img_name {str(db['img_name'][0])!r} resolves to "
                                  f"{images[0]}, which does not exist",
                                  "img_name is read relative to the parent of --data_dir, as the "
                                  "preprocessing writes it (./data/...)")
        records = [{
            "image": images[i],
            "joints": joints[i],
            "vis": vis[i].astype(np.float64),
            "center": bbox[i, :2],
            "scale": float(bbox[i, 2:].max()),
            "gt_3d": gt_3d[i],
            "depth_px": depth[i],
            "group": str(groups[i]),
        } for i in range(n)]
        logger.info("%s %s: %d records from %s", self.name, self.split, n, path)
        return records
