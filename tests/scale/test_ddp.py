"""DDP under torchrun on CPU (gloo): sharding, one writer, reduced logs, resume, equality limits.

What a 2-process run shares with a 1-process run of the same global batch (``--batch_size 2``
x 2 processes vs ``--batch_size 4``):

* the same samples per step (the sampler shards each global batch across the ranks) with the same
  augmentation (drawn per sample and epoch, not per process);
* the same gradient for batch-independent layers: DDP averages the per-process gradients of
  per-process mean losses, which is the gradient of the global mean when every process has the
  same number of samples.

What differs, so the two runs are close but not equal:

* BatchNorm normalises with the statistics of each process's own batch (2 samples here, not 4);
  the running statistics kept in checkpoints are rank 0's. The original trained multi-GPU with
  ``nn.DataParallel``, whose replicas also normalise per GPU, so this is the original behaviour.
  ``SyncBatchNorm`` cannot be used to close the gap on CPU: its forward raises ``ValueError`` for
  CPU tensors (torch 2.14 synchronises only cuda, xpu, hpu and privateuse1 devices such as npu).
* Losses normalised by a count that depends on the batch (the masked depth loss divides by the
  number of labelled joints) are normalised per process.

With BatchNorm made batch-independent (running statistics in training too, see ``FREEZE_BN``) and
only the heatmap loss, the two runs agree to float rounding; that test pins down the rest of the
pipeline. Runs use a tiny hourglass (1 stack, 16 features, 64x64) on 8 synthetic H36M samples,
2 steps per epoch.
"""
from __future__ import annotations

import math
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp

from helpers import DIST_VARS
from pose3d.opts import build_parser
from pose3d.train.sampler import EpochSampler

torch.set_num_threads(1)

REPO = Path(__file__).resolve().parents[2]
MAIN = REPO / "src" / "main.py"
NUM = 8  # samples per split: 2 steps per epoch with a global batch of 4
TIMEOUT = 300

# Runs src/main.py under torchrun. On ranks > 0 an audit hook reports (and refuses) every write
# inside WATCH_DIR: files opened for writing, folders made, renames, copies, deletions. With
# FREEZE_BN=1 every BatchNorm normalises with its running statistics (never updated), which makes
# each sample's output independent of the rest of its batch.
WRAPPER = r'''
import os, runpy, sys

RANK = int(os.environ.get("RANK", "0"))
WATCH = os.path.realpath(os.environ["WATCH_DIR"])
MAIN = os.environ["MAIN_PY"]


def _inside(path):
    try:
        real = os.path.realpath(os.fsdecode(path))
    except TypeError:  # a file descriptor
        return False
    return real == WATCH or real.startswith(WATCH + os.sep)


def _hook(event, args):
    if event == "open":
        path, mode, flags = args
        if isinstance(mode, str):
            writes = any(c in mode for c in "wxa+")
        else:
            writes = bool((flags or 0) & (os.O_WRONLY | os.O_RDWR | os.O_CREAT))
        paths = [path] if writes else []
    elif event in ("os.mkdir", "os.remove", "os.rmdir", "os.truncate"):
        paths = [args[0]]
    elif event in ("os.rename", "shutil.copyfile", "shutil.move", "os.link", "os.symlink"):
        paths = [args[0], args[1]]
    else:
        return
    for p in paths:
        if p is not None and _inside(p):
            print(f"NON-MAIN-WRITE rank {RANK} {event} {p}", file=sys.stderr, flush=True)
            raise PermissionError(f"rank {RANK} must not write {p}")


if RANK != 0:
    sys.addaudithook(_hook)

if os.environ.get("FREEZE_BN") == "1":
    import torch.nn.functional as F

    _batch_norm = F.batch_norm

    def _frozen(input, running_mean, running_var, weight=None, bias=None, training=False,
                momentum=0.1, eps=1e-5):
        return _batch_norm(input, running_mean, running_var, weight, bias, False, momentum, eps)

    F.batch_norm = _frozen

sys.argv = [MAIN, *sys.argv[1:]]
runpy.run_path(MAIN, run_name="__main__")
'''


