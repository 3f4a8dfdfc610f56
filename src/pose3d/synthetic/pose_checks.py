"""Checks of a synthetic pose from its 3D joints alone (bone lengths, joint limits), so tests
verify the pose sampler independently of the angles that made the pose."""
from __future__ import annotations

import numpy as np

from pose3d.skeleton import SYNTH18
from pose3d.synthetic.body import (HEAD_POINTS, LIMITS, MEAN_BONES, NUM_JOINTS, STATURE_RANGE_MM,
                                   J, Subject, standing_height)

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
