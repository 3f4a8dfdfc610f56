"""Masked smooth-L1 depth regression loss.

The depth head is either a map (B, K, h, w) (pose-ResNet) read at each joint's ground-truth cell,
or a vector (B, K) (hourglass fully-connected regressor) used as it is. The read-out goes through
``reg_ind = y * w * K + x * K + j``, an index into the map permuted to (B, h, w, K) and flattened,
exactly as the original and as :func:`pose3d.datasets.heatmap.depth_index` writes it.
"""
import torch
import torch.nn.functional as F
from torch import nn

from .heatmap import as_float32


def gather_depth(depth: torch.Tensor, reg_ind: torch.Tensor) -> torch.Tensor:
    """Predicted depth of every joint at its ground-truth location.

    Args:
        depth: (B, K, h, w) depth maps or (B, K) regressed depths.
        reg_ind: (B, K) int flat indices ``y * w * K + x * K + j`` (ignored for a (B, K) input).

    Returns:
        (B, K) depth in crop-fraction units (relative depth divided by the crop side).
    """
    if depth.dim() == 2:
        return depth
    if depth.dim() != 4:
        raise ValueError(f"depth must be (B, K, h, w) or (B, K), got {tuple(depth.shape)}")
    b = depth.shape[0]
    flat = depth.permute(0, 2, 3, 1).reshape(b, -1)
    return flat.gather(1, reg_ind.reshape(b, -1).long())


class DepthLoss(nn.Module):
    """``sum_{b,j} smoothL1(m*pred - m*target) / (sum m + 1e-4)`` on the last stack's depth.

    ``m`` is ``reg_mask`` (1 for joints with depth supervision), so 2D-only samples contribute
    nothing to numerator or denominator.
    """

    def __init__(self, eps: float = 1e-4):
        super().__init__()
        self.eps = eps

    def forward(self, outputs: list[dict[str, torch.Tensor]], batch: dict) -> torch.Tensor:
        """Compute the loss.

        Args:
            outputs: per-stack dicts; the last one holds ``'depth'`` (B, K, h, w) or (B, K).
            batch: ``'reg_ind'`` (B, K) int64, ``'reg_mask'`` (B, K) uint8,
                ``'reg_target'`` (B, K, 1) float relative depth / crop side.

        Returns:
            Scalar loss (float32, or float64 for float64 inputs).
        """
        pred = as_float32(gather_depth(outputs[-1]["depth"], batch["reg_ind"]))
        mask = batch["reg_mask"].to(pred.dtype).reshape(pred.shape)
        target = batch["reg_target"].to(pred.dtype).reshape(pred.shape)
        loss = F.smooth_l1_loss(pred * mask, target * mask, reduction="sum", beta=1.0)
        return loss / (mask.sum() + self.eps)
