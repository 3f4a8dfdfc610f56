"""Shared pieces of the 3DPW preparation tests: the raw miniature and an in-process run of
``scripts/prepare_data.py 3dpw``."""
from __future__ import annotations

import pickle
import shutil
from pathlib import Path

import pytest

import helpers
from helpers import load_script
from pose3d.synthetic import WRITERS

REPO = Path(__file__).resolve().parents[2]
NUM, SEED = 6, 5
SPLIT_DIRS = ("train", "validation", "test")


PREPARE = load_script("prepare_data")


def run_prepare(src: Path, data_dir: Path, *extra: str):
    """In-process ``prepare_data.py 3dpw``; the Summary."""
    return helpers.run_prepare(PREPARE, ["3dpw", "--src", str(src), "--data_dir", str(data_dir),
                                         "--workers", "1", "--input_res", "64", *extra])


@pytest.fixture(scope="session")
def raw(tmp_path_factory) -> Path:
    """The miniature release (read-only: copy what a test damages)."""
    out = tmp_path_factory.mktemp("raw") / "data"
    WRITERS["3dpw_raw"](out, NUM, SEED, 1)
    return out / "3dpw_raw"


def raw_sequences(raw: Path) -> dict[str, dict]:
    out = {}
    for d in SPLIT_DIRS:
        for p in sorted((raw / "sequenceFiles" / d).glob("*.pkl")):
            with open(p, "rb") as f:
                out[p.stem] = pickle.load(f, encoding="latin1")
    return out


def copy_release(raw: Path, dst: Path) -> Path:
    """A copy of the sequence files; the images linked (they are only read)."""
    shutil.copytree(raw / "sequenceFiles", dst / "sequenceFiles")
    (dst / "imageFiles").symlink_to(raw / "imageFiles")
    return dst


def rewrite_pickle(path: Path, edit) -> None:
    with open(path, "rb") as f:
        data = pickle.load(f, encoding="latin1")
    edit(data)
    path.write_bytes(pickle.dumps(data, protocol=2))
