"""Person ids across video frames (IoU matching) and optional smoothing of each id's track.

Linking: the boxes of a frame are matched to the last box of every track seen in the previous
``max_gap`` frames by the Hungarian algorithm on IoU (``scipy.optimize.linear_sum_assignment``);
a pair needs IoU >= ``min_iou``, and an unmatched box starts a new id. Smoothing (``--smooth``):
a centred Savitzky-Golay filter (``scipy.signal.savgol_filter``, window 5 frames, quadratic) over
each run of consecutive frames of one id; the whole video is read before it is applied, so it
uses past and future frames and adds no lag.
"""
from __future__ import annotations

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment
from scipy.signal import savgol_filter
from torchvision.ops import box_iou

SMOOTH_WINDOW = 5
SMOOTH_ORDER = 2


def _xyxy(x: np.ndarray) -> torch.Tensor:
    t = torch.from_numpy(np.array(x, dtype=np.float64).reshape(-1, 4))  # a copy: any strides
    return torch.cat([t[:, :2], t[:, :2] + t[:, 2:]], dim=1)


def iou_xywh(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection over union of two sets of (x, y, w, h) boxes.

    Args:
        a: (N, 4) boxes; b: (M, 4) boxes.

    Returns:
        (N, M) IoU in [0, 1].
    """
    return box_iou(_xyxy(a), _xyxy(b)).numpy()


def match_boxes(prev: np.ndarray, cur: np.ndarray, min_iou: float) -> list[tuple[int, int]]:
    """Pairs (i, j) of ``prev[i]`` and ``cur[j]`` that maximise the summed IoU, each >= min_iou.

    Args:
        prev: (N, 4) and cur: (M, 4) boxes (x, y, w, h).
    """
    if len(prev) == 0 or len(cur) == 0:
        return []
    iou = iou_xywh(prev, cur)
    rows, cols = linear_sum_assignment(-iou)
    return [(int(i), int(j)) for i, j in zip(rows, cols) if iou[i, j] >= min_iou]


class Tracker:
    """Gives each box of a video frame the id of the track it continues, or a new id.

    Args:
        min_iou: least IoU with a track's last box to continue it.
        max_gap: a track not seen for more than this many frames is not continued.
    """

    def __init__(self, min_iou: float = 0.3, max_gap: int = 5):
        self.min_iou, self.max_gap = min_iou, max_gap
        self.last_box: dict[int, np.ndarray] = {}
        self.last_frame: dict[int, int] = {}
        self.next_id = 0

    def update(self, frame: int, boxes: np.ndarray) -> list[int]:
        """Ids of the (N, 4) boxes of ``frame`` (frames given in increasing order)."""
        live = [t for t, f in self.last_frame.items() if frame - f <= self.max_gap]
        prev = np.array([self.last_box[t] for t in live]).reshape(-1, 4)
        ids = [-1] * len(boxes)
        for i, j in match_boxes(prev, boxes, self.min_iou):
            ids[j] = live[i]
        for j, box in enumerate(boxes):
            if ids[j] < 0:
                ids[j] = self.next_id
                self.next_id += 1
            self.last_box[ids[j]] = np.asarray(box, dtype=np.float64)
            self.last_frame[ids[j]] = frame
        return ids


def smooth_track(values: np.ndarray, window: int = SMOOTH_WINDOW,
                 order: int = SMOOTH_ORDER) -> np.ndarray:
    """Savitzky-Golay filter along time of one uninterrupted track.

    Args:
        values: (T, ...) one id's joints over T consecutive frames.

    Returns:
        (T, ...) smoothed; a track shorter than ``order + 2`` frames is returned unchanged, a
        shorter than ``window`` one uses the longest odd window that fits.
    """
    values = np.asarray(values, dtype=np.float64)
    n = len(values)
    win = min(window, n if n % 2 else n - 1)
    if win <= order:
        return values.copy()
    return savgol_filter(values, win, order, axis=0, mode="interp")


def smooth_runs(frames: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Smooth one id's values separately over each run of consecutive frame numbers.

    Args:
        frames: (T,) increasing frame numbers where the id was seen.
        values: (T, ...) its joints in those frames.

    Returns:
        (T, ...) smoothed values.
    """
    frames = np.asarray(frames)
    out = np.asarray(values, dtype=np.float64).copy()
    breaks = np.flatnonzero(np.diff(frames) != 1) + 1
    for run in np.split(np.arange(len(frames)), breaks):
        if len(run):
            out[run] = smooth_track(out[run])
    return out
