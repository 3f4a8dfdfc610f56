"""ONNX export of the pose networks and an ONNX Runtime session that behaves like the model.

Exported graph: one input ``input`` (B, 3, H, W) float32 normalised BGR with a dynamic batch, and
the outputs of the last stack, ``hm`` (B, K, H/4, W/4) and, for 3D networks, ``depth`` (PoseResNet
(B, K, H/4, W/4), hourglass (B, K)). Intermediate hourglass stacks only feed the training loss and
are left out.

:class:`OnnxModel` takes a (B, 3, H, W) torch tensor and returns ``[{'hm': ..., 'depth': ...}]``,
the network's own contract, so :func:`pose3d.inference.predict` (flip test included), the
trainers' validation and the demo run on it unchanged.

The TorchScript-based exporter (``dynamo=False``) is used: the torch.export-based default needs
the ``onnxscript`` package, which is not a dependency, and the legacy path exports these
convolutional networks exactly.
"""
from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from pose3d.models import ModelSpec, build_from_spec, spec_from_checkpoint
from pose3d.utils.checkpoint import load_checkpoint, load_model_weights, unwrap_model
from pose3d.utils.errors import UserError

log = logging.getLogger(__name__)

INPUT_NAME = "input"
OUTPUT_ORDER = ("hm", "depth")
DEFAULT_OPSET = 17

__all__ = ["OnnxModel", "export_onnx", "export_checkpoint", "load_checkpoint_model",
           "load_onnx_or_export", "onnx_cache_path"]


class _LastStack(nn.Module):
    """``model(x)`` -> tuple of the last stack's tensors in ``OUTPUT_ORDER`` (tracer-friendly)."""

    def __init__(self, model: nn.Module, names: Sequence[str]):
        super().__init__()
        self.model = model
        self.names = tuple(names)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        outputs = self.model(x)
        merged: dict[str, torch.Tensor] = {}
        for out in outputs:  # the hourglass carries 'depth' only in its last dict
            merged.update(out)
        return tuple(merged[name] for name in self.names)


