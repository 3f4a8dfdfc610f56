"""Run ``src/main.py`` with a hook that sends this process a signal right after a global step.

``python tests/reliability/signal_at_step.py N[:KILL|TERM|INT] MAIN_ARGS...`` is ``python
src/main.py MAIN_ARGS...`` interrupted after global training step N (1-based, counted over
epochs; default SIGKILL). The resume tests use it, and :class:`SignalAtStep` in-process.
"""
from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"
SIGNALS = {"KILL": signal.SIGKILL, "TERM": signal.SIGTERM, "INT": signal.SIGINT}


class SignalAtStep:
    """``on_step`` hook: ``os.kill(own pid, signal)`` after global step ``step``.

    Args:
        spec: ``N[:KILL|TERM|INT]``.
    """

    def __init__(self, spec: str):
        step, _, name = spec.partition(":")
        self.step, self.signum = int(step), SIGNALS[(name or "KILL").upper()]

    def __call__(self, global_step: int) -> None:
        if global_step == self.step:
            os.kill(os.getpid(), self.signum)


def main(argv: list[str]) -> int:
    sys.path.insert(0, str(SRC))
    import main as entry
    from pose3d.cli import run_entry

    hook = SignalAtStep(argv[0])
    return run_entry(lambda args: entry.main(args, on_step=hook), argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
