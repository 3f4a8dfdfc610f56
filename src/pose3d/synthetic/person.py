"""Paint a synthetic person's body parts (shaded volumes) into a :class:`.raster.Canvas`.

Torso (pelvis, abdomen, chest), head and nose are ellipsoids; neck, limbs, hands and feet are
tapered capsules. The face, hair, V neckline and chest logo mark the facing direction; the watch
on the LEFT wrist, the logo on the LEFT breast and the light LEFT / dark RIGHT shoes mark the
sides (``look["no_lr"]`` drops them).
"""
from __future__ import annotations

import numpy as np

from pose3d.synthetic import body as B
from pose3d.synthetic.appearance import bands
from pose3d.synthetic.raster import Canvas

J = B.J
PART_NAMES = ("pelvis", "abdomen", "chest", "neck", "head", "nose",
              "l_uarm", "l_farm", "l_hand", "r_uarm", "r_farm", "r_hand",
              "l_thigh", "l_shank", "l_foot", "r_thigh", "r_shank", "r_foot")
PID = {n: i + 1 for i, n in enumerate(PART_NAMES)}  # 0 = background


def draw_person(cv: Canvas, joints_c: np.ndarray, frames_c: dict, pivot_c: np.ndarray,
                subject: B.Subject, look: dict) -> None:
    """Paint every body part into the canvas (camera-frame joints and frames)."""
    g = subject.girth
    hs = subject.bones["head"]
    x = joints_c
    skin, shirt, shirt2, pants = look["skin"], look["shirt"], look["shirt2"], look["pants"]
    stripes = look["pattern"] == "stripes"
    per = look["stripe_mm"]

    def flat(c):
        return lambda t: np.broadcast_to(c, (len(t), 3))

    def shirt_t(length, start=0.0):
        if not stripes:
            return lambda t: np.broadcast_to(shirt, (len(t), 3))
        return lambda t: np.where(bands(start + t * length, per)[:, None], shirt2, shirt)

    # Torso: pelvis, abdomen, chest ellipsoids.
    def pelvis_col(p):
        c = np.broadcast_to(pants, (len(p), 3)).copy()
        if look["belt"]:
            c[p[:, 1] > 0.55] = (30, 30, 35)
        return c

    def torso_col(p, top_mm, semi_y, back_shade, logo):
        if look["pattern"] == "two_tone":
            if logo:
                c = np.where((p[:, 1] > 0.0)[:, None], shirt, shirt2)
            else:
                c = np.broadcast_to(shirt2, (len(p), 3))
        elif stripes:
            c = np.where(bands(top_mm + p[:, 1] * semi_y, per)[:, None], shirt2, shirt)
        else:
            c = np.broadcast_to(shirt, (len(p), 3))
        c = np.array(c, dtype=np.float32)
        c[p[:, 2] < 0] *= back_shade
        if logo:
            front = p[:, 2] > 0.2
            lo = -0.17 if look.get("no_lr") else 0.2
            lg = front & (p[:, 0] > lo) & (p[:, 0] < lo + 0.35)
            lg &= (p[:, 1] > 0.12) & (p[:, 1] < 0.42)
            c[lg] = look["logo"]
            vneck = front & (p[:, 1] > 0.5 + 1.4 * np.abs(p[:, 0]))
            c[vneck] = skin
        return c

    R = frames_c
    bones = subject.bones
    sw = bones["shoulder_half"]
    ax_pel = np.array([(bones["hip_half"] + 30.0) * (0.8 + 0.2 * g), 115.0, 88.0 * g])
    cv.ellipsoid(x[J["root"]] + R["pelvis"] @ np.array([0.0, -30.0, -5.0]), R["pelvis"], ax_pel,
                 PID["pelvis"], pelvis_col)
    ax_abd = np.array([0.8 * sw * g, 0.7 * bones["spine_low"] + 10.0, 80.0 * g ** 1.3])
    c_abd = x[J["spine"]] + R["abdomen"] @ np.array([0.0, -0.1 * bones["spine_low"], 0.0])
    cv.ellipsoid(c_abd, R["abdomen"], ax_abd, PID["abdomen"],
                 lambda p: torso_col(p, -200.0, ax_abd[1], 0.82, False))
    ax_ch = np.array([0.95 * sw * (0.7 + 0.3 * g), 0.62 * bones["spine_high"], 92.0 * g])
    c_ch = x[J["thorax"]] + R["thorax"] @ np.array([0.0, -0.48 * bones["spine_high"], 5.0])
    cv.ellipsoid(c_ch, R["thorax"], ax_ch, PID["chest"],
                 lambda p: torso_col(p, 0.0, ax_ch[1], 0.82, True))
    # Shoulder girdle: squares the top of the chest.
    cv.capsule(x[J["l_shoulder"]] + R["thorax"] @ np.array([-10.0, -5.0, 0.0]),
               x[J["r_shoulder"]] + R["thorax"] @ np.array([10.0, -5.0, 0.0]), 55.0 * g, 55.0 * g,
               PID["chest"], flat(shirt))
    # Neck and head.
    neck_a = x[J["thorax"]] + R["thorax"] @ np.array([0.0, -20.0, -15.0])
    neck_b = pivot_c + R["head"] @ np.array([0.0, 25.0, 0.0])
    cv.capsule(neck_a, neck_b, 55.0 * g, 48.0 * np.sqrt(g), PID["neck"], flat(skin * 0.92))

    hair = look["hair"]
    style = look["hair_style"]

    def head_col(p):
        c = np.broadcast_to(skin, (len(p), 3)).copy()
        px, py, pz = p[:, 0], p[:, 1], p[:, 2]
        # Hair always covers the top and back, so the back of the head never looks like a face.
        hr = (py > 0.3 + 0.25 * np.maximum(pz, 0.0)) | ((pz < -0.25) & (py > -0.35))
        if style == "long":
            hr |= (pz < 0.1) & (py > -0.9)
        c[hr] = hair if style != "buzz" else 0.6 * hair + 0.4 * skin
        eyes = (pz > 0.55) & (np.abs(np.abs(px) - 0.38) < 0.12) & (np.abs(py - 0.08) < 0.065)
        c[eyes] = (35, 30, 30)
        brows = (pz > 0.5) & (np.abs(np.abs(px) - 0.38) < 0.14) & (np.abs(py - 0.22) < 0.03)
        c[brows] = hair * 0.8
        mouth = (pz > 0.5) & (np.abs(px) < 0.22) & (np.abs(py + 0.42) < 0.04)
        c[mouth] = skin * np.array([0.55, 0.5, 0.75], np.float32)
        return c

    hc = pivot_c + R["head"] @ (B.HEAD_CENTER * hs)
    cv.ellipsoid(hc, R["head"], B.HEAD_AXES * hs, PID["head"], head_col)
    cv.ellipsoid(pivot_c + R["head"] @ (np.array([0.0, 70.0, 112.0]) * hs), R["head"],
                 np.array([14.0, 24.0, 20.0]) * hs, PID["nose"], flat(skin))

    # Limbs.
    long_sleeves = look["sleeves"] == "long"
    for s in ("l", "r"):
        sh, el, wr = x[J[f"{s}_shoulder"]], x[J[f"{s}_elbow"]], x[J[f"{s}_wrist"]]
        lu, lf = bones["upper_arm"], bones["forearm"]
        if long_sleeves:
            ucol = shirt_t(lu)
        else:
            base_u = shirt_t(lu)
            ucol = (lambda bu: lambda t: np.where((t < 0.45)[:, None], bu(t), skin))(base_u)
        watch = s == "l" and not look.get("no_lr")

        def fcol(t, watch=watch, base=(shirt_t(lf, lu) if long_sleeves else flat(skin))):
            c = np.array(base(t), dtype=np.float32)
            if watch:
                c[(t > 0.84) & (t < 0.96)] = look["watch"]
                c[(t > 0.875) & (t < 0.925)] = look["dial"]
            return c

        cv.capsule(sh, el, 50.0 * g, 40.0 * g, PID[f"{s}_uarm"], ucol)
        cv.capsule(el, wr, 40.0 * g, 30.0 * g, PID[f"{s}_farm"], fcol)
        hand_dir = R[f"{s}_farm"][:, 1] * -1.0
        cv.capsule(wr + hand_dir * 15.0, wr + hand_dir * 95.0, 30.0, 36.0, PID[f"{s}_hand"],
                   flat(skin))

        hp, kn, an = x[J[f"{s}_hip"]], x[J[f"{s}_knee"]], x[J[f"{s}_ankle"]]
        if look["shorts"]:
            tcol = lambda t: np.where((t < 0.55)[:, None], pants, skin)  # noqa: E731
        else:
            tcol = flat(pants)
        cv.capsule(hp, kn, 75.0 * g, 56.0 * g, PID[f"{s}_thigh"], tcol)
        cv.capsule(kn, an, 56.0 * g, 36.0 * g, PID[f"{s}_shank"],
                   flat(skin if look["shorts"] else pants))
        ah = bones["ankle_height"]
        sk = R[f"{s}_shank"]
        heel = an + sk @ np.array([0.0, -0.55 * ah, -35.0])
        toe = an + sk @ np.array([0.0, -0.7 * ah, 170.0])
        cv.capsule(heel, toe, 40.0, 38.0, PID[f"{s}_foot"], flat(look[f"shoe_{s}"]))
