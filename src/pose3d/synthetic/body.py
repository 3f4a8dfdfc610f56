"""Synthetic bodies: bone lengths, joint angles and forward kinematics.

The body has the 18 joints of :data:`pose3d.skeleton.SYNTH18` (the 17 Human3.6M joints plus the
head top). Lengths are in millimetres. The body frame is right-handed: **X points to the person's
left, Y up, Z forward** (the way the chest faces). The world frame is Y-up with the ground at
``y = 0``; the pose's yaw turns the body about world Y.

A pose is a dict of joint angles in degrees (see :data:`LIMITS` for the names and ranges). Limb
angles are anatomical, so the same value means the same movement on either side:

* hip / shoulder ``flex``: swing forward (negative = backward), ``abd``: swing away from the
  midline, ``rot``: internal rotation about the bone; ``knee`` / ``elbow``: flexion (0 = straight).
* ``spine_flex`` bends forward, ``spine_lat`` bends to the left, ``spine_twist`` turns the
  chest left; ``head_flex`` nods down, ``head_yaw`` turns left, ``head_roll`` tilts to the left.
* ``pelvis_tilt`` tips the pelvis forward on the hips (bending over); ``pitch`` / ``roll`` tip
  the whole body; ``yaw`` is any heading.

Poses are sampled in :mod:`.poses` and checked from their 3D joints alone in :mod:`.pose_checks`.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from pose3d.skeleton import SYNTH18

J = {name: i for i, name in enumerate(SYNTH18.names)}
NUM_JOINTS = SYNTH18.num_joints

# Mean adult segment lengths (mm), roughly the Human3.6M subjects' averages.
MEAN_BONES = {
    "hip_half": 130.0,      # root -> hip, lateral
    "hip_drop": 20.0,       # root -> hip, downwards
    "thigh": 445.0,
    "shank": 440.0,
    "spine_low": 230.0,     # root -> spine
    "spine_high": 250.0,    # spine -> thorax
    "shoulder_half": 160.0,  # thorax -> shoulder, lateral
    "upper_arm": 280.0,
    "forearm": 250.0,
    "neck": 95.0,           # thorax -> head pivot
    "head": 1.0,            # head size factor (the head template below is in mm)
    "ankle_height": 75.0,   # ankle above the sole
}
# Relative variation (about +-8 %) of each segment around its stature-scaled mean.
PROPORTION_JITTER = 0.08
STATURE_RANGE_MM = (1500.0, 1950.0)

# Head template (mm) in the head frame, origin at the head pivot (top of the neck).
HEAD_POINTS = {
    "neck_nose": np.array([0.0, 35.0, 80.0]),
    "head": np.array([0.0, 140.0, 45.0]),
    "head_top": np.array([0.0, 190.0, -15.0]),
}
HEAD_CENTER = np.array([0.0, 95.0, 15.0])
HEAD_AXES = np.array([78.0, 118.0, 102.0])   # semi-axes: half width, half height, half depth

# Joint-angle limits (degrees). The checker uses slightly wider limits measured from positions.
LIMITS: dict[str, tuple[float, float]] = {
    "yaw": (-180.0, 180.0), "pitch": (-10.0, 10.0), "roll": (-8.0, 8.0),
    "pelvis_tilt": (-15.0, 70.0),
    "spine_flex": (-20.0, 50.0), "spine_lat": (-20.0, 20.0), "spine_twist": (-35.0, 35.0),
    "head_flex": (-35.0, 45.0), "head_yaw": (-70.0, 70.0), "head_roll": (-25.0, 25.0),
}
for _s in ("l", "r"):
    LIMITS.update({
        f"{_s}_hip_flex": (-25.0, 130.0), f"{_s}_hip_abd": (-20.0, 45.0),
        f"{_s}_hip_rot": (-35.0, 40.0), f"{_s}_knee": (0.0, 150.0),
        f"{_s}_sh_flex": (-50.0, 175.0), f"{_s}_sh_abd": (-15.0, 170.0),
        f"{_s}_sh_rot": (-60.0, 90.0), f"{_s}_elbow": (0.0, 150.0),
    })
ANGLE_NAMES = tuple(LIMITS)

def rot_x(deg: float) -> np.ndarray:
    """Rotation about X; positive turns +Y towards +Z."""
    a = np.deg2rad(deg)
    c, s = np.cos(a), np.sin(a)
    return np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])


def rot_y(deg: float) -> np.ndarray:
    """Rotation about Y; positive turns +Z towards +X."""
    a = np.deg2rad(deg)
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def rot_z(deg: float) -> np.ndarray:
    """Rotation about Z; positive turns +X towards +Y."""
    a = np.deg2rad(deg)
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


@dataclass
class Subject:
    """One synthetic person's proportions (mm) and appearance.

    Attributes:
        stature: upright height, sole to crown (mm).
        bones: segment lengths (keys of :data:`MEAN_BONES`).
        girth: radius multiplier (thin 0.85 .. heavy 1.2).
        look: optional overrides of the renderer's sampled clothing, skin and hair (keys of
            :func:`pose3d.synthetic.appearance.sample_look`); empty = all sampled.
    """

    stature: float
    bones: dict[str, float]
    girth: float = 1.0
    look: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"stature_mm": float(self.stature), "bones_mm": dict(self.bones),
                "girth": float(self.girth), "look": dict(self.look)}


def standing_height(bones: dict[str, float]) -> float:
    """Sole-to-crown height (mm) of the upright pose (all angles 0) with these bones."""
    h = bones["ankle_height"] + bones["shank"] + bones["thigh"] + bones["hip_drop"]
    h += bones["spine_low"] + bones["spine_high"] + bones["neck"]
    return float(h + (HEAD_CENTER[1] + HEAD_AXES[1]) * bones["head"])


def sample_subject(rng: np.random.Generator) -> Subject:
    """Draw stature (1.50-1.95 m), +-8 % segment proportions and girth."""
    stature = rng.uniform(*STATURE_RANGE_MM)
    bones = {}
    for name, mean in MEAN_BONES.items():
        bones[name] = mean * (1.0 + rng.uniform(-PROPORTION_JITTER, PROPORTION_JITTER))
    # Rescale every length so the standing height is exactly the drawn stature.
    k = stature / standing_height(bones)
    bones = {n: v * k for n, v in bones.items()}
    return Subject(stature=float(stature), bones=bones, girth=float(rng.uniform(0.85, 1.2)))


def forward_kinematics(pose: dict[str, float], subject: Subject) -> tuple[np.ndarray, dict]:
    """Joint positions and segment frames of a pose, root at the origin, body yawed.

    Args:
        pose: joint angles in degrees (keys of :data:`LIMITS`; missing keys are 0).
        subject: bone lengths.

    Returns:
        joints (18, 3) mm in a Y-up frame with the root at the origin, and ``frames``: segment
        name -> (3, 3) rotation whose columns are the segment's left, up and forward axes
        (``pelvis``, ``abdomen``, ``thorax``, ``head``, ``l_thigh``, ``l_shank``, ``l_uarm``,
        ``l_farm`` and the right-side versions), plus ``head_pivot`` (3,) mm.
    """
    p = {n: float(pose.get(n, 0.0)) for n in ANGLE_NAMES}
    b = subject.bones
    out = np.zeros((NUM_JOINTS, 3))
    frames: dict = {}
    body = rot_y(p["yaw"]) @ rot_x(p["pitch"]) @ rot_z(-p["roll"])
    pelvis = body @ rot_x(p["pelvis_tilt"])
    frames["pelvis"] = pelvis
    # Two spine segments share the bend and twist equally.
    seg = rot_x(p["spine_flex"] / 2) @ rot_z(-p["spine_lat"] / 2) @ rot_y(p["spine_twist"] / 2)
    abdomen = pelvis @ seg
    thorax = abdomen @ seg
    frames["abdomen"], frames["thorax"] = abdomen, thorax
    out[J["spine"]] = abdomen @ np.array([0.0, b["spine_low"], 0.0])
    out[J["thorax"]] = out[J["spine"]] + thorax @ np.array([0.0, b["spine_high"], 0.0])
    # Neck carries 40 % of the nod; the head frame carries all of it plus yaw and roll.
    neck = rot_x(0.4 * p["head_flex"]) @ np.array([0.0, b["neck"], 15.0])
    pivot = out[J["thorax"]] + thorax @ neck
    head = thorax @ rot_y(p["head_yaw"]) @ rot_x(p["head_flex"]) @ rot_z(-p["head_roll"])
    frames["head"], frames["head_pivot"] = head, pivot
    for name, local in HEAD_POINTS.items():
        out[J[name]] = pivot + head @ (local * b["head"])
    for side, s in (("l", 1.0), ("r", -1.0)):
        hip = pelvis @ np.array([s * b["hip_half"], -b["hip_drop"], 0.0])
        thigh = pelvis @ rot_x(-p[f"{side}_hip_flex"]) @ rot_z(s * p[f"{side}_hip_abd"]) \
            @ rot_y(-s * p[f"{side}_hip_rot"])
        shank = thigh @ rot_x(p[f"{side}_knee"])
        knee = hip + thigh @ np.array([0.0, -b["thigh"], 0.0])
        ankle = knee + shank @ np.array([0.0, -b["shank"], 0.0])
        shoulder = out[J["thorax"]] + thorax @ np.array([s * b["shoulder_half"], -25.0, -10.0])
        uarm = thorax @ rot_x(-p[f"{side}_sh_flex"]) @ rot_z(s * p[f"{side}_sh_abd"]) \
            @ rot_y(-s * p[f"{side}_sh_rot"])
        farm = uarm @ rot_x(-p[f"{side}_elbow"])
        elbow = shoulder + uarm @ np.array([0.0, -b["upper_arm"], 0.0])
        wrist = elbow + farm @ np.array([0.0, -b["forearm"], 0.0])
        for jn, v in (("hip", hip), ("knee", knee), ("ankle", ankle), ("shoulder", shoulder),
                      ("elbow", elbow), ("wrist", wrist)):
            out[J[f"{side}_{jn}"]] = v
        frames.update({f"{side}_thigh": thigh, f"{side}_shank": shank, f"{side}_uarm": uarm,
                       f"{side}_farm": farm})
    return out, frames


def ground_offset(joints: np.ndarray, subject: Subject) -> float:
    """Height (mm) to lift a root-at-origin pose so its lowest support touches the ground."""
    ah = subject.bones["ankle_height"]
    low = min(joints[J["l_ankle"], 1] - ah, joints[J["r_ankle"], 1] - ah,
              joints[J["l_knee"], 1] - 55.0, joints[J["r_knee"], 1] - 55.0)
    return float(-low)
