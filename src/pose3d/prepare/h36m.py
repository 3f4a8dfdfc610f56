"""Human3.6M: the official release -> the challenge images and ``msra_cache`` the H36M loader reads.

Reads, per subject ``S<n>`` under ``--src`` (the folder the release's archives extract to)::

    S<n>/Videos/<Action>.<camera>.mp4
    S<n>/MyPoseFeatures/D2_Positions/<Action>.<camera>.cdf         Pose (1, N, 64), px
    S<n>/MyPoseFeatures/D3_Positions_mono/<Action>.<camera>.cdf    Pose (1, N, 96), mm

and writes under ``<data_dir>/h36m/``::

    ECCV18_Challenge/{Train,Val}/IMG/%05d.jpg     person crops (whole frames with --full_frames)
    msra_cache/HM36_eccv_challenge_{Train,Val}_cache/
        HM36_eccv_challenge_{Train,Val}_w288xh384_keypoint_jnt_bbox_db.pkl
    .prepare/{train,val}/<take>.npz               finished videos, for resuming

Train = S1, S5, S6, S7, S8 and Val = S9, S11 (Protocol 1 / 2), every ``--stride_train`` /
``--stride_val``-th frame of all four cameras. A cache record holds the 17 joints of
:data:`pose3d.skeleton.H36M17` (rows of the release's 32 chosen by name) plus the thorax (mean of
the shoulders): ``joints_3d`` = [u, v, d] with u, v the D2 pixels and d = (Z - Z_root) * b, b the
scale (px per mm) of the similarity fitted from the root-relative X, Y (mm) to the D2 pixels;
``joints_3d_relative`` in mm; ``s`` = b, ``rot`` and ``t`` the rest of that similarity; the box is
the tight box of u, v widened to 288:384 and enlarged 1.25 times. Coordinates (u, v, the box
centre, ``t``) are in the saved image's pixels; ``crop_offset`` (2,) is that image's top-left
corner in the video frame, so frame pixels = image pixels + ``crop_offset``. ``image`` names the
take as ``s_SS_act_AA_subact_BB_ca_CC/..._FFFFFF.jpg`` (frame numbered from 1), which the loader
turns into the action. Sub-actions number an action's takes in the order of their file names.
"""
from __future__ import annotations

import argparse
import math
import pickle
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from pose3d.datasets.h36m import (H36M, H36M_ACTIONS, SPLIT_DIRS, cache_path, image_path,
                                  procrustes_scale)
from pose3d.prepare.common import (CropPolicy, SequenceStore, Summary, atomic_write_bytes,
                                   concat_records, crop_window, loader_policy, require_dir,
                                   save_crop)
from pose3d.skeleton import H36M17, H36M32, name_map
from pose3d.utils.errors import DataFormatError, UserError
from pose3d.utils.jobs import run_jobs

CAMERAS = ("54138969", "55011271", "58860488", "60457274")    # camera index 1..4
SUBJECTS = {"train": ("S1", "S5", "S6", "S7", "S8"), "val": ("S9", "S11")}
SPELLINGS = {"TakingPhoto": "Photo", "WalkingDog": "WalkDog"}
ACTION_IDS = {name: i for i, name in H36M_ACTIONS.items()}
# (subject, file stem, camera) of videos the release ships damaged.
KNOWN_DAMAGED = {("S11", "Directions", "54138969"): "the release's video is damaged"}
ROWS17 = name_map(H36M32, H36M17.names)
SHOULDERS = [H36M17.index("l_shoulder"), H36M17.index("r_shoulder")]
PATCH_ASPECT = 288.0 / 384.0
BOX_ENLARGE = 1.25
# integral-human-pose's 18-joint tables (thorax appended as joint 17).
FLIP_PAIRS = np.array([[1, 4], [2, 5], [3, 6], [14, 11], [15, 12], [16, 13]], dtype=np.int64)
PARENT_IDS = np.array([0, 0, 1, 2, 0, 4, 5, 0, 17, 17, 8, 17, 11, 12, 17, 14, 15, 0],
                      dtype=np.int64)
