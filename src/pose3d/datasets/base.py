"""PoseDataset: records -> augmented crop -> heatmap and depth targets.

A dataset subclass only parses its files into normalised *records* (``_load_records``); reading,
augmentation, the single ``cv2.warpAffine`` per sample and target generation live here, so every
dataset returns the same sample dict and fusion batches collate.

Record (one per person), produced by ``_load_records``::

    image     str, path of the image file
    joints    (16, 2) float px, MPII16 order, in the frame predictions are mapped back to
    vis       (16,) float 0/1, joint labelled
    center    (2,) float px; scale: float, side of the square crop box in px
    gt_3d     (17, 3) float mm, root-relative, H36M17 order          (3D datasets only)
    depth_px  (16,) float, root-relative depth in the pixel scale of ``joints``  (3D only)
    group     str, action or sequence used for per-group tables (optional)

Sample dict (``__getitem__``)::

    input      (3, H, W) float32, normalised BGR crop
    target     (16, h, w) float32 heatmaps (sigma 2 on the output grid)
    reg_target (16, 1) float32: depth / crop side (3D samples), visibility (2D samples)
    reg_ind    (16,) int64, index of depth[j, y, x] in the (h * w * 16) permuted depth map
    reg_mask   (16,) uint8, 1 for 3D-supervised joints inside the output grid
    meta       index, center (2,), scale (2,), rot, flip, pts_crop (16, 2) int32 output-grid
               cells, vis (16,) labelled and inside the grid, joints_img (16, 2), vis_img (16,),
               gt_3d (17, 3) mm (zeros for 2D), is_3d, group

Randomness: augmentation for sample ``index`` in epoch ``e`` draws from a generator seeded by
``(seed, dataset, e, index)``, so results do not depend on the number of DataLoader workers or
processes, and a resumed run replays the same augmentations.
"""
from __future__ import annotations

import os
import zlib
from dataclasses import dataclass, fields
from pathlib import Path

import cv2
import numpy as np
from torch.utils.data import Dataset

from pose3d.skeleton import H36M17, MPII16
from pose3d.utils.errors import DataFormatError
from pose3d.utils.io import read_image

from .heatmap import depth_index, draw_gaussian_targets
from .transforms import adjust_aspect_ratio, get_affine_transform, normalize_image


@dataclass
class DataConfig:
    """Everything a dataset needs from the options, as explicit typed fields."""

    input_h: int = 256
    input_w: int = 256
    output_h: int = 64
    output_w: int = 64
    scale_factor: float = 0.25
    rotate_factor: float = 30.0
    flip_prob: float = 0.5
    hm_sigma: float = 2.0
    full_test: bool = False
    seed: int = 0
    reduced_decode: bool = True
    fit_short_side: bool = False
    ratio_3d: float = 1.0
    dataset2d: str = "mpii"
    dataset3d: str = "H36M"

    @classmethod
    def from_opt(cls, opt) -> "DataConfig":
        names = {f.name for f in fields(cls)}
        kw = {n: getattr(opt, n) for n in names if hasattr(opt, n)}
        kw.update(scale_factor=opt.scale, rotate_factor=opt.rotate, flip_prob=opt.flip,
                  hm_sigma=getattr(opt, "hm_gauss", 2), seed=getattr(opt, "random_seed", 0),
                  dataset2d=getattr(opt, "dataset2D", "mpii"),
                  dataset3d=getattr(opt, "dataset3D", "H36M"))
        return cls(**kw)


def stable_hash(name: str) -> int:
    """A process-independent hash (Python's ``hash`` is salted per process)."""
    return zlib.crc32(name.encode())


