"""Stacked hourglass with a fully-connected depth regressor: the network of the paper.

Zhou et al., "Towards 3D Human Pose Estimation in the Wild: a Weakly-supervised Approach"
(ICCV 2017), as implemented in the ``hg3d`` branch of xingyizhou/pytorch-pose-hg-3d
(``HourglassNet3D``). Module names follow that code, so its state-dict layout
is kept: ``conv1_``, ``bn1``, ``r1``, ``r4``, ``r5``, ``hourglass.{s}`` (recursive: ``up1_``,
``low1_``, ``low2`` / innermost ``low2_``, ``low3_``), ``Residual.{k}``, ``lin_.{s}.{0,1}``,
``tmpOut.{s}``, ``ll_.{s}``, ``tmpOut_.{s}``, ``reg_.{k}``, ``reg``.

Shapes (H, W multiples of 64; h = H/4, w = W/4; F = num_features; K = joints):

* stem: (B, 3, H, W) -> (B, F, h, w);
* per stack: hourglass -> residuals -> ``lin_`` -> ``tmpOut`` heatmaps (B, K, h, w); the features
  are merged back, ``x + ll_(lin) + tmpOut_(heatmaps)``, after every stack (as in hg3d);
* depth: 4 x [``num_reg_modules`` residuals -> max-pool 2] -> (B, F, h/16, w/16) -> flatten ->
  ``reg`` Linear(F * H/64 * W/64 -> K) = (B, K) root-relative depths.

``forward`` returns one dict per stack, ``[{'hm'}, ..., {'hm', 'depth'}]``. Defaults (2 stacks,
2 modules, 256 features, 16 joints, 256x256 input) give 14,429,104 parameters.

Without a ``depth`` head the network is the 2D hourglass of the ``2D`` branch: no regression
branch and no merge after the last stack (its ``ll_``/``tmpOut_`` would get no gradient).
The weights start from PyTorch's default initialisation, as the original did.
"""

import torch
import torch.nn.functional as F
from torch import nn

from .arch import HG_REG_STRIDE
from .layers import Residual, residual_stack

#: Recursion depth of each hourglass: four halvings, 64 -> 4 for a 256 input.
HOURGLASS_DEPTH = 4
#: Down-sampling from input to the flattened regression features: stem 4 x, regression 16 x.
REG_STRIDE = HG_REG_STRIDE


class Hourglass(nn.Module):
    """One hourglass of recursion depth ``depth``.

    ``up1_`` keeps the resolution; the low branch max-pools, runs ``low1_``, the inner hourglass
    ``low2`` (or ``low2_`` residuals at depth 1) and ``low3_``, then upsamples (nearest) x2.

    Shapes:
        x: (B, F, h, w) -> (B, F, h, w), with h and w divisible by 2**depth.
    """

    def __init__(self, depth: int, num_modules: int, num_features: int):
        super().__init__()
        self.depth = depth
        self.up1_ = residual_stack(num_features, num_modules)
        self.pool = nn.MaxPool2d(kernel_size=2, stride=2)
        self.low1_ = residual_stack(num_features, num_modules)
        if depth > 1:
            self.low2 = Hourglass(depth - 1, num_modules, num_features)
        else:
            self.low2_ = residual_stack(num_features, num_modules)
        self.low3_ = residual_stack(num_features, num_modules)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        low = self.low1_(self.pool(x))
        # ``depth`` is fixed at construction, so this branch is static under torch.compile.
        low = self.low2(low) if self.depth > 1 else self.low2_(low)
        low = self.low3_(low)
        return self.up1_(x) + F.interpolate(low, scale_factor=2.0, mode="nearest")


