"""Synthetic Occlusion-Person tree (UnrealCV set of AdaFuse; docs/datasets.md, Occlusion-Person).

Writes, for the train and validation splits, ``num`` images each::

    occlusion_person/unrealcv_{train,validation}.pkl
    occlusion_person/images/<video_id>/<camera_id:02d>_<image_id:06d>.jpg      1000 x 1000

Each pickle is ``pickle.dump(list_of_dicts)`` (one dict per image) with the real file's keys:
``image`` (str, relative to images/), ``joints_2d`` (15, 2) px, ``joints_3d`` (15, 3) camera-frame
mm, ``joints_gt`` (15, 3) world mm, ``joints_vis`` / ``joints_vis_2d`` (15, 1) float64 0/1 (inside
the image / inside and not occluded), ``center`` (2,), ``scale`` (2,) = box [w, h] / 200, ``box``
(4,) [x1, y1, x2, y2] (float64 arrays), ``video_id`` (str, ``a05_sa01_s14_sce00`` style), ints
``image_id``, ``subject``, ``action``, ``subaction``, ``camera_id`` (0-7), ``camera`` dict
{``R`` (3, 3), ``T`` (3, 1) camera centre in world mm, ``fx``, ``fy``, ``cx``, ``cy`` numpy float64,
``k`` (3, 1), ``p`` (2, 1) zero distortion} and ``source`` = 'unrealcv'. ``kps_all`` (meaning
unknown) is not written.

Consistency: ``joints_2d`` is the pinhole projection of ``joints_3d`` (no distortion),
``joints_gt = R^T joints_3d + T``. The 15 UnrealCV joints are the body's joints by name
(pelvis = root, belly = spine, neck = the H36M thorax joint at the base of the neck). As in the real
set, the 8 images of a frame show the same person in the same pose from 8 cameras around them
(``joints_gt`` is shared); a video is ``FRAMES_PER_VIDEO`` frames. Occluder objects are frequent
(the set's point).
"""
from pathlib import Path

import numpy as np

from pose3d.skeleton import SYNTH18, UNREALCV15
from pose3d.synthetic import body, poses
from pose3d.synthetic.appearance import sample_look
from pose3d.synthetic.camera import sample_camera
from pose3d.synthetic.common import write_jpeg, write_pickled_splits
from pose3d.synthetic.degrade import NoiseBank
from pose3d.synthetic.render import render_person, sample_rng

IMAGE_SIZE = (1000, 1000)  # (width, height); the real size is not documented
NUM_CAMERAS = 8
FRAMES_PER_VIDEO = 2
NUM_SCENES = 9
SUBJECTS = {"train": tuple(range(1, 11)), "val": (11, 12, 13)}
OCCLUDER_PROB = 0.6
SPLIT_FILES = {"train": "unrealcv_train.pkl", "val": "unrealcv_validation.pkl"}
# UnrealCV joint <- body joint, by name.
_BODY_NAME = {"pelvis": "root", "belly": "spine", "neck": "thorax"}
UNREALCV_FROM_SYNTH = [SYNTH18.index(_BODY_NAME.get(n, n)) for n in UNREALCV15]


def annotation_path(out_dir: Path, split: str) -> Path:
    """The annotation pickle of ``split`` under the data root ``out_dir``."""
    return Path(out_dir) / "occlusion_person" / SPLIT_FILES[split]


def image_root(out_dir: Path) -> Path:
    """Folder the records' ``image`` paths are relative to."""
    return Path(out_dir) / "occlusion_person" / "images"


def layout(split: str, index: int) -> dict:
    """Video, frame and camera of image ``index`` of ``split``."""
    camera_id = index % NUM_CAMERAS
    frame = index // NUM_CAMERAS
    video = frame // FRAMES_PER_VIDEO
    subjects = SUBJECTS[split]
    action_name = poses.ACTIONS[video % len(poses.ACTIONS)]
    info = {
        "frame": frame,
        "action_name": action_name,
        "action": 1 + poses.ACTIONS.index(action_name),
        "subaction": 1 + video // len(poses.ACTIONS),
        "subject": subjects[video % len(subjects)],
        "scene": video % NUM_SCENES,
        "image_id": frame % FRAMES_PER_VIDEO,
        "camera_id": camera_id,
    }
    info["video_id"] = (f"a{info['action']:02d}_sa{info['subaction']:02d}_s{info['subject']:02d}"
                        f"_sce{info['scene']:02d}")
    info["image"] = f"{info['video_id']}/{camera_id:02d}_{info['image_id']:06d}.jpg"
    return info


