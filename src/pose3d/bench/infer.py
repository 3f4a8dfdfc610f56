"""``infer`` section: latency and throughput of the demo's prediction path.

Each variant is built by ``pose3d.demo.load_predictor`` from the parsed options, as ``demo.py``
builds it: a checkpoint of the benchmark's network is written first (random weights; speed does
not depend on them), and for ``--backend onnxruntime`` exported as
``scripts/export_onnx.py`` does. A timed call is one :class:`~pose3d.demo.Predictor` call:
crop and normalise the pictures, flip test (two forward passes), decode 2D pixels and 3D mm.
"""
from __future__ import annotations

import gc
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from pose3d.demo import BATCH_SIZE, load_predictor, make_crop
from pose3d.train.runner import build_model
from pose3d.utils import device as dev
from pose3d.utils.checkpoint import save_checkpoint

from .timing import error_text, time_call
from .variants import user_opt

#: Size of the benchmark's pictures (H, W): a VGA frame, cropped to the network input.
PICTURE_HW = (480, 640)


def _pictures(n: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (*PICTURE_HW, 3), dtype=np.uint8) for _ in range(n)]


def _write_models(base: list[str], folder: Path, onnx: bool) -> tuple[Path, Path | None]:
    """A checkpoint of the base options' network and, when asked, its ONNX export."""
    opt = user_opt(base, [])
    torch.manual_seed(0)
    model = build_model(opt, pretrained=False)
    ckpt = save_checkpoint(folder / "model.pth", epoch=0, model=model, opt=opt)
    if not onnx:
        return ckpt, None
    from pose3d.onnx_backend import export_checkpoint

    return ckpt, export_checkpoint(ckpt, folder / "model.onnx", arch=opt.arch, heads=opt.heads,
                                   input_hw=(opt.input_h, opt.input_w))


def _max_diff(poses, reference) -> dict[str, float]:
    return {"joints_2d_px": float(max(np.abs(p.joints_2d - r.joints_2d).max()
                                      for p, r in zip(poses, reference))),
            "joints_3d_mm": float(max(np.abs(p.joints_3d_mm - r.joints_3d_mm).max()
                                      for p, r in zip(poses, reference)))}


def run_infer(base: list[str], variants: dict[str, list[str]], device: torch.device,
              min_run_time: float, batch: int | None = None, seed: int = 0) -> dict:
    """Time the demo's predictor at batch 1 (latency) and ``batch`` pictures (throughput).

    Args:
        base: demo.py flags every variant shares (arch, input size, device...).
        variants: ``{name: extra flags}``, baseline first with none.
        device: where the model runs.
        min_run_time: seconds of timed calls per figure and variant.
        batch: pictures per throughput call; default the demo's batch.

    Returns:
        The section's JSON: per variant its flags, batch-1 latency (ms), throughput (img/s),
        and the largest difference of its poses from the baseline's.
    """
    batch = batch or BATCH_SIZE
    pictures = _pictures(batch, seed)
    results: dict[str, dict] = {}
    reference = None
    with tempfile.TemporaryDirectory(prefix="pose3d_bench_infer_") as tmp:
        try:
            ckpt, onnx_path = _write_models(base, Path(tmp), "onnxruntime" in variants)
        except Exception as err:  # noqa: BLE001 - e.g. ONNX export failed
            ckpt, onnx_path = Path(tmp) / "model.pth", None
            results["export"] = {"error": error_text(err)}
        for name, flags in variants.items():
            entry: dict = {"flags": flags}
            results[name] = entry
            model_file = onnx_path if "onnxruntime" in flags else ckpt
            if model_file is None:
                entry["error"] = "not measured: the ONNX export failed (see 'export')"
                continue
            try:
                opt = user_opt([*base, "--load_model", str(model_file)], flags)
                predictor = load_predictor(opt)
                input_wh = predictor.input_wh
                crops = [make_crop(p.shape[:2], None, input_wh) for p in pictures]
                start = time.perf_counter()
                poses = predictor(pictures[:1], crops[:1])
                # The user's first picture: loading done, compilation (--compile) included.
                entry["first_picture_s"] = time.perf_counter() - start
            except Exception as err:  # noqa: BLE001 - reported, the other variants go on
                entry["error"] = error_text(err)
                continue
            if reference is None:
                reference = poses
            entry["max_abs_diff_vs_baseline"] = _max_diff(poses, reference)
            lat = time_call(lambda p=predictor, c=crops: p(pictures[:1], c[:1]), device,
                            min_run_time, label=f"infer_b1/{name}")
            thr = time_call(lambda p=predictor, c=crops: p(pictures, c), device, min_run_time,
                            label=f"infer_b{batch}/{name}")
            entry["latency_b1"] = lat.as_dict(1e3, "ms")
            entry[f"batch{batch}"] = thr.as_dict()
            if thr.error is None:
                entry["img_per_s"] = batch / thr.median_s
                entry["img_per_s_iqr"] = batch * thr.iqr_s / thr.median_s ** 2
            entry["backend"] = getattr(predictor.model, "providers", None) or "pytorch"
            del predictor
            gc.collect()
            dev.empty_cache(device)
    return {"batch": batch, "picture_hw": list(PICTURE_HW), "flip_test": True,
            "path": "pose3d.demo.Predictor: crop + flip test + 2D/3D decoding", "variants": results}