class HourglassNet3D(nn.Module):
    """Stacked hourglass heatmaps plus, when ``with_depth``, the FC depth regressor.

    Args:
        num_joints: K, heatmap channels of every stack.
        num_stacks: number of hourglasses.
        num_modules: residual blocks per hourglass level and after each hourglass.
        num_features: F, feature width of the hourglasses.
        num_reg_modules: residual blocks before each of the four regression max-pools.
        num_depth: outputs of the depth regressor (``None``: no regression branch, 2D network).
        input_hw: (H, W) of the input; sets the input width of ``reg``.

    Shapes:
        x: (B, 3, H, W) -> ``[{'hm': (B, K, H/4, W/4)}] * (S - 1) +
        [{'hm': (B, K, H/4, W/4), 'depth': (B, num_depth)}]``.
    """

    def __init__(self, num_joints: int, num_stacks: int = 2, num_modules: int = 2,
                 num_features: int = 256, num_reg_modules: int = 2, num_depth: int | None = None,
                 input_hw: tuple[int, int] = (256, 256)):
        super().__init__()
        height, width = input_hw
        if height % REG_STRIDE or width % REG_STRIDE:
            raise ValueError(f"input size {height}x{width} must be a multiple of {REG_STRIDE}")
        if min(num_joints, num_stacks, num_modules, num_features, num_reg_modules) < 1:
            raise ValueError("joints, stacks, modules, features and reg modules must be >= 1")
        self.num_stacks, self.num_modules = num_stacks, num_modules
        self.num_reg_modules = num_reg_modules
        self.with_depth = num_depth is not None
        # The 2D network does not merge after its last stack; hg3d merges after every one.
        num_merges = num_stacks if self.with_depth else num_stacks - 1

        self.conv1_ = nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.r1 = Residual(64, 128)
        self.maxpool = nn.MaxPool2d(kernel_size=2, stride=2)
        self.r4 = Residual(128, 128)
        self.r5 = Residual(128, num_features)

        self.hourglass = nn.ModuleList(
            [Hourglass(HOURGLASS_DEPTH, num_modules, num_features) for _ in range(num_stacks)])
        # Flat list indexed stack * num_modules + j, as in the original checkpoints.
        self.Residual = nn.ModuleList(
            [Residual(num_features, num_features) for _ in range(num_stacks * num_modules)])
        self.lin_ = nn.ModuleList([
            nn.Sequential(nn.Conv2d(num_features, num_features, kernel_size=1),
                          nn.BatchNorm2d(num_features), nn.ReLU(inplace=True))
            for _ in range(num_stacks)])
        self.tmpOut = nn.ModuleList(
            [nn.Conv2d(num_features, num_joints, kernel_size=1) for _ in range(num_stacks)])
        self.ll_ = nn.ModuleList(
            [nn.Conv2d(num_features, num_features, kernel_size=1) for _ in range(num_merges)])
        self.tmpOut_ = nn.ModuleList(
            [nn.Conv2d(num_joints, num_features, kernel_size=1) for _ in range(num_merges)])

        if num_depth is not None:
            self.reg_ = nn.ModuleList(
                [Residual(num_features, num_features) for _ in range(4 * num_reg_modules)])
            reg_in = num_features * (height // REG_STRIDE) * (width // REG_STRIDE)
            self.reg = nn.Linear(reg_in, num_depth)

    def forward_stem(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) -> (B, F, H/4, W/4)."""
        x = self.r1(self.relu(self.bn1(self.conv1_(x))))
        return self.r5(self.r4(self.maxpool(x)))

    def forward(self, x: torch.Tensor) -> list[dict[str, torch.Tensor]]:
        """(B, 3, H, W) -> one dict per stack (see the class docstring)."""
        x = self.forward_stem(x)
        outputs: list[dict[str, torch.Tensor]] = []
        for i in range(self.num_stacks):
            y = self.hourglass[i](x)
            for j in range(self.num_modules):
                y = self.Residual[i * self.num_modules + j](y)
            y = self.lin_[i](y)
            heatmaps = self.tmpOut[i](y)
            outputs.append({"hm": heatmaps})
            if i < len(self.ll_):
                x = x + self.ll_[i](y) + self.tmpOut_[i](heatmaps)
        if self.with_depth:
            for k, block in enumerate(self.reg_):
                x = block(x)
                if (k + 1) % self.num_reg_modules == 0:
                    x = self.maxpool(x)
            # flatten (not view): also right for channels_last tensors.
            outputs[-1]["depth"] = self.reg(torch.flatten(x, 1))
        return outputs


def build(heads: dict[str, int], num_stacks: int = 2, num_modules: int = 2,
          num_features: int = 256, input_hw: tuple[int, int] = (256, 256)) -> HourglassNet3D:
    """Hourglass network for ``heads``: ``{'hm': K}`` (2D) or ``{'hm': K, 'depth': K}`` (3D).

    Args:
        heads: must contain ``hm`` and may contain ``depth``; nothing else.
        num_stacks, num_modules, num_features: as :class:`HourglassNet3D`.
        input_hw: (H, W) of the network input, multiples of 64.
    """
    unknown = sorted(set(heads) - {"hm", "depth"})
    if "hm" not in heads or unknown:
        raise ValueError(f"the hourglass supports the heads 'hm' and 'depth', got {sorted(heads)}")
    return HourglassNet3D(heads["hm"], num_stacks=num_stacks, num_modules=num_modules,
                          num_features=num_features, num_depth=heads.get("depth"),
                          input_hw=tuple(input_hw))


def convert_legacy_state_dict(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Map a state dict of the hg3d layout onto this module's names.

    The names are unchanged, so only a ``module.`` prefix (DataParallel/DDP) is stripped. The
    hg3d branch itself saved whole pickled modules of torch 0.1.12, which cannot be unpickled
    by a current PyTorch; their ``state_dict()`` (taken with that old version) fits as is.
    """
    return {k.removeprefix("module."): v for k, v in state_dict.items()}
