"""Checks that need several flags or the derived settings (``validate``).

Each bad value ends the program through ``parser.error``: one line (exit status 2) that names the
flag, the value and what is allowed. Single values are already checked by the parser's
``choices`` and ``type``.
"""
import argparse
import os
import shlex
import sys
from typing import Any, NoReturn

from pose3d.models import INPUT_MULTIPLE, parse_arch
from pose3d.options.derived import NETWORK_STRIDE


def _bad(parser: argparse.ArgumentParser, flag: str, value: Any, allowed: str) -> NoReturn:
    parser.error(f"argument {flag}: invalid value {value!r} ({allowed})")


def _torchrun_command(argv: list[str], gpus: list[int]) -> str:
    """The command that runs the same job with one process per GPU."""
    kept: list[str] = []
    skip_next = False
    for tok in argv:
        if skip_next:
            skip_next = False
            continue
        name = tok.split("=", 1)[0]
        # Any unambiguous abbreviation of --gpus (argparse accepts --gp, --gpu).
        if len(name) >= 4 and "--gpus".startswith(name):
            skip_next = "=" not in tok
            continue
        kept.append(tok)
    script = sys.argv[0] if sys.argv and sys.argv[0].endswith(".py") else "src/main.py"
    cmd = f"torchrun --nproc_per_node {len(gpus)} {shlex.join([script, *kept])}"
    if gpus != list(range(len(gpus))):
        cmd = f"CUDA_VISIBLE_DEVICES={','.join(map(str, gpus))} {cmd}"
    return cmd


def _check_model(opt: argparse.Namespace, parser: argparse.ArgumentParser, family: str) -> None:
    """Hourglass stacks; flags that the chosen network or task would ignore."""
    if opt.num_stacks < 1:
        _bad(parser, "--num_stacks", opt.num_stacks, "at least 1 stack")
    if family == "msra":
        for flag in ("num_modules", "num_features"):
            if getattr(opt, flag) != parser.get_default(flag):
                parser.error(f"argument --{flag}: {getattr(opt, flag)} has no effect on --arch "
                             f"{opt.arch}; it sizes the stacked hourglass (--arch hg)")
    if opt.task == "human2d" and not opt.test:
        for flag in ("weight_3d", "weight_var"):
            if getattr(opt, flag) > 0:
                parser.error(f"argument --{flag}: {getattr(opt, flag):g} has no effect with "
                             "--task human2d (no depth head, no 3D loss); add --task human3d")


def _check_sizes(opt: argparse.Namespace, parser: argparse.ArgumentParser, family: str) -> None:
    """Input and output sizes (after the -1 defaults are filled in) against the network."""
    for flag in ("input_h", "input_w", "output_h", "output_w"):
        if getattr(opt, flag) <= 0:
            _bad(parser, f"--{flag}", getattr(opt, flag), "must be positive, or -1 for the default")
    sizes = f"{opt.input_h}x{opt.input_w} -> {opt.output_h}x{opt.output_w}"
    if opt.input_h % opt.output_h or opt.input_w % opt.output_w:
        parser.error(f"arguments --input_h/--input_w/--output_h/--output_w: input size {sizes} "
                     "is not a multiple of the output size")
    stride_h, stride_w = opt.input_h // opt.output_h, opt.input_w // opt.output_w
    if stride_h != stride_w:
        parser.error(f"arguments --input_h/--input_w/--output_h/--output_w: unequal strides "
                     f"{stride_h} and {stride_w} for {sizes}; use the same ratio in both axes")
    if stride_h != NETWORK_STRIDE:
        parser.error(f"arguments --output_h/--output_w: --arch {opt.arch} makes heatmaps at 1/"
                     f"{NETWORK_STRIDE} of the input, got {sizes} (stride {stride_h}); set the "
                     f"output to {opt.input_h // NETWORK_STRIDE}x{opt.input_w // NETWORK_STRIDE}")
    # The hourglass's own input rule is reported when the model is built.
    multiple = INPUT_MULTIPLE[family]
    if family == "msra" and (opt.input_h % multiple or opt.input_w % multiple):
        parser.error(f"arguments --input_h/--input_w: --arch {opt.arch} needs an input size that "
                     f"is a multiple of {multiple}, got {opt.input_h}x{opt.input_w}")


def _check_devices(opt: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    """``--gpus`` against ``--device`` and torchrun; one mixed-precision flag at most."""
    if any(g < 0 for g in opt.gpus) and opt.device in ("cuda", "npu"):
        parser.error(f"argument --gpus: -1 (CPU) contradicts --device {opt.device}; "
                     "give a device index such as --gpus 0, or --device cpu")
    if len(opt.gpus) > 1 and opt.device != "cpu" and not os.environ.get("WORLD_SIZE"):
        cmd = _torchrun_command(getattr(opt, "argv", sys.argv[1:]), opt.gpus)
        parser.error(f"argument --gpus: {','.join(map(str, opt.gpus))} asks for "
                     f"{len(opt.gpus)} GPUs, which runs one process per GPU; start it with: {cmd}")
    if opt.apex is not None and opt.amp != "off":
        parser.error(f"arguments --amp/--apex: --amp {opt.amp} and --apex {opt.apex} both set "
                     "mixed precision; give only one")


def validate(opt: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    """Reject bad values with one ``parser.error`` line naming the flag, the value and the fix.

    Args:
        opt: options after ``derive``.
        parser: the parser whose ``error`` ends the program (exit status 2).
    """
    family, _ = parse_arch(str(opt.arch))
    _check_model(opt, parser, family)
    # Checked after derive: --debug >0 replaces --num_workers by 1.
    if opt.num_workers < 0:
        _bad(parser, "--num_workers", opt.num_workers, "must not be negative")
    _check_sizes(opt, parser, family)
    _check_devices(opt, parser)
    if opt.bbox is not None and (len(opt.bbox) != 4 or opt.bbox[2] <= 0 or opt.bbox[3] <= 0):
        _bad(parser, "--bbox", ",".join(f"{v:g}" for v in opt.bbox),
             "expected x,y,w,h in pixels with w and h positive")
