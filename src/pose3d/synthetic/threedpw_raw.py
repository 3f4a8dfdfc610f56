"""Miniature of the official 3DPW release, for ``scripts/prepare_data.py 3dpw``.

Writes ``num`` frames per sequence, laid out as the release extracts::

    3dpw_raw/sequenceFiles/{train,validation,test}/<sequence>.pkl
    3dpw_raw/imageFiles/<sequence>/image_%05d.jpg      0-based, 1080 x 1920 or 1920 x 1080

A sequence file is a protocol-2 pickle of a dict read with ``encoding='latin1'`` (numpy arrays
under ``numpy.core.multiarray`` as in the Python-2 originals) with every key of the release:
``sequence`` str; per actor (lists): ``betas`` (10,), ``poses`` (N, 72), ``trans`` (N, 3),
``poses_60Hz`` (2N, 72), ``trans_60Hz`` (2N, 3), ``betas_clothed`` (10,),
``v_template_clothed`` (6890, 3), ``genders`` 'm'/'f', ``texture_maps`` (64, 64, 3) uint8 (the
release's are larger images), ``poses2d`` (N, 3, 18) OpenPose COCO-18 rows x, y, confidence
(undetected joints 0, 0, 0), ``jointPositions`` (N, 72) the 24 SMPL joints in the world frame
(metres), ``campose_valid`` (N,) bool; per sequence: ``img_frame_ids`` (N,) int64,
``cam_poses`` (N, 4, 4) world-to-camera (metres), ``cam_intrinsics`` (3, 3). Floats are float64.

The rendered body has the 17 H36M joints and a head top; the SMPL joints it lacks are placed
on it (spine points between root, spine and thorax; collars between thorax and shoulders; hands
and feet beyond wrists and ankles); SMPL ``head`` is the body's head and ``neck`` lies as far
below it as the head top above it (SMPL's neck joint sits at the top of the neck).
SMPL pose and shape parameters are random numbers that do not describe the rendered body (no
SMPL model is available to the engine). The second actor of a sequence is rendered with the same
camera and pasted into the first one's frame. Some actor-frames have ``campose_valid`` false.
"""
import logging
import pickle
from pathlib import Path

import numpy as np

from pose3d.skeleton import OPENPOSE18, SMPL24, SYNTH18
from pose3d.synthetic.camera import look_at
from pose3d.synthetic.common import face_points, run_samples, write_jpeg
from pose3d.synthetic.degrade import NoiseBank
from pose3d.synthetic.render import render_person, sample_rng

logger = logging.getLogger(__name__)

ROOT = "3dpw_raw"
# (split folder, sequence, actors, (width, height)); real sequence names.
SEQUENCES = (
    ("train", "courtyard_arguing_00", 2, (1080, 1920)),
    ("train", "outdoors_climbing_00", 1, (1920, 1080)),
    ("validation", "courtyard_hug_00", 2, (1080, 1920)),
    ("test", "downtown_walking_00", 1, (1080, 1920)),
)
FOCAL_PX = 1961.0          # the release's phone camera
ACTOR_SPACING_MM = 900.0   # two actors stand side by side
_J = {n: i for i, n in enumerate(SYNTH18.names)}


def sequence_path(out_dir: Path, split: str, seq: str) -> Path:
    return Path(out_dir) / ROOT / "sequenceFiles" / split / f"{seq}.pkl"


def image_path(out_dir: Path, seq: str, frame: int) -> Path:
    return Path(out_dir) / ROOT / "imageFiles" / seq / f"image_{frame:05d}.jpg"


def campose_valid(actor: int, frame: int, num: int) -> bool:
    """Actor-frames marked unusable: actor 0's last frame and actor 1's second frame."""
    if num < 3:
        return True
    return not ((actor == 0 and frame == num - 1) or (actor == 1 and frame == 1))