# ----------------------------------------------------------------------------- helpers

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in DIST_VARS}
    env.update(OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1", **extra)
    return env


def _args(data: Path, exp_dir: Path, exp_id: str, *extra: str, batch: int = 2,
          epochs: int = 2) -> list[str]:
    return ["--exp_id", exp_id, "--task", "human3d", "--dataset", "H36M", "--data_dir",
            str(data), "--arch", "hg", "--num_stacks", "1", "--num_modules", "1",
            "--num_features", "16", "--input_h", "64", "--input_w", "64", "--output_h", "16",
            "--output_w", "16", "--weight_3d", "1", "--num_workers", "0", "--device", "cpu",
            "--val_intervals", "1", "--random_seed", "3", "--exp_dir", str(exp_dir),
            "--batch_size", str(batch), "--num_epochs", str(epochs), *extra]


def _torchrun(wrapper: Path, args: list[str], freeze_bn: bool = False,
              multi_node_flags: bool = False) -> subprocess.CompletedProcess:
    """2 processes; ``multi_node_flags`` launches as node 0 of a 1-node job with an explicit
    master address and port, the way a multi-node job starts on each node."""
    save_dir = Path(args[args.index("--exp_dir") + 1]) / args[args.index("--exp_id") + 1]
    launch = (["--nnodes", "1", "--node_rank", "0", "--master_addr", "127.0.0.1",
               "--master_port", str(_free_port())] if multi_node_flags else ["--standalone"])
    cmd = [sys.executable, "-m", "torch.distributed.run", *launch, "--nproc_per_node", "2",
           str(wrapper), *args]
    env = _env(WATCH_DIR=str(save_dir), MAIN_PY=str(MAIN), FREEZE_BN="1" if freeze_bn else "0")
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=TIMEOUT)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "NON-MAIN-WRITE" not in proc.stderr, proc.stderr[-3000:]
    return proc


def _run_here(args: list[str]) -> dict:
    """One process, inside pytest (saves a second interpreter start)."""
    from pose3d.opts import parse
    from pose3d.train.runner import run

    return run(parse(args))


def _epoch_losses(save_dir: Path) -> dict[int, float]:
    """{epoch: train loss} from the text logs (a resumed run may add a second log folder)."""
    text = "".join(p.read_text() for p in sorted(save_dir.glob("logs_*/log.txt")))
    return {int(e): float(v) for e, v in re.findall(r"epoch: (\d+) \|loss (\S+)", text)}


