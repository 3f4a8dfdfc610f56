"""Building blocks shared by the pose networks.

``Residual`` is the pre-activation bottleneck of the stacked hourglass (Newell et al., ECCV 2016)
as written in the ``hg3d`` branch of xingyizhou/pytorch-pose-hg-3d. Its
attribute names (``bn, conv1, bn1, conv2, bn2, conv3, conv4``) are the state-dict names of that
code, so they must not change.
"""

import torch
from torch import nn


class Residual(nn.Module):
    """Pre-activation bottleneck: BN-ReLU-1x1, BN-ReLU-3x3, BN-ReLU-1x1, plus a skip.

    All convolutions carry a bias, as in the original. The skip is the identity when
    ``in_channels == out_channels`` and a 1x1 convolution named ``conv4`` otherwise.

    Args:
        in_channels: channels C_in of the input.
        out_channels: channels C_out of the output; the bottleneck has ``C_out // 2``.

    Shapes:
        x: (B, C_in, h, w) -> (B, C_out, h, w).
    """

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        mid = out_channels // 2
        self.in_channels, self.out_channels = in_channels, out_channels
        self.bn = nn.BatchNorm2d(in_channels)
        self.conv1 = nn.Conv2d(in_channels, mid, kernel_size=1)
        self.bn1 = nn.BatchNorm2d(mid)
        self.conv2 = nn.Conv2d(mid, mid, kernel_size=3, padding=1)
        self.bn2 = nn.BatchNorm2d(mid)
        self.conv3 = nn.Conv2d(mid, out_channels, kernel_size=1)
        self.relu = nn.ReLU(inplace=True)
        # Only present when the width changes: checkpoints of r4 have no conv4, r1 and r5 do.
        self.conv4 = (nn.Conv2d(in_channels, out_channels, kernel_size=1)
                      if in_channels != out_channels else None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv1(self.relu(self.bn(x)))
        out = self.conv2(self.relu(self.bn1(out)))
        out = self.conv3(self.relu(self.bn2(out)))
        skip = x if self.conv4 is None else self.conv4(x)
        return out + skip

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.out_channels}"


def residual_stack(channels: int, num_blocks: int) -> nn.Sequential:
    """``num_blocks`` width-preserving :class:`Residual` blocks in a row.

    A ``Sequential`` gives the same state-dict names (``<name>.<j>.*``) as the original's
    ``ModuleList`` that was iterated by hand.

    Shapes:
        (B, C, h, w) -> (B, C, h, w).
    """
    return nn.Sequential(*[Residual(channels, channels) for _ in range(num_blocks)])