def frame_camera(seed: int, seq_index: int, frame: int) -> dict:
    """World-to-camera {R, t (mm), fx, fy, cx, cy} of one frame; intrinsics fixed per sequence."""
    _, seq, _, (w, h) = SEQUENCES[seq_index]
    rng = sample_rng(seed, f"{ROOT}/{seq}/camera", frame)
    dist = rng.uniform(4800.0, 6500.0) if w > h else rng.uniform(4000.0, 5500.0)
    yaw = np.radians(rng.uniform(-25.0, 25.0))
    eye = np.array([dist * np.sin(yaw), rng.uniform(1000.0, 1600.0), -dist * np.cos(yaw)])
    target = np.array([rng.uniform(-150, 150), rng.uniform(750.0, 950.0), 0.0])
    rot, t = look_at(eye, target, rng.uniform(-3.0, 3.0))
    return {"R": rot, "t": t, "fx": FOCAL_PX, "fy": FOCAL_PX, "cx": (w - 1) / 2.0 + 0.8,
            "cy": (h - 1) / 2.0 - 1.3}


def _lerp(jw: np.ndarray, a: str, b: str, f: float) -> np.ndarray:
    return jw[_J[a]] + f * (jw[_J[b]] - jw[_J[a]])


def smpl_joints(jw: np.ndarray) -> np.ndarray:
    """(18, 3) SYNTH18 joints -> (24, 3) SMPL24 joints (same frame and unit)."""
    pts = {"pelvis": jw[_J["root"]], "spine1": _lerp(jw, "root", "spine", 0.5),
           "spine2": jw[_J["spine"]], "spine3": _lerp(jw, "spine", "thorax", 0.5),
           "neck": 2.0 * jw[_J["head"]] - jw[_J["head_top"]], "head": jw[_J["head"]],
           "l_collar": _lerp(jw, "thorax", "l_shoulder", 0.4),
           "r_collar": _lerp(jw, "thorax", "r_shoulder", 0.4),
           "l_hand": _lerp(jw, "l_elbow", "l_wrist", 1.35),
           "r_hand": _lerp(jw, "r_elbow", "r_wrist", 1.35),
           "l_foot": _lerp(jw, "l_knee", "l_ankle", 1.25),
           "r_foot": _lerp(jw, "r_knee", "r_ankle", 1.25)}
    return np.stack([pts[n] if n in pts else jw[_J[n]] for n in SMPL24])


def openpose_2d(person: dict, rng: np.random.Generator) -> np.ndarray:
    """(3, 18) OpenPose COCO-18 rows x, y, confidence of a rendered person."""
    face = face_points(person)
    uv, vis = person["joints_2d"], person["visible"]
    out = np.zeros((3, 18))
    for k, name in enumerate(OPENPOSE18):
        if name in face:
            p, seen, inside = face[name]
        elif name == "neck":
            p = (uv[_J["l_shoulder"]] + uv[_J["r_shoulder"]]) / 2.0
            seen = inside = bool(person["in_image"][_J["l_shoulder"]]
                                 and person["in_image"][_J["r_shoulder"]])
        else:
            p, seen, inside = uv[_J[name]], vis[_J[name]], person["in_image"][_J[name]]
        if inside:  # OpenPose reports nothing (0, 0, 0) for joints it does not find
            out[:, k] = (p[0], p[1], rng.uniform(0.5, 0.95) if seen else rng.uniform(0.05, 0.4))
    return out


def _render_actor(seed: int, seq: str, actor: int, frame: int, cam: dict, shift: np.ndarray,
                  size: tuple[int, int], noise: NoiseBank) -> dict:
    # Shifting the camera by R @ shift renders the person as if it stood at world x + shift.
    cam_k = dict(cam, t=cam["t"] + cam["R"] @ shift)
    return render_person(sample_rng(seed, f"{ROOT}/{seq}/{actor}", frame), *size, camera=cam_k,
                         truncation_prob=0.0, return_ids=True,
                         background="clutter" if actor == 0 else "plain", post=actor == 0,
                         noise=noise)


