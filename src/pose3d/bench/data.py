"""``data`` section: samples/s of the training data pipeline of any ``--dataset`` on any tree.

For each dataset name the options are parsed as ``main.py`` parses them (``--dataset NAME
--data_dir DIR`` plus the run's flags), the train split is built from ``DataConfig.from_opt``
and read through ``train/runner.py``'s ``make_loader`` with ``--num_workers`` workers (default
one): decode, crop, augmentation, targets and collation, as in training. A timed call is one pass
over the first ``samples`` samples; the figure is samples/s, and samples/s per worker.

Without a data folder the section writes a small tree of each dataset's own format to a
temporary folder with the synthetic data engine and measures that.
"""
from __future__ import annotations

import logging
import tempfile
import time
from functools import partial
from pathlib import Path

import torch

from pose3d.datasets import DataConfig, get_dataset
from pose3d.train.base import check_batch
from pose3d.train.runner import make_loader

from .timing import error_text, time_call
from .variants import user_opt

log = logging.getLogger(__name__)

#: --dataset value -> the synthetic writers whose folders it reads.
WRITERS_OF = {"mpii": ("mpii",), "lsp_extended": ("lsp", "lspet"), "flic_full": ("flic_full",),
              "coco": ("coco",), "H36M": ("h36m",), "OcclusionPerson": ("occlusion_person",),
              "MPII3D": ("mpii3d",), "3DPW": ("3dpw",)}


def _writers_for(opt) -> tuple[str, ...]:
    if opt.dataset == "fusion_3d":
        return WRITERS_OF[opt.dataset2D] + WRITERS_OF[opt.dataset3D]
    return WRITERS_OF[opt.dataset]


def write_tree(root: Path, opts: list, num: int, seed: int) -> dict[str, float]:
    """Write the folders the datasets of ``opts`` read; returns seconds per writer."""
    from pose3d.synthetic import WRITERS

    done: dict[str, float] = {}
    for opt in opts:
        for name in _writers_for(opt):
            if name not in done:
                start = time.perf_counter()
                WRITERS[name](root, num, seed, 1)
                done[name] = time.perf_counter() - start
                log.info("wrote %d %s samples in %.1fs", num, name, done[name])
    return done


def _one_pass(loader) -> None:
    for batch in loader:
        check_batch(batch)


def _measure(opt, samples: int, min_run_time: float) -> dict:
    dataset = get_dataset(opt.dataset)("train", opt.data_dir, DataConfig.from_opt(opt))
    dataset.set_epoch(1)
    n = min(samples, len(dataset))
    loader = make_loader(dataset, opt, opt.batch_size, sampler=list(range(n)),
                         workers=opt.num_workers, device=torch.device("cpu"))

    timing = time_call(partial(_one_pass, loader), torch.device("cpu"), min_run_time, label=f"data/{opt.dataset}")
    del loader  # stops the persistent workers
    entry = {"samples": n, "split_size": len(dataset), "workers": opt.num_workers,
             "batch_size": opt.batch_size, "pass": timing.as_dict()}
    if timing.error is not None:
        entry["error"] = timing.error
        return entry
    entry["samples_per_s"] = n / timing.median_s
    entry["samples_per_s_iqr"] = n * timing.iqr_s / timing.median_s ** 2
    entry["samples_per_s_per_worker"] = entry["samples_per_s"] / max(1, opt.num_workers)
    return entry


def run_data(base: list[str], datasets: list[str], data_dir: str | None, samples: int,
             workers: int, min_run_time: float, seed: int = 0) -> dict:
    """Samples/s of each dataset's train split.

    Args:
        base: main.py flags shared by every dataset (input size, batch, augmentation...).
        datasets: ``--dataset`` values (any of the CLI's, e.g. ``mpii``, ``H36M``, ``3DPW``).
        data_dir: the tree to read; None writes a small tree to a temporary folder.
        samples: samples per timed pass (fewer when the split is smaller).
        workers: DataLoader workers (``--num_workers``); 0 reads in the main process.
        min_run_time: seconds of timed passes per dataset.

    Returns:
        The section's JSON: per dataset its samples/s, samples/s per worker, pass times.
    """
    tmp = None
    if data_dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="pose3d_bench_data_")
    root = data_dir if data_dir is not None else tmp.name
    results: dict[str, dict] = {}
    written: dict[str, float] = {}
    try:
        opts = {}
        for name in datasets:
            try:
                opts[name] = user_opt(base, ["--dataset", name, "--data_dir", str(root),
                                             "--num_workers", str(workers)])
            except SystemExit as err:  # an unknown --dataset: opts printed its one line
                results[name] = {"error": f"--dataset {name}: not a dataset of main.py "
                                          f"(exit {err.code})"}
        if tmp is not None:
            written = write_tree(Path(root), list(opts.values()), samples, seed)
        for name, opt in opts.items():
            try:
                results[name] = {"dataset": opt.dataset, **_measure(opt, samples, min_run_time)}
            except Exception as err:  # noqa: BLE001 - e.g. the dataset is not in the tree
                results[name] = {"dataset": opt.dataset, "error": error_text(err)}
    finally:
        if tmp is not None:
            tmp.cleanup()
    return {"data_dir": str(data_dir) if data_dir is not None else None,
            "tree": "given --data_dir" if data_dir is not None else
                    "small tree of each format written to a temporary folder",
            "written_s": written, "workers": workers, "sets": results}
