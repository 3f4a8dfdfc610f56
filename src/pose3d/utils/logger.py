"""Experiment log: options dump, a timestamped text log and optional tensorboardX scalars.

Layout (the original's)::

    <save_dir>/opt.txt, opt.json                 resolved options (``save_opts``)
    <save_dir>/logs_<YYYY-mm-dd-HH-MM>/opt.txt   copy of opt.txt
    <save_dir>/logs_<YYYY-mm-dd-HH-MM>/log.txt   text log, each line prefixed with a timestamp
    <save_dir>/logs_<YYYY-mm-dd-HH-MM>/events.*  tensorboard scalars, when tensorboardX imports

Without tensorboardX the run goes on with the text log only (the original crashed in ``close``).
Only the main process writes: with ``enabled=False`` (other DDP ranks) every method is a no-op.
"""
import argparse
import json
import logging
import math
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from pose3d.options.plain import opt_to_dict
from pose3d.utils.device import backend_versions

log = logging.getLogger(__name__)


def save_opts(opt: argparse.Namespace, save_dir: str | os.PathLike) -> Path:
    """Write ``opt.txt`` (the original format) and ``opt.json`` into ``save_dir``.

    ``opt.txt`` holds the torch, CUDA, cuDNN (and Ascend NPU) versions, ``sys.argv`` and every
    option as ``key: value``, sorted; ``opt.json`` holds the options only.

    Args:
        opt: resolved options.
        save_dir: folder, created if needed.

    Returns:
        The path of ``opt.txt``.
    """
    save_dir = Path(save_dir)
    save_dir.mkdir(parents=True, exist_ok=True)
    plain = opt_to_dict(opt)
    lines = [f"==> {name} version: {ver}" for name, ver in backend_versions().items()]
    lines += ["==> Cmd:", str(sys.argv), "==> Opt:"]
    lines += [f"  {k}: {v}" for k, v in plain.items()]
    txt = save_dir / "opt.txt"
    txt.write_text("\n".join(lines) + "\n")
    (save_dir / "opt.json").write_text(json.dumps(plain, indent=2, sort_keys=True) + "\n")
    return txt


class Logger:
    """Text + tensorboard logger of one run.

    Args:
        opt: resolved options (``save_dir`` is where everything goes).
        enabled: False on every process but rank 0.

    Attributes:
        save_dir: the experiment folder.
        log_dir: ``save_dir/logs_<time>`` (also where ``results.json`` belongs).
    """

    def __init__(self, opt: argparse.Namespace, enabled: bool = True):
        self.enabled = enabled
        self.save_dir = Path(opt.save_dir)
        self.log_dir = self.save_dir / f"logs_{time.strftime('%Y-%m-%d-%H-%M')}"
        self.writer = None
        self._file = None
        self._start_line = True
        if not enabled:
            return
        self.log_dir.mkdir(parents=True, exist_ok=True)
        opt_txt = save_opts(opt, self.save_dir)
        shutil.copyfile(opt_txt, self.log_dir / "opt.txt")
        self._file = open(self.log_dir / "log.txt", "a", encoding="utf-8")
        try:
            from tensorboardX import SummaryWriter
        except ImportError:
            log.info("tensorboardX is not installed: scalars go to the text log only")
        else:
            self.writer = SummaryWriter(log_dir=str(self.log_dir))

    def write(self, txt: str) -> None:
        """Append ``txt``; every line that starts gets a ``YYYY-mm-dd-HH-MM: `` prefix.

        Text without a newline continues the current line (``"loss 0.1 | "`` pieces), as in the
        original; the file is flushed at each newline.
        """
        if self._file is None or not txt:
            return
        stamp = time.strftime("%Y-%m-%d-%H-%M")
        for piece in txt.splitlines(keepends=True):
            if self._start_line:
                self._file.write(f"{stamp}: ")
            self._file.write(piece)
            self._start_line = piece.endswith("\n")
        if "\n" in txt:
            self._file.flush()

    def scalar_summary(self, tag: str, value: Any, step: int) -> bool:
        """Log a scalar (e.g. ``train_loss`` per epoch) to tensorboard when available.

        An undefined value (None, NaN, inf: a metric without a valid sample) is not logged, so
        tensorboard curves never hold NaN.

        Returns:
            Whether ``value`` was a finite number (and so was logged, when a writer exists).
        """
        try:
            value = float(value)
        except (TypeError, ValueError):
            return False
        if not math.isfinite(value):
            return False
        if self.writer is not None:
            self.writer.add_scalar(tag, value, step)
        return True

    def close(self) -> None:
        """Close the text log and the tensorboard writer; safe to call twice, never raises."""
        for closer in (getattr(self._file, "close", None), getattr(self.writer, "close", None)):
            if closer is None:
                continue
            try:
                closer()
            except Exception as err:  # closing must never hide the run's real outcome
                log.warning("closing the log failed: %s", err)
        self._file = None
        self.writer = None

    def __enter__(self) -> "Logger":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
