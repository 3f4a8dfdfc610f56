"""pose3d.utils.checkpoint: atomic writes, safe loads, strict weights, resume state."""
import io
import random
from collections import OrderedDict

import numpy as np
import pytest
import torch
from torch import nn

from pose3d.opts import parse
from pose3d.utils import checkpoint as ckpt_mod
from pose3d.utils.checkpoint import (capture_rng_state, load_checkpoint, load_model_weights,
                                     restore_rng_state, save_checkpoint)
from pose3d.utils.precision import Scaler
from pose3d.utils.errors import CheckpointError

torch.set_num_threads(1)


class Tiny(nn.Module):
    """A pose-net-like toy: a body with BatchNorm, an 'hm' head and an optional 'depth' head."""

    def __init__(self, joints: int = 4, depth: bool = False, width: int = 8):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, width, 3, padding=1), nn.BatchNorm2d(width),
                                  nn.ReLU())
        self.hm = nn.Conv2d(width, joints, 1)
        self.depth = nn.Conv2d(width, joints, 1) if depth else None

    def forward(self, x):
        f = self.body(x)
        out = {"hm": self.hm(f)}
        if self.depth is not None:
            out["depth"] = self.depth(f)
        return [out]


class Arbitrary:
    """Something weights_only loading must refuse to build."""

    def __init__(self):
        self.payload = 1


def _train_state(amp="fp16"):
    torch.manual_seed(0)
    model = Tiny()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, [2, 4], 0.1)
    scaler = Scaler("cpu", amp)
    for _ in range(3):
        opt.zero_grad()
        loss = model(torch.randn(2, 3, 8, 8))[0]["hm"].pow(2).mean()
        scaler(loss, opt, clip_grad=1.0)
        sched.step()
    return model, opt, sched, scaler


def _equal_nested(a, b):
    if isinstance(a, torch.Tensor):
        return torch.equal(a, b)
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_equal_nested(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_equal_nested(x, y) for x, y in zip(a, b))
    return a == b


def test_round_trip_keeps_everything_needed_to_resume(tmp_path):
    model, opt, sched, scaler = _train_state()
    scaler._scaler.update(1234.0)  # a non-default scale must survive
    o = parse(["--exp_dir", str(tmp_path), "--task", "human3d"])
    path = save_checkpoint(tmp_path / "model_last.pth", epoch=3, model=model, optimizer=opt,
                           scaler=scaler, scheduler=sched, best=0.7, rng=capture_rng_state(),
                           extra={"metric": "acc"}, opt=o)
    expected_numbers = (random.random(), np.random.rand(), torch.rand(1))

    ck = load_checkpoint(path)
    assert {"epoch", "state_dict", "optimizer", "scaler", "scheduler", "best", "rng", "arch",
            "heads", "opt", "metric"} <= ck.keys()
    assert (ck["epoch"], ck["best"], ck["arch"]) == (3, 0.7, "msra_50")
    assert ck["heads"] == {"hm": 16, "depth": 16} and ck["opt"]["lr_step"] == [90, 120]

    model2 = Tiny()
    opt2 = torch.optim.Adam(model2.parameters(), lr=1e-3)
    sched2 = torch.optim.lr_scheduler.MultiStepLR(opt2, [2, 4], 0.1)
    scaler2 = Scaler("cpu", "fp16")
    load_model_weights(model2, ck["state_dict"], "tiny")
    opt2.load_state_dict(ck["optimizer"])
    sched2.load_state_dict(ck["scheduler"])
    scaler2.load_state_dict(ck["scaler"])
    assert _equal_nested(model.state_dict(), model2.state_dict())
    assert _equal_nested(opt.state_dict(), opt2.state_dict())
    assert sched2.state_dict() == sched.state_dict() and sched2.get_last_lr() == sched.get_last_lr()
    assert scaler2.state_dict() == scaler.state_dict()
    assert scaler2.state_dict()["scale"] == 1234.0

    random.seed(99), np.random.seed(99), torch.manual_seed(99)
    restore_rng_state(ck["rng"])
    again = (random.random(), np.random.rand(), torch.rand(1))
    assert again[0] == expected_numbers[0] and again[1] == expected_numbers[1]
    assert torch.equal(again[2], expected_numbers[2])


def test_plain_grad_scaler_state_round_trips(tmp_path):
    gs = torch.amp.GradScaler("cpu", init_scale=512.0)
    save_checkpoint(tmp_path / "m.pth", epoch=1, model=Tiny(), scaler=gs)
    gs2 = torch.amp.GradScaler("cpu")
    gs2.load_state_dict(load_checkpoint(tmp_path / "m.pth")["scaler"])
    assert gs2.get_scale() == 512.0


