"""Human3.6M: ECCV'18 challenge images with integral-human-pose's ``msra_cache``.

Files::

    <data_dir>/h36m/ECCV18_Challenge/{Train,Val}/IMG/%05d.jpg          (1-based, = cache index + 1)
    <data_dir>/h36m/msra_cache/HM36_eccv_challenge_{Train,Val}_cache/
        HM36_eccv_challenge_{Train,Val}_w288xh384_keypoint_jnt_bbox_db.pkl

The cache is a pickled list of dicts, one per image, in image-number order, with 18 joints (the
17 H36M joints plus a derived thorax). Read as the original: ``gt_3d = joints_3d_relative[:17]``
(mm, camera frame, root-relative), ``joints_3d`` reordered with ``H36M_TO_MPII`` gives the 2D
joints (u, v in image px) and the root-relative depth already in pixels, the crop side is
``max(width, height)`` around ``(center_x, center_y)``. Every other key is ignored.

The challenge cache carries no action; when the (otherwise unused) ``image`` path contains a raw
H36M folder name ``s_SS_act_AA_subact_BB_ca_CC`` the action becomes the sample's ``group`` (for
per-action tables), else the group is empty.

This module also holds the small readers shared by the other 3D loaders (Occlusion-Person,
MPI-INF-3DHP, 3DPW): pickle loading, checked field access and the pixels-per-mm depth scale.
"""
import logging
import os
import re
from pathlib import Path

import numpy as np

from pose3d.skeleton import H36M_TO_MPII
from pose3d.utils.errors import DataFormatError
from pose3d.utils.io import load_pickle

from .base import PoseDataset

logger = logging.getLogger(__name__)

SPLIT_DIRS = {"train": "Train", "val": "Val"}
# Human3.6M action ids (the ``act_AA`` of the raw folder names) and names.
H36M_ACTIONS = {2: "Directions", 3: "Discussion", 4: "Eating", 5: "Greeting", 6: "Phoning",
                7: "Posing", 8: "Purchases", 9: "Sitting", 10: "SittingDown", 11: "Smoking",
                12: "Photo", 13: "Waiting", 14: "Walking", 15: "WalkDog", 16: "WalkTogether"}
_RAW_FOLDER = re.compile(r"s_(\d+)_act_(\d+)_subact_(\d+)_ca_(\d+)")


# -- layout --------------------------------------------------------------------------------------
def cache_path(data_dir: str | os.PathLike, split: str) -> Path:
    """The ``msra_cache`` pickle of ``split`` ('train' or 'val')."""
    set_name = SPLIT_DIRS[split]
    name = f"HM36_eccv_challenge_{set_name}"
    return (Path(data_dir) / "h36m" / "msra_cache" / f"{name}_cache"
            / f"{name}_w288xh384_keypoint_jnt_bbox_db.pkl")


def image_path(data_dir: str | os.PathLike, split: str, index: int) -> Path:
    """Image of cache entry ``index`` (0-based): ``IMG/%05d.jpg`` numbered from 1."""
    return (Path(data_dir) / "h36m" / "ECCV18_Challenge" / SPLIT_DIRS[split] / "IMG"
            / f"{index + 1:05d}.jpg")


def action_from_path(path: str) -> str:
    """Action name from a raw H36M folder name inside ``path``; '' when there is none."""
    m = _RAW_FOLDER.search(str(path))
    if m is None:
        return ""
    return H36M_ACTIONS.get(int(m.group(2)), f"act_{int(m.group(2)):02d}")


# -- readers shared by the 3D loaders ------------------------------------------------------------
def load_record_list(path: Path, data_dir: Path, fix: str) -> list:
    """Unpickle an annotation file from ``data_dir`` that must hold a list of record dicts.

    Raises:
        DataFormatError: missing, outside ``data_dir``, damaged, or not a list.
    """
    db = load_pickle(path, data_dir, fix)
    if not isinstance(db, list):
        raise DataFormatError(path, f"holds a {type(db).__name__}, expected a list of dicts",
                              "the file does not have the documented layout")
    return db


