"""COCO person keypoints (2017), read from the official json (Xiao et al.'s layout).

Layout: ``coco/annotations/person_keypoints_{train,val}2017.json`` and
``coco/images/{train,val}2017/<file_name>``. Each annotation holds ``keypoints`` (17 x [x, y, v]
flat, 0-based px, v: 0 unlabelled, 1 labelled but hidden, 2 labelled and visible), ``bbox``
``[x, y, w, h]``, ``image_id``, ``iscrowd``, ``category_id``.
"""
import numpy as np

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
        data = load_json(path, "COCO keypoint annotation")
        for key in ("images", "annotations"):
            if not isinstance(data, dict) or not isinstance(data.get(key), list):
                raise DataFormatError(path, f"no list '{key}' at the top level", _FIX)
        files = {}
        for i, img in enumerate(data["images"]):
            for key in ("id", "file_name"):
                if not isinstance(img, dict) or key not in img:
                    raise DataFormatError(path, f"images[{i}] has no field '{key}'", _FIX)
            if not (isinstance(img["id"], (int, float, str))
                    and isinstance(img["file_name"], str)):
                raise DataFormatError(path, f"images[{i}]: 'id' must be a number and 'file_name' "
                                      "a string", _FIX)
            files[img["id"]] = str(root / "images" / tag / img["file_name"])

        k = COCO17.num_joints
        kept = []
        for i, ann in enumerate(data["annotations"]):
            where = f"annotations[{i}]"
            for key in ("keypoints", "bbox", "image_id"):
                if not isinstance(ann, dict) or key not in ann:
                    raise DataFormatError(path, f"{where} has no field '{key}'", _FIX)
            kps = field_array(ann["keypoints"], (k * 3,), path, where, "keypoints", _FIX)
            kps = kps.reshape(k, 3)
            bbox = field_array(ann["bbox"], (4,), path, where, "bbox", _FIX)
            if not isinstance(ann["image_id"], (int, float, str)) or ann["image_id"] not in files:
                raise DataFormatError(path, f"{where}: image_id {ann['image_id']} is not in "
                                      "'images'", _FIX)
            labelled = (kps[:, 2] > 0) & np.isfinite(kps[:, :2]).all(axis=1)
            if ann.get("iscrowd", 0) or ann.get("category_id", 1) != 1 or not labelled.any():
                continue
            if not (np.isfinite(bbox).all() and bbox[2] > 0 and bbox[3] > 0):
                continue
            kept.append((files[ann["image_id"]], np.where(labelled[:, None], kps[:, :2], 0.0),
                         labelled, bbox))
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
