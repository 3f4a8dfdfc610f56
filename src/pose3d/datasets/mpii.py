"""MPII Human Pose in the json form of Xiao et al. (docs/datasets.md).

Layout: ``mpii/annot/{train,valid}.json`` (the fork names the second file ``val.json``; both are
accepted) and ``mpii/images/<image>``. Each json record is one person::

    {"image": "015601864.jpg", "center": [x, y], "scale": s,
     "joints": [[x, y] x 16], "joints_vis": [0/1 x 16]}

with 1-based pixel coordinates and ``scale`` = person height / 200 px. Also home of the json
functions the COCO loader shares (:func:`load_json`, :func:`field_array`).
"""
import json
from pathlib import Path

import numpy as np

from pose3d.evaluation.pckh import check_person_count, load_gt_valid
from pose3d.skeleton import MPII16
from pose3d.utils.errors import DataFormatError

from .base import PoseDataset
from .lsp_extended import require_dir

_REQUIRED = ("image", "center", "scale", "joints")
_FIX = "re-download the MPII annotation json or rewrite the synthetic tree"


def load_json(path: Path, what: str) -> list | dict:
    """Parse a json annotation file; a missing or unparsable file is a DataFormatError."""
    if not path.is_file():
        raise DataFormatError(path, f"{what} is missing",
                              "put the file there or point --data_dir at the data root")
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise DataFormatError(path, f"not valid json ({err})",
                              "the file is truncated or corrupt; re-extract it") from None


def field_array(value, shape: tuple[int, ...], path: Path, where: str, field: str,
                fix: str = "use the original annotation file") -> np.ndarray:
    """``value`` as a float64 array of ``shape`` (NaN allowed), else a DataFormatError naming
    the file, the record (``where``) and the field."""
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        arr = None
    if arr is None or arr.shape != shape:
        got = "non-numeric" if arr is None else f"shape {arr.shape}"
        raise DataFormatError(path, f"{where}: field '{field}' has {got}, expected {shape}", fix)
    return arr


class MPII(PoseDataset):
    """MPII 2D poses: one record per annotated person, joints kept in the stored 1-based frame.

    Box (the fork's recipe): ``c_y += 15 * scale``, ``c -= 1``,
    side ``= scale * 1.25 * 200`` px. Joints stay as stored (1-based, as the fork), so predictions
    mapped back through the box compare directly with ``gt_valid.mat``. A joint is labelled when
    ``joints_vis`` is 1 (a file without ``joints_vis``, like the fork's, counts every joint) and
    not both coordinates are <= 0 (the ``[-1, -1]`` placeholders); non-finite coordinates count
    as missing.
    """

    name = "mpii"

    def annotation_file(self) -> Path:
        """``annot/train.json``, or for val ``annot/valid.json`` (Xiao) else ``val.json`` (fork)."""
        annot = self.data_dir / "mpii" / "annot"
        if self.split == "train":
            return annot / "train.json"
        for name in ("valid.json", "val.json"):
            if (annot / name).is_file():
                return annot / name
        return annot / "valid.json"

    def _load_records(self) -> list[dict]:
        root = self.data_dir / "mpii"
        require_dir(root, "MPII")
        path = self.annotation_file()
        data = load_json(path, "MPII annotation" + (" (valid.json or val.json)"
                                                    if self.split == "val" else ""))
        if not isinstance(data, list):
            raise DataFormatError(path, "top level is not a list of person records", _FIX)
        images = root / "images"
        k = MPII16.num_joints
        records = []
        for i, rec in enumerate(data):
            where = f"record {i}"
            if not isinstance(rec, dict):
                raise DataFormatError(path, f"{where} is not an object", _FIX)
            for key in _REQUIRED:
                if key not in rec:
                    raise DataFormatError(path, f"{where} has no field '{key}'", _FIX)
            joints = field_array(rec["joints"], (k, 2), path, where, "joints", _FIX)
            center = field_array(rec["center"], (2,), path, where, "center", _FIX)
            scale = float(field_array(rec["scale"], (), path, where, "scale", _FIX))
            if "joints_vis" in rec:
                labelled = field_array(rec["joints_vis"], (k,), path, where, "joints_vis",
                                       _FIX) > 0
            else:
                labelled = np.ones(k, dtype=bool)
            if not (np.isfinite(center).all() and np.isfinite(scale) and scale > 0):
                raise DataFormatError(path, f"{where}: 'center'/'scale' not finite and positive",
                                      _FIX)
            finite = np.isfinite(joints).all(axis=1)
            labelled &= finite & ((joints[:, 0] > 0) | (joints[:, 1] > 0))
            joints[~finite] = 0.0
            center = center + np.array([0.0, 15.0 * scale]) - 1.0
            records.append({"image": str(images / str(rec["image"])), "joints": joints,
                            "vis": labelled.astype(np.float64), "center": center,
                            "scale": scale * 1.25 * 200.0})
        if self.split == "val":
            self._check_gt_valid(path, len(records))
        return records

    def _check_gt_valid(self, annot_path: Path, n_records: int) -> None:
        """Read ``gt_valid.mat`` now, when present, so that a file PCKh cannot use stops the run
        before training instead of at the first validation."""
        gt_path = self.data_dir / "mpii" / "annot" / "gt_valid.mat"
        if gt_path.is_file():
            n_gt = load_gt_valid(gt_path)["pos_gt_src"].shape[-1]
            check_person_count(gt_path, n_gt, annot_path, n_records)
