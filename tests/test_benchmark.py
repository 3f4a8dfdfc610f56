"""The benchmark: every section runs on a tiny configuration, measures the shipped code paths and
advertises only user flags. No timing assertions (speed goals live in the benchmark itself)."""
import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from pose3d.bench import cli
from pose3d.bench.variants import amp_precision, check_base_flags, cpu_has_native_bf16
from pose3d.losses import bone_variance
from pose3d.opts import parse
from pose3d.synthetic import WRITERS
from pose3d.train.base import BaseTrainer

REPO = Path(__file__).resolve().parents[1]
TINY = ["--arch", "msra_18", "--input", "64", "--batch", "2", "--quick", "--threads", "1"]
SECTIONS = ("train", "infer", "data", "bone")


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    """One quick run of every section with the loop bone loss made to raise and a spy on the
    trainer's step; returns (report, number of BaseTrainer.train calls)."""
    out = tmp_path_factory.mktemp("bench") / "bench.json"
    calls = []
    original = BaseTrainer.train

    def spy(self, *args, **kwargs):
        calls.append(type(self).__name__)
        return original(self, *args, **kwargs)

    def loop_forbidden(*args, **kwargs):
        raise AssertionError("training used the loop form of the bone loss")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(BaseTrainer, "train", spy)
        mp.setattr(bone_variance, "bone_variance_loss_loop", loop_forbidden)
        assert cli.main([*TINY, "--amp", "bf16", "--variants", "channels_last,amp,onnxruntime",
                         "--json", str(out)]) == 0
    return json.loads(out.read_text()), calls


def test_quick_run_writes_every_section(quick_run):
    report, _ = quick_run
    for key in ("config", "env", "baseline", *SECTIONS, "summary", "total_s"):
        assert key in report, key
    assert report["config"]["arch"] == "msra_18" and report["config"]["quick"] is True
    assert {r["measurement"].split()[0] for r in report["summary"]} == {
        "training", "demo", "data", "bone"}
    assert report["bone"]["loss_abs_diff"] < 1e-5 and report["bone"]["grad_max_abs_diff"] < 1e-5
    assert report["bone"]["variants"]["vectorised"]["median_ms"] > 0
    for name in ("mpii", "H36M"):
        entry = report["data"]["sets"][name]
        assert "error" not in entry, entry
        assert entry["samples_per_s_per_worker"] > 0 and entry["workers"] == 1


def test_training_figure_is_the_trainers_step_with_the_vectorised_bone_loss(quick_run):
    report, calls = quick_run
    variants = report["train"]["variants"]
    assert list(variants) == ["baseline", "channels_last", "amp_bf16"]
    for name, entry in variants.items():
        # The loop form raised if anything had called it; every variant still trained.
        assert "error" not in entry, (name, entry.get("error"))
        assert entry["img_per_s"] > 0 and entry["peak_mem_mb"] > 0
        # Statistics only the trainer produces: its loss terms and batch metrics.
        assert {"loss", "hm_loss", "depth_loss", "var_loss", "acc"} <= set(entry["trainer_stats"])
    assert report["train"]["loss"] == {"task": "human3d", "weight_3d": 0.1, "weight_var": 0.01}
    # Every timed step, warm-up and memory call went through BaseTrainer.train.
    assert len(calls) == sum(e["steps"] for e in variants.values())
    assert set(calls) == {"Trainer3D"}


def test_rows_advertise_only_user_flags(quick_run):
    report, _ = quick_run
    baseline = vars(parse([]))
    flagged = [r for r in report["summary"] if r["flags"]]
    assert {r["flags"] for r in flagged} == {"--channels_last", "--amp bf16",
                                            "--backend onnxruntime"}
    for row in flagged:
        opt = vars(parse(shlex.split(row["flags"])))  # exits on a flag main.py does not know
        assert opt != baseline, row["flags"]
    for row in report["summary"]:
        if row["variant"] == "baseline":
            assert row["flags"] == "" and row["vs_baseline"] == pytest.approx(1.0)
    assert not any(re.search(r"fold|fuse|reduced", json.dumps(r)) for r in report["summary"])


