"""Which joints of a rendered person can be seen, from the renderer's part-ID and depth buffers.

A joint is visible when it lies inside the image, the part painted at its pixel is one of the
joint's own parts (not another limb, not an occluder) and that surface is not far in front of it.
"""
from __future__ import annotations

import numpy as np

from pose3d.skeleton import SYNTH18
from pose3d.synthetic.person import PID
from pose3d.synthetic.raster import Canvas

# Parts a joint belongs to (the joint is visible only through one of these).
JOINT_PARTS: dict[str, tuple[str, ...]] = {
    "root": ("pelvis", "abdomen"), "spine": ("abdomen", "chest"), "thorax": ("chest", "neck"),
    "neck_nose": ("head", "nose", "neck"), "head": ("head",), "head_top": ("head",),
}
for _s in ("l", "r"):
    JOINT_PARTS.update({
        f"{_s}_hip": ("pelvis", f"{_s}_thigh"), f"{_s}_knee": (f"{_s}_thigh", f"{_s}_shank"),
        f"{_s}_ankle": (f"{_s}_shank", f"{_s}_foot"), f"{_s}_shoulder": ("chest", f"{_s}_uarm"),
        f"{_s}_elbow": (f"{_s}_uarm", f"{_s}_farm"), f"{_s}_wrist": (f"{_s}_farm", f"{_s}_hand"),
    })
# Joint depth below the visible surface that still counts as visible (mm, before girth).
JOINT_DEPTH_SLACK = {"root": 170.0, "spine": 170.0, "thorax": 170.0, "neck_nose": 150.0,
                     "head": 180.0, "head_top": 180.0}
for _s in ("l", "r"):
    JOINT_DEPTH_SLACK.update({f"{_s}_hip": 170.0, f"{_s}_knee": 90.0, f"{_s}_ankle": 80.0,
                              f"{_s}_shoulder": 170.0, f"{_s}_elbow": 80.0, f"{_s}_wrist": 70.0})


def joint_visibility(canvas: Canvas, uv: np.ndarray, joints_c: np.ndarray, in_image: np.ndarray,
                     girth: float) -> np.ndarray:
    """Visible flags (18,) bool of SYNTH18 joints at ``uv`` (18, 2) px, depth ``joints_c`` (18, 3).

    ``in_image`` (18,) bool marks joints inside the image; ``girth`` scales the depth slack.
    """
    height, width = canvas.h, canvas.w
    visible = np.zeros(SYNTH18.num_joints, bool)
    for j, name in enumerate(SYNTH18.names):
        if not in_image[j]:
            continue
        ix = min(max(int(np.rint(uv[j, 0])), 0), width - 1)
        iy = min(max(int(np.rint(uv[j, 1])), 0), height - 1)
        own = [PID[p] for p in JOINT_PARTS[name]]
        pid = int(canvas.ids[iy, ix])
        zs = float(canvas.zimg[iy, ix])
        if pid == 0:  # a joint right on a thin silhouette edge: look around it
            win = canvas.ids[max(iy - 2, 0):iy + 3, max(ix - 2, 0):ix + 3]
            zwin = canvas.zimg[max(iy - 2, 0):iy + 3, max(ix - 2, 0):ix + 3]
            hit = np.isin(win, own)
            if not hit.any():
                continue
            pid, zs = own[0], float(zwin[hit].min())
        if pid in own and joints_c[j, 2] - zs <= JOINT_DEPTH_SLACK[name] * girth:
            visible[j] = True
    return visible
