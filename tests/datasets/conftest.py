"""Shared fixtures of the dataset tests: one miniature 2D synthetic tree per session."""
from pathlib import Path
from typing import NamedTuple

import pytest

from pose3d.synthetic import WRITERS


class Tree(NamedTuple):
    root: Path   # data root holding mpii/, lsp/, lsp_extended/, flic_full/, coco/
    num: int     # images per split
    seed: int


@pytest.fixture(scope="session")
def tree_2d(tmp_path_factory) -> Tree:
    """The 2D writers' output (read-only: copy a dataset folder before corrupting it)."""
    tree = Tree(tmp_path_factory.mktemp("tree2d") / "data", 6, 7)
    for name in ("mpii", "lsp", "lspet", "flic_full", "coco"):
        WRITERS[name](tree.root, tree.num, tree.seed, 1)
    return tree
