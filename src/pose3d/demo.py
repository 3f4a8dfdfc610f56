"""The demo: 2D and 3D pose of every person in an image, a folder of images or a video.

``cd src && python demo.py --demo PATH [--det_file FILE [--det_images FILE] [--det_thr T] |
--detector hog | --bbox x,y,w,h] [--focal PX] [--smooth] [--load_model FILE] [--show]
[--save_dir DIR] [--device auto|cpu|cuda|npu] [--backend pytorch|onnxruntime]``

What happens:

* Input: ``PATH`` is one image, a folder (its ``.jpg/.jpeg/.png/.bmp`` files, sorted by name, not
  recursive) or a video (see :mod:`pose3d.demo_inputs`).
* People: person boxes come from ``--det_file`` (COCO detection results or a plain
  ``{file name: [[x, y, w, h, score], ...]}``, see :mod:`pose3d.detection`), from OpenCV's HOG
  people detector (``--detector hog``), from one ``--bbox``, or else the person is assumed to fill
  the picture (the whole image letter-boxed, as in the original). A picture for which the file
  or the detector gives no box is processed as a whole picture, with a warning.
* Crop: each box is padded and widened to the network's aspect as the training crops are
  (:func:`pose3d.predictor.make_crop`: side ``1.25 * max(w, h)``), normalised as in training, and
  run with the flip test.
* 3D: root-relative joints in millimetres (one factor per person so that the 15 H36M-17 bones sum
  to 4000 mm), and an estimate in the camera frame (:mod:`pose3d.camera_space`: weak-perspective
  root depth, focal ``--focal`` or ``max(W, H)``, principal point at the image centre).
* Video: boxes are linked frame to frame by IoU so each person keeps an id; ``--smooth`` filters
  each id's 2D and 3D track (:mod:`pose3d.tracking`).

Outputs in ``--save_dir`` (default ``exp/demo``), ``<name>`` being the file name without its
extension: ``<name>_2d.png`` (every skeleton over the picture, boxes with ids; left limbs blue,
right red), ``<name>_3d.png`` (one 3D panel per person) and ``<name>.json`` (a ``people`` list).
A video gives per frame ``<name>_<00000>_2d.png`` and ``_3d.png``, one ``<name>.json`` with a
``frames`` list, and the annotated ``<name>_2d.mp4``.
"""
from __future__ import annotations

import argparse
import logging
import math
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from pose3d.camera_space import FOCAL_RULE
from pose3d.demo_inputs import DemoInput, discover_inputs, iter_frames, iter_pictures, open_video
from pose3d.demo_output import (Camera, Person, Viewer, draw_people, person_record, plot_people,
                                progress, write_json)
from pose3d.detection import Boxes, BoxSource, frame_key
from pose3d.predictor import BATCH_SIZE, Predictor, load_predictor, make_crop
from pose3d.skeleton import MPII16
from pose3d.tracking import SMOOTH_ORDER, SMOOTH_WINDOW, Tracker, smooth_runs
from pose3d.utils import visualize as vis
from pose3d.utils.errors import UserError

log = logging.getLogger(__name__)


def check_options(opt: argparse.Namespace) -> None:
    """Reject contradictory or out-of-range demo flags (one line each)."""
    flags = {"--det_file": bool(opt.det_file), "--detector hog": opt.detector == "hog",
             "--bbox": bool(opt.bbox)}
    given = [flag for flag, on in flags.items() if on]
    if len(given) > 1:
        raise UserError(f"{' and '.join(given)} both give person boxes; use only one")
    if opt.det_images and not opt.det_file:
        raise UserError("--det_images maps the image ids of a --det_file; give --det_file too")
    if not (math.isfinite(opt.det_thr) and opt.det_thr >= 0):
        raise UserError(f"--det_thr {opt.det_thr:g}: give a score threshold >= 0, e.g. 0.5")
    if not math.isfinite(opt.focal) or opt.focal < 0:
        raise UserError(f"--focal {opt.focal:g}: give the focal length in pixels (> 0), or 0 for "
                        f"{FOCAL_RULE}")


