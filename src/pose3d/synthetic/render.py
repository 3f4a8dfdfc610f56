"""Render one synthetic person with exact 2D/3D ground truth (numpy + OpenCV only).

The body (:mod:`.body`) is drawn as shaded volumes into a per-pixel depth and part-ID buffer:
torso (pelvis, abdomen, chest), head and nose are ray-cast ellipsoids; neck, limbs, hands and
feet are tapered capsules whose depth and normal are computed per pixel from their projection.
Because every pixel keeps the nearest surface, occlusion is exact between parts, and a joint is
*visible* when it lies inside the image, the part at its pixel is one of the joint's own parts
(not another limb, not an occluder) and that surface is not far in front of the joint.

Cues that make the task well posed (none of them marks a joint):

* **Facing**: the head has a skin face with eyes, mouth and a nose bump on its front and hair on
  top and back; the shirt has a V neckline and a chest logo on the front only, and its back is a
  slightly darker shade.
* **Left / right**: the person always wears a wrist watch (dark strap, light dial) on the LEFT
  wrist, the chest logo sits on the LEFT breast, and the LEFT shoe is always light while the
  RIGHT shoe is always dark. Mirroring an image therefore does not give the image of the
  mirrored pose.

Backgrounds are cluttered (gradients, smooth blotches, random shapes, lines, stripes and
checker patches, text, limb-like distractors); a soft contact shadow grounds the person and
sitting people get a stool (sometimes with a backrest) that occludes like any object; optional
occluder objects and truncation at the image border; global lighting changes (gain, colour
cast, gamma), blur (Gaussian or motion), sensor noise and JPEG artefacts.

Every random choice comes from the ``rng`` passed in; :func:`sample_rng` derives it from
``(seed, dataset name, index)`` so a sample's bytes never depend on worker count or order.
"""
from __future__ import annotations

import colorsys
import hashlib
import logging
from typing import Any, Sequence

import cv2
import numpy as np

from pose3d.skeleton import SYNTH18
from pose3d.synthetic import body as B
from pose3d.synthetic.camera import project, sample_camera, world_to_cam

log = logging.getLogger(__name__)

J = B.J
OCCLUDER_ID = 250
PART_NAMES = ("pelvis", "abdomen", "chest", "neck", "head", "nose",
              "l_uarm", "l_farm", "l_hand", "r_uarm", "r_farm", "r_hand",
              "l_thigh", "l_shank", "l_foot", "r_thigh", "r_shank", "r_foot")
PID = {n: i + 1 for i, n in enumerate(PART_NAMES)}  # 0 = background

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

SKIN_RGB = ((255, 224, 196), (241, 194, 150), (224, 172, 125), (198, 140, 100), (160, 105, 70),
            (110, 70, 45), (80, 52, 36))
HAIR_RGB = ((20, 16, 14), (60, 40, 25), (110, 75, 40), (190, 160, 100), (150, 150, 150),
            (130, 50, 25))


# --- randomness --------------------------------------------------------------------------------

def _stable_hash(name: str) -> int:
    return int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:8], "little")


def sample_rng(seed: int, dataset: str, index: int) -> np.random.Generator:
    """Per-sample generator from (seed, dataset name, index), independent of workers.

    Uses a SHA-256 of the name (never Python's salted ``hash``) in a ``SeedSequence``.
    """
    ss = np.random.SeedSequence([int(seed) & 0xFFFFFFFFFFFFFFFF, _stable_hash(dataset), int(index)])
    return np.random.Generator(np.random.PCG64(ss))


def _hsv(rng: np.random.Generator, s: tuple[float, float] = (0.0, 1.0),
         v: tuple[float, float] = (0.1, 1.0)) -> np.ndarray:
    r, g, b = colorsys.hsv_to_rgb(rng.uniform(0, 1), rng.uniform(*s), rng.uniform(*v))
    return np.array([b, g, r], dtype=np.float32) * 255.0


def _palette(rng: np.random.Generator, table: Sequence[tuple[int, int, int]],
             jitter: float) -> np.ndarray:
    rgb = np.array(table[int(rng.integers(len(table)))], dtype=np.float32)
    rgb = np.clip(rgb * rng.uniform(1 - jitter, 1 + jitter, 3).astype(np.float32), 0, 255)
    return rgb[::-1].copy()


