"""3DPW official release -> ``vibe_db/3dpw_{train,val,test}_db.pt`` and person crops.

Reads ``<src>/sequenceFiles/{train,validation,test}/<sequence>.pkl`` (Python-2 pickles, read
through an allowlist that admits only numpy arrays, dtypes and scalars) and
``<src>/imageFiles/<sequence>/image_%05d.jpg``. Writes, under ``--data_dir``::

    vibe_db/3dpw_{train,val,test}_db.pt     joblib dicts of arrays, one row per actor and frame
    vibe_db/3dpw_prepare.json               where the joints came from, the crop settings
    3dpw/crops/<sequence>/image_%05d_<actor>.jpg    (--full_frames: 3dpw/imageFiles/<seq>/...)

Row keys: ``vid_name`` ``<sequence>_<actor>``, ``frame_id`` (int, 0-based), ``img_name``
(relative to the parent of ``--data_dir``), ``joints3D`` (16, 3) MPII-16 mm root-relative in
the camera frame, ``joints3D_image`` (16, 3) ``[u, v, Z - Z_root]``, ``joints2D`` (16, 3)
``[u, v, in frame]`` (the projection of ``joints3D`` with ``cam_intrinsics``, so 2D and 3D
agree), ``joints2D_openpose`` (16, 3) the release's OpenPose detections mapped to MPII-16 by
name (confidence in column 3; MPII pelvis = mid-hips, thorax = OpenPose neck, no upper neck or
head top), ``shape`` (10,), ``pose`` (72,) with the global orientation turned into the camera
frame, ``bbox`` (4,) ``[cx, cy, s, s]`` (s = 1.2 x the larger side of the 2D joints' extent),
``valid`` (campose_valid), ``crop_offset`` (2,) px: add it to any u, v to get frame pixels.
Pixel keys are in the saved crop's coordinates.

3D joints: by default from the release's ``jointPositions`` (24 SMPL joints) mapped to MPII-16
by name (:mod:`.threedpw_joints`). SMPL joints are not anatomical joints (wider, lower hips; no
head top), so errors measured against them are not comparable to the H36M-regressor ground
truth that ``--smpl_model`` and ``--j_regressor`` give; ``vibe_db/3dpw_prepare.json`` says which
was used (``joints3D_source``: ``smpl_joints`` or ``h36m_regressor``).

Actor-frames with ``campose_valid`` false, a joint behind the camera or fewer than
``--min_joints`` joints inside the frame are left out and counted in the summary; so is a missing
split folder. A damaged sequence file, a missing or truncated frame stops the run with one line
naming the file: sequences already finished stay in ``3dpw/prepare_state/`` (one ``.npz`` each,
with the settings used) and the dbs are only replaced, atomically, once every sequence is done.
A re-run redoes just the sequences that are missing, damaged or were prepared with other
settings. Crops use the window of :func:`~pose3d.prepare.common.crop_window` around the box (the
loader's crop side is the bbox side), without a rotation margin since the 3DPW loader does not
rotate.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import cv2
import numpy as np

from pose3d.prepare.common import (SequenceStore, Summary, atomic_write_bytes, concat_records,
                                   crop_window, disk_usage, dump_db_atomic, loader_policy,
                                   require_dir, save_crop)
from pose3d.prepare.threedpw_joints import (camera_pose_params, openpose_to_mpii, project,
                                             smpl_to_mpii, world_to_camera)
from pose3d.skeleton import MPII16, ROOT_MPII
from pose3d.utils.errors import DataFormatError, UserError
from pose3d.utils.io import read_pickle
from pose3d.utils.jobs import run_jobs

SPLITS = {"train": "train", "validation": "val", "test": "test"}   # release folder -> db split
BOX_PAD = 1.2
_REDOWNLOAD = "re-download and extract the 3DPW sequenceFiles archive"
REQUIRED = ("jointPositions", "poses2d", "cam_poses", "campose_valid", "cam_intrinsics",
            "img_frame_ids", "poses", "betas", "trans", "genders")


def add_arguments(parser) -> None:
    """3DPW's own flags."""
    parser.add_argument("--smpl_model", type=Path, default=None,
                        help="SMPL model (.npz/.pkl without chumpy, or a folder with "
                             "SMPL_MALE/SMPL_FEMALE files): 3D joints from SMPL vertices "
                             "through --j_regressor instead of the release's SMPL joints")
    parser.add_argument("--j_regressor", type=Path, default=None,
                        help="J_regressor_h36m.npy (17 x 6890), used with --smpl_model")
    parser.add_argument("--min_joints", type=int, default=6,
                        help="leave out actor-frames with fewer MPII joints inside the frame")


