"""Pieces every release converter shares.

* :func:`crop_window`: the part of a frame that every training augmentation of a sample can see,
  so a person crop saved to disk gives the loaders the same pixels as the whole frame;
* :func:`save_crop`: write that part as a JPEG and return its offset in the frame;
* :class:`SequenceStore`: per-sequence results saved atomically as ``.npz`` (no pickles), so an
  interrupted run resumes with the sequences it had finished and checked;
* :class:`Summary`: what a run did (sequences, frames, skipped with reasons, disk used).
"""
from __future__ import annotations

import math
import os
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np

from pose3d.utils.errors import DataFormatError

JPEG_QUALITY = 95
# JPEG codes 16x16 macro-blocks (8x8 with 2x2 chroma subsampling): a crop that starts on that
# grid is coded block for block like the whole frame, so its pixels match the frame's closely.
CROP_ALIGN = 16


@dataclass
class CropPolicy:
    """How much of the frame around a person the saved crop keeps.

    Attributes:
        scale_factor: largest scale augmentation of training (``--scale``, box side x (1 + sf)).
        rotate_factor: rotation augmentation of training (``--rotate``; clipped at twice it).
        aspect: ratio of the network input's long to short side (square input: 1).
        min_side: smallest crop side in px (at least twice the network input).
        full_frames: keep whole frames instead (``--full_frames``).
    """
    scale_factor: float = 0.25
    rotate_factor: float = 30.0
    aspect: float = 1.0
    min_side: int = 512
    full_frames: bool = False


def loader_policy(policy: CropPolicy, rotates: bool) -> CropPolicy:
    """``policy`` for a dataset whose loader rotates in training (``rotates``) or never does,
    in which case the crops need no room for rotation and stay much smaller."""
    return policy if rotates else replace(policy, rotate_factor=0.0)


def crop_window(center: Sequence[float], side: float, frame_wh: tuple[int, int],
                policy: CropPolicy) -> tuple[int, int, int, int]:
    """Integer window ``(x0, y0, x1, y1)`` (x1, y1 exclusive) of the frame to keep.

    A training crop is a square of ``side * s`` (``s`` <= 1 + scale_factor; aspect-adjusted)
    rotated by up to ``2 * rotate_factor`` degrees; the window is the axis-aligned square that
    holds every such crop, at least ``min_side`` wide, aligned to :data:`CROP_ALIGN` and clipped
    to the frame. Where clipping leaves it shorter than the largest box, it is stretched along
    the frame's longer axis, so the loader's cap of the box at the image side acts as on the
    whole frame.

    Args:
        center: (2,) box centre in frame pixels.
        side: box side in pixels as the loader computes it.
        frame_wh: (width, height) of the frame.
        policy: the augmentation ranges to cover.
    """
    w, h = frame_wh
    if policy.full_frames:
        return 0, 0, w, h
    theta = math.radians(min(2.0 * policy.rotate_factor, 45.0))
    reach = side * (1.0 + policy.scale_factor) * policy.aspect * (math.cos(theta) + math.sin(theta))
    half = max(reach, policy.min_side) / 2.0 + 2.0   # +2 px for bilinear sampling at the border
    x0 = max(0, int(math.floor((center[0] - half) / CROP_ALIGN)) * CROP_ALIGN)
    y0 = max(0, int(math.floor((center[1] - half) / CROP_ALIGN)) * CROP_ALIGN)
    x1 = min(w, int(math.ceil(center[0] + half)))
    y1 = min(h, int(math.ceil(center[1] + half)))
    if x1 <= x0 or y1 <= y0:       # the person is outside the frame: keep the whole frame
        return 0, 0, w, h
    # The loader caps the box side at the image's longer side; near a frame corner the clipped
    # window could be shorter than the largest box, so stretch it along the frame's longer axis.
    need = min(int(math.ceil(side * (1.0 + policy.scale_factor))), max(w, h))
    if max(x1 - x0, y1 - y0) < need:
        if w >= h:
            x0, x1 = _stretch(x0, x1, need, w)
        else:
            y0, y1 = _stretch(y0, y1, need, h)
    return x0, y0, x1, y1