def read_array(rec: dict, key: str, shape: tuple, path: Path, where: str) -> np.ndarray:
    """``rec[key]`` as a finite float64 array of ``shape`` (``None`` entries match any size).

    Args:
        rec: one annotation record.
        key: field name.
        shape: expected shape; a dimension given as ``None`` is free, one given as a tuple
            ``(lo, None)`` must be at least ``lo``.
        path: annotation file (for the message).
        where: record description, e.g. "record 12".

    Raises:
        DataFormatError: missing field, wrong shape, non-numeric values, NaN or inf.
    """
    if not isinstance(rec, dict):
        raise DataFormatError(path, f"{where} is a {type(rec).__name__}, expected a dict",
                              "the file does not have the documented layout")
    if key not in rec:
        raise DataFormatError(path, f"{where} has no field {key!r}",
                              "the file does not have the documented layout")
    try:
        arr = np.asarray(rec[key], dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise DataFormatError(path, f"{where} field {key!r} is not numeric ({exc})") from exc
    check_shape(arr, shape, path, f"{where} field {key!r}")
    if not np.isfinite(arr).all():
        raise DataFormatError(path, f"{where} field {key!r} contains NaN or inf",
                              "fix or drop that record")
    return arr


def check_shape(arr: np.ndarray, shape: tuple, path: Path, what: str) -> None:
    """Raise a :class:`DataFormatError` unless ``arr`` matches ``shape`` (see ``read_array``)."""
    ok = arr.ndim == len(shape)
    if ok:
        for got, want in zip(arr.shape, shape):
            if isinstance(want, tuple):
                ok &= got >= want[0]
            elif want is not None:
                ok &= got == want
    if not ok:
        want_s = "(" + ", ".join("N" if w is None else f">={w[0]}" if isinstance(w, tuple)
                                 else str(w) for w in shape) + ")"
        raise DataFormatError(path, f"{what} has shape {arr.shape}, expected {want_s}",
                              "the file does not have the documented layout")


def read_float(rec: dict, key: str, path: Path, where: str, positive: bool = False) -> float:
    """``rec[key]`` as a finite Python float (optionally > 0)."""
    value = read_array(rec, key, (), path, where)
    if positive and value <= 0:
        raise DataFormatError(path, f"{where} field {key!r} is {float(value)}, expected > 0")
    return float(value)


def procrustes_scale(xy_px: np.ndarray, xy_mm: np.ndarray, weight: np.ndarray | None = None
                     ) -> np.ndarray:
    """Scale ``b`` (px per mm) of the similarity transform fitting ``xy_mm`` onto ``xy_px``.

    Batched closed form of ``b`` from ``compute_similarity_transform(X=xy_px, Y=xy_mm)``
    (``pose3d.evaluation.metrics``, MATLAB ``procrustes`` with reflections excluded): with both
    point sets centred and divided by their Frobenius norms, ``M = X0^T Y0`` and ``b = (s1 + sign
    (det M) s2) |X0| / |Y0|``. For 2x2 matrices ``(s1 +- s2)^2 = |M|_F^2 +- 2 |det M|``, so the
    sum is ``sqrt(|M|_F^2 + 2 det M)``; no per-sample SVD is needed.

    Args:
        xy_px: (N, K, 2) target points, pixels.
        xy_mm: (N, K, 2) source points, mm.
        weight: optional (N, K) 0/1 mask of the joints that take part (default: all).

    Returns:
        (N,) scales; NaN where fewer than two joints take part or either set is degenerate.
    """
    xy_px = np.asarray(xy_px, dtype=np.float64)
    xy_mm = np.asarray(xy_mm, dtype=np.float64)
    assert xy_px.shape == xy_mm.shape and xy_px.shape[-1] == 2, (xy_px.shape, xy_mm.shape)
    w = (np.ones(xy_px.shape[:2]) if weight is None
         else (np.asarray(weight) > 0).astype(np.float64))[..., None]  # (N, K, 1)
    count = w.sum(axis=1, keepdims=True)  # (N, 1, 1)
    safe = np.maximum(count, 1.0)
    x0 = (xy_px - (w * xy_px).sum(axis=1, keepdims=True) / safe) * w
    y0 = (xy_mm - (w * xy_mm).sum(axis=1, keepdims=True) / safe) * w
    nx = np.sqrt((x0 ** 2).sum(axis=(1, 2)))
    ny = np.sqrt((y0 ** 2).sum(axis=(1, 2)))
    with np.errstate(invalid="ignore", divide="ignore"):
        m = np.einsum("nki,nkj->nij", x0, y0) / (nx * ny)[:, None, None]  # (N, 2, 2)
        det = m[:, 0, 0] * m[:, 1, 1] - m[:, 0, 1] * m[:, 1, 0]
        trace = np.sqrt(np.maximum((m ** 2).sum(axis=(1, 2)) + 2.0 * det, 0.0))
        b = trace * nx / ny
    bad = (count[:, 0, 0] < 2) | ~(nx > 0) | ~(ny > 0) | ~np.isfinite(b)
    b[bad] = np.nan
    return b


def require_scales(b: np.ndarray, path: Path, what: str) -> None:
    """Raise a :class:`DataFormatError` naming the first record whose depth scale is undefined."""
    bad = ~np.isfinite(b)
    if bad.any():
        i = int(np.argmax(bad))
        raise DataFormatError(path, f"{what} {i}: the 2D and 3D joints are degenerate (all at one "
                              "point or fewer than two labelled), the pixels-per-mm depth scale "
                              "is undefined", "fix or drop that record")


# -- the dataset ---------------------------------------------------------------------------------
class H36M(PoseDataset):
    """Human3.6M ECCV'18 challenge split ('train' = Train, 'val' = Val)."""

    name = "H36M"
    is_3d = True
    rotate_in_train = False
    subsample_val = True

    def _load_records(self) -> list[dict]:
        path = cache_path(self.data_dir, self.split)
        db = load_record_list(path, self.data_dir,
                              "put the integral-human-pose msra_cache pickle there (see "
                              "new_readme.md) or write the synthetic tree")
        records = []
        for i, entry in enumerate(db):
            where = f"record {i}"
            j3d = read_array(entry, "joints_3d", ((17, None), 3), path, where)
            rel = read_array(entry, "joints_3d_relative", ((17, None), 3), path, where)
            cx = read_float(entry, "center_x", path, where)
            cy = read_float(entry, "center_y", path, where)
            width = read_float(entry, "width", path, where, positive=True)
            height = read_float(entry, "height", path, where, positive=True)
            pts = j3d[H36M_TO_MPII]  # (16, 3): u, v px and root-relative depth px
            records.append({
                "image": str(image_path(self.data_dir, self.split, i)),
                "joints": pts[:, :2],
                "vis": np.ones(len(pts)),
                "center": np.array([cx, cy]),
                "scale": max(width, height),
                "gt_3d": rel[:17],
                "depth_px": pts[:, 2],
                "group": action_from_path(entry.get("image", "")),
            })
        logger.info("H36M %s: %d records from %s", self.split, len(records), path)
        return records