def sample_look(rng: np.random.Generator) -> dict:
    """Clothing, skin and hair for one person (BGR float colours and style flags)."""
    look: dict[str, Any] = {}
    look["skin"] = _palette(rng, SKIN_RGB, 0.06)
    look["hair"] = _palette(rng, HAIR_RGB, 0.15)
    look["hair_style"] = ("short", "short", "long", "buzz")[int(rng.integers(4))]
    look["shirt"] = _hsv(rng, (0.0, 0.9), (0.15, 0.95))
    look["shirt2"] = _hsv(rng, (0.0, 0.9), (0.15, 0.95))
    look["pattern"] = ("plain", "plain", "stripes", "two_tone")[int(rng.integers(4))]
    look["stripe_mm"] = float(rng.uniform(30, 80))
    look["sleeves"] = "long" if rng.random() < 0.5 else "short"
    jeans = np.array([120, 70, 40], np.float32) * rng.uniform(0.6, 1.4)
    look["pants"] = jeans if rng.random() < 0.35 else _hsv(rng, (0.0, 0.7), (0.1, 0.8))
    look["shorts"] = bool(rng.random() < 0.2)
    look["belt"] = bool(rng.random() < 0.5)
    look["logo"] = _hsv(rng, (0.3, 1.0), (0.5, 1.0))
    # Left shoe always light, right shoe always dark (a left/right cue).
    look["shoe_l"] = _hsv(rng, (0.0, 0.35), (0.75, 1.0))
    look["shoe_r"] = _hsv(rng, (0.0, 0.6), (0.05, 0.3))
    look["watch"] = _hsv(rng, (0.0, 0.5), (0.03, 0.2))
    look["dial"] = _hsv(rng, (0.0, 0.15), (0.75, 1.0))
    return look


# --- primitives ---------------------------------------------------------------------------------

