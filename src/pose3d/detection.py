"""Person boxes for the demo: from a detection file, or from OpenCV's HOG people detector.

Two file layouts are read (``--det_file``):

* COCO detection results: a list of ``{"image_id", "category_id", "bbox": [x, y, w, h],
  "score"}``; only people (``category_id`` 1) are kept, and ``--det_images`` (a COCO annotation
  file, e.g. ``person_keypoints_val2017.json``) maps ``image_id`` to the picture's file name
  through its ``images`` list of ``{"id", "file_name"}``.
* A plain object ``{"<file name>": [[x, y, w, h, score], ...]}``; a video frame is
  ``"<video file name>#<frame>"`` with 0-based frames.

Pictures are matched by file name without folders. Boxes are in pixels, ``(x, y)`` the top-left
corner. Every entry is checked when the file is read; one that is malformed, not finite, of
non-positive size or names an unknown image stops the demo with a line naming the file and entry.
:class:`BoxSource` picks, from the demo's flags, where a picture's boxes come from.
"""
from __future__ import annotations

import argparse
import json
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from pose3d.utils.errors import DataFormatError, UserError

log = logging.getLogger(__name__)

PERSON_CATEGORY = 1
PLAIN_LAYOUT = '{"<file name>": [[x, y, w, h, score], ...]}'
COCO_LAYOUT = 'a list of {"image_id", "category_id", "bbox": [x, y, w, h], "score"}'


@dataclass
class Boxes:
    """People found in one picture, best first.

    Attributes:
        xywh: (N, 4) boxes (x, y, w, h) in pixels.
        scores: (N,) detector scores.
        entries: N labels of where each box came from (for messages), e.g. ``entry 12``.
    """

    xywh: np.ndarray = field(default_factory=lambda: np.zeros((0, 4)))
    scores: np.ndarray = field(default_factory=lambda: np.zeros(0))
    entries: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.scores)

    def best_first(self) -> "Boxes":
        order = np.argsort(-self.scores, kind="stable")
        return Boxes(self.xywh[order], self.scores[order], [self.entries[i] for i in order])


def _read_json(path: Path, flag: str) -> object:
    try:
        return json.loads(path.read_text())
    except OSError as err:
        raise UserError(f"{flag} {path}: cannot read it ({err.strerror})") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise DataFormatError(path, f"not valid JSON ({err})",
                              f"give {COCO_LAYOUT} or {PLAIN_LAYOUT}") from None


def _box(values: object, path: Path, entry: str) -> tuple[list[float], float]:
    """Check one ``[x, y, w, h, score]``: finite numbers, positive width and height."""
    if (not isinstance(values, (list, tuple)) or len(values) != 5
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)):
        raise DataFormatError(path, f"{entry}: expected box [x, y, w, h] and score as numbers, "
                              f"got {values!r:.80}", "fix or drop that entry")
    nums = [float(v) for v in values]
    if not all(math.isfinite(v) for v in nums):
        raise DataFormatError(path, f"{entry}: box or score is not a finite number ({values!r})",
                              "fix or drop that entry")
    if nums[2] <= 0 or nums[3] <= 0:
        raise DataFormatError(path, f"{entry}: box width and height must be positive, got "
                              f"w={nums[2]:g}, h={nums[3]:g}", "boxes are [x, y, w, h] in pixels")
    return nums[:4], nums[4]


def _image_names(path: Path) -> dict[int, str]:
    """``image_id -> file name`` from a COCO annotation file's ``images`` list."""
    data = _read_json(path, "--det_images")
    images = data.get("images") if isinstance(data, dict) else None
    if not isinstance(images, list):
        raise DataFormatError(path, "no 'images' list", "give a COCO annotation file such as "
                              "person_keypoints_val2017.json with --det_images")
    names = {}
    for i, im in enumerate(images):
        if not isinstance(im, dict) or "id" not in im or "file_name" not in im:
            raise DataFormatError(path, f"images[{i}] has no 'id' or 'file_name'",
                                  "give a COCO annotation file with --det_images")
        names[im["id"]] = Path(str(im["file_name"])).name
    return names


