"""``train`` section: images/s and peak memory of the trainer's own training step.

The model, optimizer, scaler, loss and trainer are built as ``train/runner.py`` builds them from
the parsed options (``build_model``, ``build_optimizer``, ``build_scaler``, ``build_loss``,
``TRAINERS[opt.task]``), with ``--channels_last`` / ``--compile`` applied by the runner's own
``prepare_for_run``, and each timed call is ``trainer.train(epoch, [batch])``: one step of the
shipped loop (autocast forward, float32 losses with the vectorised bone loss, non-finite guard,
BatchNorm snapshot, backward through the scaler, optimizer step, batch metrics). The batch is fixed and in memory
(half 3D samples, half 2D), so the figure leaves data loading out; the ``data`` section has it.
"""
from __future__ import annotations

import gc

import numpy as np
import torch

from pose3d.datasets.heatmap import depth_index, draw_gaussian_targets
from pose3d.losses import build_loss
from pose3d.skeleton import H36M17
from pose3d.train import TRAINERS
from pose3d.train.base import collate_batch
from pose3d.train.runner import build_model, prepare_for_run
from pose3d.utils import device as dev
from pose3d.utils.precision import build_scaler

from .timing import MIB, PeakMemory, error_text, tensor_bytes, time_call
from .variants import user_opt


def make_train_batch(batch: int, input_hw: tuple[int, int], output_hw: tuple[int, int],
                     num_joints: int, seed: int = 0) -> dict:
    """A collated batch in the datasets' sample format.

    The first half are 3D samples (depth targets, ``reg_mask`` on), the rest 2D samples
    (visibility in ``reg_target``, ``reg_mask`` off), as a fusion batch.

    Returns:
        ``{'input': (B, 3, H, W), 'target': (B, K, h, w), 'reg_target': (B, K, 1),
        'reg_ind': (B, K), 'reg_mask': (B, K), 'meta': {...}}``.
    """
    rng = np.random.default_rng(seed)
    (height, width), (out_h, out_w) = input_hw, output_hw
    n3d = batch // 2 if batch > 1 else 1
    samples = []
    for i in range(batch):
        is_3d = i < n3d
        pts = np.stack([rng.integers(0, out_w, num_joints),
                        rng.integers(0, out_h, num_joints)], 1).astype(np.int32)
        vis = rng.random(num_joints) > 0.1
        pts[~vis] = 0
        if is_3d:
            reg_target = np.where(vis, rng.normal(0.0, 0.15, num_joints), 0.0)
            reg_mask = vis.astype(np.uint8)
            gt_3d = rng.normal(0.0, 300.0, (H36M17.num_joints, 3)).astype(np.float32)
        else:
            reg_target = vis.astype(np.float64)
            reg_mask = np.zeros(num_joints, np.uint8)
            gt_3d = np.zeros((H36M17.num_joints, 3), np.float32)
        scale = np.array([width, height], np.float64)
        samples.append({
            "input": rng.standard_normal((3, height, width), np.float32),
            "target": draw_gaussian_targets(pts, vis, out_h, out_w, 2.0),
            "reg_target": reg_target.astype(np.float32)[:, None],
            "reg_ind": depth_index(pts, out_w, num_joints),
            "reg_mask": reg_mask,
            "meta": {"index": i, "center": (scale / 2).astype(np.float32), "scale": scale,
                     "rot": np.float32(0), "flip": False, "pts_crop": pts,
                     "vis": vis.astype(np.float32),
                     "joints_img": (pts * (width / out_w)).astype(np.float32),
                     "vis_img": vis.astype(np.float32), "gt_3d": gt_3d, "is_3d": is_3d,
                     "group": ""},
        })
    return collate_batch(samples)


def build_trainer(opt, device: torch.device, seed: int = 0):
    """The trainer of ``opt.task`` with everything ``train/runner.py`` gives it (no data)."""
    torch.manual_seed(seed)
    model = build_model(opt, pretrained=False)
    scaler = build_scaler(device, opt.amp, opt.apex)
    model, net, optimizer = prepare_for_run(opt, device, model, scaler, train=True)
    loss_fn = build_loss(opt.task, opt.weight_3d, opt.weight_var)
    trainer = TRAINERS[opt.task](opt, net, loss_fn, optimizer, scaler, device, is_main=False)
    return trainer, model


class TrainStep:
    """One call = one step of ``trainer.train`` on the fixed batch (a one-batch epoch)."""

    def __init__(self, trainer, batch: dict):
        self.trainer, self.batch = trainer, batch
        self.calls = 0
        self.stats: dict = {}

    def __call__(self) -> None:
        self.calls += 1
        self.stats = self.trainer.train(self.calls, [self.batch])


def run_train(base: list[str], variants: dict[str, list[str]], device: torch.device,
              min_run_time: float, seed: int = 0) -> dict:
    """Time one training step per variant.

    Args:
        base: main.py flags every variant shares (task, arch, sizes, batch, loss weights...).
        variants: ``{name: extra flags}``, baseline first with none.
        device: where the model runs.
        min_run_time: seconds of timed steps per variant.

    Returns:
        The section's JSON: per variant its flags, step time (median, IQR, first call), images/s,
        peak memory, and the trainer's own statistics of its last step.
    """
    memory = PeakMemory(device)
    results: dict[str, dict] = {}
    opt0 = user_opt(base, [])
    batch = make_train_batch(opt0.batch_size, (opt0.input_h, opt0.input_w),
                             (opt0.output_h, opt0.output_w), opt0.num_output, seed)
    for name, flags in variants.items():
        entry: dict = {"flags": flags}
        results[name] = entry
        try:
            opt = user_opt(base, flags)
            trainer, model = build_trainer(opt, device, seed)
        except Exception as err:  # noqa: BLE001 - reported, the other variants go on
            entry["error"] = error_text(err)
            continue
        step = TrainStep(trainer, batch)
        timing = time_call(step, device, min_run_time, label=f"train/{name}")
        entry.update(timing.as_dict())
        if timing.error is None:
            entry["img_per_s"] = opt.batch_size / timing.median_s
            # IQR of img/s to first order from the IQR of the step time.
            entry["img_per_s_iqr"] = opt.batch_size * timing.iqr_s / timing.median_s ** 2
            try:
                step_bytes = memory.measure(step)
            except Exception as err:  # noqa: BLE001
                entry["memory_error"] = error_text(err)
            else:
                state = tensor_bytes(model.parameters(), model.buffers(),
                                     [v for s in trainer.optimizer.state.values()
                                      for v in s.values()])
                entry.update(state_mem_mb=state / MIB, step_mem_mb=step_bytes / MIB,
                             peak_mem_mb=(state + step_bytes) / MIB)
            entry["trainer_stats"] = {k: float(v) for k, v in step.stats.items()
                                      if k != "time"}
            entry["steps"] = step.calls
        del trainer, model
        gc.collect()
        dev.empty_cache(device)
    return {"batch": opt0.batch_size, "input": [opt0.input_h, opt0.input_w], "task": opt0.task,
            "arch": opt0.arch, "optimizer": opt0.optim_type,
            "loss": {"task": opt0.task, "weight_3d": opt0.weight_3d,
                     "weight_var": opt0.weight_var},
            "batch_mix": "first half 3D samples, second half 2D samples",
            "memory_method": memory.method, "variants": results}
