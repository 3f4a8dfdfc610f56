"""EpochSampler: the training order as a pure function of (seed, epoch), shardable and resumable.

It behaves like ``DistributedSampler`` (the same permutation on every rank, each rank taking every
``world_size``-th element, padded to equal length) and also works with one process. It yields
``(index, epoch)`` pairs so that datasets in persistent DataLoader workers follow the epoch for
their augmentation and resampling, and it can skip the samples a killed run had already consumed,
so ``--resume`` continues mid-epoch on exactly the same batches.
"""
from __future__ import annotations

import math

import torch
from torch.utils.data import Sampler


class EpochSampler(Sampler):
    def __init__(self, num_samples: int, seed: int = 0, num_replicas: int = 1, rank: int = 0,
                 shuffle: bool = True):
        self.n, self.seed, self.shuffle = int(num_samples), int(seed), shuffle
        self.num_replicas, self.rank = num_replicas, rank
        self.per_rank = math.ceil(self.n / num_replicas)
        self.epoch, self.skip = 0, 0

    def set_epoch(self, epoch: int, skip: int = 0) -> None:
        """Select the epoch's permutation; ``skip`` leading samples of this rank are dropped."""
        self.epoch, self.skip = int(epoch), int(skip)

    def indices(self) -> list[int]:
        if self.shuffle:
            g = torch.Generator()
            g.manual_seed(self.seed + self.epoch)
            order = torch.randperm(self.n, generator=g).tolist()
        else:
            order = list(range(self.n))
        total = self.per_rank * self.num_replicas
        order += order[: total - len(order)]
        return order[self.rank:total:self.num_replicas][self.skip:]

    def __iter__(self):
        return iter([(i, self.epoch) for i in self.indices()])

    def __len__(self) -> int:
        return max(0, self.per_rank - self.skip)
