"""Device, precision and distribution: the only module that touches CUDA, NPU and apex.

Nothing else in pose3d calls ``.cuda()``, ``torch.cuda.*`` or imports ``torch_npu``; tensors move
with :func:`to_device`. What lives here:

* :func:`resolve_device` turns ``--device`` / ``--gpus`` (and the torchrun local rank) into a
  ``torch.device``. ``torch_npu`` is imported only when ``--device npu`` asks for it. A missing
  backend is a one-line :class:`~pose3d.utils.errors.UserError` naming the flag.
* :func:`init_distributed` starts DDP from the torchrun environment (``RANK``, ``LOCAL_RANK``,
  ``WORLD_SIZE``) with the backend of the device (cuda: nccl, npu: hccl, cpu: gloo); helpers for
  rank checks, barriers and reductions work (as no-ops) without it.
* :func:`autocast` and :class:`Scaler` implement ``--amp {off,bf16,fp16}`` through ``torch.amp``
  (a ``GradScaler`` only for fp16). :class:`ApexScaler` implements ``--apex O0|O1|O2`` when NVIDIA
  or Ascend apex is installed; the unrelated PyPI package called ``apex`` is detected and refused.
* Seeding, synchronisation, memory statistics and RNG state of the accelerators.
"""
import contextlib
import importlib
import logging
import os
import random
import sys
from collections.abc import Iterable, Mapping
from types import ModuleType
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from pose3d.utils.errors import UserError

log = logging.getLogger(__name__)

DIST_BACKENDS: dict[str, str] = {"cuda": "nccl", "npu": "hccl", "cpu": "gloo"}
AMP_DTYPES: dict[str, torch.dtype] = {"bf16": torch.bfloat16, "fp16": torch.float16}
APEX_MISSING = ("--apex {level}: NVIDIA/Ascend apex is not installed (the PyPI package named "
                "'apex' is unrelated); use --amp bf16|fp16 or install apex from NVIDIA/Ascend")


# ----------------------------------------------------------------------------- devices

def _import_torch_npu() -> ModuleType:
    try:
        return importlib.import_module("torch_npu")
    except ImportError as err:
        raise UserError(
            f"--device npu: torch_npu is not installed ({err}); install Ascend's torch_npu built "
            f"for torch {torch.__version__} with the CANN toolkit, or use --device cpu|cuda"
        ) from None


def dist_env() -> tuple[int, int, int]:
    """Rank, local rank and world size from the torchrun environment (0, 0, 1 without it)."""
    return (int(os.environ.get("RANK", 0)), int(os.environ.get("LOCAL_RANK", 0)),
            int(os.environ.get("WORLD_SIZE", 1)))


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


# ----------------------------------------------------------------------------- distribution

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


def get_rank() -> int:
    """Global rank (from the environment before the process group starts)."""
    return dist.get_rank() if is_distributed() else dist_env()[0]


def get_world_size() -> int:
    """Number of processes (1 without DDP)."""
    return dist.get_world_size() if is_distributed() else 1


def is_main_process() -> bool:
    """True on rank 0, the only process that writes logs, checkpoints and results."""
    return get_rank() == 0


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


def all_reduce_mean(tensor: torch.Tensor) -> torch.Tensor:
    """Mean of ``tensor`` over processes (a new tensor; the input itself without DDP)."""
    if not is_distributed():
        return tensor
    return all_reduce_sum(tensor) / dist.get_world_size()


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


# ----------------------------------------------------------------------------- precision

def autocast(device: torch.device, amp: str = "off") -> contextlib.AbstractContextManager:
    """Context for the forward pass and the loss under ``--amp``.

    Args:
        device: the model's device.
        amp: ``off`` (float32), ``bf16`` or ``fp16``.

    Returns:
        ``torch.amp.autocast(device.type, dtype)`` or a null context for ``off``.
    """
    if amp == "off":
        return contextlib.nullcontext()
    if amp not in AMP_DTYPES:
        raise UserError(f"--amp {amp}: unknown precision; choose off, bf16 or fp16")
    return torch.amp.autocast(device.type, dtype=AMP_DTYPES[amp])


def _clip(parameters: Iterable[torch.Tensor] | None, optimizer: torch.optim.Optimizer,
          clip_grad: float) -> torch.Tensor:
    if parameters is None:
        parameters = [p for g in optimizer.param_groups for p in g["params"]]
    return nn.utils.clip_grad_norm_(parameters, clip_grad)


