"""COCO person keypoints (2017), read from the official json with ``pycocotools`` (Xiao et
al.'s layout).

Layout: ``coco/annotations/person_keypoints_{train,val}2017.json`` and
``coco/images/{train,val}2017/<file_name>``. Each annotation holds ``keypoints`` (17 x [x, y, v]
flat, 0-based px, v: 0 unlabelled, 1 labelled but hidden, 2 labelled and visible), ``bbox``
``[x, y, w, h]``, ``image_id``, ``iscrowd``, ``category_id``.
"""
import contextlib
import io
from pathlib import Path

import numpy as np
from pycocotools.coco import COCO as CocoApi

from pose3d.skeleton import COCO17, MPII16
from pose3d.utils.errors import DataFormatError

from .base import PoseDataset
from .lsp_extended import require_dir, to_mpii16
from .mpii import field_array, load_json

_FIX = "use the original person_keypoints json"
# Rough head geometry for the two MPII joints COCO lacks, with t the thorax (shoulder midpoint):
# the upper neck sits 3/4 of the way from t to the mean face keypoint (the face points lie in
# front of the neck), the head top 1.4 x as far from t as the ear midpoint (ears lie on the
# head's vertical axis, about halfway up the head).
_UPPER_NECK, _HEAD_TOP = 0.75, 1.4
_FACE = ("nose", "l_eye", "r_eye", "l_ear", "r_ear")


def _read_coco(path: Path) -> CocoApi:
    """The keypoint json as a ``pycocotools`` index, after checking the fields it relies on.

    Raises:
        DataFormatError: missing or unparsable file, or a missing field; the message names the
            file, the entry and the field (``pycocotools`` alone would raise a bare KeyError).
    """
    data = load_json(path, "COCO keypoint annotation")
    # pycocotools reads 'categories' unchecked (getCatIds), so it is required as well.
    for key in ("images", "annotations", "categories"):
        if not isinstance(data, dict) or not isinstance(data.get(key), list):
            raise DataFormatError(path, f"no list '{key}' at the top level", _FIX)
    for i, img in enumerate(data["images"]):
        for key in ("id", "file_name"):
            if not isinstance(img, dict) or key not in img:
                raise DataFormatError(path, f"images[{i}] has no field '{key}'", _FIX)
        if not (isinstance(img["id"], (int, float, str)) and isinstance(img["file_name"], str)):
            raise DataFormatError(path, f"images[{i}]: 'id' must be a number and 'file_name' "
                                  "a string", _FIX)
    ids = {img["id"] for img in data["images"]}
    for i, ann in enumerate(data["annotations"]):
        for key in ("keypoints", "bbox", "image_id", "id", "category_id"):
            if not isinstance(ann, dict) or key not in ann:
                raise DataFormatError(path, f"annotations[{i}] has no field '{key}'", _FIX)
        if not isinstance(ann["image_id"], (int, float, str)) or ann["image_id"] not in ids:
            raise DataFormatError(path, f"annotations[{i}]: image_id {ann['image_id']} is not in "
                                  "'images'", _FIX)
        field_array(ann["keypoints"], (COCO17.num_joints * 3,), path, f"annotations[{i}]",
                    "keypoints", _FIX)
        field_array(ann["bbox"], (4,), path, f"annotations[{i}]", "bbox", _FIX)
    for i, cat in enumerate(data["categories"]):
        if not isinstance(cat, dict) or "id" not in cat or "name" not in cat:
            raise DataFormatError(path, f"categories[{i}] needs the fields 'id' and 'name'", _FIX)
    coco = CocoApi()
    coco.dataset = data
    with contextlib.redirect_stdout(io.StringIO()):  # createIndex prints its progress
        coco.createIndex()
    return coco


class COCO(PoseDataset):
    """COCO keypoints mapped to the 16 MPII joints of the pipeline.

    The original's own (unused) COCO loader predicts the 17 COCO joints; here every dataset
    shares the 16-joint MPII head, so COCO is mapped by name: ankles, knees, hips, wrists,
    elbows and shoulders are copied, pelvis / thorax are the hip / shoulder midpoints, and the
    two head joints are approximated from the face keypoints: with ``t`` the thorax, ``f`` the
    mean of the labelled nose/eyes/ears and ``e`` the ear midpoint (``f`` unless both ears are
    labelled), upper neck ``= t + 0.75 (f - t)`` and head top ``= t + 1.4 (e - t)``, labelled
    when the thorax and at least one face point are (median error on the synthetic bodies:
    about 0.15 / 0.2 head lengths; on real photographs a rough guess). Labelled
    means ``v > 0`` (hidden joints are supervised, as in Xiao et al.). One record per annotation
    with ``iscrowd == 0`` and at least one labelled keypoint; box: centre of ``bbox``,
    side ``1.25 * max(w, h)`` (Xiao et al.'s recipe for a square input).
    """

    name = "coco"

    def _load_records(self) -> list[dict]:
        root = self.data_dir / "coco"
        require_dir(root, "COCO")
        tag = "train2017" if self.split == "train" else "val2017"
        path = root / "annotations" / f"person_keypoints_{tag}.json"
        coco = _read_coco(path)
        kept = []
        people = coco.getCatIds(catNms=["person"]) or [1]
        for ann in coco.loadAnns(coco.getAnnIds(catIds=people)):
            kps = np.asarray(ann["keypoints"], dtype=np.float64).reshape(COCO17.num_joints, 3)
            bbox = np.asarray(ann["bbox"], dtype=np.float64)
            labelled = (kps[:, 2] > 0) & np.isfinite(kps[:, :2]).all(axis=1)
            if ann.get("iscrowd", 0) or not labelled.any():
                continue
            if not (np.isfinite(bbox).all() and bbox[2] > 0 and bbox[3] > 0):
                continue
            image = coco.imgs[ann["image_id"]]
            kept.append((str(root / "images" / tag / image["file_name"]),
                         np.where(labelled[:, None], kps[:, :2], 0.0), labelled, bbox))
        if not kept:
            return []

        xy = np.stack([x for _, x, _, _ in kept])
        lab = np.stack([v for _, _, v, _ in kept]).astype(np.float64)
        joints, vis = to_mpii16(COCO17.names, xy, lab)
        face = np.array([COCO17.index(n) for n in _FACE])
        ears = np.array([COCO17.index("l_ear"), COCO17.index("r_ear")])
        n_face = lab[:, face].sum(axis=1)
        f = (xy[:, face] * lab[:, face, None]).sum(axis=1) / np.maximum(n_face, 1)[:, None]
        both_ears = lab[:, ears].all(axis=1)
        axis = np.where(both_ears[:, None], xy[:, ears].mean(axis=1), f)
        thorax = MPII16.index("thorax")
        t, ok = joints[:, thorax], vis[:, thorax] * (n_face > 0)
        for name, end, a in (("upper_neck", f, _UPPER_NECK), ("head_top", axis, _HEAD_TOP)):
            j = MPII16.index(name)
            joints[:, j] = np.where(ok[:, None] > 0, t + a * (end - t), 0.0)
            vis[:, j] = ok
        return [{"image": image, "joints": joints[n], "vis": vis[n],
                 "center": bbox[:2] + bbox[2:] / 2, "scale": 1.25 * float(bbox[2:].max())}
                for n, (image, _, _, bbox) in enumerate(kept)]
