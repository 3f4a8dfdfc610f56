"""Miniature of the official MPI-INF-3DHP release, laid out as it extracts.

Writes under ``<out_dir>/mpi_inf_3dhp_raw/``::

    S1/Seq1/annot.mat                  MATLAB 5: cells annot2, annot3, univ_annot3 (14 x 1), frames,
    S1/Seq1/camera.calibration             cameras; one text block per camera
    S1/Seq1/imageSequence/video_0.avi  MJPG, 2048 x 2048, frame i = annotation row i
    S2/Seq2/...
    mpi_inf_3dhp_test_set/TS1/annot_data.mat             MATLAB 7.3 (HDF5)
    mpi_inf_3dhp_test_set/TS1/imageSequence/img_000001.jpg  (1-based; TS5: 1920 x 1080)

``num`` is the number of frames per video and per test sequence. As a download made with the
release's ``get_dataset.sh``, whose config picks subjects and cameras, only some sequences and
cameras have videos (``SEQUENCES``, ``VIDEO_CAMERAS``), while every ``annot.mat`` annotates all 14
cameras. Each frame is one body pose seen by static cameras on a ring around the person; the
background is plain grey so that real-size frames stay quick to write (``background="clutter"``:
the engine's textured scene, for timing data loading on frames that code like real ones;
``size_div`` > 1 shrinks frames for fast tests, focal lengths with them).

Joints: cell c of ``annot3`` is (F, 84), 28 joints x (x, y, z) mm in camera c's frame, ``annot2``
their pinhole projections (F, 56) in 0-based pixels, ``univ_annot3`` the same pose rescaled about
the pelvis to a universal height. The test set's ``annot2`` / ``annot3`` / ``univ_annot3`` hold
17 joints; h5py reads them as (N, 1, 17, 2|3), MATLAB's (2|3, 17, 1, N) with the axes reversed.
"""
from __future__ import annotations

import io
import logging
from pathlib import Path

import cv2
import h5py
import numpy as np

from pose3d.prepare.mpi_inf_3dhp import JOINTS17, JOINTS28
from pose3d.skeleton import SYNTH18
from pose3d.synthetic import body
from pose3d.synthetic.camera import look_at, project, world_to_cam
from pose3d.synthetic.common import run_samples, save_mat, write_jpeg
from pose3d.synthetic.degrade import NoiseBank
from pose3d.synthetic.render import render_person, sample_rng

logger = logging.getLogger(__name__)

ROOT = "mpi_inf_3dhp_raw"
SEQUENCES = ((1, 1), (2, 2))          # (subject, sequence) with videos
NUM_CAMERAS = 14
VIDEO_CAMERAS = (0, 2)                # cameras whose videos were downloaded
TEST_SEQUENCES = (1, 5)               # one studio (2048 x 2048) and one outdoor (1920 x 1080)
TRAIN_SIZE = (2048, 2048)
TEST_SIZES = {1: (2048, 2048), 2: (2048, 2048), 3: (2048, 2048), 4: (2048, 2048),
              5: (1920, 1080), 6: (1920, 1080)}
FPS = 25
UNIVERSAL_HEIGHT_MM = 1800.0
# Release joint <- (body joint a, body joint b, t): (1 - t) * a + t * b (t > 1 extrapolates).
_FROM_BODY = {
    "spine3": ("spine", "thorax", 0.4), "spine4": ("spine", "thorax", 0.75),
    "spine2": ("root", "spine", 0.5), "pelvis": ("root", "root", 0.0),
    "neck": ("thorax", "thorax", 0.0), "l_clavicle": ("thorax", "l_shoulder", 0.4),
    "r_clavicle": ("thorax", "r_shoulder", 0.4), "l_hand": ("l_elbow", "l_wrist", 1.3),
    "r_hand": ("r_elbow", "r_wrist", 1.3), "l_foot": ("l_knee", "l_ankle", 1.15),
    "r_foot": ("r_knee", "r_ankle", 1.15), "l_toe": ("l_knee", "l_ankle", 1.3),
    "r_toe": ("r_knee", "r_ankle", 1.3),
}


def release_joints(body_joints: np.ndarray, names: tuple[str, ...]) -> np.ndarray:
    """(18, 3) SYNTH18 joints -> (len(names), 3) release joints (same frame and units)."""
    out = np.empty((len(names), 3))
    for k, name in enumerate(names):
        a, b, t = _FROM_BODY.get(name, (name, name, 0.0))
        out[k] = (1.0 - t) * body_joints[SYNTH18.index(a)] + t * body_joints[SYNTH18.index(b)]
    return out


