"""Device choice: the only module that touches CUDA and NPU.

Nothing else in pose3d calls ``.cuda()``, ``torch.cuda.*`` or imports ``torch_npu``; tensors move
with :func:`to_device` and models with :func:`prepare_model`. What lives here:

* :func:`resolve_device` turns ``--device`` / ``--gpus`` (and the torchrun local rank) into a
  ``torch.device``. ``torch_npu`` is imported only when ``--device npu`` asks for it. A missing
  backend is a one-line :class:`~pose3d.utils.errors.UserError` naming the flag.
* :func:`prepare_model` (device, ``--channels_last``, ``--compile``, DDP) for training, testing,
  the demo and the benchmark; :func:`channels_last_batch` for their input batches.
* Seeding, synchronisation, memory statistics and RNG state of the accelerators.
"""
import importlib
import logging
import random
import sys
from collections.abc import Mapping
from types import ModuleType
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import nn

from pose3d.utils.distributed import dist_env, wrap_distributed
from pose3d.utils.errors import UserError

log = logging.getLogger(__name__)


def _import_torch_npu() -> ModuleType:
    try:
        return importlib.import_module("torch_npu")
    except ImportError as err:
        raise UserError(
            f"--device npu: torch_npu is not installed ({err}); install Ascend's torch_npu built "
            f"for torch {torch.__version__} with the CANN toolkit, or use --device cpu|cuda"
        ) from None


def _device_index(gpus: list[int], local_rank: int) -> int:
    """Which accelerator this process uses.

    ``--gpus 2,3`` under torchrun maps local rank i to gpus[i]; with a single entry (the default
    ``0``) each torchrun process takes the device of its local rank, the torchrun convention.
    """
    valid = [g for g in gpus if g >= 0]
    if len(valid) > 1:
        if local_rank >= len(valid):
            raise UserError(
                f"--gpus {','.join(map(str, valid))}: lists {len(valid)} devices but this is "
                f"local process {local_rank}; run torchrun with --nproc_per_node {len(valid)}"
            )
        return valid[local_rank]
    if dist_env()[2] > 1:
        return local_rank
    return valid[0] if valid else 0


def resolve_device(device: str, gpus: list[int], local_rank: int = 0) -> torch.device:
    """The ``torch.device`` this process runs on, made current for its backend.

    Args:
        device: ``--device``: ``auto`` (cuda when available, else cpu), ``cpu``, ``cuda``, ``npu``;
            ``cuda:1`` / ``npu:0`` pick an index directly.
        gpus: ``--gpus`` as a list; ``[-1]`` means cpu when ``device`` is ``auto``.
        local_rank: torchrun ``LOCAL_RANK`` (0 for a single process).

    Returns:
        ``torch.device('cpu')``, ``cuda:<i>`` or ``npu:<i>``.

    Raises:
        UserError: the requested backend is missing, or the index does not exist.
    """
    name, _, index_text = str(device).partition(":")
    if name == "auto":
        if gpus and gpus[0] < 0:
            return torch.device("cpu")
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cpu":
        return torch.device("cpu")
    if name == "cuda":
        if not torch.cuda.is_available():
            built = torch.version.cuda or "none"
            raise UserError(
                f"--device cuda: CUDA is not available (torch {torch.__version__}, built for CUDA "
                f"{built}); use --device cpu (or --gpus -1), or install a CUDA build of torch"
            )
        count = torch.cuda.device_count()
    elif name == "npu":
        _import_torch_npu()
        if not torch.npu.is_available():
            raise UserError("--device npu: torch_npu is installed but no NPU is available; "
                            "check the Ascend driver or use --device cpu")
        count = torch.npu.device_count()
    else:
        raise UserError(f"--device {device}: unknown device; choose auto, cpu, cuda or npu")
    index = int(index_text) if index_text else _device_index(gpus, local_rank)
    if not 0 <= index < count:
        raise UserError(f"--gpus {','.join(map(str, gpus))}: {name}:{index} does not exist "
                        f"({count} {name} device(s) found); pick an index below {count}")
    if name == "cuda":
        torch.cuda.set_device(index)
    else:
        torch.npu.set_device(index)
    return torch.device(name, index)


def set_cudnn(disable: bool, benchmark: bool = False) -> None:
    """Apply ``--disable_cudnn`` (kept from the original; modern PyTorch does not need it)."""
    torch.backends.cudnn.enabled = not disable
    torch.backends.cudnn.benchmark = benchmark and not disable


def backend_versions() -> dict[str, str]:
    """Versions of torch, CUDA, cuDNN (and torch_npu when imported) for ``opt.txt``."""
    try:
        cudnn = torch.backends.cudnn.version()
    except Exception:  # cuDNN missing or unloadable: not an error for a log line
        cudnn = None
    versions = {"torch": torch.__version__, "cuda": str(torch.version.cuda),
                "cudnn": str(cudnn)}
    npu = sys.modules.get("torch_npu")
    if npu is not None:
        versions["torch_npu"] = str(getattr(npu, "__version__", "unknown"))
    return versions


