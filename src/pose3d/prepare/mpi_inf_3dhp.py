"""MPI-INF-3DHP official release -> ``vibe_db/mpii3d_{train,val}_db.pt`` and person crops.

Reads (``--src``)::

    S<s>/Seq<q>/annot.mat                     MATLAB 5: cells annot2 (F, 56), annot3 (F, 84)
    S<s>/Seq<q>/imageSequence/video_<c>.avi   frame i = annotation row i
    mpi_inf_3dhp_test_set/TS<t>/annot_data.mat   MATLAB 7.3 (HDF5): annot2, annot3, valid_frame
    mpi_inf_3dhp_test_set/TS<t>/imageSequence/img_%06d.jpg   (1-based)

Writes under ``--data_dir``::

    mpi_inf_3dhp/S<s>/Seq<q>/video_<c>/%06d.jpg                       (frame number, 1-based)
    mpi_inf_3dhp/mpi_inf_3dhp_test_set/TS<t>/imageSequence/img_%06d.jpg
    vibe_db/mpii3d_train_db.pt   (S1-S8, every ``--stride_train``-th frame of ``--cameras``)
    vibe_db/mpii3d_val_db.pt     (the test set TS1-TS6)

A db is ``joblib.dump`` of a dict of arrays, one row per frame: ``vid_name``
(``subj1_seq1_vid0_seg0``; test ``subj1_seg0``; the segment number grows after a dropped frame),
``frame_id`` (image stem),
``img_name`` (``./<data_dir name>/mpi_inf_3dhp/...``, read relative to the parent of data_dir),
``joints2D`` (N, 16, 3) ``[u, v, 1]`` px, ``joints3D`` (N, 16, 3) mm, camera frame, minus the
pelvis, ``joints3D_image`` (N, 16, 3) ``[u, v, Z - Z_pelvis]``, ``bbox`` (N, 4) ``[cx, cy, s, s]``
(joint extent, larger side x 1.1), ``crop_offset`` (N, 2) px and, for val, ``valid_i`` (N, 1).
Joints are MPII-16; thorax takes the release's "spine" joint and upper neck its "neck", as the
original preprocessing did. 3D comes from ``annot3`` (camera frame), not ``univ_annot3``.

Every image is a crop of the frame (``--full_frames``: the frame) and all pixel coordinates are
the crop's; ``frame = crop + crop_offset`` maps them back. Frames where a joint lies outside the
frame are dropped, as in the original preprocessing.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import cv2
import numpy as np

from pose3d.prepare.common import (SequenceStore, Summary, concat_records, crop_window,
                                   dump_db_atomic, loader_policy, require_dir, save_crop)
from pose3d.skeleton import MPII16, ROOT_MPII
from pose3d.utils.errors import DataFormatError, UserError
from pose3d.utils.jobs import run_jobs

# The release's joint orders: annot2/annot3 of the training set (28) and of the test set (17).
JOINTS28 = ("spine3", "spine4", "spine2", "spine", "pelvis", "neck", "head", "head_top",
            "l_clavicle", "l_shoulder", "l_elbow", "l_wrist", "l_hand", "r_clavicle",
            "r_shoulder", "r_elbow", "r_wrist", "r_hand", "l_hip", "l_knee", "l_ankle", "l_foot",
            "l_toe", "r_hip", "r_knee", "r_ankle", "r_foot", "r_toe")
JOINTS17 = ("head_top", "neck", "r_shoulder", "r_elbow", "r_wrist", "l_shoulder", "l_elbow",
            "l_wrist", "r_hip", "r_knee", "r_ankle", "l_hip", "l_knee", "l_ankle", "pelvis",
            "spine", "head")
# MPII-16 joints taken from a release joint of another name (the original preprocessing's map).
MPII_FROM_RELEASE = {"thorax": "spine", "upper_neck": "neck"}
TRAIN_TO_MPII = [JOINTS28.index(MPII_FROM_RELEASE.get(n, n)) for n in MPII16.names]
TEST_TO_MPII = [JOINTS17.index(MPII_FROM_RELEASE.get(n, n)) for n in MPII16.names]

SUBJECTS = tuple(range(1, 9))
SEQUENCES = (1, 2)
TEST_SEQUENCES = tuple(range(1, 7))
DEFAULT_CAMERAS = "0,1,2,4,5,6,7,8"
BOX_MARGIN = 1.1
FORMAT_VERSION = 1
_FIX_DOWNLOAD = "download and extract it again"
_FIX_TEST = "extract mpi_inf_3dhp_test_set.zip again"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The dataset's own flags."""
    parser.add_argument("--cameras", default=DEFAULT_CAMERAS,
                        help="training-set cameras to use (comma-separated video numbers)")
    parser.add_argument("--stride_train", type=int, default=10,
                        help="keep every n-th training frame (neighbouring frames are near copies)")
    parser.add_argument("--stride_val", type=int, default=1,
                        help="keep every n-th test-set frame (1: the full evaluation set)")
    parser.add_argument("--splits", default="train,val",
                        help="which dbs to write: train (S1-S8), val (the test set TS1-TS6)")