# Video and pose frame counts may differ by a few frames in the release; more is an error.
MAX_COUNT_GAP, MAX_COUNT_GAP_FRAC = 10, 0.02
_RELEASE_FIX = "re-extract that subject's archives from the official Human3.6M release"


@dataclass
class Take:
    """One video of the release and what to take from it."""
    split: str
    subject: str
    stem: str            # file name before ".<camera>", e.g. "Directions 1"
    camera: str
    action: int          # H36M action id 2..16
    subact: int          # 1-based take number of the action
    video: Path
    d2: Path
    d3: Path
    frames: np.ndarray   # frame indices to save
    first: int           # cache index of the first saved frame

    @property
    def key(self) -> str:
        return f"{self.subject}_{self.stem.replace(' ', '_')}_{self.camera}"

    def folder(self) -> str:
        return (f"s_{int(self.subject[1:]):02d}_act_{self.action:02d}_subact_{self.subact:02d}"
                f"_ca_{CAMERAS.index(self.camera) + 1:02d}")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The dataset's own flags."""
    parser.add_argument("--stride_train", type=int, default=5,
                        help="keep every n-th frame of the training subjects")
    parser.add_argument("--stride_val", type=int, default=64,
                        help="keep every n-th frame of the validation subjects")
    parser.add_argument("--subjects", nargs="+", default=None, metavar="S",
                        help="only these subjects (e.g. S1 S9); default all seven")


# -- reading the release -------------------------------------------------------------------------
def read_pose(path: Path, width: int) -> np.ndarray:
    """``Pose`` of a D2/D3 CDF file as (N, 32, width // 32) float64.

    Raises:
        DataFormatError: missing, not a CDF file, no ``Pose`` variable or the wrong shape.
    """
    import cdflib

    if not path.is_file():
        raise DataFormatError(path, "pose file is missing", _RELEASE_FIX)
    try:
        cdf = cdflib.CDF(str(path))
        info = cdf.cdf_info()
        names = list(info.zVariables) + list(info.rVariables)
    except Exception as exc:  # cdflib raises many types on a damaged file
        raise DataFormatError(path, f"is not a readable CDF file ({type(exc).__name__}: "
                              f"{' '.join(str(exc).split())[:100]})", _RELEASE_FIX) from None
    if "Pose" not in names:
        raise DataFormatError(path, f"has no variable 'Pose' (found: {', '.join(names) or 'none'})",
                              _RELEASE_FIX)
    pose = np.asarray(cdf.varget("Pose"), dtype=np.float64)
    shape = pose.shape
    if pose.ndim == 3 and pose.shape[0] == 1:
        pose = pose[0]
    if pose.ndim != 2 or pose.shape[1] != width or len(pose) == 0:
        raise DataFormatError(path, f"'Pose' has shape {shape}, expected (1, N, {width})",
                              _RELEASE_FIX)
    if not np.isfinite(pose).all():
        raise DataFormatError(path, "'Pose' contains NaN or inf", _RELEASE_FIX)
    return pose.reshape(len(pose), 32, width // 32)


def video_frames(path: Path) -> int:
    """Frame count in the header of a video; a one-line error when it cannot be opened."""
    if not path.is_file():
        raise DataFormatError(path, "video is missing", _RELEASE_FIX)
    cap = cv2.VideoCapture(str(path))
    count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) if cap.isOpened() else 0
    cap.release()
    if count <= 0:
        raise DataFormatError(path, "video cannot be opened or has no frames (damaged or "
                              "truncated)", _RELEASE_FIX)
    return count


def usable_frames(take: Take, counts: dict[Path, int]) -> int:
    """The shorter of the video and pose frame counts; an error when they differ too much."""
    n = min(counts.values())
    gap = max(counts.values()) - n
    if gap > max(MAX_COUNT_GAP, MAX_COUNT_GAP_FRAC * n):
        found = ", ".join(f"{p} has {c}" for p, c in counts.items())
        raise DataFormatError(take.video, f"frame counts disagree by {gap} ({found})",
                              "the video and its poses are from different downloads; "
                              + _RELEASE_FIX)
    return n


