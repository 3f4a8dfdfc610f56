"""Heatmap regression loss.

Plain mean-squared error between every stack's predicted heatmaps and the Gaussian targets, summed
over stacks. No target weighting, no 0.5 factor, no visibility mask: a missing joint has an
all-zero target map and is pushed towards zero, as in the original.
"""
import torch
import torch.nn.functional as F
from torch import nn


def as_float32(x: torch.Tensor) -> torch.Tensor:
    """Promote half/bfloat16 (autocast outputs) and integer tensors to float32; float64 is kept."""
    return x.to(torch.promote_types(x.dtype, torch.float32)) if x.is_floating_point() \
        else x.to(torch.float32)


class HeatmapLoss(nn.Module):
    """Sum over stacks of ``MSE(outputs[s]['hm'], batch['target'])`` (mean over all elements)."""

    def forward(self, outputs: list[dict[str, torch.Tensor]],
                batch: dict) -> torch.Tensor:
        """Compute the loss.

        Args:
            outputs: one dict per stack, each with ``'hm'`` (B, K, h, w).
            batch: needs ``'target'`` (B, K, h, w) Gaussian heatmaps.

        Returns:
            Scalar float32 (or float64 for float64 inputs) loss.
        """
        target = as_float32(batch["target"])
        loss = target.new_zeros(())
        for out in outputs:
            loss = loss + F.mse_loss(as_float32(out["hm"]), target)
        return loss
