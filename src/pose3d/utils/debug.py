"""``--debug 2``: pictures of what the network sees and predicts, written as PNG files.

The original opened windows at ``--debug >= 2``; here the same content goes to
``<save_dir>/debug/`` so that it works on servers. One picture per drawn batch, one row per
sample (at most :data:`MAX_ROWS`), panels left to right::

    input + GT joints | input + predicted joints | GT heatmaps | predicted heatmaps
    [| GT 3D skeleton | predicted 3D skeleton]          (when the network has a depth head)

Heatmap panels show the maximum over joints blended over the crop. 3D panels use the 17
Human3.6M joints in millimetres: the ground truth as stored, the prediction rescaled as the
evaluation does (15 bones summing to 4000 mm). Training draws every ``--print_iter`` steps (every
tenth of an epoch when ``--print_iter`` is not set), validation and test the first
:data:`VAL_BATCHES` batches. Only the main process draws; nothing here touches the model, the
batch or any random state, so the numbers of a run do not depend on ``--debug``.
"""
from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np
import torch

from pose3d.datasets.heatmap import get_preds
from pose3d.evaluation.h36m import mpii16_to_h36m17, rescale_to_bone_length
from pose3d.inference import decode_3d, merge_stacks
from pose3d.skeleton import H36M17, MPII16
from pose3d.utils.errors import UserError
from pose3d.utils.visualize import (denormalize_image, draw_skeleton_2d, heatmap_overlay,
                                    plot_skeleton_3d, write_image)

log = logging.getLogger(__name__)

DEBUG_LEVEL = 2  # --debug at or above this writes pictures
VAL_BATCHES = 2  # validation / test batches drawn per pass
MAX_ROWS = 4  # samples drawn per batch
PANEL = 256  # side of every panel in pixels


