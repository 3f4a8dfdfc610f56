"""Weakly-supervised geometric loss: variance of bone-length ratios.

Zhou et al., "Towards 3D Human Pose Estimation in the Wild: a Weakly-supervised Approach",
ICCV 2017, geometric constraint loss: bone-length ratios inside a group are nearly constant
across people. Groups and weights (``skeleton.BONE_GROUPS_MPII``): legs (r_ankle-r_knee w=1.0086,
r_knee-r_hip 1, l_hip-l_knee 1, l_knee-l_ankle 1.0086), arms (r_wrist-r_elbow w=1.1375,
r_elbow-r_shoulder 1, l_shoulder-l_elbow 1, l_elbow-l_wrist 1.1375), hips (r_hip-pelvis,
l_hip-pelvis) and shoulders (r_shoulder-upper_neck, l_shoulder-upper_neck), weights 1; the
weights equalise the mean length ratios so that equal weighted lengths are the target.

For samples without depth supervision (2D datasets, ``reg_mask`` all zero) the predicted depth at
the ground-truth 2D joint locations is combined with the 2D coordinates to give 3D bone lengths;
inside each bone group the weighted lengths ``l = w * sqrt(|xy_a - xy_b|^2 + (z_a - z_b)^2)``
should be equal, so the loss is

    loss_g = sum_{l_j > 0} (l_j - E_g)^2 / (2 num),   E_g = mean_j l_j,

over the bones whose two joints are visible (num of them; 0 -> no loss), summed over groups and
2D samples and divided by the whole batch size B. Units: xy are output-grid cells divided by the
output height (fraction of the crop), z is the predicted depth (same units).

The original used a hand-written backward; it equals autograd of this formula, so plain autograd
is used. A zero-length bone contributes no gradient (a guarded square root avoids the 0 * inf NaN).

:func:`bone_variance_loss` is vectorised over batch, groups and bones (groups padded to 4 bones);
:func:`bone_variance_loss_loop` is the direct loop form, kept as the test and benchmark oracle.
"""
import functools

import numpy as np
import torch
from torch import nn

from ..skeleton import bone_groups_indices
from .depth import gather_depth
from .heatmap import as_float32


