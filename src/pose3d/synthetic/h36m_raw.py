"""Synthetic miniature of the official Human3.6M release, laid out as its archives extract.

Writes under ``<out_dir>/h36m_raw/`` (the ``--src`` of ``scripts/prepare_data.py h36m``)::

    S<n>/Videos/<Action>.<camera>.mp4                            mp4v, 50 fps
    S<n>/MyPoseFeatures/D2_Positions/<Action>.<camera>.cdf       Pose (1, N, 64) px
    S<n>/MyPoseFeatures/D3_Positions_mono/<Action>.<camera>.cdf  Pose (1, N, 96) mm, camera frame
    S<n>/MyPoseFeatures/D3_Positions/<Action>.cdf                Pose (1, N, 96) mm, world frame

``num`` is the number of pose frames per video. The tree holds the release's quirks: a take
number after a space (``Directions 1``), a subject's own spelling (S1's ``TakingPhoto``,
S11's ``WalkingDog``), frames 1000 x 1002 for cameras 54138969 and 60457274 and 1000 x 1000 for
the others, one video two frames longer than its poses, and S11's ``Directions.54138969.mp4``
cut short (the release's damaged video).

The 32 rows of ``Pose`` follow :data:`pose3d.skeleton.H36M32`: the 17 joints shared with the
renderer's body are its exact joints; toes, hands and thumbs extend the limb past its last
joint, end sites repeat their parent, the collars repeat the thorax and the lower spine point
is the middle of root and spine. A camera's 2D rows are the pinhole projection of its 3D rows.
All videos of a take show the same poses from four fixed cameras around the person.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path

import cv2
import numpy as np

from pose3d.skeleton import H36M32, SYNTH18
from pose3d.synthetic import body as B
from pose3d.synthetic.appearance import sample_look
from pose3d.synthetic.camera import look_at, project, world_to_cam
from pose3d.synthetic.common import run_samples
from pose3d.synthetic.degrade import NoiseBank
from pose3d.synthetic.poses import sample_pose
from pose3d.synthetic.render import render_person, sample_rng

logger = logging.getLogger(__name__)

FPS = 50
# camera id -> (azimuth deg, distance mm, eye height mm, focal px, (width, height))
CAMERAS = {
    "54138969": (40.0, 5200.0, 1600.0, 1145.0, (1000, 1002)),
    "55011271": (-50.0, 4800.0, 1550.0, 1150.0, (1000, 1000)),
    "58860488": (140.0, 5000.0, 1650.0, 1150.0, (1000, 1000)),
    "60457274": (-130.0, 5400.0, 1600.0, 1145.0, (1000, 1002)),
}
# (subject, file stem, cameras): two subjects, the first of the train and of the val split.
SEQUENCES = (
    ("S1", "Directions 1", ("54138969", "55011271")),
    ("S1", "TakingPhoto", ("58860488", "60457274")),
    ("S11", "Directions", ("54138969", "55011271")),
    ("S11", "WalkingDog 1", ("58860488", "60457274")),
)
LONGER_VIDEOS = {("S1", "TakingPhoto", "60457274"): 2}   # extra video frames past the poses
DAMAGED_VIDEOS = {("S11", "Directions", "54138969")}
ACTION_OF = {"TakingPhoto": "Photo", "WalkingDog": "WalkDog"}
# Extra joints: (name, parent, child, t) -> child + t * (child - parent); t = 0 repeats child.
_EXTENDED = (("r_toe", "r_knee", "r_ankle", 0.25), ("r_toe_end", "r_knee", "r_ankle", 0.25),
             ("l_toe", "l_knee", "l_ankle", 0.25), ("l_toe_end", "l_knee", "l_ankle", 0.25),
             ("l_collar", "spine", "thorax", 0.0), ("r_collar", "spine", "thorax", 0.0),
             ("l_thumb", "l_elbow", "l_wrist", 0.2), ("l_thumb_end", "l_elbow", "l_wrist", 0.2),
             ("l_hand", "l_elbow", "l_wrist", 0.35), ("l_hand_end", "l_elbow", "l_wrist", 0.35),
             ("r_thumb", "r_elbow", "r_wrist", 0.2), ("r_thumb_end", "r_elbow", "r_wrist", 0.2),
             ("r_hand", "r_elbow", "r_wrist", 0.35), ("r_hand_end", "r_elbow", "r_wrist", 0.35),
             ("spine_base", "spine", "root", -0.5))


def camera(cam_id: str) -> dict:
    """The fixed pinhole camera ``{R, t, fx, fy, cx, cy}`` of ``cam_id`` (mm, px)."""
    azimuth, dist, height, focal, (w, h) = CAMERAS[cam_id]
    a = np.deg2rad(azimuth)
    eye = np.array([dist * np.sin(a), height, -dist * np.cos(a)])
    rot, t = look_at(eye, np.array([0.0, 900.0, 0.0]))
    return {"R": rot, "t": t, "fx": focal, "fy": focal, "cx": w / 2 + 12.0, "cy": h / 2 + 14.0}


def joints32(joints18: np.ndarray) -> np.ndarray:
    """(18, 3) body joints (SYNTH18 order) -> (32, 3) in the release's H36M32 order."""
    out = np.zeros((len(H36M32), 3))
    for name in H36M32:
        if name in SYNTH18.names:
            out[H36M32.index(name)] = joints18[SYNTH18.index(name)]
    for name, parent, child, t in _EXTENDED:
        p, c = joints18[SYNTH18.index(parent)], joints18[SYNTH18.index(child)]
        out[H36M32.index(name)] = c + t * (c - p)
    return out