def _load_sequence_pickle(path: Path) -> dict:
    """The dict of one sequence file, read through the allowlist (nothing in it can run)."""
    data = read_pickle(path, _REDOWNLOAD)
    if not isinstance(data, dict):
        raise DataFormatError(path, f"holds a {type(data).__name__}, expected a dict",
                              _REDOWNLOAD)
    return data


def _array(data: dict, key: str, shape: tuple, path: Path, actor: int | None = None
           ) -> np.ndarray:
    """``data[key]`` (or its ``actor``-th item) as float64 of ``shape`` (None = any)."""
    what = f"key {key!r}" + ("" if actor is None else f" actor {actor}")
    try:
        arr = np.asarray(data[key] if actor is None else data[key][actor], dtype=np.float64)
    except (TypeError, ValueError, IndexError) as exc:
        raise DataFormatError(path, f"{what} is not numeric ({exc})", _REDOWNLOAD) from None
    if arr.ndim == len(shape) and shape[0] is not None and arr.shape[0] != shape[0] and \
            arr.shape[1:] == tuple(s or a for s, a in zip(shape[1:], arr.shape[1:])):
        raise DataFormatError(path, f"{what} has {len(arr)} frames but 'img_frame_ids' has "
                              f"{shape[0]}", _REDOWNLOAD)
    if arr.ndim != len(shape) or any(s is not None and s != a for s, a in zip(shape, arr.shape)):
        raise DataFormatError(path, f"{what} has shape {arr.shape}, expected "
                              f"{tuple('N' if s is None else s for s in shape)}", _REDOWNLOAD)
    return arr


def read_sequence(path: Path) -> dict:
    """Checked arrays of one sequence file.

    Returns:
        dict with ``frame_ids`` (N,) int, ``cam_poses`` (N, 4, 4), ``K`` (3, 3), per actor lists
        ``joints`` (N, 24, 3) world m, ``poses2d`` (N, 3, 18), ``valid`` (N,) bool, ``poses``
        (N, 72), ``betas`` (10,), ``trans`` (N, 3), ``genders`` str; and the raw dict ``raw``.
    """
    data = _load_sequence_pickle(path)
    for key in REQUIRED:
        if key not in data:
            raise DataFormatError(path, f"has no key {key!r} (keys: {sorted(data)})", _REDOWNLOAD)
    ids = _array(data, "img_frame_ids", (None,), path).astype(np.int64)
    n = len(ids)
    out = {"frame_ids": ids, "cam_poses": _array(data, "cam_poses", (n, 4, 4), path),
           "K": _array(data, "cam_intrinsics", (3, 3), path), "raw": data}
    actors = len(data["jointPositions"])
    for key in ("poses2d", "campose_valid", "poses", "betas", "trans", "genders"):
        if len(data[key]) != actors:
            raise DataFormatError(path, f"key {key!r} lists {len(data[key])} actors, "
                                  f"'jointPositions' {actors}", _REDOWNLOAD)
    per_actor = {"jointPositions": (n, 72), "poses2d": (n, 3, 18), "campose_valid": (n,),
                 "poses": (n, 72), "trans": (n, 3), "betas": (None,)}
    arrays = {key: [_array(data, key, shape, path, k) for k in range(actors)]
              for key, shape in per_actor.items()}
    if any(len(b) < 10 for b in arrays["betas"]):
        raise DataFormatError(path, "key 'betas' has fewer than 10 values for an actor",
                              _REDOWNLOAD)
    out.update(joints=[j.reshape(n, 24, 3) for j in arrays["jointPositions"]],
               poses2d=arrays["poses2d"], valid=[v > 0 for v in arrays["campose_valid"]],
               poses=arrays["poses"], trans=arrays["trans"],
               betas=[b[:10] for b in arrays["betas"]])
    out["genders"] = [str(g) for g in data["genders"]]
    return out


