"""main.py fails fast and cleanly: data and checkpoints are checked before the network is built
(or ImageNet weights downloaded), a run that never started leaves no folder, a ground truth that
does not fit is one line, and a metric without a labelled sample is n/a, never NaN."""
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import scipy.io
import torch

from pose3d.cli import run_entry
from pose3d.opts import parse
from pose3d.synthetic import WRITERS
from pose3d.train import runner
from pose3d.train.base import BaseTrainer
from pose3d.utils.errors import CheckpointError, DataFormatError, UserError

torch.set_num_threads(1)
NUM, SEED = 4, 3
TINY = ["--arch", "hg_1", "--num_features", "16", "--num_modules", "1", "--input_h", "64",
        "--input_w", "64", "--batch_size", "2", "--num_epochs", "1", "--val_intervals", "1",
        "--num_workers", "0", "--device", "cpu"]


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("failfast") / "data"
    for name in ("mpii", "lsp"):
        WRITERS[name](root, NUM, SEED, 1)
    return root


def _args(data: Path, exp: Path, *extra: str) -> list[str]:
    return ["--data_dir", str(data), "--exp_dir", str(exp), "--exp_id", "run", *TINY, *extra]


def _copy(tree: Path, dst: Path, *names: str) -> Path:
    for name in names:
        shutil.copytree(tree / name, dst / name)
    return dst


class NetworkBuilt(Exception):
    pass


@pytest.fixture
def no_network(monkeypatch):
    """Fail the test if the runner gets as far as building a network (or downloading one)."""
    def refuse(*_a, **_kw):
        raise NetworkBuilt
    monkeypatch.setattr(runner, "build_model", refuse)


def test_missing_data_fails_before_the_network_and_leaves_no_folder(tmp_path, no_network):
    exp = tmp_path / "exp"
    with pytest.raises(DataFormatError) as err:
        runner.run(parse(_args(tmp_path / "empty", exp, "--dataset", "mpii")))
    assert "mpii" in str(err.value) and "\n" not in str(err.value)
    assert not exp.exists()


def test_missing_checkpoint_fails_before_the_network(tree, tmp_path, no_network):
    exp = tmp_path / "exp"
    missing = tmp_path / "nope.pth"
    for extra in (["--load_model", str(missing)], ["--load_model", str(missing), "--test"]):
        with pytest.raises(CheckpointError) as err:
            runner.run(parse(_args(tree, exp, "--dataset", "mpii", *extra)))
        assert str(missing) in str(err.value)
    assert not exp.exists()


def test_no_pretrained_never_asks_for_imagenet_weights(tree, tmp_path, monkeypatch):
    asked = []

    def record(opt, pretrained=False):
        asked.append(pretrained)
        raise NetworkBuilt
    monkeypatch.setattr(runner, "build_model", record)
    msra = ["--data_dir", str(tree), "--exp_dir", str(tmp_path), "--dataset", "mpii", "--arch",
            "msra_18", "--input_h", "64", "--input_w", "64", "--device", "cpu"]
    for extra in ([], ["--no_pretrained"]):
        with pytest.raises(NetworkBuilt):
            runner.run(parse(msra + extra))
    assert asked == [True, False]


def test_failed_start_keeps_a_folder_that_existed(tmp_path, no_network):
    exp = tmp_path / "exp"
    (exp / "run").mkdir(parents=True)
    (exp / "run" / "notes.txt").write_text("mine")
    with pytest.raises(DataFormatError):
        runner.run(parse(_args(tmp_path / "empty", exp, "--dataset", "mpii")))
    assert (exp / "run" / "notes.txt").read_text() == "mine"


def test_run_that_stops_before_any_checkpoint_removes_its_folder(tree, tmp_path, monkeypatch):
    def broken(self, *a, **kw):
        raise UserError("broken image")
    monkeypatch.setattr(BaseTrainer, "train", broken)
    exp = tmp_path / "exp"
    with pytest.raises(UserError, match="broken image"):
        runner.run(parse(_args(tree, exp, "--dataset", "mpii")))
    assert not (exp / "run").exists()


def test_demo_flags_and_onnx_training_are_refused(tree, tmp_path, no_network):
    for extra, words in ((["--demo", "x.jpg"], "demo.py"), (["--show"], "demo.py"),
                         (["--backend", "onnxruntime"], "--backend onnxruntime")):
        with pytest.raises(UserError, match=words):
            runner.run(parse(_args(tree, tmp_path / "exp", "--dataset", "mpii", *extra)))
    assert not (tmp_path / "exp").exists()