def write_cdf(path: Path, pose: np.ndarray) -> None:
    """Write ``Pose`` as one record of shape (N, D) (read back as (1, N, D)), CDF_DOUBLE."""
    from cdflib.cdfwrite import CDF

    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        path.unlink()
    pose = np.asarray(pose, dtype=np.float64)[None]
    cdf = CDF(str(path), cdf_spec={"Majority": "Row_major", "Compressed": False})
    cdf.write_var({"Variable": "Pose", "Data_Type": CDF.CDF_DOUBLE, "Num_Elements": 1,
                   "Rec_Vary": True, "Dim_Sizes": list(pose.shape[1:])}, var_data=pose)
    cdf.close()


def _take(out_dir: Path, subject: str, stem: str, cams: tuple[str, ...], num: int,
          seed: int, noise: NoiseBank) -> int:
    """Render and write one take (all its cameras); returns the number of videos written."""
    root = out_dir / subject
    action = stem.split(" ")[0]
    action = ACTION_OF.get(action, action)
    key = f"h36m_raw/{subject}/{stem}"
    rng = sample_rng(seed, key, 0)
    person = B.sample_subject(rng)
    person.look = sample_look(rng)
    extra = max(LONGER_VIDEOS.get((subject, stem, c), 0) for c in cams)
    poses = [sample_pose(sample_rng(seed, key, f + 1), action)[0] for f in range(num + extra)]
    world = None
    for cam_id in cams:
        cam = camera(cam_id)
        w, h = CAMERAS[cam_id][4]
        video = root / "Videos" / f"{stem}.{cam_id}.mp4"
        video.parent.mkdir(parents=True, exist_ok=True)
        writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), FPS, (w, h))
        rows = []
        for f in range(num + LONGER_VIDEOS.get((subject, stem, cam_id), 0)):
            # One generator per camera: the background and light stay fixed like a real camera.
            r = render_person(sample_rng(seed, f"{key}/{cam_id}", 0), w, h, pose=poses[f],
                              subject=person, camera=cam, action=action, occluder_prob=0.0,
                              truncation_prob=0.0, noise=noise)
            writer.write(r["image"])
            rows.append(joints32(r["joints_3d_world"]))
        writer.release()
        world = np.stack(rows[:num])                       # (num, 32, 3) mm
        cam3d = np.stack([world_to_cam(j, cam) for j in world])
        cam2d = np.stack([project(j, cam) for j in cam3d])
        feats = root / "MyPoseFeatures"
        write_cdf(feats / "D3_Positions_mono" / f"{stem}.{cam_id}.cdf", cam3d.reshape(num, -1))
        write_cdf(feats / "D2_Positions" / f"{stem}.{cam_id}.cdf", cam2d.reshape(num, -1))
        if (subject, stem, cam_id) in DAMAGED_VIDEOS:
            data = video.read_bytes()
            video.write_bytes(data[:len(data) // 3])
    write_cdf(root / "MyPoseFeatures" / "D3_Positions" / f"{stem}.cdf", world.reshape(num, -1))
    return len(cams)


def write(out_dir: str | os.PathLike, num: int, seed: int, workers: int) -> None:
    """Write the miniature release (``num`` pose frames per video) under ``out_dir/h36m_raw``."""
    root = Path(out_dir) / "h36m_raw"
    jobs = [(root, s, stem, cams, num, seed) for s, stem, cams in SEQUENCES]
    videos = sum(run_samples(_take, jobs, workers))
    logger.info("h36m_raw: %d videos of %d frames -> %s", videos, num, root)
