"""Mixed precision: ``--amp {off,bf16,fp16}`` through ``torch.amp`` and ``--apex O0|O1|O2``.

:func:`autocast` and :class:`Scaler` implement ``--amp`` (a ``GradScaler`` only for fp16).
:class:`ApexScaler` implements ``--apex`` when NVIDIA or Ascend apex is installed; the unrelated
PyPI package called ``apex`` is detected and refused.
"""
import contextlib
import importlib
from collections.abc import Iterable, Mapping
from types import ModuleType
from typing import Any

import torch
from torch import nn

from pose3d.utils.errors import UserError

AMP_DTYPES: dict[str, torch.dtype] = {"bf16": torch.bfloat16, "fp16": torch.float16}
APEX_MISSING = ("--apex {level}: NVIDIA/Ascend apex is not installed (the PyPI package named "
                "'apex' is unrelated); use --amp bf16|fp16 or install apex from NVIDIA/Ascend")


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

    def initialize(self, model: nn.Module,
                   optimizer: torch.optim.Optimizer) -> tuple[nn.Module, torch.optim.Optimizer]:
        """Both unchanged (``torch.amp`` needs no set-up; see :meth:`ApexScaler.initialize`)."""
        return model, optimizer

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
