"""The heatmap codec: joints -> Gaussian targets and depth supervision; heatmaps -> joints.

Encoding follows the original exactly: joints are truncated to
integer cells of the ``h x w`` output grid, an unnormalised Gaussian of sigma ``hm_sigma`` (2) is
drawn in a window of radius ``3 sigma``, and the depth target of joint ``j`` is read from the depth
map at its cell through ``reg_ind = y * w * K + x * K + j``.

Decoding is the argmax of each heatmap with integer rows (the original's Python-3 true division
gave fractional rows; fixed, see new_readme.md).
"""
from __future__ import annotations

import numpy as np
import torch


def draw_gaussian_targets(pts: np.ndarray, draw: np.ndarray, out_h: int, out_w: int,
                          sigma: float = 2.0) -> np.ndarray:
    """Render one Gaussian per joint, vectorised over joints.

    Args:
        pts: (K, 2) int joint cells (x, y) on the output grid (already truncated).
        draw: (K,) bool, which joints get a Gaussian.
        out_h, out_w: output grid size.
        sigma: Gaussian sigma in output cells.

    Returns:
        (K, out_h, out_w) float32 heatmaps, peak 1 at the joint cell, zero outside the
        ``6 sigma + 1`` window; a joint whose window lies wholly outside the grid stays zero.
    """
    pts = np.asarray(pts, dtype=np.int64)
    radius = int(sigma * 3)
    xs = np.arange(out_w)[None, :] - pts[:, :1]  # (K, w)
    ys = np.arange(out_h)[None, :] - pts[:, 1:2]  # (K, h)
    gx = np.where(np.abs(xs) <= radius, np.exp(-(xs ** 2) / (2 * sigma ** 2)), 0.0)
    gy = np.where(np.abs(ys) <= radius, np.exp(-(ys ** 2) / (2 * sigma ** 2)), 0.0)
    hm = gy[:, :, None] * gx[:, None, :]
    hm[~np.asarray(draw, dtype=bool)] = 0.0
    return hm.astype(np.float32)


def depth_index(pts: np.ndarray, out_w: int, num_joints: int) -> np.ndarray:
    """Flat index of ``depth[j, y, x]`` in the (h * w * K) permuted depth map.

    Args:
        pts: (K, 2) int cells (x, y).

    Returns:
        (K,) int64 ``y * w * K + x * K + j`` (0 where the cell is off the grid; masked anyway).
    """
    pts = np.asarray(pts, dtype=np.int64)
    j = np.arange(len(pts))
    return (pts[:, 1] * out_w * num_joints + pts[:, 0] * num_joints + j).astype(np.int64)


def get_preds(hm: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Argmax decoding.

    Args:
        hm: (B, K, h, w) heatmaps.

    Returns:
        coords (B, K, 2) float (x, y) integer cells on the output grid, and conf (B, K) peak values.
    """
    b, k, h, w = hm.shape
    conf, idx = hm.reshape(b, k, -1).max(dim=2)
    x = (idx % w).to(torch.float32)
    y = torch.div(idx, w, rounding_mode="floor").to(torch.float32)
    return torch.stack([x, y], dim=2), conf


def get_preds_3d(hm: torch.Tensor, depth: torch.Tensor, root: int = 6) -> torch.Tensor:
    """Decode root-relative 3D joints in crop-fraction units.

    Args:
        hm: (B, K, h, w) heatmaps.
        depth: (B, K, h, w) depth maps (read at each joint's argmax cell) or (B, K) regressed
            depths (hourglass).
        root: root joint index (MPII pelvis).

    Returns:
        (B, K, 3) float: (x, y) argmax cells divided by ``max(h, w)`` and z, all minus the root.
    """
    b, k, h, w = hm.shape
    xy, _ = get_preds(hm)
    if depth.dim() == 4:
        idx = (xy[..., 1].long() * w + xy[..., 0].long()).unsqueeze(2)  # (B, K, 1)
        z = depth.reshape(b, k, -1).gather(2, idx).squeeze(2)
    else:
        z = depth
    pred = torch.cat([xy / max(h, w), z.to(xy.dtype).unsqueeze(2)], dim=2)
    return pred - pred[:, root:root + 1]