@functools.lru_cache(maxsize=None)
def _bone_table_np() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Groups padded to the longest one: joints a, b (G, P) int, weight (G, P), valid (G, P)."""
    groups = bone_groups_indices()
    pad = max(len(g) for g in groups)
    a = np.zeros((len(groups), pad), np.int64)
    b = np.zeros((len(groups), pad), np.int64)
    w = np.zeros((len(groups), pad), np.float64)
    valid = np.zeros((len(groups), pad), bool)
    for g, bones in enumerate(groups):
        for k, (ja, jb, wt) in enumerate(bones):
            a[g, k], b[g, k], w[g, k], valid[g, k] = ja, jb, wt, True
    return a, b, w, valid


@functools.lru_cache(maxsize=16)
def _bone_table(device: torch.device, dtype: torch.dtype):
    a, b, w, valid = _bone_table_np()
    return (torch.as_tensor(a, device=device), torch.as_tensor(b, device=device),
            torch.as_tensor(w, dtype=dtype, device=device),
            torch.as_tensor(valid, device=device))


def bone_variance_loss(z: torch.Tensor, vis: torch.Tensor, xy: torch.Tensor,
                       is_2d: torch.Tensor) -> torch.Tensor:
    """Vectorised bone-length variance loss (no Python loop over samples, groups or bones).

    Args:
        z: (B, K) predicted depth at each joint's ground-truth cell (crop-fraction units).
        vis: (B, K) bool, joint usable (both ends of a bone must be usable).
        xy: (B, K, 2) ground-truth 2D joints divided by the output height (crop fraction).
        is_2d: (B,) bool, sample without depth supervision (only these get the loss).

    Returns:
        Scalar ``sum_t sum_g loss_g / B``, same dtype as ``z``.
    """
    bsz = z.shape[0]
    ja, jb, w, bone_ok = _bone_table(z.device, z.dtype)
    vis = vis.bool()
    dz = z[:, ja] - z[:, jb]  # (B, G, P)
    dxy = xy[:, ja] - xy[:, jb]  # (B, G, P, 2)
    sq = (dxy * dxy).sum(-1) + dz * dz
    used = bone_ok & vis[:, ja] & vis[:, jb] & is_2d.bool()[:, None, None]
    pos = used & (sq > 0)
    # sqrt only where the argument is positive, so that its gradient never sees 0.
    length = torch.where(pos, w * torch.sqrt(torch.where(pos, sq, torch.ones_like(sq))),
                         torch.zeros_like(sq))
    num = used.sum(-1).to(z.dtype).clamp(min=1.0)  # (B, G); empty groups give 0 below anyway
    mean = length.sum(-1) / num
    dev = torch.where(pos, (length - mean[..., None]) ** 2, torch.zeros_like(sq))
    return (dev.sum(-1) / (2.0 * num)).sum() / bsz


def bone_variance_loss_loop(z: torch.Tensor, vis: torch.Tensor, xy: torch.Tensor,
                            is_2d: torch.Tensor) -> torch.Tensor:
    """The same loss written as the original's loops over samples, groups and bones.

    Slow; the reference the vectorised :func:`bone_variance_loss` is tested and benchmarked
    against. Arguments and result as in :func:`bone_variance_loss`.
    """
    bsz = z.shape[0]
    total = z.new_zeros(())
    groups = bone_groups_indices()
    for t in range(bsz):
        if not bool(is_2d[t]):
            continue
        for bones in groups:
            lengths = []
            for a, b, wt in bones:
                if not (bool(vis[t, a]) and bool(vis[t, b])):
                    continue
                sq = ((xy[t, a] - xy[t, b]) ** 2).sum() + (z[t, a] - z[t, b]) ** 2
                lengths.append(wt * torch.sqrt(sq) if float(sq.detach()) > 0 else z.new_zeros(()))
            num = len(lengths)
            if num == 0:
                continue
            mean = sum(lengths) / num
            for length in lengths:
                if float(length.detach()) > 0:
                    total = total + (length - mean) ** 2 / (2 * num)
    return total / bsz


class BoneVarianceLoss(nn.Module):
    """Bone-length variance loss on the last stack's depth, for 2D-only samples.

    Visibility is ``reg_target > 0.5`` (a 2D sample stores its joint visibility there),
    2D coordinates are ``meta['pts_crop'] / output_h`` (``output_h`` = heatmap height, as the
    original), depth is read at ``reg_ind`` as in :class:`~pose3d.losses.depth.DepthLoss`.
    """

    def forward(self, outputs: list[dict[str, torch.Tensor]], batch: dict) -> torch.Tensor:
        """Compute the loss.

        Args:
            outputs: per-stack dicts; the last holds ``'depth'`` (B, K, h, w) or (B, K).
            batch: ``'reg_ind'`` (B, K), ``'reg_mask'`` (B, K), ``'reg_target'`` (B, K, 1),
                ``'target'`` (B, K, h, w) (for the output height) and
                ``'meta']['pts_crop']`` (B, K, 2) int cells on the output grid.

        Returns:
            Scalar loss (unweighted; the composite applies ``weight_var``).
        """
        z = as_float32(gather_depth(outputs[-1]["depth"], batch["reg_ind"]))
        bsz, k = z.shape
        output_h = batch["target"].shape[-2]
        xy = batch["meta"]["pts_crop"].to(device=z.device, dtype=z.dtype) / output_h
        vis = batch["reg_target"].reshape(bsz, k) > 0.5
        is_2d = batch["reg_mask"].reshape(bsz, k).sum(1) == 0
        return bone_variance_loss(z, vis.to(z.device), xy.reshape(bsz, k, 2), is_2d.to(z.device))
