"""Shared pieces of the 2D dataset writers (MPII, LSP, LSPET, FLIC-full, COCO).

* :func:`run_samples`: one picklable per-sample function over many indices in worker processes;
  each sample renders, writes its own JPEG and returns only its (small) annotation, so memory
  stays flat and the output (pickles included, see :func:`canonical`) does not depend on the
  number of workers.
* :func:`render`: :func:`~pose3d.synthetic.render.render_person` plus face landmarks (nose, eyes,
  ears) for the formats that label them.
* :func:`points`: the rendered 2D points, visibility and in-image flags for any list of joint
  names (SYNTH18 names, their aliases in ``skeleton.SYNTH18_ALIASES``, face landmarks).
* :func:`write_jpeg`, :func:`write_json`, :func:`save_mat`, :func:`dump_pickle`: byte-reproducible
  file writers.
"""
import io
import json
import logging
import os
import pickle
import sys
from pathlib import Path
from typing import Any, Callable, Sequence

import cv2
import numpy as np
import scipy.io

from pose3d.skeleton import SYNTH18, SYNTH18_ALIASES
from pose3d.synthetic import body as B
from pose3d.synthetic.batches import run_batches
from pose3d.synthetic.person import PID
from pose3d.synthetic.render import render_person, sample_rng

logger = logging.getLogger(__name__)

JPEG_QUALITY = 92

# Face landmarks in the renderer's head frame (mm before the head-size factor; x left, y up,
# z forward), placed where person.py paints them: eyes at (+-0.38, 0.08) on the front of the
# head ellipsoid, the nose tip at the front of the nose ellipsoid, ears at the sides.
_EYE_UNIT = np.array([0.38, 0.08, np.sqrt(1.0 - 0.38 ** 2 - 0.08 ** 2)])
_FACE_UNIT = {"l_eye": _EYE_UNIT, "r_eye": _EYE_UNIT * [-1, 1, 1],
              "l_ear": np.array([1.0, 0.0, 0.0]), "r_ear": np.array([-1.0, 0.0, 0.0])}
FACE_LOCAL = {name: B.HEAD_CENTER + u * B.HEAD_AXES for name, u in _FACE_UNIT.items()}
FACE_LOCAL["nose"] = np.array([0.0, 70.0, 132.0])
FACE_NAMES = ("nose", "l_eye", "r_eye", "l_ear", "r_ear")


def run_samples(fn: Callable[..., Any], jobs: Sequence[tuple], workers: int) -> list:
    """``[fn(*job, noise=bank) for job in jobs]`` in order, in ``workers`` processes when > 1.

    See :func:`~pose3d.synthetic.batches.run_batches`. Results are passed through
    :func:`canonical`, so a pickle of them has the same bytes whether they were computed here or
    came back from a worker process.
    """
    return [canonical(r) for r in run_batches(fn, jobs, workers)]


def write_pickled_splits(sample: Callable[..., Any], splits: Sequence[str],
                         path_of: Callable[[Path, str], Path], out_dir: str | os.PathLike,
                         num: int, seed: int, workers: int) -> None:
    """Per split: ``sample(out_dir, split, i, seed)`` for ``i < num``, the list pickled at
    ``path_of(out_dir, split)`` (the datasets whose annotations are one pickled list)."""
    out_dir = Path(out_dir)
    for split in splits:
        records = run_samples(sample, [(out_dir, split, i, seed) for i in range(num)], workers)
        path = path_of(out_dir, split)
        dump_pickle(path, records)
        logger.info("%s: %d samples -> %s", split, num, path)


