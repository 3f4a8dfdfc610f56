"""Fusion of one 3D and one 2D dataset for weakly-supervised transfer.

Train: positions ``[0, n_images_3d)`` are 3D samples, ``[n_images_3d, n_images_3d + n_images_2d)``
the whole 2D dataset (``--dataset2D``). ``n_images_2d = len(2D)``; ``n_images_3d = len(3D)`` if
``ratio_3d <= 0`` else ``min(len(3D), int(n_images_2d * ratio_3d))``. 2D samples carry
``reg_mask = 0`` and ``reg_target`` = visibility (done by :class:`PoseDataset` for 2D datasets)
and zero ``gt_3d``. Val: the 3D dataset alone (all of its val samples).

Fixed: the original re-shuffled the 3D index list inside ``__getitem__(0)``, i.e.
separately in every DataLoader worker copy, so most 3D samples came from a fixed prefix of the
annotation list. Here the 3D subset of epoch ``e`` is a pure function of ``(seed, e)``: the first
``n_images_3d`` entries of a permutation of all 3D samples drawn from
``np.random.default_rng([seed, e, _SUBSET_STREAM])``. Every worker and every DDP rank therefore
uses the same subset, a new one each epoch, and over the epochs every 3D sample is drawn. The
epoch comes from ``set_epoch(e)`` (propagated to both datasets) or from ``(index, epoch)`` items.

Other attributes (``records``, ``idxs``...) are those of the 3D dataset, as the
original takes its metadata from it.
"""
import logging
import os

import numpy as np
from torch.utils.data import Dataset

from pose3d.utils.errors import UserError

from . import FUSION_2D, FUSION_3D, get_dataset
from .base import DataConfig, PoseDataset, stable_hash

logger = logging.getLogger(__name__)

# Separates the subset stream from any other generator seeded with (seed, epoch).
_SUBSET_STREAM = stable_hash("fusion_3d/subset")


class Fusion3D(Dataset):
    """``cfg.dataset3d`` (+ ``cfg.dataset2d`` in train) behind one index space.

    Args:
        split: 'train' or 'val'.
        data_dir: data root shared by both datasets.
        cfg: data options; uses ``dataset3d``, ``dataset2d``, ``ratio_3d`` and ``seed``.
    """

    name = "fusion_3d"
    is_3d = True

    def __init__(self, split: str, data_dir: str | os.PathLike, cfg: DataConfig | None = None):
        self.split = split
        self.cfg = cfg or DataConfig()
        self.epoch = 0
        cls3d = get_dataset(self.cfg.dataset3d)
        if not getattr(cls3d, "is_3d", False) or cls3d is Fusion3D:
            raise UserError(f"--dataset3D {self.cfg.dataset3d}: not a 3D dataset; choose one of "
                            f"{', '.join(FUSION_3D)}")
        self.dataset3d: PoseDataset = cls3d(split, data_dir, self.cfg)
        self.dataset2d: PoseDataset | None = None
        if split == "train":
            cls2d = get_dataset(self.cfg.dataset2d)
            if getattr(cls2d, "is_3d", False):
                raise UserError(f"--dataset2D {self.cfg.dataset2d}: is a 3D dataset; choose a 2D "
                                f"one ({', '.join(FUSION_2D)})")
            self.dataset2d = cls2d(split, data_dir, self.cfg)
            self.n_images_2d = len(self.dataset2d)
            n3d = len(self.dataset3d)
            self.n_images_3d = (n3d if self.cfg.ratio_3d <= 0
                                else min(n3d, int(self.n_images_2d * self.cfg.ratio_3d)))
        else:
            self.n_images_2d = 0
            self.n_images_3d = len(self.dataset3d)
        self.datasets = {"3d": self.dataset3d}
        if self.dataset2d is not None:
            self.datasets["2d"] = self.dataset2d
        self.num_joints = self.dataset3d.num_joints
        self.skeleton = self.dataset3d.skeleton
        self._subset_cache: dict[int, np.ndarray] = {}
        self.note = "; ".join(d.note for d in self.datasets.values() if d.note)
        logger.info("fusion_3d %s: %d 3D (%s) + %d 2D (%s) samples", split, self.n_images_3d,
                    self.cfg.dataset3d, self.n_images_2d,
                    self.cfg.dataset2d if self.dataset2d is not None else "-")

    def __getattr__(self, name: str):
        # Only reached for attributes not set above; unpickling calls it before __dict__ exists.
        if name.startswith("__") or "dataset3d" not in self.__dict__:
            raise AttributeError(name)
        return getattr(self.__dict__["dataset3d"], name)

    def __len__(self) -> int:
        return self.n_images_3d + self.n_images_2d

    def set_epoch(self, epoch: int) -> None:
        """Select epoch ``epoch``'s 3D subset and augmentations (both datasets)."""
        self.epoch = int(epoch)
        for ds in self.datasets.values():
            ds.set_epoch(epoch)

    def subset_3d(self, epoch: int) -> np.ndarray:
        """Positions in the 3D dataset used in ``epoch``.

        Returns:
            (n_images_3d,) int64; identical in every process for a given ``(seed, epoch)``.
        """
        epoch = int(epoch)
        sub = self._subset_cache.get(epoch)
        if sub is None:
            if self.split != "train":
                sub = np.arange(self.n_images_3d)
            else:
                rng = np.random.default_rng([int(self.cfg.seed) % 2 ** 32, epoch, _SUBSET_STREAM])
                sub = rng.permutation(len(self.dataset3d))[:self.n_images_3d]
            if len(self._subset_cache) >= 4:  # only the current epoch matters
                self._subset_cache.clear()
            self._subset_cache[epoch] = sub
        return sub

    def __getitem__(self, item):
        index, epoch = item if isinstance(item, tuple) else (item, self.epoch)
        index = int(index)
        if index < 0 or index >= len(self):
            raise IndexError(f"index {index} out of range for fusion_3d of length {len(self)}")
        if index < self.n_images_3d:
            return self.dataset3d[(int(self.subset_3d(epoch)[index]), epoch)]
        return self.dataset2d[(index - self.n_images_3d, epoch)]
