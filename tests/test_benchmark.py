"""The benchmark's smoke test (no timing assertions) and the inference fast paths it measures."""
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from pose3d.models import create_model
from pose3d.models.fuse import find_conv_bn_pairs, fuse_for_inference
from helpers import randomise_bn, rel_error

REPO = Path(__file__).resolve().parents[1]
HEADS = {"hm": 16, "depth": 16}
SIZE = (64, 64)

SUMMARY_ROWS = {"train_throughput", "train_peak_memory", "infer_latency_b1", "infer_throughput",
                "data_mpii", "data_h36m", "bone_loss"}
ROW_FIELDS = {"name", "unit", "higher_is_better", "baseline", "best", "ratio", "speedup",
              "best_option", "target", "met"}




# ---------------------------------------------------------------------------- conv-BN folding

@pytest.mark.parametrize("channels_last", [False, True])
def test_fold_msra_preserves_outputs(channels_last):
    torch.manual_seed(0)
    model = randomise_bn(create_model("msra_18", HEADS, input_hw=SIZE)).train()
    fused = fuse_for_inference(model, channels_last=channels_last)
    # The original is untouched: still training, still has every BN.
    assert model.training
    assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules()) == 23
    # Trunk and deconvolution stack are folded completely.
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in fused.modules())
    assert not fused.training
    assert isinstance(fused.deconv_layers[0], torch.nn.ConvTranspose2d)
    model.eval()
    x = torch.randn(2, 3, *SIZE)
    with torch.no_grad():
        ref, got = model(x)[0], fused(x)[0]
    for name in HEADS:
        assert got[name].shape == ref[name].shape
        assert rel_error(got[name], ref[name]) < 1e-4, name


def test_fold_hourglass_preserves_outputs():
    torch.manual_seed(0)
    model = randomise_bn(create_model("hg", HEADS, num_stacks=2, num_modules=1,
                                       num_features=32, input_hw=SIZE)).eval()
    pairs = find_conv_bn_pairs(model)
    assert ("conv1_", "bn1") in pairs
    fused = fuse_for_inference(model)
    x = torch.randn(2, 3, *SIZE)
    with torch.no_grad():
        ref, got = model(x), fused(x)
    assert len(got) == len(ref) == 2
    for r, g in zip(ref, got):
        for name in r:
            assert rel_error(g[name], r[name]) < 1e-4, name


def test_fold_skips_shared_or_reused_outputs():
    class Branchy(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 4, 3, padding=1)
            self.bn = torch.nn.BatchNorm2d(4)
            self.conv2 = torch.nn.Conv2d(4, 4, 1)
            self.bn2 = torch.nn.BatchNorm2d(4)

        def forward(self, x):
            y = self.conv(x)
            z = self.conv2(self.bn(y))
            return self.bn2(z) + y  # the raw output of conv is read twice

    model = randomise_bn(Branchy()).eval()
    assert find_conv_bn_pairs(model) == [("conv2", "bn2")]
    x = torch.randn(1, 3, 8, 8)
    with torch.no_grad():
        assert rel_error(fuse_for_inference(model)(x), model(x)) < 1e-4


# ---------------------------------------------------------------------------- benchmark smoke

def test_benchmark_quick_writes_every_field(tmp_path):
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "benchmark.py"), "--arch", "msra_18",
         "--input", "64", "--batch", "2", "--quick", "--threads", "1", "--json", str(out)],
        capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "best option" in proc.stdout

    report = json.loads(out.read_text())
    for key in ("config", "schedule", "env", "baseline", "train", "infer", "data", "bone",
                "summary", "total_s"):
        assert key in report, key
    assert report["config"]["arch"] == "msra_18" and report["config"]["quick"] is True

    train = report["train"]
    assert train["memory_method"]
    assert {"baseline", "bone_vectorised", "channels_last"} <= set(train["variants"])
    for name, entry in train["variants"].items():
        assert "error" not in entry, (name, entry.get("error"))
        for field in ("options", "step_s_median", "step_s", "img_per_s", "peak_mem_mb",
                      "step_mem_mb", "state_mem_mb", "loss"):
            assert field in entry, (name, field)
        assert entry["img_per_s"] > 0 and math.isfinite(entry["loss"])
    assert train["variants"]["baseline"]["options"]["bone"] == "loop"

    infer = report["infer"]
    assert {"baseline", "channels_last", "fold_bn", "fold_bn_channels_last",
            "onnxruntime"} <= set(infer["variants"]), infer["notes"]
    for name, entry in infer["variants"].items():
        for field in ("options", "latency_b1_ms", "throughput_img_s",
                      "max_rel_diff_vs_baseline"):
            assert field in entry, (name, field)
        assert all(v < 1e-3 for v in entry["max_rel_diff_vs_baseline"].values()), name

    data = report["data"]
    assert "sets" in data and "notes" in data
    for writer in ("mpii", "h36m"):
        if writer in data["sets"]:
            variants = data["sets"][writer]["variants"]
            assert variants["baseline"]["reduced_decode"] is False
            assert variants["reduced_decode"]["samples_per_s"] > 0
        else:  # skipped rows carry their reason
            assert writer in data["notes"]

    bone = report["bone"]
    assert bone["variants"]["baseline"]["form"] == "loop"
    assert bone["variants"]["vectorised"]["fwd_bwd_ms"] > 0
    assert bone["loss_abs_diff"] < 1e-5 and bone["grad_max_abs_diff"] < 1e-5

    rows = {row["name"]: row for row in report["summary"]}
    assert set(rows) == SUMMARY_ROWS
    for row in rows.values():
        assert ROW_FIELDS <= set(row), row["name"]