def export_onnx(model: nn.Module, path: str | os.PathLike, input_hw: tuple[int, int],
                opset: int = DEFAULT_OPSET) -> Path:
    """Export ``model`` (in eval mode) to ``path`` with a dynamic batch dimension.

    Args:
        model: a pose network (DDP / compiled wrappers are looked through); its train/eval mode
            is restored afterwards.
        path: target ``.onnx`` file; written to a temporary name and renamed, so a reader never
            sees a half-written file.
        input_hw: (H, W) of the traced input; H and W stay fixed in the graph.
        opset: ONNX opset version.

    Returns:
        ``path`` as a Path.
    """
    path = Path(path)
    net = unwrap_model(model)
    was_training = net.training
    height, width = input_hw
    param = next(net.parameters(), None)
    dummy = torch.zeros(2, 3, height, width,
                        device=param.device if param is not None else "cpu")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        net.eval()
        with torch.no_grad():
            present = set().union(*(out.keys() for out in net(dummy)))
        names = [n for n in OUTPUT_ORDER if n in present]
        # The exporter restores the training flag of the module it is given on all children,
        # so the wrapper must itself be in eval mode.
        wrapper = _LastStack(net, names).eval()
        dynamic = {name: {0: "batch"} for name in (INPUT_NAME, *names)}
        path.parent.mkdir(parents=True, exist_ok=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # dynamo=False is deliberate
            torch.onnx.export(wrapper, (dummy,), str(tmp), dynamo=False, input_names=[INPUT_NAME],
                              output_names=names, dynamic_axes=dynamic, opset_version=opset,
                              do_constant_folding=True)
        import onnx  # only needed here; the runtime side works without it

        onnx.checker.check_model(str(tmp))  # by path: also valid for external-data files
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
        net.train(was_training)
    log.info("exported %s (outputs %s, input %dx%d, dynamic batch)", path, names, height, width)
    return path


def export_checkpoint(checkpoint_path: str | os.PathLike, out: str | os.PathLike,
                      arch: str | None = None, heads: Mapping[str, int] | None = None,
                      input_hw: tuple[int, int] | None = None,
                      opset: int = DEFAULT_OPSET) -> Path:
    """Build the network of a checkpoint, load its weights strictly and export it to ``out``.

    See :func:`pose3d.models.spec_from_checkpoint` for where arch, heads and input size come
    from.

    Raises:
        CheckpointError: unreadable checkpoint or weights that do not fit the network.
        UserError: unknown arch or an input size the network cannot take.
    """
    model, spec = load_checkpoint_model(checkpoint_path, arch, heads, input_hw)
    return export_onnx(model, out, spec.input_hw, opset=opset)


def load_checkpoint_model(checkpoint_path: str | os.PathLike, arch: str | None = None,
                          heads: Mapping[str, int] | None = None,
                          input_hw: tuple[int, int] | None = None) -> tuple[nn.Module, ModelSpec]:
    """The network of a checkpoint with its weights loaded strictly, in eval mode, and its spec.

    Raises:
        CheckpointError: unreadable checkpoint or weights that do not fit the network.
        UserError: unknown arch or an input size the network cannot take.
    """
    ckpt = load_checkpoint(checkpoint_path)
    spec = spec_from_checkpoint(ckpt, arch, heads, input_hw)
    model = build_from_spec(spec)
    load_model_weights(model, ckpt["state_dict"], spec.arch, source=checkpoint_path)
    return model.eval(), spec


class OnnxModel:
    """ONNX Runtime session with the calling contract of the pose networks.

    Args:
        path: ``.onnx`` file written by :func:`export_onnx`.
        providers: ONNX Runtime execution providers, default ``['CPUExecutionProvider']``.
        num_threads: intra-op threads; default ``torch.get_num_threads()`` so that one knob sets
            both backends.

    Calling ``model(x)`` with x (B, 3, H, W) (any device; moved to cpu float32 for the session)
    returns ``[{'hm': (B, K, h, w), 'depth': ...}]`` as float32 tensors on ``x``'s device.
    ``eval()``, ``train(False)`` and ``to()`` are accepted no-ops so code written for an
    ``nn.Module`` in eval mode runs unchanged.

    Raises:
        UserError: the file is missing or not a loadable ONNX model.
    """

    training = False

    def __init__(self, path: str | os.PathLike, providers: Sequence[str] | None = None,
                 num_threads: int | None = None):
        try:
            import onnxruntime as ort
        except ImportError:
            raise UserError("--backend onnxruntime: the onnxruntime package is not installed; "
                            "pip install onnxruntime, or use --backend pytorch") from None

        self.path = Path(path)
        if not self.path.is_file():
            raise UserError(f"{self.path}: ONNX model not found; export one with "
                            "scripts/export_onnx.py --load_model <checkpoint>")
        options = ort.SessionOptions()
        options.intra_op_num_threads = int(num_threads or torch.get_num_threads())
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.providers = list(providers or ["CPUExecutionProvider"])
        try:
            self.session = ort.InferenceSession(str(self.path), options,
                                                providers=self.providers)
        except Exception as err:  # onnxruntime raises its own exception types
            raise UserError(f"{self.path}: not a loadable ONNX model ({type(err).__name__}: "
                            f"{' '.join(str(err).split())[:160]}); export it again with "
                            "scripts/export_onnx.py") from None
        self.input_name = self.session.get_inputs()[0].name
        self.output_names = [o.name for o in self.session.get_outputs()]

    def __call__(self, x: torch.Tensor) -> list[dict[str, torch.Tensor]]:
        """(B, 3, H, W) -> ``[{name: tensor}]`` with the exported output names."""
        want = self.input_hw
        if x.dim() != 4 or (want is not None and tuple(x.shape[2:]) != want):
            raise UserError(f"{self.path}: exported for (B, 3, {want[0] if want else 'H'}, "
                            f"{want[1] if want else 'W'}) inputs, got {tuple(x.shape)}; export "
                            "again with --input_h/--input_w matching the data")
        arr = np.ascontiguousarray(x.detach().to("cpu", torch.float32).numpy())
        outs = self.session.run(self.output_names, {self.input_name: arr})
        return [{name: torch.from_numpy(o).to(x.device)
                 for name, o in zip(self.output_names, outs)}]

    @property
    def input_hw(self) -> tuple[int, int] | None:
        """(H, W) the graph was exported for, None when it is dynamic."""
        shape = self.session.get_inputs()[0].shape
        if len(shape) == 4 and all(isinstance(v, int) for v in shape[2:]):
            return int(shape[2]), int(shape[3])
        return None

    def eval(self) -> "OnnxModel":
        return self

    def train(self, mode: bool = True) -> "OnnxModel":
        if mode:
            raise UserError("an ONNX Runtime model cannot be trained; use the PyTorch backend")
        return self

    def to(self, *args, **kwargs) -> "OnnxModel":
        return self

    def __repr__(self) -> str:
        return f"OnnxModel({str(self.path)!r}, providers={self.providers})"


def onnx_cache_path(checkpoint_path: str | os.PathLike, arch: str, heads: Mapping[str, int],
                    input_hw: tuple[int, int], cache_dir: str | os.PathLike | None = None) -> Path:
    """``<cache_dir>/<checkpoint stem>.<arch>.<H>x<W>.<heads>.onnx``; cache_dir defaults to the
    checkpoint's folder."""
    ckpt = Path(checkpoint_path)
    tag = "-".join(f"{k}{int(v)}" for k, v in sorted(heads.items()))
    folder = Path(cache_dir) if cache_dir is not None else ckpt.parent
    return folder / f"{ckpt.stem}.{arch}.{input_hw[0]}x{input_hw[1]}.{tag}.onnx"


def load_onnx_or_export(checkpoint_path: str | os.PathLike, arch: str,
                        heads: Mapping[str, int], input_hw: tuple[int, int],
                        cache_dir: str | os.PathLike | None = None,
                        providers: Sequence[str] | None = None,
                        num_threads: int | None = None) -> OnnxModel:
    """An :class:`OnnxModel` for a checkpoint, exporting it first when the cache is missing or
    older than the checkpoint.

    Args:
        checkpoint_path: ``.pth`` file (``--load_model``).
        arch, heads, input_hw: the network as the caller built it (the checkpoint's own keys
            win where they disagree, see :func:`pose3d.models.spec_from_checkpoint`).
        cache_dir: where the ``.onnx`` goes; default next to the checkpoint.
        providers, num_threads: passed to :class:`OnnxModel`.

    Raises:
        CheckpointError: unreadable checkpoint or mismatching weights.
        UserError: the cache folder is not writable.
    """
    ckpt = Path(checkpoint_path)
    cache = onnx_cache_path(ckpt, arch, heads, input_hw, cache_dir)
    stale = (not cache.is_file()
             or (ckpt.is_file() and cache.stat().st_mtime < ckpt.stat().st_mtime))
    if stale:
        try:
            export_checkpoint(ckpt, cache, arch=arch, heads=heads, input_hw=input_hw)
        except PermissionError as err:
            raise UserError(f"{cache.parent}: cannot write the ONNX cache ({err.strerror}); "
                            "make the folder writable or pass another cache_dir") from None
    return OnnxModel(cache, providers=providers, num_threads=num_threads)


def providers_for(device) -> list[str]:
    """ONNX Runtime providers for a torch device: CUDA first when both sides have it."""
    import onnxruntime as ort

    providers = ["CPUExecutionProvider"]
    if getattr(device, "type", str(device)) == "cuda" \
            and "CUDAExecutionProvider" in ort.get_available_providers():
        providers.insert(0, "CUDAExecutionProvider")
    return providers
