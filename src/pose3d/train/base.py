"""BaseTrainer: owns the per-batch loop; tasks add only their metrics and predictions.

One epoch = ``run_epoch('train' | 'val')``: move the batch, forward under autocast, losses in
float32, backward through the scaler (plain, fp16 GradScaler or apex), meters and a progress
display. A non-finite loss skips the step, is logged with the batch's sample ids and, after
``max_bad_steps`` in a row, stops the run with a clear message. Validation uses the shared
inference path (flip test + decoding in ``pose3d.inference``).

Under DDP the per-step decisions (skip a non-finite step, stop on a signal) are agreed by all
processes with one small all-reduce, so no rank waits in a collective that another skipped.

Data errors raised inside DataLoader workers (a missing image, say) would reach the main process
as a multi-line ``RuntimeError`` carrying the worker's traceback; :class:`WorkerSafeDataset` and
:func:`collate_batch` carry them as a :class:`LoadFailure` instead, and the loops raise it as the
one-line :class:`UserError` it was.
"""
from __future__ import annotations

import logging
import sys
import time
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import Dataset, default_collate

from pose3d.inference import predict
from pose3d.utils.debug import DebugWriter
from pose3d.utils.device import channels_last_batch, to_device
from pose3d.utils.distributed import all_reduce_sum, is_distributed
from pose3d.utils.errors import UserError
from pose3d.utils.meters import AverageMeter, all_reduce_meters
from pose3d.utils.precision import autocast

log = logging.getLogger(__name__)

class NonFiniteLossError(UserError):
    """Too many consecutive non-finite losses."""


@dataclass
class LoadFailure:
    """A sample that could not be loaded: the one-line message of its :class:`UserError`."""

    message: str

    def raise_error(self):
        raise UserError(self.message)


class WorkerSafeDataset(Dataset):
    """Wraps a dataset so that a :class:`UserError` in ``__getitem__`` becomes a LoadFailure.

    The failure crosses the worker queue as plain data; :func:`collate_batch` passes it on and
    the training / validation loops raise it in the main process.
    """

    def __init__(self, dataset):
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, item):
        try:
            return self.dataset[item]
        except UserError as err:
            return LoadFailure(str(err))


def collate_batch(samples: list):
    """``default_collate``, or the first :class:`LoadFailure` among ``samples``."""
    for s in samples:
        if isinstance(s, LoadFailure):
            return s
    return default_collate(samples)


def check_batch(batch):
    """``batch`` itself; a :class:`LoadFailure` is raised as its :class:`UserError`."""
    if isinstance(batch, LoadFailure):
        batch.raise_error()
    return batch


def _copy_all(dst: list[torch.Tensor], src: list[torch.Tensor]) -> None:
    """``dst[i].copy_(src[i])`` for all i, in one fused call where torch has it."""
    if not dst:
        return
    with torch.no_grad():
        if hasattr(torch, "_foreach_copy_"):
            torch._foreach_copy_(dst, src)
        else:
            for d, s in zip(dst, src):
                d.copy_(s)


