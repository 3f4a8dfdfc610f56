"""Synthetic 3DPW tree in the ECE740F21T01 fork's VIBE-style db format (docs/datasets.md).

Writes ``num`` frames per split::

    vibe_db/3dpw_{train,val}_db.pt
    3dpw/imageFiles/<sequence>/image_%05d.jpg          540 x 960 (portrait), numbered from 0

A db is ``joblib.dump`` of a dict of arrays with the keys of the fork's ``threedpw_utils``:
``vid_name`` (N,) str ``<sequence>_<person>``, ``frame_id`` (N,) int64 (0-based), ``img_name``
(N,) str, ``joints3D`` (N, 16, 3) float32 MPII-16 mm root-relative, ``joints3D_image`` (N, 16, 3)
float32 ``[u, v, Z - Z_root]``, ``joints2D`` (N, 16, 3) float32 ``[u, v, visible]``, ``shape``
(N, 10) float32, ``pose`` (N, 72) float32, ``bbox`` (N, 4) float64 ``[cx, cy, w, h]`` (w = h),
``valid`` (N,) bool.

``img_name`` is relative to the repository root as the preprocessing stores it
(``data/3dpw/imageFiles/...``); here ``<name of out_dir>/3dpw/imageFiles/...``, resolved by the
loader against the parent of ``data_dir``.

The joints follow the fork's preprocessing per split: train takes the MPII thorax from SPIN's
thorax (here the shoulder midpoint), val from the H36M regressor's spine; head-top is the head
top. The 2D joints are the projections of those same 3D joints (what the preprocessing meant to
store, without its COCO-17 mix-up); the visibility column is 1 for joints inside the image. SMPL
parameters are not modelled: ``shape`` and ``pose`` are zeros, ``valid`` is true. Frames are
half the real resolution (540 x 960) with the focal length halved, to keep the tree quick to
write and small.
"""
import logging
from pathlib import Path

import numpy as np

from pose3d.synthetic.common import run_samples
from pose3d.synthetic.degrade import NoiseBank
from pose3d.synthetic.mpii3d import db_path, dump_db, write_frame
from pose3d.synthetic.render import render_person, sample_rng

logger = logging.getLogger(__name__)

# (width, height): half of the real 1080 x 1920 portrait phone frames, focal halved with it.
IMAGE_SIZE = (540, 960)
RENDER_OPTIONS = {"focal": 980.0, "distance_range": (2500.0, 6000.0)}
FRAMES_PER_VIDEO = 5
SEQUENCES = {
    "train": ("courtyard_arguing_00", "courtyard_backpack_00", "courtyard_basketball_00",
              "courtyard_box_00", "outdoors_climbing_00", "outdoors_freestyle_00"),
    "val": ("courtyard_drinking_00", "courtyard_jacket_00", "courtyard_jumpBench_01",
            "courtyard_laceShoe_00", "outdoors_parcours_01"),
}
SOURCES = {
    "train": {"pelvis": ("root",), "thorax": ("l_shoulder", "r_shoulder"),
              "upper_neck": ("thorax",), "head_top": ("head_top",)},
    "val": {"pelvis": ("root",), "thorax": ("spine",), "upper_neck": ("thorax",),
            "head_top": ("head_top",)},
}


def layout(split: str, index: int) -> dict:
    """Sequence and frame of row ``index``."""
    video, k = divmod(index, FRAMES_PER_VIDEO)
    seqs = SEQUENCES[split]
    seq = seqs[video % len(seqs)]
    frame = (video // len(seqs)) * FRAMES_PER_VIDEO + k
    return {"seq": seq, "frame": frame, "rel": f"3dpw/imageFiles/{seq}/image_{frame:05d}.jpg"}


def render_sample(split: str, index: int, seed: int, **options) -> dict:
    """Render row ``index`` of ``split``."""
    return render_person(sample_rng(seed, f"3dpw/{split}", index), *IMAGE_SIZE,
                         **RENDER_OPTIONS, **options)


def _sample(out_dir: Path, split: str, index: int, seed: int, noise: NoiseBank) -> dict:
    info = layout(split, index)
    r = render_sample(split, index, seed, noise=noise)
    root_name, mm, uv = write_frame(out_dir, info["rel"], r, SOURCES[split])
    w, h = IMAGE_SIZE
    inside = (uv[:, 0] >= 0) & (uv[:, 0] < w) & (uv[:, 1] >= 0) & (uv[:, 1] < h)
    joints_2d = np.concatenate([uv, inside[:, None]], axis=1).astype(np.float32)
    joints_3d_image = joints_2d.copy()
    joints_3d_image[:, 2] = mm[:, 2]
    x1, y1, x2, y2 = r["bbox"]
    side = 1.1 * max(x2 - x1, y2 - y1)
    return {"vid_name": f"{info['seq']}_0", "frame_id": info["frame"],
            "img_name": f"{root_name}/{info['rel']}", "joints3D": mm.astype(np.float32),
            "joints3D_image": joints_3d_image, "joints2D": joints_2d,
            "shape": np.zeros(10, np.float32), "pose": np.zeros(72, np.float32),
            "bbox": np.array([(x1 + x2) / 2.0, (y1 + y2) / 2.0, side, side]), "valid": True}


def write(out_dir: Path, num: int, seed: int, workers: int) -> None:
    """Write ``num`` frames per split: images under ``out_dir/3dpw``, dbs in vibe_db/."""
    out_dir = Path(out_dir)
    keys = ("vid_name", "frame_id", "img_name", "joints3D", "joints3D_image", "joints2D",
            "shape", "pose", "bbox", "valid")
    for split in ("train", "val"):
        rows = run_samples(_sample, [(out_dir, split, i, seed) for i in range(num)], workers)
        path = db_path(out_dir, "3dpw", split)
        dump_db(rows, path, keys)
        logger.info("3dpw %s: %d frames -> %s", split, num, path)
