"""--amp, --apex, --channels_last and --compile end to end on CPU (tiny hourglass, 8 samples).

CPU support in torch 2.14: autocast runs bfloat16 and float16, and ``GradScaler('cpu')`` works,
so both ``--amp`` paths are exercised here. fp16 starts at GradScaler's scale 2**16, at which the
first steps overflow and are skipped while the scale backs off; that is the scaler's normal start,
so the fp16 test checks the scaler state instead of a weight change. float16 backward on CPU is
slow (about 1 s per 64x64 sample here), so that run has a single step.

``--compile`` with torch's default backend (inductor) needs gcc and minutes of kernel compilation
on a small CPU (about 4 minutes for this run on a loaded 2-core machine), so the test compiles
with ``backend='aot_eager'``: the same graph capture by dynamo and AOTAutograd, no code
generation.
"""
from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from helpers import DIST_VARS

torch.set_num_threads(1)

REPO = Path(__file__).resolve().parents[2]
TIMEOUT = 300


def _args(data: Path, exp_dir: Path, exp_id: str, *extra: str) -> list[str]:
    return ["--exp_id", exp_id, "--task", "human3d", "--dataset", "H36M", "--data_dir",
            str(data), "--arch", "hg", "--num_stacks", "1", "--num_modules", "1",
            "--num_features", "16", "--input_h", "64", "--input_w", "64", "--output_h", "16",
            "--output_w", "16", "--weight_3d", "1", "--num_workers", "0", "--device", "cpu",
            "--val_intervals", "1", "--exp_dir", str(exp_dir), "--batch_size", "4",
            "--num_epochs", "1", *extra]


def _run(args: list[str]) -> dict:
    from pose3d.opts import parse
    from pose3d.train.runner import run

    return run(parse(args))


def _train_loss(save_dir: Path) -> float:
    text = "".join(p.read_text() for p in sorted(save_dir.glob("logs_*/log.txt")))
    found = re.findall(r"epoch: \d+ \|loss (\S+)", text)
    assert found, text
    return float(found[-1])


def _ckpt(save_dir: Path) -> dict:
    return torch.load(save_dir / "model_last.pth", map_location="cpu", weights_only=True)


def _all_finite(state: dict) -> bool:
    return all(bool(torch.isfinite(v).all()) for v in state.values() if v.is_floating_point())


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    from pose3d.synthetic import WRITERS

    root = tmp_path_factory.mktemp("precision_data")
    WRITERS["h36m"](root, 8, 0, 1)
    return root


def _cpu_fp16_autocast() -> bool:
    try:
        with torch.amp.autocast("cpu", dtype=torch.float16):
            out = torch.nn.functional.conv2d(torch.ones(1, 1, 4, 4), torch.ones(1, 1, 3, 3))
        return out.dtype == torch.float16
    except (RuntimeError, ValueError):
        return False


# ----------------------------------------------------------------------------- --amp

def test_bf16_trains_with_a_finite_loss(data, tmp_path):
    metrics = _run(_args(data, tmp_path, "bf16", "--amp", "bf16"))
    loss = _train_loss(tmp_path / "bf16")
    ckpt = _ckpt(tmp_path / "bf16")
    assert math.isfinite(loss) and math.isfinite(metrics["loss"])
    assert _all_finite(ckpt["state_dict"]) and ckpt["scaler"] == {}  # bf16 needs no scaler
    assert ckpt["opt"]["amp"] == "bf16"


@pytest.mark.filterwarnings("ignore:Detected call of `lr_scheduler")
def test_fp16_with_a_grad_scaler_on_cpu(tmp_path):
    if not _cpu_fp16_autocast():
        pytest.skip(f"torch {torch.__version__} has no float16 autocast on CPU")
    from pose3d.synthetic import WRITERS

    # float16 backward on CPU is ~20x slower than bfloat16 here: one step of 2 samples.
    WRITERS["h36m"](tmp_path / "data", 2, 0, 1)
    _run(_args(tmp_path / "data", tmp_path, "fp16", "--amp", "fp16", "--batch_size", "2"))
    ckpt = _ckpt(tmp_path / "fp16")
    assert math.isfinite(_train_loss(tmp_path / "fp16"))
    assert _all_finite(ckpt["state_dict"])
    scale = ckpt["scaler"]["scale"]  # the GradScaler state travels with the checkpoint
    assert 0 < scale <= 2.0**16


