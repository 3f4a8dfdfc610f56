"""The one exception type for mistakes a user can fix.

Every bad input (a flag, a dataset file, a checkpoint, an image) raises :class:`UserError` with a
message that names the file or flag, what is wrong and what to do. The entry points catch it once
and print one line on stderr (exit status 1; flags exit 2 through argparse). ``--debug`` shows the
traceback as well.
"""
from __future__ import annotations

import os


class UserError(Exception):
    """A problem the user can fix; ``str(err)`` is the single line shown to them."""

    exit_code = 1


class DataFormatError(UserError):
    """A dataset or annotation file that is missing, truncated or laid out wrongly.

    Args:
        path: the file or folder at fault.
        problem: what is wrong, e.g. "record 12 has no field 'joints'".
        fix: what to do about it.
    """

    def __init__(self, path: str | os.PathLike, problem: str, fix: str = ""):
        self.path, self.problem, self.fix = str(path), problem, fix
        msg = f"{self.path}: {problem}"
        if fix:
            msg += f"; {fix}"
        super().__init__(msg)

    def __reduce__(self):
        # Rebuilt from its fields when a worker process sends it back to the parent.
        return type(self), (self.path, self.problem, self.fix)


class CheckpointError(UserError):
    """A checkpoint that is missing, unreadable or of another architecture."""