def _int_list(text: str, flag: str) -> list[int]:
    try:
        return [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise UserError(f"{flag} {text!r}: expected comma-separated integers") from None


def prepare(args: argparse.Namespace) -> Summary:
    """Convert the release at ``args.src`` into ``args.data_dir`` (see the module docstring)."""
    src = require_dir(args.src, "MPI-INF-3DHP release folder",
                      "pass --src the folder that holds S1..S8 and mpi_inf_3dhp_test_set")
    cameras = _int_list(args.cameras, "--cameras")
    splits = [s.strip() for s in args.splits.split(",") if s.strip()]
    if not splits or set(splits) - {"train", "val"}:
        raise UserError(f"--splits {args.splits!r}: choose from train, val")
    for flag, value in (("--stride_train", args.stride_train), ("--stride_val", args.stride_val)):
        if value < 1:
            raise UserError(f"{flag} {value}: must be at least 1")
    data_dir = Path(args.data_dir).resolve()
    from pose3d.datasets.mpii3d import MPII3D
    out = _Output(data_dir, loader_policy(args.crop, MPII3D.rotate_in_train))
    summary = Summary("mpi_inf_3dhp")
    if "train" in splits:
        jobs = _train_jobs(src, cameras, args.stride_train, out, summary)
        _run_split("train", jobs, out, args.workers, summary)
    if "val" in splits:
        jobs = _test_jobs(src, args.stride_val, out, summary)
        _run_split("val", jobs, out, args.workers, summary)
    summary.outputs.append(out.image_root)
    return summary


@dataclasses.dataclass
class _Output:
    """Where and how the results go (picklable, sent to worker processes)."""
    data_dir: Path
    policy: object

    @property
    def image_root(self) -> Path:
        return self.data_dir / "mpi_inf_3dhp"

    def img_name(self, rel: str) -> str:
        """``img_name`` of an image at ``mpi_inf_3dhp/<rel>``: relative to data_dir's parent."""
        return f"./{self.data_dir.name}/mpi_inf_3dhp/{rel}"

    def store(self) -> SequenceStore:
        return SequenceStore(self.image_root / ".prepare", self.data_dir.parent)

    def settings(self, stride: int, cameras: list[int] | None = None) -> str:
        """What a finished sequence was made with; a re-run with other settings redoes it."""
        return json.dumps({"version": FORMAT_VERSION, "stride": stride, "cameras": cameras,
                           "policy": dataclasses.asdict(self.policy)}, sort_keys=True)


def _train_jobs(src: Path, cameras: list[int], stride: int, out: _Output,
                summary: Summary) -> list[tuple]:
    found = [(s, q) for s in SUBJECTS for q in SEQUENCES if (src / f"S{s}" / f"Seq{q}").is_dir()]
    if not found:
        raise DataFormatError(src, "has no training sequence folder S<s>/Seq<q>",
                              "download the training set with the release's get_dataset.sh, "
                              "or pass --splits val")
    absent = [f"S{s}/Seq{q}" for s in SUBJECTS for q in SEQUENCES if (s, q) not in found]
    if absent:
        summary.notes.append(f"training sequences not in --src: {', '.join(absent)}")
    settings = out.settings(stride, cameras)
    return [(f"train_S{s}_Seq{q}", _train_sequence,
             (src / f"S{s}" / f"Seq{q}", s, q, cameras, stride, out, settings)) for s, q in found]


def _test_jobs(src: Path, stride: int, out: _Output, summary: Summary) -> list[tuple]:
    root = require_dir(src / "mpi_inf_3dhp_test_set", "test-set folder",
                       "extract mpi_inf_3dhp_test_set.zip into --src, or pass --splits train")
    found = [t for t in TEST_SEQUENCES if (root / f"TS{t}").is_dir()]
    if not found:
        raise DataFormatError(root, "has no TS<t> folder", _FIX_TEST)
    absent = [f"TS{t}" for t in TEST_SEQUENCES if t not in found]
    if absent:
        summary.notes.append(f"test sequences not in --src: {', '.join(absent)}")
    settings = out.settings(stride)
    return [(f"val_TS{t}", _test_sequence, (root / f"TS{t}", t, stride, out, settings))
            for t in found]


def _run_split(split: str, jobs: list[tuple], out: _Output, workers: int,
               summary: Summary) -> None:
    """Run the sequences not done yet, then write the split's db from all of them."""
    store = out.store()
    parts: dict[str, dict] = {}
    todo = []
    for key, fn, job_args in jobs:
        done = store.load(key)
        if done is not None and str(done.pop("settings", [""])[0]) == job_args[-1]:
            parts[key] = done
            summary.reused += 1
        else:
            todo.append((key, fn, job_args))
    results = run_jobs(_call, [(fn, job_args) for _, fn, job_args in todo], workers,
                       f"mpi_inf_3dhp {split}")
    for (key, _, job_args), result in zip(todo, results):
        for what, why in result.pop("skipped"):
            summary.skip(what, why)
        store.save(key, dict(result["arrays"], settings=np.array([job_args[-1]])))
        parts[key] = result["arrays"]
    ordered = [parts[key] for key, _, _ in jobs]
    summary.sequences += len(jobs)
    db = concat_records(ordered)
    summary.frames += len(db["img_name"])
    path = out.data_dir / "vibe_db" / f"mpii3d_{split}_db.pt"
    dump_db_atomic(db, path)
    summary.outputs.append(path)


def _call(fn, job_args: tuple) -> dict:
    """``fn(*job_args)``: one job type for the training and the test sequences."""
    return fn(*job_args)


# -- one training sequence -------------------------------------------------------------------------
def _load_annot(path: Path) -> dict[str, list[np.ndarray]]:
    """annot2 / annot3 cells of an ``annot.mat`` as per-camera (F, 56) / (F, 84) arrays."""
    import scipy.io

    if not path.is_file():
        raise DataFormatError(path, "annotation file is missing", _FIX_DOWNLOAD)
    try:   # only the two variables used: univ_annot3 would add a third of the memory
        found = sorted(v[0] for v in scipy.io.whosmat(str(path)))
        mat = scipy.io.loadmat(str(path), variable_names=("annot2", "annot3"))
    except Exception as exc:  # scipy raises several types for damaged files
        raise DataFormatError(path, f"cannot be read as a MATLAB file ({type(exc).__name__}: "
                              f"{exc})", _FIX_DOWNLOAD) from exc
    cells = {}
    for key, width in (("annot2", 56), ("annot3", 84)):
        if key not in mat:
            raise DataFormatError(path, f"has no variable {key!r} (found {found})", _FIX_DOWNLOAD)
        cell = [np.asarray(c, dtype=np.float64) for c in np.asarray(mat[key]).ravel()]
        for c, arr in enumerate(cell):
            if arr.ndim != 2 or arr.shape[1] != width:
                raise DataFormatError(path, f"{key} cell {c} has shape {arr.shape}, expected "
                                      f"(frames, {width})", _FIX_DOWNLOAD)
        cells[key] = cell
    return cells


def _train_sequence(folder: Path, s: int, q: int, cameras: list[int], stride: int,
                    out: _Output, settings: str) -> dict:
    annot = _load_annot(folder / "annot.mat")
    rows, skipped, missing = [], [], []
    for cam in cameras:
        if cam >= len(annot["annot2"]):
            raise DataFormatError(folder / "annot.mat", f"annotates {len(annot['annot2'])} "
                                  f"cameras, --cameras asks for {cam}",
                                  "pass --cameras with numbers the release has (0-13)")
        video = folder / "imageSequence" / f"video_{cam}.avi"
        if not video.is_file():
            missing.append(str(cam))
            continue
        j2 = annot["annot2"][cam].reshape(-1, 28, 2)[:, TRAIN_TO_MPII]
        j3 = annot["annot3"][cam].reshape(-1, 28, 3)[:, TRAIN_TO_MPII]
        if len(j2) != len(j3):
            raise DataFormatError(folder / "annot.mat", f"camera {cam}: annot2 has {len(j2)} "
                                  f"frames, annot3 {len(j3)}", _FIX_DOWNLOAD)
        rel = f"S{s}/Seq{q}/video_{cam}"
        frames = _video_frames(video, len(j2), stride, j2)
        video_rows, dropped = _frame_rows(frames, j2, j3, out, rel, "{:06d}",
                                          f"subj{s}_seq{q}_vid{cam}")
        rows += video_rows
        if dropped:
            skipped.append((rel, f"{dropped} frame(s) with a joint outside the frame"))
    if missing:
        skipped.append((f"S{s}/Seq{q}", f"no video for camera(s) {','.join(missing)}"))
    return {"arrays": _stack(rows, val=False), "skipped": skipped}


def _inside(j2: np.ndarray, wh: tuple[int, int]) -> np.ndarray:
    """(F, 16, 2) px -> (F,) all joints finite and inside a frame of size ``wh``."""
    ok = np.isfinite(j2).all(axis=2) & (j2 >= 0).all(axis=2)
    ok &= (j2[..., 0] < wh[0]) & (j2[..., 1] < wh[1])
    return ok.all(axis=1)


def _video_frames(video: Path, count: int, stride: int, j2: np.ndarray):
    """Yield ``(i, frame or None)`` for every ``stride``-th frame of ``video``; None when a joint
    is outside the frame (not decoded). Checks the video has ``count`` frames."""
    cap = cv2.VideoCapture(str(video))
    try:
        n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) if cap.isOpened() else 0
        wh = (int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)))
        if n <= 0:
            raise DataFormatError(video, "OpenCV cannot open this video or finds no frames",
                                  _FIX_DOWNLOAD)
        if n != count:
            raise DataFormatError(video, f"has {n} frames but annot.mat annotates {count}",
                                  "re-download the sequence (video and annot.mat belong "
                                  "together)")
        inside = _inside(j2, wh)
        for i in range(count):
            used = i % stride == 0 and inside[i]
            ok = cap.grab()
            frame = cap.retrieve()[1] if ok and used else None
            if not ok or (used and frame is None):
                raise DataFormatError(video, f"ends or breaks at frame {i} of {count} "
                                      "(truncated or damaged)", _FIX_DOWNLOAD)
            if i % stride == 0:
                yield i, frame
    finally:
        cap.release()


