"""Non-finite guard: a NaN / inf loss skips its step (model untouched, BatchNorm statistics
included), is counted and logged with the batch's sample ids; ``--max_bad_steps`` in a row stop
the run with one line; no checkpoint is ever written with non-finite weights."""
from __future__ import annotations

import logging
import os
import signal
from pathlib import Path

import pytest
import torch
from torch import nn

from pose3d.opts import parse
from pose3d.train import runner
from pose3d.train.base import BaseTrainer, NonFiniteLossError
from pose3d.utils.precision import Scaler
from pose3d.utils.errors import UserError

torch.set_num_threads(1)


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU())
        self.hm = nn.Conv2d(4, 2, 1)

    def forward(self, x):
        return [{"hm": self.hm(self.body(x))}]


class ScriptedLoss(nn.Module):
    """Mean of the heatmaps, replaced by ``bad[step]`` (NaN or inf) on the listed steps."""

    def __init__(self, bad: dict[int, float]):
        super().__init__()
        self.bad, self.calls = bad, 0

    def forward(self, outputs, batch):
        self.calls += 1
        loss = outputs[0]["hm"].pow(2).mean()
        if self.calls in self.bad:
            loss = loss * self.bad[self.calls]
        return loss, {"loss": loss.detach()}


def make_trainer(bad: dict[int, float], max_bad_steps: int = 10):
    torch.manual_seed(0)
    opt = parse(["--max_bad_steps", str(max_bad_steps), "--device", "cpu"])
    model = Tiny()
    optim = torch.optim.Adam(model.parameters(), lr=1e-2)
    trainer = BaseTrainer(opt, model, ScriptedLoss(bad), optim, Scaler("cpu"),
                          torch.device("cpu"), is_main=False)
    batches = [{"input": torch.randn(2, 3, 8, 8),
                "meta": {"index": torch.tensor([2 * i, 2 * i + 1])}} for i in range(6)]
    return trainer, model, batches


