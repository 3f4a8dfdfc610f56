"""Fixtures of the multi-person demo tests: composed synthetic scenes, a stub network, a tiny model.

The stub network answers every crop with the same pose: heatmap peaks on fixed cells around the
centre of its 16x16 grid (pelvis on the centre cell) and a fixed depth per joint, so each
person's predicted joints land inside that person's crop, near the box centre.
"""
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from torch import nn

from pose3d.models import create_model
from pose3d.predictor import Predictor
from pose3d.synthetic.multi_person import default_focal, render_group, sample_placements

IN, OUT = 64, 16
HEADS = {"hm": 16, "depth": 16}
# (x, y) peak cell of each MPII joint on the 16x16 grid: a standing person, pelvis at (8, 8).
CELLS = np.array([[7, 14], [7, 12], [7, 8], [9, 8], [9, 12], [9, 14], [8, 8], [8, 5],
                  [8, 4], [8, 3], [5, 8], [6, 7], [6, 5], [10, 5], [10, 7], [11, 8]])


class CentreNet(nn.Module):
    """Heatmaps peaking at ``CELLS`` and depth maps ``linspace(-0.2, 0.2)`` for every input."""

    def __init__(self) -> None:
        super().__init__()
        hm = torch.zeros(16, OUT, OUT)
        for j, (x, y) in enumerate(CELLS):
            hm[j, y, x] = 1.0
        self.register_buffer("hm", hm)
        depth = torch.linspace(-0.2, 0.2, 16)[:, None, None].expand(16, OUT, OUT)
        self.register_buffer("depth", depth.clone())

    def forward(self, x: torch.Tensor) -> list[dict[str, torch.Tensor]]:
        b = x.shape[0]
        return [{"hm": self.hm.expand(b, -1, -1, -1), "depth": self.depth.expand(b, -1, -1, -1)}]


@pytest.fixture
def stub_predictor() -> Predictor:
    return Predictor(CentreNet().eval(), (IN, IN), "cpu", flip=False)


@pytest.fixture(scope="session")
def tiny_ckpt(tmp_path_factory) -> Path:
    """An untrained msra_18 checkpoint (64x64 input) written as pose3d writes them."""
    torch.manual_seed(0)
    model = create_model("msra_18", HEADS, input_hw=(IN, IN))
    path = tmp_path_factory.mktemp("ckpt") / "tiny.pth"
    torch.save({"epoch": 0, "state_dict": model.state_dict(), "arch": "msra_18",
                "heads": dict(HEADS),
                "opt": {"input_h": IN, "input_w": IN, "output_h": OUT, "output_w": OUT,
                        "arch": "msra_18"}}, path)
    return path


def compose(seed: int, num_people: int, width: int = 480, height: int = 360,
            shift_mm: float = 0.0) -> dict:
    """A rendered scene of ``num_people`` people side by side (optionally all shifted in X)."""
    rng = np.random.default_rng(seed)
    placements = sample_placements(rng, num_people, width, default_focal(height))
    return render_group(seed, [(x + shift_mm, z) for x, z in placements], width, height)


@pytest.fixture(scope="session")
def make_scene():
    """:func:`compose`, for tests that render their own scenes."""
    return compose


@pytest.fixture(scope="session")
def scenes(tmp_path_factory) -> dict:
    """Folder of two pictures (3 and 2 people), their plain detection file and ground truth."""
    root = tmp_path_factory.mktemp("scenes")
    pics = root / "pics"
    pics.mkdir()
    truth, dets = {}, {}
    for name, seed, n in (("three.png", 11, 3), ("two.png", 12, 2)):
        scene = compose(seed, n)
        cv2.imwrite(str(pics / name), scene["image"])
        truth[name] = scene
        dets[name] = [list(p["box"]) + [0.9 - 0.1 * i] for i, p in enumerate(scene["people"])]
    det_file = root / "dets.json"
    det_file.write_text(json.dumps(dets))
    return {"root": root, "pics": pics, "truth": truth, "det_file": det_file}