# -- one test sequence ---------------------------------------------------------------------------
def _h5_frames_first(path: Path, f, key: str, tail: tuple[int, ...]) -> np.ndarray:
    """Dataset ``key`` with the frame axis first: (N, *tail); h5py may give MATLAB's axes
    reversed, (*tail[::-1], N)."""
    if key not in f:
        raise DataFormatError(path, f"has no variable {key!r} (found {sorted(f.keys())})",
                              _FIX_TEST)
    arr = np.asarray(f[key], dtype=np.float64)
    if arr.ndim == len(tail) + 1 and arr.shape[1:] == tail:
        return arr
    if arr.ndim == len(tail) + 1 and arr.shape[:-1] == tail[::-1]:
        return arr.T
    raise DataFormatError(path, f"{key} has shape {arr.shape}, expected (frames, "
                          f"{', '.join(map(str, tail))}) or its reverse", _FIX_TEST)


def _load_test_annot(path: Path) -> dict[str, np.ndarray]:
    import h5py

    if not path.is_file():
        raise DataFormatError(path, "annotation file is missing", _FIX_TEST)
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise DataFormatError(path, f"is not a readable MATLAB 7.3 (HDF5) file ({exc})",
                              _FIX_TEST) from exc
    with f:
        a2 = _h5_frames_first(path, f, "annot2", (1, 17, 2))[:, 0]
        a3 = _h5_frames_first(path, f, "annot3", (1, 17, 3))[:, 0]
        valid = _h5_frames_first(path, f, "valid_frame", (1,))
    if not len(a2) == len(a3) == len(valid):
        raise DataFormatError(path, f"annot2, annot3 and valid_frame have {len(a2)}, {len(a3)} "
                              f"and {len(valid)} frames", _FIX_TEST)
    return {"annot2": a2[:, TEST_TO_MPII], "annot3": a3[:, TEST_TO_MPII], "valid": valid}


