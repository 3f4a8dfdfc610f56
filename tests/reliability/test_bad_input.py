"""One test per row of the bad-input table (``faults.py``).

In-process rows construct the dataset / load the checkpoint / parse the flags / start the run on
a broken clone of the synthetic tree and expect one :class:`UserError` whose single-line message
names the file or flag; ``main`` / ``demo`` rows run ``src/main.py`` / ``src/demo.py`` and read
their stderr.
"""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from faults import CKPT, FAULTS, IMAGE, Fault
from pose3d.datasets import DATASETS
from pose3d.datasets.base import DataConfig
from pose3d.models import create_model
from pose3d.opts import parse
from pose3d.train import runner
from pose3d.train.base import check_batch
from pose3d.utils.errors import UserError

REPO = Path(__file__).resolve().parents[2]
CFG = dict(input_h=64, input_w=64, output_h=16, output_w=16)


def _ids(rows):
    return [r.id for r in rows]


IN_PROCESS = [f for f in FAULTS if f.command[0] not in ("main", "demo")]
SUBPROCESS = [f for f in FAULTS if f.command[0] in ("main", "demo")]


def _paths(fault: Fault, clone: Path, tmp_path: Path) -> tuple[Path | None, Path]:
    """(path the fault is made at, checkpoint path) for a row."""
    ckpt_dir = tmp_path / "ckpt"
    ckpt_dir.mkdir(exist_ok=True)
    ckpt = ckpt_dir / "model.pth"
    if fault.target.startswith(CKPT):
        name = fault.target.partition("/")[2] or "model.pth"
        ckpt = ckpt_dir / name
        return ckpt, ckpt
    if fault.target in ("", IMAGE):
        return None, ckpt
    return clone / fault.target, ckpt


def _argv(argv: list[str], clone: Path, ckpt: Path) -> list[str]:
    return [a.format(root=clone, ckpt=ckpt, ckpt_dir=ckpt.parent) for a in argv]


def _assert_one_line(msg: str, fault: Fault) -> None:
    assert "\n" not in msg.strip(), f"multi-line message: {msg!r}"
    assert "Traceback" not in msg
    for s in fault.expect:
        assert s in msg, f"{s!r} not in {msg!r}"


def _assert_clean_samples(ds) -> None:
    """Every record and sample is finite, labels are 0/1 (what a legal odd input must give)."""
    for rec in ds.records:
        assert np.isfinite(rec["joints"]).all() and np.isin(rec["vis"], (0, 1)).all()
    for i in range(len(ds)):
        s = ds[(i, 1)]
        for key in ("input", "target", "reg_target"):
            assert np.isfinite(s[key]).all(), key
        assert np.isfinite(s["meta"]["gt_3d"]).all()


@pytest.mark.parametrize("fault", IN_PROCESS, ids=_ids(IN_PROCESS))
def test_fault(fault: Fault, clone: Path, tmp_path: Path, capsys) -> None:
    path, ckpt = _paths(fault, clone, tmp_path)
    kind = fault.command[0]
    if path is not None:
        fault.make(path)

    if kind == "flags":
        with pytest.raises(SystemExit) as exc:
            parse(fault.command[1])
        assert exc.value.code == fault.exit == 2
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1, err
        _assert_one_line(err, fault)
        return

    if kind == "dataset":
        _, name, split = fault.command
        call = lambda: DATASETS[name](split, clone, DataConfig(**CFG))  # noqa: E731
    elif kind == "sample":
        _, name, split = fault.command
        ds = DATASETS[name](split, clone, DataConfig(**CFG))
        fault.make(Path(ds.records[int(ds.idxs[0])]["image"]))
        call = lambda: ds[0]  # noqa: E731
    elif kind == "weights":
        arch = fault.command[1]
        model = create_model(arch, {"hm": 16, "depth": 16}, num_stacks=1, num_modules=1,
                             num_features=16)
        call = lambda: runner.load_weights(model, ckpt, arch)  # noqa: E731
    elif kind == "run":
        argv = _argv(fault.command[1], clone, ckpt)
        call = lambda: runner.run(parse(argv))  # noqa: E731
    else:
        raise AssertionError(kind)

    if fault.exit == 0:
        _assert_clean_samples(call())
        return
    with pytest.raises(UserError) as exc:
        call()
    assert fault.exit == exc.value.exit_code == 1
    _assert_one_line(str(exc.value), fault)


