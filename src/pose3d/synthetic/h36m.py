"""Synthetic Human3.6M ECCV'18 challenge tree: images, POSE csv files and the ``msra_cache``.

Writes, for split Train (subjects S1, S5, S6, S7, S8) and Val (S9, S11), ``num`` samples each
(docs/datasets.md, Human3.6M)::

    h36m/ECCV18_Challenge/<Set>/IMG/%05d.jpg        1000 x 1000, numbered from 1
    h36m/ECCV18_Challenge/<Set>/POSE/%05d.csv       17 rows "X,Y,Z", mm, camera frame, root-relative
    h36m/msra_cache/HM36_eccv_challenge_<Set>_cache/
        HM36_eccv_challenge_<Set>_w288xh384_keypoint_jnt_bbox_db.pkl

The cache is ``pickle.dump(list_of_dicts, protocol=4)``, element i <-> image i + 1, with every key
the real cache has: ``image`` (str), ``flip_pairs`` (6, 2) int64, ``parent_ids`` (18,) int64,
``joints_3d``, ``joints_3d_vis``, ``joints_3d_relative`` (18, 3) float64, ``bone_len``,
``center_x``, ``center_y``, ``width``, ``height``, ``s`` (Python floats), ``rot`` (2, 2) and ``t``
(2,) float64.

Made self-consistent as integral-human-pose builds it: ``joints_3d_relative`` = the rendered
camera-frame joints (mm) minus the root, plus row 17 = thorax = mean of the shoulders;
``(T, b, c)`` = ``compute_similarity_transform(X = rendered 2D of the 17 joints (px), Y = their
root-relative X, Y (mm))``; ``joints_3d = [b * XY @ T + c, b * Z]`` for all 18 rows; the box is the
tight box of those u, v, widened to the 288:384 aspect ratio, times 1.25.

The real challenge cache has no action field. Each sample's ``image`` string is written as the
absolute path the raw Human3.6M frame would have (``/data/h36m/images/s_09_act_02_subact_01_ca_01/
s_09_act_02_subact_01_ca_01_000001.jpg``), which the loader turns into the per-action group.
Samples cycle through the 15 actions, then the subjects, sub-actions and 4 cameras.
"""
from pathlib import Path

import numpy as np

from pose3d.skeleton import H36M17
from pose3d.synthetic import poses
from pose3d.synthetic.common import write_jpeg, write_pickled_splits
from pose3d.synthetic.degrade import NoiseBank
from pose3d.synthetic.render import render_person, sample_rng

IMAGE_SIZE = (1000, 1000)  # (width, height) of a Human3.6M frame
SPLIT_DIRS = {"train": "Train", "val": "Val"}
SUBJECTS = {"train": (1, 5, 6, 7, 8), "val": (9, 11)}
# Human3.6M action ids 2..16 (``act_02`` .. ``act_16``), in the renderer's action order.
ACTIONS = poses.ACTIONS
ACTION_IDS = {name: 2 + i for i, name in enumerate(ACTIONS)}
PATCH_ASPECT = 288.0 / 384.0  # w288xh384 cache
# integral-human-pose's 18-joint tables (thorax appended as joint 17).
FLIP_PAIRS = np.array([[1, 4], [2, 5], [3, 6], [14, 11], [15, 12], [16, 13]], dtype=np.int64)
PARENT_IDS = np.array([0, 0, 1, 2, 0, 4, 5, 0, 17, 17, 8, 17, 11, 12, 17, 14, 15, 0],
                      dtype=np.int64)
_SHOULDERS = (H36M17.index("l_shoulder"), H36M17.index("r_shoulder"))


# Writer modules stay free of torch (the dataset and metric packages import it) so that joblib
# workers start quickly; the layout below is checked against the loader by the tests.
def cache_path(out_dir: Path, split: str) -> Path:
    """The ``msra_cache`` pickle of ``split`` under the data root ``out_dir``."""
    name = f"HM36_eccv_challenge_{SPLIT_DIRS[split]}"
    return (Path(out_dir) / "h36m" / "msra_cache" / f"{name}_cache"
            / f"{name}_w288xh384_keypoint_jnt_bbox_db.pkl")


def image_path(out_dir: Path, split: str, index: int) -> Path:
    """``IMG/%05d.jpg`` of sample ``index`` (numbered from 1)."""
    return (Path(out_dir) / "h36m" / "ECCV18_Challenge" / SPLIT_DIRS[split] / "IMG"
            / f"{index + 1:05d}.jpg")


def similarity_fit(target: np.ndarray, source: np.ndarray) -> tuple[np.ndarray, float, np.ndarray]:
    """MATLAB ``procrustes`` with scaling (integral-human-pose's ``compute_similarity_transform``).

    Args:
        target: (n, 2) points X (px); source: (n, 2) points Y (mm).

    Returns:
        ``(T (2, 2), b, c (2,))`` with ``b * source @ T + c`` closest to ``target`` and ``T`` a
        rotation (a reflection is excluded by flipping the last singular direction).
    """
    mu_x, mu_y = target.mean(axis=0), source.mean(axis=0)
    x0, y0 = target - mu_x, source - mu_y
    norm_x, norm_y = np.linalg.norm(x0), np.linalg.norm(y0)
    u, sv, vt = np.linalg.svd((x0 / norm_x).T @ (y0 / norm_y))
    v = vt.T
    if np.linalg.det(v @ u.T) < 0:
        v[:, -1] *= -1
        sv[-1] *= -1
    rot = v @ u.T
    b = float(sv.sum() * norm_x / norm_y)
    return rot, b, mu_x - b * (mu_y @ rot)