def _test_sequence(folder: Path, t: int, stride: int, out: _Output, settings: str) -> dict:
    annot = _load_test_annot(folder / "annot_data.mat")
    n = len(annot["annot2"])
    images = folder / "imageSequence"
    count = sum(1 for p in images.glob("img_*.jpg")) if images.is_dir() else 0
    if count != n:
        raise DataFormatError(images, f"holds {count} img_*.jpg frames but annot_data.mat "
                              f"annotates {n}", _FIX_TEST)
    rel = f"mpi_inf_3dhp_test_set/TS{t}/imageSequence"
    rows, dropped = _frame_rows(_image_frames(images, n, stride, annot["annot2"]),
                                annot["annot2"], annot["annot3"], out, rel, "img_{:06d}",
                                f"subj{t}")
    for row in rows:
        row["valid_i"] = annot["valid"][row.pop("index")]
    skipped = [(f"TS{t}", f"{dropped} frame(s) with a joint outside the frame")] if dropped else []
    return {"arrays": _stack(rows, val=True), "skipped": skipped}


def _image_frames(images: Path, count: int, stride: int, j2: np.ndarray):
    """Yield ``(i, image or None)`` for every ``stride``-th test frame (None: joint outside)."""
    for i in range(0, count, stride):
        path = images / f"img_{i + 1:06d}.jpg"
        img = cv2.imread(str(path))
        if img is None:
            raise DataFormatError(path, "is missing or not a readable JPEG", _FIX_TEST)
        yield i, (img if _inside(j2[i:i + 1], img.shape[1::-1])[0] else None)


