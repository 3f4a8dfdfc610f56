"""Joints of the 3DPW release in MPII-16: camera transforms, the name maps, and the joints
from SMPL vertices through ``J_regressor_h36m.npy`` (``--smpl_model``).

The release's ``jointPositions`` (24 SMPL joints) give MPII pelvis, hips, knees, ankles,
shoulders, elbows and wrists from the SMPL joints of the same name, thorax = mid-shoulders,
upper neck = SMPL neck and head top = SMPL head extended by the neck-to-head vector (SMPL has no
head top). The OpenPose COCO-18 detections (``poses2d``) map by name, with pelvis = mid-hips and
thorax = OpenPose neck (its shoulder midpoint); they have no upper neck or head top.

With ``--smpl_model`` and ``--j_regressor`` the SMPL model (licensed separately, not shipped) is posed with each actor's ``betas``, ``poses``
and ``trans`` by the ``smplx`` package, the vertices are moved into the camera frame with
``cam_poses`` and regressed to the 17 H36M joints, which are then mapped to MPII-16 by name
exactly as the Human3.6M data is (thorax <- spine, upper neck <- thorax, head top <- head).

Model files are read without running code: ``.npz`` with ``allow_pickle=False``, ``.pkl`` through
an allowlist of numpy and scipy.sparse classes (the original SMPL pickles hold chumpy objects and
must be converted first). A folder gives ``SMPL_MALE`` / ``SMPL_FEMALE`` per actor gender.
"""
from __future__ import annotations

import pickle
from pathlib import Path

import cv2
import numpy as np

from pose3d.skeleton import (H36M17, H36M_REGRESSOR17, H36M_TO_MPII, MPII16, OPENPOSE18,
                             SMPL24)
from pose3d.utils.errors import DataFormatError, UserError
from pose3d.utils.io import ForbiddenGlobal, check_global

NUM_VERTICES = 6890
MODEL_KEYS = ("v_template", "shapedirs", "posedirs", "J_regressor", "weights", "kintree_table",
              "f")
_CONVERT = ("save the model's arrays (v_template, shapedirs, posedirs, J_regressor, weights, "
            "kintree_table, f) as plain numpy arrays in a .npz")
_GENDER_FILES = {"m": "SMPL_MALE", "f": "SMPL_FEMALE"}
# SMPL model pickles hold their regressor as a scipy sparse matrix, besides numpy arrays.
_SPARSE_GLOBALS = frozenset({("scipy.sparse.csc", "csc_matrix"), ("scipy.sparse._csc", "csc_matrix")})
# MPII16 joint <- regressor row, through the H36M joint names.
REGRESSOR_TO_MPII = [H36M_REGRESSOR17.index(H36M17.names[j]) for j in H36M_TO_MPII]
CHUNK = 256   # frames posed at once (vertices of 256 frames: 21 MB)
# MPII-16 joint <- mean of these SMPL joints; head top is made in smpl_to_mpii.
SMPL_TO_MPII = {n: (n,) for n in MPII16.names if n in SMPL24}
SMPL_TO_MPII.update(thorax=("l_shoulder", "r_shoulder"), upper_neck=("neck",))
# MPII-16 joint <- mean of these OpenPose joints (none: not detected by OpenPose).
OPENPOSE_TO_MPII = {n: (n,) for n in MPII16.names if n in OPENPOSE18}
OPENPOSE_TO_MPII.update(pelvis=("l_hip", "r_hip"), thorax=("neck",), upper_neck=(),
                        head_top=())


def smpl_to_mpii(smpl: np.ndarray) -> np.ndarray:
    """(..., 24, 3) SMPL24 joints -> (..., 16, 3) MPII16 joints (see the module docstring)."""
    out = np.stack([smpl[..., [SMPL24.index(s) for s in SMPL_TO_MPII[n]], :].mean(axis=-2)
                    if n in SMPL_TO_MPII else np.zeros(smpl.shape[:-2] + (3,))
                    for n in MPII16.names], axis=-2)
    head, neck = smpl[..., SMPL24.index("head"), :], smpl[..., SMPL24.index("neck"), :]
    out[..., MPII16.index("head_top"), :] = head + (head - neck)
    return out


def openpose_to_mpii(poses2d: np.ndarray) -> np.ndarray:
    """(N, 3, 18) OpenPose COCO-18 [x; y; conf] -> (N, 16, 3) MPII16 [x, y, conf].

    Joints made from two detections (pelvis) need both (confidence = the smaller one).
    """
    p = np.transpose(poses2d, (0, 2, 1))
    out = np.zeros((len(p), MPII16.num_joints, 3))
    for j, name in enumerate(MPII16.names):
        src = [OPENPOSE18.index(s) for s in OPENPOSE_TO_MPII[name]]
        if src:
            conf = p[:, src, 2].min(axis=1)
            out[:, j, :2] = p[:, src, :2].mean(axis=1) * (conf > 0)[:, None]
            out[:, j, 2] = conf
    return out


def world_to_camera(x_world: np.ndarray, cam_poses: np.ndarray) -> np.ndarray:
    """(N, J, 3) world points and (N, 4, 4) world-to-camera poses -> (N, J, 3) camera points."""
    return np.einsum("nij,nkj->nki", cam_poses[:, :3, :3], x_world) + cam_poses[:, None, :3, 3]


def project(x_cam: np.ndarray, K: np.ndarray) -> np.ndarray:
    """(N, J, 3) camera points -> (N, J, 2) pixels with intrinsics (3, 3) (skew included)."""
    return (x_cam / x_cam[..., 2:3]) @ K[:2].T