def _shrink_gt_valid(mpii: Path) -> None:
    """Drop the last person of gt_valid.mat (the file then no longer fits valid.json)."""
    path = mpii / "annot" / "gt_valid.mat"
    mat = scipy.io.loadmat(str(path))
    out = {"dataset_joints": mat["dataset_joints"], "jnt_missing": mat["jnt_missing"][:, :-1],
           "pos_gt_src": mat["pos_gt_src"][..., :-1],
           "headboxes_src": mat["headboxes_src"][..., :-1]}
    scipy.io.savemat(str(path), out)


def test_gt_valid_count_mismatch_is_one_line_naming_both_files(tree, tmp_path, capsys,
                                                               no_network):
    data = _copy(tree, tmp_path / "data", "mpii")
    _shrink_gt_valid(data / "mpii")
    n = len(json.loads((data / "mpii" / "annot" / "valid.json").read_text()))
    argv = _args(data, tmp_path / "exp", "--dataset", "mpii", "--test")
    assert run_entry(lambda a: runner.run(parse(a)), argv) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "Traceback" not in err
    assert "gt_valid.mat" in err and "valid.json" in err
    assert f"holds {n - 1} people" in err and f"holds {n}" in err
    assert not (tmp_path / "exp").exists()


def test_gt_valid_failing_in_validation_keeps_the_epoch(tree, tmp_path, monkeypatch):
    """The file changes under a running job: the epoch's checkpoint and log line survive."""
    data = _copy(tree, tmp_path / "data", "mpii")
    real_train = BaseTrainer.train

    def train_then_break(self, *a, **kw):
        stats = real_train(self, *a, **kw)
        _shrink_gt_valid(data / "mpii")
        return stats
    monkeypatch.setattr(BaseTrainer, "train", train_then_break)
    exp = tmp_path / "exp"
    with pytest.raises(DataFormatError) as err:
        runner.run(parse(_args(data, exp, "--dataset", "mpii")))
    assert "gt_valid.mat" in str(err.value) and "valid.json" in str(err.value)
    ckpt = torch.load(exp / "run" / "model_last.pth", weights_only=True)
    assert ckpt["epoch"] == 1
    log = next((exp / "run").glob("logs_*/log.txt")).read_text()
    assert "epoch: 1 |" in log and "validation failed" in log and "loss" in log


def _unlabel_lsp_torsos(lsp: Path) -> None:
    """Mark shoulders and hips of every LSP image occluded (= unlabelled): no torso size."""
    path = lsp / "joints.mat"
    joints = scipy.io.loadmat(str(path))["joints"]
    joints[2, [2, 3, 8, 9], :] = 1  # LSP order: hips 2, 3; shoulders 8, 9; row 2 = occluded
    scipy.io.savemat(str(path), {"joints": joints})


def test_metric_without_labelled_sample_is_na_not_nan(tree, tmp_path, monkeypatch, capsys):
    data = _copy(tree, tmp_path / "data", "lsp")
    _unlabel_lsp_torsos(data / "lsp")
    scalars = []
    monkeypatch.setattr("pose3d.utils.logger.Logger.scalar_summary",
                        lambda self, tag, value, step: scalars.append((tag, value)))
    exp = tmp_path / "exp"
    runner.run(parse(_args(data, exp, "--dataset", "lsp_extended")))
    log = next((exp / "run").glob("logs_*/log.txt")).read_text()
    assert "pck n/a (no labelled sample)" in log and not re.search(r"\bnan\b", log.lower())
    assert "val_pck" not in [t for t, _ in scalars] and "val_acc" in [t for t, _ in scalars]
    assert all(np.isfinite(v) for _, v in scalars)

    capsys.readouterr()
    runner.run(parse(_args(data, exp, "--dataset", "lsp_extended", "--test", "--load_model",
                           str(exp / "run" / "model_last.pth"))))
    out = capsys.readouterr().out
    assert "pck: n/a (no labelled sample)" in out and not re.search(r"\bnan\b", out.lower())
    text = (exp / "runTEST" / "results.json").read_text()
    assert "NaN" not in text
    results = json.loads(text)
    assert results["metrics"]["pck"] is None and np.isfinite(results["metrics"]["acc"])
    assert all(v is None for v in results["pck_per_joint"].values())
