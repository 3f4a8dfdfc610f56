"""Synthetic MPI-INF-3DHP tree in the fork's VIBE-style db format (docs/datasets.md).

Writes ``num`` frames per split::

    vibe_db/mpii3d_train_db.pt      S1-S8, Seq1-2, video_{0,1,2,4,5,6,7,8}
    vibe_db/mpii3d_val_db.pt        the test set TS1-TS6
    mpi_inf_3dhp/S<u>/Seq<s>/video_<v>/%06d.jpg                            (1-based)
    mpi_inf_3dhp/mpi_inf_3dhp_test_set/TS<u>/imageSequence/img_%06d.jpg    (1-based)

A db is ``joblib.dump`` of a dict of arrays with the keys the fork's preprocessing writes:
``vid_name`` (N,) str (``subj1_seq1_vid0_seg0``; val ``subj1_seg0``), ``frame_id`` (N,) str (the
image stem), ``img_name`` (N,) str, ``joints2D`` (N, 16, 3) float64 ``[u, v, 1]``, ``joints3D``
(N, 16, 3) float64 MPII-16 mm root-relative (row 6 = 0), ``joints3D_image`` (N, 16, 3) float64
``[u, v, Z - Z_root]``, ``bbox`` (N, 4) float64 ``[cx, cy, w, h]`` (joint extent, larger side
x 1.1, w = h); val also ``valid_i`` (N, 1) float64.

``img_name`` is what the preprocessing stores, a path relative to the repository root whose first
part is the data folder (``./data/mpi_inf_3dhp/...``); here
``./<name of out_dir>/mpi_inf_3dhp/...``, so the loader's ``data_dir/../img_name`` finds it when
``data_dir`` is ``out_dir``.

The MPII-16 joints follow the real annotation's choices: thorax <- the spine joint (the fork maps
MPI-INF "spine" to the MPII thorax), upper neck <- the body's neck base, head-top <- head top.
Frames are half the real resolution (1024 x 1024 instead of 2048 x 2048; TS5/TS6 960 x 540
instead of 1920 x 1080) with the focal length halved accordingly, to keep the tree quick to write.
Rows are grouped by sequence, ``FRAMES_PER_VIDEO`` frames each; consecutive sequences change the
subject first.
"""
import logging
import os
from pathlib import Path

import numpy as np

from pose3d.skeleton import MPII16, ROOT_MPII, SYNTH18
from pose3d.synthetic.camera import project
from pose3d.synthetic.common import run_samples, write_jpeg
from pose3d.synthetic.degrade import NoiseBank
from pose3d.synthetic.render import render_person, sample_rng

logger = logging.getLogger(__name__)

FRAMES_PER_VIDEO = 5
TRAIN_VIDEOS = (0, 1, 2, 4, 5, 6, 7, 8)  # camera 3 is not used by the preprocessing
TRAIN_SIZE = (1024, 1024)
TEST_SIZES = {1: (1024, 1024), 2: (1024, 1024), 3: (1024, 1024), 4: (1024, 1024),
              5: (960, 540), 6: (960, 540)}
RENDER_OPTIONS = {"focal": 750.0, "distance_range": (2500.0, 4500.0)}
# MPII-16 joint <- mean of these body joints (names); other MPII joints share the body's name.
MPII3D_SOURCES = {"pelvis": ("root",), "thorax": ("spine",), "upper_neck": ("thorax",),
                  "head_top": ("head_top",)}


def db_path(out_dir: Path, prefix: str, split: str) -> Path:
    """``<out_dir>/vibe_db/<prefix>_<split>_db.pt``."""
    return Path(out_dir) / "vibe_db" / f"{prefix}_{split}_db.pt"


def mpii16_from_body(joints_cam: np.ndarray, camera: dict, sources: dict[str, tuple[str, ...]]
                     ) -> tuple[np.ndarray, np.ndarray]:
    """MPII-16 joints of a rendered body and their projections.

    Args:
        joints_cam: (18, 3) SYNTH18 camera-frame joints, mm.
        camera: the render's camera (fx, fy, cx, cy).
        sources: MPII name -> body joint names averaged (joints not listed use their own name).

    Returns:
        ((16, 3) camera-frame mm, (16, 2) px pinhole projections).
    """
    out = np.empty((MPII16.num_joints, 3))
    for j, name in enumerate(MPII16.names):
        idx = [SYNTH18.index(n) for n in sources.get(name, (name,))]
        out[j] = joints_cam[idx].mean(axis=0)
    return out, project(out, camera)