# ----------------------------------------------------------------------------- --apex

APEX_LINE = ("error: --apex O1: NVIDIA/Ascend apex is not installed (the PyPI package named "
             "'apex' is unrelated); use --amp bf16|fp16 or install apex from NVIDIA/Ascend")


@pytest.fixture(scope="module")
def apex_runs(tmp_path_factory) -> dict[str, subprocess.CompletedProcess]:
    """src/main.py --apex O1 with no apex, and with an 'apex' lacking amp.initialize (both at
    once: each pays an interpreter start)."""
    tmp = tmp_path_factory.mktemp("apex")
    missing = tmp / "missing" / "apex"
    missing.mkdir(parents=True)
    (missing / "__init__.py").write_text('raise ImportError("no apex here")\n')
    foreign = tmp / "foreign" / "apex"
    foreign.mkdir(parents=True)
    (foreign / "__init__.py").write_text('"""An unrelated package called apex."""\n')
    (foreign / "amp.py").write_text('"""No initialize, no scale_loss."""\n')
    procs = {}
    for name in ("missing", "foreign"):
        env = {k: v for k, v in os.environ.items() if k not in DIST_VARS}
        env["PYTHONPATH"] = str(tmp / name)
        cmd = [sys.executable, "src/main.py",
               *_args(tmp / "no_data", tmp / "exp", name, "--apex", "O1")]  # fails first
        procs[name] = subprocess.Popen(cmd, cwd=REPO, env=env, text=True,
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return {n: (p.communicate(timeout=TIMEOUT), p.returncode) for n, p in procs.items()}


@pytest.mark.parametrize("name", ["missing", "foreign"])
def test_apex_without_nvidia_apex_is_one_line(apex_runs, name):
    (_, err), code = apex_runs[name]
    assert code == 1 and err.splitlines() == [APEX_LINE], err


# ------------------------------------------------------------------- memory format, compile

def test_channels_last_train_and_test(data, tmp_path):
    _run(_args(data, tmp_path, "cl", "--channels_last"))
    loss = _train_loss(tmp_path / "cl")
    _run(_args(data, tmp_path, "cl", "--channels_last", "--test", "--load_model",
               str(tmp_path / "cl" / "model_last.pth")))
    results = json.loads((tmp_path / "clTEST" / "results.json").read_text())
    assert math.isfinite(loss) and math.isfinite(results["metrics"]["mpjpe"])
    # The same weights in NCHW give the same evaluation.
    _run(_args(data, tmp_path, "cl", "--test", "--load_model",
               str(tmp_path / "cl" / "model_last.pth")))
    plain = json.loads((tmp_path / "clTEST" / "results.json").read_text())
    assert plain["metrics"]["mpjpe"] == pytest.approx(results["metrics"]["mpjpe"], rel=1e-4)


@pytest.mark.slow
def test_compile_train_and_test(data, tmp_path, monkeypatch):
    compiled = []
    real = torch.compile

    def compile_aot_eager(model, **kw):
        compiled.append(type(model).__name__)
        return real(model, **{**kw, "backend": "aot_eager"})

    monkeypatch.setattr(torch, "compile", compile_aot_eager)
    from torch._dynamo.utils import counters

    torch._dynamo.reset()
    counters.clear()
    _run(_args(data, tmp_path, "c", "--compile", "--random_seed", "5"))
    train_graphs = counters["stats"]["unique_graphs"]
    _run(_args(data, tmp_path, "c", "--compile", "--test", "--load_model",
               str(tmp_path / "c" / "model_last.pth")))
    assert train_graphs >= 1 and counters["stats"]["unique_graphs"] > train_graphs
    assert compiled and set(compiled) == {"HourglassNet3D"}

    monkeypatch.setattr(torch, "compile", real)
    _run(_args(data, tmp_path, "eager", "--random_seed", "5"))
    # aot_eager runs the same kernels: training matches eager mode.
    assert _train_loss(tmp_path / "c") == pytest.approx(_train_loss(tmp_path / "eager"),
                                                        abs=1e-5)
    a, b = _ckpt(tmp_path / "c")["state_dict"], _ckpt(tmp_path / "eager")["state_dict"]
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-4, atol=1e-5, msg=k)
    results = json.loads((tmp_path / "cTEST" / "results.json").read_text())
    assert math.isfinite(results["metrics"]["mpjpe"])