def canonical_action(stem: str) -> str:
    """Action name of a file stem: the take number dropped, spelling variants unified."""
    name = stem.split(" ")[0]
    return SPELLINGS.get(name, name)


def find_takes(src: Path, split: str, subject: str, summary: Summary) -> list[Take]:
    """The takes of one subject (frames not filled in yet), in action, take and camera order."""
    root = src / subject
    fix = f"extract the {subject} archives (Videos, Poses_D2_Positions, Poses_D3_Positions_mono)"
    videos = require_dir(root / "Videos", f"{subject}'s video folder", fix)
    d2_dir = require_dir(root / "MyPoseFeatures" / "D2_Positions", f"{subject}'s 2D poses", fix)
    d3_dir = require_dir(root / "MyPoseFeatures" / "D3_Positions_mono", f"{subject}'s 3D poses",
                         fix)
    found = []
    for path in sorted(d3_dir.glob("*.cdf")):
        stem, _, camera = path.stem.rpartition(".")
        action = canonical_action(stem)
        if camera not in CAMERAS or action not in ACTION_IDS:
            summary.skip(str(path), "not a camera view of one of the 15 actions")
            continue
        if (subject, stem, camera) in KNOWN_DAMAGED:
            summary.skip(str(videos / f"{stem}.{camera}.mp4"),
                         KNOWN_DAMAGED[(subject, stem, camera)])
            continue
        found.append((ACTION_IDS[action], stem, camera, path))
    takes = []
    for action_id, stem, camera, path in found:
        stems = sorted({s for a, s, _, _ in found if a == action_id})
        takes.append(Take(split, subject, stem, camera, action_id, stems.index(stem) + 1,
                          videos / f"{stem}.{camera}.mp4", d2_dir / f"{stem}.{camera}.cdf",
                          path, np.zeros(0, np.int64), 0))
    takes.sort(key=lambda t: (t.action, t.subact, CAMERAS.index(t.camera)))
    return takes


def plan(args: argparse.Namespace, summary: Summary) -> dict[str, list[Take]]:
    """Every take of each split with its frames and image numbers (reads headers only)."""
    src = require_dir(args.src, "the Human3.6M release folder",
                      "pass --src the folder holding S1, S5, ... as the archives extract")
    wanted = args.subjects
    unknown = set(wanted or ()) - {s for subs in SUBJECTS.values() for s in subs}
    if unknown:
        raise DataFormatError(src, f"--subjects {' '.join(sorted(unknown))}: not a Human3.6M "
                              "subject with poses", "choose from S1 S5 S6 S7 S8 S9 S11")
    out: dict[str, list[Take]] = {}
    for split, subjects in SUBJECTS.items():
        stride = args.stride_val if split == "val" else args.stride_train
        takes: list[Take] = []
        for subject in subjects:
            if wanted is not None and subject not in wanted:
                continue
            if not (src / subject).is_dir():
                if wanted is not None:
                    raise DataFormatError(src / subject, "subject folder is missing",
                                          f"extract the {subject} archives there")
                summary.skip(str(src / subject), "subject folder is missing")
                continue
            takes += find_takes(src, split, subject, summary)
        first = 0
        for take in takes:
            counts = {take.video: video_frames(take.video),
                      take.d2: len(read_pose(take.d2, 64)), take.d3: len(read_pose(take.d3, 96))}
            take.frames = np.arange(0, usable_frames(take, counts), stride)
            take.first = first
            first += len(take.frames)
        out[split] = takes
    if not any(out.values()):
        raise DataFormatError(src, "holds no subject folder with videos and poses",
                              "pass --src the folder holding S1, S5, ... as the archives extract")
    return out