def vibe_bbox(uv: np.ndarray) -> np.ndarray:
    """VIBE's ``get_bbox_from_kp2d``: [cx, cy, w, h] with w = h = 1.1 x the larger extent."""
    lo, hi = uv.min(axis=0), uv.max(axis=0)
    side = float(max(hi - lo)) * 1.1
    return np.array([(lo[0] + hi[0]) / 2.0, (lo[1] + hi[1]) / 2.0, side, side])


def layout(split: str, index: int) -> dict:
    """Sequence names and image path of frame ``index``."""
    video, k = divmod(index, FRAMES_PER_VIDEO)
    if split == "train":
        n_seq = 8 * 2 * len(TRAIN_VIDEOS)
        subject, seq = 1 + video % 8, 1 + (video // 8) % 2
        cam = TRAIN_VIDEOS[(video // 16) % len(TRAIN_VIDEOS)]
        frame = 1 + (video // n_seq) * FRAMES_PER_VIDEO + k
        rel = f"mpi_inf_3dhp/S{subject}/Seq{seq}/video_{cam}/{frame:06d}.jpg"
        return {"vid_name": f"subj{subject}_seq{seq}_vid{cam}_seg0", "frame_id": f"{frame:06d}",
                "rel": rel, "size": TRAIN_SIZE}
    subject = 1 + video % 6
    frame = 1 + (video // 6) * FRAMES_PER_VIDEO + k
    rel = f"mpi_inf_3dhp/mpi_inf_3dhp_test_set/TS{subject}/imageSequence/img_{frame:06d}.jpg"
    return {"vid_name": f"subj{subject}_seg0", "frame_id": f"img_{frame:06d}", "rel": rel,
            "size": TEST_SIZES[subject]}


def render_sample(split: str, index: int, seed: int, **options) -> dict:
    """Render frame ``index`` of ``split``."""
    size = layout(split, index)["size"]
    return render_person(sample_rng(seed, f"mpii3d/{split}", index), *size,
                         **RENDER_OPTIONS, **options)


def write_frame(out_dir: Path, rel: str, person: dict, sources: dict
                ) -> tuple[str, np.ndarray, np.ndarray]:
    """Write ``person``'s image at ``out_dir/rel``.

    Returns:
        the tree's folder name, root-relative MPII16 joints (16, 3) mm (camera frame) and
        their pixels (16, 2).
    """
    write_jpeg(out_dir / rel, person["image"])
    mm, uv = mpii16_from_body(person["joints_3d_cam"], person["camera"], sources)
    return os.path.basename(os.path.abspath(out_dir)), mm - mm[ROOT_MPII], uv


def _sample(out_dir: Path, split: str, index: int, seed: int, noise: NoiseBank) -> dict:
    info = layout(split, index)
    root_name, mm, uv = write_frame(out_dir, info["rel"],
                                    render_sample(split, index, seed, noise=noise), MPII3D_SOURCES)
    joints_2d = np.concatenate([uv, np.ones((len(uv), 1))], axis=1)
    joints_3d_image = joints_2d.copy()
    joints_3d_image[:, 2] = mm[:, 2]
    return {"vid_name": info["vid_name"], "frame_id": info["frame_id"],
            "img_name": f"./{root_name}/{info['rel']}", "joints2D": joints_2d, "joints3D": mm,
            "joints3D_image": joints_3d_image, "bbox": vibe_bbox(uv)}


def dump_db(rows: list[dict], path: Path, keys: tuple[str, ...]) -> None:
    """Stack per-row dicts into a dict of arrays and ``joblib.dump`` it to ``path``."""
    import joblib

    db = {k: np.array([row[k] for row in rows]) for k in keys}
    path.parent.mkdir(parents=True, exist_ok=True)
    joblib.dump(db, path)


def write(out_dir: Path, num: int, seed: int, workers: int) -> None:
    """Write ``num`` frames per split: images under ``out_dir/mpi_inf_3dhp``, dbs in vibe_db/."""
    out_dir = Path(out_dir)
    keys = ("vid_name", "frame_id", "img_name", "joints2D", "joints3D", "joints3D_image", "bbox")
    for split in ("train", "val"):
        rows = run_samples(_sample, [(out_dir, split, i, seed) for i in range(num)], workers)
        if split == "val":
            for row in rows:
                row["valid_i"] = np.ones(1)
        path = db_path(out_dir, "mpii3d", split)
        dump_db(rows, path, keys + (("valid_i",) if split == "val" else ()))
        logger.info("mpii3d %s: %d frames -> %s", split, num, path)
