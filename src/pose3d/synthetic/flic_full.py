"""Synthetic FLIC-full tree (docs/datasets.md, FLIC-full): ``flic_full/examples.mat`` + ``images/``.

``examples`` is a 1 x N MATLAB struct array with the 11 fields of the real file, in order
(``poselet_hit_idx, moviename, coords, filepath, imgdims, currframe, torsobox, istrain, istest,
isbad, isunchecked``), written from a numpy structured array of object fields. ``coords`` is
(2, 29) in :data:`pose3d.skeleton.FLIC29` slot order, 1-based px, NaN everywhere except the 11
labelled slots (:data:`pose3d.skeleton.FLIC_LABELLED`; also NaN when the point is outside the
frame). Frames are 720 x 480 ``images/<movie>-%08d.jpg``. The first ``num`` examples have
``istrain`` 1, the next ``num`` ``istest`` 1; ``isbad`` marks examples with an occluded labelled
point.
"""
from pathlib import Path

import numpy as np

from pose3d.skeleton import FLIC29, FLIC_LABELLED
from pose3d.synthetic.common import points, render, run_samples, save_mat, write_jpeg
from pose3d.synthetic.degrade import NoiseBank
from pose3d.synthetic.render import sample_rng

WIDTH, HEIGHT = 720, 480
FIELDS = ("poselet_hit_idx", "moviename", "coords", "filepath", "imgdims", "currframe",
          "torsobox", "istrain", "istest", "isbad", "isunchecked")
MOVIES = ("harbour-lights", "the-long-road", "night-train", "blue-valley", "paper-moon-2")
_TORSO = ("l_shoulder", "r_shoulder", "l_hip", "r_hip")


def _flag(value: bool) -> np.ndarray:
    return np.array([[int(value)]], dtype=np.uint8)


def render_sample(seed: int, index: int, noise: NoiseBank | None = None) -> dict:
    """The rendered person of example ``index`` (0-based; train first, then test)."""
    return render(seed, "flic_full", index, WIDTH, HEIGHT, noise=noise)


def _sample(seed: int, index: int, num: int, image_dir: Path, noise: NoiseBank) -> tuple:
    """Render and write example ``index``; returns its 11 field values in struct order."""
    rng = sample_rng(seed, "flic_full/meta", index)
    movie = MOVIES[index % len(MOVIES)]
    frame = 1000 * (index // len(MOVIES) + 1) + int(rng.integers(0, 1000))
    filepath = f"{movie}-{frame:08d}.jpg"
    person = render_sample(seed, index, noise)
    write_jpeg(image_dir / filepath, person["image"])

    uv, visible, inside = points(person, FLIC_LABELLED)
    coords = np.full((2, len(FLIC29)), np.nan)
    slots = [FLIC29.index(n) for n in FLIC_LABELLED]
    coords[:, slots] = np.where(inside[:, None], uv + 1.0, np.nan).T
    torso, _, _ = points(person, _TORSO)
    lo, hi = torso.min(axis=0), torso.max(axis=0)
    pad = 0.1 * (hi - lo)
    poselets = rng.choice(150, size=int(rng.integers(1, 6)), replace=False)
    return (np.sort(poselets).astype(np.uint16)[None], movie, coords, filepath,
            np.array([[float(HEIGHT), float(WIDTH), 3.0]]), np.array([[float(frame)]]),
            np.concatenate([lo - pad, hi + pad])[None] + 1.0, _flag(index < num),
            _flag(index >= num), _flag(bool((inside & ~visible).any())), _flag(False))


def write(out_dir: Path, num: int, seed: int, workers: int = 1) -> None:
    """Write ``num`` train + ``num`` test FLIC-full examples under ``out_dir/flic_full``."""
    root = Path(out_dir) / "flic_full"
    jobs = [(seed, i, num, root / "images") for i in range(2 * num)]
    examples = np.empty((1, 2 * num), dtype=[(f, "O") for f in FIELDS])
    for i, values in enumerate(run_samples(_sample, jobs, workers)):
        examples[0, i] = values
    save_mat(root / "examples.mat", {"examples": examples})
