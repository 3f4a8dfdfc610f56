"""PCKh on the MPII validation set with ``gt_valid.mat`` (docs/datasets.md, MPII Human Pose).

Semantics of Xiao et al.'s evaluator: a visible (= labelled, ``1 - jnt_missing``) joint is correct
when its distance to the ground truth is ``<= thr`` times the head size, head size being
0.6 x the diagonal of the head box. Per-joint percentages are combined into the usual table:
Head, Shoulder, Elbow, Wrist, Hip, Knee, Ankle (left/right averaged) and Mean, the visible-count
weighted mean over all joints but pelvis and thorax. ``Mean@0.1`` is that mean on the threshold
curve ``arange(0, 0.51, 0.01)`` taken at index 11 (threshold 0.11, a quirk kept from the original).

Predictions and ground truth are in the GT's 1-based pixel frame: add 1 to 0-based predictions.
Samples are matched purely by position, so predictions must follow ``valid.json`` order.
"""
import os
from pathlib import Path

import numpy as np
import torch

from ..skeleton import MPII16, MPII_MAT_NAMES
from ..utils.errors import DataFormatError
from ..utils.io import load_mat

HEAD_SIZE_FACTOR = 0.6  # Xiao's SC_BIAS
PCKH_CURVE = np.arange(0, 0.51, 0.01)
MEAN_AT_01_INDEX = 11  # PCKH_CURVE[11] = 0.11, as the original reports "Mean@0.1"
TABLE_PARTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Head", ("head_top",)),
    ("Shoulder", ("l_shoulder", "r_shoulder")),
    ("Elbow", ("l_elbow", "r_elbow")),
    ("Wrist", ("l_wrist", "r_wrist")),
    ("Hip", ("l_hip", "r_hip")),
    ("Knee", ("l_knee", "r_knee")),
    ("Ankle", ("l_ankle", "r_ankle")),
)
EXCLUDED_FROM_MEAN = (MPII16.index("pelvis"), MPII16.index("thorax"))
_VARIABLES = ("dataset_joints", "jnt_missing", "pos_gt_src", "headboxes_src")


def _cell_str(cell) -> str:
    """One entry of the ``dataset_joints`` cell array as a plain string."""
    arr = np.asarray(cell).ravel()
    return str(arr[0]).strip() if arr.size else ""


