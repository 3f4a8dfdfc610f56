"""Distributed data parallel (torchrun): the process group, barriers, reductions, the DDP wrap.

:func:`init_distributed` starts DDP from the torchrun environment (``RANK``, ``LOCAL_RANK``,
``WORLD_SIZE``) with the backend of the device (cuda: nccl, npu: hccl, cpu: gloo); the other
helpers work (as no-ops) without it.
"""
import logging
import os

import torch
import torch.distributed as dist
from torch import nn

from pose3d.utils.errors import UserError

log = logging.getLogger(__name__)

DIST_BACKENDS: dict[str, str] = {"cuda": "nccl", "npu": "hccl", "cpu": "gloo"}


def dist_env() -> tuple[int, int, int]:
    """Rank, local rank and world size from the torchrun environment (0, 0, 1 without it)."""
    return (int(os.environ.get("RANK", 0)), int(os.environ.get("LOCAL_RANK", 0)),
            int(os.environ.get("WORLD_SIZE", 1)))


def init_distributed(device: torch.device) -> tuple[int, int, int]:
    """Join the torchrun process group when ``WORLD_SIZE`` > 1.

    Args:
        device: from :func:`resolve_device`; its type picks the backend (nccl, hccl, gloo).

    Returns:
        ``(rank, local_rank, world_size)``; ``(0, 0, 1)`` outside torchrun.
    """
    rank, local_rank, world_size = dist_env()
    if world_size <= 1:
        return rank, local_rank, 1
    if not dist.is_available():
        raise UserError("torchrun started several processes but this torch build has no "
                        "torch.distributed; run a single process (no torchrun)")
    if not dist.is_initialized():
        backend = DIST_BACKENDS.get(device.type)
        if backend is None:
            raise UserError(f"--device {device.type}: no distributed backend; use cpu, cuda or npu")
        dist.init_process_group(backend=backend, rank=rank, world_size=world_size)
        log.info("distributed: rank %d/%d (local %d) on %s, backend %s",
                 rank, world_size, local_rank, device, backend)
    return rank, local_rank, world_size


def is_distributed() -> bool:
    """Whether a process group is running."""
    return dist.is_available() and dist.is_initialized()


def barrier() -> None:
    """Wait for every process; no-op without DDP."""
    if is_distributed():
        dist.barrier()


def all_reduce_sum(tensor: torch.Tensor) -> torch.Tensor:
    """Sum of ``tensor`` over processes (a new tensor; the input itself without DDP)."""
    if not is_distributed():
        return tensor
    out = tensor.detach().clone()
    dist.all_reduce(out, op=dist.ReduceOp.SUM)
    return out


def wrap_distributed(model: nn.Module, device: torch.device,
                     find_unused_parameters: bool = False) -> nn.Module:
    """Wrap ``model`` in DistributedDataParallel when a process group runs, else return it."""
    if not is_distributed():
        return model
    ids = [device.index] if device.type in ("cuda", "npu") else None
    return nn.parallel.DistributedDataParallel(model, device_ids=ids,
                                               find_unused_parameters=find_unused_parameters)


def cleanup() -> None:
    """Leave the process group (call once at exit)."""
    if is_distributed():
        dist.destroy_process_group()