def find_people(predictor: Predictor, images: Sequence[np.ndarray],
                boxes: Sequence[Boxes | None]) -> list[list[Person]]:
    """Predict every person of several pictures in one pass (crops batched across pictures)."""
    flat_images, crops, owners = [], [], []
    for i, (image, found) in enumerate(zip(images, boxes)):
        rows = [(None, None)] if found is None else list(zip(found.xywh, found.scores))
        for box, score in rows:
            flat_images.append(image)
            crops.append(make_crop(image.shape[:2], box, predictor.input_wh))
            owners.append((i, box, score))
    people: list[list[Person]] = [[] for _ in images]
    for (i, box, score), pose in zip(owners, predictor(flat_images, crops)):
        scored = box is not None and np.isfinite(score)
        people[i].append(Person(pose, box, float(score) if scored else None, len(people[i])))
    return people


def _batches(items: Iterator[Any], size: int) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _header(model_name: str, source: BoxSource) -> dict[str, Any]:
    return {"model": model_name, "boxes_from": source.label, "joint_names": list(MPII16.names)}


def run_images(src: DemoInput, predictor: Predictor, save_dir: Path, source: BoxSource,
               viewer: Viewer, opt: argparse.Namespace, model_name: str) -> list[Path]:
    """Image or folder: three files per picture. Returns the written paths."""
    written: list[Path] = []
    bar = progress(src.path.name, len(src.images)) if len(src.images) > 1 else None
    for batch in _batches(iter_pictures(src), BATCH_SIZE):
        found = [source(im, path.name) for _, path, im in batch]
        for (name, path, image), people in zip(batch, find_people(
                predictor, [im for _, _, im in batch], found)):
            camera = Camera.for_picture(image.shape[:2], opt.focal)
            overlay, plot = draw_people(image, people), plot_people(people, camera, name)
            written.append(vis.write_image(save_dir / f"{name}_2d.png", overlay))
            written.append(vis.write_image(save_dir / f"{name}_3d.png", plot))
            written.append(write_json(save_dir / f"{name}.json", {
                "image": str(path.resolve()), "image_size": [image.shape[1], image.shape[0]],
                **_header(model_name, source), "camera_space": camera.record(),
                "people": [person_record(p, camera) for p in people]}))
            viewer.show(overlay, plot, wait_ms=0)
            if bar is not None:
                bar.next()
    if bar is not None:
        bar.finish()
    return written


def track_video(src: DemoInput, predictor: Predictor, source: BoxSource) -> list[list[Person]]:
    """Pass 1 over a video: the people of every frame, with track ids."""
    tracker = Tracker()
    frames: list[list[Person]] = []
    bar = progress(src.path.stem, int(src.capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0))
    for batch in _batches(iter_frames(src), BATCH_SIZE):
        keys = [frame_key(src.path.name, len(frames) + i) for i in range(len(batch))]
        found = [source(frame, key) for frame, key in zip(batch, keys)]
        for frame, people in zip(batch, find_people(predictor, batch, found)):
            h, w = frame.shape[:2]
            boxes = np.array([p.box if p.box is not None else [0, 0, w, h] for p in people])
            for person, pid in zip(people, tracker.update(len(frames), boxes.reshape(-1, 4))):
                person.id = pid
            frames.append(people)
            bar.next()
    bar.finish()
    return frames


def smooth_people(frames: list[list[Person]]) -> None:
    """``--smooth``: filter each id's 2D joints and 3D mm joints over time, in place."""
    by_id: dict[int, list[tuple[int, Person]]] = {}
    for index, people in enumerate(frames):
        for person in people:
            by_id.setdefault(person.id, []).append((index, person))
    for track in by_id.values():
        index = np.array([i for i, _ in track])
        j2 = smooth_runs(index, np.stack([p.pose.joints_2d for _, p in track]))
        j3 = smooth_runs(index, np.stack([p.pose.joints_3d_mm for _, p in track]))
        for (_, person), a, b in zip(track, j2, j3):
            person.pose.joints_2d, person.pose.joints_3d_mm = a, b