def _state(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    from pose3d.synthetic import WRITERS

    root = tmp_path_factory.mktemp("ddp_data")
    WRITERS["h36m"](root, NUM, 0, 1)
    return root


@pytest.fixture(scope="module")
def wrapper(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("ddp_wrapper") / "torchrun_main.py"
    path.write_text(WRAPPER)
    return path


@pytest.fixture(scope="module")
def two_epochs(data, wrapper, tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    """An uninterrupted 2-process, 2-epoch run (batch 2 per process, global batch 4)."""
    exp = tmp_path_factory.mktemp("ddp_exp")
    proc = _torchrun(wrapper, _args(data, exp, "full"))
    return exp / "full", proc


# ----------------------------------------------------------------------------- fast checks

@pytest.mark.parametrize("action", ["Path(W, 'opt.txt').write_text('x')",
                                    "Path(W, 'logs_x').mkdir()",
                                    "os.close(os.open(os.path.join(W, 'm.tmp'), os.O_CREAT))",
                                    "os.replace(os.path.join(os.path.dirname(W), 'o'), "
                                    "os.path.join(W, 'model_last.pth'))"],
                         ids=["write", "mkdir", "os.open", "replace"])
def test_the_write_guard_catches_rank_one(wrapper, tmp_path, action):
    """The guard itself: a rank-1 write in the watched folder fails the process."""
    watch = tmp_path / "exp"
    watch.mkdir()
    (tmp_path / "o").write_text("")
    script = tmp_path / "writer.py"
    script.write_text(f"import os\nfrom pathlib import Path\nW = {str(watch)!r}\n"
                      f"open(os.path.join(os.path.dirname(W), 'fine.txt'), 'w').close()\n"
                      f"{action}\n")
    env = _env(WATCH_DIR=str(watch), MAIN_PY=str(script), RANK="1")
    proc = subprocess.run([sys.executable, str(wrapper)], env=env, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode != 0 and "NON-MAIN-WRITE rank 1" in proc.stderr, proc.stderr
    assert (tmp_path / "fine.txt").exists()  # writes elsewhere are allowed


def test_shards_of_a_global_batch_are_the_one_process_batch():
    n, per_rank, world = 8, 2, 2
    single = EpochSampler(n, seed=3)
    shards = [EpochSampler(n, seed=3, num_replicas=world, rank=r) for r in range(world)]
    for epoch in (1, 2):
        for s in (single, *shards):
            s.set_epoch(epoch)
        one = [i for i, _ in single]
        parts = [[i for i, _ in s] for s in shards]
        for step in range(n // (per_rank * world)):
            union = sorted(i for p in parts for i in p[step * per_rank:(step + 1) * per_rank])
            assert union == sorted(one[step * per_rank * world:(step + 1) * per_rank * world])


def test_help_says_batch_size_is_per_process():
    text = " ".join(build_parser().format_help().split())
    assert "per GPU/process" in text and "batch_size x number of processes" in text
    assert "BatchNorm" in text


def _reduce_worker(rank: int, port: int, queue) -> None:
    from pose3d.utils import distributed as dev
    from pose3d.utils.meters import AverageMeter, all_reduce_meters

    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE="2",
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    try:
        dev.init_distributed(torch.device("cpu"))
        meters = {"loss": AverageMeter()}
        meters["loss"].update(1.0 + rank, n=2)
        if rank == 0:  # rank 1's shard had no 3D sample: no mpjpe meter there
            meters["mpjpe"] = AverageMeter()
            meters["mpjpe"].update(100.0, n=3)
        all_reduce_meters(meters, torch.device("cpu"))
        queue.put((rank, {k: (m.avg, m.count) for k, m in meters.items()}))
    finally:
        dev.cleanup()


def test_epoch_meters_are_combined_over_processes_even_when_a_name_is_missing():
    try:
        ctx = mp.get_context("fork")  # no second interpreter start
    except ValueError:
        pytest.skip("needs the fork start method")
    queue, port = ctx.Queue(), _free_port()
    procs = [ctx.Process(target=_reduce_worker, args=(r, port, queue)) for r in range(2)]
    for p in procs:
        p.start()
    got = dict(queue.get(timeout=120) for _ in procs)
    for p in procs:
        p.join(60)
    assert all(p.exitcode == 0 for p in procs)
    want = {"loss": (1.5, 4), "mpjpe": (100.0, 3)}
    assert got == {0: want, 1: want}


ERRORS = {
    # name: (extra flags, environment, exit status, start of the stderr line)
    "gpus": (["--device", "auto", "--gpus", "0,1"], {}, 2,
             "main.py: error: argument --gpus: 0,1 asks for 2 GPUs"),
    "cuda": (["--device", "cuda"], {"CUDA_VISIBLE_DEVICES": ""}, 1,
             "error: --device cuda: CUDA is not available"),
    "npu": (["--device", "npu"], {"PYTHONPATH": "{fakes}"}, 1,
            "error: --device npu: torch_npu is not installed"),
}


@pytest.fixture(scope="module")
def error_runs(tmp_path_factory) -> dict[str, tuple[int, str]]:
    """Start every error case at once (each pays an interpreter start), then collect them."""
    tmp = tmp_path_factory.mktemp("ddp_errors")
    fakes = tmp / "fakes"
    fakes.mkdir()
    (fakes / "torch_npu.py").write_text('raise ImportError("not installed here")\n')
    procs = {}
    for name, (flags, env, _, _) in ERRORS.items():
        env = {k: v.format(fakes=fakes) for k, v in env.items()}
        # Each error comes before any data is read: no dataset needed.
        cmd = [sys.executable, "src/main.py", *_args(tmp / "no_data", tmp / "exp", name), *flags]
        procs[name] = subprocess.Popen(cmd, cwd=REPO, env=_env(**env), text=True,
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out = {}
    for name, p in procs.items():
        _, err = p.communicate(timeout=TIMEOUT)
        out[name] = (p.returncode, err)
    return out


@pytest.mark.parametrize("name", list(ERRORS))
def test_one_line_errors(error_runs, name):
    code, err = error_runs[name]
    _, _, want_code, start = ERRORS[name]
    lines = err.splitlines()
    assert code == want_code and len(lines) == 1 and lines[0].startswith(start), err
    if name == "gpus":
        assert "torchrun --nproc_per_node 2 src/main.py --exp_id gpus" in lines[0]
        assert "--gpus" not in lines[0].split("torchrun", 1)[1]


# ----------------------------------------------------------------------------- torchrun runs

@pytest.mark.slow
def test_only_rank_zero_writes_and_logs_once(two_epochs):
    save_dir, proc = two_epochs
    # The wrapper's audit hook already failed the run if rank 1 wrote anything in save_dir.
    assert sorted(p.name for p in save_dir.iterdir() if p.is_file()) == [
        "model_best.pth", "model_last.pth", "opt.json", "opt.txt"]
    logs = list(save_dir.glob("logs_*"))
    assert len(logs) == 1 and (logs[0] / "opt.txt").exists()
    losses = _epoch_losses(save_dir)
    assert sorted(losses) == [1, 2] and all(math.isfinite(v) for v in losses.values())
    # Progress lines come from rank 0 only: 2 steps x 2 epochs of training.
    assert len(re.findall(r"^full/train \[", proc.stdout, flags=re.M)) == 4
    assert proc.stdout.count("backend gloo") + proc.stderr.count("backend gloo") == 2
    last = _state(save_dir / "model_last.pth")
    assert last["epoch"] == 2 and last["next_epoch"] == 3 and last["opt"]["batch_size"] == 2


@pytest.mark.slow
def test_two_processes_close_to_one_process_with_the_same_global_batch(two_epochs, data,
                                                                       tmp_path):
    save_dir, _ = two_epochs
    _run_here(_args(data, tmp_path, "single", batch=4))
    two, one = _epoch_losses(save_dir), _epoch_losses(tmp_path / "single")
    assert sorted(one) == [1, 2]
    # Per-process BatchNorm (2 samples instead of 4) and per-process depth-loss normalisation:
    # close, not equal (see the module docstring).
    for epoch in (1, 2):
        assert math.isfinite(one[epoch])
        assert abs(two[epoch] - one[epoch]) <= 0.25 * abs(one[epoch]), (epoch, two, one)


@pytest.mark.slow
def test_same_as_one_process_when_nothing_depends_on_the_batch(data, wrapper, tmp_path,
                                                               monkeypatch):
    """Frozen BatchNorm and the heatmap loss only: 2 processes == 1 process up to rounding."""
    flags = ["--weight_3d", "0"]
    _torchrun(wrapper, _args(data, tmp_path, "two", *flags, epochs=1), freeze_bn=True)

    frozen_from = torch.nn.functional.batch_norm

    def frozen(input, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5):
        return frozen_from(input, running_mean, running_var, weight, bias, False, momentum, eps)

    monkeypatch.setattr(torch.nn.functional, "batch_norm", frozen)
    _run_here(_args(data, tmp_path, "one", *flags, batch=4, epochs=1))

    two, one = _epoch_losses(tmp_path / "two"), _epoch_losses(tmp_path / "one")
    assert abs(two[1] - one[1]) <= 1e-4, (two, one)
    a = _state(tmp_path / "two" / "model_last.pth")["state_dict"]
    b = _state(tmp_path / "one" / "model_last.pth")["state_dict"]
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-4, atol=1e-5, msg=k)


@pytest.mark.slow
def test_resume_at_an_epoch_boundary_gives_the_uninterrupted_weights(two_epochs, data, wrapper,
                                                                     tmp_path):
    full_dir, _ = two_epochs
    _torchrun(wrapper, _args(data, tmp_path, "full", epochs=1), multi_node_flags=True)
    first = _state(tmp_path / "full" / "model_last.pth")
    assert first["epoch"] == 1 and first["next_epoch"] == 2
    _torchrun(wrapper, _args(data, tmp_path, "full", "--resume", epochs=2),
              multi_node_flags=True)

    full = _state(full_dir / "model_last.pth")
    resumed = _state(tmp_path / "full" / "model_last.pth")
    assert resumed["epoch"] == full["epoch"] == 2
    assert full["state_dict"].keys() == resumed["state_dict"].keys()
    for k, v in full["state_dict"].items():
        assert torch.equal(v, resumed["state_dict"][k]), k
    for k, v in full["optimizer"]["state"].items():
        for name, t in v.items():
            assert torch.equal(t, resumed["optimizer"]["state"][k][name]), (k, name)
    assert full["scheduler"] == resumed["scheduler"] and full["best"] == resumed["best"]
    assert _epoch_losses(full_dir)[2] == _epoch_losses(tmp_path / "full")[2]