def _read_frame(path: Path) -> tuple[bytes, np.ndarray]:
    """The bytes and decoded pixels of a release frame; a truncated JPEG is an error."""
    data = path.read_bytes()
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR) if data else None
    if img is None or not data.rstrip(b"\0").endswith(b"\xff\xd9"):
        raise DataFormatError(path, f"is not a complete JPEG ({len(data)} bytes)",
                              "re-extract imageFiles.zip of the 3DPW release")
    return data, img


def _frame_paths(img_dir: Path, frame_ids: np.ndarray, pkl: Path) -> list[Path]:
    if not img_dir.is_dir():
        raise DataFormatError(img_dir, f"image folder of {pkl.name} is missing",
                              "extract imageFiles.zip of the 3DPW release into --src")
    paths = [img_dir / f"image_{i:05d}.jpg" for i in frame_ids]
    missing = [p for p in paths if not p.is_file()]
    if missing:
        raise DataFormatError(missing[0], f"is missing: {len(missing)} of the {len(paths)} "
                              f"frames {pkl.name} annotates are not in {img_dir.name}/",
                              "re-extract imageFiles.zip of the 3DPW release")
    return paths


def _actor_rows(mm: np.ndarray, K: np.ndarray, frame_wh: tuple[int, int], valid: np.ndarray,
                min_joints: int) -> dict:
    """Frame-pixel joints, box and kept-row mask of one actor.

    Args:
        mm: (N, 16, 3) MPII16 camera-frame joints, mm.
        K: (3, 3) intrinsics.
        frame_wh: (width, height).
        valid: (N,) campose_valid.

    Rows are kept when valid, finite, in front of the camera and with at least ``min_joints``
    joints inside the frame.
    """
    w, h = frame_wh
    front = np.isfinite(mm).all(axis=(1, 2)) & (np.nan_to_num(mm[..., 2]) > 0).all(axis=1)
    uv = project(np.where(front[:, None, None], mm, 1.0), K)
    inside = (uv[..., 0] >= 0) & (uv[..., 0] <= w - 1) & (uv[..., 1] >= 0) & (uv[..., 1] <= h - 1)
    keep = valid & front & (inside.sum(axis=1) >= min_joints)
    lo, hi = uv.min(axis=1), uv.max(axis=1)
    return {"uv": uv, "inside": inside, "keep": keep, "center": (lo + hi) / 2.0,
            "side": BOX_PAD * (hi - lo).max(axis=1)}


