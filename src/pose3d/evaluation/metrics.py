"""Pure evaluation metrics (no state; accumulation lives in the trainers and ``h36m.GroupedMeter``).

Conventions: 3D poses are (N, J, 3) arrays in millimetres, 2D poses (N, J, 2) in pixels. Functions
accept numpy arrays or torch tensors (converted to float64 numpy) unless noted.

* ``heatmap_accuracy``: the original's training "acc", a PCK proxy on the
  heatmap grid, not PCKh.
* ``mpjpe``: Protocol #1, mean Euclidean joint error (no alignment).
* ``pa_mpjpe``: Protocol #2, after a similarity (Procrustes) alignment to the ground truth.
* ``n_mpjpe``: after a least-squares scale fitted to the ground truth.
* ``pck_3d`` / ``auc_3d``: MPI-INF-3DHP 3DPCK@150 mm and its area under the curve (0..150 mm).
* ``pck``: generic 2D PCK with a per-sample normaliser (PCK@0.2 of the torso on LSP).
* ``compute_similarity_transform``: MATLAB ``procrustes`` of integral-human-pose, the definition
  of the 3D datasets' pixels-per-mm scale. It and ``procrustes_align`` share one rotation fit.
"""
import math

import numpy as np
import torch

from ..skeleton import MPII16

# Whether a larger value of the metric is better (best-model selection, --metric).
METRICS_HIGHER_IS_BETTER: dict[str, bool] = {
    "acc": True, "pckh": True, "pck": True, "mpjpe": False, "pa_mpjpe": False,
    "n_mpjpe": False, "pck3d": True, "auc": True, "loss": False,
}

# 3DPCK thresholds of the MPI-INF-3DHP AUC (mm).
AUC_THRESHOLDS_MM = np.arange(0.0, 151.0, 5.0)


def _np(x) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=np.float64)


def is_better(metric: str, new: float, best: float | None) -> bool:
    """Whether ``new`` improves on ``best`` for ``metric`` (``best=None``: nothing yet).

    A non-finite ``new`` never counts as better.

    Raises:
        KeyError: unknown metric name (the message lists the known ones).
    """
    if metric not in METRICS_HIGHER_IS_BETTER:
        raise KeyError(f"unknown metric {metric!r}; known: {sorted(METRICS_HIGHER_IS_BETTER)}")
    if new is None or not math.isfinite(float(new)):
        return False
    if best is None or not math.isfinite(float(best)):
        return True
    return new > best if METRICS_HIGHER_IS_BETTER[metric] else new < best


def heatmap_accuracy(output_hm: torch.Tensor, target_hm: torch.Tensor,
                     acc_idxs: list[int] | tuple[int, ...],
                     thr: float = 0.5) -> tuple[float, np.ndarray]:
    """The original's heatmap accuracy.

    Both heatmaps are decoded by argmax (integer cells). A joint of a sample counts only when its
    ground-truth cell has x > 0 and y > 0. Distances are divided by ``h / 10`` (6.4 cells for a
    64 grid) and a joint is correct when the normalised distance is ``< thr``.

    Args:
        output_hm: (B, K, h, w) predicted heatmaps (tensor or array).
        target_hm: (B, K, h, w) target heatmaps.
        acc_idxs: joints that enter the average (``skeleton.ACC_IDXS``).
        thr: threshold on the normalised distance.

    Returns:
        ``(mean, per_joint)``: mean over the ``acc_idxs`` joints that have at least one valid
        sample (0.0 if none has), and (len(acc_idxs),) fractions in [0, 1], NaN for joints with no
        valid sample.
    """
    # Imported here: datasets import the evaluation package (MPII reads its PCKh ground truth),
    # so a top-level import of the datasets package would be circular.
    from ..datasets.heatmap import get_preds

    out = torch.as_tensor(output_hm).detach().float().cpu()
    tgt = torch.as_tensor(target_hm).detach().float().cpu()
    pred, _ = get_preds(out)
    gt, _ = get_preds(tgt)
    norm = out.shape[2] / 10.0
    dist = ((pred - gt) / norm).norm(dim=2)  # (B, K)
    valid = (gt[..., 0] > 0) & (gt[..., 1] > 0)
    idx = list(acc_idxs)
    valid, dist = valid[:, idx], dist[:, idx]
    count = valid.sum(0).double()
    hits = ((dist < thr) & valid).sum(0).double()
    per_joint = torch.where(count > 0, hits / count.clamp(min=1), torch.full_like(count, math.nan))
    per_joint = per_joint.numpy()
    ok = ~np.isnan(per_joint)
    mean = float(per_joint[ok].mean()) if ok.any() else 0.0
    return mean, per_joint


