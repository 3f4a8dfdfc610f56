"""The training / testing flow of the original ``main.py``, one visible loop.

parse -> device (+ DDP under torchrun) -> logger -> model, optimizer, scheduler, scaler ->
load / resume -> val loader (``--test``: one pass, results and exit) -> train loader -> for each
epoch: train, save ``model_last``, every ``--val_intervals`` validate and keep ``model_best``
following the metric's direction, then the LR drop.

Checkpoints hold everything a resume needs; ``next_epoch``/``next_step`` let a run that was
interrupted mid-epoch (Ctrl-C, SIGTERM) continue on exactly the batch it stopped at.

Resume guarantee (CPU, same flags and seed): ``--resume`` ends with the same weights, bit for
bit, as the run that was never interrupted. SIGINT / SIGTERM finish the current step, write
``model_last.pth`` for that exact step and exit (130 / 143); a second signal stops at once
without saving (the previous checkpoint stays intact). SIGKILL (or a crash) cannot be caught:
the resume starts again from the last epoch boundary, because ``model_last.pth`` is written
after every epoch. ``--resume`` before any checkpoint exists starts from epoch 1. An epoch
boundary checkpoint written before validation is marked ``val_pending``, so a run stopped
during validation validates that epoch on resume and ``best`` / ``model_best.pth`` are the same
as in the uninterrupted run.

No checkpoint is written with non-finite weights or optimizer state: the previous file is kept
and the run stops with one line.
"""
from __future__ import annotations

import json
import logging
import os
import signal
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from pose3d.datasets import DataConfig, get_dataset
from pose3d.evaluation.metrics import METRICS_HIGHER_IS_BETTER, is_better
from pose3d.losses import build_loss
from pose3d.models import create_model, parse_arch
from pose3d.train import TRAINERS
from pose3d.train.base import WorkerSafeDataset, collate_batch
from pose3d.train.sampler import EpochSampler
from pose3d.utils import device as dev
from pose3d.utils.checkpoint import (capture_rng_state, load_checkpoint, load_model_weights,
                                     restore_rng_state, save_checkpoint)
from pose3d.utils.errors import CheckpointError, UserError
from pose3d.utils.logger import Logger

log = logging.getLogger(__name__)


def build_optimizer(opt, model: torch.nn.Module) -> torch.optim.Optimizer:
    """Adam (lr, weight decay) or SGD (lr, momentum) as the fork's ``get_optimizer``."""
    if opt.optim_type.lower() == "adam":
        return torch.optim.Adam(model.parameters(), lr=opt.lr, weight_decay=opt.weight_decay)
    # The fork's SGD ignores --weight_decay; kept so NPU recipes reproduce.
    return torch.optim.SGD(model.parameters(), lr=opt.lr, momentum=opt.momentum)


def build_model(opt, pretrained: bool = False) -> torch.nn.Module:
    return create_model(opt.arch, opt.heads, num_stacks=opt.num_stacks,
                        num_modules=opt.num_modules, num_features=opt.num_features,
                        input_hw=(opt.input_h, opt.input_w), pretrained=pretrained)


def _worker_init(_worker_id: int) -> None:
    # Ctrl-C reaches the whole process group; the main process handles it (it finishes the step,
    # saves and stops the workers). A SIGTERM to the group ends a worker quietly: killed by the
    # signal, the main process would get an error from its SIGCHLD handler in the middle of the
    # step it is about to save. SIGTERM must still end it: that is how it is stopped at exit.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))


def make_loader(dataset, opt, batch_size: int, sampler=None, workers: int = 0,
                device: torch.device | None = None) -> DataLoader:
    # Own generator: creating an iterator then draws nothing from the global torch RNG, whose
    # state is part of the checkpoint.
    gen = torch.Generator()
    gen.manual_seed(int(getattr(opt, "random_seed", 0)))
    return DataLoader(WorkerSafeDataset(dataset), batch_size=batch_size, sampler=sampler,
                      shuffle=False, num_workers=workers, collate_fn=collate_batch,
                      pin_memory=device is not None and device.type == "cuda",
                      persistent_workers=workers > 0, drop_last=False,
                      worker_init_fn=_worker_init if workers > 0 else None, generator=gen)


