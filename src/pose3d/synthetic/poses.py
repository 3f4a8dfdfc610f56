"""Joint-angle poses of synthetic bodies: sampled per action, neutral, mirrored.

Poses are sampled per action class (:data:`ACTION_CLASSES` maps the 15 Human3.6M actions to pose
classes); every sampled value is clipped into :data:`.body.LIMITS`.
"""
from __future__ import annotations

import numpy as np

from pose3d.synthetic.body import ANGLE_NAMES, LIMITS

ACTIONS = ("Directions", "Discussion", "Eating", "Greeting", "Phoning", "Posing", "Purchases",
           "Sitting", "SittingDown", "Smoking", "Photo", "Waiting", "Walking", "WalkDog",
           "WalkTogether")

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


# Relaxed arms and nearly straight legs: every class starts from these (degrees).
RELAXED_ARMS = {"sh_flex": (-20, 35), "sh_abd": (3, 30), "sh_rot": (-20, 40), "elbow": (0, 50)}
STRAIGHT_LEGS = {"hip_flex": (-8, 18), "hip_abd": (-3, 15), "hip_rot": (-15, 25), "knee": (0, 20)}


def neutral_pose() -> dict[str, float]:
    """All angles zero except relaxed arms (degrees)."""
    pose = {n: 0.0 for n in ANGLE_NAMES}
    for s in ("l", "r"):
        pose[f"{s}_sh_abd"] = 8.0
        pose[f"{s}_elbow"] = 10.0
        pose[f"{s}_hip_abd"] = 4.0
    return pose


def _u(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(rng.uniform(lo, hi))


def _both_sides(rng: np.random.Generator, pose: dict, ranges: dict[str, tuple[float, float]],
                offsets: dict[str, float] | None = None) -> None:
    """Draw ``<side>_<name>`` from ``ranges[name]`` (plus ``offsets[name]``), left side first."""
    offsets = offsets or {}
    for s in ("l", "r"):
        for name, (lo, hi) in ranges.items():
            v = _u(rng, lo, hi)
            pose[f"{s}_{name}"] = v + offsets[name] if name in offsets else v


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
    _both_sides(rng, pose, RELAXED_ARMS)
    _both_sides(rng, pose, STRAIGHT_LEGS)
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
        _both_sides(rng, pose, {"hip_flex": (70, 100), "hip_abd": (0, 25), "knee": (60, 110),
                                "sh_flex": (0, 50), "elbow": (20, 100)},
                    {"hip_flex": pose["pelvis_tilt"]})
        if rng.random() < 0.3:  # one leg stretched out
            pose[f"{a}_knee"] = _u(rng, 5, 40)
            pose[f"{a}_hip_flex"] = _u(rng, 60, 85)
    elif cls == "squatting":
        pose["pelvis_tilt"] = _u(rng, 10, 35)
        pose["spine_flex"] = _u(rng, 0, 30)
        _both_sides(rng, pose, {"hip_flex": (95, 125), "hip_abd": (10, 35), "knee": (105, 145),
                                "sh_flex": (10, 70), "elbow": (10, 90)})
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
        _both_sides(rng, pose, {"hip_flex": (-10, 15), "knee": (0, 40), "sh_flex": (0, 80),
                                "sh_abd": (0, 25), "elbow": (0, 60)}, {"hip_flex": tilt})
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
        _both_sides(rng, pose, {"sh_flex": (25, 80), "sh_abd": (5, 35), "sh_rot": (20, 70),
                                "elbow": (60, 130)})
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
