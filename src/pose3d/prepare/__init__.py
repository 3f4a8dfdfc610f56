"""Preparation of the official dataset releases into the layouts the loaders read.

``PREPARERS`` maps the name given to ``scripts/prepare_data.py`` to its module. Each module
exports ``add_arguments(parser)`` (its own flags) and ``prepare(args) -> Summary``; modules are
imported on first use so ``--help`` stays fast.
"""
from __future__ import annotations

import importlib
from types import ModuleType

PREPARERS: dict[str, str] = {
    "h36m": "h36m",
    "mpi_inf_3dhp": "mpi_inf_3dhp",
    "3dpw": "threedpw",
}


def preparer(name: str) -> ModuleType:
    """The module that prepares dataset ``name`` (a key of ``PREPARERS``)."""
    return importlib.import_module(f"pose3d.prepare.{PREPARERS[name]}")
