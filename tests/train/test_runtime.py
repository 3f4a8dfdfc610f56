"""The runtime's seams: GracefulStop, ResumeState, prepare_model, channels_last_batch and
read_checkpoint (which leaves the parsed options alone)."""
import copy
import os
import signal

import pytest
import torch
from torch import nn

from pose3d.opts import parse
from pose3d.train.resume import ResumeState, restore_training_state
from pose3d.train.runner import read_checkpoint
from pose3d.train.stop import GracefulStop
from pose3d.utils.device import channels_last_batch, prepare_model
from pose3d.utils.errors import CheckpointError
from pose3d.utils.precision import Scaler

torch.set_num_threads(1)


def test_graceful_stop_records_the_first_signal_and_restores_the_handlers():
    before = signal.getsignal(signal.SIGTERM)
    with GracefulStop() as stop:
        assert not stop.requested
        os.kill(os.getpid(), signal.SIGTERM)
        assert stop.requested and stop.signum == signal.SIGTERM
        with pytest.raises(KeyboardInterrupt):  # the second signal stops at once
            os.kill(os.getpid(), signal.SIGINT)
    assert signal.getsignal(signal.SIGTERM) is before
    with pytest.raises(SystemExit) as exc:
        stop.exit()
    assert exc.value.code == 128 + signal.SIGTERM


def test_graceful_stop_exit_without_sigterm_is_keyboard_interrupt():
    with GracefulStop() as stop:
        os.kill(os.getpid(), signal.SIGINT)
    with pytest.raises(KeyboardInterrupt):
        stop.exit()


def test_resume_state_from_a_checkpoint():
    ck = {"epoch": 3, "next_epoch": 3, "next_step": 5, "best": 81.5, "val_pending": None}
    assert ResumeState.from_checkpoint(ck, "m.pth") == ResumeState(3, 5, 81.5, None)
    assert ResumeState.from_checkpoint({"epoch": 2}, "m.pth") == ResumeState(3, 0, None, None)
    with pytest.raises(CheckpointError, match=r"^m\.pth: next_epoch 1 / next_step -1 are"):
        ResumeState.from_checkpoint({"next_epoch": 1, "next_step": -1}, "m.pth")
    with pytest.raises(CheckpointError) as exc:
        ResumeState.from_checkpoint({"best": "high"}, "m.pth")
    msg = str(exc.value)
    assert "\n" not in msg and "training state cannot be restored (ValueError" in msg
    assert msg.endswith("--load_model m.pth")


def test_restore_training_state_refuses_another_optimizer():
    model = nn.Linear(2, 1)
    optim = torch.optim.Adam(model.parameters())
    ck = {"optimizer": optim.state_dict(), "opt": {"optim_type": "sgd"}, "epoch": 1}
    sched = torch.optim.lr_scheduler.MultiStepLR(optim, [1])
    with pytest.raises(CheckpointError, match="written with --optim_type sgd, resumed with "
                                              "--optim_type adam"):
        restore_training_state(ck, "m.pth", "adam", optim, sched, Scaler())
    ck["opt"]["optim_type"] = "adam"
    got = restore_training_state(ck, "m.pth", "adam", optim, sched, Scaler())
    assert got == ResumeState(2, 0, None, None)


def test_prepare_model_places_formats_and_switches_mode():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))
    optim = torch.optim.SGD(model.parameters(), lr=0.1)
    prepared = prepare_model(model, torch.device("cpu"), channels_last=True, eval=True,
                             optimizer=optim, scaler=Scaler())
    assert prepared.model is model and prepared.net is model and prepared.optimizer is optim
    assert not model.training
    assert model[0].weight.is_contiguous(memory_format=torch.channels_last)
    plain = prepare_model(nn.Conv2d(3, 4, 3), torch.device("cpu"))
    assert plain.net.training and plain.net.weight.is_contiguous()


def test_channels_last_batch():
    x = torch.zeros(2, 3, 4, 5)
    assert channels_last_batch(x, False) is x
    y = channels_last_batch(x, True)
    assert y.is_contiguous(memory_format=torch.channels_last) and torch.equal(x, y)


def test_read_checkpoint_leaves_the_options_alone(tmp_path):
    opt = parse(["--exp_dir", str(tmp_path), "--exp_id", "r", "--resume", "--device", "cpu"])
    before = copy.deepcopy(vars(opt))
    assert read_checkpoint(opt) == ("", None)  # --resume before the first checkpoint
    assert vars(opt) == before and opt.load_model
