"""``scripts/benchmark.py``: speed and memory of what users run, next to the shipped baseline.

    python scripts/benchmark.py --arch msra_50 --input 256 --batch 8 --threads 2 --json b.json
    python scripts/benchmark.py --device cuda --json gpu.json
    python scripts/benchmark.py --sections data --data_dir A --data_datasets H36M 3DPW
    python scripts/benchmark.py --table b.json        # the README's Markdown table of a run

Sections (``--sections``, all by default):

* ``train``: images/s and peak memory of the trainer's own training step;
* ``infer``: latency (1 picture) and throughput of the demo's predictor (crop, flip test,
  decoding);
* ``data``: samples/s per DataLoader worker of a dataset's train split;
* ``bone``: the bone-length variance loss, original loop form vs the vectorised one in use.

The baseline of ``train`` and ``infer`` is the shipped code path with every option off (float32,
NCHW, eager, PyTorch backend); each other variant switches on user flags of ``main.py`` /
``demo.py``, parsed by the same parser: ``--channels_last``, ``--amp bf16|fp16``, ``--compile``
and, for inference, ``--backend onnxruntime``. Flags this script does not know are main.py flags
shared by every variant (e.g. ``--num_stacks 1 --num_features 32`` for ``--arch hg``).
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

import torch

from pose3d.utils import device as dev
from pose3d.utils.errors import UserError

from .bone import run_bone
from .data import run_data
from .infer import run_infer
from .report import environment, format_markdown, format_table, summarise
from .train import run_train
from .variants import amp_precision, check_base_flags, user_opt, variant_flags

SECTION_NAMES = ("train", "infer", "data", "bone")
VARIANT_NAMES = ("channels_last", "amp", "compile", "onnxruntime")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="benchmark.py", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                allow_abbrev=False)
    p.add_argument("--arch", default="msra_50", help="main.py --arch")
    p.add_argument("--input", type=int, default=256, help="square input size (--input_h/_w)")
    p.add_argument("--batch", type=int, default=8, help="training and data --batch_size")
    p.add_argument("--task", default="human3d", help="main.py --task")
    p.add_argument("--infer_batch", type=int, default=None,
                   help="pictures per throughput call (default: the demo's batch)")
    p.add_argument("--device", default="cpu", choices=("auto", "cpu", "cuda", "npu"))
    p.add_argument("--threads", type=int, default=None,
                   help="torch (and ONNX Runtime) threads; default min(4, cores)")
    p.add_argument("--amp", default="auto", choices=("auto", "off", "bf16", "fp16"),
                   help="precision of the --amp variant; auto: fp16 on GPUs, bf16 on CPUs "
                        "with native bf16, none elsewhere")
    p.add_argument("--variants", default=",".join(VARIANT_NAMES),
                   help=f"comma-separated subset of {','.join(VARIANT_NAMES)} (baseline always)")
    p.add_argument("--sections", default=",".join(SECTION_NAMES),
                   help=f"comma-separated subset of {','.join(SECTION_NAMES)}")
    p.add_argument("--min_run_time", type=float, default=None,
                   help="seconds of timed calls per figure (default 10, --quick 0.05)")
    p.add_argument("--data_dir", default=None,
                   help="tree for the data section; default: a small tree of each dataset's "
                        "format written to a temporary folder")
    p.add_argument("--data_datasets", nargs="+", default=["mpii", "H36M"],
                   help="--dataset values of the data section")
    p.add_argument("--data_samples", type=int, default=None,
                   help="samples per timed pass (default 64, --quick 4)")
    p.add_argument("--data_workers", type=int, default=1, help="DataLoader workers")
    p.add_argument("--json", default=None, help="write every figure to this JSON file")
    p.add_argument("--note", default="", help="text for the table caption (e.g. shared machine)")
    p.add_argument("--table", default=None, metavar="JSON",
                   help="print the Markdown table of a benchmark JSON and exit")
    p.add_argument("--quick", action="store_true",
                   help="few and short timings (smoke test); numbers are not meaningful")
    p.add_argument("--seed", type=int, default=0)
    return p


def parse_args(argv: list[str] | None = None) -> tuple[argparse.Namespace, list[str]]:
    """Benchmark options and the main.py flags it does not know (shared by all variants)."""
    p = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    args, extra = p.parse_known_args(argv)
    args.argv = argv
    args.sections = [s.strip() for s in args.sections.split(",") if s.strip()]
    args.variants = [s.strip() for s in args.variants.split(",") if s.strip()]
    for flag, got, known in (("--sections", args.sections, SECTION_NAMES),
                             ("--variants", args.variants, VARIANT_NAMES)):
        unknown = sorted(set(got) - set(known))
        if unknown:
            p.error(f"{flag}: unknown {unknown}; choose from {','.join(known)}")
    if args.min_run_time is None:
        args.min_run_time = 0.05 if args.quick else 10.0
    if args.data_samples is None:
        args.data_samples = 4 if args.quick else 64
    if args.infer_batch is None and args.quick:
        args.infer_batch = 2
    return args, extra


def base_flags(args: argparse.Namespace, extra: list[str], exp_dir: str) -> list[str]:
    """main.py flags every variant shares; the user's own flags come last and win."""
    return ["--task", args.task, "--arch", args.arch, "--input_h", str(args.input),
            "--input_w", str(args.input), "--batch_size", str(args.batch),
            "--dataset", "fusion_3d", "--weight_3d", "0.1", "--weight_var", "0.01",
            "--device", args.device, "--no_pretrained", "--exp_dir", exp_dir,
            "--random_seed", str(args.seed), *extra]


