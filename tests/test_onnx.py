"""ONNX export and the ONNX Runtime backend: outputs match PyTorch, dynamic batch, caching."""
import os
from pathlib import Path

import pytest
import torch

from pose3d.inference import predict
from pose3d.models import create_model, spec_from_checkpoint
from pose3d.onnx_backend import OnnxModel, export_onnx, load_onnx_or_export, onnx_cache_path
from pose3d.utils.errors import UserError
from helpers import load_script, randomise_bn, rel_error

pytest.importorskip("onnxruntime")

REPO = Path(__file__).resolve().parents[1]
HEADS = {"hm": 16, "depth": 16}
SIZE = (64, 64)
RTOL = 1e-4




@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    torch.manual_seed(0)
    model = randomise_bn(create_model("msra_18", HEADS, input_hw=SIZE)).eval()
    path = export_onnx(model, tmp_path_factory.mktemp("onnx") / "tiny.onnx", SIZE)
    return model, path


@pytest.mark.parametrize("batch", [1, 3])
def test_onnx_matches_torch_dynamic_batch(tiny, batch):
    model, path = tiny
    onnx_model = OnnxModel(path, providers=["CPUExecutionProvider"], num_threads=1)
    assert onnx_model.input_name == "input" and onnx_model.input_hw == SIZE
    assert onnx_model.output_names == ["hm", "depth"]
    x = torch.randn(batch, 3, *SIZE, generator=torch.Generator().manual_seed(batch))
    with torch.no_grad():
        ref = model(x)[0]
    got = onnx_model(x)
    assert isinstance(got, list) and len(got) == 1 and set(got[0]) == {"hm", "depth"}
    for name in ("hm", "depth"):
        assert got[0][name].shape == ref[name].shape == (batch, 16, 16, 16)
        assert got[0][name].dtype == torch.float32
        assert rel_error(got[0][name], ref[name]) < RTOL, name


