"""Evaluation outputs: ``results.json``, ``preds.mat``, ``preds_3d.npz`` and metric formatting.

A metric with no valid sample (PCK@0.2 when no validation torso is labelled, MPJPE when no 3D
joint is visible) is undefined, not a number: it is printed as ``n/a (no labelled sample)``,
written to ``results.json`` as ``null`` and never sent to tensorboard.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from .metrics import METRICS_HIGHER_IS_BETTER

NOT_AVAILABLE = "n/a (no labelled sample)"


def is_number(value: Any) -> bool:
    """Whether ``value`` is a finite real number (bools excluded)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)):
        return False
    return math.isfinite(float(value))


def json_ready(value: Any) -> Any:
    """``value`` with numpy types as plain Python and every NaN / inf replaced by ``None``."""
    if isinstance(value, dict):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [json_ready(v) for v in (value.tolist() if isinstance(value, np.ndarray)
                                        else value)]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (np.integer, int)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        return float(value) if math.isfinite(float(value)) else None
    if value is None or isinstance(value, str):
        return value
    return str(value)


def format_metric(value: Any, spec: str = ".6f") -> str:
    """``value`` formatted with ``spec``, or ``n/a (no labelled sample)`` when undefined."""
    if is_number(value):
        return format(float(value), spec)
    return NOT_AVAILABLE if value is None or isinstance(value, (float, np.floating)) else str(value)


def defined(metrics: dict) -> dict:
    """The metrics that are finite numbers (what may be logged as scalars or compared)."""
    return {k: float(v) for k, v in metrics.items() if is_number(v)}


def undefined(metrics: dict) -> list[str]:
    """Names of the numeric metrics without a value (NaN, inf or None)."""
    return [k for k, v in metrics.items()
            if v is None or (isinstance(v, (float, np.floating)) and not is_number(v))]


def write_results(save_dirs: Iterable[str | Path], header: dict, metrics: dict, results: dict,
                  store: dict) -> None:
    """Write ``results.json`` into every folder of ``save_dirs`` and the predictions into the first.

    Args:
        save_dirs: the experiment folder first, then e.g. the log folder.
        header: run identification (``exp_id``, ``dataset``, ``task``).
        metrics: ``{name: value}``; undefined values become ``null``.
        results: per joint / per group tables (NaN entries become ``null``).
        store: collected predictions; ``preds_2d`` (N, 16, 2) goes to ``preds.mat`` under
            ``preds`` as in the original, a store with ``pred_3d`` to ``preds_3d.npz``.
    """
    from scipy.io import savemat

    folders = list(dict.fromkeys(Path(d) for d in save_dirs))
    payload = {**header, "metrics": metrics, **results,
               "higher_is_better": {k: METRICS_HIGHER_IS_BETTER[k] for k in metrics
                                    if k in METRICS_HIGHER_IS_BETTER}}
    text = json.dumps(json_ready(payload), indent=2, allow_nan=False)
    for folder in folders:
        (folder / "results.json").write_text(text)
    if "preds_2d" in store:
        savemat(str(folders[0] / "preds.mat"), {"preds": np.asarray(store["preds_2d"])})
    if "pred_3d" in store:
        np.savez(folders[0] / "preds_3d.npz", **{k: np.asarray(v) for k, v in store.items()})
