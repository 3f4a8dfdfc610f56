"""Interrupted runs lose nothing: ``--resume`` reproduces the uninterrupted run bit for bit (CPU).

The run: H36M, a tiny hourglass, 2 epochs x 4 steps, an LR drop after epoch 1, validation every
epoch selecting ``model_best.pth`` by MPJPE. What is compared at the end: every tensor of the
weights and of the optimizer state (``torch.equal``), the scheduler, ``best``, the epoch, the
random state, and the weights of ``model_best.pth``.

Guarantee checked here:
* SIGTERM / SIGINT: ``model_last.pth`` is written for the exact step, the resume continues
  mid-epoch on the next batch (``next_step``);
* SIGKILL (uncatchable): the resume restarts from the last epoch-boundary ``model_last.pth``
  (or from scratch when the first epoch had not finished);
* a stop at the end of an epoch or during its validation: the resume validates that epoch
  first (``val_pending``), so ``best`` and ``model_best.pth`` come out the same;
* a full disk while saving: one-line error, previous checkpoint intact, no temporary file.

``signal_at_step.py N[:KILL|TERM|INT]`` (its :class:`SignalAtStep` in-process) interrupts a run
right after global step N. The killed step is random; its value is in the test's failure message
(``RESUME_TEST_SEED`` fixes it).
"""
from __future__ import annotations

import errno
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from pose3d.opts import parse
from signal_at_step import SignalAtStep
from pose3d.train import runner
from pose3d.utils import checkpoint as ckpt_mod
from pose3d.utils.errors import UserError

REPO = Path(__file__).resolve().parents[2]
STEPS, EPOCHS, BATCH = 4, 2, 2
TOTAL = STEPS * EPOCHS
SEED = int(os.environ.get("RESUME_TEST_SEED", random.SystemRandom().randrange(10**6)))
RNG = random.Random(SEED)


def argv(data: Path, save_dir: Path, *extra: str) -> list[str]:
    return ["--exp_id", "r", "--task", "human3d", "--dataset", "H36M", "--data_dir", str(data),
            "--save_dir", str(save_dir), "--arch", "hg_1", "--num_features", "16",
            "--num_modules", "1", "--input_h", "64", "--input_w", "64", "--batch_size",
            str(BATCH), "--num_epochs", str(EPOCHS), "--val_intervals", "1", "--lr_step", "1",
            "--weight_3d", "1", "--metric", "mpjpe", "--num_workers", "0", "--device", "cpu",
            "--random_seed", "3", "--print_iter", "1", *extra]


def run_main(args: list[str], hook: str = "", **popen) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    entry = ([str(Path(__file__).with_name("signal_at_step.py")), hook] if hook
             else [str(REPO / "src" / "main.py")])
    return subprocess.run([sys.executable, *entry, *args], env=env,
                          capture_output=True, text=True, timeout=300, **popen)


def load(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)


