"""Synthetic data engine: render people with exact ground truth and write dataset trees.

``WRITERS`` maps a dataset name to its ``write(out_dir, num, seed, workers)`` function; each
writer lays out that dataset's real on-disk format under ``out_dir``. Writer modules are imported
on first use, so that joblib workers rendering images do not import torch.
"""
from __future__ import annotations

import importlib
from typing import Callable


def _writer(module: str) -> Callable:
    def write(*args, **kwargs):
        return importlib.import_module(f"pose3d.synthetic.{module}").write(*args, **kwargs)

    write.__name__ = f"{module}.write"
    return write


WRITERS: dict[str, Callable] = {
    "mpii": _writer("mpii"),
    "lsp": _writer("lsp"),
    "lspet": _writer("lspet"),
    "flic_full": _writer("flic_full"),
    "coco": _writer("coco"),
    "h36m": _writer("h36m"),
    "occlusion_person": _writer("occlusion_person"),
    "mpii3d": _writer("mpii3d"),
    "3dpw": _writer("threedpw"),
    "preview": _writer("preview"),
    # Miniatures of the official releases, for scripts/prepare_data.py (not part of "all").
    "h36m_raw": _writer("h36m_raw"),
    "mpi_inf_3dhp_raw": _writer("mpi_inf_3dhp_raw"),
    "3dpw_raw": _writer("threedpw_raw"),
}

#: Writers of official raw releases: written only when named.
RAW_WRITERS = ("h36m_raw", "mpi_inf_3dhp_raw", "3dpw_raw")
