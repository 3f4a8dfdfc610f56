"""Timing and memory helpers of the benchmark: ``torch.utils.benchmark`` plus peak-memory sampling.

:func:`time_call` times one callable: an explicit first call (its time is the cost a user pays
once, e.g. ``torch.compile``), then ``Timer.blocked_autorange``, whose median and interquartile
range are reported. Variants of a section are timed one after the other; on a shared machine the
``loadavg`` before and after (see the JSON's ``env``) says how noisy the figures may be.
"""
from __future__ import annotations

import ctypes
import gc
import os
import resource
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch.utils import benchmark as tbench

from pose3d.utils import device as dev

MIB = 2.0 ** 20


@dataclass
class Timing:
    """Seconds per call: the first call, then the median / IQR of the timed calls."""

    first_s: float | None = None
    median_s: float | None = None
    iqr_s: float | None = None
    times_s: list[float] = field(default_factory=list)
    error: str | None = None

    def as_dict(self, per: float = 1.0, unit: str = "s") -> dict:
        """Fields scaled by ``per`` (e.g. 1e3 for milliseconds), keys suffixed with ``unit``."""
        scale = (lambda v: None if v is None else v * per)
        out = {f"first_call_{unit}": scale(self.first_s), f"median_{unit}": scale(self.median_s),
               f"iqr_{unit}": scale(self.iqr_s), f"times_{unit}": [v * per for v in self.times_s]}
        if self.error is not None:
            out["error"] = self.error
        return out


def error_text(err: BaseException) -> str:
    """``Type: message`` on one line, at most 300 characters."""
    return f"{type(err).__name__}: {' '.join(str(err).split())[:300]}"


def time_call(fn: Callable[[], object], device: torch.device, min_run_time: float,
              label: str = "") -> Timing:
    """Time ``fn()`` with ``torch.utils.benchmark.Timer.blocked_autorange``.

    Args:
        fn: the work of one call; its result is ignored.
        device: synchronised around the first call (``Timer`` synchronises CUDA itself).
        min_run_time: seconds of timed calls (at least one call is timed).
        label: name kept in the measurement (for error messages).

    Returns:
        A :class:`Timing`; ``error`` holds the exception text when ``fn`` raised (a failing
        variant is reported, not fatal).
    """
    out = Timing()
    try:
        dev.synchronize(device)
        start = time.perf_counter()
        fn()
        dev.synchronize(device)
        out.first_s = time.perf_counter() - start
        # Timer sets the thread count for its measurement (default 1): keep the user's.
        timer = tbench.Timer(stmt="fn()", globals={"fn": fn}, label=label,
                             num_threads=torch.get_num_threads())
        m = timer.blocked_autorange(min_run_time=min_run_time)
    except Exception as err:  # noqa: BLE001 - reported in the JSON
        out.error = error_text(err)
        return out
    out.median_s, out.iqr_s, out.times_s = float(m.median), float(m.iqr), list(m.times)
    return out


def _malloc_trim() -> Callable[[], None]:
    try:
        libc = ctypes.CDLL("libc.so.6")
        return lambda: libc.malloc_trim(0) and None
    except OSError:
        return lambda: None


class PeakMemory:
    """Memory one call allocates beyond what existed before it.

    CUDA / NPU: ``max_memory_allocated`` after the call minus the allocation before it. CPU: the
    resident set size sampled every millisecond from ``/proc/self/statm`` during the call minus
    the RSS before it (after ``gc`` and ``malloc_trim`` return freed memory), or the growth of
    ``ru_maxrss`` where ``/proc`` is missing (then 0 once the high-water mark is reached).
    Measured in a call of its own, never during a timed one (the sampler costs time).
    """

    def __init__(self, device: torch.device):
        self.device = device
        self.cpu_proc = device.type == "cpu" and os.path.exists("/proc/self/statm")
        self._page = os.sysconf("SC_PAGE_SIZE") if self.cpu_proc else 0
        self._trim = _malloc_trim()
        self._stop = threading.Event()
        self._peak = 0

    @property
    def method(self) -> str:
        if self.device.type != "cpu":
            return f"{self.device.type}: max_memory_allocated during the call minus before it"
        if self.cpu_proc:
            return ("cpu: peak resident set size sampled every 1 ms (/proc/self/statm) during "
                    "the call minus the RSS before it (after gc and malloc_trim); approximate")
        return "cpu: growth of getrusage ru_maxrss during the call; a lower bound"

    def _rss(self) -> int:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * self._page

    def _sample(self) -> None:
        while not self._stop.is_set():
            self._peak = max(self._peak, self._rss())
            self._stop.wait(0.001)

    def measure(self, fn: Callable[[], object]) -> int:
        """Bytes ``fn()`` allocated at its peak beyond the memory in use before it."""
        if self.device.type != "cpu":
            dev.reset_peak_memory_stats(self.device)
            before = dev.max_memory_allocated(self.device)
            fn()
            dev.synchronize(self.device)
            return dev.max_memory_allocated(self.device) - before
        gc.collect()
        self._trim()
        if not self.cpu_proc:
            before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
            fn()
            return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - before
        before = self._peak = self._rss()
        self._stop.clear()
        thread = threading.Thread(target=self._sample, daemon=True)
        thread.start()
        try:
            fn()
        finally:
            self._stop.set()
            thread.join()
        return max(self._peak, self._rss()) - before


def tensor_bytes(*tensor_iters) -> int:
    """Bytes held by the distinct tensors of the given iterables."""
    seen, total = set(), 0
    for tensors in tensor_iters:
        for t in tensors:
            if isinstance(t, torch.Tensor) and id(t) not in seen:
                seen.add(id(t))
                total += t.numel() * t.element_size()
    return total