def non_finite_tensors(*states) -> list[str]:
    """Names of floating tensors with NaN or inf in (nested) state dicts; empty when all finite."""
    bad: list[str] = []

    def visit(obj, name: str) -> None:
        if torch.is_tensor(obj):
            if obj.is_floating_point() and not bool(torch.isfinite(obj).all()):
                bad.append(name)
        elif isinstance(obj, dict):
            for k, v in obj.items():
                visit(v, f"{name}.{k}" if name else str(k))
        elif isinstance(obj, (list, tuple)):
            for k, v in enumerate(obj):
                visit(v, f"{name}.{k}")

    for state in states:
        visit(state, "")
    return bad


def write_results(opt, logger, metrics: dict, results: dict, store: dict) -> None:
    """results.json (+ preds.mat and preds_3d.npz) in the experiment and log folders."""
    from scipy.io import savemat

    payload = {"exp_id": opt.exp_id, "dataset": opt.dataset, "task": opt.task,
               "metrics": metrics, **results,
               "higher_is_better": {k: METRICS_HIGHER_IS_BETTER.get(k) for k in metrics
                                    if k in METRICS_HIGHER_IS_BETTER}}
    text = json.dumps(payload, indent=2, default=_jsonable)
    for folder in {Path(opt.save_dir), Path(logger.log_dir)}:
        (folder / "results.json").write_text(text)
    if "preds_2d" in store:
        savemat(str(Path(opt.save_dir) / "preds.mat"), {"preds": np.asarray(store["preds_2d"])})
    if "pred_3d" in store:
        np.savez(Path(opt.save_dir) / "preds_3d.npz",
                 **{k: np.asarray(v) for k, v in store.items()})


def _jsonable(x):
    if isinstance(x, (np.floating, np.integer)):
        return x.item()
    if isinstance(x, np.ndarray):
        return x.tolist()
    return str(x)


def run(opt) -> dict:
    """Train or test as the options say; returns the last metrics."""
    rank, local_rank, world = dev.dist_env()
    device = dev.resolve_device(opt.device, opt.gpus, local_rank)
    if world > 1:
        dev.init_distributed(device)
    is_main = rank == 0
    dev.set_cudnn(opt.disable_cudnn)
    dev.seed_everything(opt.random_seed)
    if not opt.test and opt.metric not in METRICS_HIGHER_IS_BETTER:
        raise UserError(f"--metric {opt.metric}: unknown validation metric; choose from "
                        f"{', '.join(METRICS_HIGHER_IS_BETTER)}")
    try:
        logger = Logger(opt, enabled=is_main)
    except OSError as err:
        raise UserError(f"--save_dir {opt.save_dir}: cannot write the experiment folder "
                        f"({err.strerror or type(err).__name__}: {err.filename or ''}); choose a "
                        "writable --exp_dir or --save_dir") from None
    try:
        return _run(opt, device, rank, world, is_main, logger)
    finally:
        logger.close()
        if world > 1:
            dev.cleanup()