def load_gt_valid(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read MPII's PCKh ground truth (``gt_valid.mat`` or ``detections_our_format.mat``).

    Joint rows are located by name (``dataset_joints``, ``skeleton.MPII_MAT_NAMES``) and returned
    in MPII16 order.

    Args:
        path: the .mat file.

    Returns:
        ``{'pos_gt_src': (16, 2, N) float64 1-based px, 'jnt_missing': (16, N) uint8,
        'headboxes_src': (2, 2, N) float64 [corner (top-left, bottom-right), (x, y), n]}``.

    Raises:
        DataFormatError: the file is missing or unreadable, a variable or joint name is absent,
            or the shapes disagree.
    """
    path = Path(path)
    fix = "use the gt_valid.mat of the MPII json annotations (docs/datasets.md, MPII Human Pose)"
    if not path.is_file():
        raise DataFormatError(path, "file not found", fix)
    try:
        mat = load_mat(path)  # scipy for MATLAB 5 files, h5py for v7.3
    except DataFormatError as err:
        raise DataFormatError(path, f"cannot be read as a MATLAB file ({err.problem})",
                              fix) from None
    for var in _VARIABLES:
        if var not in mat:
            raise DataFormatError(path, f"has no variable '{var}'", fix)

    names = [_cell_str(c) for c in np.asarray(mat["dataset_joints"], dtype=object).ravel()]
    rows = []
    for name in MPII_MAT_NAMES:
        if name not in names:
            raise DataFormatError(path, f"variable 'dataset_joints' has no joint '{name}' "
                                        f"(found {names})", fix)
        rows.append(names.index(name))

    missing = np.asarray(mat["jnt_missing"])
    pos = np.asarray(mat["pos_gt_src"], dtype=np.float64)
    boxes = np.asarray(mat["headboxes_src"], dtype=np.float64)
    n = pos.shape[-1] if pos.ndim == 3 else -1
    if (pos.ndim != 3 or pos.shape[:2] != (len(names), 2) or missing.shape != (len(names), n)
            or boxes.shape != (2, 2, n)):
        raise DataFormatError(
            path, f"inconsistent shapes: pos_gt_src {pos.shape}, jnt_missing {missing.shape}, "
                  f"headboxes_src {boxes.shape} (expected (J,2,N), (J,N), (2,2,N))", fix)
    return {"pos_gt_src": pos[rows], "jnt_missing": missing[rows].astype(np.uint8),
            "headboxes_src": boxes}


def check_person_count(gt_path: str | os.PathLike, n_gt: int, annot_path: str | os.PathLike,
                       n_annot: int) -> None:
    """PCKh matches predictions to ``gt_valid.mat`` by position: both files must list the same
    people.

    Raises:
        DataFormatError: the counts differ; the message names both files and both counts.
    """
    if n_gt != n_annot:
        raise DataFormatError(
            gt_path, f"holds {n_gt} people but {annot_path} holds {n_annot}",
            f"use the gt_valid.mat released with that {Path(annot_path).name} (same people, same "
            "order), or remove gt_valid.mat to validate with PCK@0.2 instead")


def _part_means(per_joint: np.ndarray) -> dict[str, float]:
    out = {}
    for label, names in TABLE_PARTS:
        vals = per_joint[[MPII16.index(n) for n in names]]
        vals = vals[~np.isnan(vals)]
        out[label] = float(vals.mean()) if vals.size else float("nan")
    return out


def pckh(preds, gt: dict[str, np.ndarray], thr: float = 0.5) -> dict:
    """PCKh with Xiao et al.'s semantics.

    Args:
        preds: (N, 16, 2) MPII16-order predictions in the GT's 1-based pixel frame.
        gt: :func:`load_gt_valid` output.
        thr: threshold as a fraction of the head size (0.5 for PCKh@0.5).

    Returns:
        dict with ``'per_joint'`` (16,) percentages (NaN for joints never visible),
        ``'count'`` (16,) visible counts, the table entries ``'Head'`` ... ``'Ankle'``,
        ``'Mean'``, ``'Mean@0.1'`` (percentages) and ``'thr'``.

    Raises:
        ValueError: ``preds`` does not have the GT's N samples.
    """
    if isinstance(preds, torch.Tensor):
        preds = preds.detach().cpu().numpy()
    preds = np.asarray(preds, dtype=np.float64)
    pos_gt = gt["pos_gt_src"]
    n = pos_gt.shape[-1]
    if preds.shape != (n, 16, 2):
        raise ValueError(f"predictions have shape {preds.shape}, the ground truth needs "
                         f"({n}, 16, 2) in valid.json order")
    visible = 1 - gt["jnt_missing"].astype(np.int64)  # (16, N)
    err = np.linalg.norm(preds.transpose(1, 2, 0) - pos_gt, axis=1)  # (16, N) px
    boxes = gt["headboxes_src"]
    head = HEAD_SIZE_FACTOR * np.linalg.norm(boxes[1] - boxes[0], axis=0)  # (N,)
    with np.errstate(invalid="ignore", divide="ignore"):
        scaled = np.where(visible > 0, err / head[None, :], 0.0)
    count = visible.sum(axis=1)  # (16,)

    def curve_at(t: float) -> np.ndarray:
        hits = ((scaled <= t) & (visible > 0)).sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(count > 0, 100.0 * hits / count, np.nan)

    def weighted_mean(per_joint: np.ndarray) -> float:
        w = count.astype(np.float64).copy()
        w[list(EXCLUDED_FROM_MEAN)] = 0.0
        if w.sum() == 0:
            return float("nan")
        return float(np.sum(np.where(w > 0, per_joint, 0.0) * w) / w.sum())

    per_joint = curve_at(thr)
    result: dict = {"thr": thr, "per_joint": per_joint, "count": count}
    result.update(_part_means(per_joint))
    result["Mean"] = weighted_mean(per_joint)
    result["Mean@0.1"] = weighted_mean(curve_at(PCKH_CURVE[MEAN_AT_01_INDEX]))
    return result


def format_pckh_table(result: dict) -> str:
    """Two-line text table of a :func:`pckh` result (header, values with 2 decimals; ``n/a``
    for a part with no visible joint)."""
    keys = [label for label, _ in TABLE_PARTS] + ["Mean", "Mean@0.1"]
    width = max(len(k) for k in keys) + 1
    header = "".join(f"{k:>{width}}" for k in keys)
    values = "".join(f"{result[k]:>{width}.2f}" if np.isfinite(result[k]) else f"{'n/a':>{width}}"
                     for k in keys)
    return f"PCKh@{result['thr']:g}\n{header}\n{values}"
