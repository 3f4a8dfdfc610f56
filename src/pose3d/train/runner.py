"""The training / testing flow of the original ``main.py``.

Fail fast, then run: flags this command would ignore -> device and precision (apex) -> every
dataset file of the run -> the checkpoint (``--load_model`` / ``--resume``) -> the network (the
only point where ImageNet weights may be downloaded) and its weights -> the experiment folder and
log (DDP under torchrun) -> ``--test``: one pass, results.json and exit; else the epoch loop
(:class:`pose3d.train.loop.TrainingLoop`). A run that stops before writing a checkpoint or
results removes the experiment folder it created; a folder that existed is never touched.

Resume guarantee (CPU, same flags and seed): ``--resume`` ends with the same weights, bit for
bit, as the run that was never interrupted. SIGINT / SIGTERM finish the current step, write
``model_last.pth`` for that exact step and exit (130 / 143); a second signal stops at once
without saving (the previous checkpoint stays intact). SIGKILL (or a crash) cannot be caught:
the resume starts again from the last epoch boundary, because ``model_last.pth`` is written
after every epoch. ``--resume`` before any checkpoint exists starts from epoch 1. An epoch
boundary checkpoint written before validation is marked ``val_pending``, so a run stopped
during validation validates that epoch on resume and ``best`` / ``model_best.pth`` are the same
as in the uninterrupted run.
"""
from __future__ import annotations

import logging
import os
import shutil
import signal
from collections.abc import Callable
from pathlib import Path

import cv2
import torch
from torch.utils.data import DataLoader

from pose3d.datasets import DataConfig, get_dataset
from pose3d.evaluation.metrics import METRICS_HIGHER_IS_BETTER
from pose3d.evaluation.results import (NOT_AVAILABLE, defined, format_metric, undefined,
                                       write_results)
from pose3d.losses import build_loss
from pose3d.models import ModelSpec, build_from_spec, parse_arch
from pose3d.train import TRAINERS
from pose3d.train.base import WorkerSafeDataset, collate_batch
from pose3d.train.loop import TrainingLoop, non_finite_tensors
from pose3d.train.resume import ResumeState, restore_training_state
from pose3d.train.sampler import EpochSampler
from pose3d.train.stop import GracefulStop
from pose3d.utils import device as dev
from pose3d.utils import distributed as dist
from pose3d.utils.checkpoint import load_checkpoint, load_model_weights
from pose3d.utils.errors import CheckpointError, UserError
from pose3d.utils.logger import Logger
from pose3d.utils.precision import build_scaler

log = logging.getLogger(__name__)


def build_optimizer(opt, model: torch.nn.Module) -> torch.optim.Optimizer:
    """Adam (lr, weight decay) or SGD (lr, momentum) as the fork's ``get_optimizer``."""
    if opt.optim_type.lower() == "adam":
        return torch.optim.Adam(model.parameters(), lr=opt.lr, weight_decay=opt.weight_decay)
    # The fork's SGD ignores --weight_decay; kept so NPU recipes reproduce.
    return torch.optim.SGD(model.parameters(), lr=opt.lr, momentum=opt.momentum)


def build_model(opt, pretrained: bool = False) -> torch.nn.Module:
    """The network the options ask for (the same builder the demo and ONNX export use)."""
    return build_from_spec(ModelSpec.from_opt(opt), pretrained=pretrained)


def _worker_init(_worker_id: int) -> None:
    # Ctrl-C reaches the whole process group; the main process handles it (it finishes the step,
    # saves and stops the workers). A SIGTERM to the group ends a worker quietly: killed by the
    # signal, the main process would get an error from its SIGCHLD handler in the middle of the
    # step it is about to save. SIGTERM must still end it: that is how it is stopped at exit.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))