# -- one video -----------------------------------------------------------------------------------
def joint_box(uv: np.ndarray) -> np.ndarray:
    """(K, 2) px -> [cx, cy, w, h]: tight box widened to 288:384, then enlarged 1.25 times."""
    lo, hi = uv.min(axis=0), uv.max(axis=0)
    w, h = hi - lo
    if w > PATCH_ASPECT * h:
        h = w / PATCH_ASPECT
    else:
        w = h * PATCH_ASPECT
    return np.array([*(lo + hi) / 2.0, w * BOX_ENLARGE, h * BOX_ENLARGE])


def policy_vector(policy: CropPolicy) -> np.ndarray:
    return np.array([policy.scale_factor, policy.rotate_factor, policy.aspect, policy.min_side,
                     float(policy.full_frames)])


def image_names(take: Take) -> np.ndarray:
    """Paths of the take's saved images, relative to the data root."""
    return np.array([str(image_path(".", take.split, take.first + i)).removeprefix("./")
                     for i in range(len(take.frames))])


def convert_take(take: Take, data_dir: Path, policy: CropPolicy) -> dict:
    """Decode one video, save the chosen frames' crops and return the arrays of the take."""
    d2, d3 = read_pose(take.d2, 64), read_pose(take.d3, 96)
    names = image_names(take)
    uv = np.concatenate([d2[take.frames][:, ROWS17],
                         d2[take.frames][:, SHOULDERS].mean(axis=1, keepdims=True)], axis=1)
    boxes = np.stack([joint_box(u) for u in uv])
    offsets = np.zeros((len(take.frames), 2))
    wanted = {int(f): i for i, f in enumerate(take.frames)}
    cap = cv2.VideoCapture(str(take.video))
    try:
        for f in range(int(take.frames[-1]) + 1 if len(take.frames) else 0):
            ok, frame = cap.read() if f in wanted else (cap.grab(), None)
            if not ok:
                raise DataFormatError(take.video, f"decoded only {f} of {take.frames[-1] + 1} "
                                      "needed frames (damaged or truncated)", _RELEASE_FIX)
            if frame is None:
                continue
            i = wanted[f]
            cx, cy, w, h = boxes[i]
            window = crop_window((cx, cy), max(w, h), (frame.shape[1], frame.shape[0]), policy)
            offsets[i] = save_crop(frame, window, data_dir / names[i])
    finally:
        cap.release()
    return {"img_name": names, "frame": take.frames, "uv": uv, "xyz": d3[take.frames][:, ROWS17],
            "box": boxes, "offset": offsets, "policy": policy_vector(policy)}


def reusable(store: SequenceStore, take: Take, policy: CropPolicy) -> dict | None:
    """The stored arrays of ``take`` when they are complete and made for the same frames."""
    arrays = store.load(take.key)
    if arrays is None or not np.array_equal(arrays.get("frame"), take.frames):
        return None
    if not np.array_equal(arrays.get("img_name"), image_names(take)):
        return None
    if not np.array_equal(arrays.get("policy"), policy_vector(policy)):
        return None
    return arrays


