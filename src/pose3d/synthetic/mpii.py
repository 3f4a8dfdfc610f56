"""Synthetic MPII Human Pose tree in Xiao et al.'s json form (docs/datasets.md, MPII).

Writes under ``out_dir/mpii``::

    images/<9 digits>.jpg                 640 x 480, ``num`` per split
    annot/train.json, annot/valid.json    lists of {image, center, scale, joints, joints_vis}
    annot/gt_valid.mat                    dataset_joints, jnt_missing, pos_gt_src, headboxes_src

Coordinates are 1-based (rendered 0-based pixel centre + 1). ``center`` is stored so that the
readers' ``c_y += 15 * scale`` lands on the rendered person box centre; ``scale`` = box
height / 200. A joint is annotated (``joints_vis`` 1) when it is inside the image, except that
annotators skip about a third of the occluded ones; unannotated joints are ``[-1, -1]``. The
first image of each split shows two people side by side (two records, one image).
"""
from pathlib import Path

import numpy as np

from pose3d.skeleton import MPII16, MPII_MAT_NAMES, SYNTH18
from pose3d.synthetic.common import points, render, run_samples, save_mat, write_jpeg, write_json
from pose3d.synthetic.degrade import NoiseBank
from pose3d.synthetic.render import sample_rng

WIDTH, HEIGHT = 640, 480
SPLITS = {"train": 1, "valid": 500_000_001}  # split -> number of its first image file
SKIP_OCCLUDED = 0.3


def _annotate(person: dict, rng: np.random.Generator, dx: int) -> tuple[dict, np.ndarray]:
    """One json record (image name filled in later) and the head box (2, 2), 1-based."""
    uv, visible, inside = points(person, MPII16.names)
    skipped = ~visible & (rng.random(len(uv)) < SKIP_OCCLUDED)
    labelled = inside & ~skipped
    joints = np.where(labelled[:, None], uv + [dx + 1, 1], -1.0)
    scale = float(person["scale"])
    center = person["center"] + [dx + 1, 1 - 15 * scale]
    # Head box: square around upper neck -> head top, side = that 3D length at the head's depth.
    j3 = person["joints_3d_cam"]
    a, b = MPII16.index("upper_neck"), MPII16.index("head_top")
    top, neck = j3[SYNTH18.index("head_top")], j3[SYNTH18.index("neck_nose")]
    side = person["camera"]["fx"] * np.linalg.norm(top - neck) / ((top[2] + neck[2]) / 2)
    mid = (uv[a] + uv[b]) / 2 + [dx + 1, 1]
    record = {"center": [round(float(v), 2) for v in center], "scale": round(scale, 6),
              "joints": [[round(float(x), 2), round(float(y), 2)] for x, y in joints],
              "joints_vis": [int(v) for v in labelled]}
    return record, np.stack([mid - side / 2, mid + side / 2])


def render_sample(seed: int, split: str, index: int, noise: NoiseBank | None = None
                  ) -> list[tuple[dict, int]]:
    """The people of image ``index`` of ``split`` with their x offset (px) in the written frame.

    Image 0 of each split holds two people, each rendered into one half of the frame.
    """
    key = f"mpii/{split}"
    if index == 0:
        return [(render(seed, key, 0, WIDTH // 2, HEIGHT, noise=noise), 0),
                (render(seed, key + "/second", 0, WIDTH // 2, HEIGHT, noise=noise), WIDTH // 2)]
    return [(render(seed, key, index, WIDTH, HEIGHT, truncation_prob=0.25, noise=noise), 0)]


def _sample(seed: int, split: str, index: int, image_dir: Path,
            noise: NoiseBank) -> list[tuple[dict, np.ndarray]]:
    name = f"{SPLITS[split] + index:09d}.jpg"
    people = render_sample(seed, split, index, noise)
    write_jpeg(image_dir / name, np.hstack([p["image"] for p, _ in people]))
    rng = sample_rng(seed, f"mpii/{split}/annotators", index)
    return [({"image": name} | rec, box)
            for rec, box in (_annotate(p, rng, dx) for p, dx in people)]


def write(out_dir: Path, num: int, seed: int, workers: int = 1) -> None:
    """Write ``num`` images per split (train, valid) of the MPII layout under ``out_dir/mpii``."""
    root = Path(out_dir) / "mpii"
    for split in SPLITS:
        jobs = [(seed, split, i, root / "images") for i in range(num)]
        pairs = [p for sample in run_samples(_sample, jobs, workers) for p in sample]
        write_json(root / "annot" / f"{split}.json", [rec for rec, _ in pairs])
    joints = np.array([rec["joints"] for rec, _ in pairs], dtype=np.float64)   # valid split
    vis = np.array([rec["joints_vis"] for rec, _ in pairs], dtype=np.uint8)
    names = np.empty((1, len(MPII_MAT_NAMES)), dtype=object)
    names[0, :] = MPII_MAT_NAMES
    save_mat(root / "annot" / "gt_valid.mat", {
        "dataset_joints": names,
        "jnt_missing": (1 - vis).T.copy(),
        "pos_gt_src": np.where(vis[..., None] > 0, joints, 0.0).transpose(1, 2, 0).copy(),
        "headboxes_src": np.array([box for _, box in pairs]).transpose(1, 2, 0).copy(),
    })
