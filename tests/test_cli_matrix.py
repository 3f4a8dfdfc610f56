"""Every dataset trains and tests through the command line, with both network families.

For each ``--dataset`` the CLI accepts (``fusion_3d`` once per ``--dataset3D``) and each of
``msra_18`` and ``hg``: ``src/main.py`` trains one epoch with a validation pass, then ``--test``
(and ``--full_test`` for 3D data) runs from the written checkpoint. Every command must exit 0 and
write a results.json whose metrics are finite numbers or null. The lists come from the CLI's own
choices, so a new dataset joins the matrix by being registered.

All runs read one miniature synthetic tree; two combinations run at a time (one thread each).
"""
import json
import math
import os
import subprocess
import sys
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest

from helpers import DIST_VARS
from pose3d.datasets import DATASETS as REGISTRY
from pose3d.opts import DATASETS, DATASETS_3D
from pose3d.synthetic import WRITERS

pytestmark = pytest.mark.slow

MAIN = Path(__file__).resolve().parents[1] / "src" / "main.py"
NUM = 8            # images per split in the synthetic tree
PARALLEL = 2
TIMEOUT = 600
ARCHS = {
    "msra_18": ["--arch", "msra_18", "--no_pretrained"],
    "hg": ["--arch", "hg", "--num_stacks", "1", "--num_modules", "1", "--num_features", "32"],
}
SMALL = ["--input_h", "64", "--input_w", "64", "--output_h", "16", "--output_w", "16",
         "--batch_size", "4", "--num_epochs", "1", "--val_intervals", "1", "--num_workers", "0",
         "--device", "cpu", "--print_iter", "1000"]


def _dataset_flags() -> dict[str, list[str]]:
    """Test id -> dataset flags, from the CLI's choices."""
    out = {}
    for name in DATASETS:
        if name == "fusion_3d":
            for d3 in DATASETS_3D:
                out[f"fusion_3d-{d3}"] = ["--dataset", name, "--dataset3D", d3]
        else:
            out[name] = ["--dataset", name]
    return out


DATASET_FLAGS = _dataset_flags()


def _is_3d(flags: list[str]) -> bool:
    return REGISTRY[flags[1]].is_3d


def _task_flags(flags: list[str]) -> list[str]:
    if _is_3d(flags):
        return ["--task", "human3d", "--weight_3d", "0.1", "--weight_var", "0.01"]
    return ["--task", "human2d"]


def _main(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in DIST_VARS}
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    return subprocess.run([sys.executable, str(MAIN), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=TIMEOUT)


def _reject_constant(name: str):
    raise ValueError(f"results.json holds {name}")


def _combination(root: Path, exp: Path, key: tuple[str, str]) -> list[tuple[str, object]]:
    """Train, then test; returns (what, CompletedProcess or results dict) in order."""
    dataset, arch = key
    exp_id = f"{dataset}-{arch}"
    flags = (["--data_dir", str(root), "--exp_dir", str(exp), "--exp_id", exp_id]
             + DATASET_FLAGS[dataset] + _task_flags(DATASET_FLAGS[dataset]) + ARCHS[arch] + SMALL)
    steps = [("train", _main(flags, exp))]
    if steps[-1][1].returncode != 0:
        return steps
    logs = sorted((exp / exp_id).glob("logs_*/log.txt"))
    steps.append(("train log", logs[-1].read_text() if logs else ""))
    ckpt = exp / exp_id / "model_last.pth"
    tests = [("test", ["--test"], "TEST")]
    if _is_3d(DATASET_FLAGS[dataset]):
        tests.append(("full_test", ["--test", "--full_test"], "FULL_TEST"))
    for what, extra, suffix in tests:
        proc = _main(flags + ["--load_model", str(ckpt)] + extra, exp)
        steps.append((what, proc))
        if proc.returncode != 0:
            return steps
        text = (exp / f"{exp_id}{suffix}" / "results.json").read_text()
        steps.append((f"{what} results", json.loads(text, parse_constant=_reject_constant)))
    return steps


@pytest.fixture(scope="module")
def matrix(request, tmp_path_factory) -> dict[tuple[str, str], Future]:
    """Starts the selected combinations at once (PARALLEL at a time) on one synthetic tree."""
    base = tmp_path_factory.mktemp("cli_matrix")
    root, exp = base / "data", base / "exp"
    for name in WRITERS:
        if name != "preview":
            WRITERS[name](root, NUM, 0, 1)
    exp.mkdir()
    wanted = [item.callspec.params for item in request.session.items
              if item.module is request.module and hasattr(item, "callspec")]
    pool = ThreadPoolExecutor(max_workers=PARALLEL)
    futures = {(p["dataset"], p["arch"]): pool.submit(_combination, root, exp,
                                                      (p["dataset"], p["arch"]))
               for p in wanted}
    yield futures
    pool.shutdown(wait=True, cancel_futures=True)


def _check_metrics(metrics: dict, where: str) -> None:
    assert metrics, f"{where}: no metrics"
    for name, value in metrics.items():
        assert value is None or (isinstance(value, (int, float)) and math.isfinite(value)), \
            f"{where}: metric {name} = {value!r}"


@pytest.mark.parametrize("arch", list(ARCHS))
@pytest.mark.parametrize("dataset", list(DATASET_FLAGS))
def test_train_then_test(matrix, dataset, arch):
    steps = matrix[(dataset, arch)].result()
    for what, out in steps:
        where = f"{dataset} {arch} {what}"
        if isinstance(out, subprocess.CompletedProcess):
            assert out.returncode == 0, f"{where}: exit {out.returncode}\n{out.stderr[-3000:]}"
            assert "Traceback" not in out.stderr, f"{where}:\n{out.stderr[-3000:]}"
        elif what == "train log":
            # One line for the epoch: training values, then the validation pass's.
            line = next((ln for ln in out.splitlines() if "epoch: 1 |" in ln), "")
            assert line.count(" acc ") == 2 and "nan" not in line.lower(), f"{where}: {out}"
        else:
            _check_metrics(out["metrics"], where)
            assert out["dataset"] == DATASET_FLAGS[dataset][1]
            if _is_3d(DATASET_FLAGS[dataset]):
                assert out["metrics"].get("mpjpe") is not None, where
            else:
                assert out["metrics"].get("acc") is not None, where
    done = [what for what, _ in steps]
    expected = ["train", "train log", "test", "test results"]
    if _is_3d(DATASET_FLAGS[dataset]):
        expected += ["full_test", "full_test results"]
    assert done == expected, f"{dataset} {arch}: stopped after {done[-1]}"