def _stretch(lo: int, hi: int, need: int, size: int) -> tuple[int, int]:
    """Grow ``[lo, hi)`` to at least ``need`` inside ``[0, size)``, ``lo`` kept aligned."""
    hi = min(size, max(hi, lo + need))
    lo = max(0, (hi - need) // CROP_ALIGN * CROP_ALIGN) if hi - lo < need else lo
    return lo, hi


def save_crop(frame: np.ndarray, window: tuple[int, int, int, int], path: str | os.PathLike,
              quality: int = JPEG_QUALITY) -> np.ndarray:
    """Write ``frame[y0:y1, x0:x1]`` as a JPEG at ``path`` (atomically); return (2,) offset."""
    x0, y0, x1, y1 = window
    ok, buf = cv2.imencode(".jpg", frame[y0:y1, x0:x1], [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise OSError(f"{path}: OpenCV could not encode the crop")
    atomic_write_bytes(path, buf.tobytes())
    return np.array([x0, y0], dtype=np.float64)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename, creating folders."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def dump_db_atomic(db: dict[str, np.ndarray], path: str | os.PathLike) -> None:
    """``joblib.dump`` of a dict of arrays (the VIBE-style db format) through a temporary file.

    Arrays are rebuilt with canonical dtypes, so the bytes do not depend on whether a part was
    computed now or reloaded from the store (pickle memoises shared dtype objects).
    """
    import joblib

    db = {sys.intern(k): np.array(v, dtype=np.dtype(v.dtype.str)) for k, v in db.items()}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    joblib.dump(db, tmp)
    os.replace(tmp, path)


class SequenceStore:
    """Finished sequences of one preparation run, one ``<key>.npz`` each under ``root``.

    A sequence's file is written only after all its frames are on disk; loading it checks that
    every listed frame still exists and is not empty, so a re-run redoes exactly the sequences
    that are missing or damaged.
    """

    def __init__(self, root: str | os.PathLike, image_root: str | os.PathLike):
        self.root = Path(root)
        self.image_root = Path(image_root)

    def path(self, key: str) -> Path:
        return self.root / f"{key}.npz"

    def load(self, key: str, image_key: str = "img_name") -> dict[str, np.ndarray] | None:
        """The arrays saved for ``key``, or None when absent, unreadable or incomplete."""
        path = self.path(key)
        if not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
        except (OSError, ValueError, EOFError):
            return None
        for name in arrays.get(image_key, ()):
            img = self.image_root / str(name)
            if not img.is_file() or img.stat().st_size == 0:
                return None
        return arrays

    def save(self, key: str, arrays: dict[str, np.ndarray]) -> None:
        """Save ``arrays`` for ``key`` atomically (plain arrays only, no object dtype)."""
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.root / f".{key}.tmp{os.getpid()}.npz"
        np.savez(tmp, **arrays)
        os.replace(tmp, self.path(key))


def concat_records(parts: Sequence[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Concatenate per-sequence dicts of arrays along the first axis (keys of the first part)."""
    if not parts:
        return {}
    return {k: np.concatenate([p[k] for p in parts], axis=0) for k in parts[0]}


def disk_usage(*paths: str | os.PathLike) -> int:
    """Bytes of all files under ``paths`` (files or folders; missing ones count 0)."""
    total = 0
    for p in map(Path, paths):
        if p.is_file():
            total += p.stat().st_size
        elif p.is_dir():
            total += sum(f.stat().st_size for f in p.rglob("*") if f.is_file())
    return total


@dataclass
class Summary:
    """What one preparation run did, printed at its end."""
    dataset: str
    sequences: int = 0
    frames: int = 0
    reused: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    outputs: list[Path] = field(default_factory=list)
    disk_bytes: int = 0
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    def skip(self, what: str, why: str) -> None:
        """Record a sequence or file left out, and why (printed in the summary)."""
        self.skipped.append((what, why))

    def format(self) -> str:
        lines = [f"{self.dataset}: {self.sequences} sequences ({self.reused} already done), "
                 f"{self.frames} frames, {self.disk_bytes / 2**20:.1f} MiB, "
                 f"{self.seconds:.1f} s"]
        lines += [f"  wrote {p}" for p in self.outputs]
        lines += [f"  note: {n}" for n in self.notes]
        lines += [f"  skipped {what}: {why}" for what, why in self.skipped]
        return "\n".join(lines)


def require_dir(path: str | os.PathLike, what: str, fix: str) -> Path:
    """``path`` as a Path if it is a folder, else a one-line error naming it."""
    path = Path(path)
    if not path.is_dir():
        raise DataFormatError(path, f"{what} is missing", fix)
    return path
