"""Training losses and the composite the trainers call.

Contract: every term is an ``nn.Module`` with ``forward(outputs, batch) -> Tensor`` where
``outputs`` is the model's list of per-stack dicts and ``batch`` the collated sample dict
(``pose3d.datasets.base``). Terms are computed in float32 even under autocast.

``LOSSES`` maps a term name to its class and the weight flag that scales it (``None`` = 1).
:func:`build_loss` assembles the terms of a task into a :class:`CompositeLoss`, whose forward
returns ``(total, stats)``; the trainer logs whatever is in ``stats``.

Total: ``hm + weight_3d * depth + weight_var * var``.
"""
import torch
from torch import nn

from .bone_variance import BoneVarianceLoss, bone_variance_loss, bone_variance_loss_loop
from .depth import DepthLoss, gather_depth
from .heatmap import HeatmapLoss

__all__ = ["LOSSES", "TASK_TERMS", "CompositeLoss", "build_loss", "HeatmapLoss", "DepthLoss",
           "BoneVarianceLoss", "bone_variance_loss", "bone_variance_loss_loop", "gather_depth"]

LOSSES: dict[str, tuple[type[nn.Module], str | None]] = {
    "hm": (HeatmapLoss, None),
    "depth": (DepthLoss, "weight_3d"),
    "var": (BoneVarianceLoss, "weight_var"),
}
# Terms per --task value.
TASK_TERMS: dict[str, tuple[str, ...]] = {
    "human2d": ("hm",),
    "human3d": ("hm", "depth", "var"),
}


class CompositeLoss(nn.Module):
    """Weighted sum of loss terms plus detached per-term statistics.

    A term whose weight is 0 is still evaluated (without autograd) so that the logged columns are
    the same in every training stage; it adds nothing to the total.

    Args:
        terms: ``{name: (module, weight)}``, in logging order.
    """

    def __init__(self, terms: dict[str, tuple[nn.Module, float]]):
        super().__init__()
        self.terms = nn.ModuleDict({name: mod for name, (mod, _) in terms.items()})
        self.weights = {name: float(w) for name, (_, w) in terms.items()}

    def forward(self, outputs: list[dict[str, torch.Tensor]],
                batch: dict) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Evaluate all terms.

        Returns:
            ``total`` (scalar, float32) and ``stats`` with detached scalars ``'loss'`` and
            ``'<term>_loss'`` for every term.
        """
        total = None
        stats: dict[str, torch.Tensor] = {}
        for name, mod in self.terms.items():
            weight = self.weights[name]
            if weight == 0.0:
                with torch.no_grad():
                    value = mod(outputs, batch)
            else:
                value = mod(outputs, batch)
                total = weight * value if total is None else total + weight * value
            stats[f"{name}_loss"] = value.detach()
        if total is None:
            raise ValueError("every loss term has weight 0; nothing to train")
        stats["loss"] = total.detach()
        return total, {"loss": stats.pop("loss"), **stats}


def build_loss(task: str, weight_3d: float = 0.0, weight_var: float = 0.0) -> CompositeLoss:
    """Build the loss of a task.

    Args:
        task: ``'human2d'`` (heatmap MSE only) or ``'human3d'`` (+ depth and bone-variance terms).
        weight_3d: weight of the masked smooth-L1 depth loss (``--weight_3d``).
        weight_var: weight of the bone-length variance loss (``--weight_var``).

    Returns:
        A :class:`CompositeLoss`; its stats keys are ``loss``, ``hm_loss`` and, for human3d,
        ``depth_loss`` and ``var_loss``.
    """
    if task not in TASK_TERMS:
        raise ValueError(f"unknown task {task!r}; expected one of {sorted(TASK_TERMS)}")
    flags = {"weight_3d": weight_3d, "weight_var": weight_var}
    terms = {}
    for name in TASK_TERMS[task]:
        cls, flag = LOSSES[name]
        terms[name] = (cls(), 1.0 if flag is None else flags[flag])
    return CompositeLoss(terms)
