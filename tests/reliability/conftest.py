"""Shared fixtures of the reliability tests: one miniature synthetic tree of every format.

Faults are made on a *clone* of that tree: folders are recreated and files symlinked, and the one
file a test breaks is first replaced by a real copy (:func:`own_copy`), so every test starts from
the pristine tree at the cost of a few hundred symlinks.
"""
import os
import shutil
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))  # faults.py, imported by the tests

torch.set_num_threads(1)

WRITER_NAMES = ("mpii", "lsp", "lspet", "flic_full", "coco", "h36m", "occlusion_person", "mpii3d",
                "3dpw")
NUM = 4
SEED = 5
# MPI-INF-3DHP and 3DPW name their images relative to the parent of the data root, by the root's
# folder name; clones keep that name.
ROOT_NAME = "syn"


def write_tree(out: Path) -> Path:
    from pose3d.synthetic import WRITERS

    for name in WRITER_NAMES:
        WRITERS[name](out, NUM, SEED, 1)
    return out


def clone_tree(src: Path, dst: Path) -> Path:
    """``dst`` mirrors ``src``: same folders, every file a symlink to the original."""
    for folder, dirs, files in os.walk(src):
        rel = Path(folder).relative_to(src)
        (dst / rel).mkdir(parents=True, exist_ok=True)
        for f in files:
            os.symlink(Path(folder) / f, dst / rel / f)
    return dst


def own_copy(path: Path) -> Path:
    """Replace a symlink of the clone by a real copy, so it can be broken without harm."""
    if path.is_symlink():
        target = path.resolve()
        path.unlink()
        shutil.copyfile(target, path)
    return path


@pytest.fixture(scope="session")
def syn_root(tmp_path_factory) -> Path:
    """The pristine tree (never modified)."""
    return write_tree(tmp_path_factory.mktemp("pristine") / ROOT_NAME)


@pytest.fixture
def clone(syn_root, tmp_path) -> Path:
    """A private, breakable clone of the pristine tree."""
    return clone_tree(syn_root, tmp_path / ROOT_NAME)
