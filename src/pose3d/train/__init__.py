"""Trainers keyed by the ``--task`` value (imported on first use: the parser only needs the names)."""
from pose3d.registry import LazyRegistry

TRAINERS = LazyRegistry(__name__, {"human2d": "human2d:Trainer2D", "human3d": "human3d:Trainer3D"})
