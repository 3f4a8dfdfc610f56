"""SIGINT / SIGTERM during training: the first finishes the step and saves, the second stops now.

:class:`GracefulStop` is a context manager: it installs its handlers on entry and puts the
previous ones back on exit. The trainer polls :attr:`GracefulStop.requested` between steps.
"""
from __future__ import annotations

import signal

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class GracefulStop:
    """Records the first SIGINT / SIGTERM; a second one raises ``KeyboardInterrupt`` at once."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self._previous: dict = {}

    @property
    def requested(self) -> bool:
        """Whether a stop signal arrived."""
        return self.signum is not None

    def __enter__(self) -> GracefulStop:
        self._previous = {s: signal.signal(s, self._handle) for s in STOP_SIGNALS}
        return self

    def __exit__(self, *exc) -> None:
        for s, handler in self._previous.items():
            signal.signal(s, handler)
        self._previous = {}

    def _handle(self, signum, _frame) -> None:
        if self.signum is not None:
            # Second signal: stop now; the last checkpoint on disk is complete (atomic writes).
            raise KeyboardInterrupt
        self.signum = signum

    def exit(self) -> None:
        """Leave the run as the signal asks: status 143 for SIGTERM, ``KeyboardInterrupt`` (130)
        for SIGINT or a stop agreed with another DDP process."""
        if self.signum == signal.SIGTERM:
            raise SystemExit(128 + signal.SIGTERM)
        raise KeyboardInterrupt
