"""Pictures of predicted poses: a 2D skeleton over the image, a 3D skeleton plot, video writing.

Everything here is headless. The 3D plot draws on a matplotlib ``Figure`` with its own Agg canvas,
never through ``pyplot``, so it works without a display and whatever backend the user configured.
Limbs are coloured by side (left blue, right red, centre green, as seen from the person) in both
pictures, which makes a left/right swap visible at a glance.
"""
import os
from pathlib import Path

import cv2
import numpy as np

from pose3d.datasets.transforms import IMAGENET_MEAN, IMAGENET_STD
from pose3d.skeleton import MPII16, Skeleton
from pose3d.utils.errors import UserError

# BGR for OpenCV; the 3D plot converts them to RGB.
LEFT_COLOR = (230, 120, 20)
RIGHT_COLOR = (40, 40, 220)
CENTER_COLOR = (40, 180, 40)


def _joint_side(skeleton: Skeleton, j: int) -> str:
    name = skeleton.names[j]
    if name.startswith("l_"):
        return "left"
    if name.startswith("r_"):
        return "right"
    return "center"


def edge_colors(skeleton: Skeleton = MPII16) -> list[tuple[int, int, int]]:
    """BGR colour of each edge of ``skeleton`` by the side of its endpoints (left/right/centre).

    An edge joining a side joint to a centre joint (e.g. neck to left shoulder) takes the side's
    colour.
    """
    colors = []
    for a, b in skeleton.edges:
        sides = {_joint_side(skeleton, a), _joint_side(skeleton, b)}
        if "left" in sides:
            colors.append(LEFT_COLOR)
        elif "right" in sides:
            colors.append(RIGHT_COLOR)
        else:
            colors.append(CENTER_COLOR)
    return colors


def joint_colors(skeleton: Skeleton = MPII16) -> list[tuple[int, int, int]]:
    """BGR colour of each joint by side."""
    table = {"left": LEFT_COLOR, "right": RIGHT_COLOR, "center": CENTER_COLOR}
    return [table[_joint_side(skeleton, j)] for j in range(skeleton.num_joints)]


def draw_skeleton_2d(image: np.ndarray, joints: np.ndarray, skeleton: Skeleton = MPII16,
                     thickness: int | None = None,
                     visible: np.ndarray | None = None) -> np.ndarray:
    """Draw joints and limbs over a copy of ``image``.

    Args:
        image: (H, W, 3) uint8 BGR picture.
        joints: (K, 2) joint positions (x, y) in image pixels.
        skeleton: joint names and edges (``MPII16`` for the network output).
        thickness: line width in pixels; default grows with the image (2 px up to 400 px).
        visible: (K,) bool, joints to draw (a limb needs both ends); default all.

    Returns:
        (H, W, 3) uint8 BGR copy with the skeleton drawn anti-aliased.
    """
    canvas = np.ascontiguousarray(image, dtype=np.uint8).copy()
    if canvas.ndim == 2:
        canvas = cv2.cvtColor(canvas, cv2.COLOR_GRAY2BGR)
    h, w = canvas.shape[:2]
    if thickness is None:
        thickness = max(2, int(round(max(h, w) / 200)))
    radius = thickness + 1
    pts = np.round(np.asarray(joints, dtype=np.float64)).astype(np.int64)
    shown = np.ones(len(pts), bool) if visible is None else np.asarray(visible, bool)
    for (a, b), color in zip(skeleton.edges, edge_colors(skeleton)):
        if not (shown[a] and shown[b]):
            continue
        cv2.line(canvas, (int(pts[a, 0]), int(pts[a, 1])), (int(pts[b, 0]), int(pts[b, 1])),
                 color, thickness, cv2.LINE_AA)
    for (x, y), color, show in zip(pts, joint_colors(skeleton), shown):
        if not show:
            continue
        cv2.circle(canvas, (int(x), int(y)), radius, color, -1, cv2.LINE_AA)
        cv2.circle(canvas, (int(x), int(y)), radius, (255, 255, 255), 1, cv2.LINE_AA)
    return canvas


