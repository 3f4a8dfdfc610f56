"""Synthetic jobs in batches over the job runner, each batch sharing one sensor-noise bank."""
from __future__ import annotations

from typing import Any, Callable, Sequence

from pose3d.synthetic.degrade import NoiseBank
from pose3d.utils.jobs import run_jobs

# Batches per worker: enough to balance uneven jobs, few enough to draw few noise banks.
BATCHES_PER_WORKER = 2


def run_batches(fn: Callable[..., Any], jobs: Sequence[tuple], workers: int) -> list:
    """``[fn(*job, noise=bank) for job in jobs]`` in order, in ``workers`` processes when > 1.

    Jobs run in contiguous batches (all of them in one batch when run here), with one OpenCV
    thread; each batch makes one :class:`~pose3d.synthetic.degrade.NoiseBank`, drawn where the
    batch runs the first time one of its images needs noise.
    """
    jobs = list(jobs)
    if workers <= 1 or len(jobs) < 2:
        batches = [jobs]
    else:
        size = -(-len(jobs) // min(len(jobs), workers * BATCHES_PER_WORKER))
        batches = [jobs[k:k + size] for k in range(0, len(jobs), size)]
    out: list = []
    for part in run_jobs(_run_batch, [(fn, batch) for batch in batches], workers,
                         serial_single_thread=True):
        out.extend(part)
    return out


def _run_batch(fn: Callable[..., Any], jobs: list[tuple]) -> list:
    noise = NoiseBank()
    return [fn(*job, noise=noise) for job in jobs]