def make_loader(dataset, opt, batch_size: int, sampler=None, workers: int = 0,
                device: torch.device | None = None, drop_last: bool = False) -> DataLoader:
    # Own generator: creating an iterator then draws nothing from the global torch RNG, whose
    # state is part of the checkpoint.
    gen = torch.Generator()
    gen.manual_seed(int(getattr(opt, "random_seed", 0)))
    if workers > 0:
        # Each worker decodes and warps its own samples: OpenCV's thread pool would only
        # oversubscribe the cores the workers share. Set here, before the workers fork, and
        # inherited: a forked worker that resizes the pool the parent already started can hang.
        cv2.setNumThreads(1)
    return DataLoader(WorkerSafeDataset(dataset), batch_size=batch_size, sampler=sampler,
                      shuffle=False, num_workers=workers, collate_fn=collate_batch,
                      pin_memory=device is not None and device.type == "cuda",
                      persistent_workers=workers > 0, drop_last=drop_last,
                      worker_init_fn=_worker_init if workers > 0 else None, generator=gen)


def check_run_flags(opt) -> None:
    """Refuse flags this command would ignore, before anything is read or written."""
    demo_only = [flag for flag, on in (("--demo", opt.demo), ("--bbox", opt.bbox),
                                       ("--show", opt.show)) if on]
    if demo_only:
        raise UserError(f"{', '.join(demo_only)}: read by demo.py only; run python src/demo.py "
                        "--demo PATH (main.py trains and tests)")
    if not opt.test and opt.backend != "pytorch":
        raise UserError(f"--backend {opt.backend}: only --test and the demo run through it; "
                        "train with the default --backend pytorch")
    if not opt.test and opt.metric not in METRICS_HIGHER_IS_BETTER:
        raise UserError(f"--metric {opt.metric}: unknown validation metric; choose from "
                        f"{', '.join(METRICS_HIGHER_IS_BETTER)}")


def load_datasets(opt) -> tuple:
    """The validation set and, when training, the training set: every annotation file is read
    here, so missing data stops the run before a network is built or weights downloaded.

    Returns:
        (val_set, train_set or None).
    """
    cfg = DataConfig.from_opt(opt)
    Dataset = get_dataset(opt.dataset)
    val_set = Dataset("val", opt.data_dir, cfg)
    return val_set, (None if opt.test else Dataset("train", opt.data_dir, cfg))


def read_checkpoint(opt) -> tuple[str, dict | None]:
    """Read ``--load_model`` / the ``--resume`` checkpoint (before any network is built).

    Returns:
        (path read, checkpoint), or ``("", None)`` when there is none to load (also ``--resume``
        before the first checkpoint exists: that run starts from epoch 1).

    Raises:
        CheckpointError: missing, unreadable or non-finite file.
    """
    if opt.resume and not opt.test and opt.load_model and not os.path.exists(opt.load_model):
        log.warning("--resume: %s does not exist yet; starting from epoch 1", opt.load_model)
        return "", None
    if not opt.load_model:
        return "", None
    return opt.load_model, _read_finite(opt.load_model)


def _read_finite(path: str | os.PathLike) -> dict:
    """:func:`load_checkpoint`, refusing weights that hold NaN or inf."""
    ckpt = load_checkpoint(path)
    bad = non_finite_tensors(ckpt["state_dict"])
    if bad:
        raise CheckpointError(f"{path}: {len(bad)} weight tensors hold NaN or inf (first: "
                              f"{bad[0]}); use an earlier checkpoint")
    return ckpt


