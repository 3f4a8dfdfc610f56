"""The benchmark's summary rows, its text and Markdown tables, and the machine description.

The benchmark reports; it does not judge: every row is a median with its interquartile range and
its ratio to the baseline of the same section, measured in the same process.
"""
from __future__ import annotations

import contextlib
import os
import platform
import shlex

import torch

from pose3d.utils import device as dev


def _row(measurement: str, variant: str, flags: list[str], value, iqr, unit: str,
         baseline) -> dict:
    ratio = value / baseline if value is not None and baseline else None
    return {"measurement": measurement, "variant": variant, "flags": " ".join(flags),
            "value": value, "iqr": iqr, "unit": unit, "vs_baseline": ratio}


def _get(entry: dict, path: str):
    """``entry['a']['b']`` for ``path`` 'a.b', None where missing."""
    for key in path.split("."):
        entry = entry.get(key) if isinstance(entry, dict) else None
    return entry


def _variant_rows(measurement: str, variants: dict, key: str, iqr_key: str,
                  unit: str) -> list[dict]:
    base = _get(variants.get("baseline") or {}, key)
    return [_row(measurement, name, e.get("flags", []), _get(e, key), _get(e, iqr_key), unit,
                 base) for name, e in variants.items() if "flags" in e]


def summarise(report: dict) -> list[dict]:
    """One row per figure: measurement, variant, its user flags, value, IQR, ratio."""
    rows: list[dict] = []
    train = report.get("train")
    if train:
        size = "x".join(map(str, train["input"]))
        what = f"training step, {train['arch']} {size}, batch {train['batch']}"
        rows += _variant_rows(what, train["variants"], "img_per_s", "img_per_s_iqr", "img/s")
        rows += _variant_rows(f"training peak memory, {train['arch']}", train["variants"],
                              "peak_mem_mb", "-", "MiB")
    infer = report.get("infer")
    if infer:
        v = infer["variants"]
        rows += _variant_rows("demo latency, 1 picture, flip test", v, "latency_b1.median_ms",
                              "latency_b1.iqr_ms", "ms")
        rows += _variant_rows(f"demo throughput, {infer['batch']} pictures, flip test", v,
                              "img_per_s", "img_per_s_iqr", "img/s")
    data = report.get("data")
    if data:
        for name, e in data["sets"].items():
            rows.append(_row(f"data pipeline, --dataset {name}, per worker", "shipped", [],
                             e.get("samples_per_s_per_worker"),
                             None if e.get("samples_per_s_iqr") is None else
                             e["samples_per_s_iqr"] / max(1, e.get("workers", 1)),
                             "samples/s", None))
    bone = report.get("bone")
    if bone:
        v = bone["variants"]
        base = v.get("loop", {}).get("median_ms")
        for name, e in v.items():
            rows.append(_row(f"bone loss, batch {bone['batch']}, forward + backward",
                             name, [], e.get("median_ms"), e.get("iqr_ms"), "ms", base))
    return rows


def _num(v) -> str:
    if v is None:
        return "-"
    return f"{v:.3g}" if abs(v) < 100 else f"{v:.0f}"


def format_table(rows: list[dict]) -> str:
    """Plain text table of :func:`summarise` rows for the terminal."""
    head = ("measurement", "variant", "flags", "median", "IQR", "unit", "vs baseline")
    lines = [[r["measurement"], r["variant"], r["flags"] or "-", _num(r["value"]),
              _num(r["iqr"]), r["unit"],
              "-" if r["vs_baseline"] is None else f"{r['vs_baseline']:.2f}x"] for r in rows]
    widths = [max(len(str(x)) for x in col) for col in zip(head, *lines)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return "\n".join([fmt.format(*head), fmt.format(*("-" * w for w in widths)),
                      *(fmt.format(*line) for line in lines)])


def format_markdown(report: dict) -> str:
    """Markdown table (with its caption) of a benchmark JSON, as the README shows it."""
    env, cfg = report["env"], report["config"]
    lines = ["| measurement | option | median | IQR | vs baseline |", "|---|---|---|---|---|"]
    for r in report["summary"]:
        option = f"`{r['flags']}`" if r["flags"] else (
            "baseline" if r["variant"] == "baseline" else r["variant"])
        ratio = "-" if r["vs_baseline"] is None else f"{r['vs_baseline']:.2f}x"
        value = "-" if r["value"] is None else f"{_num(r['value'])} {r['unit']}"
        lines.append(f"| {r['measurement']} | {option} | {value} | {_num(r['iqr'])} | {ratio} |")
    load = env.get("loadavg_start") or [None]
    caption = (f"*{env['cpu']}, {env['cores']} cores, {env['torch_threads']} torch thread(s), "
               f"device {env['device']}, torch {env['torch']}; `python scripts/benchmark.py "
               f"{shlex.join(cfg['argv'])}`; load average {_num(load[0])} at the start")
    if cfg.get("note"):
        caption += f"; {cfg['note']}"
    for key, note in (report.get("notes") or {}).items():
        caption += f"; `--{key}`: {note}"
    return "\n".join(lines) + "\n\n" + caption + ".*"


def cpu_model() -> str:
    """The processor's model name (``/proc/cpuinfo``), else ``platform.processor()``."""
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def environment(device: torch.device) -> dict:
    """Versions, processor, threads and load of the machine the figures come from."""
    try:
        import onnxruntime
        ort_version = onnxruntime.__version__
    except ImportError:
        ort_version = None
    return {"torch": torch.__version__, "onnxruntime": ort_version,
            "python": platform.python_version(), "cpu": cpu_model(), "cores": os.cpu_count(),
            "torch_threads": torch.get_num_threads(), "device": str(device),
            "backend": dev.backend_versions(),
            "omp_env": {k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "KMP_BLOCKTIME")},
            "loadavg_start": list(os.getloadavg()) if hasattr(os, "getloadavg") else None}