def plot_skeleton_3d(joints: np.ndarray, skeleton: Skeleton = MPII16, size: int = 480,
                     title: str | None = None, elev: float = 15.0,
                     azim: float = -60.0) -> np.ndarray:
    """Render a 3D skeleton with matplotlib (Agg, headless) and return the picture.

    Axes follow the original demo: plot x = image x (right), plot y = depth (away from the
    camera), plot z = -image y (up). All three axes share one scale (a cube around the pose), and
    the view is fixed (15 degrees above, 30 degrees to the right of the camera's line of sight),
    so frames of a video compare directly.

    Args:
        joints: (K, 3) root-relative joints (x right, y down, z away from the camera), e.g. mm.
        skeleton: names and edges.
        size: width and height of the picture in pixels.
        title: optional title above the plot.
        elev, azim: matplotlib view angles in degrees.

    Returns:
        (size, size, 3) uint8 BGR picture.
    """
    try:  # optional dependency, imported only when a 3D picture is asked for
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from matplotlib.ticker import MaxNLocator
    except ImportError:
        raise UserError("matplotlib is not installed, so no 3D picture can be drawn; "
                        "pip install matplotlib (it is in requirements.txt)") from None

    joints = np.asarray(joints, dtype=np.float64)
    px, py, pz = joints[:, 0], joints[:, 2], -joints[:, 1]
    dpi = 100
    fig = Figure(figsize=(size / dpi, size / dpi), dpi=dpi)
    canvas = FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1, projection="3d")
    ax.view_init(elev=elev, azim=azim)

    def rgb(bgr: tuple[int, int, int]) -> tuple[float, float, float]:
        return bgr[2] / 255.0, bgr[1] / 255.0, bgr[0] / 255.0

    for (a, b), color in zip(skeleton.edges, edge_colors(skeleton)):
        ax.plot([px[a], px[b]], [py[a], py[b]], [pz[a], pz[b]], color=rgb(color), linewidth=3)
    ax.scatter(px, py, pz, c=[rgb(c) for c in joint_colors(skeleton)], s=25, depthshade=False)

    # Equal axes: one cube around the pose (at least 200 units wide for a degenerate pose).
    lo = np.array([px.min(), py.min(), pz.min()])
    hi = np.array([px.max(), py.max(), pz.max()])
    mid = (lo + hi) / 2
    half = max(float((hi - lo).max()) / 2 * 1.1, 100.0) if np.isfinite(hi - lo).all() else 100.0
    ax.set_xlim(mid[0] - half, mid[0] + half)
    ax.set_ylim(mid[1] - half, mid[1] + half)
    ax.set_zlim(mid[2] - half, mid[2] + half)
    ax.set_box_aspect((1, 1, 1), zoom=0.95)
    ax.set_xlabel("x (mm)")
    ax.set_ylabel("depth (mm)")
    ax.set_zlabel("up (mm)")
    ax.tick_params(labelsize=7)
    for axis in (ax.xaxis, ax.yaxis, ax.zaxis):
        axis.set_major_locator(MaxNLocator(5))
    if title:
        fig.text(0.5, 0.98, title, ha="center", va="top", fontsize=9)
    fig.subplots_adjust(left=0.0, right=0.97, bottom=0.03, top=0.97)
    canvas.draw()
    rgba = np.asarray(canvas.buffer_rgba())
    return cv2.cvtColor(rgba, cv2.COLOR_RGBA2BGR)


def denormalize_image(x: np.ndarray) -> np.ndarray:
    """Network input back to the crop it was made from (the inverse of ``normalize_image``).

    Args:
        x: (3, H, W) float, ``(bgr / 256 - mean) / std`` with the ImageNet statistics applied to
            the B, G, R channels in that order.

    Returns:
        (H, W, 3) uint8 BGR crop.
    """
    x = np.asarray(x, dtype=np.float32).transpose(1, 2, 0)
    img = (x * IMAGENET_STD + IMAGENET_MEAN) * 256.0
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