def ring_camera(index: int, count: int, size: tuple[int, int], rng: np.random.Generator) -> dict:
    """Static camera ``index`` of ``count`` on a ring 3.2-3.8 m around the person's origin."""
    w, h = size
    azimuth = 2.0 * np.pi * index / count + rng.uniform(-0.1, 0.1)
    dist = rng.uniform(3200.0, 3800.0)
    eye = np.array([dist * np.sin(azimuth), rng.uniform(900.0, 1600.0), -dist * np.cos(azimuth)])
    rot, t = look_at(eye, np.array([0.0, 850.0, 0.0]), rng.uniform(-2.0, 2.0))
    f = 0.73 * h * rng.uniform(0.97, 1.03)        # the release: about 1500 px at 2048
    return {"R": rot, "t": t, "fx": f, "fy": f * rng.uniform(0.999, 1.001),
            "cx": (w - 1) / 2.0 + rng.uniform(-8, 8), "cy": (h - 1) / 2.0 + rng.uniform(-8, 8)}


def calibration_text(cameras: list[dict], size: tuple[int, int]) -> str:
    """The release's ``camera.calibration`` text for these cameras (4 x 4 row-major matrices)."""
    lines = ["Skeletool Camera Calibration File V1.0"]
    for c, cam in enumerate(cameras):
        k = np.array([[cam["fx"], 0, cam["cx"], 0], [0, cam["fy"], cam["cy"], 0],
                      [0, 0, 1, 0], [0, 0, 0, 1]])
        rt = np.eye(4)
        rt[:3, :3], rt[:3, 3] = cam["R"], cam["t"]
        lines += [f"name          {c}", "  sensor      10 10", f"  size        {size[0]} {size[1]}",
                  "  animated    0",
                  "  intrinsic   " + " ".join(f"{v:.6g}" for v in k.ravel()),
                  "  extrinsic   " + " ".join(f"{v:.7g}" for v in rt.ravel()), "  radial      0"]
    return "\n".join(lines) + "\n"


def _frame(seed: int, key: str, i: int, subject: body.Subject, cam: dict,
           size: tuple[int, int], draw: bool, background: str, noise: NoiseBank) -> dict:
    # One generator per frame, shared by all cameras: every view gets the same pose.
    return render_person(sample_rng(seed, key, i), size[0], size[1], subject=subject, camera=cam,
                         background=background, post=background != "plain", occluder_prob=0.0,
                         truncation_prob=0.0, draw_person=draw, noise=noise)


def _universal(joints: np.ndarray, root: int) -> np.ndarray:
    """Pose rescaled about the root so its vertical extent is the universal height."""
    height = float(np.ptp(joints[:, 1])) or 1.0
    return joints[root] + (joints - joints[root]) * (UNIVERSAL_HEIGHT_MM / height)


def _cameras(seed: int, key: str, count: int, size: tuple[int, int]) -> list[dict]:
    rng = sample_rng(seed, key + "/cameras", 0)
    return [ring_camera(c, count, size, rng) for c in range(count)]


