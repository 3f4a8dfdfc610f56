"""Dataset registry: one plain table keyed by the ``--dataset`` values of the original CLI.

The table's order is the order ``--help`` lists the names in. ``FUSION_2D`` and ``FUSION_3D`` are
the ``--dataset2D`` / ``--dataset3D`` values: the parts ``fusion_3d`` may combine.
"""
from __future__ import annotations

from pose3d.registry import LazyRegistry

DATASETS = LazyRegistry(__name__, {
    "mpii": "mpii:MPII",
    "lsp_extended": "lsp_extended:LSPExtended",
    "flic_full": "flic_full:FLICFull",
    "coco": "coco:COCO",
    "fusion_3d": "fusion:Fusion3D",
    "H36M": "h36m:H36M",
    "MPII3D": "mpii3d:MPII3D",
    "3DPW": "threedpw:ThreeDPW",
    "OcclusionPerson": "occlusion_person:OcclusionPerson",
})

# The 2D sets the original offers as the weak half of fusion_3d (COCO is not one of them).
FUSION_2D: tuple[str, ...] = ("mpii", "lsp_extended", "flic_full")
# The supervised half: every registered 3D set (a test checks this against each class's is_3d).
FUSION_3D: tuple[str, ...] = ("H36M", "MPII3D", "3DPW", "OcclusionPerson")


def __getattr__(name: str):
    # The base classes import torch; only code that builds datasets needs them.
    if name in ("DataConfig", "PoseDataset"):
        from . import base
        return getattr(base, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def get_dataset(name: str) -> type:
    """Dataset class registered under ``name`` (the ``--dataset`` value)."""
    try:
        return DATASETS[name]
    except KeyError:
        from pose3d.utils.errors import UserError
        raise UserError(f"--dataset {name}: unknown dataset; choose from "
                        f"{', '.join(DATASETS)}") from None