class _Canvas:
    """Colour, depth and part-ID buffers plus the camera intrinsics."""

    def __init__(self, image: np.ndarray, cam: dict, light: np.ndarray, ambient: float,
                 diffuse: float):
        self.img = image
        self.h, self.w = image.shape[:2]
        assert image.flags.c_contiguous  # the flat views below must alias the image
        self.z = np.full(self.h * self.w, np.inf, np.float32)
        self.zimg = self.z.reshape(self.h, self.w)
        self.ids = np.zeros((self.h, self.w), np.uint8)
        self.ids_flat = self.ids.reshape(-1)
        self.img_flat = image.reshape(-1, 3)
        self.fx, self.fy, self.cx, self.cy = cam["fx"], cam["fy"], cam["cx"], cam["cy"]
        self.R, self.t = cam["R"], cam["t"]
        self.light = light.astype(np.float32)
        self.ambient, self.diffuse = np.float32(ambient), np.float32(diffuse)

    def _box(self, u0: float, v0: float, u1: float, v1: float) -> tuple[int, int, int, int] | None:
        x0, y0 = max(int(np.floor(u0)), 0), max(int(np.floor(v0)), 0)
        x1, y1 = min(int(np.ceil(u1)) + 1, self.w), min(int(np.ceil(v1)) + 1, self.h)
        if x1 <= x0 or y1 <= y0:
            return None
        return x0, y0, x1, y1

    def _commit(self, box, yy: np.ndarray, xx: np.ndarray, depth: np.ndarray, normal_fn, color_fn,
                pid: int) -> None:
        """Depth-test covered pixels (bbox-relative rows/cols) and shade the winners."""
        x0, y0 = box[0], box[1]
        lin = (yy + y0) * self.w + (xx + x0)
        win = depth < self.z[lin]
        if not win.any():
            return
        lin = lin[win]
        n = normal_fn(win)                         # (k, 3) unit normals, camera frame
        base = color_fn(win)                       # (k, 3) BGR float
        lam = np.maximum(n @ self.light, 0.0)
        # A little rim darkening where the surface turns away from the camera.
        rim = np.float32(0.75) + np.float32(0.25) * np.abs(n[:, 2])
        col = base * ((self.ambient + self.diffuse * lam) * rim)[:, None]
        self.img_flat[lin] = np.minimum(col, 255.0).astype(np.uint8)  # col >= 0 already
        self.z[lin] = depth[win]
        self.ids_flat[lin] = pid

    def capsule(self, a: np.ndarray, b: np.ndarray, ra: float, rb: float, pid: int,
                color_fn) -> None:
        """Tapered capsule from camera point a to b (mm) with end radii ra, rb (mm).

        Depth and normal are those of the sphere swept along the projected axis, per pixel.
        ``color_fn(t)`` gets the position along the axis t in [0, 1] of the shaded pixels.
        """
        if a[2] < 100 or b[2] < 100:
            return
        ua, va = self.fx * a[0] / a[2] + self.cx, self.fy * a[1] / a[2] + self.cy
        ub, vb = self.fx * b[0] / b[2] + self.cx, self.fy * b[1] / b[2] + self.cy
        pa, pb = self.fx * ra / a[2], self.fx * rb / b[2]
        box = self._box(min(ua - pa, ub - pb), min(va - pa, vb - pb),
                        max(ua + pa, ub + pb), max(va + pa, vb + pb))
        if box is None:
            return
        x0, y0, x1, y1 = box
        # Cheap superset of the covered pixels from OpenCV, then exact tests per pixel.
        mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
        ax, ay = ub - ua, vb - va
        ln = float(np.hypot(ax, ay))
        sh = 16.0
        qa = np.array([ua - x0, va - y0]) * sh
        qb = np.array([ub - x0, vb - y0]) * sh
        if ln > 1e-6:
            nx, ny = -ay / ln, ax / ln
            quad = np.array([[qa[0] + nx * (pa + 1) * sh, qa[1] + ny * (pa + 1) * sh],
                             [qb[0] + nx * (pb + 1) * sh, qb[1] + ny * (pb + 1) * sh],
                             [qb[0] - nx * (pb + 1) * sh, qb[1] - ny * (pb + 1) * sh],
                             [qa[0] - nx * (pa + 1) * sh, qa[1] - ny * (pa + 1) * sh]])
            cv2.fillConvexPoly(mask, np.rint(quad).astype(np.int32), 1, cv2.LINE_8, 4)
        for q, rad in ((qa, pa), (qb, pb)):
            cv2.circle(mask, tuple(int(v) for v in np.rint(q)), int((rad + 1) * sh), 1, -1,
                       cv2.LINE_8, 4)
        yy, xx = np.nonzero(mask)
        if yy.size == 0:
            return
        px = xx.astype(np.float32) + np.float32(x0 - ua)
        py = yy.astype(np.float32) + np.float32(y0 - va)
        fax, fay = np.float32(ax), np.float32(ay)
        t = (px * fax + py * fay) * np.float32(1.0 / (ax * ax + ay * ay + 1e-6))
        t = np.minimum(np.maximum(t, 0.0, out=t), 1.0, out=t)
        ex = px - t * fax
        ey = py - t * fay
        d2 = ex * ex + ey * ey
        r = np.float32(pa) + t * np.float32(pb - pa)
        r2 = r * r
        ok = d2 < r2
        if not ok.any():
            return
        yy, xx, t, ex, ey, d2, r, r2 = yy[ok], xx[ok], t[ok], ex[ok], ey[ok], d2[ok], r[ok], r2[ok]
        h = np.sqrt(np.maximum(np.float32(1.0) - d2 / r2, 0.0))
        rmm = np.float32(ra) + t * np.float32(rb - ra)
        depth = np.float32(a[2]) + t * np.float32(b[2] - a[2]) - h * rmm

        def normal_fn(w):
            rr = r[w]
            return np.stack([ex[w] / rr, ey[w] / rr, -h[w]], axis=1)

        self._commit(box, yy, xx, depth, normal_fn, lambda w: color_fn(t[w]), pid)

    def ellipsoid(self, center: np.ndarray, rot: np.ndarray, axes: np.ndarray, pid: int,
                  color_fn) -> None:
        """Ray-cast ellipsoid: camera-frame centre (mm), rotation (columns = local axes), semi-axes.

        ``color_fn(p)`` gets unit-sphere local coordinates (k, 3): x left, y up, z forward.
        """
        rmax = float(axes.max())
        if center[2] - rmax < 100:
            return
        uc = self.fx * center[0] / center[2] + self.cx
        vc = self.fy * center[1] / center[2] + self.cy
        rpx = self.fx * rmax / (center[2] - rmax) + 1
        box = self._box(uc - rpx, vc - rpx, uc + rpx, vc + rpx)
        if box is None:
            return
        x0, y0, x1, y1 = box
        # Ray through pixel: (xn, yn, 1); in unit-sphere coordinates o + s * (m0 xn + m1 yn + m2).
        m = (rot / axes[None, :]).T
        o = -(m @ center)
        m0, m1, m2 = m[:, 0], m[:, 1], m[:, 2]
        al, be, ga = o @ m0, o @ m1, o @ m2
        cc = o @ o - 1.0
        # The discriminant is a quadratic polynomial in (xn, yn): hit where it is positive.
        kxx, kyy, k1 = al * al - cc * (m0 @ m0), be * be - cc * (m1 @ m1), ga * ga - cc * (m2 @ m2)
        kxy = 2 * (al * be - cc * (m0 @ m1))
        kx, ky = 2 * (al * ga - cc * (m0 @ m2)), 2 * (be * ga - cc * (m1 @ m2))
        xn = (np.arange(x0, x1, dtype=np.float64) - self.cx) / self.fx
        yn = (np.arange(y0, y1, dtype=np.float64) - self.cy) / self.fy
        px = ((kxx * xn + kx) * xn).astype(np.float32)[None, :]
        py = ((kyy * yn + ky) * yn + k1).astype(np.float32)[:, None]
        disc = (np.float32(kxy) * yn.astype(np.float32)[:, None]) * xn.astype(np.float32)[None, :]
        disc += px
        disc += py
        yy, xx = np.nonzero(disc > 0)
        if yy.size == 0:
            return
        x = xn.astype(np.float32)[xx]
        y = yn.astype(np.float32)[yy]
        m32 = m.astype(np.float32)
        d = [m32[k, 0] * x + m32[k, 1] * y + m32[k, 2] for k in range(3)]
        qa = d[0] * d[0] + d[1] * d[1] + d[2] * d[2]
        qb = np.float32(al) * x + np.float32(be) * y + np.float32(ga)
        root = np.sqrt(np.maximum(disc[yy, xx], 0.0))
        depth = (-qb - root) / qa  # the ray's z component is 1, so the parameter is the depth
        o32 = o.astype(np.float32)
        cache: dict = {}

        def normal_fn(w):
            ss = depth[w]
            p = np.stack([o32[k] + ss * d[k][w] for k in range(3)], axis=1)
            cache["p"] = p
            n = (p / axes[None, :].astype(np.float32)) @ rot.T.astype(np.float32)
            return n / np.linalg.norm(n, axis=1, keepdims=True)

        self._commit(box, yy, xx, depth, normal_fn, lambda w: color_fn(cache["p"]), pid)