def _frame(out_dir: Path, seq_index: int, frame: int, seed: int, noise: NoiseBank) -> dict:
    """Render and write one frame; return its camera and per-actor annotations."""
    _, seq, actors, size = SEQUENCES[seq_index]
    cam = frame_camera(seed, seq_index, frame)
    rng = sample_rng(seed, f"{ROOT}/{seq}/params", frame)
    image, ids, out = None, None, []
    for k in range(actors):
        x = (k - (actors - 1) / 2.0) * ACTOR_SPACING_MM
        shift = np.array([x, 0.0, rng.uniform(-200.0, 200.0)])
        p = _render_actor(seed, seq, k, frame, cam, shift, size, noise)
        if image is None:
            image, ids = p["image"].copy(), p["part_ids"]
        else:  # paste the later actor where it is, in front of the first only if nearer
            mask = p["part_ids"] > 0
            if p["joints_3d_cam"][0, 2] > out[0]["depth"]:
                mask &= ids == 0
            image[mask] = p["image"][mask]
        world_m = (smpl_joints(p["joints_3d_world"]) + shift) / 1000.0
        orient = np.concatenate([rng.normal(0.0, 0.3, 3), rng.normal(0.0, 0.2, 69)])
        out.append({"joints": world_m.reshape(72), "poses2d": openpose_2d(p, rng),
                    "poses": orient, "trans": world_m[0].copy(),
                    "depth": float(p["joints_3d_cam"][0, 2])})
    write_jpeg(image_path(out_dir, seq, frame), image)
    pose = np.eye(4)
    pose[:3, :3], pose[:3, 3] = cam["R"], cam["t"] / 1000.0
    intr = np.array([[cam["fx"], 0.0, cam["cx"]], [0.0, cam["fy"], cam["cy"]], [0.0, 0.0, 1.0]])
    return {"cam_pose": pose, "intrinsics": intr, "actors": out}


def _per_actor(frames: list[dict], key: str) -> list[np.ndarray]:
    actors = len(frames[0]["actors"])
    return [np.stack([f["actors"][k][key] for f in frames]) for k in range(actors)]


def sequence_dict(seq: str, frames: list[dict], seed: int) -> dict:
    """The release's dict for one sequence from its rendered frames (in order)."""
    num, actors = len(frames), len(frames[0]["actors"])
    rng = sample_rng(seed, f"{ROOT}/{seq}/shape", 0)

    poses, trans = _per_actor(frames, "poses"), _per_actor(frames, "trans")
    betas = [rng.normal(0.0, 1.0, 10) for _ in range(actors)]
    return {
        "sequence": seq,
        "betas": betas,
        "poses": poses,
        "trans": trans,
        "poses_60Hz": [np.repeat(p, 2, axis=0) for p in poses],
        "trans_60Hz": [np.repeat(t, 2, axis=0) for t in trans],
        "betas_clothed": [b + rng.normal(0.0, 0.1, 10) for b in betas],
        "v_template_clothed": [rng.normal(0.0, 0.3, (6890, 3)) for _ in range(actors)],
        "genders": ["m" if k % 2 == 0 else "f" for k in range(actors)],
        "texture_maps": [rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
                         for _ in range(actors)],
        "poses2d": _per_actor(frames, "poses2d"),
        "jointPositions": _per_actor(frames, "joints"),
        "img_frame_ids": np.arange(num, dtype=np.int64),
        "cam_poses": np.stack([f["cam_pose"] for f in frames]),
        "campose_valid": [np.array([campose_valid(k, i, num) for i in range(num)])
                          for k in range(actors)],
        "cam_intrinsics": frames[0]["intrinsics"],
    }


def dump_py2_pickle(path: Path, obj: dict) -> None:
    """Protocol-2 pickle naming numpy's modules as the Python-2 originals do."""
    data = pickle.dumps(obj, protocol=2).replace(b"cnumpy._core.multiarray\n",
                                                 b"cnumpy.core.multiarray\n")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def write(out_dir: Path, num: int, seed: int, workers: int) -> None:
    """Write the miniature release under ``out_dir/3dpw_raw`` (``num`` frames per sequence)."""
    jobs = [(Path(out_dir), s, f, seed) for s in range(len(SEQUENCES)) for f in range(num)]
    frames = run_samples(_frame, jobs, workers)
    for s, (split, seq, _, _) in enumerate(SEQUENCES):
        path = sequence_path(out_dir, split, seq)
        dump_py2_pickle(path, sequence_dict(seq, frames[s * num:(s + 1) * num], seed))
        logger.info("3dpw_raw %s: %d frames -> %s", seq, num, path)