def run_video(src: DemoInput, predictor: Predictor, save_dir: Path, source: BoxSource,
              viewer: Viewer, opt: argparse.Namespace, model_name: str) -> list[Path]:
    """Video: track, optionally smooth, then draw per-frame pictures, the JSON and ``_2d.mp4``."""
    name = src.path.stem
    fps = float(src.capture.get(cv2.CAP_PROP_FPS) or 0.0)
    frames = track_video(src, predictor, source)
    src.capture.release()
    if opt.smooth:
        smooth_people(frames)
    camera = Camera.for_picture(src.first.shape[:2], opt.focal)
    video_path = save_dir / f"{name}_2d.mp4"
    written: list[Path] = []
    records: list[dict[str, Any]] = []
    cap, first = open_video(src.path)  # pass 2 draws from a fresh read of the file
    writer = vis.VideoWriter(video_path, fps)
    try:
        for index, (frame, people) in enumerate(zip(iter_frames(DemoInput("video", src.path, [],
                                                                      first, cap)), frames)):
            frame_name = f"{name}_{index:05d}"
            overlay, plot = draw_people(frame, people), plot_people(people, camera, frame_name)
            written.append(vis.write_image(save_dir / f"{frame_name}_2d.png", overlay))
            written.append(vis.write_image(save_dir / f"{frame_name}_3d.png", plot))
            writer.write(overlay)
            records.append({"frame": index, "name": frame_name,
                            "people": [person_record(p, camera) for p in people]})
            viewer.show(overlay, plot, wait_ms=1)
    finally:
        writer.close()
        cap.release()
    written.append(video_path)
    decoded = vis.count_video_frames(video_path)
    if decoded != len(records):
        log.warning("%s: wrote %d frames but OpenCV reads back %d", video_path, len(records),
                    decoded)
    smoothing = ({"method": "Savitzky-Golay (centred)", "window_frames": SMOOTH_WINDOW,
                  "order": SMOOTH_ORDER} if opt.smooth else None)
    written.append(write_json(save_dir / f"{name}.json", {
        "video": str(src.path.resolve()), "fps": writer.fps, "num_frames": len(records),
        "image_size": [int(src.first.shape[1]), int(src.first.shape[0])],
        **_header(model_name, source), "camera_space": camera.record(),
        "tracking": {"method": "IoU, Hungarian", "min_iou": Tracker().min_iou,
                     "max_gap_frames": Tracker().max_gap},
        "smoothing": smoothing, "annotated_video": str(video_path), "frames": records}))
    return written


def run(opt: argparse.Namespace, predictor: Predictor | None = None) -> list[Path]:
    """Run the demo for parsed options.

    Args:
        opt: options from :func:`pose3d.opts.parse` (``demo``, ``load_model``, box flags,
            ``focal``, ``smooth``, ``show``, ``save_dir``, device flags).
        predictor: use this instead of loading ``--load_model`` (tests, embedding).

    Returns:
        Every file written.

    Raises:
        UserError: bad input, detections, model or output folder (one line for the user).
    """
    check_options(opt)
    src = discover_inputs(opt.demo)
    try:
        source = BoxSource(opt)
        if opt.smooth and src.kind != "video":
            log.warning("--smooth: only videos are smoothed; %s is not one", opt.demo)
        viewer = Viewer(bool(opt.show))
        if predictor is None:
            predictor = load_predictor(opt)
        model_name = getattr(predictor, "description", "model")
        save_dir = Path(opt.save_dir)
        try:
            save_dir.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise UserError(f"--save_dir {save_dir}: cannot create it ({err.strerror}); choose "
                            "a writable folder") from None
        run_one = run_video if src.kind == "video" else run_images
        written = run_one(src, predictor, save_dir, source, viewer, opt, model_name)
        viewer.close()
    finally:
        if src.capture is not None:
            src.capture.release()
    log.info("wrote %d files to %s", len(written), save_dir)
    return written


def main(argv: list[str]) -> None:
    """``demo.py`` entry: parse the flags and run."""
    from pose3d.opts import parse

    run(parse(argv))
