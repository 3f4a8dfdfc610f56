"""Speed and memory of pose3d: training step, inference paths, data pipeline and bone loss.

    python scripts/benchmark.py --arch msra_50 --input 256 --batch 8 --threads 2 --json b.json
    python scripts/benchmark.py --device cuda --amp bf16 --compile default --channels_last
    python scripts/benchmark.py --arch msra_18 --input 64 --batch 2 --quick --json /tmp/b.json

Every figure is the median of repeated runs after warm-up, next to a BASELINE measured in the
same process: eager float32, NCHW, no torch.compile, no conv-BN folding, full-resolution JPEG
decode and the loop form of the bone-length loss. The variants of one section are timed in turn
(round robin), one run of each per round, so a load change on a shared machine hits all of them
alike and the ratios stay meaningful even when absolute numbers drift.

Sections (``--sections``):

* ``train``: images/s of a full step (forward, losses hm + depth + bone variance with
  weight_var > 0 on a mixed 2D/3D batch, backward, Adam step) and peak memory;
* ``infer``: batch-1 latency and batch-``--infer_batch`` throughput of ``predict(..., flip=True)``
  for eager, channels_last, conv-BN folded, folded + channels_last, ONNX Runtime (CPU),
  ``--amp`` and ``torch.compile`` (with ``--compile``, or by default on CUDA);
* ``data``: samples/s of one worker iterating the synthetic MPII and H36M train sets (decode,
  crop, augmentation, targets) with ``reduced_decode`` off (baseline) and on;
* ``bone``: forward + backward of the bone-length variance loss, loop vs vectorised, batch 32.

``--channels_last`` adds channels_last to the ``--amp`` and ``--compile`` variants (it is always
measured on its own as well). Peak memory on CUDA comes from ``max_memory_allocated``; on CPU from
the resident set size sampled every millisecond (see ``memory_method`` in the JSON).
"""
from __future__ import annotations

import argparse
import contextlib
import copy
import ctypes
import gc
import json
import logging
import os
import platform
import resource
import statistics
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch.utils.data import default_collate  # noqa: E402

from pose3d.datasets.heatmap import depth_index, draw_gaussian_targets  # noqa: E402
from pose3d.inference import predict  # noqa: E402
from pose3d.losses import (bone_variance_loss, bone_variance_loss_loop,  # noqa: E402
                           build_loss)
from pose3d.losses import bone_variance as bone_module  # noqa: E402
from pose3d.models import create_model  # noqa: E402
from pose3d.models.fuse import fuse_for_inference, to_channels_last  # noqa: E402
from pose3d.skeleton import MPII16  # noqa: E402
from pose3d.utils import device as dev  # noqa: E402
from pose3d.utils.errors import UserError  # noqa: E402

SECTIONS = ("train", "infer", "data", "bone")
#: (writer name in pose3d.synthetic.WRITERS, dataset name in pose3d.datasets.DATASETS)
DATA_SETS = (("mpii", "mpii"), ("h36m", "H36M"))
#: Summary row -> (unit, higher is better, target on best / baseline, target text).
TARGETS = {
    "train_throughput": ("img/s", True, 1.3, ">= 1.3x"),
    "train_peak_memory": ("MiB", False, None, "-"),
    "infer_latency_b1": ("ms", False, 0.6, "<= 0.6x"),
    "infer_throughput": ("img/s", True, 1.3, ">= 1.3x"),
    "data_mpii": ("samples/s", True, 2.0, ">= 2x"),
    "data_h36m": ("samples/s", True, 2.0, ">= 2x"),
    "bone_loss": ("ms", False, 1 / 50, "<= 0.02x (50x faster)"),
}
MIB = 2.0 ** 20

log = logging.getLogger("benchmark")


# ---------------------------------------------------------------------------------- options

