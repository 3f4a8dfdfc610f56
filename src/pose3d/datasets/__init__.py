"""Dataset registry: one plain table keyed by the ``--dataset`` values of the original CLI.

The table's order is the order ``--help`` lists the names in. ``FUSION_2D`` and ``FUSION_3D`` are
the ``--dataset2D`` / ``--dataset3D`` values: the parts ``fusion_3d`` may combine.
"""
from __future__ import annotations

from .base import DataConfig, PoseDataset
from .coco import COCO
from .flic_full import FLICFull
from .fusion import Fusion3D
from .h36m import H36M
from .lsp_extended import LSPExtended
from .mpii import MPII
from .mpii3d import MPII3D
from .occlusion_person import OcclusionPerson
from .threedpw import ThreeDPW

DATASETS: dict[str, type[PoseDataset]] = {
    "mpii": MPII,
    "lsp_extended": LSPExtended,
    "flic_full": FLICFull,
    "coco": COCO,
    "fusion_3d": Fusion3D,
    "H36M": H36M,
    "MPII3D": MPII3D,
    "3DPW": ThreeDPW,
    "OcclusionPerson": OcclusionPerson,
}

# The 2D sets the original offers as the weak half of fusion_3d (COCO is not one of them).
FUSION_2D: tuple[str, ...] = ("mpii", "lsp_extended", "flic_full")
# Every registered 3D set can be the supervised half.
FUSION_3D: tuple[str, ...] = tuple(name for name, cls in DATASETS.items()
                                   if cls.is_3d and cls is not Fusion3D)


def get_dataset(name: str) -> type[PoseDataset]:
    """Dataset class registered under ``name`` (the ``--dataset`` value)."""
    try:
        return DATASETS[name]
    except KeyError:
        from pose3d.utils.errors import UserError
        raise UserError(f"--dataset {name}: unknown dataset; choose from "
                        f"{', '.join(DATASETS)}") from None