class PoseDataset(Dataset):
    """Base class of every dataset; see the module docstring for the contracts."""

    name = "base"
    is_3d = False
    num_joints = MPII16.num_joints
    skeleton = MPII16
    rotate_in_train = True      # the 3D datasets of the original never rotate
    subsample_val = False       # 3D datasets validate on every 10th sample unless --full_test
    val_stride = 10
    note = ""                   # which files or parts were used; the runner logs it

    def __init__(self, split: str, data_dir: str | os.PathLike, cfg: DataConfig | None = None):
        if split not in ("train", "val"):
            raise ValueError(f"split must be 'train' or 'val', got {split!r}")
        self.split = split
        self.data_dir = Path(data_dir)
        self.cfg = cfg or DataConfig()
        self.epoch = 0
        self.records = self._load_records()
        if len(self.records) == 0:
            raise DataFormatError(self.data_dir, f"{self.name} {split} split has no samples",
                                  "check the annotation files")
        n = len(self.records)
        stride = self.val_stride if (split == "val" and self.subsample_val
                                     and not self.cfg.full_test) else 1
        self.idxs = np.arange(0, n, stride)
        self._flip_index = MPII16.flip_index
        self._flip_index_3d = H36M17.flip_index

    # -- to be provided by subclasses ---------------------------------------------------------
    def _load_records(self) -> list[dict]:
        raise NotImplementedError

    # -- epoch and randomness -----------------------------------------------------------------
    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def _rng(self, index: int, epoch: int) -> np.random.Generator:
        return np.random.default_rng([self.cfg.seed, stable_hash(self.name), epoch, index])

    def __len__(self) -> int:
        return len(self.idxs)

    def __getitem__(self, item):
        # An (index, epoch) pair lets persistent workers follow the epoch without set_epoch.
        index, epoch = item if isinstance(item, tuple) else (item, self.epoch)
        rec_index = int(self.idxs[index])
        return self.make_sample(self.records[rec_index], rec_index, epoch)

    # -- the sample pipeline ------------------------------------------------------------------
    def augment_params(self, rec_index: int, epoch: int) -> tuple[float, float, bool]:
        """Scale multiplier, rotation (degrees) and flip for a training sample."""
        rng = self._rng(rec_index, epoch)
        sf, rf = self.cfg.scale_factor, self.cfg.rotate_factor
        s_mult = float(np.clip(rng.standard_normal() * sf + 1, 1 - sf, 1 + sf))
        rot = 0.0
        if rng.random() <= 0.6:
            rot = float(np.clip(rng.standard_normal() * rf, -rf * 2, rf * 2))
        if not self.rotate_in_train:
            rot = 0.0
        flip = bool(rng.random() < self.cfg.flip_prob)
        return s_mult, rot, flip

    def make_sample(self, rec: dict, rec_index: int, epoch: int = 0) -> dict:
        cfg = self.cfg
        train = self.split == "train"
        center = np.asarray(rec["center"], dtype=np.float64)
        side = float(rec["scale"])
        rot, flip = 0.0, False
        if train:
            s_mult, rot, flip = self.augment_params(rec_index, epoch)
            side *= s_mult

        # Decode at reduced resolution when the crop downsamples anyway (training only, so
        # validation numbers use the full-resolution decode as the original).
        reduce = 1
        if train and cfg.reduced_decode and str(rec["image"]).lower().endswith((".jpg", ".jpeg")):
            ratio = side / max(cfg.input_w, cfg.input_h)
            for f in (8, 4, 2):
                if ratio >= f:
                    reduce = f
                    break
        img = read_image(rec["image"], reduce)
        h_img, w_img = img.shape[0] * reduce, img.shape[1] * reduce
        side = min(side, max(h_img, w_img))
        box = adjust_aspect_ratio(side, cfg.input_w / cfg.input_h, cfg.fit_short_side)

        # Flipping the image about x = W - 1 - x and the centre with it equals mirroring the
        # source about the vertical line through the centre; fold that into the affine matrix.
        mirror = np.eye(3)
        if flip:
            mirror[0, 0], mirror[0, 2] = -1.0, 2.0 * center[0]
        t_in = _h(get_affine_transform(center, box, rot, (cfg.input_w, cfg.input_h))) @ mirror
        t_out = _h(get_affine_transform(center, box, rot, (cfg.output_w, cfg.output_h))) @ mirror
        undo_reduce = np.array([[reduce, 0, (reduce - 1) / 2], [0, reduce, (reduce - 1) / 2],
                                [0, 0, 1]], dtype=np.float64)
        crop = cv2.warpAffine(img, (t_in @ undo_reduce)[:2], (cfg.input_w, cfg.input_h),
                              flags=cv2.INTER_LINEAR)

        joints = np.asarray(rec["joints"], dtype=np.float64)
        vis_img = np.asarray(rec["vis"], dtype=np.float64) > 0
        pts = joints @ t_out[:2, :2].T + t_out[:2, 2]
        if flip:
            pts, vis_img = pts[self._flip_index], vis_img[self._flip_index]
        pts_crop = np.trunc(pts).astype(np.int32)
        inside = ((pts_crop[:, 0] >= 0) & (pts_crop[:, 0] < cfg.output_w)
                  & (pts_crop[:, 1] >= 0) & (pts_crop[:, 1] < cfg.output_h))
        vis = vis_img & inside
        # 3D samples supervise only joints inside the grid; 2D samples draw every labelled joint
        # whose Gaussian window touches the grid (as the original).
        draw = vis if self.is_3d else vis_img
        pts_crop[~draw] = 0
        target = draw_gaussian_targets(pts_crop, draw, cfg.output_h, cfg.output_w, cfg.hm_sigma)
        reg_ind = depth_index(np.where(vis[:, None], pts_crop, 0), cfg.output_w, self.num_joints)

        gt_3d = np.zeros((17, 3), dtype=np.float32)
        if self.is_3d:
            depth = np.asarray(rec["depth_px"], dtype=np.float64)
            if flip:
                depth = depth[self._flip_index]
            reg_target = np.where(vis, depth / side, 0.0)
            reg_mask = vis.astype(np.uint8)
            gt_3d = np.asarray(rec["gt_3d"], dtype=np.float32).copy()
            if flip:
                gt_3d[:, 0] *= -1
                gt_3d = gt_3d[self._flip_index_3d]
        else:
            reg_target = vis.astype(np.float64)
            reg_mask = np.zeros(self.num_joints, dtype=np.uint8)

        meta = {
            "index": rec_index,
            "center": center.astype(np.float32),
            "scale": np.asarray(box, dtype=np.float64),
            "rot": np.float32(rot),
            "flip": flip,
            "pts_crop": pts_crop,
            "vis": vis.astype(np.float32),
            "joints_img": joints.astype(np.float32),
            "vis_img": np.asarray(rec["vis"], dtype=np.float32),
            "gt_3d": gt_3d,
            "is_3d": bool(self.is_3d),
            "group": str(rec.get("group", "")),
        }
        return {
            "input": normalize_image(crop),
            "target": target,
            "reg_target": reg_target.astype(np.float32)[:, None],
            "reg_ind": reg_ind,
            "reg_mask": reg_mask,
            "meta": meta,
        }


def _h(mat: np.ndarray) -> np.ndarray:
    """(2, 3) affine -> (3, 3) homogeneous."""
    return np.vstack([mat, [0.0, 0.0, 1.0]])
