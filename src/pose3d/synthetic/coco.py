"""Synthetic COCO person-keypoints tree (2017 layout).

Writes under ``out_dir/coco``::

    annotations/person_keypoints_{train,val}2017.json
    images/{train,val}2017/%012d.jpg           640 x 480, ``num`` per split

Each json has ``info``, ``licenses``, ``images`` (id, file_name, width, height),
``annotations`` and ``categories`` (the person category with the 17 keypoint names and the
1-based skeleton). An annotation holds ``keypoints`` (17 x [x, y, v] flat, integer 0-based px;
v = 2 visible, 1 inside the image but occluded, 0 outside with x = y = 0), ``num_keypoints``,
``segmentation`` (polygons of the person's visible pixels), ``area`` (their count), ``bbox``
``[x, y, w, h]`` (tight box of those pixels), ``iscrowd`` 0, ``category_id`` 1, ``id`` and
``image_id``. One person per image.
"""
from pathlib import Path

import cv2
import numpy as np

from pose3d.skeleton import COCO17
from pose3d.synthetic.common import points, render, run_samples, write_jpeg, write_json
from pose3d.synthetic.degrade import NoiseBank
from pose3d.synthetic.scene import OCCLUDER_ID

WIDTH, HEIGHT = 640, 480
SPLITS = {"train2017": 1, "val2017": 500_001}   # split -> id of its first image
KEYPOINT_NAMES = [n.replace("l_", "left_").replace("r_", "right_") for n in COCO17.names]


def render_sample(seed: int, split: str, index: int, noise: NoiseBank | None = None) -> dict:
    """The rendered person of image ``index`` of ``split`` (``train2017`` or ``val2017``)."""
    return render(seed, f"coco/{split}", index, WIDTH, HEIGHT, truncation_prob=0.2,
                  noise=noise)


def _sample(seed: int, split: str, index: int, image_dir: Path,
            noise: NoiseBank) -> tuple[dict, dict]:
    image_id = SPLITS[split] + index
    file_name = f"{image_id:012d}.jpg"
    person = render_sample(seed, split, index, noise)
    write_jpeg(image_dir / file_name, person["image"])

    uv, visible, inside = points(person, COCO17.names)
    v = np.where(visible, 2, np.where(inside, 1, 0))
    xy = np.where(v[:, None] > 0, np.rint(uv), 0).astype(int)
    mask = ((person["part_ids"] > 0) & (person["part_ids"] != OCCLUDER_ID)).astype(np.uint8)
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    polygons = [cv2.approxPolyDP(c, 1.5, True).reshape(-1).astype(float).tolist()
                for c in contours]
    x, y, w, h = cv2.boundingRect(mask)
    ann = {"segmentation": [p for p in polygons if len(p) >= 6],
           "num_keypoints": int((v > 0).sum()), "area": float(mask.sum()), "iscrowd": 0,
           "keypoints": [int(c) for c in np.concatenate([xy, v[:, None]], axis=1).reshape(-1)],
           "image_id": image_id, "bbox": [float(x), float(y), float(w), float(h)],
           "category_id": 1, "id": 900_000 + image_id}
    image = {"id": image_id, "file_name": file_name, "width": WIDTH, "height": HEIGHT}
    return image, ann


def write(out_dir: Path, num: int, seed: int, workers: int = 1) -> None:
    """Write ``num`` images per split with their keypoint json under ``out_dir/coco``."""
    root = Path(out_dir) / "coco"
    category = {"supercategory": "person", "id": 1, "name": "person", "keypoints": KEYPOINT_NAMES,
                "skeleton": [[a + 1, b + 1] for a, b in COCO17.edges]}
    for split in SPLITS:
        jobs = [(seed, split, i, root / "images" / split) for i in range(num)]
        pairs = run_samples(_sample, jobs, workers)
        write_json(root / "annotations" / f"person_keypoints_{split}.json", {
            "info": {"description": "COCO-format person keypoints", "version": "1.0",
                     "year": 2017},
            "licenses": [],
            "images": [img for img, _ in pairs],
            "annotations": [ann for _, ann in pairs],
            "categories": [category]})
