"""Pure image and joint operations: the MSRA-style affine crop, flips and image normalisation.

Shared by every dataset, validation and the demo so that there is exactly one preprocessing path.
Coordinates are always ``(x, y)`` in pixels; ``scale`` is the side of the source square in pixels
(the original's ``s``), or a ``(w, h)`` pair after the aspect-ratio fix.
"""
from __future__ import annotations

import cv2
import numpy as np

# ImageNet statistics applied to the B, G, R channels in that order: the published checkpoints
# were trained this way, so it is kept although the channels are BGR.
IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
_NORM_LUT = np.ascontiguousarray(
    ((np.arange(256, dtype=np.float32)[:, None] / np.float32(256.0) - IMAGENET_MEAN)
     / IMAGENET_STD).T)  # (3, 256)


def normalize_image(img: np.ndarray) -> np.ndarray:
    """BGR uint8 crop -> network input.

    Args:
        img: (H, W, 3) uint8, BGR.

    Returns:
        (3, H, W) float32, ``(img / 256 - mean) / std`` (the original divides by 256).
    """
    # A per-channel lookup table gives the same float32 values as the arithmetic, several
    # times faster (it is one gather per pixel).
    return np.stack([_NORM_LUT[c][img[..., c]] for c in range(3)])


def _rotate(pt: np.ndarray, rot_rad: float) -> np.ndarray:
    sn, cs = np.sin(rot_rad), np.cos(rot_rad)
    return np.array([pt[0] * cs - pt[1] * sn, pt[0] * sn + pt[1] * cs], dtype=np.float32)


def _third_point(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    d = a - b
    return b + np.array([-d[1], d[0]], dtype=np.float32)


def get_affine_transform(center, scale, rot: float, output_size, inv: bool = False) -> np.ndarray:
    """Affine map from a source square around ``center`` to an output image.

    The square of side ``scale[0]`` (source pixels) maps to the output width, ``center`` to the
    output centre; ``rot`` degrees rotate the content counter-clockwise on screen.

    Args:
        center: (2,) source centre (x, y) px.
        scale: source box side in px, a float or (w, h).
        rot: rotation in degrees.
        output_size: (w, h) of the output.
        inv: return the output -> source map instead.

    Returns:
        (2, 3) float64 affine matrix.
    """
    center = np.asarray(center, dtype=np.float32)
    scale = np.atleast_1d(np.asarray(scale, dtype=np.float32))
    src_w = float(scale[0])
    dst_w, dst_h = float(output_size[0]), float(output_size[1])
    rot_rad = np.pi * rot / 180.0
    src_dir = _rotate(np.array([0.0, src_w * -0.5], dtype=np.float32), rot_rad)
    dst_dir = np.array([0.0, dst_w * -0.5], dtype=np.float32)
    src = np.zeros((3, 2), dtype=np.float32)
    dst = np.zeros((3, 2), dtype=np.float32)
    src[0], src[1] = center, center + src_dir
    dst[0] = [dst_w * 0.5, dst_h * 0.5]
    dst[1] = dst[0] + dst_dir
    src[2], dst[2] = _third_point(src[0], src[1]), _third_point(dst[0], dst[1])
    if inv:
        return cv2.getAffineTransform(dst, src)
    return cv2.getAffineTransform(src, dst)


def affine_points(pts: np.ndarray, mat: np.ndarray) -> np.ndarray:
    """Apply a (2, 3) affine matrix to points.

    Args:
        pts: (..., 2) points (x, y).
        mat: (2, 3) affine matrix.

    Returns:
        (..., 2) float64 transformed points.
    """
    pts = np.asarray(pts, dtype=np.float64)
    return pts @ mat[:, :2].T + mat[:, 2]


def flip_matrix(width: int) -> np.ndarray:
    """(3, 3) homogeneous matrix of a horizontal image mirror: x -> width - 1 - x."""
    return np.array([[-1.0, 0.0, width - 1.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])


def adjust_aspect_ratio(side: float, aspect: float, fit_short_side: bool = False) -> np.ndarray:
    """Square box side -> (w, h) box with ``w / h == aspect`` (no-op for square inputs).

    By default the long side is kept (the box grows); ``fit_short_side`` shrinks it instead.
    """
    w = h = float(side)
    if aspect == 1.0:
        return np.array([w, h])
    if (w > aspect * h) != fit_short_side:
        h = w / aspect
    else:
        w = h * aspect
    return np.array([w, h])


def flip_joints(joints: np.ndarray, width: int, flip_index: list[int]) -> np.ndarray:
    """Mirror (K, D) joints horizontally in an image of ``width`` and swap left/right rows."""
    out = np.array(joints, dtype=np.float64, copy=True)
    out[:, 0] = width - 1 - out[:, 0]
    return out[flip_index]


def flip_lr_channels(x, flip_index: list[int]):
    """Mirror network outputs back: flip the last axis of (B, K, h, w) maps and swap joints.

    Accepts a numpy array or a torch tensor; a (B, K) vector is only re-ordered.
    """
    if x.ndim == 4:
        x = x.flip(3) if hasattr(x, "flip") and not isinstance(x, np.ndarray) else x[..., ::-1]
    return x[:, flip_index]
