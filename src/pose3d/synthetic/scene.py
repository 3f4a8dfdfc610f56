"""Scene around a synthetic person: cluttered background, contact shadow, seat and occluders."""
from __future__ import annotations

import cv2
import numpy as np

from pose3d.synthetic import body as B
from pose3d.synthetic.appearance import SKIN_RGB, hsv_color, palette
from pose3d.synthetic.camera import project, world_to_cam
from pose3d.synthetic.raster import Canvas

J = B.J
OCCLUDER_ID = 250   # part ID of occluding objects in the ID buffer


def _color(rng: np.random.Generator) -> tuple[int, int, int]:
    c = hsv_color(rng, (0.0, 1.0), (0.05, 1.0))
    return int(c[0]), int(c[1]), int(c[2])


def background(rng: np.random.Generator, w: int, h: int) -> np.ndarray:
    """Cluttered background: gradient + blotches, shapes, lines, patterns, text (uint8 BGR)."""
    gh, gw = int(rng.integers(2, 12)), int(rng.integers(2, 12))
    c1, c2 = hsv_color(rng), hsv_color(rng)
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
        c = palette(rng, SKIN_RGB, 0.1) if rng.random() < 0.5 else hsv_color(rng)
        col = tuple(int(v) for v in c)
        p = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        reach = max(scale // 6, 1)
        q = (p[0] + int(rng.integers(-reach, reach)), p[1] + int(rng.integers(-reach, reach)))
        cv2.line(img, p, q, col, max(int(rng.uniform(0.02, 0.06) * scale), 1), cv2.LINE_AA)
    return img


def shadow(cv: Canvas, joints_w: np.ndarray, subject: B.Subject, strength: float) -> None:
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
    box = cv.clip_box(lo[0], lo[1], hi[0], hi[1])
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


def seat(cv: Canvas, joints_w: np.ndarray, yaw: float, style: dict) -> None:
    """A stool (and sometimes a backrest) under a sitting person, drawn as an occluder.

    ``style``: ``color`` (3,) BGR, ``back`` (has a backrest), ``size`` (scale factor).
    """
    Ry = B.rot_y(yaw)
    root = joints_w[J["root"]]
    top = root[1] - 130.0
    if top < 150:
        return
    sz = style["size"]
    col = style["color"]

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
    if style["back"]:
        back = ctr + Ry @ np.array([0.0, 280.0, -230.0 * sz])
        cv.ellipsoid(to_cam(back), cv.R @ Ry @ B.rot_x(-8.0), np.array([210.0, 230.0, 22.0]) * sz,
                     OCCLUDER_ID, flat)


def occluders(rng: np.random.Generator, cv: Canvas, box: np.ndarray) -> None:
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
        col = hsv_color(rng, (0.0, 1.0), (0.2, 0.9))
        sel = m > 0
        # Vertical shading so the occluder looks solid.
        ys = np.nonzero(sel)[0].astype(np.float32)
        if ys.size:
            sh = 0.7 + 0.5 * (1.0 - (ys - ys.min()) / max(float(np.ptp(ys)), 1.0))
            cv.img[sel] = np.clip(col[None, :] * sh[:, None], 0, 255).astype(np.uint8)
        mask |= m
    cv.ids[mask > 0] = OCCLUDER_ID
    cv.zimg[mask > 0] = 0.0