def run(opt, on_step: Callable[[int], None] | None = None) -> dict:
    """Train or test as the options say; returns the last metrics.

    Everything a user can get wrong is checked first (flags, the datasets' files, the
    checkpoint, the device), then the network is built (the only point where ImageNet weights
    may be downloaded), and only then the experiment folder is written. A run that stops before
    it wrote a checkpoint or results removes the folder it created.

    Args:
        opt: options from :func:`pose3d.opts.parse` (read, never changed).
        on_step: training only: called with the global step (1-based, over epochs) after each
            step.
    """
    rank, local_rank, world = dist.dist_env()
    device = dev.resolve_device(opt.device, opt.gpus, local_rank)
    check_run_flags(opt)
    scaler = build_scaler(device, opt.amp, opt.apex)  # --apex without apex: one line now
    val_set, train_set = load_datasets(opt)
    ckpt_path, ckpt = read_checkpoint(opt)
    if world > 1:
        dist.init_distributed(device)
    is_main = rank == 0
    dev.set_cudnn(opt.disable_cudnn)
    dev.seed_everything(opt.random_seed)
    model = _model_with_weights(opt, ckpt_path, ckpt)
    save_dir = Path(opt.save_dir)
    existed = save_dir.exists()
    logger = _open_logger(opt, is_main)
    finished = False
    try:
        for ds in (val_set, train_set):
            if getattr(ds, "note", ""):
                logger.write(f"data: {ds.note}\n")
        setup = (model, scaler, ckpt_path, ckpt)
        metrics = (_test(opt, device, is_main, logger, setup, val_set) if opt.test
                   else _train(opt, device, (rank, world), logger, setup, (val_set, train_set),
                               on_step))
        finished = True
        return metrics
    finally:
        logger.close()
        if world > 1:
            dist.cleanup()
        if is_main and not finished and not existed:
            _remove_if_unused(save_dir)


def _model_with_weights(opt, ckpt_path: str, ckpt: dict | None) -> torch.nn.Module:
    """The network, with the checkpoint's weights or (training from scratch) ImageNet's."""
    family, _ = parse_arch(opt.arch)
    model = build_model(opt, pretrained=(not opt.test and ckpt is None and not opt.no_pretrained
                                         and family == "msra"))
    if ckpt is not None:
        load_model_weights(model, ckpt["state_dict"], opt.arch, source=ckpt_path)
        print(f"Loaded {ckpt_path}, epoch {ckpt.get('epoch', 0)}")
    return model


def _open_logger(opt, is_main: bool) -> Logger:
    try:
        return Logger(opt, enabled=is_main)
    except OSError as err:
        raise UserError(f"--save_dir {opt.save_dir}: cannot write the experiment folder "
                        f"({err.strerror or type(err).__name__}: {err.filename or ''}); choose a "
                        "writable --exp_dir or --save_dir") from None


def _remove_if_unused(save_dir: Path) -> None:
    """Delete an experiment folder this run created when it holds no checkpoint and no results
    (only the options and an empty log): a run that never started leaves nothing behind."""
    if any(p.suffix == ".pth" or p.name == "results.json" for p in save_dir.rglob("*")):
        return
    shutil.rmtree(save_dir, ignore_errors=True)


def prepare_for_run(opt, device, model, scaler, train: bool) -> dev.PreparedModel:
    """:func:`pose3d.utils.device.prepare_model` with the run's flags and optimizer.

    Training wraps the network in DDP (under torchrun) and compiles the wrapper (``--compile``);
    ``--test`` compiles the plain model (rank 0 alone evaluates). Validation during training
    stays eager: one compiled graph is enough.
    """
    optimizer = build_optimizer(opt, model)
    # No loss term reaches the depth head with --weight_3d 0 --weight_var 0 (human3d); DDP must
    # be told, else its second step fails waiting for those gradients.
    unused = "depth" in opt.heads and opt.weight_3d == 0 and opt.weight_var == 0
    return dev.prepare_model(model, device, channels_last=opt.channels_last,
                             compile=opt.compile, ddp=train, find_unused_parameters=unused,
                             optimizer=optimizer, scaler=scaler)


def _val_loader(opt, val_set, device) -> DataLoader:
    return make_loader(val_set, opt, batch_size=min(opt.batch_size, 32),
                       workers=min(opt.num_workers, 2), device=device)


