"""Fusion3D: ratio_3d semantics, the per-epoch 3D subset (identical across workers/ranks, new each
epoch, covering every 3D sample), val = 3D only, and 2D samples without depth supervision."""
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, Subset

from pose3d.datasets import DATASETS
from pose3d.datasets.base import DataConfig, PoseDataset
from pose3d.datasets.fusion import Fusion3D
from pose3d.datasets.h36m import H36M
from pose3d.synthetic import WRITERS
from pose3d.utils.errors import UserError

NUM = 12  # 3D train samples
NUM_2D = 10


class Tiny2D(PoseDataset):
    """A 2D dataset over the H36M train images (labels only, no 3D)."""

    name = "tiny2d"

    def _load_records(self) -> list[dict]:
        recs = H36M("train", self.data_dir, self.cfg).records[:NUM_2D]
        return [{k: r[k] for k in ("image", "joints", "vis", "center", "scale")} for r in recs]


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("fusion") / "data"
    WRITERS["h36m"](out, NUM, 5, 1)
    return out


@pytest.fixture(autouse=True)
def tiny2d(monkeypatch):
    monkeypatch.setitem(DATASETS, "tiny2d", Tiny2D)


def make(root: Path, split: str = "train", ratio: float = 0.5, seed: int = 0) -> Fusion3D:
    cfg = DataConfig(dataset3d="H36M", dataset2d="tiny2d", ratio_3d=ratio, seed=seed,
                     input_h=64, input_w=64, output_h=16, output_w=16)
    return DATASETS["fusion_3d"](split, root, cfg)


@pytest.mark.parametrize("ratio, n3d", [(0.5, 5), (1.0, 10), (2.0, NUM), (0.0, NUM), (-1.0, NUM)])
def test_ratio_3d(root, ratio, n3d):
    ds = make(root, ratio=ratio)
    assert (ds.n_images_3d, ds.n_images_2d) == (n3d, NUM_2D)
    assert len(ds) == n3d + NUM_2D
    assert ds.is_3d and ds.num_joints == 16 and set(ds.datasets) == {"3d", "2d"}


def test_val_is_3d_only(root):
    ds = make(root, split="val")
    assert ds.n_images_2d == 0 and set(ds.datasets) == {"3d"}
    assert len(ds) == len(H36M("val", root, ds.cfg)) == 2
    sample = ds[1]
    assert sample["meta"]["is_3d"] and sample["meta"]["index"] == 10
    assert sample["reg_mask"].sum() > 0
    assert ds.idxs.tolist() == [0, 10]  # other attributes come from the 3D dataset


def test_2d_samples_have_no_depth_supervision(root):
    ds = make(root)
    for pos in (ds.n_images_3d, len(ds) - 1):
        s = ds[pos]
        assert not s["meta"]["is_3d"] and s["meta"]["group"] == ""
        assert s["reg_mask"].sum() == 0
        assert np.all(s["meta"]["gt_3d"] == 0)
        np.testing.assert_array_equal(s["reg_target"][:, 0], s["meta"]["vis"])
        assert s["meta"]["vis"].sum() > 0
    s3 = ds[0]
    assert s3["meta"]["is_3d"] and s3["reg_mask"].sum() > 0 and s3["meta"]["group"]
    assert set(s3) == set(ds[ds.n_images_3d])


def test_subset_same_in_every_copy_new_each_epoch(root):
    a, b = make(root, seed=4), make(root, seed=4)
    c = pickle.loads(pickle.dumps(a))  # what a spawned worker receives
    subsets = [a.subset_3d(e) for e in range(6)]
    for e, sub in enumerate(subsets):
        assert len(sub) == 5 and len(set(sub.tolist())) == 5 and sub.max() < NUM
        np.testing.assert_array_equal(sub, b.subset_3d(e))
        np.testing.assert_array_equal(sub, c.subset_3d(e))
    assert len({tuple(s) for s in subsets}) == 6  # a new subset every epoch
    assert not np.array_equal(a.subset_3d(0), make(root, seed=5).subset_3d(0))
    drawn = set()
    for e in range(30):
        drawn |= set(a.subset_3d(e).tolist())
    assert drawn == set(range(NUM))  # every 3D sample is drawn over the epochs


def test_epoch_from_item_and_set_epoch(root):
    ds = make(root, seed=1)
    want = ds.subset_3d(3)
    assert [ds[(i, 3)]["meta"]["index"] for i in range(2)] == want[:2].tolist()
    ds.set_epoch(3)
    assert ds.epoch == 3 and ds.dataset3d.epoch == 3 and ds.dataset2d.epoch == 3
    s_item, s_epoch = ds[(1, 3)], ds[1]
    assert s_epoch["meta"]["index"] == want[1]
    np.testing.assert_array_equal(s_item["input"], s_epoch["input"])  # same augmentation too


def test_dataloader_workers_draw_the_epoch_subset(root):
    torch.set_num_threads(1)
    ds = make(root, seed=2)
    ds.set_epoch(7)
    loader = DataLoader(Subset(ds, range(ds.n_images_3d)), batch_size=1, num_workers=2)
    got = [int(b["meta"]["index"]) for b in loader]
    assert got == ds.subset_3d(7).tolist()


def test_parts_must_be_of_the_right_kind(root):
    with pytest.raises(UserError, match="--dataset2D H36M: is a 3D dataset"):
        DATASETS["fusion_3d"]("train", root, DataConfig(dataset3d="H36M", dataset2d="H36M"))
    with pytest.raises(UserError, match="--dataset3D tiny2d: not a 3D dataset"):
        DATASETS["fusion_3d"]("val", root, DataConfig(dataset3d="tiny2d"))
    with pytest.raises(UserError, match="--dataset nope: unknown dataset"):
        DATASETS["fusion_3d"]("val", root, DataConfig(dataset3d="nope"))
