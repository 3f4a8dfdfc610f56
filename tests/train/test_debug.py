"""``--debug 2``: PNG pictures of inputs, heatmaps and 3D poses in ``<save_dir>/debug``.

Unit tests check the pieces (the input normalisation undone, joints drawn where their heatmap
peaks, side colours); the run tests train and test tiny models through the runner and read the
pictures back with OpenCV: the expected files and panel layout at ``--debug 2``, no folder at
``--debug 0``, and the same weights either way.
"""
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from pose3d.datasets.transforms import normalize_image
from pose3d.opts import parse
from pose3d.skeleton import MPII16
from pose3d.train import runner
from pose3d.utils.debug import MAX_ROWS, PANEL, sample_panels
from pose3d.utils.visualize import LEFT_COLOR, RIGHT_COLOR, denormalize_image

torch.set_num_threads(1)
NUM = 4  # images per split of the synthetic tree
BATCH = 3


def test_denormalize_inverts_the_network_normalisation() -> None:
    img = np.random.default_rng(0).integers(0, 256, (8, 10, 3), dtype=np.uint8)
    np.testing.assert_array_equal(denormalize_image(normalize_image(img)), img)
    # BGR order is kept: a pure blue pixel stays in channel 0.
    blue = np.zeros((2, 2, 3), np.uint8)
    blue[..., 0] = 255
    np.testing.assert_array_equal(denormalize_image(normalize_image(blue)), blue)


def test_joints_drawn_at_their_heatmap_cell_in_side_colours() -> None:
    grid = 16
    crop = np.full((64, 64, 3), 128, np.uint8)
    pts = np.zeros((16, 2))
    vis = np.zeros(16, bool)
    r_ankle, l_ankle = MPII16.index("r_ankle"), MPII16.index("l_ankle")
    pts[r_ankle], pts[l_ankle] = (3, 12), (12, 4)
    vis[[r_ankle, l_ankle]] = True
    hm = np.zeros((16, grid, grid), np.float32)
    hm[r_ankle, 12, 3] = hm[l_ankle, 4, 12] = 1.0
    panels = sample_panels(crop, hm, hm, pts, vis, pts)
    assert len(panels) == 4 and all(p.shape == (PANEL, PANEL, 3) for p in panels)
    cell = PANEL / grid
    for panel in panels[:2]:  # GT joints, predicted joints
        for (x, y), colour in (((3, 12), RIGHT_COLOR), ((12, 4), LEFT_COLOR)):
            u, v = int((x + 0.5) * cell), int((y + 0.5) * cell)
            np.testing.assert_allclose(panel[v, u], colour, atol=40)
    # Invisible GT joints are not drawn: far from both ankles the GT panel is the plain crop.
    assert (panels[0][PANEL // 2 - 20:PANEL // 2 + 20, 20:60] == 128).all()
    # Heatmap panels: hot where the peaks are, cold elsewhere.
    u, v = int(3.5 * cell), int(12.5 * cell)
    hot, cold = panels[2][v, u].astype(int), panels[2][PANEL // 2, PANEL // 2].astype(int)
    assert hot[2] > hot[0] and cold[0] > cold[2]  # red (BGR) at the peak, blue elsewhere
    # With a depth head the 3D panels follow; a 2D sample has no GT skeleton to plot.
    pose = np.random.default_rng(1).normal(0, 300, (17, 3))
    pose[0] = 0
    three_d = sample_panels(crop, hm, hm, pts, vis, pts, pose, pose, has_3d=True)
    two_d = sample_panels(crop, hm, hm, pts, vis, pts, np.zeros((17, 3)), pose, has_3d=False)
    assert len(three_d) == len(two_d) == 6
    assert three_d[4].std() > 10 and (two_d[4][30:] == 255).all()


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    from pose3d.synthetic import WRITERS

    root = tmp_path_factory.mktemp("syn")
    for name in ("mpii", "h36m"):
        WRITERS[name](root, NUM, 3, 1)
    return root


def _args(root: Path, save: Path, *extra: str) -> list[str]:
    return ["--data_dir", str(root), "--save_dir", str(save), "--arch", "hg_1",
            "--num_features", "16", "--num_modules", "1", "--input_h", "64", "--input_w", "64",
            "--batch_size", str(BATCH), "--num_epochs", "1", "--val_intervals", "1",
            "--num_workers", "0", "--device", "cpu", "--print_iter", "1", *extra]


def _pictures(save: Path) -> dict[str, np.ndarray]:
    out = {}
    for path in sorted((save / "debug").glob("*.png")):
        img = cv2.imread(str(path))
        assert img is not None, f"{path} does not decode"
        out[path.name] = img
    return out


def _check_layout(img: np.ndarray, panels: int, rows: int = min(MAX_ROWS, BATCH)) -> None:
    assert img.shape == (rows * PANEL, panels * PANEL, 3)
    for r in range(rows):
        cells = [img[r * PANEL:(r + 1) * PANEL, c * PANEL:(c + 1) * PANEL] for c in range(panels)]
        assert all(c.std() > 5 for c in cells)  # no empty panel
        assert np.abs(cells[0].astype(int) - cells[1]).sum() > 0  # GT and predicted joints differ


@pytest.mark.slow
def test_debug_2_writes_pictures_and_changes_no_number(tree: Path, tmp_path: Path) -> None:
    fusion = ["--task", "human3d", "--dataset", "fusion_3d", "--dataset2D", "mpii",
              "--dataset3D", "H36M", "--weight_3d", "1", "--random_seed", "2"]
    runner.run(parse(_args(tree, tmp_path / "d0", *fusion, "--debug", "0")))
    runner.run(parse(_args(tree, tmp_path / "d2", *fusion, "--debug", "2")))
    assert not (tmp_path / "d0" / "debug").exists()
    pics = _pictures(tmp_path / "d2")
    # 4 MPII + 4 H36M training samples, batch 3: 3 steps; validation keeps every 10th of the
    # 4 H36M samples: one batch of one.
    assert sorted(pics) == ["train_e001_s00001.png", "train_e001_s00002.png",
                            "train_e001_s00003.png", "val_e001_b00001.png"]
    for name in ("train_e001_s00001.png", "train_e001_s00002.png"):
        _check_layout(pics[name], panels=6)
    _check_layout(pics["val_e001_b00001.png"], panels=6, rows=1)
    w0 = torch.load(tmp_path / "d0" / "model_last.pth", weights_only=True)["state_dict"]
    w2 = torch.load(tmp_path / "d2" / "model_last.pth", weights_only=True)["state_dict"]
    assert w0.keys() == w2.keys() and all(torch.equal(w0[k], w2[k]) for k in w0)

    # --test draws the first batches too, named by phase.
    runner.run(parse(_args(tree, tmp_path / "t2", *fusion, "--dataset", "H36M", "--test",
                           "--debug", "2", "--load_model",
                           str(tmp_path / "d2" / "model_last.pth"))))
    assert sorted(_pictures(tmp_path / "t2")) == ["test_e000_b00001.png"]


@pytest.mark.slow
def test_debug_2_on_a_2d_task(tree: Path, tmp_path: Path) -> None:
    runner.run(parse(_args(tree, tmp_path / "d2", "--task", "human2d", "--dataset", "mpii",
                           "--debug", "2")))
    pics = _pictures(tmp_path / "d2")
    assert sorted(pics) == ["train_e001_s00001.png", "train_e001_s00002.png",
                            "val_e001_b00001.png", "val_e001_b00002.png"]
    _check_layout(pics["train_e001_s00001.png"], panels=4)
    _check_layout(pics["val_e001_b00001.png"], panels=4)