def test_export_looks_through_wrappers(tiny, tmp_path):
    model, _ = tiny
    path = export_onnx(torch.nn.DataParallel(model), tmp_path / "wrapped.onnx", SIZE)
    x = torch.randn(2, 3, *SIZE, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        ref = model(x)[0]
    got = OnnxModel(path, num_threads=1)(x)[0]
    assert rel_error(got["depth"], ref["depth"]) < RTOL


def test_export_keeps_training_flag(tmp_path):
    model = create_model("hg", HEADS, num_stacks=1, num_modules=1, num_features=16,
                         input_hw=SIZE).train()
    export_onnx(model, tmp_path / "m.onnx", SIZE)
    assert model.training and all(m.training for m in model.modules())


def test_predict_runs_on_onnx_model(tiny):
    model, path = tiny
    onnx_model = OnnxModel(path, num_threads=1).eval()
    x = torch.randn(2, 3, *SIZE, generator=torch.Generator().manual_seed(7))
    ref = predict(model, x, flip=True)
    got = predict(onnx_model, x, flip=True)
    for name in ("hm", "depth"):
        assert rel_error(got[name], ref[name]) < RTOL, name


def test_hourglass_exports_last_stack(tmp_path):
    torch.manual_seed(0)
    model = randomise_bn(create_model("hg", HEADS, num_stacks=2, num_modules=1,
                                       num_features=32, input_hw=SIZE)).eval()
    path = export_onnx(model, tmp_path / "hg.onnx", SIZE)
    x = torch.randn(2, 3, *SIZE)
    with torch.no_grad():
        ref = model(x)
    got = OnnxModel(path, num_threads=1)(x)[0]
    assert rel_error(got["hm"], ref[-1]["hm"]) < RTOL
    assert got["depth"].shape == (2, 16)
    assert rel_error(got["depth"], ref[-1]["depth"]) < RTOL


def _save_checkpoint(path: Path, model: torch.nn.Module, **extra) -> Path:
    torch.save({"epoch": 1, "state_dict": model.state_dict(), **extra}, path)
    return path


def test_load_onnx_or_export_caches(tmp_path):
    torch.manual_seed(1)
    model = randomise_bn(create_model("msra_18", HEADS, input_hw=SIZE)).eval()
    ckpt = _save_checkpoint(tmp_path / "model_last.pth", model, arch="msra_18", heads=HEADS,
                            opt={"input_h": 64, "input_w": 64})
    cache_dir = tmp_path / "cache"
    onnx_model = load_onnx_or_export(ckpt, "msra_18", HEADS, SIZE, cache_dir=cache_dir,
                                     num_threads=1)
    cache = onnx_cache_path(ckpt, "msra_18", HEADS, SIZE, cache_dir)
    assert onnx_model.path == cache and cache.is_file()
    stamp = cache.stat().st_mtime_ns
    again = load_onnx_or_export(ckpt, "msra_18", HEADS, SIZE, cache_dir=cache_dir,
                                num_threads=1)
    assert cache.stat().st_mtime_ns == stamp  # reused, not exported again
    x = torch.randn(1, 3, *SIZE)
    with torch.no_grad():
        ref = model(x)[0]
    assert rel_error(again(x)[0]["hm"], ref["hm"]) < RTOL
    # A newer checkpoint invalidates the cache.
    os.utime(ckpt, ns=(stamp + 10**9, stamp + 10**9))
    load_onnx_or_export(ckpt, "msra_18", HEADS, SIZE, cache_dir=cache_dir, num_threads=1)
    assert cache.stat().st_mtime_ns != stamp


def test_spec_from_checkpoint_keys():
    state = {"hm.weight": torch.zeros(16, 256, 1, 1), "depth.weight": torch.zeros(16, 256, 1, 1)}
    spec = spec_from_checkpoint({"state_dict": state}, arch="msra_18")
    assert spec.arch == "msra_18" and spec.heads == HEADS
    assert spec.input_hw == (256, 256)
    spec = spec_from_checkpoint(
        {"state_dict": {"hm.weight": torch.zeros(16, 256, 1, 1)}, "arch": "msra_50",
         "opt": {"input_h": 128, "input_w": 96}}, arch="msra_18")
    assert spec.arch == "msra_50" and spec.heads == {"hm": 16}
    assert spec.input_hw == (128, 96)
    assert spec_from_checkpoint({"state_dict": state}, input_hw=(64, 32)).input_hw == \
        (64, 32)


def test_wrong_input_size_is_user_error(tiny):
    with pytest.raises(UserError, match="input_h"):
        OnnxModel(tiny[1], num_threads=1)(torch.zeros(1, 3, 128, 128))


def test_missing_onnx_file_is_user_error(tmp_path):
    with pytest.raises(UserError, match="export_onnx.py"):
        OnnxModel(tmp_path / "nope.onnx")


def test_export_script(tmp_path, capsys):
    torch.manual_seed(2)
    model = randomise_bn(create_model("hg", HEADS, num_stacks=2, num_modules=1,
                                       num_features=16, input_hw=SIZE)).eval()
    ckpt = _save_checkpoint(tmp_path / "m.pth", model, arch="hg", heads=HEADS,
                            opt={"input_h": 64, "input_w": 64, "num_stacks": 2,
                                 "num_modules": 1, "num_features": 16})
    out = tmp_path / "m.onnx"
    script = load_script("export_onnx")
    threads = torch.get_num_threads()
    try:
        assert script.main(["--load_model", str(ckpt), "--out", str(out), "--check"]) == 0
        printed = capsys.readouterr().out
        assert out.is_file() and "--arch hg" in printed
        errors = [float(line.rsplit("=", 1)[1]) for line in printed.splitlines()
                  if line.startswith("check ")]
        assert len(errors) == 2 and max(errors) < RTOL
        assert script.main(["--load_model", str(tmp_path / "missing.pth")]) == 1
        assert "error:" in capsys.readouterr().err
    finally:
        torch.set_num_threads(threads)
