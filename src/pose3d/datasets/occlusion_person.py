"""Occlusion-Person (zhezh/occlusion_person, the UnrealCV set of AdaFuse).

Files::

    <data_dir>/occlusion_person/unrealcv_{train,validation}.pkl     (split 'val' -> 'validation')
    <data_dir>/occlusion_person/images/<image>                       (e.g. <video_id>/00_000000.jpg)

Each pickle is a list of dicts, one per (frame, camera) image, with 15 UnrealCV joints. Read as
the original: ``joints_3d`` (camera frame, mm) and ``joints_2d`` (image px) are mapped to MPII-16 by
name (thorax = mean of the shoulders; the set has no head, so **head-top := neck**, as the
original); ``gt_3d`` = MPII-16 3D minus the pelvis, reordered with ``MPII_TO_H36M``; the depth
target is the root-relative Z times ``b``, the Procrustes scale (px per mm) of the root-relative
X, Y onto the 2D joints; the crop side is ``max(scale) * 200`` around ``center`` (no 1.25).
Visibility flags, camera and world joints are not used (as the original): every joint is labelled
and the crop decides which are supervised. ``group`` is the ``video_id``.
"""
import logging
import os
from pathlib import Path

import numpy as np

from pose3d.skeleton import MPII16, MPII_TO_H36M, ROOT_MPII, UNREALCV15
from pose3d.utils.errors import DataFormatError

from .base import PoseDataset
from .h36m import load_record_list, procrustes_scale, read_array, require_scales

logger = logging.getLogger(__name__)

SPLIT_FILES = {"train": "unrealcv_train.pkl", "val": "unrealcv_validation.pkl"}
# MPII-16 joint <- UnrealCV joints averaged (names); head-top has no source and copies the neck.
_SOURCES = {name: (name,) for name in MPII16.names if name in UNREALCV15}
_SOURCES.update(thorax=("l_shoulder", "r_shoulder"), upper_neck=("neck",), head_top=("neck",))


def _unrealcv_to_mpii_matrix() -> np.ndarray:
    """(16, 15) averaging matrix: ``mpii = M @ unrealcv``."""
    mat = np.zeros((MPII16.num_joints, len(UNREALCV15)))
    for j, name in enumerate(MPII16.names):
        src = _SOURCES[name]
        for s in src:
            mat[j, UNREALCV15.index(s)] = 1.0 / len(src)
    return mat


UNREALCV_TO_MPII = _unrealcv_to_mpii_matrix()


def annotation_path(data_dir: str | os.PathLike, split: str) -> Path:
    """The annotation pickle of ``split`` ('train' or 'val')."""
    return Path(data_dir) / "occlusion_person" / SPLIT_FILES[split]


def image_root(data_dir: str | os.PathLike) -> Path:
    """Folder the records' ``image`` paths are relative to."""
    return Path(data_dir) / "occlusion_person" / "images"


class OcclusionPerson(PoseDataset):
    """Occlusion-Person, split 'train' or 'val' (the 'validation' pickle)."""

    name = "OcclusionPerson"
    is_3d = True
    rotate_in_train = False
    subsample_val = True

    def _load_records(self) -> list[dict]:
        path = annotation_path(self.data_dir, self.split)
        db = load_record_list(path, self.data_dir,
                              "put unrealcv_{train,validation}.pkl of Occlusion-Person there "
                              "(flat, not under annot/) or write the synthetic tree")
        n_src = len(UNREALCV15)
        images, groups = [], []
        j2d = np.empty((len(db), n_src, 2))
        j3d = np.empty((len(db), n_src, 3))
        centers = np.empty((len(db), 2))
        sides = np.empty(len(db))
        for i, entry in enumerate(db):
            where = f"record {i}"
            j2d[i] = read_array(entry, "joints_2d", (n_src, (2, None)), path, where)[:, :2]
            j3d[i] = read_array(entry, "joints_3d", (n_src, 3), path, where)
            centers[i] = read_array(entry, "center", (2,), path, where)
            scale = read_array(entry, "scale", (None,), path, where)
            if scale.size not in (1, 2) or not (scale > 0).all():
                raise DataFormatError(path, f"{where} field 'scale' is {scale.tolist()}, "
                                      "expected one or two positive box sizes / 200")
            sides[i] = scale.max() * 200.0
            image = entry.get("image")
            if not isinstance(image, str) or not image:
                raise DataFormatError(path, f"{where} field 'image' is missing or not a string",
                                      "the file does not have the documented layout")
            images.append(image)
            groups.append(str(entry.get("video_id", os.path.dirname(image))))

        joints = np.einsum("jk,nkc->njc", UNREALCV_TO_MPII, j2d)  # (N, 16, 2) px
        mm = np.einsum("jk,nkc->njc", UNREALCV_TO_MPII, j3d)  # (N, 16, 3) mm, camera frame
        mm = mm - mm[:, ROOT_MPII:ROOT_MPII + 1]
        b = procrustes_scale(joints, mm[..., :2])
        require_scales(b, path, "record")
        depth = mm[..., 2] * b[:, None]
        gt_3d = mm[:, MPII_TO_H36M]

        root = image_root(self.data_dir)
        records = [{
            "image": str(root / images[i]),
            "joints": joints[i],
            "vis": np.ones(MPII16.num_joints),
            "center": centers[i],
            "scale": float(sides[i]),
            "gt_3d": gt_3d[i],
            "depth_px": depth[i],
            "group": groups[i],
        } for i in range(len(db))]
        logger.info("OcclusionPerson %s: %d records from %s", self.split, len(records), path)
        return records