def _run(opt, device, rank: int, world: int, is_main: bool, logger) -> dict:
    cfg = DataConfig.from_opt(opt)
    Dataset = get_dataset(opt.dataset)
    training = not opt.test
    if opt.resume and training and opt.load_model and not os.path.exists(opt.load_model):
        # Nothing saved yet (e.g. killed during the first epoch): the same as a fresh run.
        log.warning("--resume: %s does not exist yet; starting from epoch 1", opt.load_model)
        opt.load_model = ""
    family, _ = parse_arch(opt.arch)
    model = build_model(opt, pretrained=(training and not opt.load_model and not opt.no_pretrained
                                            and family == "msra"))
    optimizer = build_optimizer(opt, model)
    scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, opt.lr_step, gamma=0.1)
    scaler = dev.build_scaler(device, opt.amp, opt.apex)
    start_epoch, skip_steps, best = 1, 0, None

    val_pending = None
    ckpt = None
    if opt.load_model:
        ckpt = load_weights(model, opt.load_model, opt.arch)
        print(f"Loaded {opt.load_model}, epoch {ckpt.get('epoch', 0)}")

    model.to(device)
    if opt.channels_last:
        model.to(memory_format=torch.channels_last)
    if isinstance(scaler, dev.ApexScaler):
        model, optimizer = scaler.initialize(model, optimizer)
    if ckpt is not None and opt.resume:
        # After model.to(device): the optimizer puts its state on its parameters' device.
        start_epoch, skip_steps, best, val_pending = _restore_training_state(
            opt, ckpt, optimizer, scheduler, scaler)
    # No loss term reaches the depth head with --weight_3d 0 --weight_var 0 (human3d); DDP must
    # be told, else its second step fails waiting for those gradients.
    unused = "depth" in opt.heads and opt.weight_3d == 0 and opt.weight_var == 0
    net = dev.wrap_distributed(model, device, find_unused_parameters=unused)
    if opt.compile:
        net = torch.compile(net)

    loss_fn = build_loss(opt.task, opt.weight_3d, opt.weight_var)
    val_set = Dataset("val", opt.data_dir, cfg)
    trainer = TRAINERS[opt.task](opt, net, loss_fn, optimizer, scaler, device, is_main)
    val_loader = make_loader(val_set, opt, batch_size=min(opt.batch_size, 32),
                             workers=min(opt.num_workers, 2), device=device)

    if opt.test:
        metrics = {}
        if is_main:
            # --test --compile: compile the plain model (net may be DDP-wrapped; rank 0 alone
            # evaluates). Validation during training stays eager: one compiled graph is enough.
            trainer.model = torch.compile(model) if opt.compile else model
            if opt.backend == "onnxruntime":
                from pose3d.onnx_backend import load_onnx_or_export

                if not opt.load_model:
                    raise UserError("--backend onnxruntime: give the checkpoint to export "
                                    "with --load_model")
                trainer.model = load_onnx_or_export(opt.load_model, opt.arch, opt.heads,
                                                    (opt.input_h, opt.input_w))
            metrics, results, store = trainer.val(0, val_loader, val_set)
            write_results(opt, logger, metrics, results, store)
            logger.write("Evaluation: " + " | ".join(f"{k}: {_fmt(v)}" for k, v in
                                                       metrics.items()) + " | \n")
            print(trainer.report(metrics, results))
        return metrics

    train_set = Dataset("train", opt.data_dir, cfg)
    sampler = EpochSampler(len(train_set), opt.random_seed, world, rank)
    train_loader = make_loader(train_set, opt, opt.batch_size, sampler, opt.num_workers, device)
    steps_per_epoch = -(-sampler.per_rank // opt.batch_size)
    metric = opt.metric
    last_path = Path(opt.save_dir) / "model_last.pth"

    def save(name: str, epoch: int, next_epoch: int, next_step: int = 0,
             with_optimizer: bool = True, pending: int | None = None) -> list[str]:
        """Write a checkpoint unless a tensor is non-finite; returns those tensors' names."""
        if not is_main:
            return []
        bad = non_finite_tensors(model.state_dict(),
                                 optimizer.state_dict() if with_optimizer else {})
        if bad:
            log.error("%s not written: %d tensors hold NaN or inf (first: %s); the previous "
                      "file is kept", Path(opt.save_dir) / name, len(bad), bad[0])
            return bad
        save_checkpoint(Path(opt.save_dir) / name, epoch=epoch, model=model,
                        optimizer=optimizer if with_optimizer else None,
                        scaler=scaler if with_optimizer else None,
                        scheduler=scheduler if with_optimizer else None, best=best,
                        rng=capture_rng_state(), opt=opt,
                        extra={"next_epoch": next_epoch, "next_step": next_step,
                               "val_pending": pending})
        return []

    def save_or_stop(name: str, epoch: int, next_epoch: int, **kw) -> None:
        bad = save(name, epoch, next_epoch, **kw)
        if bad:
            raise UserError(
                f"{Path(opt.save_dir) / name}: not overwritten, the model or optimizer state holds "
                f"NaN or inf after epoch {epoch} (first: {bad[0]}); the previous file is kept; "
                "lower --lr or set --grad_clip 5 and train again")

    def validate(epoch: int) -> None:
        nonlocal best, metrics
        trainer.model = model
        metrics, _, _ = trainer.val(epoch, val_loader, val_set)
        trainer.model = net
        for k, v in metrics.items():
            if isinstance(v, (int, float)):
                logger.scalar_summary(f"val_{k}", v, epoch)
                logger.write(f"{k} {v:8f} | ")
        if metric not in metrics:
            log.warning("--metric %s is not among the validation metrics (%s); model_best.pth "
                        "is not written", metric, ", ".join(metrics))
        elif is_better(metric, metrics[metric], best):
            best = float(metrics[metric])
            save("model_best.pth", epoch, epoch + 1, with_optimizer=False)

    stop = {"signal": None}

    def _on_signal(signum, _frame):
        if stop["signal"] is not None:
            # Second signal: stop now; the last checkpoint on disk is complete (atomic writes).
            raise KeyboardInterrupt
        stop["signal"] = signum
        trainer.interrupt_requested = True

    def stopped(text: str) -> None:
        """Leave after a signal: 130 for SIGINT (as Ctrl-C), 143 for SIGTERM."""
        logger.write("\n")
        if is_main:
            print(f"{text}; continue with --resume.", flush=True)
        if stop["signal"] == signal.SIGTERM:
            raise SystemExit(128 + signal.SIGTERM)
        raise KeyboardInterrupt

    old_handlers = {s: signal.signal(s, _on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    metrics: dict = {}
    try:
        if val_pending is not None and training:
            # Stopped during this epoch's validation: validate before going on.
            if is_main:
                logger.write(f"epoch: {val_pending} | ")
                validate(val_pending)
                logger.write("\n")
            save_or_stop("model_last.pth", val_pending, val_pending + 1)
            dev.barrier()
        for epoch in range(start_epoch, opt.num_epochs + 1):
            # Stop checks are agreed by all DDP processes (trainer.stop_agreed), so that they
            # all leave at the same point even if the signal reached only some of them.
            if trainer.stop_agreed():
                stopped(f"Stopped before epoch {epoch}; {last_path} holds epoch {epoch - 1}")
            sampler.set_epoch(epoch, skip_steps * opt.batch_size)
            train_set.set_epoch(epoch)
            stats = trainer.train(epoch, train_loader, skip_steps=skip_steps)
            if trainer.interrupt_requested and trainer.step_in_epoch < steps_per_epoch:
                step = trainer.step_in_epoch
                bad = save("model_last.pth", epoch - 1, epoch, step)
                stopped(f"Interrupted at epoch {epoch} step {step}; " + (
                    f"nothing saved (non-finite state {bad[0]})" if bad else f"saved {last_path}"))
            skip_steps = 0
            # stats are already combined over the DDP processes (BaseTrainer._reduce_meters)
            logger.write(f"epoch: {epoch} |")
            for k, v in stats.items():
                logger.scalar_summary(f"train_{k}", v, epoch)
                logger.write(f"{k} {v:8f} | ")
            scheduler.step()
            val_now = opt.val_intervals > 0 and epoch % opt.val_intervals == 0
            save_or_stop("model_last.pth", epoch, epoch + 1, pending=epoch if val_now else None)
            if val_now and opt.save_all_models:
                save_or_stop(f"model_{epoch}.pth", epoch, epoch + 1)
            if trainer.stop_agreed():
                stopped(f"Stopped after epoch {epoch}; saved {last_path}")
            if val_now:
                if is_main:
                    validate(epoch)
                    save_or_stop("model_last.pth", epoch, epoch + 1)
                dev.barrier()
            logger.write("\n")
            if epoch in opt.lr_step and is_main:
                print(f"Drop LR to {optimizer.param_groups[0]['lr']}")
            if epoch < opt.num_epochs and trainer.stop_agreed():
                stopped(f"Stopped after epoch {epoch}; saved {last_path}")
    finally:
        for s, h in old_handlers.items():
            signal.signal(s, h)
    return metrics


def load_weights(model: torch.nn.Module, path: str | os.PathLike, arch: str) -> dict:
    """Read a checkpoint (``weights_only``) and load its weights strictly into ``model``.

    Returns:
        The checkpoint dict (see :func:`pose3d.utils.checkpoint.load_checkpoint`).

    Raises:
        CheckpointError: missing, unreadable or foreign file, weights of another architecture or
            number of joints, or weights that hold NaN / inf.
    """
    ckpt = load_checkpoint(path)
    bad = non_finite_tensors(ckpt["state_dict"])
    if bad:
        raise CheckpointError(f"{path}: {len(bad)} weight tensors hold NaN or inf (first: "
                              f"{bad[0]}); use an earlier checkpoint")
    load_model_weights(model, ckpt["state_dict"], arch, source=path)
    return ckpt


def _restore_training_state(opt, ckpt: dict, optimizer, scheduler, scaler
                            ) -> tuple[int, int, float | None, int | None]:
    """Load optimizer, scheduler, scaler and random state for ``--resume``.

    Returns:
        (first epoch to run, steps of it already done, best metric, epoch whose validation was
        interrupted or None).

    Raises:
        CheckpointError: the state does not fit the current flags or is malformed.
    """
    path = opt.load_model
    saved_optim = str((ckpt.get("opt") or {}).get("optim_type") or "").lower()
    if ckpt.get("optimizer") and saved_optim and saved_optim != opt.optim_type.lower():
        raise CheckpointError(f"{path}: written with --optim_type {saved_optim}, resumed with "
                              f"--optim_type {opt.optim_type}; resume with --optim_type "
                              f"{saved_optim}, or start a new run with --load_model {path}")
    try:
        if ckpt.get("optimizer"):
            optimizer.load_state_dict(ckpt["optimizer"])
        if ckpt.get("scheduler"):
            scheduler.load_state_dict(ckpt["scheduler"])
        if ckpt.get("scaler"):
            scaler.load_state_dict(ckpt["scaler"])
        if ckpt.get("rng"):
            restore_rng_state(ckpt["rng"])
        best = None if ckpt.get("best") is None else float(ckpt["best"])
        start_epoch = int(ckpt.get("next_epoch") or int(ckpt.get("epoch") or 0) + 1)
        skip_steps = int(ckpt.get("next_step") or 0)
        pending = None if ckpt.get("val_pending") is None else int(ckpt["val_pending"])
    except (ValueError, KeyError, TypeError, RuntimeError, IndexError) as err:
        detail = " ".join(str(err).split())[:160]
        raise CheckpointError(f"{path}: its training state cannot be restored "
                              f"({type(err).__name__}: {detail}); resume with the flags of the "
                              f"run that wrote it, or start a new run with --load_model {path}"
                              ) from None
    if start_epoch < 1 or skip_steps < 0:
        raise CheckpointError(f"{path}: next_epoch {start_epoch} / next_step {skip_steps} are "
                              "invalid; use another checkpoint")
    return start_epoch, skip_steps, best, pending


def _fmt(v) -> str:
    return f"{v:.6f}" if isinstance(v, float) else str(v)