def canonical(obj: Any) -> Any:
    """Copy of ``obj`` whose object identities do not depend on where it was built.

    Pickle stores a second reference to the same object as a back-reference, so the bytes depend
    on which strings and dtypes are shared objects. Strings are interned and arrays rebuilt with
    numpy's canonical dtype instances (arrays sent between processes carry private copies).
    """
    if isinstance(obj, dict):
        return {canonical(k): canonical(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(canonical(v) for v in obj)
    if isinstance(obj, str):
        return sys.intern(obj)
    if isinstance(obj, np.ndarray):
        out = np.empty(obj.shape, dtype=np.dtype(obj.dtype.str))
        out[...] = obj
        return out
    return obj


def dump_pickle(path: str | os.PathLike, obj: Any) -> None:
    """Pickle ``obj`` (protocol 4, as the real annotation files) to ``path``, creating folders."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        pickle.dump(obj, f, protocol=4)


def write_jpeg(path: str | os.PathLike, image: np.ndarray, quality: int = JPEG_QUALITY) -> None:
    """Write a BGR uint8 image as JPEG (same pixels -> same bytes), creating the folder."""
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise OSError(f"could not encode {path}")
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_bytes(buf.tobytes())


def write_json(path: str | os.PathLike, obj: Any) -> None:
    """Write ``obj`` as compact json (one line, like the released annotation files)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(obj))


def save_mat(path: str | os.PathLike, variables: dict) -> None:
    """``scipy.io.savemat`` (MATLAB 5) with a fixed header text instead of the creation time."""
    buf = io.BytesIO()
    scipy.io.savemat(buf, variables)
    data = bytearray(buf.getvalue())
    data[:116] = b"MATLAB 5.0 MAT-file, Platform: posix".ljust(116)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_bytes(bytes(data))


def _head_frame(joints_cam: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Head rotation (columns left, up, forward), pivot (mm) and size factor from 3 head joints.

    The renderer places ``neck_nose``, ``head`` and ``head_top`` at ``pivot + R @ (local * k)``
    with the locals of ``body.HEAD_POINTS`` (all in the head's mid-plane), so the up/forward
    axes follow from two difference vectors and the left axis is their cross product.
    """
    names = ("neck_nose", "head", "head_top")
    loc = np.array([B.HEAD_POINTS[n] for n in names])
    cam = joints_cam[[SYNTH18.index(n) for n in names]]
    m = (loc[1:] - loc[0])[:, 1:].T                    # (2, 2): local (y, z) of the differences
    uf = (cam[1:] - cam[0]).T @ np.linalg.inv(m)      # (3, 2): k * [up, forward]
    k = float(np.linalg.norm(uf[:, 0]))
    up, fwd = uf[:, 0] / k, uf[:, 1] / np.linalg.norm(uf[:, 1])
    rot = np.stack([np.cross(up, fwd), up, fwd], axis=1)
    return rot, cam[0] - k * rot @ loc[0], k


def face_points(person: dict) -> dict[str, tuple[np.ndarray, bool, bool]]:
    """Nose, eyes and ears of a rendered person: name -> (uv (2,), visible, in_image).

    Visible: inside the image, its surface faces the camera and the part painted at its pixel
    is the head (or the nose, for the nose). Needs ``render_person(..., return_ids=True)``.
    """
    cam = person["camera"]
    rot, pivot, k = _head_frame(person["joints_3d_cam"])
    ids = person["part_ids"]
    h, w = ids.shape
    out = {}
    for name in FACE_NAMES:
        p = pivot + k * rot @ FACE_LOCAL[name]
        uv = np.array([cam["fx"] * p[0] / p[2] + cam["cx"], cam["fy"] * p[1] / p[2] + cam["cy"]])
        normal = rot @ ((FACE_LOCAL[name] - B.HEAD_CENTER) / B.HEAD_AXES ** 2)
        inside = bool(-0.5 <= uv[0] < w - 0.5 and -0.5 <= uv[1] < h - 0.5)
        own = (PID["head"], PID["nose"]) if name == "nose" else (PID["head"],)
        vis = inside and float(normal @ -p) > 0 and \
            int(ids[int(np.rint(min(max(uv[1], 0), h - 1))),
                    int(np.rint(min(max(uv[0], 0), w - 1)))]) in own
        out[name] = (uv, bool(vis), inside)
    return out


def render(seed: int, dataset: str, index: int, width: int, height: int, **options) -> dict:
    """Render sample ``index`` of ``dataset`` and add ``face`` (see :func:`face_points`)."""
    person = render_person(sample_rng(seed, dataset, index), width, height, return_ids=True,
                           **options)
    person["face"] = face_points(person)
    return person


def points(person: dict, names: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rendered 2D points of ``names`` in 0-based px.

    Returns:
        uv (K, 2) float64 (NaN for names the body does not have, e.g. FLIC's mid-limb slots),
        visible (K,) bool, in_image (K,) bool.
    """
    k = len(names)
    uv, vis, inside = np.full((k, 2), np.nan), np.zeros(k, bool), np.zeros(k, bool)
    for i, name in enumerate(names):
        name = SYNTH18_ALIASES.get(name, name)
        if name in SYNTH18.names:
            j = SYNTH18.index(name)
            uv[i], vis[i], inside[i] = (person["joints_2d"][j], person["visible"][j],
                                        person["in_image"][j])
        elif name in person.get("face", {}):
            uv[i], vis[i], inside[i] = person["face"][name]
    return uv, vis, inside
