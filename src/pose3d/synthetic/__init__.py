"""Synthetic data engine: render people with exact ground truth and write dataset trees.

``WRITERS`` maps a dataset name to its ``write(out_dir, num, seed, workers)`` function; each
writer lays out that dataset's real on-disk format under ``out_dir``.
"""
from pose3d.synthetic import h36m, mpii3d, occlusion_person, preview, threedpw
from pose3d.synthetic import coco
from pose3d.synthetic import flic_full
from pose3d.synthetic import lsp
from pose3d.synthetic import lspet
from pose3d.synthetic import mpii

WRITERS: dict = {
    "preview": preview.write,
    "h36m": h36m.write,
    "occlusion_person": occlusion_person.write,
    "mpii3d": mpii3d.write,
    "3dpw": threedpw.write,
    "mpii": mpii.write,
    "lsp": lsp.write,
    "lspet": lspet.write,
    "flic_full": flic_full.write,
    "coco": coco.write,
}