def to_device(batch: Any, device: torch.device, non_blocking: bool = False) -> Any:
    """Move every tensor of a batch to ``device``, except ``batch['meta']``.

    Args:
        batch: a tensor, or dicts/lists/tuples of them (a collated sample dict).
        device: target device.
        non_blocking: asynchronous copy (useful with pinned memory).

    Returns:
        The same structure with tensors on ``device``; ``meta`` and non-tensors unchanged.
    """
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=non_blocking)
    if isinstance(batch, Mapping):
        return {k: v if k == "meta" else to_device(v, device, non_blocking)
                for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(to_device(v, device, non_blocking) for v in batch)
    return batch


def synchronize(device: torch.device) -> None:
    """Wait for the accelerator (for timings); no-op on cpu."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "npu":
        torch.npu.synchronize()


def max_memory_allocated(device: torch.device) -> int:
    """Peak memory allocated by tensors on ``device`` in bytes (0 on cpu)."""
    if device.type == "cuda":
        return int(torch.cuda.max_memory_allocated(device))
    if device.type == "npu":
        return int(torch.npu.max_memory_allocated(device))
    return 0


def reset_peak_memory_stats(device: torch.device) -> None:
    """Restart :func:`max_memory_allocated` counting; no-op on cpu."""
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    elif device.type == "npu":
        torch.npu.reset_peak_memory_stats(device)


def empty_cache(device: torch.device) -> None:
    """Release cached accelerator memory; no-op on cpu."""
    if device.type == "cuda":
        torch.cuda.empty_cache()
    elif device.type == "npu":
        torch.npu.empty_cache()


# ----------------------------------------------------------------------------- randomness


def seed_everything(seed: int) -> None:
    """Seed python ``random``, numpy's global RNG and torch (all devices)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if "torch_npu" in sys.modules:
        torch.npu.manual_seed_all(seed)


def accelerator_rng_state() -> dict[str, list[torch.Tensor]]:
    """RNG states of initialised accelerators (``{'cuda': [state per device]}``), else ``{}``."""
    states: dict[str, list[torch.Tensor]] = {}
    # Only when already initialised: querying would otherwise start a CUDA context.
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        states["cuda"] = list(torch.cuda.get_rng_state_all())
    if "torch_npu" in sys.modules and torch.npu.is_available():
        states["npu"] = list(torch.npu.get_rng_state_all())
    return states


def set_accelerator_rng_state(states: Mapping[str, list[torch.Tensor]]) -> None:
    """Restore :func:`accelerator_rng_state`; devices missing on this machine are skipped."""
    cuda_states = states.get("cuda") or []
    if cuda_states and torch.cuda.is_available():
        for i, s in enumerate(cuda_states[: torch.cuda.device_count()]):
            torch.cuda.set_rng_state(s.cpu(), i)
    npu_states = states.get("npu") or []
    if npu_states and "torch_npu" in sys.modules and torch.npu.is_available():
        for i, s in enumerate(npu_states[: torch.npu.device_count()]):
            torch.npu.set_rng_state(s.cpu(), i)


# ----------------------------------------------------------------------------- models

class PreparedModel(NamedTuple):
    """What :func:`prepare_model` returns.

    ``model`` is the plain module (saved and validated), ``net`` the one a step calls (DDP and
    ``torch.compile`` wrappers when asked; ``model`` itself otherwise), ``optimizer`` the
    optimizer after the scaler's ``initialize`` (apex may replace it).
    """

    model: nn.Module
    net: nn.Module
    optimizer: Any


def prepare_model(model: nn.Module, device: torch.device, *, channels_last: bool = False,
                  compile: bool = False, eval: bool = False, ddp: bool = False,
                  find_unused_parameters: bool = False, optimizer=None,
                  scaler=None) -> PreparedModel:
    """Put a model on its device for a run, in the order each step requires.

    Device -> ``eval()`` when asked -> ``--channels_last`` -> the scaler's ``initialize`` (apex
    wants the placed model, before DDP) -> DDP when ``ddp`` and a process group runs ->
    ``--compile``.

    Args:
        model: the network (moved in place).
        device: from :func:`resolve_device`.
        channels_last: ``--channels_last``.
        compile: ``--compile``: ``torch.compile`` the outermost wrapper.
        eval: switch to inference mode (the demo).
        ddp: wrap in DistributedDataParallel when a process group runs (training).
        find_unused_parameters: passed to DDP.
        optimizer, scaler: given together to run ``scaler.initialize(model, optimizer)``.
    """
    model.to(device)
    if eval:
        model.eval()
    if channels_last:
        model.to(memory_format=torch.channels_last)
    if scaler is not None and optimizer is not None:
        model, optimizer = scaler.initialize(model, optimizer)
    net = wrap_distributed(model, device, find_unused_parameters) if ddp else model
    if compile:
        net = torch.compile(net)
    return PreparedModel(model, net, optimizer)


def channels_last_batch(x: torch.Tensor, channels_last: bool) -> torch.Tensor:
    """``x`` (B, C, H, W) in the channels_last layout under ``--channels_last``, else ``x``."""
    return x.contiguous(memory_format=torch.channels_last) if channels_last else x