# -- helpers shared by the 3D writers ------------------------------------------------------------
def joint_box(uv: np.ndarray, aspect: float, enlarge: float) -> tuple[float, float, float, float]:
    """Tight box of ``uv`` widened to ``aspect`` (w / h) and scaled: (cx, cy, w, h) floats."""
    lo, hi = uv.min(axis=0), uv.max(axis=0)
    cx, cy = (lo + hi) / 2.0
    w, h = hi - lo
    if w > aspect * h:
        h = w / aspect
    else:
        w = h * aspect
    return float(cx), float(cy), float(w * enlarge), float(h * enlarge)


# -- one sample ----------------------------------------------------------------------------------
def sequence_of(split: str, index: int) -> tuple[int, int, int, int, int]:
    """(subject, action id, sub-action, camera, frame) of sample ``index``; all distinct."""
    subjects = SUBJECTS[split]
    k = index
    action = ACTION_IDS[ACTIONS[k % len(ACTIONS)]]
    k //= len(ACTIONS)
    subject = subjects[k % len(subjects)]
    k //= len(subjects)
    subact = 1 + k % 2
    k //= 2
    camera = 1 + k % 4
    k //= 4
    return subject, action, subact, camera, 1 + 5 * k


def raw_image_name(subject: int, action: int, subact: int, camera: int, frame: int) -> str:
    """Absolute path of a raw Human3.6M frame as on the authors' machine."""
    folder = f"s_{subject:02d}_act_{action:02d}_subact_{subact:02d}_ca_{camera:02d}"
    return f"/data/h36m/images/{folder}/{folder}_{frame:06d}.jpg"


def cache_entry(joints_2d: np.ndarray, joints_cam: np.ndarray, image: str) -> dict:
    """One ``msra_cache`` record from rendered H36M-17 joints.

    Args:
        joints_2d: (17, 2) px, rendered projections.
        joints_cam: (17, 3) mm, camera frame.
        image: value of the ``image`` key.
    """
    rel = joints_cam - joints_cam[0]
    thorax = rel[list(_SHOULDERS)].mean(axis=0)
    rel18 = np.vstack([rel, thorax])  # (18, 3)
    rot, b, c = similarity_fit(joints_2d, rel[:, :2])
    joints_3d = np.empty((18, 3))
    joints_3d[:, :2] = b * rel18[:, :2] @ rot + c
    joints_3d[:, 2] = rel18[:, 2] * b
    cx, cy, w, h = joint_box(joints_3d[:, :2], PATCH_ASPECT, 1.25)
    bone_len = float(np.linalg.norm(rel18 - rel18[PARENT_IDS], axis=1).sum())
    return {
        "image": image,
        "flip_pairs": FLIP_PAIRS.copy(),
        "parent_ids": PARENT_IDS.copy(),
        "joints_3d": joints_3d,
        "joints_3d_vis": np.ones((18, 3)),
        "joints_3d_relative": rel18,
        "bone_len": bone_len,
        "center_x": cx,
        "center_y": cy,
        "width": w,
        "height": h,
        "s": float(b),
        "rot": np.asarray(rot, dtype=np.float64),
        "t": np.asarray(c, dtype=np.float64),
    }


def render_sample(split: str, index: int, seed: int, **options) -> dict:
    """Render sample ``index`` of ``split`` (its action fixed by :func:`sequence_of`)."""
    action = sequence_of(split, index)[1]
    return render_person(sample_rng(seed, f"h36m/{split}", index), *IMAGE_SIZE,
                         action=ACTIONS[action - 2], **options)


def _sample(out_dir: Path, split: str, index: int, seed: int, noise: NoiseBank) -> dict:
    subject, action, subact, camera, frame = sequence_of(split, index)
    r = render_sample(split, index, seed, noise=noise)
    write_jpeg(image_path(out_dir, split, index), r["image"])
    entry = cache_entry(r["joints_2d"][:17], r["joints_3d_cam"][:17],
                        raw_image_name(subject, action, subact, camera, frame))
    pose_csv = image_path(out_dir, split, index).parent.parent / "POSE" / f"{index + 1:05d}.csv"
    pose_csv.parent.mkdir(parents=True, exist_ok=True)
    np.savetxt(pose_csv, entry["joints_3d_relative"][:17], fmt="%.6f", delimiter=",")
    return entry


def write(out_dir: Path, num: int, seed: int, workers: int) -> None:
    """Write ``num`` samples per split (Train, Val) under ``out_dir/h36m``."""
    write_pickled_splits(_sample, tuple(SPLIT_DIRS), cache_path, out_dir, num, seed, workers)
