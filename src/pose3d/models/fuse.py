"""Inference-time folding of BatchNorm into the convolution that feeds it.

In eval mode a BatchNorm is a per-channel affine map, so ``bn(conv(x))`` equals one convolution
with rescaled weights and a bias. Folding removes a full pass over every activation map: the
ResNet trunk of PoseResNet has one BN per convolution and the deconvolution stack one BN per
transposed convolution.

Pairs are found on the ``torch.fx`` graph of the network (a BN whose only input is the output of
a convolution that nothing else reads, each module called once), so any network that traces is
handled without knowing its attribute names; the arithmetic is
``torch.nn.utils.fusion.fuse_conv_bn_eval``. A network that does not trace falls back to
convolution/BN neighbours inside plain ``nn.Sequential`` containers.

The result is a separate eval-mode copy for inference only: its state dict lacks the folded BN
entries, so it is never saved as a checkpoint nor trained.
"""
from __future__ import annotations

import copy
import logging
from collections import Counter

import torch
from torch import fx, nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.nn.modules.conv import _ConvNd, _ConvTransposeNd
from torch.nn.utils.fusion import fuse_conv_bn_eval

log = logging.getLogger(__name__)

__all__ = ["find_conv_bn_pairs", "fuse_for_inference", "to_channels_last"]


def _foldable_bn(bn: nn.Module) -> bool:
    """An eval-mode BN is an affine map only when it normalises with running statistics."""
    return (isinstance(bn, _BatchNorm) and bn.track_running_stats
            and bn.running_mean is not None and bn.running_var is not None)


def _pairs_from_graph(model: nn.Module, graph: fx.Graph) -> list[tuple[str, str]]:
    modules = dict(model.named_modules())
    calls = Counter(node.target for node in graph.nodes if node.op == "call_module")
    pairs = []
    for node in graph.nodes:
        if node.op != "call_module" or not _foldable_bn(modules.get(node.target)):
            continue
        src = node.args[0] if node.args else None
        if not (isinstance(src, fx.Node) and src.op == "call_module"
                and isinstance(modules.get(src.target), _ConvNd)):
            continue
        # A conv whose raw output is also read elsewhere, or a module reused at several call
        # sites, cannot be rewritten in place.
        if len(src.users) != 1 or calls[src.target] != 1 or calls[node.target] != 1:
            continue
        pairs.append((str(src.target), str(node.target)))
    return pairs


def _pairs_in_sequentials(model: nn.Module) -> list[tuple[str, str]]:
    pairs = []
    for name, module in model.named_modules():
        if type(module) is not nn.Sequential:  # a subclass may reorder its children
            continue
        children = list(module.named_children())
        for (cname, conv), (bname, bn) in zip(children, children[1:]):
            if isinstance(conv, _ConvNd) and _foldable_bn(bn):
                prefix = f"{name}." if name else ""
                pairs.append((prefix + cname, prefix + bname))
    return pairs


def find_conv_bn_pairs(model: nn.Module) -> list[tuple[str, str]]:
    """Qualified names ``(conv, bn)`` of every convolution directly followed by a BatchNorm.

    Args:
        model: any network; traced with ``torch.fx.symbolic_trace`` when possible.

    Returns:
        Pairs in execution order; empty when nothing can be folded.
    """
    try:
        graph = fx.symbolic_trace(model).graph
    except Exception as err:  # noqa: BLE001 - any tracing failure selects the fallback
        log.info("%s does not trace with torch.fx (%s: %s); folding only conv/BN neighbours in "
                 "nn.Sequential", type(model).__name__, type(err).__name__, err)
        return _pairs_in_sequentials(model)
    return _pairs_from_graph(model, graph)


def fuse_for_inference(model: nn.Module, channels_last: bool = False) -> nn.Module:
    """An eval-mode copy of ``model`` with every foldable BatchNorm merged into its convolution.

    Args:
        model: the network (DDP and ``torch.compile`` wrappers are looked through); it is not
            modified.
        channels_last: also convert the copy's 4-D weights to ``torch.channels_last``.

    Returns:
        The folded copy, in eval mode with ``requires_grad`` off; folded BNs are ``nn.Identity``.
        Outputs equal the eval-mode outputs of ``model`` up to float rounding. Call signature
        and output structure are unchanged.
    """
    while True:  # the plain module inside DDP / DataParallel / torch.compile
        inner = getattr(model, "module", None) or getattr(model, "_orig_mod", None)
        if not isinstance(inner, nn.Module):
            break
        model = inner
    fused = copy.deepcopy(model).eval()
    pairs = find_conv_bn_pairs(fused)
    for conv_name, bn_name in pairs:
        conv = fused.get_submodule(conv_name)
        bn = fused.get_submodule(bn_name)
        folded = fuse_conv_bn_eval(conv, bn, transpose=isinstance(conv, _ConvTransposeNd))
        fused.set_submodule(conv_name, folded)
        fused.set_submodule(bn_name, nn.Identity())
    log.debug("folded %d BatchNorm layers into convolutions", len(pairs))
    fused.requires_grad_(False)
    if channels_last:
        fused = to_channels_last(fused)
    return fused


def to_channels_last(model: nn.Module) -> nn.Module:
    """Convert ``model``'s 4-D parameters and buffers to ``torch.channels_last`` in place.

    Convolutions then produce NHWC activations whatever the input layout, which the CPU (oneDNN)
    and cuDNN kernels run faster; values are unchanged.
    """
    return model.to(memory_format=torch.channels_last)