# -- shared --------------------------------------------------------------------------------------
def _frame_rows(frames, j2: np.ndarray, j3: np.ndarray, out: _Output, rel: str, stem: str,
                vid: str) -> tuple[list[dict], int]:
    """Crop and save each kept frame: (one db row per frame in crop coordinates, frames
    dropped)."""
    rows, segment = [], 0
    for i, frame in frames:
        if frame is None:       # dropped frame: the next kept one starts a new segment
            segment += 1
            continue
        uv, mm = j2[i], j3[i] - j3[i, ROOT_MPII]
        lo, hi = uv.min(axis=0), uv.max(axis=0)
        side = float(max(hi - lo)) * BOX_MARGIN
        center = (lo + hi) / 2.0
        window = crop_window(center, side, (frame.shape[1], frame.shape[0]), out.policy)
        name = stem.format(i + 1)
        offset = save_crop(frame, window, out.image_root / rel / f"{name}.jpg")
        uv_crop = uv - offset
        rows.append({
            "index": i, "vid_name": f"{vid}_seg{segment}", "frame_id": name,
            "img_name": out.img_name(f"{rel}/{name}.jpg"),
            "joints2D": np.concatenate([uv_crop, np.ones((len(uv), 1))], axis=1),
            "joints3D": mm,
            "joints3D_image": np.concatenate([uv_crop, mm[:, 2:]], axis=1),
            "bbox": np.array([*(center - offset), side, side]), "crop_offset": offset})
    return rows, segment


def _stack(rows: list[dict], val: bool) -> dict[str, np.ndarray]:
    """Rows -> dict of arrays (fixed dtypes and shapes, also for no rows)."""
    k = MPII16.num_joints
    shapes = {"joints2D": (k, 3), "joints3D": (k, 3), "joints3D_image": (k, 3), "bbox": (4,),
              "crop_offset": (2,)} | ({"valid_i": (1,)} if val else {})
    arrays = {key: np.array([r[key] for r in rows], dtype=str).reshape(len(rows))
              for key in ("vid_name", "frame_id", "img_name")}
    for key, shape in shapes.items():
        arrays[key] = np.array([r[key] for r in rows], dtype=np.float64).reshape(len(rows), *shape)
    return arrays
