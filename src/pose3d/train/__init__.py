"""Trainers keyed by the ``--task`` value."""
from .human2d import Trainer2D
from .human3d import Trainer3D

TRAINERS = {"human2d": Trainer2D, "human3d": Trainer3D}
