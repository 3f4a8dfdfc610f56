"""Render one synthetic person with exact 2D/3D ground truth (numpy + OpenCV only).

:func:`render_person` puts the pieces together in a fixed order: a body and pose (:mod:`.body`,
:mod:`.poses`), its look (:mod:`.appearance`), a camera (:mod:`.camera`), the scene
(:mod:`.scene`: cluttered background, contact shadow, seat, occluders), the body's shaded volumes
(:mod:`.person` through the rasteriser of :mod:`.raster`), joint visibility from the depth and
part-ID buffers (:mod:`.visibility`) and camera degradations (:mod:`.degrade`).

Every random choice comes from the ``rng`` passed in; :func:`sample_rng` derives it from
``(seed, dataset name, index)`` so a sample's bytes never depend on worker count or order.
"""
from __future__ import annotations

import hashlib
from typing import Any, Sequence

import numpy as np

from pose3d.synthetic import body as B
from pose3d.synthetic import poses
from pose3d.synthetic.appearance import hsv_color, sample_look
from pose3d.synthetic.batches import run_batches
from pose3d.synthetic.camera import project, sample_camera, world_to_cam
from pose3d.synthetic.degrade import NoiseBank, degrade
from pose3d.synthetic.person import draw_person
from pose3d.synthetic.raster import Canvas
from pose3d.synthetic.scene import background, occluders, seat, shadow
from pose3d.synthetic.visibility import joint_visibility


def _stable_hash(name: str) -> int:
    return int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:8], "little")


def sample_rng(seed: int, dataset: str, index: int) -> np.random.Generator:
    """Per-sample generator from (seed, dataset name, index), independent of workers.

    Uses a SHA-256 of the name (never Python's salted ``hash``) in a ``SeedSequence``.
    """
    ss = np.random.SeedSequence([int(seed) & 0xFFFFFFFFFFFFFFFF, _stable_hash(dataset), int(index)])
    return np.random.Generator(np.random.PCG64(ss))


RENDER_OPTIONS = frozenset({
    "action", "pose", "subject", "camera", "focal", "distance_range", "max_fill", "truncation_prob",
    "occluder_prob", "background", "post", "light", "lr_cues", "draw_person", "return_ids"})


def render_person(rng: np.random.Generator, width: int = 640, height: int = 480,
                  noise: NoiseBank | None = None, **options: Any) -> dict:
    """Render one person in a cluttered scene with exact ground truth.

    Args:
        rng: per-sample generator (see :func:`sample_rng`).
        width, height: image size (px).
        noise: the sensor-noise bank to draw from; pass one to reuse it over many images
            (default: a new bank, built only when the image gets noise).
        **options:
            action (str): force one of :data:`poses.ACTIONS` (default random).
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
                (0 background, :data:`.person.PID` body parts, :data:`.scene.OCCLUDER_ID`).

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
    if options.get("action") is not None and options["action"] not in poses.ACTIONS:
        raise ValueError(f"unknown action {options['action']!r}; choose from {poses.ACTIONS}")
    # Fixed draw order keeps every sample reproducible.
    subject = options.get("subject") or B.sample_subject(rng)
    if "pose" in options and options["pose"] is not None:
        pose = dict(poses.neutral_pose(), **options["pose"])
        action = options.get("action") or "Posing"
        cls = "given"
    else:
        pose, action, cls = poses.sample_pose(rng, options.get("action"))
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
        img = background(rng, width, height)
    light = np.array([rng.uniform(-0.8, 0.8), rng.uniform(-1.0, -0.2), rng.uniform(-1.0, -0.3)])
    if options.get("light") is not None:
        light = np.asarray(options["light"], np.float64)
    light /= np.linalg.norm(light)
    amb = rng.uniform(0.3, 0.5)
    canvas = Canvas(img, cam, light, amb, 1.05 - amb + rng.uniform(0.0, 0.25))
    if not options.get("lr_cues", True):
        look.update(shoe_r=look["shoe_l"], no_lr=True)
    # Scene extras; their random numbers are drawn even when unused so later draws never shift.
    shadow_k = rng.uniform(0.25, 0.55)
    seat_look = {"color": hsv_color(rng, (0.0, 0.6), (0.15, 0.8)),
                 "back": bool(rng.random() < 0.5), "size": rng.uniform(0.85, 1.15)}
    if options.get("draw_person", True):
        if options.get("background", "clutter") != "plain":
            shadow(canvas, joints_w, subject, shadow_k)
        if cls == "sitting":
            seat(canvas, joints_w, pose["yaw"], seat_look)
        draw_person(canvas, joints_c, frames_c, pivot_c, subject, look)

    lo, hi = uv.min(0), uv.max(0)
    pad = 0.1 * float(max(hi - lo))
    bbox = np.array([lo[0] - pad, lo[1] - pad, hi[0] + pad, hi[1] + pad])
    if rng.random() < options.get("occluder_prob", 0.2):
        occluders(rng, canvas, bbox)

    in_image = (uv[:, 0] >= -0.5) & (uv[:, 0] < width - 0.5)
    in_image &= (uv[:, 1] >= -0.5) & (uv[:, 1] < height - 0.5)
    visible = joint_visibility(canvas, uv, joints_c, in_image, subject.girth)

    image = canvas.img
    if options.get("post", True):
        image = degrade(rng, image, noise or NoiseBank())
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


def render_many(dataset: str, indices: Sequence[int], seed: int, workers: int = 1,
                **opts: Any) -> list[dict]:
    """Render ``render_person(sample_rng(seed, dataset, i), **opts)`` for each index, in order.

    Args:
        dataset: name mixed into every sample's seed (e.g. "mpii").
        indices: sample indices.
        seed: global seed.
        workers: processes; results are identical for any value.
        **opts: forwarded to :func:`render_person` (width, height, ...).

    Returns:
        list of sample dicts, same order as ``indices``.
    """
    return run_batches(_render_one, [(dataset, int(i), seed, opts) for i in indices], workers)


def _render_one(dataset: str, index: int, seed: int, opts: dict, noise: NoiseBank) -> dict:
    return render_person(sample_rng(seed, dataset, index), noise=noise, **opts)
