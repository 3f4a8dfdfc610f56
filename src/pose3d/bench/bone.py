"""``bone`` section: forward + backward of the bone-length variance loss, loop vs vectorised.

The only place the original's loop form is measured: training always uses the vectorised
:func:`~pose3d.losses.bone_variance_loss`. Both forms get the same inputs (batch 32, 16 MPII
joints, half of the samples 2D) and their losses and gradients are compared.
"""
from __future__ import annotations

import torch

from pose3d.losses import bone_variance_loss, bone_variance_loss_loop
from pose3d.skeleton import MPII16

from .timing import time_call

FORMS = {"loop": bone_variance_loss_loop, "vectorised": bone_variance_loss}


class FwdBwd:
    """One call = forward and backward of ``fn``; keeps the last loss and gradient."""

    def __init__(self, fn, z0: torch.Tensor, vis: torch.Tensor, xy: torch.Tensor,
                 is_2d: torch.Tensor):
        self.fn, self.z0, self.vis, self.xy, self.is_2d = fn, z0, vis, xy, is_2d
        self.result: tuple[float, torch.Tensor] | None = None

    def __call__(self) -> None:
        z = self.z0.clone().requires_grad_(True)
        loss = self.fn(z, self.vis, self.xy, self.is_2d)
        loss.backward()
        self.result = (float(loss.detach()), z.grad.detach().clone())


def run_bone(device: torch.device, min_run_time: float, batch: int = 32, seed: int = 0) -> dict:
    """Time both forms.

    Returns:
        The section's JSON: per form the forward + backward time in ms, and the largest
        difference of loss and gradient between the forms.
    """
    gen = torch.Generator().manual_seed(seed)
    k = MPII16.num_joints
    z0 = (torch.randn(batch, k, generator=gen) * 0.1).to(device)
    vis = (torch.rand(batch, k, generator=gen) > 0.2).to(device)
    xy = torch.rand(batch, k, 2, generator=gen).to(device)
    is_2d = (torch.arange(batch) % 2 == 0).to(device)
    values: dict[str, tuple[float, torch.Tensor] | None] = {}
    out: dict = {"batch": batch, "joints": k, "variants": {}}
    for name, fn in FORMS.items():
        run = FwdBwd(fn, z0, vis, xy, is_2d)
        timing = time_call(run, device, min_run_time, label=f"bone/{name}")
        out["variants"][name] = {"function": f"pose3d.losses.{fn.__name__}",
                                 **timing.as_dict(1e3, "ms")}
        values[name] = run.result
    if all(v is not None for v in values.values()):
        (lv, lg), (vv, vg) = values["loop"], values["vectorised"]
        out["loss_abs_diff"] = abs(lv - vv)
        out["grad_max_abs_diff"] = float((lg - vg).abs().max())
    return out
