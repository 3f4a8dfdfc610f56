"""The one job runner: a function over many jobs, in worker processes, results in job order.

Workers are joblib's loky processes, so OpenCV and numpy state stay per process; each worker
runs OpenCV single-threaded (set once, by the pool's initializer), because the processes already
use the cores. An exception of a job is raised in the calling process (``DataFormatError`` and
the other pickled exceptions arrive as themselves) and the remaining jobs are cancelled.
"""
from __future__ import annotations

from typing import Any, Callable, Iterator, Sequence

import cv2

from pose3d.utils.bars import COUNT_SUFFIX, progress_bar


def single_thread_opencv() -> None:
    """Pool initializer: one OpenCV thread per worker process."""
    cv2.setNumThreads(1)


def run_jobs(fn: Callable[..., Any], jobs: Sequence[tuple], workers: int,
             title: str | None = None, serial_single_thread: bool = False) -> Iterator[Any]:
    """Yield ``fn(*job)`` for every job, in order.

    Args:
        fn: a picklable (module-level) function.
        jobs: argument tuples.
        workers: processes; with ``workers <= 1`` or fewer than 2 jobs they run here.
        title: show a progress bar with this title (lines every tenth when not a terminal).
        serial_single_thread: when the jobs run here, run them with one OpenCV thread (the
            previous setting is restored afterwards).
    """
    bar = progress_bar(title, max(len(jobs), 1), COUNT_SUFFIX, lines_when_piped=True) \
        if title is not None else None
    if workers <= 1 or len(jobs) < 2:
        results = _run_here(fn, jobs, serial_single_thread)
    else:
        results = _run_in_pool(fn, jobs, workers)
    for result in results:
        if bar is not None:
            bar.next()
        yield result
    if bar is not None:
        bar.finish()


def _run_here(fn: Callable[..., Any], jobs: Sequence[tuple], single_thread: bool
              ) -> Iterator[Any]:
    before = cv2.getNumThreads()
    if single_thread:
        cv2.setNumThreads(1)
    try:
        for job in jobs:
            yield fn(*job)
    finally:
        if single_thread:
            cv2.setNumThreads(before)


def _run_in_pool(fn: Callable[..., Any], jobs: Sequence[tuple], workers: int) -> Iterator[Any]:
    from joblib import Parallel, delayed

    return Parallel(n_jobs=workers, backend="loky", return_as="generator",
                    initializer=single_thread_opencv)(delayed(fn)(*job) for job in jobs)