def write_train_sequence(raw: Path, subject: int, seq: int, num: int, seed: int,
                         size_div: int, background: str, noise: NoiseBank) -> None:
    """``S<subject>/Seq<seq>``: annot.mat, camera.calibration and the chosen cameras' videos."""
    size = (TRAIN_SIZE[0] // size_div, TRAIN_SIZE[1] // size_div)
    key = f"{ROOT}/S{subject}/Seq{seq}"
    folder = raw / f"S{subject}" / f"Seq{seq}"
    (folder / "imageSequence").mkdir(parents=True, exist_ok=True)
    cams = _cameras(seed, key, NUM_CAMERAS, size)
    person = body.sample_subject(sample_rng(seed, f"{ROOT}/S{subject}", 0))
    pelvis = JOINTS28.index("pelvis")
    a2 = np.zeros((NUM_CAMERAS, num, 56))
    a3 = np.zeros((NUM_CAMERAS, num, 84))
    u3 = np.zeros((NUM_CAMERAS, num, 84))
    writers = {c: cv2.VideoWriter(str(folder / "imageSequence" / f"video_{c}.avi"),
                                  cv2.VideoWriter_fourcc(*"MJPG"), FPS, size)
               for c in VIDEO_CAMERAS}
    for i in range(num):
        world = None
        for c in VIDEO_CAMERAS:
            r = _frame(seed, key, i, person, cams[c], size, True, background, noise)
            writers[c].write(r["image"])
            world = r["joints_3d_world"]
        if world is None:
            world = _frame(seed, key, i, person, cams[0], size, False, background,
                           noise)["joints_3d_world"]
        for c, cam in enumerate(cams):
            j3 = release_joints(world_to_cam(world, cam), JOINTS28)
            a3[c, i], a2[c, i] = j3.ravel(), project(j3, cam).ravel()
            u3[c, i] = _universal(j3, pelvis).ravel()
    for w in writers.values():
        w.release()
    cells = {}
    for name, arr in (("annot2", a2), ("annot3", a3), ("univ_annot3", u3)):
        cell = np.empty((NUM_CAMERAS, 1), dtype=object)
        for c in range(NUM_CAMERAS):
            cell[c, 0] = arr[c]
        cells[name] = cell
    save_mat(folder / "annot.mat", {**cells, "frames": np.arange(num, dtype=np.float64)[:, None],
                                    "cameras": np.arange(NUM_CAMERAS, dtype=np.float64)[None]})
    (folder / "camera.calibration").write_text(calibration_text(cams, size))


def matlab73_header() -> bytes:
    """The 512-byte user block MATLAB puts before the HDF5 data of a v7.3 MAT-file."""
    text = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Jan  1 00:00:00 2018 " \
           b"HDF5 schema 1.00 ."
    return text.ljust(116) + b"\x00" * 8 + b"\x00\x02" + b"IM" + b"\x00" * 384


def save_mat73(path: Path, variables: dict[str, np.ndarray]) -> None:
    """Write ``variables`` as a MATLAB 7.3 MAT-file: HDF5 with a 512-byte MATLAB user block.

    Arrays are stored as given (h5py's C order is MATLAB's axis order reversed) with the
    ``MATLAB_class`` attribute MATLAB writes.
    """
    buf = io.BytesIO()
    with h5py.File(buf, "w", userblock_size=512) as f:
        for name, arr in variables.items():
            f.create_dataset(name, data=arr)
            f[name].attrs["MATLAB_class"] = np.bytes_("double")
    data = bytearray(buf.getvalue())
    data[:512] = matlab73_header()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bytes(data))


def write_test_sequence(raw: Path, ts: int, num: int, seed: int, size_div: int,
                        background: str, noise: NoiseBank) -> None:
    """``mpi_inf_3dhp_test_set/TS<ts>``: annot_data.mat and the JPEG frames."""
    size = (TEST_SIZES[ts][0] // size_div, TEST_SIZES[ts][1] // size_div)
    key = f"{ROOT}/TS{ts}"
    folder = raw / "mpi_inf_3dhp_test_set" / f"TS{ts}"
    cam = _cameras(seed, key, 1, size)[0]
    person = body.sample_subject(sample_rng(seed, key + "/subject", 0))
    pelvis = JOINTS17.index("pelvis")
    a2, a3, u3 = np.zeros((num, 1, 17, 2)), np.zeros((num, 1, 17, 3)), np.zeros((num, 1, 17, 3))
    for i in range(num):
        r = _frame(seed, key, i, person, cam, size, True, background, noise)
        write_jpeg(folder / "imageSequence" / f"img_{i + 1:06d}.jpg", r["image"])
        j3 = release_joints(r["joints_3d_cam"], JOINTS17)
        a3[i, 0], a2[i, 0], u3[i, 0] = j3, project(j3, cam), _universal(j3, pelvis)
    valid = np.ones((num, 1))
    valid[-1] = 0.0 if num > 2 else 1.0        # the release flags some frames as unreliable
    lo, hi = a2[:, 0].min(axis=1), a2[:, 0].max(axis=1)
    save_mat73(folder / "annot_data.mat", {
        "annot2": a2, "annot3": a3, "univ_annot3": u3, "valid_frame": valid,
        "activity_annotation": np.full((num, 1), 1.0 + ts % 7),
        "bb_crop": np.concatenate([lo, hi], axis=1)})


def write(out_dir: str | Path, num: int, seed: int, workers: int, size_div: int = 1,
          background: str = "plain") -> None:
    """Write the miniature release under ``out_dir/mpi_inf_3dhp_raw`` (``num`` frames a video)."""
    raw = Path(out_dir) / ROOT
    jobs = [("train", s, q) for s, q in SEQUENCES] + [("test", t, 0) for t in TEST_SEQUENCES]
    run_samples(_write_job, [(raw, kind, a, b, num, seed, size_div, background)
                             for kind, a, b in jobs], workers)
    logger.info("mpi_inf_3dhp_raw: %d sequences x %d frames -> %s", len(jobs), num, raw)


def _write_job(raw: Path, kind: str, a: int, b: int, num: int, seed: int, size_div: int,
               background: str, noise: NoiseBank) -> None:
    if kind == "train":
        write_train_sequence(raw, a, b, num, seed, size_div, background, noise)
    else:
        write_test_sequence(raw, a, num, seed, size_div, background, noise)
