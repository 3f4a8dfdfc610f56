"""What ``--demo`` names: one image, a folder of images or a video, checked before any model loads;
then its pictures or frames, read one by one.
"""
import contextlib
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from pose3d.utils.io import read_image as read_image_file
from pose3d.utils.errors import UserError

IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp")
VIDEO_EXTS = (".mp4", ".avi", ".mov", ".mkv", ".webm")
_IMAGE_TYPES = "/".join(e[1:] for e in IMAGE_EXTS)


def read_image(path: Path) -> np.ndarray:
    """Read a picture named by ``--demo`` as (H, W, 3) uint8 BGR.

    Raises:
        UserError: the file is missing or not a decodable image.
    """
    return read_image_file(path, missing_fix="check --demo",
                           damaged_fix=f"give a {_IMAGE_TYPES} file with --demo")


@contextlib.contextmanager
def _quiet_video_backends() -> Iterator[None]:
    """Silence FFmpeg's and OpenCV's own messages while probing a file; the user gets ours.

    FFmpeg prints e.g. "moov atom not found", OpenCV "[ WARN ] ... can't be used to capture by
    name"; an unreadable video then ends in one line, as every other user error.
    """
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # read when FFmpeg opens a file
    cv_log = getattr(getattr(cv2, "utils", None), "logging", None)
    previous = cv_log.getLogLevel() if cv_log is not None else None
    if cv_log is not None:
        cv_log.setLogLevel(cv_log.LOG_LEVEL_ERROR)
    try:
        yield
    finally:
        if cv_log is not None:
            cv_log.setLogLevel(previous)


def open_video(path: Path) -> tuple[cv2.VideoCapture, np.ndarray]:
    """Open a video and read its first frame.

    Returns:
        The capture (positioned after frame 0) and frame 0 (H, W, 3) uint8 BGR.

    Raises:
        UserError: the file does not open as a video or has no decodable frame.
    """
    with _quiet_video_backends():
        cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
        if not cap.isOpened():
            cap = cv2.VideoCapture(str(path))
        ok, frame = cap.read() if cap.isOpened() else (False, None)
    if not ok or frame is None:
        cap.release()
        raise UserError(f"{path}: cannot open or decode it as a video (corrupt, truncated or an "
                        f"unsupported codec); re-encode it, e.g. ffmpeg -i IN -c:v libx264 out.mp4")
    return cap, frame


@dataclass
class DemoInput:
    """What ``--demo`` names: ``kind`` is ``image``, ``folder`` or ``video``."""

    kind: str
    path: Path
    images: list[Path]
    first: np.ndarray | None = None  # image / first frame, already decoded while checking
    capture: cv2.VideoCapture | None = None


def discover_inputs(path_text: str) -> DemoInput:
    """Classify and check ``--demo`` before any model is loaded.

    Raises:
        UserError: missing path, empty folder, unreadable image, unopenable video.
    """
    if not path_text:
        raise UserError("--demo: no input; give an image, a folder of images or a video, e.g. "
                        "--demo ../images/synthetic_1.jpg")
    path = Path(path_text).expanduser()
    if not path.exists():
        raise UserError(f"--demo {path_text}: no such file or folder; give an image, a folder of "
                        "images or a video")
    if path.is_dir():
        images = sorted((p for p in path.iterdir()
                         if p.is_file() and p.suffix.lower() in IMAGE_EXTS),
                        key=lambda p: p.name)
        if not images:
            raise UserError(f"--demo {path_text}: the folder holds no {_IMAGE_TYPES} images")
        return DemoInput("folder", path, images)
    suffix = path.suffix.lower()
    if suffix in VIDEO_EXTS:
        cap, frame = open_video(path)
        return DemoInput("video", path, [], frame, cap)
    if suffix in IMAGE_EXTS:
        return DemoInput("image", path, [path], read_image(path))
    # Unknown extension: an image if OpenCV decodes it as one, else try it as a video.
    try:
        return DemoInput("image", path, [path], read_image(path))
    except UserError:
        pass
    try:
        cap, frame = open_video(path)
    except UserError:
        raise UserError(f"--demo {path_text}: neither a readable image nor a video; give a "
                        f"{'/'.join(e[1:] for e in IMAGE_EXTS + VIDEO_EXTS)} file") from None
    return DemoInput("video", path, [], frame, cap)


def iter_pictures(src: DemoInput) -> Iterator[tuple[str, Path, np.ndarray]]:
    """(output name, path, picture) of each picture of an image or folder input, read lazily."""
    for name, path in zip(unique_names(src.images), src.images):
        checked = src.first if src.kind == "image" else None  # decoded by discover_inputs
        yield name, path, checked if checked is not None else read_image(path)


def iter_frames(src: DemoInput) -> Iterator[np.ndarray]:
    """Every frame of a video input: the one read while checking it, then the rest."""
    yield src.first
    while True:
        ok, frame = src.capture.read()
        if not ok:
            return
        yield frame


def unique_names(paths: Sequence[Path]) -> list[str]:
    """Output names: the file stem, or stem_ext where two files share a stem (a.jpg, a.png)."""
    stems = [p.stem for p in paths]
    return [f"{p.stem}_{p.suffix[1:].lower()}" if stems.count(p.stem) > 1 else p.stem
            for p in paths]
