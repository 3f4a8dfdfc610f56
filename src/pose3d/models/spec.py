"""What a network is: :class:`ModelSpec`, and the one reader of it from a checkpoint.

A checkpoint written by pose3d names its network (``arch``, ``heads`` and the ``opt`` dict); a
published one holds weights only, so what it leaves open comes from the caller (flags) or, for
the heads, from the shapes of the head weights.
"""
from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from pose3d.skeleton import MPII16

log = logging.getLogger(__name__)

DEFAULT_HEADS = MappingProxyType({"hm": MPII16.num_joints, "depth": MPII16.num_joints})
# (heatmap key, depth key) of the head weights: PoseResNet, then the hourglass.
_HEAD_KEYS = (("hm.weight", "depth.weight"), ("tmpOut.0.weight", "reg.weight"))


@dataclass(frozen=True)
class ModelSpec:
    """Everything :func:`pose3d.models.build_from_spec` needs to build a network.

    Attributes:
        arch: ``--arch`` value (``msra_{18,...,152}``, ``hg`` or ``hg_<num_stacks>``).
        heads: head name -> output channels, e.g. ``{'hm': 16, 'depth': 16}``.
        input_hw: (H, W) of the network input.
        num_stacks, num_modules, num_features: hourglass sizes (ignored by PoseResNet).
    """

    arch: str = "msra_50"
    heads: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_HEADS))
    input_hw: tuple[int, int] = (256, 256)
    num_stacks: int = 2
    num_modules: int = 2
    num_features: int = 256

    @classmethod
    def from_opt(cls, opt: Any) -> "ModelSpec":
        """The network the parsed options of ``main.py`` ask for."""
        return cls(arch=opt.arch, heads=dict(opt.heads), input_hw=(opt.input_h, opt.input_w),
                   num_stacks=opt.num_stacks, num_modules=opt.num_modules,
                   num_features=opt.num_features)


def heads_from_state_dict(state_dict: Mapping[str, Any]) -> dict[str, int] | None:
    """Head sizes read off the head weights (PoseResNet ``hm``/``depth``, hourglass
    ``tmpOut``/``reg``); None when neither layout is there."""
    for hm_key, depth_key in _HEAD_KEYS:
        if hm_key in state_dict:
            heads = {"hm": int(state_dict[hm_key].shape[0])}
            if depth_key in state_dict:
                heads["depth"] = int(state_dict[depth_key].shape[0])
            return heads
    return None


def spec_from_checkpoint(ckpt: Mapping[str, Any], arch: str | None = None,
                         heads: Mapping[str, int] | None = None,
                         input_hw: tuple[int, int] | None = None,
                         defaults: ModelSpec | None = None) -> ModelSpec:
    """The network of a loaded checkpoint.

    ``arch`` and ``heads`` come from the checkpoint's ``arch``/``heads``/``opt`` keys when present
    (the weights fix them; a different request is logged and ignored), else from the request,
    else from ``defaults``. The input size is ``input_hw`` when given, else ``opt['input_h'/
    'input_w']``, else the default; hourglass sizes come from ``opt``, else the defaults.

    Args:
        ckpt: :func:`pose3d.utils.checkpoint.load_checkpoint` output.
        arch, heads: what the caller asks for (None: no request).
        input_hw: (H, W) to use whatever the checkpoint says (a PoseResNet runs at any size).
        defaults: values for what neither the checkpoint nor the request gives; None means
            :class:`ModelSpec` defaults with the heads read off the head weights.

    Returns:
        A :class:`ModelSpec` with plain ``str``/``int`` values.
    """
    saved = ckpt.get("opt") if isinstance(ckpt.get("opt"), Mapping) else {}
    base = defaults or ModelSpec(heads=heads_from_state_dict(ckpt["state_dict"])
                                 or dict(DEFAULT_HEADS))
    ck_arch = ckpt.get("arch") or saved.get("arch")
    ck_heads = ckpt.get("heads") or saved.get("heads")
    if ck_arch and arch and ck_arch != arch:
        log.warning("--arch %s ignored: the checkpoint says it holds %s", arch, ck_arch)
    if ck_heads and heads and dict(ck_heads) != dict(heads):
        log.warning("checkpoint heads %s differ from %s; using the checkpoint's",
                    dict(ck_heads), dict(heads))
    height, width = input_hw or (saved.get("input_h") or base.input_hw[0],
                                 saved.get("input_w") or base.input_hw[1])
    return ModelSpec(
        arch=str(ck_arch or arch or base.arch),
        heads={str(k): int(v) for k, v in dict(ck_heads or heads or base.heads).items()},
        input_hw=(int(height), int(width)),
        num_stacks=int(saved.get("num_stacks") or base.num_stacks),
        num_modules=int(saved.get("num_modules") or base.num_modules),
        num_features=int(saved.get("num_features") or base.num_features))