def camera_pose_params(poses: np.ndarray, cam_poses: np.ndarray) -> np.ndarray:
    """(N, 72) SMPL poses with the global orientation turned into the camera frame."""
    out = poses.copy()
    for i in range(len(poses)):
        rot = cam_poses[i, :3, :3] @ cv2.Rodrigues(poses[i, :3].reshape(3, 1))[0]
        out[i, :3] = cv2.Rodrigues(rot)[0].ravel()
    return out


class _ModelUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        try:
            module, name = check_global(module, name, _SPARSE_GLOBALS)
        except ForbiddenGlobal as exc:
            raise pickle.UnpicklingError(f"refers to {exc.name}") from None
        if module == "scipy.sparse.csc":
            module = "scipy.sparse"
        return super().find_class(module, name)


def _model_files(path: Path) -> dict[str, Path]:
    """Gender ('m', 'f', '*') -> model file."""
    if path.is_file():
        return {"*": path}
    if not path.is_dir():
        raise DataFormatError(path, "SMPL model is missing", "pass --smpl_model FILE_OR_FOLDER")
    out = {}
    for g, stem in _GENDER_FILES.items():
        found = sorted(p for p in path.glob(f"{stem}*") if p.suffix in (".npz", ".pkl"))
        if not found:
            raise DataFormatError(path, f"holds no {stem}.npz or {stem}.pkl",
                                  "put the SMPL model files of both genders there")
        out[g] = found[0]
    return out


def load_model(path: Path) -> dict[str, np.ndarray]:
    """Arrays of one SMPL model file, checked for the keys and vertex count smplx needs."""
    try:
        if path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as z:
                data = {k: z[k] for k in z.files}
        else:
            with open(path, "rb") as f:
                data = _ModelUnpickler(f, encoding="latin1").load()
    except Exception as exc:  # damaged files raise many types
        raise DataFormatError(path, f"cannot be read as an SMPL model ({type(exc).__name__}: "
                              f"{' '.join(str(exc).split())[:100]})", _CONVERT) from None
    if not isinstance(data, dict):
        raise DataFormatError(path, f"holds a {type(data).__name__}, expected a dict", _CONVERT)
    missing = [k for k in MODEL_KEYS if k not in data]
    if missing:
        raise DataFormatError(path, f"has no key {missing[0]!r} (keys: {sorted(data)})", _CONVERT)
    if np.shape(data["v_template"]) != (NUM_VERTICES, 3):
        raise DataFormatError(path, f"'v_template' has shape {np.shape(data['v_template'])}, "
                              f"expected ({NUM_VERTICES}, 3)", "pass an SMPL (not SMPL-X) model")
    return data


def smpl_inputs(model: Path | None, regressor: Path | None) -> dict:
    """Checked ``--smpl_model`` / ``--j_regressor`` (both needed): model files and regressor."""
    if model is None or regressor is None:
        raise UserError("--smpl_model and --j_regressor go together: pass both, or neither to "
                        "use the release's SMPL joints")
    try:
        import smplx  # noqa: F401
    except ImportError:
        raise UserError("--smpl_model needs the smplx package: pip install --no-deps smplx"
                        ) from None
    if not regressor.is_file():
        raise DataFormatError(regressor, "J_regressor_h36m.npy is missing",
                              "pass the file of SPIN/VIBE's data folder to --j_regressor")
    try:
        reg = np.load(regressor, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise DataFormatError(regressor, f"cannot be read as a .npy array ({exc})",
                              "pass J_regressor_h36m.npy") from None
    if reg.shape != (17, NUM_VERTICES):
        raise DataFormatError(regressor, f"has shape {reg.shape}, expected (17, {NUM_VERTICES})",
                              "pass J_regressor_h36m.npy")
    files = _model_files(model)
    for path in files.values():
        load_model(path)
    return {"files": files, "regressor": reg.astype(np.float64)}


def regressed_mpii(smpl: dict, s: dict, k: int, pkl: Path) -> np.ndarray:
    """(N, 16, 3) MPII16 camera-frame joints (mm) of actor ``k`` of sequence ``s``."""
    import torch
    from smplx import SMPL
    from smplx.utils import Struct

    gender = s["genders"][k]
    path = smpl["files"].get("*") or smpl["files"].get(gender)
    if path is None:
        raise DataFormatError(pkl, f"actor {k} has gender {gender!r}, expected 'm' or 'f'",
                              "pass a single --smpl_model file to use it for every actor")
    model = SMPL(model_path=str(path), data_struct=Struct(**load_model(path)),
                 gender={"m": "male", "f": "female"}.get(gender, "neutral"))
    poses, trans, cams = s["poses"][k], s["trans"][k], s["cam_poses"]
    out = np.zeros((len(poses), 17, 3))
    for a in range(0, len(poses), CHUNK):
        b = min(a + CHUNK, len(poses))
        with torch.no_grad():
            verts = model(betas=torch.tensor(s["betas"][k][None], dtype=torch.float32)
                          .repeat(b - a, 1),
                          global_orient=torch.tensor(poses[a:b, :3], dtype=torch.float32),
                          body_pose=torch.tensor(poses[a:b, 3:], dtype=torch.float32),
                          transl=torch.tensor(trans[a:b], dtype=torch.float32)
                          ).vertices.double().numpy()
        cam = np.einsum("nij,nvj->nvi", cams[a:b, :3, :3], verts) + cams[a:b, None, :3, 3]
        out[a:b] = np.einsum("jv,nvc->njc", smpl["regressor"], cam) * 1000.0
    return out[:, REGRESSOR_TO_MPII]
