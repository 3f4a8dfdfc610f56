"""Synthetic bodies: bone lengths, joint-angle poses, forward kinematics and limit checks.

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

Poses are sampled per action class (:data:`ACTION_CLASSES` maps the 15 Human3.6M actions to pose
classes); every sampled value is clipped into :data:`LIMITS`. :func:`check_pose` re-measures bone
lengths and joint angles from the 3D joints alone, so tests can verify the sampler independently.
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

ACTIONS = ("Directions", "Discussion", "Eating", "Greeting", "Phoning", "Posing", "Purchases",
           "Sitting", "SittingDown", "Smoking", "Photo", "Waiting", "Walking", "WalkDog",
           "WalkTogether")

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

# Pose classes and which of them each Human3.6M action draws from (with weights).
POSE_CLASSES = ("standing", "walking", "sitting", "squatting", "arms_raised", "bending",
                "kneeling", "phoning", "pointing", "hands_front", "akimbo")
ACTION_CLASSES: dict[str, dict[str, float]] = {
    "Directions": {"pointing": 0.6, "standing": 0.4},
    "Discussion": {"hands_front": 0.6, "standing": 0.4},
    "Eating": {"hands_front": 0.5, "sitting": 0.5},
    "Greeting": {"arms_raised": 0.7, "standing": 0.3},
    "Phoning": {"phoning": 0.8, "walking": 0.2},
    "Posing": {"akimbo": 0.5, "arms_raised": 0.3, "standing": 0.2},
    "Purchases": {"bending": 0.6, "walking": 0.2, "hands_front": 0.2},
    "Sitting": {"sitting": 1.0},
    "SittingDown": {"squatting": 0.45, "sitting": 0.25, "kneeling": 0.3},
    "Smoking": {"phoning": 0.6, "standing": 0.4},
    "Photo": {"hands_front": 0.7, "kneeling": 0.3},
    "Waiting": {"standing": 0.5, "akimbo": 0.5},
    "Walking": {"walking": 1.0},
    "WalkDog": {"walking": 0.6, "bending": 0.4},
    "WalkTogether": {"walking": 0.8, "pointing": 0.2},
}


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
            :func:`pose3d.synthetic.render.sample_look`); empty = all sampled.
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


def neutral_pose() -> dict[str, float]:
    """All angles zero except relaxed arms (degrees)."""
    pose = {n: 0.0 for n in ANGLE_NAMES}
    for s in ("l", "r"):
        pose[f"{s}_sh_abd"] = 8.0
        pose[f"{s}_elbow"] = 10.0
        pose[f"{s}_hip_abd"] = 4.0
    return pose


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


# --- pose sampling --------------------------------------------------------------------------------

def _u(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(rng.uniform(lo, hi))


def _relaxed_arms(rng: np.random.Generator, pose: dict) -> None:
    for s in ("l", "r"):
        pose[f"{s}_sh_flex"] = _u(rng, -20, 35)
        pose[f"{s}_sh_abd"] = _u(rng, 3, 30)
        pose[f"{s}_sh_rot"] = _u(rng, -20, 40)
        pose[f"{s}_elbow"] = _u(rng, 0, 50)


def _straight_legs(rng: np.random.Generator, pose: dict) -> None:
    for s in ("l", "r"):
        pose[f"{s}_hip_flex"] = _u(rng, -8, 18)
        pose[f"{s}_hip_abd"] = _u(rng, -3, 15)
        pose[f"{s}_hip_rot"] = _u(rng, -15, 25)
        pose[f"{s}_knee"] = _u(rng, 0, 20)


def sample_pose(rng: np.random.Generator,
                action: str | None = None) -> tuple[dict[str, float], str, str]:
    """Draw a pose for an action (random action if None).

    Returns:
        (pose angles in degrees, action name, pose class name).
    """
    if action is None:
        action = ACTIONS[int(rng.integers(len(ACTIONS)))]
    classes = ACTION_CLASSES[action]
    names = list(classes)
    w = np.array([classes[n] for n in names])
    cls = names[int(rng.choice(len(names), p=w / w.sum()))]
    pose = {n: 0.0 for n in ANGLE_NAMES}
    pose["yaw"] = _u(rng, -180, 180)
    pose["pitch"] = _u(rng, -6, 6)
    pose["roll"] = _u(rng, -5, 5)
    pose["spine_flex"] = _u(rng, -8, 15)
    pose["spine_lat"] = _u(rng, -8, 8)
    pose["spine_twist"] = _u(rng, -15, 15)
    pose["head_flex"] = _u(rng, -15, 25)
    pose["head_yaw"] = _u(rng, -45, 45)
    pose["head_roll"] = _u(rng, -10, 10)
    pose["pelvis_tilt"] = _u(rng, -5, 8)
    _relaxed_arms(rng, pose)
    _straight_legs(rng, pose)
    a, o = ("l", "r") if rng.random() < 0.5 else ("r", "l")  # active / other side

    if cls == "walking":
        stride = _u(rng, 10, 35)
        pose[f"{a}_hip_flex"] = stride
        pose[f"{a}_knee"] = _u(rng, 0, 25)
        pose[f"{o}_hip_flex"] = -_u(rng, 5, 20)
        pose[f"{o}_knee"] = _u(rng, 10, 65)
        pose[f"{a}_sh_flex"] = -_u(rng, 5, 30)
        pose[f"{o}_sh_flex"] = _u(rng, 5, 35)
        for s in (a, o):
            pose[f"{s}_sh_abd"] = _u(rng, 3, 15)
            pose[f"{s}_elbow"] = _u(rng, 5, 45)
        pose["pitch"] = _u(rng, -2, 8)
    elif cls == "sitting":
        pose["pelvis_tilt"] = _u(rng, -12, 10)
        pose["spine_flex"] = _u(rng, -5, 30)
        for s in ("l", "r"):
            pose[f"{s}_hip_flex"] = _u(rng, 70, 100) + pose["pelvis_tilt"]
            pose[f"{s}_hip_abd"] = _u(rng, 0, 25)
            pose[f"{s}_knee"] = _u(rng, 60, 110)
            pose[f"{s}_sh_flex"] = _u(rng, 0, 50)
            pose[f"{s}_elbow"] = _u(rng, 20, 100)
        if rng.random() < 0.3:  # one leg stretched out
            pose[f"{a}_knee"] = _u(rng, 5, 40)
            pose[f"{a}_hip_flex"] = _u(rng, 60, 85)
    elif cls == "squatting":
        pose["pelvis_tilt"] = _u(rng, 10, 35)
        pose["spine_flex"] = _u(rng, 0, 30)
        for s in ("l", "r"):
            pose[f"{s}_hip_flex"] = _u(rng, 95, 125)
            pose[f"{s}_hip_abd"] = _u(rng, 10, 35)
            pose[f"{s}_knee"] = _u(rng, 105, 145)
            pose[f"{s}_sh_flex"] = _u(rng, 10, 70)
            pose[f"{s}_elbow"] = _u(rng, 10, 90)
    elif cls == "kneeling":
        pose[f"{a}_hip_flex"] = _u(rng, 70, 100)
        pose[f"{a}_knee"] = _u(rng, 75, 105)
        pose[f"{o}_hip_flex"] = _u(rng, -15, 10)
        pose[f"{o}_knee"] = _u(rng, 80, 110)
        pose["spine_flex"] = _u(rng, -5, 25)
    elif cls == "bending":
        tilt = _u(rng, 20, 65)
        pose["pelvis_tilt"] = tilt
        pose["spine_flex"] = _u(rng, 10, 45)
        for s in ("l", "r"):
            pose[f"{s}_hip_flex"] = tilt + _u(rng, -10, 15)
            pose[f"{s}_knee"] = _u(rng, 0, 40)
            pose[f"{s}_sh_flex"] = _u(rng, 0, 80)
            pose[f"{s}_sh_abd"] = _u(rng, 0, 25)
            pose[f"{s}_elbow"] = _u(rng, 0, 60)
        pose["head_flex"] = _u(rng, -30, 10)
    elif cls == "arms_raised":
        for s in ((a,) if rng.random() < 0.5 else (a, o)):
            if rng.random() < 0.5:
                pose[f"{s}_sh_flex"] = _u(rng, 90, 170)
                pose[f"{s}_sh_abd"] = _u(rng, 0, 40)
            else:
                pose[f"{s}_sh_flex"] = _u(rng, -10, 40)
                pose[f"{s}_sh_abd"] = _u(rng, 90, 165)
            pose[f"{s}_sh_rot"] = _u(rng, -40, 40)
            pose[f"{s}_elbow"] = _u(rng, 0, 80)
    elif cls == "phoning":
        pose[f"{a}_sh_flex"] = _u(rng, 10, 50)
        pose[f"{a}_sh_abd"] = _u(rng, 15, 50)
        pose[f"{a}_sh_rot"] = _u(rng, 10, 45)
        pose[f"{a}_elbow"] = _u(rng, 120, 148)
        pose["head_roll"] = _u(rng, -15, 15)
        if rng.random() < 0.4:  # other hand in front of the belly
            pose[f"{o}_sh_flex"] = _u(rng, 10, 40)
            pose[f"{o}_sh_rot"] = _u(rng, 40, 80)
            pose[f"{o}_elbow"] = _u(rng, 70, 110)
    elif cls == "pointing":
        pose[f"{a}_sh_flex"] = _u(rng, 50, 110)
        pose[f"{a}_sh_abd"] = _u(rng, 0, 60)
        pose[f"{a}_elbow"] = _u(rng, 0, 20)
        pose["head_yaw"] = _u(rng, -20, 20) + (15 if a == "l" else -15)
    elif cls == "hands_front":
        for s in ("l", "r"):
            pose[f"{s}_sh_flex"] = _u(rng, 25, 80)
            pose[f"{s}_sh_abd"] = _u(rng, 5, 35)
            pose[f"{s}_sh_rot"] = _u(rng, 20, 70)
            pose[f"{s}_elbow"] = _u(rng, 60, 130)
        pose["head_flex"] = _u(rng, 0, 30)
    elif cls == "akimbo":
        for s in ("l", "r"):
            if rng.random() < 0.75:
                pose[f"{s}_sh_flex"] = _u(rng, -15, 10)
                pose[f"{s}_sh_abd"] = _u(rng, 35, 60)
                pose[f"{s}_sh_rot"] = _u(rng, -10, 25)
                pose[f"{s}_elbow"] = _u(rng, 80, 120)
        for s in ("l", "r"):
            pose[f"{s}_hip_abd"] = _u(rng, 5, 20)
    pose = {n: float(np.clip(v, *LIMITS[n])) for n, v in pose.items()}
    return pose, action, cls


def mirror_pose(pose: dict[str, float]) -> dict[str, float]:
    """The left/right mirror image of a pose (about the body's sagittal plane)."""
    out = dict(pose)
    for n in ANGLE_NAMES:
        if n.startswith("l_"):
            out[n], out["r_" + n[2:]] = pose.get("r_" + n[2:], 0.0), pose.get(n, 0.0)
    for n in ("yaw", "roll", "spine_lat", "spine_twist", "head_yaw", "head_roll"):
        out[n] = -pose.get(n, 0.0)
    return out


# --- checks ---------------------------------------------------------------------------------------

# Rigid distances (joint a, joint b, bone key or None for template distances).
def _rigid_pairs(subject: Subject) -> list[tuple[int, int, float]]:
    b = subject.bones
    pairs = []
    for s in ("l", "r"):
        pairs += [(J[f"{s}_hip"], J[f"{s}_knee"], b["thigh"]),
                  (J[f"{s}_knee"], J[f"{s}_ankle"], b["shank"]),
                  (J[f"{s}_shoulder"], J[f"{s}_elbow"], b["upper_arm"]),
                  (J[f"{s}_elbow"], J[f"{s}_wrist"], b["forearm"])]
    pairs += [(J["root"], J["spine"], b["spine_low"]), (J["spine"], J["thorax"], b["spine_high"]),
              (J["l_hip"], J["r_hip"], 2 * b["hip_half"])]
    hp = {k: v * b["head"] for k, v in HEAD_POINTS.items()}
    for x, y in (("neck_nose", "head"), ("head", "head_top"), ("neck_nose", "head_top")):
        pairs.append((J[x], J[y], float(np.linalg.norm(hp[x] - hp[y]))))
    return pairs


def _angle(u: np.ndarray, v: np.ndarray) -> float:
    c = np.dot(u, v) / (np.linalg.norm(u) * np.linalg.norm(v) + 1e-12)
    return float(np.degrees(np.arccos(np.clip(c, -1.0, 1.0))))


def _kabsch(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Rotation R minimising |R @ (src - mean) - (dst - mean)| over point sets (N, 3)."""
    a = src - src.mean(0)
    b = dst - dst.mean(0)
    u, _, vt = np.linalg.svd(b.T @ a)
    d = np.sign(np.linalg.det(u @ vt))
    return u @ np.diag([1.0, 1.0, d]) @ vt


def _frame(left: np.ndarray, up: np.ndarray) -> np.ndarray:
    """Columns left, up, forward of the right-handed frame spanned by ``left`` and ``up``."""
    x = left / np.linalg.norm(left)
    y = up - np.dot(up, x) * x
    y /= np.linalg.norm(y)
    return np.stack([x, y, np.cross(x, y)], axis=1)


def check_pose(joints: np.ndarray, subject: Subject, tol_mm: float = 1e-6) -> list[str]:
    """Re-measure a body from its 3D joints alone and list every violated limit.

    The frames are rebuilt from the joints (abdomen: hips + root->spine; chest: shoulders +
    spine->thorax; head: fitted to its three joints), so the check does not trust the angles
    that made the pose. Checked: every rigid bone equals the subject's length (``tol_mm``
    relative) and lies within 18 % of the stature-scaled mean; the stature is in range;
    thorax->neck_nose stays 60-260 mm; knee and elbow flexion <= 155 deg with the knee bending
    backwards; thighs within [-45, 160] deg of flexion and [-35, 60] deg of abduction in the
    abdomen frame; the upper arm not within 25 deg of straight back nor reaching across the
    chest; spine bend between abdomen and chest <= 45 deg; shoulder line twisted <= 45 deg
    against the hips; head tilt <= 60 deg and turn <= 80 deg against the chest.

    Args:
        joints: (18, 3) mm in any rigid placement (rotation + translation).
        subject: the body the joints were made from.
        tol_mm: relative bone-length tolerance.

    Returns:
        list of human-readable violations (empty when the pose is valid).
    """
    bad: list[str] = []
    x = np.asarray(joints, dtype=np.float64)
    if x.shape != (NUM_JOINTS, 3) or not np.isfinite(x).all():
        return [f"joints must be finite (18, 3), got {x.shape}"]
    if not STATURE_RANGE_MM[0] - 1e-6 <= subject.stature <= STATURE_RANGE_MM[1] + 1e-6:
        bad.append(f"stature {subject.stature:.0f} mm outside {STATURE_RANGE_MM}")
    k = subject.stature / standing_height(MEAN_BONES)
    for name, mean in MEAN_BONES.items():
        lo, hi = mean * k * 0.82, mean * k * 1.18
        if not lo <= subject.bones[name] <= hi:
            bad.append(f"bone {name} {subject.bones[name]:.1f} outside [{lo:.1f}, {hi:.1f}]")
    for a, c, length in _rigid_pairs(subject):
        d = float(np.linalg.norm(x[a] - x[c]))
        if abs(d - length) > tol_mm * max(1.0, length):
            pair = f"{SYNTH18.names[a]}-{SYNTH18.names[c]}"
            bad.append(f"{pair} is {d:.3f} mm, expected {length:.3f}")
    neck = float(np.linalg.norm(x[J["neck_nose"]] - x[J["thorax"]]))
    if not 60.0 * k <= neck <= 260.0 * k:
        bad.append(f"thorax-neck_nose {neck:.1f} mm outside [{60 * k:.0f}, {260 * k:.0f}]")

    abd = _frame(x[J["l_hip"]] - x[J["r_hip"]], x[J["spine"]] - x[J["root"]])
    chest = _frame(x[J["l_shoulder"]] - x[J["r_shoulder"]], x[J["thorax"]] - x[J["spine"]])
    for s, sg in (("l", 1.0), ("r", -1.0)):
        thigh = x[J[f"{s}_knee"]] - x[J[f"{s}_hip"]]
        shank = x[J[f"{s}_ankle"]] - x[J[f"{s}_knee"]]
        kf = _angle(thigh, shank)
        if kf > 155:
            bad.append(f"{s} knee flexion {kf:.1f} > 155")
        if kf > 10 and np.dot(np.cross(thigh, shank), abd[:, 0]) <= 0:
            bad.append(f"{s} knee bends forwards")
        uarm = x[J[f"{s}_elbow"]] - x[J[f"{s}_shoulder"]]
        ef = _angle(uarm, x[J[f"{s}_wrist"]] - x[J[f"{s}_elbow"]])
        if ef > 155:
            bad.append(f"{s} elbow flexion {ef:.1f} > 155")
        t = abd.T @ (thigh / np.linalg.norm(thigh))
        flex = float(np.degrees(np.arctan2(t[2], -t[1])))
        ab = float(np.degrees(np.arcsin(np.clip(sg * t[0], -1.0, 1.0))))
        if not -45 <= flex <= 160:
            bad.append(f"{s} hip flexion {flex:.1f} outside [-45, 160]")
        if not -35 <= ab <= 60:
            bad.append(f"{s} hip abduction {ab:.1f} outside [-35, 60]")
        ua = chest.T @ (x[J[f"{s}_elbow"]] - x[J[f"{s}_shoulder"]])
        ua /= np.linalg.norm(ua)
        back = _angle(ua, np.array([0.0, 0.0, -1.0]))
        if back < 25:
            bad.append(f"{s} upper arm {back:.1f} deg from straight back")
        if sg * ua[0] < -0.45:
            bad.append(f"{s} upper arm reaches across the chest ({sg * ua[0]:.2f})")
    bend = _angle(abd[:, 1], chest[:, 1])
    if bend > 45:
        bad.append(f"spine bend {bend:.1f} > 45")
    twist = _angle(abd[:, 0] - np.dot(abd[:, 0], chest[:, 1]) * chest[:, 1], chest[:, 0])
    if twist > 45:
        bad.append(f"shoulders twisted {twist:.1f} > 45 against the hips")
    names = ("neck_nose", "head", "head_top")
    tmpl = np.stack([HEAD_POINTS[n] * subject.bones["head"] for n in names])
    head = _kabsch(tmpl, np.stack([x[J[n]] for n in names]))
    rel = chest.T @ head
    tilt = _angle(rel[:, 1], np.array([0.0, 1.0, 0.0]))
    turn = float(np.degrees(np.arctan2(rel[0, 2], rel[2, 2])))
    if tilt > 60:
        bad.append(f"head tilted {tilt:.1f} > 60 against the chest")
    if abs(turn) > 80:
        bad.append(f"head turned {turn:.1f} beyond 80 against the chest")
    return bad


def check_angles(pose: dict[str, float]) -> list[str]:
    """List the angles of ``pose`` outside :data:`LIMITS` (degrees)."""
    bad = []
    for n, v in pose.items():
        if n not in LIMITS:
            bad.append(f"unknown angle {n}")
            continue
        lo, hi = LIMITS[n]
        if not lo - 1e-9 <= v <= hi + 1e-9:
            bad.append(f"{n}={v:.1f} outside [{lo}, {hi}]")
    return bad