# --- the person --------------------------------------------------------------------------------

def _bands(x: np.ndarray, period: float) -> np.ndarray:
    return (np.floor(x / period).astype(np.int64) & 1).astype(bool)


def _draw_person(cv: _Canvas, joints_c: np.ndarray, frames_c: dict, pivot_c: np.ndarray,
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
        return lambda t: np.where(_bands(start + t * length, per)[:, None], shirt2, shirt)

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
            c = np.where(_bands(top_mm + p[:, 1] * semi_y, per)[:, None], shirt2, shirt)
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


# --- background, occluders, post-processing ----------------------------------------------------

_NOISE_BANK: np.ndarray | None = None
_BANK_SIDE = 1024
_BANK_STD = 24.0


def _noise_bank() -> np.ndarray:
    """Fixed (1024, 1024, 3) uint8 Gaussian noise, mean 128, std 24 (same bytes everywhere)."""
    global _NOISE_BANK
    if _NOISE_BANK is None:
        g = np.random.Generator(np.random.PCG64(12345))
        noise = g.standard_normal((_BANK_SIDE, _BANK_SIDE, 3), dtype=np.float32) * _BANK_STD + 128.0
        _NOISE_BANK = np.clip(np.rint(noise), 0, 255).astype(np.uint8)
    return _NOISE_BANK


def _color(rng: np.random.Generator) -> tuple[int, int, int]:
    c = _hsv(rng, (0.0, 1.0), (0.05, 1.0))
    return int(c[0]), int(c[1]), int(c[2])


def _background(rng: np.random.Generator, w: int, h: int) -> np.ndarray:
    """Cluttered background: gradient + blotches, shapes, lines, patterns, text (uint8 BGR)."""
    gh, gw = int(rng.integers(2, 12)), int(rng.integers(2, 12))
    c1, c2 = _hsv(rng), _hsv(rng)
    ang = rng.uniform(0, 2 * np.pi)
    yy, xx = np.mgrid[0:gh, 0:gw].astype(np.float32)
    ramp = (xx / max(gw - 1, 1) * np.cos(ang) + yy / max(gh - 1, 1) * np.sin(ang))
    ramp = (ramp - ramp.min()) / max(float(np.ptp(ramp)), 1e-6)
    low = c1 + ramp[..., None] * (c2 - c1)
    low += rng.normal(0, rng.uniform(5, 45), (gh, gw, 3)).astype(np.float32)
    img = cv2.resize(np.clip(low, 0, 255).astype(np.uint8), (w, h), interpolation=cv2.INTER_CUBIC)
    scale = max(w, h)
    for _ in range(int(rng.integers(8, 30))):
        kind = int(rng.integers(7))
        col = _color(rng)
        p = (int(rng.integers(-w // 4, w + w // 4)), int(rng.integers(-h // 4, h + h // 4)))
        size = int(rng.uniform(0.02, 0.35) * scale)
        thick = -1 if rng.random() < 0.6 else int(rng.integers(1, 8))
        if kind == 0:
            q = (p[0] + int(rng.integers(-size, size + 1)),
                 p[1] + int(rng.integers(-size, size + 1)))
            cv2.rectangle(img, p, q, col, thick)
        elif kind == 1:
            cv2.circle(img, p, max(size // 2, 2), col, thick, cv2.LINE_AA)
        elif kind == 2:
            cv2.ellipse(img, p, (max(size // 2, 2), max(int(size * rng.uniform(0.1, 0.6)), 1)),
                        rng.uniform(0, 180), 0, 360, col, thick, cv2.LINE_AA)
        elif kind == 3:
            corners = rng.integers(-size, size + 1, (int(rng.integers(3, 7)), 2))
            pts = (np.array(p) + corners).astype(np.int32)
            cv2.fillPoly(img, [pts], col, cv2.LINE_AA)
        elif kind == 4:
            for _k in range(int(rng.integers(1, 6))):
                q = (int(rng.integers(0, w)), int(rng.integers(0, h)))
                cv2.line(img, p, q, col, int(rng.integers(1, 6)), cv2.LINE_AA)
        elif kind == 5:  # stripes or checker patch
            x0, y0 = max(p[0], 0), max(p[1], 0)
            x1, y1 = min(x0 + size, w), min(y0 + int(size * rng.uniform(0.5, 1.5)), h)
            if x1 - x0 > 4 and y1 - y0 > 4:
                cell = int(rng.integers(3, 20))
                col2 = np.array(_color(rng), np.uint8)
                yy_, xx_ = np.ogrid[y0:y1, x0:x1]
                if rng.random() < 0.5:
                    m = ((xx_ // cell + yy_ // cell) & 1).astype(bool)
                else:
                    slope = int(rng.integers(-1, 2))
                    m = np.broadcast_to(((xx_ + yy_ * slope) // cell & 1).astype(bool),
                                        (y1 - y0, x1 - x0))
                img[y0:y1, x0:x1][m] = col2
        elif rng.random() < 0.4:
            txt = "".join(chr(int(c)) for c in rng.integers(65, 91, int(rng.integers(2, 8))))
            cv2.putText(img, txt, p, int(rng.integers(0, 8)), rng.uniform(0.5, 2.0), col,
                        int(rng.integers(1, 5)), cv2.LINE_AA)
    # Limb-like distractors so "a rounded skin-coloured bar" alone does not mean "a person".
    for _ in range(int(rng.integers(0, 4))):
        c = _palette(rng, SKIN_RGB, 0.1) if rng.random() < 0.5 else _hsv(rng)
        col = tuple(int(v) for v in c)
        p = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        reach = max(scale // 6, 1)
        q = (p[0] + int(rng.integers(-reach, reach)), p[1] + int(rng.integers(-reach, reach)))
        cv2.line(img, p, q, col, max(int(rng.uniform(0.02, 0.06) * scale), 1), cv2.LINE_AA)
    return img


def _shadow(cv: _Canvas, joints_w: np.ndarray, subject: B.Subject, strength: float) -> None:
    """Soft contact shadow on the ground (y = 0) under the person."""
    c = joints_w[[J["root"], J["l_ankle"], J["r_ankle"]]].mean(0)
    r = 0.22 * subject.stature
    ang = np.linspace(0, 2 * np.pi, 24, endpoint=False)
    ring = np.stack([c[0] + r * np.cos(ang), np.zeros_like(ang), c[2] + 0.8 * r * np.sin(ang)], 1)
    cam = {"R": cv.R, "t": cv.t, "fx": cv.fx, "fy": cv.fy, "cx": cv.cx, "cy": cv.cy}
    xc = world_to_cam(ring, cam)
    if (xc[:, 2] < 200).any():
        return
    uv = project(xc, cam)
    pad = 12
    lo, hi = uv.min(0) - pad, uv.max(0) + pad
    box = cv._box(lo[0], lo[1], hi[0], hi[1])
    if box is None:
        return
    x0, y0, x1, y1 = box
    mask = np.zeros((y1 - y0, x1 - x0), np.float32)
    pts = np.rint((uv - [x0, y0]) * 16).astype(np.int32)
    cv2.fillConvexPoly(mask, pts, 1.0, cv2.LINE_AA, 4)
    k = min(max(3, int(0.15 * (uv[:, 0].max() - uv[:, 0].min())) | 1), 31)
    mask = cv2.GaussianBlur(mask, (k, k), 0)
    roi = cv.img[y0:y1, x0:x1]
    roi[:] = (roi * (1.0 - strength * mask)[..., None]).astype(np.uint8)


def _seat(cv: _Canvas, joints_w: np.ndarray, yaw: float, seat: dict) -> None:
    """A stool (and sometimes a backrest) under a sitting person, drawn as an occluder."""
    Ry = B.rot_y(yaw)
    root = joints_w[J["root"]]
    top = root[1] - 130.0
    if top < 150:
        return
    sz = seat["size"]
    col = seat["color"]

    def flat(t_or_p):
        return np.broadcast_to(col, (len(t_or_p), 3))

    def to_cam(p):
        return cv.R @ p + cv.t

    ctr = root + Ry @ np.array([0.0, 0.0, -60.0])
    ctr[1] = top - 30.0
    cv.ellipsoid(to_cam(ctr), cv.R @ Ry, np.array([230.0, 30.0, 210.0]) * sz, OCCLUDER_ID, flat)
    for sx in (-1.0, 1.0):
        for sz_ in (-1.0, 1.0):
            foot = ctr + Ry @ np.array([sx * 160.0 * sz, 0.0, sz_ * 150.0 * sz])
            foot[1] = 0.0
            knee = foot.copy()
            knee[1] = top - 40.0
            cv.capsule(to_cam(knee), to_cam(foot), 18.0, 15.0, OCCLUDER_ID, flat)
    if seat["back"]:
        back = ctr + Ry @ np.array([0.0, 280.0, -230.0 * sz])
        cv.ellipsoid(to_cam(back), cv.R @ Ry @ B.rot_x(-8.0), np.array([210.0, 230.0, 22.0]) * sz,
                     OCCLUDER_ID, flat)


def _occluders(rng: np.random.Generator, cv: _Canvas, box: np.ndarray) -> None:
    """Paint 1-2 objects over part of the person and mark them in the ID buffer."""
    x1, y1, x2, y2 = box
    bw, bh = x2 - x1, y2 - y1
    mask = np.zeros((cv.h, cv.w), np.uint8)
    for _ in range(int(rng.integers(1, 3))):
        m = np.zeros_like(mask)
        kind = int(rng.integers(3))
        cx, cy = rng.uniform(x1, x2), rng.uniform(y1 + 0.2 * bh, y2)
        if kind == 0:  # box / table edge
            hw, hh = rng.uniform(0.2, 0.7) * bw, rng.uniform(0.08, 0.3) * bh
            cv2.rectangle(m, (int(cx - hw), int(cy - hh)), (int(cx + hw), int(cy + hh)), 255, -1)
        elif kind == 1:  # pole
            hw = rng.uniform(0.04, 0.12) * bw
            cv2.rectangle(m, (int(cx - hw), -1), (int(cx + hw), cv.h), 255, -1)
        else:  # round object
            axes = (int(rng.uniform(0.1, 0.4) * bw) + 1, int(rng.uniform(0.05, 0.2) * bh) + 1)
            cv2.ellipse(m, (int(cx), int(cy)), axes, rng.uniform(0, 180), 0, 360, 255, -1)
        col = _hsv(rng, (0.0, 1.0), (0.2, 0.9))
        sel = m > 0
        # Vertical shading so the occluder looks solid.
        ys = np.nonzero(sel)[0].astype(np.float32)
        if ys.size:
            sh = 0.7 + 0.5 * (1.0 - (ys - ys.min()) / max(float(np.ptp(ys)), 1.0))
            cv.img[sel] = np.clip(col[None, :] * sh[:, None], 0, 255).astype(np.uint8)
        mask |= m
    cv.ids[mask > 0] = OCCLUDER_ID
    cv.zimg[mask > 0] = 0.0


def _post(rng: np.random.Generator, img: np.ndarray) -> np.ndarray:
    """Global lighting (gain, colour cast, gamma), blur, sensor noise and JPEG artefacts."""
    h, w = img.shape[:2]
    gain = rng.uniform(0.7, 1.25) * rng.uniform(0.9, 1.1, 3)
    bias = rng.uniform(-20, 20)
    gamma = rng.uniform(0.75, 1.35)
    base = (np.arange(256, dtype=np.float32) / 255.0) ** gamma * 255.0
    lut = np.clip(base[:, None] * gain[None, :] + bias, 0, 255).astype(np.uint8)
    img = cv2.LUT(img, lut.reshape(256, 1, 3))
    r = rng.random()
    if r < 0.6:
        img = cv2.GaussianBlur(img, (5, 5), rng.uniform(0.5, 1.2))
    elif r < 0.75:
        k = int(rng.integers(3, 8))
        kern = np.zeros((k, k), np.float32)
        cv2.line(kern, (0, int(rng.integers(k))), (k - 1, int(rng.integers(k))), 1.0, 1)
        img = cv2.filter2D(img, -1, kern / kern.sum())
    sigma = rng.uniform(0, 8)
    oy = int(rng.integers(max(_BANK_SIDE - h, 0) + 1))
    ox = int(rng.integers(max(_BANK_SIDE - w, 0) + 1))
    if sigma > 1:
        bank = _noise_bank()
        if h + oy > _BANK_SIDE or w + ox > _BANK_SIDE:
            reps = (-(-(h + oy) // _BANK_SIDE), -(-(w + ox) // _BANK_SIDE), 1)
            bank = np.tile(bank, reps)
        noise = bank[oy:oy + h, ox:ox + w]
        k = sigma / _BANK_STD
        img = cv2.addWeighted(img, 1.0, noise, k, -128.0 * k)
    if rng.random() < 0.4:
        ok, enc = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(30, 96))])
        img = cv2.imdecode(enc, cv2.IMREAD_COLOR)
    return img


# --- public API ----------------------------------------------------------------------------------

RENDER_OPTIONS = frozenset({
    "action", "pose", "subject", "camera", "focal", "distance_range", "max_fill", "truncation_prob",
    "occluder_prob", "background", "post", "light", "lr_cues", "draw_person", "return_ids"})


def render_person(rng: np.random.Generator, width: int = 640, height: int = 480,
                  **options: Any) -> dict:
    """Render one person in a cluttered scene with exact ground truth.

    Args:
        rng: per-sample generator (see :func:`sample_rng`).
        width, height: image size (px).
        **options:
            action (str): force one of :data:`body.ACTIONS` (default random).
            pose (dict): joint angles (degrees, :data:`body.LIMITS` keys) instead of sampling.
            subject (body.Subject): body instead of sampling.
            camera (dict): {R, t, fx, fy, cx, cy} instead of sampling (x_cam = R @ x_world + t).
            focal (float): mean focal length, default 1150 px.
            distance_range ((float, float)): camera distance in mm, default (3500, 6500).
            max_fill (float): largest fraction of the image the padded person box may fill (0.9).
            truncation_prob (float): chance that up to 35 % of the person box leaves the image
                (default 0.1).
            occluder_prob (float): chance of 1-2 occluder objects in front (default 0.2).
            background (str): "clutter" (default) or "plain" (flat grey, for tests only).
            post (bool): lighting/blur/noise/JPEG (default True).
            light ((3,) array): light direction in camera coordinates (towards the light;
                default random, from above).
            lr_cues (bool): False drops the left/right cues (watch, off-centre logo, unequal
                shoes); for tests and ablations only (default True).
            draw_person (bool): False renders the same scene without the person (default True).
            return_ids (bool): also return ``part_ids`` (H, W) uint8, the part-ID buffer
                (0 background, :data:`PID` body parts, :data:`OCCLUDER_ID`).

    Returns:
        dict with image (H, W, 3) uint8 BGR; joints_2d (18, 2) float64 px; joints_3d_cam (18, 3)
        mm; joints_3d_world (18, 3) mm; visible (18,) bool; in_image (18,) bool; camera dict;
        bbox (4,) [x1, y1, x2, y2] joint box padded by 10 % of its larger side (not clipped);
        center (2,) px; scale = bbox height / 200; action str; subject_params dict (stature_mm,
        bones_mm, girth, look, pose (angles, degrees), pose_class; plain Python values).
        Joints are in :data:`pose3d.skeleton.SYNTH18` order.

    Raises:
        TypeError: an unknown option name.
        ValueError: an unknown action.
    """
    unknown = set(options) - RENDER_OPTIONS
    if unknown:
        raise TypeError(f"render_person() got unknown option(s) {sorted(unknown)}; "
                        f"known: {sorted(RENDER_OPTIONS)}")
    if options.get("action") is not None and options["action"] not in B.ACTIONS:
        raise ValueError(f"unknown action {options['action']!r}; choose from {B.ACTIONS}")
    # Fixed draw order keeps every sample reproducible.
    subject = options.get("subject") or B.sample_subject(rng)
    if "pose" in options and options["pose"] is not None:
        pose = dict(B.neutral_pose(), **options["pose"])
        action = options.get("action") or "Posing"
        cls = "given"
    else:
        pose, action, cls = B.sample_pose(rng, options.get("action"))
    look = sample_look(rng)
    if subject.look:
        look.update(subject.look)
    joints_l, frames = B.forward_kinematics(pose, subject)
    lift = np.array([0.0, B.ground_offset(joints_l, subject), 0.0])
    joints_w = joints_l + lift
    pivot_w = frames["head_pivot"] + lift
    trunc = rng.random() < options.get("truncation_prob", 0.1)
    trunc_frac = rng.uniform(0.1, 0.35) if trunc else 0.0
    cam = options.get("camera")
    if cam is None:
        cam = sample_camera(rng, joints_w, width, height, focal=options.get("focal", 1150.0),
                            distance_range=options.get("distance_range", (3500.0, 6500.0)),
                            max_fill=options.get("max_fill", 0.9), truncate=trunc_frac)
    cam = {"R": np.asarray(cam["R"], np.float64), "t": np.asarray(cam["t"], np.float64),
           **{k: float(cam[k]) for k in ("fx", "fy", "cx", "cy")}}
    joints_c = world_to_cam(joints_w, cam)
    uv = project(joints_c, cam)
    Rc = cam["R"]
    frames_c = {k: Rc @ v for k, v in frames.items() if k != "head_pivot"}
    pivot_c = Rc @ pivot_w + cam["t"]

    if options.get("background", "clutter") == "plain":
        img = np.full((height, width, 3), 127, np.uint8)
    else:
        img = _background(rng, width, height)
    light = np.array([rng.uniform(-0.8, 0.8), rng.uniform(-1.0, -0.2), rng.uniform(-1.0, -0.3)])
    if options.get("light") is not None:
        light = np.asarray(options["light"], np.float64)
    light /= np.linalg.norm(light)
    amb = rng.uniform(0.3, 0.5)
    canvas = _Canvas(img, cam, light, amb, 1.05 - amb + rng.uniform(0.0, 0.25))
    if not options.get("lr_cues", True):
        look.update(shoe_r=look["shoe_l"], no_lr=True)
    # Scene extras; their random numbers are drawn even when unused so later draws never shift.
    shadow_k = rng.uniform(0.25, 0.55)
    seat = {"color": _hsv(rng, (0.0, 0.6), (0.15, 0.8)), "back": bool(rng.random() < 0.5),
            "size": rng.uniform(0.85, 1.15)}
    if options.get("draw_person", True):
        if options.get("background", "clutter") != "plain":
            _shadow(canvas, joints_w, subject, shadow_k)
        if cls == "sitting":
            _seat(canvas, joints_w, pose["yaw"], seat)
        _draw_person(canvas, joints_c, frames_c, pivot_c, subject, look)

    lo, hi = uv.min(0), uv.max(0)
    pad = 0.1 * float(max(hi - lo))
    bbox = np.array([lo[0] - pad, lo[1] - pad, hi[0] + pad, hi[1] + pad])
    if rng.random() < options.get("occluder_prob", 0.2):
        _occluders(rng, canvas, bbox)

    in_image = (uv[:, 0] >= -0.5) & (uv[:, 0] < width - 0.5)
    in_image &= (uv[:, 1] >= -0.5) & (uv[:, 1] < height - 0.5)
    visible = np.zeros(B.NUM_JOINTS, bool)
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
        if pid in own and joints_c[j, 2] - zs <= JOINT_DEPTH_SLACK[name] * subject.girth:
            visible[j] = True

    image = canvas.img
    if options.get("post", True):
        image = _post(rng, image)
    center = np.array([(bbox[0] + bbox[2]) / 2, (bbox[1] + bbox[3]) / 2])
    params = subject.to_dict()
    params["look"] = {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in look.items()}
    params.update({"pose": pose, "pose_class": cls})
    return {
        "image": np.ascontiguousarray(image),
        "joints_2d": uv,
        "joints_3d_cam": joints_c,
        "joints_3d_world": joints_w,
        "visible": visible,
        "in_image": in_image,
        "camera": cam,
        "bbox": bbox,
        "center": center,
        "scale": float((bbox[3] - bbox[1]) / 200.0),
        "action": action,
        "subject_params": params,
    } | ({"part_ids": canvas.ids} if options.get("return_ids") else {})


def _render_chunk(dataset: str, indices: Sequence[int], seed: int, opts: dict) -> list[dict]:
    # One OpenCV thread per process: the workers already use every core.
    before = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        return [render_person(sample_rng(seed, dataset, i), **opts) for i in indices]
    finally:
        cv2.setNumThreads(before)


def render_many(dataset: str, indices: Sequence[int], seed: int, workers: int = 1,
                **opts: Any) -> list[dict]:
    """Render ``render_person(sample_rng(seed, dataset, i), **opts)`` for each index, in order.

    Args:
        dataset: name mixed into every sample's seed (e.g. "mpii").
        indices: sample indices.
        seed: global seed.
        workers: processes (joblib/loky); results are identical for any value.
        **opts: forwarded to :func:`render_person` (width, height, ...).

    Returns:
        list of sample dicts, same order as ``indices``.
    """
    idx = [int(i) for i in indices]
    if workers <= 1 or len(idx) < 2:
        return _render_chunk(dataset, idx, seed, opts)
    from joblib import Parallel, delayed

    n_chunks = min(len(idx), workers * 4)
    chunks = [idx[k::n_chunks] for k in range(n_chunks)]
    parts = Parallel(n_jobs=workers, backend="loky")(
        delayed(_render_chunk)(dataset, c, seed, opts) for c in chunks)
    out: dict[int, dict] = {}
    for c, res in zip(chunks, parts):
        for k, r in zip(c, res):
            out[k] = r
    return [out[k] for k in idx]
