"""lsp_extended trains on whatever part of LSP / LSP-Extended is there, and says which."""
import logging
import shutil

import pytest
import scipy.io

from pose3d.datasets import DATASETS, DataConfig
from pose3d.utils.errors import DataFormatError

CFG = DataConfig(input_h=64, input_w=64, output_h=16, output_w=16)
LSP = DATASETS["lsp_extended"]


def _only(tree_2d, tmp_path, *folders):
    for f in folders:
        shutil.copytree(tree_2d.root / f, tmp_path / f)
    return tmp_path


def _counts(root) -> tuple[int, int]:
    """Images in LSP and in LSP-Extended, from the shapes of their joints.mat."""
    lsp = scipy.io.loadmat(str(root / "lsp" / "joints.mat"))["joints"].shape[2]
    lspet = scipy.io.loadmat(str(root / "lsp_extended" / "joints.mat"))["joints"].shape[2]
    return lsp, lspet


def _images(ds) -> set[str]:
    return {r["image"] for r in ds.records}


def test_both_parts_as_the_fork(tree_2d, caplog):
    with caplog.at_level(logging.INFO):
        train, val = LSP("train", tree_2d.root, CFG), LSP("val", tree_2d.root, CFG)
    n, m = _counts(tree_2d.root)
    assert len(train) == m + n // 2 and len(val) == n - n // 2
    assert not _images(train) & _images(val)
    assert all("/lsp/" in i for i in _images(val))
    assert "lsp/ found, lsp_extended/ found" in train.note
    assert train.note in caplog.text


def test_lspet_alone_holds_out_its_last_tenth(tree_2d, tmp_path, caplog):
    root = _only(tree_2d, tmp_path, "lsp_extended")
    with caplog.at_level(logging.INFO):
        train, val = LSP("train", root, CFG), LSP("val", root, CFG)
    m = _counts(tree_2d.root)[1]
    held = max(1, round(m * LSP.lspet_val_fraction))
    assert (len(train), len(val)) == (m - held, held)
    assert not _images(train) & _images(val)
    assert val.records[-1]["image"].endswith(f"im{m:05d}.jpg")
    assert "lsp/ missing, lsp_extended/ found" in val.note and val.note in caplog.text
    assert train[0]["target"].shape == (16, 16, 16)


def test_lsp_alone_uses_its_two_halves(tree_2d, tmp_path):
    root = _only(tree_2d, tmp_path, "lsp")
    train, val = LSP("train", root, CFG), LSP("val", root, CFG)
    n = _counts(tree_2d.root)[0]
    assert (len(train), len(val)) == (n // 2, n - n // 2)
    assert not _images(train) & _images(val)
    assert "lsp/ found, lsp_extended/ missing" in train.note


def test_neither_part_is_one_line_naming_both_archives(tmp_path):
    with pytest.raises(DataFormatError) as err:
        LSP("train", tmp_path, CFG)
    msg = str(err.value)
    assert "\n" not in msg and str(tmp_path) in msg
    assert "lsp_dataset.zip" in msg and "lspet_dataset.zip" in msg
