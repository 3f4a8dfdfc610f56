"""Write the demo's example pictures (images/synthetic_{1,2,3}.jpg) with the synthetic renderer.

``python scripts/make_demo_images.py [--out images] [--seed 7]``

Pictures 1 and 2 are cut around the person (centre of the joint box, side 1.25 x its longer side)
so the demo's default whole-image crop fits them; picture 3 is a full 640x480 scene whose person
is usually off-centre, for ``--bbox`` (the script prints the box to use). ``people_1.jpg`` shows
three people side by side, with their boxes in ``people_1_boxes.json`` (the demo's plain
``--det_file`` layout, score 1.0). The same seed gives the same files.
"""
import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from pose3d.paths import REPO_ROOT  # noqa: E402
from pose3d.synthetic.degrade import NoiseBank  # noqa: E402
from pose3d.synthetic.multi_person import (default_focal, render_group,  # noqa: E402
                                           sample_placements)
from pose3d.synthetic.render import render_person, sample_rng  # noqa: E402

# (index, action, person-centred?) per picture; the actions give varied, readable poses.
PICTURES = ((1, "Walking", True), (2, "Directions", True), (3, "Greeting", False))
RENDER_OPTS = {"truncation_prob": 0.0, "occluder_prob": 0.0}
# Pictures 1 and 2 are rendered larger with a smaller person so their crop stays inside.
CENTRED_OPTS = {"max_fill": 0.6}
GROUP_SIZE = (640, 480)
GROUP_PEOPLE = 3


def centred_crop(image: np.ndarray, bbox: np.ndarray, aspect: float = 0.75) -> np.ndarray:
    """A (w = aspect * h) window around the person's joint box, shifted inside the image."""
    x1, y1, x2, y2 = bbox
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    h = 1.25 * max(y2 - y1, (x2 - x1) / aspect)
    w = aspect * h
    img_h, img_w = image.shape[:2]
    if w <= img_w:
        cx = float(np.clip(cx, w / 2, img_w - w / 2))
    if h <= img_h:
        cy = float(np.clip(cy, h / 2, img_h - h / 2))
    out_h = 400
    out_w = int(round(out_h * aspect))
    s = out_h / h
    mat = np.array([[s, 0, out_w / 2 - s * cx], [0, s, out_h / 2 - s * cy]])
    return cv2.warpAffine(image, mat, (out_w, out_h), flags=cv2.INTER_AREA,
                          borderMode=cv2.BORDER_REPLICATE)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(REPO_ROOT / "images"), help="output folder")
    parser.add_argument("--seed", type=int, default=7, help="renderer seed")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    noise = NoiseBank()
    for index, action, centred in PICTURES:
        size, extra = ((800, 600), CENTRED_OPTS) if centred else ((640, 480), {})
        sample = render_person(sample_rng(args.seed, "demo", index), *size, action=action,
                               noise=noise, **RENDER_OPTS, **extra)
        path = out / f"synthetic_{index}.jpg"
        if centred:
            image = centred_crop(sample["image"], sample["bbox"])
            hint = ""
        else:
            image = sample["image"]
            x1, y1, x2, y2 = sample["bbox"]
            hint = f"  (use --bbox {x1:.0f},{y1:.0f},{x2 - x1:.0f},{y2 - y1:.0f})"
        cv2.imwrite(str(path), image, [cv2.IMWRITE_JPEG_QUALITY, 92])
        print(f"{os.path.relpath(path)}: {image.shape[1]}x{image.shape[0]}, {action}{hint}")
    write_group(out, args.seed)


def write_group(out: Path, seed: int) -> None:
    """``people_1.jpg`` (three people) and ``people_1_boxes.json`` (their silhouette boxes)."""
    w, h = GROUP_SIZE
    rng = np.random.default_rng(seed)
    scene = render_group(seed, sample_placements(rng, GROUP_PEOPLE, w, default_focal(h)), w, h)
    path = out / "people_1.jpg"
    cv2.imwrite(str(path), scene["image"], [cv2.IMWRITE_JPEG_QUALITY, 92])
    boxes = {path.name: [[round(v, 1) for v in p["box"]] + [1.0] for p in scene["people"]]}
    (out / "people_1_boxes.json").write_text(json.dumps(boxes) + "\n")
    depths = ", ".join(f"{p['root_depth'] / 1000:.2f}" for p in scene["people"])
    print(f"{os.path.relpath(path)}: {w}x{h}, {GROUP_PEOPLE} people at {depths} m (focal "
          f"{scene['camera']['fx']:.0f} px); boxes in people_1_boxes.json")


if __name__ == "__main__":
    main()
