"""The epoch loop of a training run (``python main.py`` without ``--test``).

Each epoch: train, save ``model_last.pth`` (marked ``val_pending`` when a validation follows), every
``--val_intervals`` epochs validate and keep ``model_best.pth`` following the metric's direction,
then the LR drop. Checkpoints hold everything a resume needs; ``next_epoch`` / ``next_step`` let a
run that was interrupted mid-epoch (Ctrl-C, SIGTERM) continue on exactly the batch it stopped at.
No checkpoint is written with non-finite weights or optimizer state: the previous file is kept.
SIGINT / SIGTERM (:class:`~pose3d.train.stop.GracefulStop`) finish the step; the loop then saves
and leaves.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import torch

from pose3d.evaluation.metrics import is_better
from pose3d.evaluation.results import NOT_AVAILABLE, is_number, undefined
from pose3d.train.resume import ResumeState
from pose3d.train.stop import GracefulStop
from pose3d.utils.checkpoint import capture_rng_state, save_checkpoint
from pose3d.utils.distributed import barrier
from pose3d.utils.errors import UserError

log = logging.getLogger(__name__)


def _non_finite(obj, name: str):
    """Yield the names of floating tensors with NaN or inf inside ``obj`` (nested containers)."""
    if torch.is_tensor(obj):
        if obj.is_floating_point() and not bool(torch.isfinite(obj).all()):
            yield name
    elif isinstance(obj, dict):
        for k, v in obj.items():
            yield from _non_finite(v, f"{name}.{k}" if name else str(k))
    elif isinstance(obj, (list, tuple)):
        for k, v in enumerate(obj):
            yield from _non_finite(v, f"{name}.{k}")


def non_finite_tensors(*states) -> list[str]:
    """Names of floating tensors with NaN or inf in (nested) state dicts; empty when all finite."""
    return [name for state in states for name in _non_finite(state, "")]


class TrainingLoop:
    """The epoch loop and what its steps share: checkpoints, the best metric, signals.

    Args:
        opt: resolved options.
        parts: (model, optimizer, scheduler, scaler); ``model`` is the plain module that is
            saved (the trainer steps its DDP / compiled wrapper).
        trainer: the task's trainer, built with ``stop``.
        logger: the run's :class:`~pose3d.utils.logger.Logger`.
        loaders: (train loader, validation loader).
        is_main: rank 0 (the only process that writes).
        stop: the run's :class:`GracefulStop`; its handlers are installed during :meth:`fit`.
        on_step: called with the global step (1-based, counted over epochs) after every step.
    """

    def __init__(self, opt, parts, trainer, logger, loaders, is_main: bool, stop: GracefulStop,
                 on_step: Callable[[int], None] | None = None):
        self.opt, self.trainer, self.logger, self.is_main = opt, trainer, logger, is_main
        self.model, self.optimizer, self.scheduler, self.scaler = parts
        self.train_loader, self.val_loader = loaders
        self.stop, self.on_step = stop, on_step
        self.best: float | None = None
        self.metrics: dict = {}
        self.steps_per_epoch = 0
        self.last_path = Path(opt.save_dir) / "model_last.pth"

    def save(self, name: str, epoch: int, next_epoch: int, next_step: int = 0,
             with_optimizer: bool = True, pending: int | None = None) -> list[str]:
        """Write a checkpoint unless a tensor is non-finite; returns those tensors' names."""
        if not self.is_main:
            return []
        path = Path(self.opt.save_dir) / name
        bad = non_finite_tensors(self.model.state_dict(),
                                 self.optimizer.state_dict() if with_optimizer else {})
        if bad:
            log.error("%s not written: %d tensors hold NaN or inf (first: %s); the previous "
                      "file is kept", path, len(bad), bad[0])
            return bad
        keep = with_optimizer
        save_checkpoint(path, epoch=epoch, model=self.model,
                        optimizer=self.optimizer if keep else None,
                        scaler=self.scaler if keep else None,
                        scheduler=self.scheduler if keep else None, best=self.best,
                        rng=capture_rng_state(), opt=self.opt,
                        extra={"next_epoch": next_epoch, "next_step": next_step,
                               "val_pending": pending})
        return []

    def save_or_stop(self, name: str, epoch: int, next_epoch: int, **kw) -> None:
        bad = self.save(name, epoch, next_epoch, **kw)
        if bad:
            raise UserError(
                f"{Path(self.opt.save_dir) / name}: not overwritten, the model or optimizer state "
                f"holds NaN or inf after epoch {epoch} (first: {bad[0]}); the previous file is "
                "kept; lower --lr or set --grad_clip 5 and train again")

    def validate(self, epoch: int, val_set) -> None:
        """One validation pass; logs the defined metrics and keeps ``model_best.pth``.

        A validation that fails (a ground-truth file that does not fit, say) ends the log line
        with the reason; ``model_last.pth`` of the epoch is already on disk.
        """
        try:
            self.metrics, _, _ = self.trainer.val(epoch, self.val_loader, val_set)
        except UserError as err:
            self.logger.write(f"validation failed: {err}\n")
            raise
        missing = undefined(self.metrics)
        for k, v in self.metrics.items():
            if k in missing:
                self.logger.write(f"{k} {NOT_AVAILABLE} | ")
            elif is_number(v):
                self.logger.scalar_summary(f"val_{k}", v, epoch)
                self.logger.write(f"{k} {v:8f} | ")
        metric = self.opt.metric
        if metric not in self.metrics:
            log.warning("--metric %s is not among the validation metrics (%s); model_best.pth "
                        "is not written", metric, ", ".join(self.metrics))
        elif is_better(metric, self.metrics[metric], self.best):
            self.best = float(self.metrics[metric])
            self.save("model_best.pth", epoch, epoch + 1, with_optimizer=False)

    def stopped(self, text: str) -> None:
        """Leave after a signal: 130 for SIGINT (as Ctrl-C), 143 for SIGTERM."""
        self.logger.write("\n")
        if self.is_main:
            print(f"{text}; continue with --resume.", flush=True)
        self.stop.exit()

    def fit(self, train_set, val_set, sampler, resume: ResumeState) -> dict:
        """Run the epochs ``resume.start_epoch .. --num_epochs``; returns the last validation
        metrics."""
        self.best = resume.best
        skip_steps = resume.skip_steps
        with self.stop:
            if resume.val_pending is not None:
                self.validate_pending(resume.val_pending, val_set)
            for epoch in range(resume.start_epoch, self.opt.num_epochs + 1):
                self.run_epoch(epoch, train_set, val_set, sampler, skip_steps)
                skip_steps = 0
        return self.metrics

    def validate_pending(self, epoch: int, val_set) -> None:
        """Stopped during this epoch's validation: validate before going on."""
        if self.is_main:
            self.logger.write(f"epoch: {epoch} | ")
            self.validate(epoch, val_set)
            self.logger.write("\n")
        self.save_or_stop("model_last.pth", epoch, epoch + 1)
        barrier()

    def step_done(self, epoch: int, step: int) -> None:
        """The trainer's ``on_step``: passes the global step on to ``self.on_step``."""
        if self.on_step is not None:
            self.on_step((epoch - 1) * self.steps_per_epoch + step)

    def run_epoch(self, epoch: int, train_set, val_set, sampler, skip_steps: int) -> None:
        """Train one epoch, save ``model_last.pth``, validate when due, drop the LR."""
        opt, trainer, last = self.opt, self.trainer, self.last_path
        # Stop checks are agreed by all DDP processes (trainer.stop_agreed), so that they all
        # leave at the same point even if the signal reached only some of them.
        if trainer.stop_agreed():
            self.stopped(f"Stopped before epoch {epoch}; {last} holds epoch {epoch - 1}")
        sampler.set_epoch(epoch, skip_steps * opt.batch_size)
        train_set.set_epoch(epoch)
        self.steps_per_epoch = skip_steps + len(self.train_loader)
        stats = trainer.train(epoch, self.train_loader, skip_steps=skip_steps,
                              on_step=self.step_done)
        if trainer.interrupt_requested and trainer.step_in_epoch < self.steps_per_epoch:
            step = trainer.step_in_epoch
            bad = self.save("model_last.pth", epoch - 1, epoch, step)
            self.stopped(f"Interrupted at epoch {epoch} step {step}; " + (
                f"nothing saved (non-finite state {bad[0]})" if bad else f"saved {last}"))
        # stats are already combined over the DDP processes (all_reduce_meters)
        self.logger.write(f"epoch: {epoch} |")
        for k, v in stats.items():
            self.logger.scalar_summary(f"train_{k}", v, epoch)
            self.logger.write(f"{k} {v:8f} | ")
        self.scheduler.step()
        val_now = opt.val_intervals > 0 and epoch % opt.val_intervals == 0
        self.save_or_stop("model_last.pth", epoch, epoch + 1, pending=epoch if val_now else None)
        if val_now and opt.save_all_models:
            self.save_or_stop(f"model_{epoch}.pth", epoch, epoch + 1)
        if trainer.stop_agreed():
            self.stopped(f"Stopped after epoch {epoch}; saved {last}")
        if val_now:
            if self.is_main:
                self.validate(epoch, val_set)
                self.save_or_stop("model_last.pth", epoch, epoch + 1)
            barrier()
        self.logger.write("\n")
        if epoch in opt.lr_step and self.is_main:
            print(f"Drop LR to {self.optimizer.param_groups[0]['lr']}")
        if epoch < opt.num_epochs and trainer.stop_agreed():
            self.stopped(f"Stopped after epoch {epoch}; saved {last}")