def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--arch", default="msra_50", help="msra_{18,34,50,101,152} or hg[_<stacks>]")
    p.add_argument("--input", type=int, default=256, help="square input size in px")
    p.add_argument("--batch", type=int, default=8, help="training batch size")
    p.add_argument("--infer_batch", type=int, default=None,
                   help="batch of the inference throughput figure (default 32, --quick 4)")
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto")
    p.add_argument("--threads", type=int, default=None,
                   help="intra-op CPU threads for torch and ONNX Runtime (default min(4, cores))")
    p.add_argument("--amp", default="off", choices=("off", "bf16", "fp16"),
                   help="add a mixed-precision variant to train and infer")
    p.add_argument("--compile", default=None, metavar="MODE",
                   help="add a torch.compile variant (default, reduce-overhead, max-autotune); "
                        "'none' disables it; default: 'default' on CUDA, none on CPU")
    p.add_argument("--channels_last", action="store_true",
                   help="use channels_last in the --amp and --compile variants")
    p.add_argument("--data_dir", default=None,
                   help="data root with mpii/ and h36m/; default: a small synthetic tree written "
                        "to a temporary folder")
    p.add_argument("--data_samples", type=int, default=None,
                   help="samples per dataset in the data section (default 48, --quick 4)")
    p.add_argument("--sections", default=",".join(SECTIONS),
                   help=f"comma-separated subset of {','.join(SECTIONS)}")
    p.add_argument("--repeats", type=int, default=None, help="timed runs per figure")
    p.add_argument("--warmup", type=int, default=None, help="untimed runs before timing")
    p.add_argument("--json", default=None, help="write every figure to this JSON file")
    p.add_argument("--quick", action="store_true",
                   help="tiny sizes and few repeats (smoke test); numbers are not meaningful")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    if args.infer_batch is None:
        args.infer_batch = 4 if args.quick else 32
    args.sections = [s.strip() for s in args.sections.split(",") if s.strip()]
    unknown = sorted(set(args.sections) - set(SECTIONS))
    if unknown:
        p.error(f"--sections: unknown {unknown}; choose from {','.join(SECTIONS)}")
    return args


def schedule(args: argparse.Namespace) -> dict[str, tuple[int, int]]:
    """(warm-up, repeats) per kind of figure."""
    base = {"train": (1, 2), "infer_b1": (1, 3), "infer_bn": (1, 2), "data": (1, 2),
            "bone_loop": (1, 3), "bone_vec": (2, 10)} if args.quick else {
        "train": (1, 3), "infer_b1": (2, 10), "infer_bn": (1, 3), "data": (1, 3),
        "bone_loop": (1, 10), "bone_vec": (5, 100)}
    return {k: (w if args.warmup is None else args.warmup,
                r if args.repeats is None else args.repeats) for k, (w, r) in base.items()}


# ---------------------------------------------------------------------------------- timing

class Timings:
    """Seconds per call of each variant: ``first`` call (compile time), timed ``runs``, or
    ``error`` text when the variant raised (it is then dropped from later rounds)."""

    def __init__(self):
        self.first: float | None = None
        self.runs: list[float] = []
        self.error: str | None = None

    @property
    def median(self) -> float | None:
        return float(statistics.median(self.runs)) if self.runs else None


def round_robin(fns: dict[str, Callable[[], object]], device: torch.device, warmup: int,
                repeats: int) -> dict[str, Timings]:
    """Time each function, one call of each per round, ``warmup`` untimed rounds first.

    A function that returns a float reports its own elapsed seconds (to leave set-up such as
    memory bookkeeping out of the figure).
    """
    out = {name: Timings() for name in fns}
    for rnd in range(warmup + repeats):
        for name, fn in fns.items():
            t = out[name]
            if t.error is not None:
                continue
            try:
                dev.synchronize(device)
                start = time.perf_counter()
                result = fn()
                dev.synchronize(device)
                elapsed = time.perf_counter() - start
                if isinstance(result, float):
                    elapsed = result
            except Exception as err:  # noqa: BLE001 - a failing variant is reported, not fatal
                t.error = f"{type(err).__name__}: {' '.join(str(err).split())[:300]}"
                log.warning("%s failed: %s", name, t.error)
                continue
            if rnd == 0:
                t.first = elapsed
            if rnd >= warmup:
                t.runs.append(elapsed)
    return out


