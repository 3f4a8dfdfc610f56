"""Network registry and the model output contract.

``FAMILIES`` (:mod:`.factory`) maps the family part of ``--arch`` (:mod:`.arch`) to its builder
(``MODELS``), the builder's arguments and the input-size rule; :func:`create_model` and
:func:`build_from_spec` (for a :class:`ModelSpec`, e.g. read from a checkpoint) build every
network through it:

* ``msra_{18,34,50,101,152}``: PoseResNet (:mod:`.pose_resnet`), the published checkpoints;
* ``hg`` / ``hg_<num_stacks>``: stacked hourglass with FC depth regression (:mod:`.hourglass`).

Every network maps a normalised BGR crop ``x`` (B, 3, H, W) to ``list[dict[str, Tensor]]``, one
dict per stack, keyed by head name:

* ``hm``: (B, K, H/4, W/4) heatmaps, in every dict;
* ``depth`` (3D models only, in the last dict): a (B, K, H/4, W/4) per-joint depth map for
  PoseResNet, a (B, K) vector of regressed depths for the hourglass.
"""
from .arch import ARCH_CHOICES, INPUT_MULTIPLE, MSRA_DEPTHS, parse_arch
from .spec import ModelSpec, heads_from_state_dict, spec_from_checkpoint

__all__ = ["ARCH_CHOICES", "FAMILIES", "INPUT_MULTIPLE", "MODELS", "MSRA_DEPTHS", "ModelSpec",
           "build_from_spec", "count_parameters", "create_model", "heads_from_state_dict",
           "parse_arch", "spec_from_checkpoint"]
_FACTORY = ("FAMILIES", "Family", "MODELS", "build_from_spec", "count_parameters", "create_model")


def __getattr__(name: str):
    # The factory imports torch and the networks; names and specs do not need them.
    if name in _FACTORY:
        from . import factory
        return getattr(factory, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
