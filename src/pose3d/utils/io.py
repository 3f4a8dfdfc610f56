"""Unpickling dataset files, only from inside the data directory the user named.

Several dataset formats are pickles (the Human3.6M ``msra_cache``, Occlusion-Person's
``unrealcv_*.pkl``, the VIBE ``*_db.pt`` joblib dumps). Unpickling runs whatever code the file's
author chose, which is inherent to these formats: the only defence is to read such files from
the folder the user pointed ``--data_dir`` at, never from a path that an annotation, a relative
``..`` or a stray absolute path leads elsewhere. The loaders build every pickle path as
``data_dir / <fixed name>`` and read it through :func:`load_pickle` / :func:`load_joblib`.

The check is lexical (``os.path.abspath``, no symlink resolution): linking a dataset folder
inside the data root to another disk is a common, legitimate setup. Checkpoints are not read
here: :func:`pose3d.utils.checkpoint.load_checkpoint` uses ``torch.load(weights_only=True)``.
"""
from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any

from pose3d.utils.errors import DataFormatError

_DAMAGED = "the file is damaged or truncated; re-download or rewrite it"


def require_inside(path: str | os.PathLike, data_dir: str | os.PathLike) -> Path:
    """``path`` as an absolute Path, provided it lies inside ``data_dir``.

    Args:
        path: a file the program is about to unpickle.
        data_dir: the data root (``--data_dir``).

    Raises:
        DataFormatError: ``path`` is outside ``data_dir`` (after resolving ``..``).
    """
    root = os.path.abspath(data_dir)
    target = os.path.abspath(path)
    if os.path.commonpath([root, target]) != root:
        raise DataFormatError(target, f"is outside the data directory {root}; pickled files are "
                              "read only from --data_dir, since unpickling can run code",
                              "move the file under --data_dir or point --data_dir at its root")
    return Path(target)


def load_pickle(path: str | os.PathLike, data_dir: str | os.PathLike, fix: str = "") -> Any:
    """Unpickle an annotation file inside ``data_dir``.

    Python-2 pickles (``str`` stored as bytes) are retried with ``encoding='latin1'``.

    Args:
        path: the pickle.
        data_dir: the data root the file must be in.
        fix: what to do when the file is missing (the message's advice).

    Raises:
        DataFormatError: outside ``data_dir``, missing, or not unpicklable.
    """
    target = require_inside(path, data_dir)
    if not target.is_file():
        raise DataFormatError(target, "annotation file is missing", fix)
    try:
        with open(target, "rb") as f:
            try:
                return pickle.load(f)
            except UnicodeDecodeError:
                f.seek(0)
                return pickle.load(f, encoding="latin1")
    except Exception as exc:  # a damaged pickle raises almost any type
        raise DataFormatError(target, f"cannot be unpickled ({type(exc).__name__}: "
                              f"{' '.join(str(exc).split())[:120]})", _DAMAGED) from None


def load_joblib(path: str | os.PathLike, data_dir: str | os.PathLike, fix: str = "") -> Any:
    """``joblib.load`` of a file inside ``data_dir`` (joblib dumps are pickles too).

    Raises:
        DataFormatError: outside ``data_dir``, missing, or unreadable.
    """
    import joblib  # only the VIBE-style datasets need it

    target = require_inside(path, data_dir)
    if not target.is_file():
        raise DataFormatError(target, "annotation db is missing", fix)
    try:
        return joblib.load(target)
    except Exception as exc:  # joblib/pickle raise many types for a damaged file
        raise DataFormatError(target, f"cannot be read with joblib.load ({type(exc).__name__}: "
                              f"{' '.join(str(exc).split())[:120]})", _DAMAGED) from None