def test_inference_variants_agree_with_the_baseline(quick_run):
    report, _ = quick_run
    infer = report["infer"]["variants"]
    assert list(infer) == ["baseline", "channels_last", "amp_bf16", "onnxruntime"]
    for name in ("channels_last", "onnxruntime"):
        diff = infer[name]["max_abs_diff_vs_baseline"]
        assert diff["joints_3d_mm"] < 1.0, (name, diff)
        assert infer[name]["latency_b1"]["median_ms"] > 0 and infer[name]["img_per_s"] > 0
    assert infer["onnxruntime"]["backend"] == ["CPUExecutionProvider"]


def test_markdown_table_of_a_run(quick_run, tmp_path):
    report, _ = quick_run
    path = tmp_path / "b.json"
    path.write_text(json.dumps(report))
    proc = subprocess.run([sys.executable, str(REPO / "scripts" / "benchmark.py"), "--table",
                           str(path)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = [line for line in proc.stdout.splitlines() if line.startswith("| ")]
    assert len(rows) == len(report["summary"]) + 1
    assert "`--backend onnxruntime`" in proc.stdout and report["env"]["cpu"] in proc.stdout


def test_data_section_reads_any_dataset_of_a_given_tree(tmp_path):
    WRITERS["3dpw"](tmp_path / "tree", 4, 0, 1)
    out = tmp_path / "data.json"
    assert cli.main([*TINY, "--sections", "data", "--data_dir", str(tmp_path / "tree"),
                     "--data_datasets", "3DPW", "mpii", "--json", str(out)]) == 0
    sets = json.loads(out.read_text())["data"]["sets"]
    assert sets["3DPW"]["samples_per_s_per_worker"] > 0 and sets["3DPW"]["samples"] == 4
    # A dataset that is not in the tree is reported with the loader's one-line message.
    assert "mpii" in sets["mpii"]["error"] and "\n" not in sets["mpii"]["error"]


def test_base_flags_cannot_switch_a_variant_on_for_the_baseline():
    with pytest.raises(SystemExit, match="--channels_last is measured as a variant"):
        check_base_flags(["--num_stacks", "1", "--channels_last"])
    check_base_flags(["--num_stacks", "1", "--rotate", "0"])
    with pytest.raises(SystemExit):  # a flag main.py does not know stops the run at once
        cli.main([*TINY, "--sections", "bone", "--bogus_flag", "1"])


def test_amp_variant_only_where_the_processor_has_bf16(tmp_path, monkeypatch):
    import torch

    info = tmp_path / "cpuinfo"
    info.write_text("flags\t\t: fpu sse2 avx2\n")
    assert not cpu_has_native_bf16(info)
    info.write_text("flags\t\t: fpu avx512f avx512_bf16 amx_tile\n")
    assert cpu_has_native_bf16(info)
    monkeypatch.setattr("pose3d.bench.variants.cpu_has_native_bf16", lambda: False)
    amp, note = amp_precision("auto", torch.device("cpu"))
    assert amp is None and "no native bf16" in note
    assert amp_precision("auto", torch.device("cuda"))[0] == "fp16"
    assert amp_precision("bf16", torch.device("cpu")) == ("bf16", None)


@pytest.mark.slow
def test_compile_variant_is_main_pys_compile(tmp_path):
    out = tmp_path / "compile.json"
    assert cli.main([*TINY, "--sections", "train,infer", "--variants", "compile",
                     "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert parse(["--compile"]).compile is True
    for section in ("train", "infer"):
        entry = report[section]["variants"]["compile"]
        assert entry["flags"] == ["--compile"] and "error" not in entry, entry.get("error")
        assert entry["img_per_s"] > 0


def test_readme_table_is_the_committed_run():
    from pose3d.bench.report import format_markdown

    report = json.loads((REPO / "docs" / "benchmark_cpu.json").read_text())
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Performance", 1)[1].split("\n## ", 1)[0]
    table = format_markdown(report)
    assert table in section
    for row in report["summary"]:
        assert "fold" not in row["measurement"] and row["unit"]
