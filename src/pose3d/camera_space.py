"""Root-relative 3D poses placed in the camera frame with a weak-perspective root depth.

The network predicts each person's joints relative to the pelvis, in millimetres after the
4000 mm skeleton rescale, with x right and y down as in the picture. Under weak perspective every
joint of a person lies at the root's depth ``Z`` for the projection, so a bone of ``(X, Y)``
extent ``L`` mm spans ``f * L / Z`` pixels. Summing over the skeleton's bones gives

    Z = f * sum_b |(X, Y)_b| / sum_b |(u, v)_b|

(mm over px, the same bones in both sums), and the root's ``X, Y`` come from back-projecting its
2D position through a pinhole at the image centre. This is an estimate: the network knows the
person's shape, not their height, so the depth is off by the ratio of the true body size to the
rescaled one (about +-10 % for adults), plus the weak-perspective error of deep poses.
"""
from __future__ import annotations

import numpy as np

from pose3d.skeleton import MPII16, ROOT_MPII

# Every drawn MPII bone takes part in both sums.
BONES = tuple(MPII16.edges)
FOCAL_RULE = "max(image width, image height)"


def default_focal(image_hw: tuple[int, int]) -> float:
    """Focal length in pixels when none is given: the longer image side (about 53 deg field)."""
    return float(max(image_hw))


def principal_point(image_hw: tuple[int, int]) -> np.ndarray:
    """(2,) image centre (x, y) in 0-based pixel-centre coordinates."""
    h, w = image_hw
    return np.array([(w - 1) / 2.0, (h - 1) / 2.0])


def root_depth(joints_2d: np.ndarray, joints_3d_mm: np.ndarray, focal: float,
               bones: tuple[tuple[int, int], ...] = BONES) -> np.ndarray:
    """Weak-perspective depth of the root.

    Args:
        joints_2d: (..., K, 2) joints in image pixels.
        joints_3d_mm: (..., K, 3) root-relative joints in mm (x right, y down, z away).
        focal: focal length in pixels.
        bones: (a, b) joint pairs summed in both extents.

    Returns:
        (...) root depth in mm; NaN where the 2D skeleton has no extent.
    """
    a, b = np.array(bones).T
    p2 = np.asarray(joints_2d, dtype=np.float64)
    p3 = np.asarray(joints_3d_mm, dtype=np.float64)
    extent_2d = np.linalg.norm(p2[..., a, :] - p2[..., b, :], axis=-1).sum(-1)
    extent_3d = np.linalg.norm(p3[..., a, :2] - p3[..., b, :2], axis=-1).sum(-1)
    safe = np.where(extent_2d > 0, extent_2d, 1.0)
    return np.where(extent_2d > 0, focal * extent_3d / safe, np.nan)


def to_camera(joints_2d: np.ndarray, joints_3d_mm: np.ndarray, focal: float,
              principal: np.ndarray, root: int = ROOT_MPII) -> tuple[np.ndarray, np.ndarray]:
    """Joints in the camera frame (mm): the root-relative pose moved to the estimated root.

    Args:
        joints_2d: (..., K, 2) joints in image pixels.
        joints_3d_mm: (..., K, 3) root-relative joints in mm.
        focal: focal length in pixels.
        principal: (2,) principal point (x, y) in pixels.
        root: index of the root joint in both arrays.

    Returns:
        (..., K, 3) camera-frame joints in mm (x right, y down, z forward) and (..., 3) the root.
    """
    p2 = np.asarray(joints_2d, dtype=np.float64)
    z = root_depth(p2, joints_3d_mm, focal)
    xy = (p2[..., root, :] - np.asarray(principal, dtype=np.float64)) * z[..., None] / focal
    root_cam = np.concatenate([xy, z[..., None]], axis=-1)
    rel = np.asarray(joints_3d_mm, dtype=np.float64)
    return rel - rel[..., root:root + 1, :] + root_cam[..., None, :], root_cam
