"""One inference path for validation, test and the demo: flip test, decoding, back-projection.

The flip test follows the original code: the input is mirrored, the network's heatmaps (and depth
maps) are mirrored back with left/right channels swapped, and averaged with the plain output.
The original flipped only sample 0 of a size-1 batch; here the whole batch is flipped, which gives
the same numbers at any batch size.
"""
from __future__ import annotations

import numpy as np
import torch

from pose3d.datasets.heatmap import get_preds, get_preds_3d
from pose3d.datasets.transforms import get_affine_transform
from pose3d.skeleton import MPII16, ROOT_MPII


def _last(outputs) -> dict:
    """The last stack's dict, from a list of dicts or a tuple (hm, depth) of an ONNX session."""
    if isinstance(outputs, dict):
        return outputs
    if isinstance(outputs, (list, tuple)) and isinstance(outputs[-1], dict):
        return outputs[-1]
    raise TypeError(f"unexpected model output {type(outputs)}")


def merge_stacks(outputs: list[dict]) -> dict:
    """Heatmaps of the last stack plus the depth output wherever it lives (hourglass: last)."""
    out = dict(_last(outputs))
    if "depth" not in out:
        for o in outputs:
            if "depth" in o:
                out["depth"] = o["depth"]
    return out


@torch.inference_mode()
def predict(model, x: torch.Tensor, flip: bool = True,
            flip_index: list[int] = MPII16.flip_index) -> dict[str, torch.Tensor]:
    """Run the network with optional flip test.

    Args:
        model: callable (B, 3, H, W) -> list of dicts with 'hm' and optionally 'depth'.
        x: (B, 3, H, W) normalised input.
        flip: average with the mirrored input's output.

    Returns:
        {'hm': (B, K, h, w) float32, 'depth': (B, K, h, w) or (B, K) float32 if present}.
    """
    out = {k: v.float() for k, v in merge_stacks(model(x)).items()}
    if not flip:
        return out
    out_f = {k: v.float() for k, v in merge_stacks(model(x.flip(3))).items()}
    merged = {}
    for k, v in out.items():
        vf = out_f[k]
        if vf.dim() == 4:
            vf = vf.flip(3)
        merged[k] = (v + vf[:, flip_index]) / 2
    return merged


def decode_2d(hm: torch.Tensor, center: np.ndarray, scale: np.ndarray,
              rot: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Argmax joints mapped back to original-image pixels.

    Args:
        hm: (B, K, h, w) heatmaps.
        center: (B, 2) crop centres px; scale: (B, 2) or (B,) crop box (w, h) px.
        rot: (B,) crop rotation in degrees (0 for unaugmented crops).

    Returns:
        coords (B, K, 2) float64 image px, and conf (B, K).
    """
    coords, conf = get_preds(hm)
    coords = coords.cpu().numpy().astype(np.float64)
    b, _, h, w = hm.shape
    center, scale = np.asarray(center, np.float64), np.asarray(scale, np.float64)
    if scale.ndim == 1:
        scale = np.stack([scale, scale], 1)
    rot = np.zeros(b) if rot is None else np.asarray(rot, np.float64)
    out = np.empty_like(coords)
    for i in range(b):
        inv = get_affine_transform(center[i], scale[i], float(rot[i]), (w, h), inv=True)
        out[i] = coords[i] @ inv[:, :2].T + inv[:, 2]
    return out, conf.cpu().numpy()


def decode_3d(hm: torch.Tensor, depth: torch.Tensor) -> np.ndarray:
    """Root-relative 3D joints in crop-fraction units (as the original), (B, K, 3) float64."""
    return get_preds_3d(hm, depth, root=ROOT_MPII).cpu().numpy().astype(np.float64)
