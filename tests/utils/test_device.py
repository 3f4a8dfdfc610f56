"""pose3d.utils.device / precision / distributed: device choice, one-line errors for missing
backends, AMP, DDP helpers."""
import socket
import sys
import types

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp
from torch import nn

from pose3d.utils import device as dev
from pose3d.utils import distributed as ddp
from pose3d.utils import precision as prec
from pose3d.utils.errors import UserError
from pose3d.utils.meters import AverageMeter, all_reduce_meters

torch.set_num_threads(1)


@pytest.fixture
def no_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


def test_cpu_choices(no_cuda):
    assert dev.resolve_device("cpu", [0]) == torch.device("cpu")
    assert dev.resolve_device("auto", [-1]) == torch.device("cpu")
    assert dev.resolve_device("auto", [0]) == torch.device("cpu")


def test_cuda_requested_without_cuda_is_one_line(no_cuda):
    with pytest.raises(UserError) as exc:
        dev.resolve_device("cuda", [0])
    msg = str(exc.value)
    assert msg.startswith("--device cuda:") and "--device cpu" in msg and "\n" not in msg


def test_npu_without_torch_npu_is_one_line(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch_npu", None)  # import now raises ImportError
    with pytest.raises(UserError) as exc:
        dev.resolve_device("npu", [0])
    msg = str(exc.value)
    assert msg.startswith("--device npu:") and "torch_npu" in msg and "\n" not in msg


def test_cuda_index_choice_without_touching_a_gpu(monkeypatch):
    chosen = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "set_device", chosen.append)
    assert dev.resolve_device("auto", [1]) == torch.device("cuda", 1)
    assert dev.resolve_device("cuda:0", [1]) == torch.device("cuda", 0)
    assert chosen == [1, 0]
    with pytest.raises(UserError, match="--gpus 5"):
        dev.resolve_device("cuda", [5])


def test_unknown_device():
    with pytest.raises(UserError, match="--device tpu"):
        dev.resolve_device("tpu", [0])


def test_device_index_follows_gpus_and_local_rank(monkeypatch):
    assert dev._device_index([1], 0) == 1
    assert dev._device_index([2, 3], 1) == 3
    with pytest.raises(UserError, match="--nproc_per_node 2"):
        dev._device_index([2, 3], 2)
    monkeypatch.setenv("WORLD_SIZE", "4")
    assert dev._device_index([0], 3) == 3


APEX_MSG = "--apex O1: NVIDIA/Ascend apex is not installed (the PyPI package named 'apex' is"


def test_apex_missing(monkeypatch):
    monkeypatch.setitem(sys.modules, "apex", None)
    with pytest.raises(UserError) as exc:
        prec.build_scaler(torch.device("cpu"), apex="O1")
    assert str(exc.value).startswith(APEX_MSG) and "--amp bf16|fp16" in str(exc.value)


def test_unrelated_pypi_apex_is_refused(monkeypatch):
    fake = types.ModuleType("apex")  # the web toolkit: no amp at all
    monkeypatch.setitem(sys.modules, "apex", fake)
    monkeypatch.delitem(sys.modules, "apex.amp", raising=False)
    with pytest.raises(UserError) as exc:
        prec.load_apex("O1")
    assert str(exc.value).startswith(APEX_MSG)

    fake.__path__ = []  # a package whose amp lacks initialize
    amp = types.ModuleType("apex.amp")
    fake.amp = amp
    monkeypatch.setitem(sys.modules, "apex.amp", amp)
    with pytest.raises(UserError) as exc:
        prec.ApexScaler("O1")
    assert str(exc.value).startswith(APEX_MSG)