def joint_errors(pred, gt) -> np.ndarray:
    """Euclidean distance per joint.

    Args:
        pred, gt: (N, J, D) poses, same units.

    Returns:
        (N, J) distances.
    """
    pred, gt = _np(pred), _np(gt)
    assert pred.shape == gt.shape, (pred.shape, gt.shape)
    return np.linalg.norm(pred - gt, axis=-1)


def mpjpe(pred, gt) -> float:
    """Mean per-joint position error, Protocol #1 (no alignment).

    Args:
        pred, gt: (N, J, 3) in mm.

    Returns:
        Mean Euclidean error over all samples and joints (mm).
    """
    return float(joint_errors(pred, gt).mean())


def _rotation_fit(src0: np.ndarray, dst0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Orthogonal Procrustes of centred point sets by a batched SVD.

    ``R`` minimises ``|src0 @ R - dst0|`` over proper rotations: a solution whose determinant
    would be -1 is a reflection, so the last singular direction is flipped.

    Args:
        src0, dst0: (N, J, D) centred points.

    Returns:
        ``(R, trace)``: (N, D, D) rotations and (N,) ``trace(src0^T dst0 R^T)`` (the sum of
        singular values, the last one signed), from which the optimal scales follow.
    """
    cov = np.einsum("nji,njk->nik", src0, dst0)  # (N, D, D) = src0^T dst0
    u, s, vt = np.linalg.svd(cov)
    sign = np.sign(np.linalg.det(u @ vt))
    sign[sign == 0] = 1.0
    d = np.ones_like(s)
    d[:, -1] = sign
    return (u * d[:, None, :]) @ vt, (s * d).sum(axis=1)  # U diag(d) V^T


def procrustes_align(pred, gt) -> np.ndarray:
    """Align each predicted pose to its ground truth by a similarity transform.

    Solves ``min_{s,R,t} |s * pred @ R + t - gt|`` per sample (:func:`_rotation_fit`, then the
    least-squares scale).

    Args:
        pred, gt: (N, J, 3) poses.

    Returns:
        (N, J, 3) aligned predictions.
    """
    pred, gt = _np(pred), _np(gt)
    assert pred.shape == gt.shape, (pred.shape, gt.shape)
    mu_p = pred.mean(axis=1, keepdims=True)
    mu_g = gt.mean(axis=1, keepdims=True)
    p0, g0 = pred - mu_p, gt - mu_g
    rot, trace = _rotation_fit(p0, g0)
    ss_p = (p0 ** 2).sum(axis=(1, 2))
    scale = trace / np.maximum(ss_p, 1e-12)
    return scale[:, None, None] * (p0 @ rot) + mu_g


def pa_mpjpe(pred, gt) -> float:
    """MPJPE after Procrustes alignment (rotation, scale, translation), Protocol #2.

    Args:
        pred, gt: (N, J, 3) in mm.

    Returns:
        Mean error in mm.
    """
    return mpjpe(procrustes_align(pred, gt), gt)


def scale_align(pred, gt) -> np.ndarray:
    """Scale each prediction by the least-squares factor ``<pred, gt> / <pred, pred>``.

    Args:
        pred, gt: (N, J, 3) poses (root-relative; no translation is fitted).

    Returns:
        (N, J, 3) scaled predictions.
    """
    pred, gt = _np(pred), _np(gt)
    assert pred.shape == gt.shape, (pred.shape, gt.shape)
    num = (pred * gt).sum(axis=(1, 2))
    den = np.maximum((pred * pred).sum(axis=(1, 2)), 1e-12)
    return (num / den)[:, None, None] * pred


def n_mpjpe(pred, gt) -> float:
    """MPJPE after a least-squares scale fitted to the ground truth (N-MPJPE).

    Args:
        pred, gt: (N, J, 3) in mm, root-relative.

    Returns:
        Mean error in mm.
    """
    return mpjpe(scale_align(pred, gt), gt)


def pck_3d(pred, gt, thr: float = 150.0) -> float:
    """3DPCK of MPI-INF-3DHP: percentage of joints whose 3D error is within ``thr``.

    Args:
        pred, gt: (N, J, 3) in mm (root-relative).
        thr: threshold in mm; a joint is correct when its error is ``< thr`` (strict, as the
            dataset's own ``mpii_compute_3d_pck.m``).

    Returns:
        Percentage in [0, 100].
    """
    return float((joint_errors(pred, gt) < thr).mean() * 100.0)


def auc_3d(pred, gt, thresholds=AUC_THRESHOLDS_MM) -> float:
    """Area under the 3DPCK curve: mean 3DPCK (strict ``<``) over thresholds 0, 5, ..., 150 mm.

    Args:
        pred, gt: (N, J, 3) in mm.
        thresholds: thresholds in mm.

    Returns:
        Percentage in [0, 100].
    """
    err = joint_errors(pred, gt)
    return float(np.mean([(err < t).mean() for t in np.asarray(thresholds)]) * 100.0)


def compute_similarity_transform(X, Y, compute_optimal_scale: bool = True):
    """Procrustes fit of ``Y`` onto ``X`` (MATLAB ``procrustes``; integral-human-pose form).

    Finds ``Z = b * Y @ T + c`` closest to ``X`` with the rotation of :func:`_rotation_fit` (no
    reflections) and the optimal scale ``b = trace / |Y0|^2`` of the centred sets.

    Args:
        X: (n, k) target points (e.g. 2D detections in pixels).
        Y: (n, k) source points (e.g. ground-truth X, Y in mm).
        compute_optimal_scale: fit the scale ``b`` (else ``b = 1``).

    Returns:
        ``(d, Z, T, b, c)``: d the standardised residual (residual / ``|X0|^2``; 0 = perfect
        fit), Z (n, k) the transformed ``Y``, T (k, k) rotation, b scale (target units per source
        unit, e.g. pixels per mm), c (k,) translation.
    """
    X, Y = _np(X), _np(Y)
    mu_x, mu_y = X.mean(axis=0), Y.mean(axis=0)
    x0, y0 = X - mu_x, Y - mu_y
    ss_x, ss_y = (x0 ** 2).sum(), (y0 ** 2).sum()
    rot, trace = _rotation_fit(y0[None], x0[None])
    rot, trace = rot[0], float(trace[0])
    if compute_optimal_scale:
        b = trace / ss_y
        d = 1.0 - trace ** 2 / (ss_x * ss_y)
    else:
        b = 1.0
        d = 1.0 + ss_y / ss_x - 2.0 * trace / ss_x
    Z = b * (y0 @ rot) + mu_x
    c = mu_x - b * (mu_y @ rot)
    return d, Z, rot, b, c


# LSP PCK normaliser: the torso diagonal right shoulder - left hip (one common convention of
# "PCK@0.2 of the torso"; other papers use the left shoulder - right hip diagonal).
TORSO_JOINTS = (MPII16.index("r_shoulder"), MPII16.index("l_hip"))


def torso_size(gt, vis=None) -> np.ndarray:
    """Per-sample torso size: distance between the right shoulder and the left hip.

    Args:
        gt: (N, 16, 2) ground truth in MPII16 order (pixels).
        vis: optional (N, 16) labelled flags; a sample lacking either joint gets 0 (= unusable).

    Returns:
        (N,) torso sizes in pixels.
    """
    gt = _np(gt)
    a, b = TORSO_JOINTS
    size = np.linalg.norm(gt[:, a] - gt[:, b], axis=-1)
    if vis is not None:
        vis = _np(vis) > 0
        size = np.where(vis[:, a] & vis[:, b], size, 0.0)
    return size


def pck(pred, gt, norm, vis, thr: float = 0.2) -> tuple[float, np.ndarray]:
    """Generic PCK: a joint is correct when ``|pred - gt| <= thr * norm``.

    For LSP's PCK@0.2 pass ``norm = torso_size(gt, vis)`` (right shoulder to left hip) and
    ``thr = 0.2``. Samples with ``norm <= 0`` are left out.

    Args:
        pred, gt: (N, J, 2) pixels.
        norm: (N,) per-sample normaliser in pixels.
        vis: (N, J) labelled flags; only labelled joints are counted.
        thr: threshold as a fraction of ``norm``.

    Returns:
        ``(mean, per_joint)``: percentage over all counted joints, and (J,) per-joint percentages
        (NaN where a joint was never counted).
    """
    err = joint_errors(pred, gt)
    norm = _np(norm)
    counted = (_np(vis) > 0) & (norm > 0)[:, None]
    ok = (err <= thr * norm[:, None]) & counted
    count = counted.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_joint = np.where(count > 0, 100.0 * ok.sum(axis=0) / count, np.nan)
    total = counted.sum()
    mean = float(100.0 * ok.sum() / total) if total else math.nan
    return mean, per_joint