def heatmap_overlay(image: np.ndarray, heatmaps: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """The maximum over joints of ``heatmaps``, colour-mapped (JET) and blended over ``image``.

    Args:
        image: (H, W, 3) uint8 BGR picture the heatmaps cover.
        heatmaps: (K, h, w) float heatmaps; values are clipped to [0, 1] (a target peaks at 1).
        alpha: weight of the colour map.

    Returns:
        (H, W, 3) uint8 BGR picture.
    """
    h, w = image.shape[:2]
    peak = np.clip(np.nan_to_num(np.asarray(heatmaps, np.float32)).max(axis=0), 0.0, 1.0)
    peak = cv2.resize(peak, (w, h), interpolation=cv2.INTER_LINEAR)
    colour = cv2.applyColorMap(np.round(peak * 255).astype(np.uint8), cv2.COLORMAP_JET)
    return cv2.addWeighted(colour, alpha, image, 1.0 - alpha, 0.0)


def side_by_side(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Two BGR pictures next to each other, the right one resized to the left one's height."""
    h = left.shape[0]
    scale = h / right.shape[0]
    right = cv2.resize(right, (max(1, int(round(right.shape[1] * scale))), h),
                       interpolation=cv2.INTER_AREA)
    return np.concatenate([left, right], axis=1)


def write_image(path: str | os.PathLike, image: np.ndarray) -> Path:
    """``cv2.imwrite`` that raises a one-line :class:`UserError` instead of returning False."""
    path = Path(path)
    if not cv2.imwrite(str(path), image):
        raise UserError(f"{path}: could not write the picture; check that the folder is "
                        "writable (--save_dir) and has free space")
    return path


class VideoWriter:
    """Frames to an ``.mp4`` file with OpenCV's ``mp4v`` codec; the size comes from the first frame.

    Use as a context manager, or call :meth:`close`. ``frames_written`` counts the frames.

    Args:
        path: output file (``.mp4``).
        fps: frames per second (a non-positive or NaN value becomes 25).
        fourcc: four-character codec code.
    """

    def __init__(self, path: str | os.PathLike, fps: float, fourcc: str = "mp4v"):
        self.path = Path(path)
        self.fps = float(fps) if fps and np.isfinite(fps) and fps > 0 else 25.0
        self.fourcc = fourcc
        self.frames_written = 0
        self._writer: cv2.VideoWriter | None = None
        self._size: tuple[int, int] | None = None

    def write(self, frame: np.ndarray) -> None:
        """Append one (H, W, 3) uint8 BGR frame (resized to the first frame's size if needed)."""
        h, w = frame.shape[:2]
        if self._writer is None:
            self._size = (w, h)
            self._writer = cv2.VideoWriter(str(self.path), cv2.VideoWriter_fourcc(*self.fourcc),
                                           self.fps, self._size)
            if not self._writer.isOpened():
                self._writer = None
                raise UserError(f"{self.path}: OpenCV cannot write a {self.fourcc} video here; "
                                "check that --save_dir is writable")
        if (w, h) != self._size:
            frame = cv2.resize(frame, self._size)
        self._writer.write(np.ascontiguousarray(frame, dtype=np.uint8))
        self.frames_written += 1

    def close(self) -> None:
        """Finish the file (idempotent)."""
        if self._writer is not None:
            self._writer.release()
            self._writer = None

    def __enter__(self) -> "VideoWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def count_video_frames(path: str | os.PathLike) -> int:
    """Frames that OpenCV can decode from ``path`` (read one by one; -1 if it does not open)."""
    cap = cv2.VideoCapture(str(path))
    try:
        if not cap.isOpened():
            return -1
        n = 0
        while cap.grab():
            n += 1
        return n
    finally:
        cap.release()