# -- the cache -----------------------------------------------------------------------------------
def similarity(uv: np.ndarray, xy: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rotation and translation of the similarity ``b * xy @ T + c`` fitted onto ``uv``.

    Args:
        uv: (N, K, 2) px; xy: (N, K, 2) mm; b: (N,) scales from :func:`procrustes_scale`.

    Returns:
        T (N, 2, 2) rotations (no reflection), c (N, 2) px.
    """
    mu_x, mu_y = uv.mean(axis=1), xy.mean(axis=1)
    m = np.einsum("nki,nkj->nij", uv - mu_x[:, None], xy - mu_y[:, None])
    u, _, vt = np.linalg.svd(m)
    v = np.swapaxes(vt, 1, 2)
    flip = np.linalg.det(v @ np.swapaxes(u, 1, 2)) < 0
    v[flip, :, -1] *= -1
    rot = v @ np.swapaxes(u, 1, 2)
    return rot, mu_x - b[:, None] * np.einsum("nj,nji->ni", mu_y, rot)


def cache_records(arrays: dict[str, np.ndarray], images: list[str], path: Path) -> list[dict]:
    """The ``msra_cache`` records of one split from its concatenated take arrays."""
    xyz = arrays["xyz"]
    rel = xyz - xyz[:, :1]
    rel18 = np.concatenate([rel, rel[:, SHOULDERS].mean(axis=1, keepdims=True)], axis=1)
    uv = arrays["uv"]
    b = procrustes_scale(uv[:, :17], rel[:, :, :2])
    bad = ~np.isfinite(b)
    if bad.any():
        raise DataFormatError(path, f"{images[int(np.argmax(bad))]}: the 2D or 3D joints are all "
                              "at one point, the depth scale is undefined", _RELEASE_FIX)
    rot, t = similarity(uv[:, :17], rel[:, :, :2], b)
    off = arrays["offset"]
    # Element-wise squares and an exactly rounded sum: the same bits on every run, whatever
    # the arrays' memory layout (a re-run must write the same cache bytes).
    bone = rel18 - rel18[:, PARENT_IDS]
    bones = np.sqrt(bone[..., 0] ** 2 + bone[..., 1] ** 2 + bone[..., 2] ** 2)
    bone_len = [math.fsum(row) for row in bones]
    records = []
    for i, image in enumerate(images):
        joints = np.concatenate([uv[i] - off[i], rel18[i, :, 2:] * b[i]], axis=1)
        cx, cy, w, h = arrays["box"][i]
        records.append({
            "image": image, "flip_pairs": FLIP_PAIRS.copy(), "parent_ids": PARENT_IDS.copy(),
            "joints_3d": joints, "joints_3d_vis": np.ones((18, 3)),
            "joints_3d_relative": rel18[i].copy(), "bone_len": float(bone_len[i]),
            "center_x": float(cx - off[i, 0]), "center_y": float(cy - off[i, 1]),
            "width": float(w), "height": float(h), "s": float(b[i]), "rot": rot[i].copy(),
            "t": t[i] - off[i], "crop_offset": off[i].copy()})
    return records


# -- the run -------------------------------------------------------------------------------------
def crop_policy(args: argparse.Namespace) -> CropPolicy:
    """The command line's crop policy; no rotation margin since the H36M loader never rotates."""
    return loader_policy(args.crop, H36M.rotate_in_train)


def prepare(args: argparse.Namespace) -> Summary:
    """Convert the release under ``args.src`` into ``args.data_dir/h36m``."""
    summary = Summary("h36m")
    for name in ("stride_train", "stride_val"):
        if getattr(args, name) < 1:
            raise UserError(f"--{name} {getattr(args, name)}: must be at least 1")
    data_dir, policy = Path(args.data_dir), crop_policy(args)
    splits = plan(args, summary)
    for split, takes in splits.items():
        if not takes:
            continue
        store = SequenceStore(data_dir / "h36m" / ".prepare" / split, data_dir)
        parts: dict[str, dict] = {}
        jobs = []
        for take in takes:
            arrays = reusable(store, take, policy)
            if arrays is None:
                jobs.append((take, data_dir, policy))
            else:
                parts[take.key] = arrays
                summary.reused += 1
        for (take, _, _), result in zip(jobs, run_jobs(convert_take, jobs, args.workers,
                                                       f"h36m {SPLIT_DIRS[split]}")):
            store.save(take.key, result)
            parts[take.key] = result
        images = [f"{t.folder()}/{t.folder()}_{f + 1:06d}.jpg" for t in takes for f in t.frames]
        if not images:
            summary.notes.append(f"{SPLIT_DIRS[split]}: no frames, cache not written")
            continue
        arrays = concat_records([parts[t.key] for t in takes if len(t.frames)])
        path = cache_path(data_dir, split)
        atomic_write_bytes(path, pickle.dumps(cache_records(arrays, images, path), protocol=4))
        summary.sequences += len(takes)
        summary.frames += len(images)
        summary.outputs += [image_path(data_dir, split, 0).parent, path]
    return summary
