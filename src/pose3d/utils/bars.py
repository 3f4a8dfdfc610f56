"""The one progress bar: ``progress``'s bar on a terminal, periodic lines or nothing elsewhere."""
from __future__ import annotations

import sys
import time

# Bar suffixes (``progress`` format fields).
ETA_SUFFIX = "%(index)d/%(max)d  %(elapsed_td)s / eta %(eta_td)s"
COUNT_SUFFIX = "%(index)d/%(max)d %(elapsed)ds"


class LineProgress:
    """Periodic lines instead of a bar when the output is not a terminal (logs, CI)."""

    def __init__(self, title: str, total: int):
        self.title, self.total, self.done, self.t0 = title, total, 0, time.time()

    def next(self) -> None:
        self.done += 1
        if self.done == self.total or self.done % max(1, self.total // 10) == 0:
            print(f"{self.title}: {self.done}/{self.total} ({time.time() - self.t0:.0f}s)",
                  file=sys.stderr, flush=True)

    def finish(self) -> None:
        pass


def progress_bar(title: str, total: int, suffix: str = ETA_SUFFIX, lines_when_piped: bool = False):
    """A bar with ``next()`` and ``finish()`` for ``total`` steps on stderr.

    On a terminal: a ``progress`` bar, or a counter when ``total`` is unknown (<= 0). Elsewhere
    the ``progress`` bar stays silent; ``lines_when_piped`` prints a line every tenth instead.
    """
    if lines_when_piped and not sys.stderr.isatty():
        return LineProgress(title, total)
    if total > 0:
        from progress.bar import Bar

        return Bar(title, max=total, suffix=suffix)
    from progress.counter import Counter

    return Counter(f"{title} ")
