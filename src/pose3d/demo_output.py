"""What the demo writes and shows: per-person JSON records, the 2D overlay, the 3D panels, windows.
"""
from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from pose3d.camera_space import FOCAL_RULE, default_focal, principal_point, to_camera
from pose3d.predictor import Pose
from pose3d.utils import visualize as vis
from pose3d.utils.bars import progress_bar

log = logging.getLogger(__name__)

WINDOW = "pose3d demo"
PANEL_SIZE = 400
PANELS_PER_ROW = 3
BOX_COLOR = (0, 200, 255)


@dataclass
class Person:
    """One person of a picture or video frame.

    Attributes:
        pose: the network's prediction for the person's crop.
        box: (4,) person box (x, y, w, h) in pixels, or None when the whole picture was used.
        score: detector score of the box (None without a detector).
        id: index in the picture, or the track id in a video.
    """

    pose: Pose
    box: np.ndarray | None = None
    score: float | None = None
    id: int = 0


@dataclass(frozen=True)
class Camera:
    """Intrinsics of the camera-space estimate: focal length and principal point in pixels."""

    focal: float
    principal: np.ndarray
    focal_from: str

    @classmethod
    def for_picture(cls, image_hw: tuple[int, int], focal: float) -> "Camera":
        """The camera of one picture size: ``--focal`` when > 0, else :data:`FOCAL_RULE`."""
        if focal > 0:
            return cls(float(focal), principal_point(image_hw), "--focal")
        return cls(default_focal(image_hw), principal_point(image_hw), FOCAL_RULE)

    def record(self) -> dict[str, Any]:
        """The ``camera_space`` block of the JSON: what the estimate assumes."""
        return {"estimate": True, "method": "weak perspective", "focal_px": round(self.focal, 2),
                "focal_from": self.focal_from,
                "principal_point_px": _round(self.principal, 2), "root_joint": "pelvis",
                "units": "mm", "axes": "x right, y down, z forward from the camera"}


def _round(a: Any, digits: int) -> Any:
    return np.round(np.asarray(a, dtype=np.float64), digits).tolist()


def person_record(person: Person, camera: Camera) -> dict[str, Any]:
    """JSON fields of one person: box, 2D px with confidence, 3D mm root-relative and camera."""
    pose = person.pose
    joints_cam, root_cam = to_camera(pose.joints_2d, pose.joints_3d_mm, camera.focal,
                                     camera.principal)
    return {
        "id": int(person.id),
        "box": None if person.box is None else _round(person.box, 2),
        "score": None if person.score is None else round(float(person.score), 4),
        "joints_2d": _round(pose.joints_2d, 2),
        "confidence": _round(pose.confidence, 4),
        "joints_3d_mm": _round(pose.joints_3d_mm, 1),
        "root_cam_mm": _round(root_cam, 1),
        "joints_cam_mm": _round(joints_cam, 1),
        "crop": {"center": _round(pose.crop.center, 2), "size": _round(pose.crop.size, 2)},
    }


def draw_people(image: np.ndarray, people: Sequence[Person]) -> np.ndarray:
    """Every skeleton over a copy of the picture, with each box and its id."""
    overlay = np.ascontiguousarray(image).copy()
    for person in people:
        overlay = vis.draw_skeleton_2d(overlay, person.pose.joints_2d)
        if person.box is None:
            continue
        x, y, w, h = (int(round(v)) for v in person.box)
        cv2.rectangle(overlay, (x, y), (x + w, y + h), BOX_COLOR, 1, cv2.LINE_AA)
        cv2.putText(overlay, str(person.id), (x + 2, y + 14), cv2.FONT_HERSHEY_SIMPLEX, 0.5,
                    BOX_COLOR, 1, cv2.LINE_AA)
    return overlay


def plot_people(people: Sequence[Person], camera: Camera, title: str) -> np.ndarray:
    """One 3D panel per person (root-relative mm), up to :data:`PANELS_PER_ROW` per row."""
    panels = []
    for person in people:
        _, root = to_camera(person.pose.joints_2d, person.pose.joints_3d_mm, camera.focal,
                            camera.principal)
        label = f"{title}  id {person.id}" if len(people) > 1 else title
        if np.isfinite(root[2]):
            label += f"  (depth ~{root[2] / 1000:.1f} m, estimate)"
        panels.append(vis.plot_skeleton_3d(person.pose.joints_3d_mm, size=PANEL_SIZE,
                                           title=label))
    if not panels:
        blank = np.full((PANEL_SIZE, PANEL_SIZE, 3), 255, np.uint8)
        cv2.putText(blank, "no person", (PANEL_SIZE // 3, PANEL_SIZE // 2),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.7, (0, 0, 0), 1, cv2.LINE_AA)
        return blank
    cols = min(len(panels), PANELS_PER_ROW)
    panels += [np.full_like(panels[0], 255)] * (-len(panels) % cols)
    rows = [np.concatenate(panels[i:i + cols], axis=1) for i in range(0, len(panels), cols)]
    return np.concatenate(rows, axis=0)


def write_json(path: Path, payload: dict[str, Any]) -> Path:
    """Write indented JSON through a temporary file, so a crash never leaves half a file."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(payload, indent=1) + "\n")
    os.replace(tmp, path)
    return path


def progress(name: str, total: int):
    """A ``progress`` bar (silent when stderr is not a terminal); a counter if total is unknown."""
    return progress_bar(name, total)


def display_available() -> bool:
    """Whether windows can open: on Linux only with ``$DISPLAY`` or ``$WAYLAND_DISPLAY`` set."""
    if sys.platform.startswith("linux"):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


class Viewer:
    """``--show``: the 2D overlay and the 3D plot in one OpenCV window, when that is possible.

    Without a display, or with a GUI-less OpenCV build, it warns once and does nothing.
    """

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.opened = False
        if enabled and not display_available():
            log.warning("--show: no display ($DISPLAY is not set); pictures are only written "
                        "to --save_dir")
            self.enabled = False

    def show(self, overlay: np.ndarray, plot: np.ndarray, wait_ms: int) -> None:
        """Show one picture; ``wait_ms`` 0 waits for a key, q or Esc stops showing."""
        if not self.enabled:
            return
        try:
            cv2.imshow(WINDOW, vis.side_by_side(overlay, plot))
            self.opened = True
            key = cv2.waitKey(wait_ms) & 0xFF
        except cv2.error:
            log.warning("--show: this OpenCV build cannot open windows (opencv-python-headless); "
                        "pictures are only written to --save_dir")
            self.enabled = False
            return
        if key in (27, ord("q")):
            self.enabled = False

    def close(self) -> None:
        """Close the window, if one was opened."""
        if self.opened:
            try:
                cv2.destroyAllWindows()
            except cv2.error:
                pass
