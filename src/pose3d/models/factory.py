"""The network factory: ``FAMILIES`` (one entry per ``--arch`` family) and the builders over it."""
import logging
from collections.abc import Callable
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from torch import nn

from ..utils.errors import UserError
from . import hourglass, pose_resnet
from .arch import INPUT_MULTIPLE, parse_arch
from .spec import ModelSpec

log = logging.getLogger(__name__)


def _msra_arguments(number: int | None, spec: ModelSpec, pretrained: bool) -> dict[str, Any]:
    return {"num_layers": number, "heads": spec.heads, "pretrained": pretrained}


def _hg_arguments(number: int | None, spec: ModelSpec, pretrained: bool) -> dict[str, Any]:
    # ``hg_<n>`` names the number of stacks; plain ``hg`` takes --num_stacks.
    return {"heads": spec.heads, "num_stacks": number or spec.num_stacks,
            "num_modules": spec.num_modules, "num_features": spec.num_features,
            "input_hw": spec.input_hw}


@dataclass(frozen=True)
class Family:
    """One network family of ``--arch``.

    Attributes:
        build: the family's builder.
        arguments: (number of the arch, spec, pretrained) -> the builder's keyword arguments.
        input_multiple: input sizes must be multiples of it (output stride x the deepest
            down-sampling).
        imagenet: whether ``pretrained`` means anything (an ImageNet trunk exists).
    """

    build: Callable[..., nn.Module]
    arguments: Callable[[int | None, ModelSpec, bool], dict[str, Any]]
    input_multiple: int
    imagenet: bool


FAMILIES = MappingProxyType({
    "msra": Family(pose_resnet.build, _msra_arguments, INPUT_MULTIPLE["msra"], imagenet=True),
    "hg": Family(hourglass.build, _hg_arguments, INPUT_MULTIPLE["hg"], imagenet=False),
})
MODELS: dict[str, Callable[..., nn.Module]] = {name: f.build for name, f in FAMILIES.items()}


def create_model(arch: str, heads: dict[str, int], num_stacks: int = 2, num_modules: int = 2,
                 num_features: int = 256, input_hw: tuple[int, int] = (256, 256),
                 pretrained: bool = False) -> nn.Module:
    """Build the network named by ``--arch`` through :data:`FAMILIES`.

    Args:
        arch: ``msra_{18,34,50,101,152}``, ``hg`` or ``hg_<num_stacks>``.
        heads: head name -> output channels, e.g. ``{'hm': 16, 'depth': 16}``.
        num_stacks: hourglass stacks (``hg`` only; ``hg_<n>`` overrides it).
        num_modules: residual modules per hourglass level (``hg`` only).
        num_features: hourglass feature width (``hg`` only).
        input_hw: (H, W) of the network input; sizes the hourglass depth regressor.
        pretrained: start a PoseResNet trunk from ImageNet weights (falls back to random
            init with a warning when they cannot be had); the hourglass has none.

    Raises:
        UserError: unknown ``--arch``, an input size the network cannot take, or bad heads.
    """
    family_name, number = parse_arch(arch)
    family = FAMILIES[family_name]
    height, width = input_hw
    multiple = family.input_multiple
    if height <= 0 or width <= 0 or height % multiple or width % multiple:
        raise UserError(f"--input_h {height} --input_w {width}: --arch {arch} needs an input "
                        f"size that is a positive multiple of {multiple}; choose e.g. 256 x 256")
    if "hm" not in heads:
        raise UserError(f"heads {heads} lack 'hm'; check --task")
    if pretrained and not family.imagenet:
        log.info("--arch %s has no ImageNet weights; it starts from random init", arch)
    spec = ModelSpec(arch, heads, (height, width), num_stacks, num_modules, num_features)
    try:
        return family.build(**family.arguments(number, spec, pretrained))
    except ValueError as err:
        raise UserError(f"--arch {arch}: {err}") from err


def build_from_spec(spec: ModelSpec, pretrained: bool = False) -> nn.Module:
    """:func:`create_model` for a :class:`ModelSpec` (e.g. from :func:`spec_from_checkpoint`).

    Raises:
        UserError: as :func:`create_model`.
    """
    return create_model(spec.arch, spec.heads, num_stacks=spec.num_stacks,
                        num_modules=spec.num_modules, num_features=spec.num_features,
                        input_hw=spec.input_hw, pretrained=pretrained)


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameter elements (shared parameters counted once)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)
