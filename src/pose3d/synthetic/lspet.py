"""Synthetic LSP-Extended tree (docs/datasets.md, LSP): ``lsp_extended/joints.mat`` + ``images/``.

``joints`` is float64 (14, 3, N) — joint, (x, y, flag) with **1 = visible** (annotated) — in
:data:`pose3d.skeleton.LSP14` order; image ``i`` is ``images/im%05d.jpg`` % (i + 1). As in the
real set, joints that are occluded or outside the frame are not annotated: flag 0 with
placeholder coordinates, one of them 0 and the other negative (e.g. ``(0, -26.1)``). Training
only: ``N = num``.
"""
from pathlib import Path

import numpy as np

from pose3d.synthetic.common import run_samples, save_mat
from pose3d.synthetic.degrade import NoiseBank
from pose3d.synthetic.lsp import render_lsp, write_lsp_frame
from pose3d.synthetic.render import sample_rng


def render_sample(seed: int, index: int, noise: NoiseBank | None = None) -> dict:
    """The rendered person of image ``index`` (0-based) of ``lsp_extended/``."""
    return render_lsp(seed, "lspet", index, 0.2, noise)


def _sample(seed: int, index: int, image_dir: Path, noise: NoiseBank) -> np.ndarray:
    uv, visible = write_lsp_frame(seed, "lspet", index, 0.2,
                                  image_dir / f"im{index + 1:05d}.jpg", noise)
    rng = sample_rng(seed, "lspet/placeholders", index)
    k = len(uv)
    holder = np.zeros((k, 2))
    holder[np.arange(k), rng.integers(0, 2, k)] = -np.round(rng.uniform(1, 60, k), 1)
    xy = np.where(visible[:, None], uv + 1.0, holder)
    return np.concatenate([xy, visible[:, None]], axis=1)   # (14, 3)


def write(out_dir: Path, num: int, seed: int, workers: int = 1) -> None:
    """Write ``num`` LSP-Extended images and ``joints.mat`` under ``out_dir/lsp_extended``."""
    root = Path(out_dir) / "lsp_extended"
    rows = run_samples(_sample, [(seed, i, root / "images") for i in range(num)], workers)
    save_mat(root / "joints.mat", {"joints": np.stack(rows, axis=2).astype(np.float64)})