def _prepare_sequence(pkl: Path, split: str, img_root: Path, data_dir: Path, policy,
                      smpl: dict | None, min_joints: int) -> dict:
    """Crops and db rows of one sequence (actor-major, frames in order)."""
    s = read_sequence(pkl)
    seq, n = pkl.stem, len(s["frame_ids"])
    paths = _frame_paths(img_root / seq, s["frame_ids"], pkl)
    if smpl is not None:
        from pose3d.prepare.threedpw_joints import regressed_mpii
        mms = [regressed_mpii(smpl, s, k, pkl) for k in range(len(s["joints"]))]
    else:
        mms = [smpl_to_mpii(world_to_camera(j, s["cam_poses"]) * 1000.0) for j in s["joints"]]
    h, w = _read_frame(paths[0])[1].shape[:2]
    actors = [_actor_rows(mm, s["K"], (w, h), v, min_joints) for mm, v in zip(mms, s["valid"])]
    offsets = [np.zeros((n, 2)) for _ in actors]
    names = [np.full(n, "", dtype=object) for _ in actors]
    folder = "imageFiles" if policy.full_frames else "crops"
    for i, path in enumerate(paths):
        if not any(a["keep"][i] for a in actors):
            continue
        data, img = _read_frame(path)
        if img.shape[:2] != (h, w):
            raise DataFormatError(path, f"is {img.shape[1]}x{img.shape[0]}, the sequence's "
                                  f"first frame {w}x{h}", "re-extract imageFiles.zip")
        copied = False
        for k, a in enumerate(actors):
            if not a["keep"][i]:
                continue
            rel = f"3dpw/{folder}/{seq}/{path.stem}" + ("" if policy.full_frames else f"_{k}")
            dest = data_dir / f"{rel}.jpg"
            names[k][i] = f"{data_dir.name}/{rel}.jpg"
            if not policy.full_frames:
                window = crop_window(a["center"][i], a["side"][i], (w, h), policy)
                offsets[k][i] = save_crop(img, window, dest)
            elif not copied:   # one copy per frame; none when --src is this very folder
                copied = True
                if not (dest.is_file() and os.path.samefile(dest, path)):
                    atomic_write_bytes(dest, data)
    rows = [_rows(seq, k, s, mms[k], a, offsets[k], names[k]) for k, a in enumerate(actors)]
    out = concat_records([r for r in rows if len(r["img_name"])])
    if not out:
        out = _rows(seq, 0, s, mms[0], dict(actors[0], keep=np.zeros(n, bool)), offsets[0],
                    names[0])
    invalid = sum(int((~v).sum()) for v in s["valid"])
    dropped = sum(int((~a["keep"]).sum()) for a in actors) - invalid
    out["_stats"] = np.array([n, len(actors), invalid, dropped])
    return out


def _rows(seq: str, k: int, s: dict, mm: np.ndarray, a: dict, offset: np.ndarray,
          names: np.ndarray) -> dict:
    """The db rows of actor ``k`` (kept frames only), pixel keys in crop coordinates."""
    idx = np.flatnonzero(a["keep"])
    off = offset[idx][:, None, :]
    rel = mm[idx] - mm[idx, ROOT_MPII:ROOT_MPII + 1]
    uv = a["uv"][idx] - off
    op = openpose_to_mpii(s["poses2d"][k][idx])
    op[..., :2] -= off * (op[..., 2:] > 0)
    m = len(idx)
    return {
        "vid_name": np.array([f"{seq}_{k}"] * m, dtype=str).reshape(m),
        "frame_id": s["frame_ids"][idx].astype(np.int64),
        "img_name": np.array(list(names[idx]), dtype=str).reshape(m),
        "joints3D": rel,
        "joints3D_image": np.concatenate([uv, rel[..., 2:]], axis=-1),
        "joints2D": np.concatenate([uv, a["inside"][idx][..., None].astype(np.float64)], -1),
        "joints2D_openpose": op,
        "shape": np.repeat(s["betas"][k][None].astype(np.float32), m, axis=0),
        "pose": camera_pose_params(s["poses"][k][idx], s["cam_poses"][idx]).astype(np.float32),
        "bbox": np.concatenate([a["center"][idx] - offset[idx], a["side"][idx, None].repeat(2, 1)],
                               axis=1),
        "valid": np.ones(m, dtype=bool),
        "crop_offset": offset[idx],
    }


def _policy_array(args) -> np.ndarray:
    c = args.crop
    return np.array([c.scale_factor, c.rotate_factor, c.aspect, c.min_side, c.full_frames,
                     args.smpl_model is not None, args.min_joints], dtype=np.float64)


