"""The options a benchmark variant switches on: user flags of ``main.py`` / ``demo.py`` only.

Every variant is a list of flags parsed by :func:`pose3d.opts.parse`, the parser of both
programs, on top of the run's base flags; the baseline adds none (float32, NCHW, eager, the
PyTorch backend). A variant is therefore exactly what a user gets by typing its flags.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import torch

from pose3d.opts import parse

#: Flags that make the variants; the base flags may not set them (the baseline has them off).
VARIANT_FLAGS = ("--channels_last", "--amp", "--compile", "--backend", "--apex")
BF16_CPU_FLAGS = ("amx_bf16", "avx512_bf16")


def cpu_has_native_bf16(cpuinfo: str | Path = "/proc/cpuinfo") -> bool:
    """Whether the processor computes bf16 natively (AMX or AVX512-BF16)."""
    try:
        text = Path(cpuinfo).read_text()
    except OSError:
        return False
    return any(flag in text.split() for flag in BF16_CPU_FLAGS)


def amp_precision(requested: str, device: torch.device) -> tuple[str | None, str | None]:
    """The ``--amp`` value of the mixed-precision variant, or None with the reason.

    ``auto``: fp16 on CUDA / NPU; bf16 on a CPU with native bf16; none elsewhere (emulated bf16
    is slower than float32 and nobody should switch it on).
    """
    if requested == "off":
        return None, "not measured (--amp off)"
    if requested != "auto":
        return requested, None
    if device.type != "cpu":
        return "fp16", None
    if cpu_has_native_bf16():
        return "bf16", None
    return None, ("not measured: this CPU has no native bf16 (amx_bf16 / avx512_bf16); "
                  "pass --amp bf16 to measure it anyway")


def variant_flags(names: list[str], amp: str | None, onnx: bool = False) -> dict[str, list[str]]:
    """``{variant: flags}`` for the requested names that apply (baseline always first)."""
    table = {"baseline": [], "channels_last": ["--channels_last"]}
    if amp is not None:
        table[f"amp_{amp}"] = ["--amp", amp]
    table["compile"] = ["--compile"]
    if onnx:
        table["onnxruntime"] = ["--backend", "onnxruntime"]
    wanted = set(names)
    return {n: f for n, f in table.items()
            if n == "baseline" or n in wanted or (n.startswith("amp_") and "amp" in wanted)}


def check_base_flags(flags: list[str]) -> None:
    """Refuse base flags that would switch a variant's option on for the baseline too."""
    for flag in flags:
        name = flag.split("=", 1)[0]
        if name in VARIANT_FLAGS:
            raise SystemExit(f"benchmark: error: {name} is measured as a variant; choose the "
                             "variants with --variants, not with main.py flags")


def user_opt(base: list[str], flags: list[str]) -> argparse.Namespace:
    """``pose3d.opts.parse(base + flags)``: the options ``main.py`` / ``demo.py`` would see."""
    return parse([*base, *flags])
