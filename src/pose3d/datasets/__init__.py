"""Dataset registry: one plain table keyed by the ``--dataset`` values of the original CLI."""
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
    "H36M": H36M,
    "OcclusionPerson": OcclusionPerson,
    "MPII3D": MPII3D,
    "3DPW": ThreeDPW,
    "fusion_3d": Fusion3D,
}


def get_dataset(name: str) -> type[PoseDataset]:
    """Dataset class registered under ``name`` (the ``--dataset`` value)."""
    try:
        return DATASETS[name]
    except KeyError:
        from pose3d.utils.errors import UserError
        raise UserError(f"--dataset {name}: unknown dataset; choose from "
                        f"{', '.join(DATASETS)}") from None
