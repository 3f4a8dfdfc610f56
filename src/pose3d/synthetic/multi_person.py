"""Pictures of several rendered people seen by one camera, with every person's exact ground truth.

Each person is rendered alone by :func:`render.render_person` with the shared intrinsics and a
camera shifted so that the person stands at ``(X, 0, Z)`` in front of a level camera
(``cam_height`` mm above the ground, looking along +Z); the people are then pasted far to near
(their part-ID masks) onto one cluttered background rendered with the same camera, so nearer
people hide farther ones. The same ``seed`` always gives the same people, looks and background,
so moving the placements frame by frame makes a video of the same people walking sideways.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from pose3d.skeleton import MPII16, SYNTH18, SYNTH18_ALIASES
from pose3d.synthetic.camera import look_at
from pose3d.synthetic.render import render_person
from pose3d.synthetic.scene import OCCLUDER_ID

# SYNTH18 index of every MPII16 joint (network order).
MPII_FROM_SYNTH = [SYNTH18.index(SYNTH18_ALIASES.get(n, n)) for n in MPII16.names]
# Upright actions by default: people a pedestrian detector is meant to find.
DEFAULT_ACTIONS = ("Walking", "Directions", "Waiting", "Greeting")
CAM_HEIGHT_MM = 950.0


def default_focal(height: int) -> float:
    """A focal length that keeps a standing adult 4 m away inside a picture of this height."""
    return 1.6 * height


def sample_placements(rng: np.random.Generator, num_people: int, width: int, focal: float,
                      depth_range: tuple[float, float] = (4000.0, 6500.0)
                      ) -> list[tuple[float, float]]:
    """Ground positions (X, Z) in mm, one person per vertical strip of the picture, left to right.

    Args:
        rng: random generator.
        num_people: how many people.
        width: picture width in pixels (strips are ``width / num_people`` wide).
        focal: focal length in pixels.
        depth_range: distance range of the people from the camera (mm).
    """
    out = []
    for k in range(num_people):
        z = float(rng.uniform(*depth_range))
        u = width * (k + 0.5 + rng.uniform(-0.1, 0.1)) / num_people
        out.append(((u - (width - 1) / 2.0) * z / focal, z))
    return out


def _mask_box(ids: np.ndarray) -> list[float]:
    ys, xs = np.nonzero((ids > 0) & (ids != OCCLUDER_ID))
    if len(xs) == 0:
        return [0.0, 0.0, 0.0, 0.0]
    return [float(xs.min()), float(ys.min()), float(xs.max() - xs.min() + 1),
            float(ys.max() - ys.min() + 1)]


def render_group(seed: int, placements: Sequence[tuple[float, float]], width: int = 480,
                 height: int = 360, focal: float | None = None,
                 actions: Sequence[str] = DEFAULT_ACTIONS,
                 cam_height: float = CAM_HEIGHT_MM) -> dict:
    """Render one picture of ``len(placements)`` people.

    Args:
        seed: fixes the people (body, pose, look) and the background.
        placements: (X, Z) ground position of each person in mm (camera frame, level camera).
        width, height: picture size in pixels.
        focal: focal length in pixels (default :func:`default_focal`).
        actions: pose action of person i is ``actions[i % len(actions)]``.
        cam_height: camera height above the ground in mm.

    Returns:
        dict with image (H, W, 3) uint8 BGR, camera {fx, fy, cx, cy} and people, in placement
        order, each {box [x, y, w, h] px of the visible silhouette (before occlusion by nearer
        people), joints_2d (16, 2) px, joints_3d_cam (16, 3) mm, both in MPII16 order,
        root_depth mm (pelvis Z)}.
    """
    focal = default_focal(height) if focal is None else float(focal)
    rot, _ = look_at(np.array([0.0, cam_height, 0.0]), np.array([0.0, cam_height, 1.0]))
    intr = {"fx": focal, "fy": focal, "cx": (width - 1) / 2.0, "cy": (height - 1) / 2.0}
    quiet = {"truncation_prob": 0.0, "occluder_prob": 0.0, "post": False}
    scene = render_person(np.random.default_rng([seed, 0]), width, height, draw_person=False,
                          camera={"R": rot, "t": -rot @ np.array([0.0, cam_height, -5000.0]),
                                  **intr}, **quiet)
    image = scene["image"].copy()
    people = []
    for i, (x, z) in enumerate(placements):
        cam = {"R": rot, "t": -rot @ np.array([x, cam_height, -z]), **intr}
        person = render_person(np.random.default_rng([seed, i + 1]), width, height,
                               camera=cam, background="plain", return_ids=True,
                               action=actions[i % len(actions)], **quiet)
        j3 = person["joints_3d_cam"][MPII_FROM_SYNTH]
        people.append({"box": _mask_box(person["part_ids"]),
                       "joints_2d": person["joints_2d"][MPII_FROM_SYNTH], "joints_3d_cam": j3,
                       "root_depth": float(j3[MPII16.index("pelvis"), 2]),
                       "_pixels": (person["part_ids"], person["image"])})
    for p in sorted(people, key=lambda q: -q["root_depth"]):
        ids, pixels = p.pop("_pixels")
        mask = (ids > 0) & (ids != OCCLUDER_ID)
        image[mask] = pixels[mask]
    return {"image": image, "camera": intr, "people": people}
