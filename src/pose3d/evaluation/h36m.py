"""The 3D evaluation protocol of the original.

Decoding-independent: it starts from root-relative MPII-16 predictions in crop-fraction units
(``pose3d.datasets.heatmap.get_preds_3d``) and

1. reorders them to the 17 H36M joints with ``MPII_TO_H36M``, then sets spine (7) to the mean of
   root (0) and thorax (8), and neck/nose (9) to the mean of thorax (8) and head (10);
2. rescales each skeleton so that its 15 ``H36M17.edges`` sum to 4000 mm (no intrinsics, no GT
   root depth, no alignment);
3. measures the Euclidean error of all 17 joints (root included, always 0) against the ground
   truth in root-relative millimetres.

The same protocol (and constant) is used for MPI-INF-3DHP, 3DPW and Occlusion-Person.
"""
from collections import defaultdict
from collections.abc import Iterable
from typing import NamedTuple

import numpy as np
import torch

from ..skeleton import H36M17, MEAN_BONE_LENGTH_MM, MPII_TO_H36M
from .metrics import joint_errors, procrustes_align

_SPINE, _THORAX, _NECK_NOSE, _HEAD, _ROOT = (H36M17.index(n) for n in
                                            ("spine", "thorax", "neck_nose", "head", "root"))


def _np(x) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=np.float64)


def mpii16_to_h36m17(pred16) -> np.ndarray:
    """Reorder MPII-16 joints to H36M-17 and interpolate spine and neck/nose.

    Args:
        pred16: (N, 16, 3) or (16, 3) MPII-order joints (any units).

    Returns:
        (N, 17, 3) or (17, 3) H36M-order joints, same units.
    """
    pred16 = _np(pred16)
    out = pred16[..., MPII_TO_H36M, :].copy()
    out[..., _SPINE, :] = (out[..., _ROOT, :] + out[..., _THORAX, :]) / 2
    out[..., _NECK_NOSE, :] = (out[..., _THORAX, :] + out[..., _HEAD, :]) / 2
    return out


def skeleton_length(pose17) -> np.ndarray:
    """Sum of the 15 H36M bone lengths (``H36M17.edges``).

    Args:
        pose17: (..., 17, 3) joints.

    Returns:
        (...) total length, same units.
    """
    pose17 = _np(pose17)
    a, b = np.array(H36M17.edges).T
    return np.linalg.norm(pose17[..., a, :] - pose17[..., b, :], axis=-1).sum(axis=-1)


def rescale_to_bone_length(pose17, total: float = MEAN_BONE_LENGTH_MM) -> np.ndarray:
    """Scale each skeleton so its 15 bones sum to ``total``.

    Args:
        pose17: (N, 17, 3) or (17, 3) joints in any units (root-relative, so scaling keeps the
            root at the origin).
        total: target total bone length in mm (the original's 4000).

    Returns:
        Same shape, in mm. A degenerate skeleton (total length 0) stays all zeros.
    """
    pose17 = _np(pose17)
    length = skeleton_length(pose17)
    scale = np.where(length > 0, total / np.where(length > 0, length, 1.0), 0.0)
    return pose17 * scale[..., None, None]


class H36MResult(NamedTuple):
    """Per-sample output of :func:`h36m_protocol` (N = number of samples given).

    Attributes:
        errors: (N,) MPJPE per sample in mm (mean over 17 joints), NaN where ``valid`` is False.
        pa_errors: (N,) the same after Procrustes alignment to the GT (PA-MPJPE), NaN if invalid.
        per_joint: (N, 17) joint errors in mm, NaN rows where invalid.
        valid: (N,) bool, False for samples whose GT is all zeros (2D samples; skipped).
        pred_mm: (N, 17, 3) the rescaled H36M-order predictions in mm.
    """

    errors: np.ndarray
    pa_errors: np.ndarray
    per_joint: np.ndarray
    valid: np.ndarray
    pred_mm: np.ndarray


def h36m_protocol(pred16, gt17_mm, total: float = MEAN_BONE_LENGTH_MM) -> H36MResult:
    """The original's MPJPE protocol on a batch.

    Args:
        pred16: (N, 16, 3) root-relative MPII-order predictions in crop-fraction units.
        gt17_mm: (N, 17, 3) root-relative H36M-order ground truth in mm.
        total: skeleton length the prediction is rescaled to (mm).

    Returns:
        :class:`H36MResult`. Averages over the valid samples give ``mpjpe`` and ``pa_mpjpe``.
    """
    gt = _np(gt17_mm)
    pred_mm = rescale_to_bone_length(mpii16_to_h36m17(pred16), total)
    assert pred_mm.shape == gt.shape, (pred_mm.shape, gt.shape)
    valid = np.abs(gt).sum(axis=(1, 2)) > 0
    per_joint = joint_errors(pred_mm, gt)
    pa = joint_errors(procrustes_align(pred_mm, gt), gt).mean(axis=1)
    per_joint[~valid] = np.nan
    pa[~valid] = np.nan
    return H36MResult(per_joint.mean(axis=1), pa, per_joint, valid, pred_mm)


def per_group_mean(errors, groups: Iterable[str], valid=None) -> dict[str, float]:
    """Mean error per group (action or sequence), in first-seen group order.

    Args:
        errors: (N,) per-sample values.
        groups: N group names.
        valid: optional (N,) bool; invalid samples (and NaN values) are ignored.

    Returns:
        ``{group: mean}`` over the groups that have at least one usable sample.
    """
    meter = GroupedMeter()
    meter.update(errors, groups, valid)
    return meter.means()


class GroupedMeter:
    """Accumulates per-sample errors by group across batches (per-action / per-sequence tables)."""

    def __init__(self) -> None:
        self.sums: dict[str, float] = defaultdict(float)
        self.counts: dict[str, int] = defaultdict(int)

    def update(self, errors, groups: Iterable[str], valid=None) -> None:
        """Add a batch.

        Args:
            errors: (N,) per-sample values (e.g. mm).
            groups: N group names.
            valid: optional (N,) bool mask; NaN values are skipped as well.
        """
        errors = _np(errors).reshape(-1)
        groups = list(groups)
        assert len(groups) == len(errors), (len(groups), len(errors))
        keep = ~np.isnan(errors)
        if valid is not None:
            keep &= np.asarray(valid, dtype=bool).reshape(-1)
        for g, e, k in zip(groups, errors, keep):
            if k:
                self.sums[str(g)] += float(e)
                self.counts[str(g)] += 1

    def means(self) -> dict[str, float]:
        """``{group: mean}`` for every group seen so far."""
        return {g: self.sums[g] / self.counts[g] for g in self.counts}

    def average(self) -> float:
        """Unweighted mean of the group means (the usual action-wise average); NaN if empty."""
        means = list(self.means().values())
        return float(np.mean(means)) if means else float("nan")

    def overall(self) -> float:
        """Sample-weighted mean over all groups; NaN if empty."""
        n = sum(self.counts.values())
        return sum(self.sums.values()) / n if n else float("nan")