def _read_coco(data: list, path: Path, images: Path | None, thr: float) -> dict[str, Boxes]:
    if images is None:
        raise UserError(f"--det_file {path}: COCO detection results name images by id; give the "
                        "annotation file they refer to with --det_images, e.g. "
                        "person_keypoints_val2017.json")
    names = _image_names(images)
    found: dict[str, list] = {}
    for i, det in enumerate(data):
        entry = f"entry {i}"
        if not isinstance(det, dict) or not {"image_id", "category_id", "bbox"} <= set(det):
            raise DataFormatError(path, f"{entry}: expected {{image_id, category_id, bbox, "
                                  f"score}}, got {det!r:.80}", "fix or drop that entry")
        if not isinstance(det["image_id"], (int, str)) or det["image_id"] not in names:
            raise DataFormatError(path, f"{entry}: image_id {det['image_id']!r} is not in "
                                  f"{images.name}", "give the --det_images file the detections "
                                  "were made on")
        bbox = det["bbox"]
        values = [*bbox, det.get("score")] if isinstance(bbox, list) else bbox
        box, score = _box(values, path, entry)
        if det["category_id"] == PERSON_CATEGORY and score >= thr:
            found.setdefault(names[det["image_id"]], []).append((box, score, entry))
    return {k: _to_boxes(v) for k, v in found.items()}


def _read_plain(data: dict, path: Path, thr: float) -> dict[str, Boxes]:
    found: dict[str, list] = {}
    for key, boxes in data.items():
        if not isinstance(boxes, list):
            raise DataFormatError(path, f"entry {key!r}: expected a list of [x, y, w, h, score]",
                                  f"layout: {PLAIN_LAYOUT}")
        name = Path(key).name
        for j, values in enumerate(boxes):
            entry = f"entry {key!r}[{j}]"
            box, score = _box(values, path, entry)
            if score >= thr:
                found.setdefault(name, []).append((box, score, entry))
    return {k: _to_boxes(v) for k, v in found.items()}


def _to_boxes(items: list) -> Boxes:
    return Boxes(np.array([b for b, _, _ in items], dtype=np.float64).reshape(-1, 4),
                 np.array([s for _, s, _ in items], dtype=np.float64),
                 [e for _, _, e in items]).best_first()


def read_detections(path: str | Path, images: str | Path | None = None,
                    thr: float = 0.5) -> dict[str, Boxes]:
    """Read ``--det_file``: person boxes with ``score >= thr`` per picture name.

    Args:
        path: the detection file (COCO results or the plain layout).
        images: COCO annotation file mapping image ids to names (COCO results only).
        thr: lowest score kept.

    Returns:
        ``{file name or "<video>#<frame>": Boxes}``.

    Raises:
        UserError / DataFormatError: unreadable file or a bad entry (one line naming it).
    """
    path = Path(path)
    if not path.is_file():
        raise UserError(f"--det_file {path}: no such file; give a detection JSON file")
    images = Path(images) if images else None
    if images is not None and not images.is_file():
        raise UserError(f"--det_images {images}: no such file; give the COCO annotation json")
    data = _read_json(path, "--det_file")
    if isinstance(data, list):
        return _read_coco(data, path, images, thr)
    if isinstance(data, dict):
        return _read_plain(data, path, thr)
    raise DataFormatError(path, f"top level is a {type(data).__name__}",
                          f"give {COCO_LAYOUT} or {PLAIN_LAYOUT}")


def frame_key(video_name: str, frame: int) -> str:
    """Key of a video frame in the plain layout: ``"<video file name>#<0-based frame>"``."""
    return f"{video_name}#{frame}"


def clip_to_image(boxes: Boxes, image_hw: tuple[int, int], source: str) -> Boxes:
    """Clip boxes to the picture; a box entirely outside it is an error.

    Args:
        boxes: boxes of one picture.
        image_hw: (H, W) of that picture.
        source: the detection file, for the message.

    Raises:
        DataFormatError: a box does not overlap the picture (wrong picture or wrong units).
    """
    h, w = image_hw
    x1, y1 = boxes.xywh[:, 0], boxes.xywh[:, 1]
    x2, y2 = x1 + boxes.xywh[:, 2], y1 + boxes.xywh[:, 3]
    outside = (x1 >= w) | (y1 >= h) | (x2 <= 0) | (y2 <= 0)
    if outside.any():
        i = int(np.argmax(outside))
        raise DataFormatError(source, f"{boxes.entries[i]}: box "
                              f"{np.round(boxes.xywh[i], 1).tolist()} lies outside the {w}x{h} "
                              "picture", "boxes are [x, y, w, h] in pixels of that picture")
    cx1, cy1 = np.clip(x1, 0, w), np.clip(y1, 0, h)
    cx2, cy2 = np.clip(x2, 0, w), np.clip(y2, 0, h)
    xywh = np.stack([cx1, cy1, cx2 - cx1, cy2 - cy1], axis=1)
    return Boxes(xywh, boxes.scores.copy(), list(boxes.entries))