@pytest.mark.slow
@pytest.mark.parametrize("fault", SUBPROCESS, ids=_ids(SUBPROCESS))
def test_fault_main(fault: Fault, clone: Path, tmp_path: Path) -> None:
    path, ckpt = _paths(fault, clone, tmp_path)
    if path is not None:
        fault.make(path)
    argv = _argv(fault.command[1], clone, ckpt)
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    script = REPO / "src" / f"{fault.command[0]}.py"
    proc = subprocess.run([sys.executable, str(script), *argv], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == fault.exit, proc.stderr[-3000:]
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    debug = "--debug" in argv
    expect = [s for s in fault.expect if s != "Traceback"]
    if fault.exit == 2:
        assert len(lines) == 1, proc.stderr
        errors = lines
    else:
        errors = [ln for ln in lines if ln.startswith("error: ")]
        assert len(errors) == 1 and lines[-1] == errors[0], proc.stderr[-3000:]
        # Whatever else is on stderr is log lines, never a traceback (unless --debug).
        assert ("Traceback" in proc.stderr) == debug, proc.stderr[-3000:]
    for s in expect:
        assert s in errors[0], errors[0]


def test_table_covers_every_registered_dataset() -> None:
    covered = {f.command[1] for f in FAULTS if f.command[0] in ("dataset", "sample")}
    assert set(DATASETS) <= covered, set(DATASETS) - covered
    # Each non-composite format gets the full set of file and image faults.
    for name in set(DATASETS) - {"fusion_3d"}:
        kinds = {f.id.split("-", 1)[1] for f in FAULTS
                 if f.command[0] in ("dataset", "sample") and f.command[1] == name}
        assert {"image-missing", "image-zero-bytes", "image-not-an-image"} <= kinds, name
        assert any(k.startswith("file-truncated") for k in kinds), name
        assert any("joint-count" in k for k in kinds), name


def test_worker_error_is_one_line(syn_root: Path, tmp_path: Path) -> None:
    """A missing image read in a DataLoader worker process still ends as the one-line error."""
    from conftest import clone_tree

    root = clone_tree(syn_root, tmp_path / "syn")
    ds = DATASETS["H36M"]("train", root, DataConfig(**CFG))
    Path(ds.records[0]["image"]).unlink()
    opt = parse(["--num_workers", "1", "--batch_size", "2"])
    loader = runner.make_loader(ds, opt, batch_size=len(ds), workers=1)
    with pytest.raises(UserError) as exc:
        for batch in loader:
            check_batch(batch)
    assert "\n" not in str(exc.value) and "image file is missing" in str(exc.value)


# -- pickles only from the data directory (pose3d.utils.io) ----------------------------------------
def test_pickles_are_read_only_inside_data_dir(tmp_path: Path) -> None:
    import pickle

    from pose3d.utils.io import load_joblib, load_pickle, require_inside

    data = tmp_path / "data"
    (data / "h36m").mkdir(parents=True)
    inside, outside = data / "h36m" / "a.pkl", tmp_path / "evil.pkl"
    for p in (inside, outside):
        p.write_bytes(pickle.dumps([{"x": 1}]))
    assert load_pickle(inside, data) == [{"x": 1}]
    for bad in (outside, data / ".." / "evil.pkl", data / "h36m" / ".." / ".." / "evil.pkl"):
        with pytest.raises(UserError) as exc:
            load_pickle(bad, data)
        assert "outside the data directory" in str(exc.value) and "\n" not in str(exc.value)
        with pytest.raises(UserError):
            load_joblib(bad, data)
    # A dataset folder linked from elsewhere is legitimate: the check does not follow links.
    (data / "linked").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    (tmp_path / "elsewhere").mkdir()
    assert require_inside(data / "linked" / "x.pkl", data) == data / "linked" / "x.pkl"
    # Missing and damaged files are one-line errors naming the file.
    with pytest.raises(UserError, match="a.pkl: annotation file is missing"):
        load_pickle(data / "a.pkl", data)
    inside.write_bytes(pickle.dumps([{"x": 1}])[:5])
    with pytest.raises(UserError, match="cannot be unpickled"):
        load_pickle(inside, data)


def test_python2_pickles_load(tmp_path: Path) -> None:
    from pose3d.utils.io import load_pickle

    # protocol 2 with a py2 str (SHORT_BINSTRING) holding a non-ASCII byte
    raw = b"\x80\x02]q\x00U\x04caf\xe9q\x01a."
    (tmp_path / "py2.pkl").write_bytes(raw)
    assert load_pickle(tmp_path / "py2.pkl", tmp_path) == ["caf\xe9"]
