"""Entry-point wrapper: user errors become one line on stderr, never a traceback.

``main.py``, ``demo.py`` and the scripts call :func:`run_entry`. A :class:`UserError` prints
``error: <message>`` and exits with status 1 (flags exit 2 through argparse); ``--debug`` shows
the traceback as well. Ctrl-C exits with status 130 after the trainer has saved its state.
"""
from __future__ import annotations

import logging
import sys
import traceback
from typing import Callable

from pose3d.utils.errors import UserError


def _debug_requested(argv: list[str]) -> bool:
    for i, a in enumerate(argv):
        if a.startswith("--debug"):
            val = a.split("=", 1)[1] if "=" in a else (argv[i + 1] if i + 1 < len(argv) else "1")
            return val not in ("0", "")
    return False


def run_entry(fn: Callable[[list[str]], object], argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    debug = _debug_requested(argv)
    logging.basicConfig(level=logging.DEBUG if debug else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s" if debug else "%(message)s")
    logging.getLogger("matplotlib").setLevel(logging.WARNING)
    try:
        fn(argv)
    except UserError as err:
        if debug:
            traceback.print_exc()
        print(f"error: {err}", file=sys.stderr)
        return getattr(err, "exit_code", 1)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0