def test_crash_before_rename_keeps_the_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "model_last.pth"
    save_checkpoint(path, epoch=1, model=Tiny())

    def boom(*args, **kwargs):
        raise OSError("disk on fire")

    monkeypatch.setattr(ckpt_mod.os, "replace", boom)
    with pytest.raises(CheckpointError) as exc:
        save_checkpoint(path, epoch=2, model=Tiny())
    assert str(path) in str(exc.value) and "\n" not in str(exc.value)
    assert load_checkpoint(path)["epoch"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model_last.pth"]


def test_crash_while_writing_keeps_the_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "model_last.pth"
    save_checkpoint(path, epoch=1, model=Tiny())

    def half_write(obj, f, *args, **kwargs):
        f.write(b"PK\x03\x04 partial")
        raise RuntimeError("killed")

    monkeypatch.setattr(ckpt_mod.torch, "save", half_write)
    with pytest.raises(CheckpointError):
        save_checkpoint(path, epoch=2, model=Tiny())
    monkeypatch.undo()
    assert load_checkpoint(path)["epoch"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["model_last.pth"]


def test_weights_only_refuses_arbitrary_objects(tmp_path):
    path = tmp_path / "evil.pth"
    torch.save({"epoch": 1, "state_dict": Tiny().state_dict(), "thing": Arbitrary()}, path)
    with pytest.raises(CheckpointError) as exc:
        load_checkpoint(path)
    msg = str(exc.value)
    assert "refuses to unpickle arbitrary objects" in msg and "Arbitrary" in msg
    assert str(path) in msg and "\n" not in msg


def test_missing_file_is_one_line_naming_the_path(tmp_path):
    path = tmp_path / "nope" / "model_last.pth"
    with pytest.raises(CheckpointError) as exc:
        load_checkpoint(path)
    msg = str(exc.value)
    assert str(path) in msg and "not found" in msg and "--load_model" in msg and "\n" not in msg


@pytest.mark.parametrize("cut", [0, 10, 0.5])
def test_truncated_file(tmp_path, cut):
    path = tmp_path / "m.pth"
    save_checkpoint(path, epoch=1, model=Tiny())
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * cut) if isinstance(cut, float) else cut])
    with pytest.raises(CheckpointError) as exc:
        load_checkpoint(path)
    assert "truncated or corrupt" in str(exc.value) and "\n" not in str(exc.value)


def test_file_without_weights(tmp_path):
    path = tmp_path / "m.pth"
    torch.save({"epoch": 3, "notes": "x"}, path)
    with pytest.raises(CheckpointError, match="no model weights"):
        load_checkpoint(path)


@pytest.mark.parametrize("layout", ["bare", "original", "module_prefix", "legacy_ordered"])
def test_accepted_layouts_load_into_a_model(tmp_path, layout):
    src = Tiny()
    sd = src.state_dict()
    if layout == "bare":
        obj = sd
    elif layout == "original":
        obj = {"epoch": 7, "state_dict": sd}
    elif layout == "module_prefix":
        obj = {"epoch": 7, "state_dict": {f"module.{k}": v for k, v in sd.items()}}
    else:
        obj = {"epoch": 7, "state_dict": OrderedDict(sd),
               "optimizer": torch.optim.Adam(src.parameters()).state_dict()}
    torch.save(obj, tmp_path / "m.pth")
    ck = load_checkpoint(tmp_path / "m.pth")
    assert ck["epoch"] == (0 if layout == "bare" else 7)
    dst = Tiny()
    assert load_model_weights(dst, ck["state_dict"], "tiny") == []
    assert _equal_nested(dst.state_dict(), sd)


def test_wrapped_models_are_saved_without_prefixes(tmp_path):
    model = nn.DataParallel(Tiny())

    class Compiled(nn.Module):  # mimics torch.compile's OptimizedModule attribute
        def __init__(self, inner):
            super().__init__()
            self._orig_mod = inner

    save_checkpoint(tmp_path / "a.pth", epoch=0, model=model)
    save_checkpoint(tmp_path / "b.pth", epoch=0, model=Compiled(Tiny()))
    for name in ("a.pth", "b.pth"):
        keys = torch.load(tmp_path / name, weights_only=True)["state_dict"].keys()
        assert all(not k.startswith(("module.", "_orig_mod.")) for k in keys)
        assert "hm.weight" in keys


def test_other_architecture_is_rejected_with_the_keys():
    sd = Tiny(joints=17).state_dict()
    with pytest.raises(CheckpointError) as exc:
        load_model_weights(Tiny(joints=16), sd, "msra_50", source="x.pth")
    msg = str(exc.value)
    assert msg.startswith("x.pth:") and "hm.weight" in msg and "--arch msra_50" in msg
    assert "\n" not in msg

    sd2 = dict(Tiny().state_dict())
    sd2["extra.weight"] = torch.zeros(1)
    del sd2["hm.bias"]
    with pytest.raises(CheckpointError) as exc:
        load_model_weights(Tiny(), sd2, "tiny")
    assert "extra.weight" in str(exc.value) and "hm.bias" in str(exc.value)


def test_2d_checkpoint_initialises_a_3d_model_and_bn_counters_are_ignored():
    sd = {k: v for k, v in Tiny().state_dict().items() if "num_batches_tracked" not in k}
    model3d = Tiny(depth=True)
    before = model3d.depth.weight.clone()
    allowed = load_model_weights(model3d, sd, "tiny")
    assert sorted(allowed) == ["depth.bias", "depth.weight"]
    assert torch.equal(model3d.depth.weight, before)
    assert torch.equal(model3d.hm.weight, sd["hm.weight"])
    # The other way round (3D checkpoint into a 2D model) is a mismatch.
    with pytest.raises(CheckpointError, match="unexpected"):
        load_model_weights(Tiny(), Tiny(depth=True).state_dict(), "tiny")


def test_rng_state_loads_with_weights_only():
    state = capture_rng_state()
    buf = io.BytesIO()
    torch.save({"rng": state}, buf)
    buf.seek(0)
    loaded = torch.load(buf, weights_only=True)["rng"]
    expected = np.random.rand(3)
    np.random.seed(1)
    restore_rng_state(loaded)
    assert np.array_equal(np.random.rand(3), expected)