class Scaler:
    """Backward + optional gradient clipping + optimizer step, for ``--amp``.

    fp16 goes through ``torch.amp.GradScaler(device.type)``; off and bf16 need no scaling. The
    caller zeroes the gradients before the forward pass.

    Args:
        device: the model's device.
        amp: ``off``, ``bf16`` or ``fp16``.
        init_scale: first fp16 loss scale (GradScaler's default 2**16; steps whose gradients
            overflow are skipped while the scale adapts).
    """

    def __init__(self, device: torch.device | str = "cpu", amp: str = "off",
                 init_scale: float = 2.0**16):
        self.device = torch.device(device)
        self.amp = amp
        self._scaler = (torch.amp.GradScaler(self.device.type, init_scale=init_scale)
                        if amp == "fp16" else None)

    def __call__(self, loss: torch.Tensor, optimizer: torch.optim.Optimizer,
                 clip_grad: float | None = None,
                 parameters: Iterable[torch.Tensor] | None = None) -> torch.Tensor | None:
        """Backpropagate ``loss`` and step ``optimizer``.

        Args:
            loss: scalar loss.
            optimizer: the optimizer to step.
            clip_grad: max gradient norm (``--grad_clip``); None: no clipping.
            parameters: what to clip; default every parameter of ``optimizer``.

        Returns:
            The total gradient norm before clipping, or None without clipping.
        """
        norm = None
        if self._scaler is None:
            loss.backward()
            if clip_grad is not None:
                norm = _clip(parameters, optimizer, clip_grad)
            optimizer.step()
            return norm
        self._scaler.scale(loss).backward()
        if clip_grad is not None:
            self._scaler.unscale_(optimizer)  # clip the true gradients, not the scaled ones
            norm = _clip(parameters, optimizer, clip_grad)
        self._scaler.step(optimizer)
        self._scaler.update()
        return norm

    def state_dict(self) -> dict[str, Any]:
        """The GradScaler state (scale, growth tracker...) for fp16; ``{}`` otherwise."""
        return self._scaler.state_dict() if self._scaler is not None else {}

    def load_state_dict(self, state: Mapping[str, Any] | None) -> None:
        """Restore :meth:`state_dict`; an empty or absent state keeps the defaults."""
        if self._scaler is not None and state:
            self._scaler.load_state_dict(dict(state))


def load_apex(opt_level: str = "O1") -> ModuleType:
    """Import ``apex.amp`` from NVIDIA or Ascend apex.

    Raises:
        UserError: apex is missing, or the installed ``apex`` is the unrelated PyPI package
            (it has no ``amp.initialize``).
    """
    try:
        amp = importlib.import_module("apex.amp")
    except Exception:  # ImportError, or whatever a foreign 'apex' raises on import
        raise UserError(APEX_MISSING.format(level=opt_level)) from None
    if not callable(getattr(amp, "initialize", None)) or not callable(
            getattr(amp, "scale_loss", None)):
        raise UserError(APEX_MISSING.format(level=opt_level))
    return amp


class ApexScaler:
    """The :class:`Scaler` interface on top of apex amp (``--apex O0|O1|O2``).

    Call :meth:`initialize` once, after the model is on its device and before DDP, as apex
    requires.

    Args:
        opt_level: apex optimisation level.
    """

    def __init__(self, opt_level: str = "O1"):
        self.opt_level = opt_level
        self.amp = load_apex(opt_level)

    def initialize(self, model: nn.Module,
                   optimizer: torch.optim.Optimizer) -> tuple[nn.Module, torch.optim.Optimizer]:
        """``apex.amp.initialize(model, optimizer, opt_level)``."""
        return self.amp.initialize(model, optimizer, opt_level=self.opt_level)

    def __call__(self, loss: torch.Tensor, optimizer: torch.optim.Optimizer,
                 clip_grad: float | None = None,
                 parameters: Iterable[torch.Tensor] | None = None) -> torch.Tensor | None:
        """Backward through ``amp.scale_loss``, optional clipping of the master params, step."""
        with self.amp.scale_loss(loss, optimizer) as scaled:
            scaled.backward()
        norm = None
        if clip_grad is not None:
            params = parameters if parameters is not None else self.amp.master_params(optimizer)
            norm = nn.utils.clip_grad_norm_(params, clip_grad)
        optimizer.step()
        return norm

    def state_dict(self) -> dict[str, Any]:
        """apex's loss-scaler state when it provides one."""
        fn = getattr(self.amp, "state_dict", None)
        return dict(fn()) if callable(fn) else {}

    def load_state_dict(self, state: Mapping[str, Any] | None) -> None:
        """Restore :meth:`state_dict`."""
        fn = getattr(self.amp, "load_state_dict", None)
        if state and callable(fn):
            fn(dict(state))


def build_scaler(device: torch.device, amp: str = "off",
                 apex: str | None = None) -> Scaler | ApexScaler:
    """:class:`ApexScaler` when ``--apex`` is given, else :class:`Scaler` for ``--amp``."""
    if apex is not None:
        return ApexScaler(apex)
    if amp not in ("off", *AMP_DTYPES):
        raise UserError(f"--amp {amp}: unknown precision; choose off, bf16 or fp16")
    return Scaler(device, amp)
