"""3DPW as pre-processed by the ECE740F21T01 fork's copy of VIBE (docs/datasets.md).

Files::

    <data_dir>/vibe_db/3dpw_{train,val}_db.pt

Same db layout and reading as :mod:`pose3d.datasets.mpii3d` (keys ``vid_name, frame_id, img_name,
joints3D, joints3D_image, joints2D, shape, pose, bbox, valid``; only the joints, ``bbox``,
``img_name`` and ``vid_name`` are read). The third column of ``joints2D`` (detector confidence >
0.3) is the visibility: unlabelled joints get no supervision and stay out of the depth scale fit.

Fixed: the original opened ``'../' + img_name`` relative to the *working
directory*; here ``img_name`` (``data/3dpw/imageFiles/<seq>/image_%05d.jpg``, relative to the
repository root) is resolved against the parent of ``data_dir`` exactly like MPI-INF-3DHP, so the
result does not depend on where the program is started.

Known data quirks of the fork's preprocessing (not of this reader): its train split takes the
MPII thorax from SPIN's thorax while val takes it from the H36M regressor's spine, and its 2D
joints were converted as if they were COCO-17.
"""
import json

from pose3d.utils.errors import DataFormatError

from .mpii3d import MPII3D

#: Written by ``scripts/prepare_data.py 3dpw`` beside the dbs: where the 3D joints came from.
PREPARE_INFO = "3dpw_prepare.json"


class ThreeDPW(MPII3D):
    """3DPW ('train' and 'val' dbs), read like :class:`MPII3D`."""

    name = "3DPW"
    db_prefix = "3dpw"

    def _load_records(self) -> list[dict]:
        records = super()._load_records()
        self.note = joints_source_note(self.data_dir / "vibe_db" / PREPARE_INFO)
        return records


def joints_source_note(path) -> str:
    """What ``3dpw_prepare.json`` says of the 3D joints ('' for dbs of other origins).

    SMPL joints and the H36M regressor's joints are different points (hips, neck, head), so a
    result must say which it was computed on.
    """
    if not path.is_file():
        return ""
    try:
        info = json.loads(path.read_text())
        return f"3DPW 3D joints: {info['joints3D_source']} ({info['joints3D']})"
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DataFormatError(path, f"cannot be read ({type(exc).__name__}: {exc})",
                              "run scripts/prepare_data.py 3dpw again") from None