def test_apex_scaler_with_a_working_apex(monkeypatch):
    calls = []
    amp = types.ModuleType("apex.amp")

    def initialize(model, optimizer, opt_level):
        calls.append(opt_level)
        return model, optimizer

    class _Scale:
        def __init__(self, loss):
            self.loss = loss

        def __enter__(self):
            return self.loss * 2.0

        def __exit__(self, *exc):
            return False

    amp.initialize = initialize
    amp.scale_loss = lambda loss, optimizer: _Scale(loss)
    amp.master_params = lambda optimizer: [p for g in optimizer.param_groups for p in g["params"]]
    apex = types.ModuleType("apex")
    apex.__path__ = []
    apex.amp = amp
    monkeypatch.setitem(sys.modules, "apex", apex)
    monkeypatch.setitem(sys.modules, "apex.amp", amp)

    scaler = prec.build_scaler(torch.device("cpu"), apex="O0")
    model = nn.Linear(3, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    model, opt = scaler.initialize(model, opt)
    before = model.weight.detach().clone()
    norm = scaler(model(torch.ones(2, 3)).sum(), opt, clip_grad=1.0)
    assert calls == ["O0"] and norm is not None
    assert not torch.equal(before, model.weight)
    assert scaler.state_dict() == {}


def test_autocast():
    assert isinstance(prec.autocast(torch.device("cpu"), "off"), type(prec.contextlib.nullcontext()))
    with prec.autocast(torch.device("cpu"), "bf16"):
        y = nn.Linear(4, 4)(torch.randn(2, 4))
    assert y.dtype == torch.bfloat16
    with pytest.raises(UserError, match="--amp"):
        prec.autocast(torch.device("cpu"), "fp8")


@pytest.mark.parametrize("amp", ["off", "bf16", "fp16"])
def test_scaler_steps_and_clips(amp):
    torch.manual_seed(0)
    model = nn.Linear(4, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    scaler = prec.Scaler("cpu", amp, init_scale=64.0)
    before = model.weight.detach().clone()
    with prec.autocast(torch.device("cpu"), amp):
        loss = model(torch.randn(8, 4)).float().pow(2).mean() * 100
    norm = scaler(loss, opt, clip_grad=0.5)
    assert norm is not None and float(norm) > 0.5
    total = torch.cat([p.grad.flatten() for p in model.parameters()]).norm()
    assert float(total) <= 0.5 + 1e-4
    assert not torch.equal(before, model.weight)
    state = scaler.state_dict()
    assert ("scale" in state) == (amp == "fp16")
    restored = prec.build_scaler(torch.device("cpu"), amp)
    restored.load_state_dict(state)
    assert restored.state_dict() == state
    assert scaler(model(torch.randn(2, 4)).sum(), opt) is None


def test_to_device_leaves_meta_alone():
    meta = {"center": np.zeros(2), "index": torch.tensor([3])}
    batch = {"input": torch.zeros(1, 3, 4, 4), "pair": [torch.ones(1), 2], "meta": meta}
    out = dev.to_device(batch, torch.device("cpu"))
    assert out["meta"] is meta and out["input"].device.type == "cpu"
    assert isinstance(out["pair"], list) and out["pair"][1] == 2


def test_seed_everything_is_reproducible():
    dev.seed_everything(5)
    a = (np.random.rand(), torch.rand(1).item())
    dev.seed_everything(5)
    assert (np.random.rand(), torch.rand(1).item()) == a


def test_single_process_helpers_and_cpu_noops():
    cpu = torch.device("cpu")
    assert ddp.init_distributed(cpu) == (0, 0, 1)
    assert not ddp.is_distributed() and ddp.dist_env() == (0, 0, 1)
    t = torch.tensor([1.0, 3.0])
    assert torch.equal(ddp.all_reduce_sum(t), t)
    ddp.barrier()
    dev.synchronize(cpu)
    dev.empty_cache(cpu)
    dev.reset_peak_memory_stats(cpu)
    assert dev.max_memory_allocated(cpu) == 0
    m = nn.Linear(1, 1)
    assert ddp.wrap_distributed(m, cpu) is m
    ddp.cleanup()
    versions = dev.backend_versions()
    assert {"torch", "cuda", "cudnn"} <= versions.keys()


def test_set_cudnn():
    old = torch.backends.cudnn.enabled
    try:
        dev.set_cudnn(True)
        assert torch.backends.cudnn.enabled is False
        dev.set_cudnn(False)
        assert torch.backends.cudnn.enabled is True
    finally:
        torch.backends.cudnn.enabled = old


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, world: int, port: int, results) -> None:
    import os

    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    device = dev.resolve_device("cpu", [0], rank)
    got = ddp.init_distributed(device)
    mean = ddp.all_reduce_sum(torch.tensor([float(rank)])) / world
    meter = AverageMeter()
    meter.update(float(rank + 1), n=rank + 1)  # rank0: 1 x1, rank1: 2 x2
    all_reduce_meters({"m": meter}, device)
    results[rank] = (got, float(mean), meter.avg, meter.count, torch.distributed.get_rank() == 0)
    ddp.barrier()
    ddp.cleanup()


def test_two_process_gloo_group():
    ctx = mp.get_context("spawn")
    results = ctx.Manager().dict()
    port = _free_port()
    procs = [ctx.Process(target=_worker, args=(r, 2, port, results)) for r in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert all(p.exitcode == 0 for p in procs)
    assert results[0] == ((0, 0, 2), 0.5, 5.0 / 3.0, 3, True)
    assert results[1] == ((1, 1, 2), 0.5, 5.0 / 3.0, 3, False)