def snapshot(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def test_bad_steps_are_skipped_counted_and_logged(caplog) -> None:
    trainer, model, batches = make_trainer({2: float("nan"), 4: float("inf")})
    states = [snapshot(model)]  # states[i]: after step i

    def on_step(epoch, step):
        states.append(snapshot(model))

    with caplog.at_level(logging.WARNING, logger="pose3d.train.base"):
        stats = trainer.train(1, batches, on_step=on_step)
    for step in (2, 4):  # the model after a skipped step is the model before it, bit for bit
        for k in states[step]:
            assert torch.equal(states[step - 1][k], states[step][k]), (step, k)
    for step in (1, 3, 5, 6):  # the good steps do train
        assert not torch.equal(states[step - 1]["hm.weight"], states[step]["hm.weight"])
    assert trainer.bad_steps_total == 2 and trainer.bad_steps == 0
    assert stats["bad_steps"] == 2
    text = caplog.text
    assert "epoch 1 step 2" in text and "[2, 3]" in text  # sample ids of the bad batch
    assert "epoch 1 step 4" in text and "[6, 7]" in text


def test_consecutive_bad_steps_stop_with_one_line() -> None:
    trainer, model, batches = make_trainer({3: float("nan"), 4: float("nan"), 5: float("inf")},
                                           max_bad_steps=3)
    with pytest.raises(NonFiniteLossError) as exc:
        trainer.train(1, batches)
    msg = str(exc.value)
    assert isinstance(exc.value, UserError) and "\n" not in msg
    assert "3 consecutive non-finite losses" in msg and "--max_bad_steps 3" in msg
    assert "step 5" in msg and "[8, 9]" in msg


def test_a_good_step_resets_the_count() -> None:
    trainer, _, batches = make_trainer({1: float("nan"), 2: float("nan"), 4: float("nan"),
                                        5: float("nan")}, max_bad_steps=3)
    trainer.train(1, batches)
    assert trainer.bad_steps_total == 4


def test_non_finite_tensors_finds_nested_optimizer_state() -> None:
    model = Tiny()
    optim = torch.optim.Adam(model.parameters())
    model(torch.randn(2, 3, 8, 8))[0]["hm"].mean().backward()
    optim.step()
    assert runner.non_finite_tensors(model.state_dict(), optim.state_dict()) == []
    optim.state_dict()["state"][0]["exp_avg_sq"].fill_(float("inf"))
    assert runner.non_finite_tensors(model.state_dict(), optim.state_dict()) == \
        ["state.0.exp_avg_sq"]
    with torch.no_grad():
        model.hm.bias[0] = float("nan")
    assert "hm.bias" in runner.non_finite_tensors(model.state_dict())


# -- the whole run ---------------------------------------------------------------------------------
def run_args(root: Path, save_dir: Path, *extra: str) -> list[str]:
    return ["--task", "human3d", "--dataset", "H36M", "--data_dir", str(root), "--save_dir",
            str(save_dir), "--arch", "hg_1", "--num_features", "16", "--num_modules", "1",
            "--input_h", "64", "--input_w", "64", "--batch_size", "2", "--num_epochs", "2",
            "--val_intervals", "1", "--weight_3d", "1", "--num_workers", "0", "--device", "cpu",
            *extra]


class LossAfter(nn.Module):
    """The real loss, multiplied by NaN from training call ``first_bad`` on."""

    def __init__(self, real: nn.Module, first_bad: int):
        super().__init__()
        self.real, self.first_bad, self.calls = real, first_bad, 0

    def forward(self, outputs, batch):
        loss, stats = self.real(outputs, batch)
        if torch.is_grad_enabled():  # training steps only (validation runs in inference mode)
            self.calls += 1
            if self.calls >= self.first_bad:
                loss = loss * float("nan")
        return loss, stats


def test_run_stops_and_keeps_the_last_good_checkpoint(syn_root, tmp_path, monkeypatch) -> None:
    real_build = runner.build_loss
    monkeypatch.setattr(runner, "build_loss",
                        lambda *a, **kw: LossAfter(real_build(*a, **kw), first_bad=3))
    with pytest.raises(NonFiniteLossError) as exc:
        runner.run(parse(run_args(syn_root, tmp_path, "--max_bad_steps", "2")))
    assert "\n" not in str(exc.value) and "untouched" in str(exc.value)
    ck = torch.load(tmp_path / "model_last.pth", weights_only=True)
    assert ck["epoch"] == 1 and runner.non_finite_tensors(ck["state_dict"]) == []


def test_non_finite_weights_are_never_saved(syn_root, tmp_path, monkeypatch, caplog) -> None:
    """The loss stays finite, the weights do not (as a finite loss with an inf gradient can do)."""
    real_train = BaseTrainer.train

    def train_then_break_weights(self, epoch, loader, skip_steps=0, on_step=None):
        stats = real_train(self, epoch, loader, skip_steps, on_step)
        if epoch == 2:
            with torch.no_grad():
                next(self.model.parameters()).fill_(float("nan"))
        return stats

    runner.run(parse(run_args(syn_root, tmp_path, "--num_epochs", "1")))
    last = tmp_path / "model_last.pth"
    before = last.read_bytes()
    monkeypatch.setattr(BaseTrainer, "train", train_then_break_weights)
    with caplog.at_level(logging.ERROR, logger="pose3d.train.runner"):
        with pytest.raises(UserError) as exc:
            runner.run(parse(run_args(syn_root, tmp_path, "--resume")))
    msg = str(exc.value)
    assert "\n" not in msg and "model_last.pth" in msg and "NaN or inf" in msg
    assert "previous file is kept" in msg
    assert last.read_bytes() == before
    assert "not written" in caplog.text


def test_interrupt_with_non_finite_weights_saves_nothing(syn_root, tmp_path, monkeypatch) -> None:
    runner.run(parse(run_args(syn_root, tmp_path, "--num_epochs", "1")))
    last = tmp_path / "model_last.pth"
    before = last.read_bytes()
    real_train = BaseTrainer.train

    def train_break_and_stop(self, epoch, loader, skip_steps=0, on_step=None):
        def hook(e, step):
            with torch.no_grad():
                next(self.model.parameters()).fill_(float("inf"))
            os.kill(os.getpid(), signal.SIGINT)
        return real_train(self, epoch, loader, skip_steps, hook)

    monkeypatch.setattr(BaseTrainer, "train", train_break_and_stop)
    with pytest.raises(KeyboardInterrupt):
        runner.run(parse(run_args(syn_root, tmp_path, "--resume")))
    assert last.read_bytes() == before