class StepMemory:
    """Memory allocated by one step beyond what existed before it.

    CUDA: ``max_memory_allocated`` after the step minus the allocation before it. CPU: resident
    set size sampled every millisecond from ``/proc/self/statm`` during the step minus the RSS
    before it (after ``gc`` and ``malloc_trim`` return freed memory to the system), or the
    ``ru_maxrss`` growth where ``/proc`` is missing (then 0 once the high-water mark is reached).
    """

    def __init__(self, device: torch.device):
        self.device = device
        self.cpu_proc = device.type == "cpu" and os.path.exists("/proc/self/statm")
        self._page = os.sysconf("SC_PAGE_SIZE") if self.cpu_proc else 0
        self._trim = _malloc_trim()
        self.delta = 0

    @property
    def method(self) -> str:
        if self.device.type != "cpu":
            return (f"{self.device.type}: max_memory_allocated during the step minus memory "
                    "allocated before it, plus the variant's weights and optimizer state")
        if self.cpu_proc:
            return ("cpu: peak resident set size sampled every 1 ms (/proc/self/statm) during "
                    "the step minus the RSS before it (after gc and malloc_trim), plus the "
                    "variant's weights and optimizer state; approximate")
        return ("cpu: growth of resource.getrusage ru_maxrss during the step plus weights and "
                "optimizer state; a lower bound")

    def _rss(self) -> int:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * self._page

    @contextlib.contextmanager
    def measure(self):
        if self.device.type != "cpu":
            dev.reset_peak_memory_stats(self.device)
            before = dev.max_memory_allocated(self.device)
            yield
            self.delta = dev.max_memory_allocated(self.device) - before
            return
        gc.collect()
        self._trim()
        if not self.cpu_proc:
            before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
            yield
            self.delta = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - before
            return
        before = self._rss()
        peak = [before]
        stop = threading.Event()

        def sample():
            while not stop.is_set():
                peak[0] = max(peak[0], self._rss())
                stop.wait(0.001)

        thread = threading.Thread(target=sample, daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()
            peak[0] = max(peak[0], self._rss())
            self.delta = peak[0] - before


def _malloc_trim() -> Callable[[], None]:
    try:
        libc = ctypes.CDLL("libc.so.6")
        return lambda: libc.malloc_trim(0) and None
    except OSError:
        return lambda: None


def tensor_bytes(*tensors_iters) -> int:
    """Bytes held by the distinct tensors of the given iterables."""
    seen, total = set(), 0
    for tensors in tensors_iters:
        for t in tensors:
            if isinstance(t, torch.Tensor) and id(t) not in seen:
                seen.add(id(t))
                total += t.numel() * t.element_size()
    return total


# ---------------------------------------------------------------------------------- inputs

def make_train_batch(batch: int, input_hw: tuple[int, int], seed: int = 0) -> dict:
    """A collated batch in the datasets' sample-dict format: the first half 3D samples (depth
    supervision), the rest 2D samples (visibility in ``reg_target``, ``reg_mask`` zero)."""
    rng = np.random.default_rng(seed)
    k = MPII16.num_joints
    height, width = input_hw
    out_h, out_w = height // 4, width // 4
    n3d = max(1, batch // 2) if batch > 1 else 0
    samples = []
    for i in range(batch):
        is_3d = i < n3d
        pts = np.stack([rng.integers(0, out_w, k), rng.integers(0, out_h, k)], 1).astype(np.int32)
        vis = rng.random(k) > 0.1
        pts[~vis] = 0
        if is_3d:
            reg_target = np.where(vis, rng.normal(0.0, 0.15, k), 0.0)
            reg_mask = vis.astype(np.uint8)
            gt_3d = rng.normal(0.0, 300.0, (17, 3)).astype(np.float32)
        else:
            reg_target = vis.astype(np.float64)
            reg_mask = np.zeros(k, np.uint8)
            gt_3d = np.zeros((17, 3), np.float32)
        samples.append({
            "input": torch.from_numpy(rng.standard_normal((3, height, width), np.float32)),
            "target": draw_gaussian_targets(pts, vis, out_h, out_w, 2.0),
            "reg_target": reg_target.astype(np.float32)[:, None],
            "reg_ind": depth_index(pts, out_w, k),
            "reg_mask": reg_mask,
            "meta": {"index": i, "center": np.array([width / 2, height / 2], np.float32),
                     "scale": np.array([width, height], np.float64), "pts_crop": pts,
                     "vis": vis.astype(np.float32), "gt_3d": gt_3d, "is_3d": is_3d,
                     "group": ""},
        })
    return default_collate(samples)


def build_model(args: argparse.Namespace, heads: dict[str, int]) -> torch.nn.Module:
    torch.manual_seed(args.seed)
    return create_model(args.arch, heads, num_stacks=1 if args.quick else 2,
                        num_features=32 if args.quick else 256,
                        input_hw=(args.input, args.input))


def compile_mode(args: argparse.Namespace, device: torch.device) -> str | None:
    if args.compile is None:
        return "default" if device.type == "cuda" else None
    return None if args.compile.lower() == "none" else args.compile


# ---------------------------------------------------------------------------------- sections

def bench_train(args: argparse.Namespace, device: torch.device,
                sched: dict[str, tuple[int, int]]) -> dict:
    heads = {"hm": MPII16.num_joints, "depth": MPII16.num_joints}
    base_model = build_model(args, heads)
    batch = dev.to_device(make_train_batch(args.batch, (args.input, args.input), args.seed),
                          device)
    cl = args.channels_last
    variants = {
        "baseline": {"channels_last": False, "bone": "loop", "amp": "off", "compile": None},
        "bone_vectorised": {"channels_last": False, "bone": "vectorised", "amp": "off",
                            "compile": None},
        "channels_last": {"channels_last": True, "bone": "vectorised", "amp": "off",
                          "compile": None},
    }
    if args.amp != "off":
        variants[f"amp_{args.amp}"] = {"channels_last": cl, "bone": "vectorised",
                                       "amp": args.amp, "compile": None}
    mode = compile_mode(args, device)
    if mode is not None:
        variants[f"compile_{mode}"] = {"channels_last": cl, "bone": "vectorised", "amp": "off",
                                       "compile": mode}

    memory = StepMemory(device)
    state: dict[str, dict] = {}
    steps: dict[str, Callable[[], None]] = {}
    deltas: dict[str, list[int]] = {}
    for name, opts in variants.items():
        model = copy.deepcopy(base_model).to(device).train()
        x = batch["input"]
        if opts["channels_last"]:
            to_channels_last(model)
            x = x.contiguous(memory_format=torch.channels_last)
        net = torch.compile(model, mode=opts["compile"]) if opts["compile"] else model
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
        scaler = dev.Scaler(device, opts["amp"])
        loss_fn = build_loss("human3d", weight_3d=0.1, weight_var=0.01).to(device)
        state[name] = {"model": model, "optimizer": optimizer, "loss": None}
        deltas[name] = []

        def step(name=name, opts=opts, net=net, x=x, optimizer=optimizer, scaler=scaler,
                 loss_fn=loss_fn):
            bone = (mock.patch.object(bone_module, "bone_variance_loss", bone_variance_loss_loop)
                    if opts["bone"] == "loop" else contextlib.nullcontext())
            with memory.measure(), bone:
                dev.synchronize(device)
                start = time.perf_counter()
                optimizer.zero_grad(set_to_none=True)
                with dev.autocast(device, opts["amp"]):
                    outputs = net(x)
                loss, _ = loss_fn(outputs, batch)
                scaler(loss, optimizer)
                dev.synchronize(device)
                elapsed = time.perf_counter() - start
            deltas[name].append(memory.delta)
            state[name]["loss"] = float(loss.detach())
            return elapsed

        steps[name] = step

    warmup, repeats = sched["train"]
    raw = round_robin(steps, device, warmup, repeats)
    results = {}
    for name, opts in variants.items():
        entry = {"options": opts}
        t = raw[name]
        if t.error is not None:
            entry["error"] = t.error
        else:
            st = state[name]
            persistent = tensor_bytes(st["model"].parameters(), st["model"].buffers(),
                                      [v for s in st["optimizer"].state.values()
                                       for v in s.values()])
            timed = deltas[name][warmup:] or deltas[name]
            step_s = t.median
            entry.update({
                "step_s_median": step_s, "step_s": t.runs, "first_step_s": t.first,
                "img_per_s": args.batch / step_s if step_s else None,
                "peak_mem_mb": (persistent + int(statistics.median(timed))) / MIB,
                "step_mem_mb": int(statistics.median(timed)) / MIB,
                "state_mem_mb": persistent / MIB,
                "loss": st["loss"],
            })
        results[name] = entry
    return {"batch": args.batch, "input": args.input, "heads": heads, "optimizer": "Adam",
            "loss": "human3d: hm + 0.1 depth + 0.01 bone variance",
            "batch_mix": f"{max(1, args.batch // 2) if args.batch > 1 else 0} 3D + "
                         f"{args.batch - (max(1, args.batch // 2) if args.batch > 1 else 0)} 2D",
            "memory_method": memory.method, "variants": results}


def bench_infer(args: argparse.Namespace, device: torch.device,
                sched: dict[str, tuple[int, int]]) -> dict:
    heads = {"hm": MPII16.num_joints, "depth": MPII16.num_joints}
    base = build_model(args, heads).to(device).eval()
    size = (args.input, args.input)
    gen = torch.Generator().manual_seed(args.seed)
    x1 = torch.randn(1, 3, *size, generator=gen).to(device)
    xn = torch.randn(args.infer_batch, 3, *size, generator=gen).to(device)
    cl = args.channels_last

    def plain(model, amp="off", channels_last=False):
        def run(x):
            if channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            with dev.autocast(device, amp):
                return predict(model, x, flip=True)
        return run

    notes: dict[str, str] = {}
    variants: dict[str, tuple[dict, Callable]] = {
        "baseline": ({"backend": "torch", "channels_last": False, "fold_bn": False},
                     plain(base)),
        "channels_last": ({"backend": "torch", "channels_last": True, "fold_bn": False},
                          plain(to_channels_last(copy.deepcopy(base)), channels_last=True)),
        "fold_bn": ({"backend": "torch", "channels_last": False, "fold_bn": True},
                    plain(fuse_for_inference(base))),
        "fold_bn_channels_last": ({"backend": "torch", "channels_last": True, "fold_bn": True},
                                  plain(fuse_for_inference(base, channels_last=True),
                                        channels_last=True)),
    }
    if args.amp != "off":
        variants[f"fold_bn_amp_{args.amp}"] = (
            {"backend": "torch", "channels_last": cl, "fold_bn": True, "amp": args.amp},
            plain(fuse_for_inference(base, channels_last=cl), amp=args.amp, channels_last=cl))
    mode = compile_mode(args, device)
    if mode is not None:
        compiled = torch.compile(fuse_for_inference(base, channels_last=cl), mode=mode)
        variants[f"fold_bn_compile_{mode}"] = (
            {"backend": "torch", "channels_last": cl, "fold_bn": True, "compile": mode},
            plain(compiled, channels_last=cl))
    else:
        notes["compile"] = "not measured (pass --compile MODE; on by default on CUDA)"

    tmp = tempfile.TemporaryDirectory(prefix="pose3d_bench_")
    try:
        import onnxruntime as ort
        from pose3d.onnx_backend import OnnxModel, export_onnx
        provider = ("CUDAExecutionProvider" if device.type == "cuda"
                    and "CUDAExecutionProvider" in ort.get_available_providers()
                    else "CPUExecutionProvider")
        path = export_onnx(base, Path(tmp.name) / "model.onnx", size)
        onnx_model = OnnxModel(path, providers=[provider], num_threads=torch.get_num_threads())
        variants["onnxruntime"] = ({"backend": f"onnxruntime {ort.__version__} ({provider})"},
                                   plain(onnx_model))
    except Exception as err:  # noqa: BLE001 - the row is skipped with its reason
        notes["onnxruntime"] = f"skipped: {type(err).__name__}: {err}"

    # Agreement with the baseline (batch 1), also a warm-up call for every variant.
    reference = variants["baseline"][1](x1)
    results: dict[str, dict] = {}
    for name, (opts, run) in variants.items():
        try:
            out = run(x1)
            diff = {k: float((out[k].float() - reference[k]).abs().max()
                             / reference[k].abs().max().clamp(min=1e-12)) for k in reference}
            results[name] = {"options": opts, "max_rel_diff_vs_baseline": diff}
        except Exception as err:  # noqa: BLE001
            results[name] = {"options": opts, "error": f"{type(err).__name__}: {err}"}
    live = {n: v[1] for n, v in variants.items() if "error" not in results[n]}

    w1, r1 = sched["infer_b1"]
    raw1 = round_robin({n: (lambda f=f: f(x1)) for n, f in live.items()}, device, w1, r1)
    wn, rn = sched["infer_bn"]
    rawn = round_robin({n: (lambda f=f: f(xn)) for n, f in live.items()}, device, wn, rn)
    for name in live:
        entry = results[name]
        for key, raw, batch in (("b1", raw1, 1), ("bn", rawn, args.infer_batch)):
            t = raw[name]
            if t.error is not None:
                entry[f"error_{key}"] = t.error
                continue
            med = t.median
            if key == "b1":
                entry.update(latency_b1_ms=med * 1e3 if med else None,
                             latency_b1_ms_all=[s * 1e3 for s in t.runs],
                             first_call_b1_s=t.first)
            else:
                entry.update(throughput_img_s=batch / med if med else None,
                             batch_s_all=t.runs, first_call_bn_s=t.first)
    tmp.cleanup()
    return {"infer_batch": args.infer_batch, "flip_test": True, "input": args.input,
            "notes": notes, "variants": results}


def _reduced_fraction(ds: torch.utils.data.Dataset, n: int) -> float:
    """Share of the first ``n`` training samples that base.PoseDataset decodes at 1/2 or less
    (its rule: a JPEG whose augmented crop side is at least twice the network input)."""
    cfg, hits = ds.cfg, 0
    for i in range(n):
        rec_index = int(ds.idxs[i])
        rec = ds.records[rec_index]
        s_mult, _, _ = ds.augment_params(rec_index, ds.epoch)
        side = float(rec["scale"]) * s_mult
        jpeg = str(rec["image"]).lower().endswith((".jpg", ".jpeg"))
        hits += jpeg and side / max(cfg.input_w, cfg.input_h) >= 2
    return hits / max(n, 1)


def bench_data(args: argparse.Namespace, sched: dict[str, tuple[int, int]]) -> dict:
    import cv2

    from pose3d.datasets import DATASETS, DataConfig
    num = args.data_samples or (4 if args.quick else 48)
    notes: dict[str, str] = {}
    tmp = None
    if args.data_dir:
        root = Path(args.data_dir)
    else:
        tmp = tempfile.TemporaryDirectory(prefix="pose3d_bench_data_")
        root = Path(tmp.name)
        try:
            from pose3d.synthetic import WRITERS
        except Exception as err:  # noqa: BLE001
            WRITERS = {}
            notes["writers"] = f"pose3d.synthetic not importable ({type(err).__name__}: {err})"
        for writer_name, _ in DATA_SETS:
            writer = WRITERS.get(writer_name)
            if writer is None:
                notes[writer_name] = (f"skipped: no synthetic writer '{writer_name}' in "
                                      "pose3d.synthetic.WRITERS yet; pass --data_dir")
                continue
            start = time.perf_counter()
            try:
                writer(root, num, args.seed, 1)
            except Exception as err:  # noqa: BLE001
                notes[writer_name] = f"skipped: writer failed ({type(err).__name__}: {err})"
                continue
            log.info("wrote %d synthetic %s samples in %.1fs", num, writer_name,
                     time.perf_counter() - start)

    results: dict[str, dict] = {}
    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)  # one DataLoader worker = one core
    try:
        for writer_name, ds_name in DATA_SETS:
            if writer_name in notes:
                continue
            size = args.input
            datasets = {}
            try:
                for decode in (False, True):
                    cfg = DataConfig(input_h=size, input_w=size, output_h=size // 4,
                                     output_w=size // 4, reduced_decode=decode, seed=args.seed)
                    datasets[decode] = DATASETS[ds_name]("train", root, cfg)
            except Exception as err:  # noqa: BLE001 - e.g. a loader still being written
                notes[writer_name] = f"skipped: {type(err).__name__}: {err}"
                continue
            n = min(num, len(datasets[False]))

            def run(ds=None, n=n):
                for i in range(n):
                    ds[i]

            warmup, repeats = sched["data"]
            raw = round_robin({"baseline": lambda d=datasets[False]: run(d),
                               "reduced_decode": lambda d=datasets[True]: run(d)},
                              torch.device("cpu"), warmup, repeats)
            entry = {"dataset": ds_name, "samples": n,
                     "reduced_fraction": _reduced_fraction(datasets[True], n), "variants": {}}
            for name, t in raw.items():
                if t.error is not None:
                    entry["variants"][name] = {"error": t.error}
                    continue
                med = t.median
                entry["variants"][name] = {"reduced_decode": name != "baseline",
                                           "samples_per_s": n / med if med else None,
                                           "pass_s": t.runs}
            results[writer_name] = entry
    finally:
        cv2.setNumThreads(threads)
        if tmp is not None:
            tmp.cleanup()
    return {"data_dir": str(root) if args.data_dir else "synthetic (temporary)",
            "workers": 1, "cv2_threads": 1, "notes": notes, "sets": results}


def bench_bone(args: argparse.Namespace, device: torch.device,
               sched: dict[str, tuple[int, int]]) -> dict:
    gen = torch.Generator().manual_seed(args.seed)
    b, k = 32, MPII16.num_joints
    z0 = (torch.randn(b, k, generator=gen) * 0.1).to(device)
    vis = (torch.rand(b, k, generator=gen) > 0.2).to(device)
    xy = torch.rand(b, k, 2, generator=gen).to(device)
    is_2d = (torch.arange(b) % 2 == 0).to(device)
    values = {}

    def make(fn, name):
        def run():
            z = z0.clone().requires_grad_(True)
            loss = fn(z, vis, xy, is_2d)
            loss.backward()
            values[name] = (float(loss.detach()), z.grad.detach().clone())
        return run

    wl, rl = sched["bone_loop"]
    wv, rv = sched["bone_vec"]
    loop = round_robin({"baseline": make(bone_variance_loss_loop, "loop")}, device, wl, rl)
    vec = round_robin({"vectorised": make(bone_variance_loss, "vec")}, device, wv, rv)
    out = {"batch": b, "joints": k, "variants": {}}
    for name, raw in (("baseline", loop["baseline"]), ("vectorised", vec["vectorised"])):
        med = raw.median
        out["variants"][name] = {"form": "loop" if name == "baseline" else "vectorised",
                                 "fwd_bwd_ms": med * 1e3 if med else None,
                                 "fwd_bwd_ms_all": [t * 1e3 for t in raw.runs],
                                 "error": raw.error}
    (lv, lg), (vv, vg) = values["loop"], values["vec"]
    out["loss_abs_diff"] = abs(lv - vv)
    out["grad_max_abs_diff"] = float((lg - vg).abs().max())
    return out


# ---------------------------------------------------------------------------------- summary

def _row(name: str, baseline: float | None, candidates: dict[str, float | None],
         best_name: str | None = None) -> dict:
    unit, higher, target, target_text = TARGETS[name]
    valid = {n: v for n, v in candidates.items() if v is not None}
    if best_name is None and valid:
        best_name = (max if higher else min)(valid, key=valid.get)
    best = valid.get(best_name) if best_name else None
    ratio = best / baseline if best is not None and baseline else None
    speedup = None if ratio is None or ratio == 0 else (ratio if higher else 1 / ratio)
    met = None
    if target is not None and ratio is not None:
        met = ratio >= target if higher else ratio <= target
    return {"name": name, "unit": unit, "higher_is_better": higher, "baseline": baseline,
            "best": best, "ratio": ratio, "speedup": speedup, "best_option": best_name,
            "target": target_text, "met": met}


def summarise(report: dict) -> list[dict]:
    rows = []
    train = report.get("train")
    if train:
        v = train["variants"]
        tput = {n: e.get("img_per_s") for n, e in v.items()}
        rows.append(_row("train_throughput", tput.get("baseline"), tput))
        best = rows[-1]["best_option"]
        mem = {n: e.get("peak_mem_mb") for n, e in v.items()}
        rows.append(_row("train_peak_memory", mem.get("baseline"), mem, best_name=best))
    infer = report.get("infer")
    if infer:
        v = infer["variants"]
        lat = {n: e.get("latency_b1_ms") for n, e in v.items()}
        rows.append(_row("infer_latency_b1", lat.get("baseline"), lat))
        tput = {n: e.get("throughput_img_s") for n, e in v.items()}
        rows.append(_row("infer_throughput", tput.get("baseline"), tput))
    data = report.get("data")
    if data:
        for writer_name, _ in DATA_SETS:
            entry = data["sets"].get(writer_name)
            if entry is None:
                rows.append(_row(f"data_{writer_name}", None, {}))
                rows[-1]["note"] = data["notes"].get(writer_name, "not measured")
                continue
            sps = {n: e.get("samples_per_s") for n, e in entry["variants"].items()}
            rows.append(_row(f"data_{writer_name}", sps.get("baseline"), sps))
    bone = report.get("bone")
    if bone:
        ms = {n: e.get("fwd_bwd_ms") for n, e in bone["variants"].items()}
        rows.append(_row("bone_loss", ms.get("baseline"), ms))
    return rows


def format_table(rows: list[dict]) -> str:
    def num(v):
        if v is None:
            return "-"
        return f"{v:.3g}" if abs(v) < 100 else f"{v:.0f}"

    head = ("name", "unit", "baseline", "best", "ratio", "speedup", "best option", "target", "met")
    lines = [[r["name"], r["unit"], num(r["baseline"]), num(r["best"]),
              "-" if r["ratio"] is None else f"{r['ratio']:.3f}",
              "-" if r["speedup"] is None else f"{r['speedup']:.2f}x",
              r["best_option"] or r.get("note", "-"), r["target"],
              {True: "yes", False: "NO", None: "-"}[r["met"]]] for r in rows]
    widths = [max(len(str(x)) for x in col) for col in zip(head, *lines)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    out = [fmt.format(*head), fmt.format(*("-" * w for w in widths))]
    out += [fmt.format(*line) for line in lines]
    return "\n".join(out)


def environment(device: torch.device) -> dict:
    cpu = platform.processor()
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    try:
        import onnxruntime
        ort_version = onnxruntime.__version__
    except ImportError:
        ort_version = None
    return {"torch": torch.__version__, "onnxruntime": ort_version,
            "python": platform.python_version(), "cpu": cpu, "cores": os.cpu_count(),
            "torch_threads": torch.get_num_threads(), "device": str(device),
            "backend": dev.backend_versions(),
            "omp_env": {k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY",
                                                        "GOMP_SPINCOUNT", "KMP_BLOCKTIME")},
            "loadavg_start": list(os.getloadavg()) if hasattr(os, "getloadavg") else None}


# ---------------------------------------------------------------------------------- main

def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    try:
        device = dev.resolve_device(args.device, [0])
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    torch.set_num_threads(args.threads or min(4, torch.get_num_threads()))
    sched = schedule(args)
    report: dict = {"config": {k: v for k, v in vars(args).items()},
                    "schedule": {k: {"warmup": w, "repeats": r} for k, (w, r) in sched.items()},
                    "env": environment(device),
                    "baseline": "eager float32, NCHW, no compile, no conv-BN folding, "
                                "full-resolution decode, loop bone loss"}
    started = time.perf_counter()
    for section in args.sections:
        t0 = time.perf_counter()
        print(f"[benchmark] {section} ...", flush=True)
        if section == "train":
            report["train"] = bench_train(args, device, sched)
        elif section == "infer":
            report["infer"] = bench_infer(args, device, sched)
        elif section == "data":
            report["data"] = bench_data(args, sched)
        else:
            report["bone"] = bench_bone(args, device, sched)
        print(f"[benchmark] {section} done in {time.perf_counter() - t0:.0f}s", flush=True)
    report["summary"] = summarise(report)
    report["env"]["loadavg_end"] = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    report["total_s"] = time.perf_counter() - started

    print()
    print(f"{args.arch} {args.input}x{args.input}, train batch {args.batch}, infer batch "
          f"{args.infer_batch} (flip test), {device}, {torch.get_num_threads()} threads, "
          f"amp {args.amp}")
    print(format_table(report["summary"]))
    for section in ("infer", "data"):
        for key, note in (report.get(section) or {}).get("notes", {}).items():
            print(f"note ({section}/{key}): {note}")
    if args.json:
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(report, indent=2, default=str))
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