class Progress:
    """A `progress` bar on a terminal, plain periodic lines otherwise (logs, CI, clusters)."""

    def __init__(self, title: str, total: int, print_iter: int = -1, enabled: bool = True):
        self.title, self.total, self.enabled = title, total, enabled
        self.tty = sys.stdout.isatty() and print_iter <= 0
        self.every = print_iter if print_iter > 0 else max(1, total // 10)
        self.bar = None
        if enabled and self.tty:
            from progress.bar import Bar
            self.bar = Bar(title, max=total)
        self.start = time.time()

    def update(self, step: int, text: str) -> None:
        if not self.enabled:
            return
        elapsed = time.time() - self.start
        eta = elapsed / max(step, 1) * (self.total - step)
        line = f"[{step}/{self.total}] |Tot: {elapsed:.0f}s |ETA: {eta:.0f}s {text}"
        if self.bar is not None:
            self.bar.suffix = line
            self.bar.next()
        elif step % self.every == 0 or step == self.total:
            print(f"{self.title} {line}", flush=True)

    def finish(self) -> None:
        if self.bar is not None:
            self.bar.finish()


class BaseTrainer:
    """Generic loop. Subclasses implement ``batch_metrics`` and ``collect``/``summarise``.

    Args:
        model: the network a training step calls (DDP / compiled wrapper included).
        eval_model: the network validation calls (default ``model``): the plain module during
            training, the compiled or ONNX model under ``--test``.
        stop: the run's :class:`~pose3d.train.stop.GracefulStop` (None: no signal handling).
    """

    def __init__(self, opt, model, loss_fn, optimizer, scaler, device: torch.device,
                 is_main: bool = True, dataset_info: dict | None = None, eval_model=None,
                 stop=None):
        self.opt, self.model, self.loss_fn = opt, model, loss_fn
        self.eval_model = model if eval_model is None else eval_model
        self.optimizer, self.scaler, self.device = optimizer, scaler, device
        self.is_main = is_main
        self.info = dataset_info or {}
        self.bad_steps = 0
        self.bad_steps_total = 0
        self.step_in_epoch = 0
        self.stop = stop
        self._stop_agreed = False
        self.debug = DebugWriter(opt, is_main)  # --debug >= 2: pictures in <save_dir>/debug

    # -- hooks for tasks -----------------------------------------------------------------------
    def batch_metrics(self, outputs: list[dict], batch: dict) -> dict[str, tuple[float, int]]:
        """{name: (value, count)} computed on a training batch."""
        return {}

    def collect(self, pred: dict, batch: dict, store: dict) -> dict[str, tuple[float, int]]:
        """Store validation predictions; return running metrics for the display."""
        return {}

    def summarise(self, store: dict, dataset) -> tuple[dict, dict]:
        """Final metrics (flat dict of floats) and the full results (per joint/group)."""
        return {}, {}

    def report(self, metrics: dict, results: dict) -> str:
        """Human-readable summary printed after ``--test``."""
        return " | ".join(f"{k} {v:.4f}" for k, v in metrics.items() if isinstance(v, float))

    # -- the loop ------------------------------------------------------------------------------
    def _forward_loss(self, batch):
        x = channels_last_batch(batch["input"], self.opt.channels_last)
        with autocast(self.device, self.opt.amp):
            outputs = self.model(x)
        # Losses (bone loss included) are computed in float32 whatever the autocast dtype.
        loss, stats = self.loss_fn(outputs, batch)
        return outputs, loss, stats

    def train(self, epoch: int, loader, skip_steps: int = 0, on_step=None) -> dict:
        """One training epoch; ``skip_steps`` batches were already done before an interruption.

        Stops before the next step when ``interrupt_requested`` (a stop signal); ``step_in_epoch``
        then tells how many steps of the epoch are done. ``on_step(epoch, step)`` is called after
        every step (1-based ``step``, counted from the start of the epoch).

        Raises:
            NonFiniteLossError: ``--max_bad_steps`` consecutive non-finite losses.
            UserError: a sample could not be loaded.
        """
        self.model.train()
        meters: dict[str, AverageMeter] = {}
        data_time, batch_time = AverageMeter(), AverageMeter()
        n = skip_steps + len(loader)
        bar = Progress(f"{self.opt.exp_id}/train", n, self.opt.print_iter, self.is_main)
        bad_in_epoch = 0
        # A skipped step must leave the model as it was, BatchNorm statistics included (an fp16
        # overflow would otherwise leave inf in the running means).
        buffers = [b for b in self.model.buffers()]
        snapshot = (buffers, [b.detach().clone() for b in buffers])
        end = time.time()
        self.step_in_epoch = skip_steps
        batches = iter(loader)
        i = skip_steps
        while (batch := self._next_batch(batches)) is not None:
            i += 1
            data_time.update(time.time() - end)
            batch = to_device(check_batch(batch), self.device)
            outputs, bad = self._step(batch, epoch, i, meters, snapshot)
            bad_in_epoch += bad
            self.step_in_epoch = i
            batch_time.update(time.time() - end)
            end = time.time()
            bar.update(i, self._status(meters, data_time, batch_time))
            self.debug.train_step(epoch, i, n, batch, outputs)
            if on_step is not None:
                on_step(epoch, i)
        bar.finish()
        all_reduce_meters(meters, self.device)
        out = {k: m.avg for k, m in meters.items()}
        out["time"] = batch_time.sum / 60.0
        if bad_in_epoch:
            out["bad_steps"] = float(bad_in_epoch)
        return out

    def _next_batch(self, batches):
        """The next batch, or None at the end of the epoch or when a stop is agreed."""
        # Checked before fetching (a signal may have stopped the loader workers too) and before
        # the forward pass (even that changes BatchNorm statistics).
        if self.stop_agreed():
            return None
        try:
            return next(batches)
        except StopIteration:
            return None
        except Exception:
            # A SIGTERM to the process group also ends the loader workers, possibly with a batch
            # in flight; the stop then wins over the lost batch.
            if self.interrupt_requested:
                log.debug("batch lost to the stop signal", exc_info=True)
                return None
            raise

    def _step(self, batch, epoch: int, step: int, meters: dict[str, AverageMeter],
              snapshot) -> tuple[list[dict], bool]:
        """Forward, then backward and optimizer step unless the loss is non-finite on any
        process (the buffers are then put back from ``snapshot``). Returns (outputs, skipped)."""
        buffers, saved = snapshot
        _copy_all(saved, buffers)
        outputs, loss, stats = self._forward_loss(batch)
        bad = self._agree(not bool(torch.isfinite(loss.detach())), False)[0]
        if bad:
            _copy_all(buffers, saved)
            self._bad_step(batch, epoch, step)
            return outputs, True
        self.bad_steps = 0
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler(loss, self.optimizer, clip_grad=self.opt.grad_clip,
                    parameters=self.model.parameters())
        bs = batch["input"].shape[0]
        for k, v in stats.items():
            meters.setdefault(k, AverageMeter()).update(float(v), bs)
        for k, (v, c) in self.batch_metrics(outputs, batch).items():
            if c > 0:
                meters.setdefault(k, AverageMeter()).update(v, c)
        return outputs, False

    @property
    def interrupt_requested(self) -> bool:
        """A stop signal reached this process, or another one (see :meth:`stop_agreed`)."""
        return self._stop_agreed or (self.stop is not None and self.stop.requested)

    def stop_agreed(self) -> bool:
        """Whether any process was asked to stop; then ``interrupt_requested`` is set on all.

        A collective under DDP: every process calls it at the same points.
        """
        if self._agree(False, self.interrupt_requested)[1]:
            self._stop_agreed = True
        return self.interrupt_requested

    def _agree(self, bad: bool, stop: bool) -> tuple[bool, bool]:
        """(any process had a non-finite loss, any process was asked to stop)."""
        if not is_distributed():
            return bad, stop
        flags = torch.tensor([float(bad), float(stop)], device=self.device)
        flags = all_reduce_sum(flags)
        return bool(flags[0] > 0), bool(flags[1] > 0)

    def _bad_step(self, batch, epoch: int, step: int) -> None:
        self.bad_steps += 1
        self.bad_steps_total += 1
        ids = batch["meta"]["index"]
        ids = ids.tolist() if torch.is_tensor(ids) else list(ids)
        log.warning("non-finite loss at epoch %d step %d: step skipped (samples %s; %d in a row, "
                    "%d in this run)", epoch, step, ids, self.bad_steps, self.bad_steps_total)
        if self.bad_steps >= max(1, self.opt.max_bad_steps):
            raise NonFiniteLossError(
                f"{self.bad_steps} consecutive non-finite losses (epoch {epoch}, step {step}, "
                f"--max_bad_steps {self.opt.max_bad_steps}); lower --lr, set --grad_clip 5, or "
                f"check the data of samples {ids}; the last good checkpoint on disk is untouched")

    def _status(self, meters, data_time, batch_time) -> str:
        txt = " ".join(f"|{k} {m.avg:.4f}" for k, m in meters.items())
        if not self.opt.hide_data_time:
            txt += f" |Data {data_time.val:.3f}s({data_time.avg:.3f}s) |Net {batch_time.avg:.3f}s"
        return txt

    @torch.inference_mode()
    def val(self, epoch: int, loader, dataset=None) -> tuple[dict, dict, dict]:
        """Validation pass with flip test; returns (metrics, full results, stored predictions)."""
        self.eval_model.eval()
        meters: dict[str, AverageMeter] = {}
        store: dict = {}
        bar = Progress(f"{self.opt.exp_id}/val", len(loader), self.opt.print_iter, self.is_main)
        for i, batch in enumerate(loader, start=1):
            batch = to_device(check_batch(batch), self.device)
            x = channels_last_batch(batch["input"], self.opt.channels_last)
            with autocast(self.device, self.opt.amp):
                pred = predict(self.eval_model, x, flip=True)
                outputs = [pred]
            _, stats = self.loss_fn(outputs, batch)
            bs = x.shape[0]
            for k, v in stats.items():
                meters.setdefault(k, AverageMeter()).update(float(v), bs)
            for k, (v, c) in self.collect(pred, batch, store).items():
                if c > 0:
                    meters.setdefault(k, AverageMeter()).update(v, c)
            bar.update(i, " ".join(f"|{k} {m.avg:.4f}" for k, m in meters.items()))
            self.debug.eval_batch(epoch, i, batch, pred)
        bar.finish()
        metrics, results = self.summarise(store, dataset if dataset is not None
                                          else loader.dataset)
        metrics = {**{k: m.avg for k, m in meters.items()}, **metrics}
        return metrics, results, store


def to_numpy(x) -> np.ndarray:
    return x.detach().cpu().numpy() if torch.is_tensor(x) else np.asarray(x)
