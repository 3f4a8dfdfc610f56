"""Reference numbers a trained model must beat: the mean pose of the training set.

The 3D baseline predicts, for every validation image, the training set's mean root-relative pose,
put through the same protocol as the network (rescaled so the 15 H36M bones sum to 4000 mm, no
alignment). The 2D baseline places the training set's mean pose (in crop coordinates) in every
validation crop.
"""
from __future__ import annotations

import numpy as np

from pose3d.evaluation.h36m import rescale_to_bone_length
from pose3d.evaluation.metrics import joint_errors, procrustes_align


def mean_pose_3d(train_gt17: np.ndarray, val_gt17: np.ndarray) -> dict[str, float]:
    """MPJPE and PA-MPJPE of the mean training pose.

    Args:
        train_gt17: (N, 17, 3) root-relative training poses, mm.
        val_gt17: (M, 17, 3) root-relative validation poses, mm.

    Returns:
        {'mpjpe': mm, 'pa_mpjpe': mm}.
    """
    mean = rescale_to_bone_length(np.asarray(train_gt17, np.float64).mean(0, keepdims=True))
    pred = np.repeat(mean, len(val_gt17), axis=0)
    gt = np.asarray(val_gt17, np.float64)
    return {"mpjpe": float(joint_errors(pred, gt).mean()),
            "pa_mpjpe": float(joint_errors(procrustes_align(pred, gt), gt).mean())}


def mean_pose_2d(train_crop: np.ndarray, train_vis: np.ndarray) -> np.ndarray:
    """(16, 2) mean joint position in output-grid cells over the labelled training joints."""
    vis = np.asarray(train_vis, bool)[..., None]
    pts = np.asarray(train_crop, np.float64)
    return (pts * vis).sum(0) / np.maximum(vis.sum(0), 1)