def _label(image: np.ndarray, text: str) -> np.ndarray:
    """``text`` in the top-left corner, white on a dark band so it reads on any picture."""
    cv2.rectangle(image, (0, 0), (image.shape[1], 18), (30, 30, 30), -1)
    cv2.putText(image, text, (4, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (255, 255, 255), 1,
                cv2.LINE_AA)
    return image


def _blank(text: str) -> np.ndarray:
    return _label(np.full((PANEL, PANEL, 3), 255, np.uint8), text)


def sample_panels(crop: np.ndarray, gt_hm: np.ndarray, pred_hm: np.ndarray,
                  gt_pts: np.ndarray, gt_vis: np.ndarray, pred_pts: np.ndarray,
                  gt_3d: np.ndarray | None = None, pred_3d: np.ndarray | None = None,
                  has_3d: bool = False) -> list[np.ndarray]:
    """The panels of one sample, each (PANEL, PANEL, 3) uint8 BGR.

    Args:
        crop: (H, W, 3) uint8 BGR network input crop.
        gt_hm, pred_hm: (16, h, w) target and predicted heatmaps.
        gt_pts: (16, 2) target joints in output-grid cells (x, y); gt_vis: (16,) bool.
        pred_pts: (16, 2) predicted joints (heatmap argmax) in output-grid cells.
        gt_3d: (17, 3) root-relative ground truth in mm (H36M17 order), or None.
        pred_3d: (17, 3) prediction in mm (H36M17 order), or None without a depth head.
        has_3d: whether ``gt_3d`` is a label (2D samples carry zeros).
    """
    image = cv2.resize(crop, (PANEL, PANEL), interpolation=cv2.INTER_LINEAR)
    # A joint in output cell c is drawn at the cell's centre, where its Gaussian peaks.
    to_panel = np.array([PANEL / gt_hm.shape[2], PANEL / gt_hm.shape[1]])
    gt_xy, pred_xy = (gt_pts + 0.5) * to_panel, (pred_pts + 0.5) * to_panel
    peak = float(np.nan_to_num(pred_hm).max())
    panels = [
        _label(draw_skeleton_2d(image, gt_xy, MPII16, visible=gt_vis), "GT joints"),
        _label(draw_skeleton_2d(image, pred_xy, MPII16), "predicted joints"),
        _label(heatmap_overlay(image, gt_hm), "GT heatmaps (max over joints)"),
        _label(heatmap_overlay(image, pred_hm), f"predicted heatmaps (peak {peak:.2f})"),
    ]
    if pred_3d is not None:
        if has_3d and gt_3d is not None:
            err = float(np.linalg.norm(pred_3d - gt_3d, axis=1).mean())
            panels.append(plot_skeleton_3d(gt_3d, H36M17, PANEL, title="GT 3D (mm)"))
            panels.append(plot_skeleton_3d(pred_3d, H36M17, PANEL,
                                           title=f"predicted 3D, MPJPE {err:.0f} mm"))
        else:
            panels.append(_blank("no 3D label (2D sample)"))
            panels.append(plot_skeleton_3d(pred_3d, H36M17, PANEL, title="predicted 3D (mm)"))
    return panels


def debug_picture(batch: dict, pred: dict) -> np.ndarray:
    """One picture for a batch: a row of :func:`sample_panels` per sample (at most MAX_ROWS).

    Args:
        batch: the collated sample dict (``input`` (B, 3, H, W), ``target`` (B, 16, h, w),
            ``meta`` with ``pts_crop`` (B, 16, 2), ``vis`` (B, 16), ``gt_3d`` (B, 17, 3),
            ``is_3d`` (B,)).
        pred: the network's output for the batch, ``hm`` (B, 16, h, w) and optionally ``depth``.

    Returns:
        (rows * PANEL, panels * PANEL, 3) uint8 BGR picture.
    """
    n = min(MAX_ROWS, batch["input"].shape[0])
    hm = pred["hm"][:n].detach().float()
    pred_pts = get_preds(hm)[0].cpu().numpy()
    pred_3d = None
    if "depth" in pred:
        pred16 = decode_3d(hm, pred["depth"][:n].detach().float())
        pred_3d = rescale_to_bone_length(mpii16_to_h36m17(pred16))
    meta = batch["meta"]
    inputs = batch["input"][:n].detach().float().cpu().numpy()
    target = batch["target"][:n].detach().float().cpu().numpy()
    pts = meta["pts_crop"][:n].cpu().numpy()
    vis = meta["vis"][:n].cpu().numpy() > 0  # labelled and on the output grid
    gt_3d = meta["gt_3d"][:n].float().cpu().numpy()
    is_3d = np.asarray(meta["is_3d"][:n].cpu()) if torch.is_tensor(meta["is_3d"]) \
        else np.asarray(meta["is_3d"][:n])
    rows = []
    for i in range(n):
        panels = sample_panels(denormalize_image(inputs[i]), target[i], hm[i].cpu().numpy(),
                               pts[i], vis[i], pred_pts[i], gt_3d[i],
                               None if pred_3d is None else pred_3d[i], bool(is_3d[i]))
        rows.append(np.concatenate(panels, axis=1))
    return np.concatenate(rows, axis=0)


class DebugWriter:
    """Decides which batches to draw and writes their pictures (``--debug >= 2``, main process).

    Args:
        opt: the options; reads ``debug``, ``print_iter``, ``save_dir`` and ``test``.
        is_main: whether this process writes files (rank 0).
    """

    def __init__(self, opt, is_main: bool = True):
        self.enabled = is_main and getattr(opt, "debug", 0) >= DEBUG_LEVEL
        self.folder = Path(getattr(opt, "save_dir", ".") or ".") / "debug"
        self.print_iter = getattr(opt, "print_iter", -1)
        self.eval_phase = "test" if getattr(opt, "test", False) else "val"

    def train_step(self, epoch: int, step: int, steps: int, batch: dict, outputs) -> None:
        """Draw training step ``step`` (1-based) of ``steps`` when it is due."""
        if not self.enabled:
            return
        every = self.print_iter if self.print_iter > 0 else max(1, steps // 10)
        if step % every == 0:
            self.write(f"train_e{epoch:03d}_s{step:05d}", batch, outputs)

    def eval_batch(self, epoch: int, index: int, batch: dict, pred: dict) -> None:
        """Draw validation / test batch ``index`` (1-based) if it is one of the first few."""
        if self.enabled and index <= VAL_BATCHES:
            self.write(f"{self.eval_phase}_e{epoch:03d}_b{index:05d}", batch, pred)

    def write(self, name: str, batch: dict, outputs) -> Path | None:
        """Write ``<save_dir>/debug/<name>.png``; a failure is logged and stops further pictures.

        Args:
            name: file name without the extension.
            batch: the collated sample dict on any device.
            outputs: the network output (list of per-stack dicts, or one dict).
        """
        with torch.no_grad():
            picture = debug_picture(batch, merge_stacks(outputs) if isinstance(outputs, list)
                                    else outputs)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            return write_image(self.folder / f"{name}.png", picture)
        except (OSError, UserError) as err:
            # A debug picture is not worth a training run: say so once and go on without them.
            log.warning("--debug: %s; no more debug pictures in this run",
                        " ".join(str(err).split()))
            self.enabled = False
            return None