def prepare(args) -> Summary:
    """Convert the release at ``args.src`` into ``args.data_dir`` (see the module docstring)."""
    src = require_dir(args.src, "3DPW release folder",
                      "point --src at the folder holding sequenceFiles/ and imageFiles/")
    seq_root = require_dir(src / "sequenceFiles", "folder sequenceFiles/ of the 3DPW release",
                           "extract sequenceFiles.zip into --src")
    img_root = require_dir(src / "imageFiles", "folder imageFiles/ of the 3DPW release",
                           "extract imageFiles.zip into --src")
    if args.min_joints < 1 or args.min_joints > MPII16.num_joints:
        raise UserError(f"--min_joints {args.min_joints}: must be between 1 and 16")
    smpl = None
    if args.smpl_model is not None or args.j_regressor is not None:
        from pose3d.prepare.threedpw_joints import smpl_inputs
        smpl = smpl_inputs(args.smpl_model, args.j_regressor)
    from pose3d.datasets.threedpw import ThreeDPW   # here: --help stays free of torch
    args.crop = loader_policy(args.crop, ThreeDPW.rotate_in_train)
    data_dir = Path(os.path.abspath(args.data_dir))
    store = SequenceStore(data_dir / "3dpw" / "prepare_state", data_dir.parent)
    policy = _policy_array(args)
    summary = Summary("3dpw")
    parts: dict[str, list[dict]] = {}
    jobs, keys = [], []
    for folder, split in SPLITS.items():
        if not (seq_root / folder).is_dir():
            summary.skip(f"sequenceFiles/{folder}", f"folder missing, no 3dpw_{split}_db.pt")
            continue
        parts[split] = []
        for pkl in sorted((seq_root / folder).glob("*.pkl")):
            key = f"{split}__{pkl.stem}"
            done = store.load(key)
            if done is not None and np.array_equal(done.get("_policy"), policy):
                parts[split].append(done)
                summary.reused += 1
                continue
            jobs.append((pkl, split, img_root, data_dir, args.crop, smpl, args.min_joints))
            keys.append((key, split, len(parts[split])))
            parts[split].append({})   # filled in below
    if not any(parts.values()) and not jobs:
        raise DataFormatError(seq_root, "holds no <sequence>.pkl under train/, validation/ or "
                              "test/", "extract sequenceFiles.zip into --src")
    results = run_jobs(_prepare_sequence, jobs, args.workers, "3dpw sequences")
    for (key, split, slot), res in zip(keys, results):
        res["_policy"] = policy
        store.save(key, res)
        parts[split][slot] = res
    return _finish(summary, parts, data_dir, smpl is not None, args)


def _finish(summary: Summary, parts: dict[str, list[dict]], data_dir: Path, regressed: bool,
            args) -> Summary:
    """Write the dbs and the sidecar json (after every sequence is done) and fill the summary."""
    counts = {}
    for split, seqs in parts.items():
        db = concat_records([{k: v for k, v in p.items() if not k.startswith("_")}
                             for p in seqs])
        for p in seqs:
            n, actors, invalid, dropped = (int(x) for x in p["_stats"])
            summary.sequences += 1
            name = str(p["vid_name"][0]).rsplit("_", 1)[0] if len(p["vid_name"]) else "?"
            if invalid or dropped:
                summary.skip(f"{split} {name}", f"{invalid} actor-frames with campose_valid "
                             f"false, {dropped} behind the camera or under --min_joints joints "
                             f"in the frame (of {n * actors})")
        path = data_dir / "vibe_db" / f"3dpw_{split}_db.pt"
        dump_db_atomic(db, path)
        counts[split] = len(db.get("img_name", ()))
        summary.frames += counts[split]
        summary.outputs.append(path)
    source = "h36m_regressor" if regressed else "smpl_joints"
    info = {"joints3D_source": source,
            "joints3D": ("J_regressor_h36m on SMPL vertices" if regressed else
                         "the release's jointPositions (SMPL joints), thorax = mid-shoulders, "
                         "upper neck = SMPL neck, head top = head + (head - neck)"),
            "joints2D": "projection of joints3D with cam_intrinsics; column 3 = inside frame",
            "joints2D_openpose": "poses2d (OpenPose COCO-18) mapped to MPII-16 by name",
            "pixels": "crop coordinates; frame = crop + crop_offset",
            "full_frames": bool(args.crop.full_frames), "rows": counts}
    side = data_dir / "vibe_db" / "3dpw_prepare.json"
    atomic_write_bytes(side, (json.dumps(info, indent=1) + "\n").encode())
    summary.outputs += [side, data_dir / "3dpw" / ("imageFiles" if args.crop.full_frames
                                                   else "crops")]
    summary.notes.append(f"3D joints from {info['joints3D']}")
    summary.disk_bytes = disk_usage(*summary.outputs)
    return summary
