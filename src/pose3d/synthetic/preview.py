"""Contact sheet of synthetic renders, for looking at the engine's output.

``write`` renders 16 samples and saves a 4x4 sheet (each tile 320x240, from 640x480 renders).
The 2D skeleton is drawn on the right half of the sheet (columns 3 and 4): left limbs in
blue, right limbs in orange; filled dots are visible joints, rings are hidden ones.
By default the sheet goes to ``<repo>/images/synthetic_preview.jpg`` whatever ``out_dir`` is
(so the dataset tree stays clean); pass ``path`` to put it elsewhere.
"""
from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np

from pose3d.skeleton import SYNTH18
from pose3d.synthetic.render import render_many

log = logging.getLogger(__name__)

TILE_W, TILE_H = 320, 240
SIDE_COLORS = {"l": (255, 160, 0), "r": (0, 140, 255), "c": (230, 230, 230)}  # BGR


def _default_path() -> Path:
    try:
        from pose3d.paths import REPO_ROOT
    except ImportError:  # paths module not available: fall back to the package location
        REPO_ROOT = Path(__file__).resolve().parents[3]
    return Path(REPO_ROOT) / "images" / "synthetic_preview.jpg"


def draw_skeleton(image: np.ndarray, joints_2d: np.ndarray, visible: np.ndarray,
                  scale: float = 1.0) -> np.ndarray:
    """Draw SYNTH18 bones and joints on a copy of ``image``.

    Args:
        image: (H, W, 3) uint8 BGR.
        joints_2d: (18, 2) px (0-based pixel centres) of the image before resizing by ``scale``.
        visible: (18,) bool.
        scale: resize factor from the original image to ``image``.
    """
    out = image.copy()
    pts = (np.asarray(joints_2d, np.float64) + 0.5) * scale - 0.5
    sh = 4  # sub-pixel bits for cv2 drawing
    p = [tuple(int(v) for v in q) for q in np.rint(pts * (1 << sh)).astype(np.int64)]
    side = [n[0] if n[:2] in ("l_", "r_") else "c" for n in SYNTH18.names]
    for a, b in SYNTH18.edges:
        s = side[a] if side[a] != "c" else side[b]
        cv2.line(out, p[a], p[b], SIDE_COLORS[s], 2, cv2.LINE_AA, sh)
    for j in range(len(p)):
        fill = -1 if visible[j] else 1
        cv2.circle(out, p[j], 3 << sh, SIDE_COLORS[side[j]], fill, cv2.LINE_AA, sh)
    return out


def make_sheet(seed: int = 0, workers: int = 1, rows: int = 4, cols: int = 4) -> np.ndarray:
    """Render rows*cols samples and tile them; skeletons on the right half of the columns."""
    samples = render_many("preview", range(rows * cols), seed, workers, occluder_prob=0.25,
                          truncation_prob=0.15)
    tiles = []
    for k, s in enumerate(samples):
        img = cv2.resize(s["image"], (TILE_W, TILE_H), interpolation=cv2.INTER_AREA)
        if k % cols >= cols // 2:
            img = draw_skeleton(img, s["joints_2d"], s["visible"], TILE_W / s["image"].shape[1])
        cv2.putText(img, s["action"], (4, TILE_H - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.45,
                    (255, 255, 255), 1, cv2.LINE_AA)
        tiles.append(img)
    grid = [np.hstack(tiles[r * cols:(r + 1) * cols]) for r in range(rows)]
    return np.vstack(grid)


def write(out_dir: Path, num: int, seed: int, workers: int, path: Path | None = None) -> None:
    """Write the 4x4 preview sheet.

    Args:
        out_dir: data root (unused unless ``path`` is None and no repository is found).
        num: ignored (the sheet always has 16 tiles).
        seed: global seed.
        workers: render processes.
        path: output file; default ``<repo>/images/synthetic_preview.jpg``.
    """
    del out_dir, num
    target = Path(path) if path is not None else _default_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    sheet = make_sheet(seed, workers)
    params = [cv2.IMWRITE_JPEG_QUALITY, 92] if target.suffix.lower() in (".jpg", ".jpeg") else []
    if not cv2.imwrite(str(target), sheet, params):
        raise OSError(f"could not write {target}")
    log.info("wrote %s", target)