def run_section(name: str, args: argparse.Namespace, base: list[str], device: torch.device,
                amp: str | None) -> dict:
    if name == "train":
        return run_train(base, variant_flags(args.variants, amp), device, args.min_run_time,
                         args.seed)
    if name == "infer":
        return run_infer(base, variant_flags(args.variants, amp,
                                             onnx="onnxruntime" in args.variants),
                         device, args.min_run_time, args.infer_batch, args.seed)
    if name == "data":
        return run_data(base, args.data_datasets, args.data_dir, args.data_samples,
                        args.data_workers, args.min_run_time, args.seed)
    return run_bone(device, args.min_run_time, seed=args.seed)


def run_sections(args: argparse.Namespace, extra: list[str], device: torch.device) -> dict:
    """Every requested section, in order; the report without its summary."""
    amp, amp_note = amp_precision(args.amp, device)
    report: dict = {"config": {**vars(args), "main_flags": extra}, "env": environment(device),
                    "baseline": "shipped code path, every option off: float32, NCHW, eager, "
                                "PyTorch backend", "notes": {}}
    if "amp" in args.variants and amp_note:
        report["notes"]["amp"] = amp_note
    report["started"] = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="pose3d_bench_exp_") as exp_dir:
        base = base_flags(args, extra, exp_dir)
        user_opt(base, [])  # a flag main.py does not accept stops here, with its one line
        report["config"]["base_flags"] = base[:-len(extra) or None]
        for section in args.sections:
            t0 = time.perf_counter()
            print(f"[benchmark] {section} ...", flush=True)
            report[section] = run_section(section, args, base, device, amp)
            print(f"[benchmark] {section} done in {time.perf_counter() - t0:.0f}s", flush=True)
    return report


def main(argv: list[str] | None = None) -> int:
    args, extra = parse_args(argv)
    if args.table:
        print(format_markdown(json.loads(Path(args.table).read_text())))
        return 0
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    check_base_flags(extra)
    try:
        device = dev.resolve_device(args.device, [0])
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    threads = torch.get_num_threads()
    torch.set_num_threads(args.threads or min(4, threads))
    try:
        report = run_sections(args, extra, device)
    finally:
        torch.set_num_threads(threads)  # callers in the same process keep their setting
    report["summary"] = summarise(report)
    report["env"]["loadavg_end"] = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    report["total_s"] = time.perf_counter() - report.pop("started")

    print(f"\n{args.arch} {args.input}x{args.input}, {device}, "
          f"{report['env']['torch_threads']} threads")
    print(format_table(report["summary"]))
    for key, note in report["notes"].items():
        print(f"note ({key}): {note}")
    if args.json:
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(report, indent=2, default=str) + "\n")
        print(f"wrote {path}")
    return 0
