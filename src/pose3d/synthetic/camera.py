"""Pinhole cameras for the synthetic engine.

A camera is a dict ``{R (3,3), t (3,) mm, fx, fy, cx, cy}`` with ``x_cam = R @ x_world + t``; the
camera looks along +Z with +Y pointing down the image, so ``u = fx*X/Z + cx`` and
``v = fy*Y/Z + cy`` in 0-based pixel-centre coordinates. The world frame is Y-up (ground
``y = 0``). :func:`sample_camera` puts the camera 3.5-6.5 m in front of the person (on the world
-Z side, looking along +Z, slightly pitched), with fx, fy about 1150 px (+-10 %), then slides it
sideways so that the person lands at a random place inside the image.
"""
from __future__ import annotations

import numpy as np

MEAN_FOCAL_PX = 1150.0
DISTANCE_RANGE_MM = (3500.0, 6500.0)


def world_to_cam(x_world: np.ndarray, cam: dict) -> np.ndarray:
    """(N, 3) world mm -> (N, 3) camera mm."""
    return np.asarray(x_world, dtype=np.float64) @ np.asarray(cam["R"]).T + np.asarray(cam["t"])


def project(x_cam: np.ndarray, cam: dict) -> np.ndarray:
    """(N, 3) camera mm -> (N, 2) pixels (0-based pixel centres)."""
    x = np.asarray(x_cam, dtype=np.float64)
    z = x[:, 2]
    return np.stack([cam["fx"] * x[:, 0] / z + cam["cx"], cam["fy"] * x[:, 1] / z + cam["cy"]],
                    axis=1)


def look_at(eye: np.ndarray, target: np.ndarray,
            roll_deg: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Rotation and translation of a camera at ``eye`` (world mm) looking at ``target``.

    Returns:
        (R (3, 3), t (3,)) with x_cam = R @ x_world + t, image y pointing down (world Y is up).
    """
    eye = np.asarray(eye, dtype=np.float64)
    f = np.asarray(target, dtype=np.float64) - eye
    f /= np.linalg.norm(f)
    r = np.cross(f, np.array([0.0, 1.0, 0.0]))
    r /= np.linalg.norm(r)
    d = np.cross(f, r)
    rot = np.stack([r, d, f])
    a = np.deg2rad(roll_deg)
    c, s = np.cos(a), np.sin(a)
    rot = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]]) @ rot
    return rot, -rot @ eye


def _extent(uv: np.ndarray, pad: float) -> tuple[float, float, float, float]:
    lo, hi = uv.min(0), uv.max(0)
    m = pad * float(max(hi - lo))
    return lo[0] - m, lo[1] - m, hi[0] + m, hi[1] + m


def sample_camera(rng: np.random.Generator, joints_world: np.ndarray, width: int, height: int,
                  focal: float = MEAN_FOCAL_PX,
                  distance_range: tuple[float, float] = DISTANCE_RANGE_MM, max_fill: float = 0.9,
                  truncate: float = 0.0, pad: float = 0.1) -> dict:
    """Draw a camera that sees the person.

    Args:
        rng: random generator.
        joints_world: (18, 3) mm, Y-up world.
        width, height: image size (px).
        focal: mean focal length (px); fx is drawn within +-10 %, fy within +-1 % of fx.
        distance_range: camera-to-root distance (mm).
        max_fill: largest fraction of the image side the padded joint box may take; when the
            drawn distance is too short the camera backs off, up to the far end of
            ``distance_range``, and beyond that the focal length shrinks.
        truncate: fraction of the padded joint box allowed outside the image (0 = inside).
        pad: padding of the joint box, as a fraction of its larger side.

    Returns:
        camera dict {R, t, fx, fy, cx, cy} (float64 arrays / floats).
    """
    fx = focal * rng.uniform(0.9, 1.1)
    fy = fx * rng.uniform(0.99, 1.01)
    cx = (width - 1) / 2.0 + rng.uniform(-0.02, 0.02) * width
    cy = (height - 1) / 2.0 + rng.uniform(-0.02, 0.02) * height
    dist = rng.uniform(*distance_range)
    cam_h = rng.uniform(900.0, 1800.0)
    roll = rng.uniform(-3.0, 3.0)
    lo, hi = joints_world.min(0), joints_world.max(0)
    target = (lo + hi) / 2.0
    side = rng.uniform(-400.0, 400.0)
    eye = np.array([target[0] + side, cam_h, target[2] - dist])
    R, t = look_at(eye, target, roll)
    cam = {"R": R, "t": t, "fx": float(fx), "fy": float(fy), "cx": float(cx), "cy": float(cy)}
    # Back off (or zoom out) until the padded box fits.
    for _ in range(4):
        xc = world_to_cam(joints_world, cam)
        x1, y1, x2, y2 = _extent(project(xc, cam), pad)
        k = max((x2 - x1) / (max_fill * width), (y2 - y1) / (max_fill * height))
        if k <= 1.0:
            break
        zc = float(np.median(xc[:, 2]))
        want = zc * k * 1.02
        new_z = min(want, max(distance_range[1], zc))
        cam["t"] = cam["t"] + np.array([0.0, 0.0, new_z - zc])
        if new_z < want:
            s = new_z / want
            cam["fx"] *= s
            cam["fy"] *= s
    # Slide the camera so the box centre lands at a random allowed position.
    xc = world_to_cam(joints_world, cam)
    x1, y1, x2, y2 = _extent(project(xc, cam), pad)
    bw, bh = x2 - x1, y2 - y1
    slack_x = truncate * bw
    slack_y = truncate * bh
    lo_u, hi_u = bw / 2 - slack_x, width - 1 - bw / 2 + slack_x
    lo_v, hi_v = bh / 2 - slack_y, height - 1 - bh / 2 + slack_y
    tu = rng.uniform(min(lo_u, hi_u), max(lo_u, hi_u)) if hi_u > lo_u else (width - 1) / 2
    tv = rng.uniform(min(lo_v, hi_v), max(lo_v, hi_v)) if hi_v > lo_v else (height - 1) / 2
    for _ in range(3):
        xc = world_to_cam(joints_world, cam)
        x1, y1, x2, y2 = _extent(project(xc, cam), pad)
        z = float(np.median(xc[:, 2]))
        du = tu - (x1 + x2) / 2
        dv = tv - (y1 + y2) / 2
        cam["t"] = cam["t"] + np.array([du * z / cam["fx"], dv * z / cam["fy"], 0.0])
    return cam