def _hog_module():
    """The OpenCV module holding ``HOGDescriptor``: cv2 itself up to OpenCV 4, ``cv2.xobjdetect``
    in OpenCV 5 builds with the contrib modules; None when this build has neither."""
    for module in (cv2, getattr(cv2, "xobjdetect", None)):
        if module is not None and hasattr(module, "HOGDescriptor"):
            return module
    return None


class HogDetector:
    """OpenCV's HOG + linear SVM people detector (weights ship inside OpenCV) with NMS.

    It finds upright, whole people at least about 100 px tall (pictures are enlarged so the
    shorter side is at least ``min_side`` px, which lets it see smaller people), and misses
    sitting, lying, partial and small people; its boxes are loose (about 15 % margin).

    Args:
        thr: lowest SVM score kept (the score is a margin, typically 0 to 3, not a probability).
        nms_iou: boxes overlapping a better one by more than this IoU are dropped.
        min_side: pictures with a shorter side below this are enlarged before detection.

    Raises:
        UserError: this OpenCV build has no HOG detector (OpenCV 5 moved it to the contrib
            modules).
    """

    def __init__(self, thr: float = 0.5, nms_iou: float = 0.4, min_side: int = 480):
        module = _hog_module()
        if module is None:
            raise UserError(f"--detector hog: OpenCV {cv2.__version__} has no HOG people "
                            "detector (OpenCV 5 moved it to the contrib modules); install "
                            "'opencv-python-headless<5' or opencv-contrib-python-headless, or "
                            "give boxes with --det_file")
        self.hog = module.HOGDescriptor()
        self.hog.setSVMDetector(module.HOGDescriptor.getDefaultPeopleDetector())
        self.thr, self.nms_iou, self.min_side = thr, nms_iou, min_side

    def __call__(self, image: np.ndarray) -> Boxes:
        """People in one (H, W, 3) uint8 BGR picture, best first."""
        zoom = max(1.0, self.min_side / min(image.shape[:2]))
        big = cv2.resize(image, None, fx=zoom, fy=zoom) if zoom > 1 else image
        # A 4 px window stride finds noticeably more people than 8 px, at twice the time.
        rects, weights = self.hog.detectMultiScale(big, winStride=(4, 4), padding=(8, 8),
                                                   scale=1.05)
        if len(rects) == 0:
            return Boxes()
        rects = np.asarray(rects, dtype=np.float64).reshape(-1, 4) / zoom
        scores = np.asarray(weights, dtype=np.float64).reshape(-1)
        keep = cv2.dnn.NMSBoxes(rects.tolist(), scores.tolist(), self.thr, self.nms_iou)
        keep = np.asarray(keep, dtype=np.int64).reshape(-1)
        return Boxes(rects[keep], scores[keep], [f"hog box {i}" for i in range(len(keep))]
                     ).best_first()


class BoxSource:
    """Where the person boxes of a picture come from: a file, HOG, ``--bbox`` or the whole image.

    Args:
        opt: parsed options (``det_file``, ``det_images``, ``det_thr``, ``detector``, ``bbox``).
    """

    def __init__(self, opt: argparse.Namespace):
        self.det_file = str(opt.det_file or "")
        self.bbox = list(opt.bbox) if opt.bbox else None
        self.detections = (read_detections(self.det_file, opt.det_images or None, opt.det_thr)
                           if self.det_file else None)
        self.hog = HogDetector(opt.det_thr) if opt.detector == "hog" else None
        if self.detections is not None:
            self.label = f"--det_file {self.det_file}"
        elif self.hog is not None:
            self.label = "--detector hog (OpenCV HOG people detector)"
        else:
            self.label = "--bbox" if self.bbox else "whole image"

    def __call__(self, image: np.ndarray, key: str) -> Boxes | None:
        """Boxes of one picture (``key``: its file name or ``<video>#<frame>``); None: whole."""
        if self.bbox is not None:
            # A hand-drawn box has no score (NaN, written as null).
            return Boxes(np.array([self.bbox], dtype=np.float64), np.full(1, np.nan), ["--bbox"])
        if self.detections is None and self.hog is None:
            return None
        if self.detections is not None:
            boxes = self.detections.get(key)
            boxes = clip_to_image(boxes, image.shape[:2], self.det_file) if boxes else None
        else:
            boxes = self.hog(image)
        if not boxes:
            log.warning("%s: %s gives no person box; using the whole picture", key, self.label)
            return None
        return boxes
