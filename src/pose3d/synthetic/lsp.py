"""Synthetic Leeds Sports Pose tree (docs/datasets.md, LSP): ``lsp/joints.mat`` + ``lsp/images/``.

``joints`` is float64 (3, 14, N) — x, y (1-based px) and a flag with **1 = occluded**, 0 =
visible — in :data:`pose3d.skeleton.LSP14` order; image ``i`` is ``images/im%04d.jpg`` % (i + 1).
As in the real set every joint is annotated and lies inside its image: people are rendered
whole, filling person-centred frames of 130-240 x 170-240 px. ``N = 2 * num`` (the loader
trains on the first half and validates on the second).
"""
from pathlib import Path

import numpy as np

from pose3d.skeleton import LSP14
from pose3d.synthetic.common import points, render, run_samples, save_mat, write_jpeg
from pose3d.synthetic.degrade import NoiseBank
from pose3d.synthetic.render import sample_rng


def render_lsp(seed: int, key: str, index: int, truncation_prob: float,
               noise: NoiseBank | None = None) -> dict:
    """Render one LSP-style person-centred frame (size drawn per sample)."""
    size = sample_rng(seed, key + "/size", index).integers([130, 170], [241, 241])
    return render(seed, key, index, int(size[0]), int(size[1]), truncation_prob=truncation_prob,
                  noise=noise)


def render_sample(seed: int, index: int, noise: NoiseBank | None = None) -> dict:
    """The rendered person of image ``index`` (0-based) of ``lsp/``."""
    return render_lsp(seed, "lsp", index, 0.0, noise)


def write_lsp_frame(seed: int, key: str, index: int, truncation_prob: float, path: Path,
                    noise: NoiseBank) -> tuple[np.ndarray, np.ndarray]:
    """Render frame ``index`` of ``key`` and write it at ``path``.

    Returns:
        LSP14 points (14, 2) in 0-based px and their visibility (14,) bool.
    """
    person = render_lsp(seed, key, index, truncation_prob, noise)
    write_jpeg(path, person["image"])
    uv, visible, _ = points(person, LSP14)
    return uv, visible


def _sample(seed: int, index: int, image_dir: Path, noise: NoiseBank) -> np.ndarray:
    uv, visible = write_lsp_frame(seed, "lsp", index, 0.0, image_dir / f"im{index + 1:04d}.jpg",
                                  noise)
    return np.concatenate([uv + 1.0, (~visible)[:, None]], axis=1).T   # (3, 14)


def write(out_dir: Path, num: int, seed: int, workers: int = 1) -> None:
    """Write ``2 * num`` LSP images and ``joints.mat`` under ``out_dir/lsp``."""
    root = Path(out_dir) / "lsp"
    cols = run_samples(_sample, [(seed, i, root / "images") for i in range(2 * num)], workers)
    save_mat(root / "joints.mat", {"joints": np.stack(cols, axis=2).astype(np.float64)})