def render_sample(split: str, index: int, seed: int, **options) -> dict:
    """Render image ``index``: the frame's person and pose, seen by this image's camera.

    Camera ``k`` of the rig looks at the person from azimuth ``45 k`` degrees (+-10), so the 8
    views of a frame surround the person; the world joints are shared by the 8 views.
    """
    info = layout(split, index)
    frame_rng = sample_rng(seed, f"occlusion_person/{split}/frame", info["frame"])
    subject = body.sample_subject(frame_rng)
    subject.look = sample_look(frame_rng)
    pose, _, _ = poses.sample_pose(frame_rng, info["action_name"])
    # The renderer's own placement of this pose in the world (root above the ground).
    joints_l, _ = body.forward_kinematics(pose, subject)
    joints_w = joints_l + np.array([0.0, body.ground_offset(joints_l, subject), 0.0])
    cam_rng = sample_rng(seed, f"occlusion_person/{split}/camera", index)
    turn = body.rot_y(360.0 / NUM_CAMERAS * info["camera_id"] + cam_rng.uniform(-10.0, 10.0))
    # A camera for the turned world is this view's camera after the turn: R (turn x) + t.
    cam = sample_camera(cam_rng, joints_w @ turn.T, *IMAGE_SIZE)
    cam["R"] = cam["R"] @ turn
    return render_person(sample_rng(seed, f"occlusion_person/{split}", index), *IMAGE_SIZE,
                         subject=subject, pose=pose, action=info["action_name"], camera=cam,
                         occluder_prob=OCCLUDER_PROB, **options)


def record(r: dict, info: dict) -> dict:
    """The pickle record of a rendered image."""
    cam = r["camera"]
    rot, t = np.asarray(cam["R"], np.float64), np.asarray(cam["t"], np.float64)
    x1, y1, x2, y2 = (float(v) for v in r["bbox"])
    idx = UNREALCV_FROM_SYNTH
    return {
        "image": info["image"],
        "joints_2d": r["joints_2d"][idx].copy(),
        "joints_3d": r["joints_3d_cam"][idx].copy(),
        "joints_gt": r["joints_3d_world"][idx].copy(),
        "joints_vis": r["in_image"][idx].astype(np.float64)[:, None],
        "joints_vis_2d": r["visible"][idx].astype(np.float64)[:, None],
        "center": np.array([(x1 + x2) / 2.0, (y1 + y2) / 2.0]),
        "scale": np.array([(x2 - x1) / 200.0, (y2 - y1) / 200.0]),
        "box": np.array([x1, y1, x2, y2]),
        "video_id": info["video_id"],
        "image_id": int(info["image_id"]),
        "subject": int(info["subject"]),
        "action": int(info["action"]),
        "subaction": int(info["subaction"]),
        "camera_id": int(info["camera_id"]),
        "camera": {
            "R": rot,
            "T": (-rot.T @ t)[:, None],
            "fx": np.float64(cam["fx"]),
            "fy": np.float64(cam["fy"]),
            "cx": np.float64(cam["cx"]),
            "cy": np.float64(cam["cy"]),
            "k": np.zeros((3, 1)),
            "p": np.zeros((2, 1)),
        },
        "source": "unrealcv",
    }


def _sample(out_dir: Path, split: str, index: int, seed: int, noise: NoiseBank) -> dict:
    info = layout(split, index)
    r = render_sample(split, index, seed, noise=noise)
    write_jpeg(image_root(out_dir) / info["image"], r["image"])
    return record(r, info)


def write(out_dir: Path, num: int, seed: int, workers: int) -> None:
    """Write ``num`` images per split under ``out_dir/occlusion_person``."""
    write_pickled_splits(_sample, tuple(SPLIT_FILES), annotation_path, out_dir, num, seed, workers)