def _eval_model(opt, net: torch.nn.Module):
    """What ``--test`` evaluates: ``net``, or the ONNX model under ``--backend onnxruntime``."""
    if opt.backend != "onnxruntime":
        return net
    from pose3d.onnx_backend import load_onnx_or_export

    if not opt.load_model:
        raise UserError("--backend onnxruntime: give the checkpoint to export with --load_model")
    return load_onnx_or_export(opt.load_model, opt.arch, opt.heads, (opt.input_h, opt.input_w))


def _test(opt, device, is_main: bool, logger, setup, val_set) -> dict:
    """``--test``: one validation pass on rank 0, results.json, the report."""
    model, scaler, _, _ = setup
    prepared = prepare_for_run(opt, device, model, scaler, train=False)
    if not is_main:
        return {}
    trainer = TRAINERS[opt.task](opt, prepared.net,
                                 build_loss(opt.task, opt.weight_3d, opt.weight_var),
                                 prepared.optimizer, scaler, device, is_main,
                                 eval_model=_eval_model(opt, prepared.net))
    metrics, results, store = trainer.val(0, _val_loader(opt, val_set, device), val_set)
    write_results([opt.save_dir, logger.log_dir],
                  {"exp_id": opt.exp_id, "dataset": opt.dataset, "task": opt.task,
                   **({"data": val_set.note} if getattr(val_set, "note", "") else {})},
                  metrics, results, store)
    logger.write("Evaluation: " + " | ".join(f"{k}: {format_metric(v)}" for k, v in
                                               metrics.items()) + " | \n")
    print(trainer.report(defined(metrics), results))
    for name in undefined(metrics):
        print(f"{name}: {NOT_AVAILABLE}")
    return metrics


def _train(opt, device, rank_world: tuple[int, int], logger, setup, datasets,
           on_step: Callable[[int], None] | None) -> dict:
    model, scaler, ckpt_path, ckpt = setup
    val_set, train_set = datasets
    rank, world = rank_world
    is_main = rank == 0
    model, net, optimizer = prepare_for_run(opt, device, model, scaler, train=True)
    scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, opt.lr_step, gamma=0.1)
    resume = ResumeState()
    if ckpt is not None and opt.resume:
        # After prepare_for_run: the optimizer puts its state on its parameters' device.
        resume = restore_training_state(ckpt, ckpt_path, opt.optim_type, optimizer, scheduler,
                                        scaler)
    stop = GracefulStop()
    trainer = TRAINERS[opt.task](opt, net, build_loss(opt.task, opt.weight_3d, opt.weight_var),
                                 optimizer, scaler, device, is_main, eval_model=model, stop=stop)
    sampler = EpochSampler(len(train_set), opt.random_seed, world, rank)
    # BatchNorm cannot train on one sample with 1x1 features (the hourglass depth regressor):
    # a last batch of a single sample is left out; the shuffled order makes it another sample
    # each epoch.
    lone = sampler.per_rank > opt.batch_size and sampler.per_rank % opt.batch_size == 1
    loaders = (make_loader(train_set, opt, opt.batch_size, sampler, opt.num_workers, device,
                           drop_last=lone),
               _val_loader(opt, val_set, device))
    loop = TrainingLoop(opt, (model, optimizer, scheduler, scaler), trainer, logger, loaders,
                        is_main, stop, on_step)
    return loop.fit(train_set, val_set, sampler, resume)


def load_weights(model: torch.nn.Module, path: str | os.PathLike, arch: str) -> dict:
    """Read a checkpoint (``weights_only``) and load its weights strictly into ``model``.

    Returns:
        The checkpoint dict (see :func:`pose3d.utils.checkpoint.load_checkpoint`).

    Raises:
        CheckpointError: missing, unreadable or foreign file, weights of another architecture or
            number of joints, or weights that hold NaN / inf.
    """
    ckpt = _read_finite(path)
    load_model_weights(model, ckpt["state_dict"], arch, source=path)
    return ckpt