def assert_equal_nested(a, b, where: str = "") -> None:
    if torch.is_tensor(a):
        assert torch.is_tensor(b) and a.dtype == b.dtype and torch.equal(a, b), where
    elif isinstance(a, dict):
        assert isinstance(b, dict) and set(a) == set(b), (where, set(a) ^ set(b))
        for k in a:
            assert_equal_nested(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_equal_nested(x, y, f"{where}[{i}]")
    else:
        assert a == b, (where, a, b)


def assert_same_run(ref_dir: Path, got_dir: Path) -> None:
    ref, got = load(ref_dir / "model_last.pth"), load(got_dir / "model_last.pth")
    for key in ("state_dict", "optimizer", "scheduler", "scaler", "best", "epoch", "next_epoch",
                "next_step", "val_pending", "rng"):
        assert_equal_nested(ref[key], got[key], key)
    assert_equal_nested(load(ref_dir / "model_best.pth")["state_dict"],
                        load(got_dir / "model_best.pth")["state_dict"], "model_best")


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    from pose3d.synthetic import WRITERS

    root = tmp_path_factory.mktemp("resume") / "syn"
    WRITERS["h36m"](root, STEPS * BATCH, 11, 1)
    return root


# -- real processes -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def reference(data, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("reference")
    proc = run_main(argv(data, out))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert load(out / "model_last.pth")["epoch"] == EPOCHS
    return out


@pytest.mark.slow
def test_sigkill_resumes_from_the_epoch_boundary(data, reference, tmp_path) -> None:
    k = RNG.randint(1, TOTAL)
    msg = f"SIGKILL after global step {k} (RESUME_TEST_SEED={SEED})"
    proc = run_main(argv(data, tmp_path), hook=f"{k}")
    assert proc.returncode == -signal.SIGKILL, msg
    boundary = (k - 1) // STEPS  # epochs finished before the step that was killed
    last = tmp_path / "model_last.pth"
    if boundary == 0:
        assert not last.exists(), msg
    else:
        ck = load(last)
        assert (ck["epoch"], ck["next_epoch"], ck["next_step"]) == (boundary, boundary + 1, 0), msg
    assert not list(tmp_path.glob(".*.tmp")), msg
    proc = run_main(argv(data, tmp_path, "--resume"))
    assert proc.returncode == 0, (msg, proc.stderr[-3000:])
    assert_same_run(reference, tmp_path)


@pytest.mark.slow
def test_sigterm_saves_and_resumes_mid_epoch(data, reference, tmp_path) -> None:
    k = RNG.choice([s for s in range(1, TOTAL) if s % STEPS])
    msg = f"SIGTERM after global step {k} (RESUME_TEST_SEED={SEED})"
    proc = run_main(argv(data, tmp_path), hook=f"{k}:TERM")
    assert proc.returncode == 128 + signal.SIGTERM, (msg, proc.stderr[-3000:])
    assert "Traceback" not in proc.stderr, msg
    ck = load(tmp_path / "model_last.pth")
    epoch, step = (k - 1) // STEPS + 1, (k - 1) % STEPS + 1
    assert (ck["next_epoch"], ck["next_step"], ck["epoch"]) == (epoch, step, epoch - 1), msg
    proc = run_main(argv(data, tmp_path, "--resume"))
    assert proc.returncode == 0, (msg, proc.stderr[-3000:])
    first_epoch = proc.stdout.split("/val")[0]  # the resumed epoch continues mid-epoch
    assert f"[{step + 1}/{STEPS}]" in first_epoch and f"[{step}/{STEPS}]" not in first_epoch, msg
    assert_same_run(reference, tmp_path)


@pytest.mark.slow
def test_sigterm_to_the_process_group_with_loader_workers(data, reference, tmp_path) -> None:
    """As a scheduler preempting the job: SIGTERM to the trainer and its DataLoader worker."""
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    cmd = [sys.executable, str(REPO / "src" / "main.py"), *argv(data, tmp_path),
           "--num_workers", "1"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    try:
        deadline = time.time() + 240
        for line in proc.stdout:
            if "/train [1/" in line or time.time() > deadline:
                break
        os.killpg(proc.pid, signal.SIGTERM)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 128 + signal.SIGTERM, err[-3000:]
    assert "Traceback" not in err, err[-3000:]
    ck = load(tmp_path / "model_last.pth")
    assert ck["next_epoch"] >= 1
    proc = run_main(argv(data, tmp_path, "--resume", "--num_workers", "1"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert_same_run(reference, tmp_path)


# -- in-process: every step -----------------------------------------------------------------------
def run_in_process(args: list[str], hook: str = "") -> None:
    runner.run(parse(args), on_step=SignalAtStep(hook) if hook else None)


@pytest.fixture(scope="module")
def reference_in_process(data, tmp_path_factory) -> Path:
    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("reference_in_process")
    run_in_process(argv(data, out))
    return out


@pytest.mark.parametrize("k", range(1, TOTAL))
def test_signal_at_every_step_resumes_exactly(k, data, reference_in_process, tmp_path) -> None:
    name = "TERM" if k % 2 else "INT"
    with pytest.raises(SystemExit if name == "TERM" else KeyboardInterrupt) as exc:
        run_in_process(argv(data, tmp_path), hook=f"{k}:{name}")
    if name == "TERM":
        assert exc.value.code == 128 + signal.SIGTERM
    ck = load(tmp_path / "model_last.pth")
    if k % STEPS:  # mid-epoch: the exact step
        assert (ck["next_epoch"], ck["next_step"]) == ((k - 1) // STEPS + 1, (k - 1) % STEPS + 1)
    else:  # the last step of an epoch: the epoch is saved, its validation left to the resume
        assert (ck["next_epoch"], ck["next_step"], ck["val_pending"]) == (k // STEPS + 1, 0,
                                                                           k // STEPS)
    run_in_process(argv(data, tmp_path, "--resume"))
    assert_same_run(reference_in_process, tmp_path)


class Crash(Exception):
    """Stands for a SIGKILL or a crash: nothing after it runs."""


def test_crash_during_validation_validates_on_resume(data, reference_in_process, tmp_path,
                                                     monkeypatch) -> None:
    from pose3d.train.base import BaseTrainer

    real_val = BaseTrainer.val

    def crashing_val(self, epoch, loader, dataset=None):
        if epoch == 1:
            raise Crash
        return real_val(self, epoch, loader, dataset)

    monkeypatch.setattr(BaseTrainer, "val", crashing_val)
    with pytest.raises(Crash):
        run_in_process(argv(data, tmp_path))
    ck = load(tmp_path / "model_last.pth")
    assert (ck["epoch"], ck["val_pending"], ck["best"]) == (1, 1, None)
    assert not (tmp_path / "model_best.pth").exists()
    monkeypatch.setattr(BaseTrainer, "val", real_val)
    run_in_process(argv(data, tmp_path, "--resume"))
    assert_same_run(reference_in_process, tmp_path)


def test_resume_before_any_checkpoint_starts_fresh(data, reference_in_process, tmp_path) -> None:
    run_in_process(argv(data, tmp_path, "--resume"))
    assert_same_run(reference_in_process, tmp_path)


def test_full_disk_keeps_the_previous_checkpoint(data, tmp_path, monkeypatch) -> None:
    run_in_process(argv(data, tmp_path, "--num_epochs", "1"))
    last = tmp_path / "model_last.pth"
    before = last.read_bytes()
    real_save = torch.save

    def save_half_then_fail(obj, f, *a, **kw):
        import io

        buf = io.BytesIO()
        real_save(obj, buf, *a, **kw)
        f.write(buf.getvalue()[: len(buf.getvalue()) // 2])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(ckpt_mod.torch, "save", save_half_then_fail)
    with pytest.raises(UserError) as exc:
        run_in_process(argv(data, tmp_path, "--resume"))
    msg = str(exc.value)
    assert "\n" not in msg and "model_last.pth" in msg and "No space left" in msg, msg
    assert "previous file is unchanged" in msg
    assert last.read_bytes() == before
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
