"""The demo: 2D and 3D pose of one person per picture, for an image, a folder of images or a video.

``cd src && python demo.py --demo PATH [--load_model FILE] [--bbox x,y,w,h] [--show]
[--save_dir DIR] [--device auto|cpu|cuda|npu] [--backend pytorch|onnxruntime]``

What happens (the original's demo, fixed where it was wrong):

* Input: ``PATH`` is one image, a folder (its ``.jpg/.jpeg/.png/.bmp`` files, sorted by name, not
  recursive) or a video (``.mp4/.avi/.mov/.mkv/.webm``, or any other file OpenCV decodes as a video
  but not as an image).
* Crop: without ``--bbox`` the person is assumed to fill the picture, as in the original: centre
  ``(W/2, H/2)``, side ``max(H, W)``, i.e. the whole image letter-boxed (zero padding). With
  ``--bbox x,y,w,h`` (a tight box around the person, in pixels) the centre is the box centre and
  the side is ``1.25 * max(w, h)``: training crops are ``1.25 x`` the person's size (MPII:
  ``scale * 1.25 * 200``), so the person appears at the size the network learnt.
* Network input: the training normalisation through ``transforms.normalize_image`` (BGR,
  ``/256``, ImageNet mean/std). The original demo divided by 255, a mismatch with training.
* Flip test on, as in validation (``inference.predict``); batches of :data:`BATCH_SIZE` pictures.
* 3D: root-relative joints in crop units (``inference.decode_3d``), converted to millimetres with
  the evaluation's rule: one factor per person so that the 15 H36M-17 bones of the pose
  (``mpii16_to_h36m17``) sum to 4000 mm. The factor is applied to the 16 MPII joints themselves
  rather than mapping the 17 rescaled joints back, because the H36M conversion replaces the
  thorax by an interpolated spine and would lose the predicted thorax.

Outputs in ``--save_dir`` (default ``exp/demo``), ``<name>`` being the file name without its
extension: ``<name>_2d.png`` (skeleton over the picture; left limbs blue, right red),
``<name>_3d.png`` (3D skeleton, matplotlib) and ``<name>.json``. A video gives per frame
``<name>_<00000>_2d.png`` and ``_3d.png``, one ``<name>.json`` with a ``frames`` list, and the
annotated ``<name>_2d.mp4``.

The model comes from ``--load_model`` (default ``models/fusion_3d_var.pth``; when that is missing,
``exp/fusion_3d_var/model_last.pth`` then ``exp/quickstart_s3/model_last.pth``). Its architecture,
heads and input size are read from the checkpoint's ``arch``/``heads``/``opt`` entries when
present (files written by pose3d), else from ``--arch`` / ``--input_h`` / ``--input_w`` with 16
heatmaps and 16 depth maps (the published files). ``--backend onnxruntime`` runs an exported
``.onnx`` file instead.
"""
import argparse
import contextlib
import json
import logging
import os
import re
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from pose3d.datasets.transforms import adjust_aspect_ratio, get_affine_transform, normalize_image
from pose3d.evaluation.h36m import mpii16_to_h36m17, skeleton_length
from pose3d.inference import decode_2d, decode_3d, predict
from pose3d.paths import EXP_DIR, MODELS_DIR, REPO_ROOT
from pose3d.skeleton import MEAN_BONE_LENGTH_MM, MPII16
from pose3d.utils import device as dev
from pose3d.utils import visualize as vis
from pose3d.utils.errors import UserError

log = logging.getLogger(__name__)

IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp")
VIDEO_EXTS = (".mp4", ".avi", ".mov", ".mkv", ".webm")
DEFAULT_MODEL = MODELS_DIR / "fusion_3d_var.pth"
# Tried in order when DEFAULT_MODEL is missing: a full local reproduction, then the quick start.
FALLBACK_MODELS = (EXP_DIR / "fusion_3d_var" / "model_last.pth",
                   EXP_DIR / "quickstart_s3" / "model_last.pth")
BATCH_SIZE = 8
# Crop side = BBOX_PADDING x the longer side of a user box (training crops are 1.25 x the person).
BBOX_PADDING = 1.25
NUM_JOINTS = MPII16.num_joints
WINDOW = "pose3d demo"


# ----------------------------------------------------------------------------- crops

@dataclass(frozen=True)
class Crop:
    """The square (or input-shaped) source region that is warped to the network input.

    Attributes:
        center: (2,) centre (x, y) in image pixels.
        size: (2,) region (w, h) in image pixels (equal for a square network input).
    """

    center: np.ndarray
    size: np.ndarray


def make_crop(image_hw: tuple[int, int], bbox: Sequence[float] | None,
              input_wh: tuple[int, int]) -> Crop:
    """The crop of one picture: the whole image, or a padded user box.

    Args:
        image_hw: (H, W) of the picture.
        bbox: ``(x, y, w, h)`` person box in pixels, or None for the whole image.
        input_wh: network input (w, h); a non-square input widens the region to its aspect.

    Returns:
        :class:`Crop`.

    Raises:
        UserError: the box does not overlap the picture.
    """
    h, w = image_hw
    if bbox is None:
        # The original's letter-box: c = (W/2, H/2), s = max(H, W).
        center = np.array([w / 2.0, h / 2.0])
        side = float(max(h, w))
    else:
        x, y, bw, bh = (float(v) for v in bbox)
        if x >= w or y >= h or x + bw <= 0 or y + bh <= 0:
            raise UserError(f"--bbox {x:g},{y:g},{bw:g},{bh:g}: the box lies outside the "
                            f"{w}x{h} picture; give x,y,w,h in pixels of that picture")
        center = np.array([x + bw / 2.0, y + bh / 2.0])
        side = BBOX_PADDING * max(bw, bh)
    size = adjust_aspect_ratio(side, input_wh[0] / input_wh[1])
    return Crop(center=center, size=np.asarray(size, dtype=np.float64))


def crop_input(image: np.ndarray, crop: Crop, input_wh: tuple[int, int]) -> np.ndarray:
    """Warp a crop to the network input and normalise it as in training.

    Args:
        image: (H, W, 3) uint8 BGR picture.
        crop: region to take.
        input_wh: network input (w, h).

    Returns:
        (3, h, w) float32 network input.
    """
    trans = get_affine_transform(crop.center, crop.size, 0.0, input_wh)
    patch = cv2.warpAffine(image, trans, (int(input_wh[0]), int(input_wh[1])),
                           flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return normalize_image(patch)


def to_millimetres(pred16: np.ndarray) -> np.ndarray:
    """Root-relative crop-unit joints -> mm, scaled so the H36M-17 skeleton measures 4000 mm.

    Args:
        pred16: (B, 16, 3) MPII-order root-relative joints in crop units.

    Returns:
        (B, 16, 3) the same joints times one factor per person (zeros for a degenerate pose).
    """
    pred16 = np.asarray(pred16, dtype=np.float64)
    length = skeleton_length(mpii16_to_h36m17(pred16))
    factor = np.where(length > 0, MEAN_BONE_LENGTH_MM / np.where(length > 0, length, 1.0), 0.0)
    return pred16 * factor[:, None, None]


# ----------------------------------------------------------------------------- predictor

@dataclass
class Pose:
    """One person's prediction.

    Attributes:
        joints_2d: (16, 2) MPII-order joints (x, y) in original-image pixels.
        confidence: (16,) heatmap peak values (after flip averaging).
        joints_3d: (16, 3) root-relative joints in crop units (x right, y down, z depth).
        joints_3d_mm: (16, 3) the same in mm after the 4000 mm skeleton rescale.
        crop: the region the network saw.
    """

    joints_2d: np.ndarray
    confidence: np.ndarray
    joints_3d: np.ndarray
    joints_3d_mm: np.ndarray
    crop: Crop


class Predictor:
    """Crops pictures, runs the network with flip test and decodes 2D pixels and 3D mm.

    Args:
        model: callable (B, 3, h, w) float tensor -> list of dicts with ``hm`` (B, 16, h/4, w/4)
            and ``depth`` (maps or a (B, 16) vector), i.e. the pose3d model contract.
        input_wh: network input (w, h) in pixels.
        device: where the input tensors go.
        flip: flip test (on in validation and the demo).
        amp: ``--amp`` precision for the forward pass.
        channels_last: feed ``channels_last`` tensors.
    """

    def __init__(self, model: Callable[[torch.Tensor], Any], input_wh: tuple[int, int],
                 device: torch.device | str = "cpu", flip: bool = True, amp: str = "off",
                 channels_last: bool = False):
        self.model = model
        self.input_wh = (int(input_wh[0]), int(input_wh[1]))
        self.device = torch.device(device)
        self.flip = flip
        self.amp = amp
        self.channels_last = channels_last
        self.description = getattr(model, "description", type(model).__name__)

    def __call__(self, images: Sequence[np.ndarray], crops: Sequence[Crop]) -> list[Pose]:
        """Predict one pose per picture.

        Args:
            images: B pictures, each (H_i, W_i, 3) uint8 BGR (sizes may differ).
            crops: B crops, one per picture.

        Returns:
            B :class:`Pose` objects.
        """
        if not images:
            return []
        x = torch.from_numpy(np.stack([crop_input(im, c, self.input_wh)
                                       for im, c in zip(images, crops)])).to(self.device)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with dev.autocast(self.device, self.amp):
            out = predict(self.model, x, flip=self.flip)
        if "depth" not in out:
            raise UserError(f"{self.description}: the model has no depth output, so no 3D pose; "
                            "use a 3D checkpoint such as models/fusion_3d_var.pth")
        centers = np.stack([c.center for c in crops])
        sizes = np.stack([c.size for c in crops])
        joints_2d, conf = decode_2d(out["hm"], centers, sizes)
        pred3d = decode_3d(out["hm"], out["depth"])
        mm = to_millimetres(pred3d)
        return [Pose(joints_2d[i], conf[i], pred3d[i], mm[i], crops[i])
                for i in range(len(images))]


def resolve_model_path(load_model: str, backend: str = "pytorch") -> Path:
    """The checkpoint to run: ``--load_model``, the published default, or a local training result.

    Raises:
        UserError: nothing usable exists; the message says where the published file goes and how
            to train one.
    """
    if load_model:
        path = Path(load_model)
        if backend == "pytorch" and not path.is_file():
            raise UserError(f"--load_model {load_model}: no such checkpoint file; give a .pth "
                            f"file (relative paths start from the current folder)")
        return path
    if backend == "onnxruntime":
        raise UserError("--backend onnxruntime: give the exported model with --load_model "
                        "FILE.onnx")
    if DEFAULT_MODEL.is_file():
        return DEFAULT_MODEL
    for candidate in FALLBACK_MODELS:
        if candidate.is_file():
            log.info("using %s (models/fusion_3d_var.pth not found)", _short(candidate))
            return candidate
    raise UserError(f"{DEFAULT_MODEL}: no model; download the published fusion_3d_var.pth into "
                    f"{MODELS_DIR}/, pass --load_model FILE, or train one with "
                    "./scripts/quickstart.sh")


def _short(path: Path) -> str:
    """``path`` relative to the repository when it lies inside it (shorter messages)."""
    try:
        return str(Path(path).resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


def _explicit_flags(argv: Sequence[str] | None) -> set[str]:
    """Long flags typed on the command line (``--arch`` from ``--arch=x`` too)."""
    return {a.split("=", 1)[0] for a in (argv or []) if a.startswith("--")}


def model_config(ckpt: Mapping[str, Any], opt: argparse.Namespace) -> dict[str, Any]:
    """Architecture, heads and input size: from the checkpoint when it says, else from the flags.

    Args:
        ckpt: :func:`pose3d.utils.checkpoint.load_checkpoint` output.
        opt: parsed options (``arch``, ``input_h``, ``input_w``, hourglass sizes).

    Returns:
        ``{'arch', 'heads', 'input_hw', 'num_stacks', 'num_modules', 'num_features'}``; heads
        always include a 16-channel ``depth`` head (the original demo forces it).
    """
    saved = ckpt.get("opt") if isinstance(ckpt.get("opt"), Mapping) else {}
    arch = ckpt.get("arch") or saved.get("arch") or opt.arch
    heads = dict(ckpt.get("heads") or saved.get("heads") or {"hm": NUM_JOINTS})
    if int(heads.get("hm", NUM_JOINTS)) != NUM_JOINTS:
        raise UserError(f"--load_model: the checkpoint predicts {heads.get('hm')} joints; the "
                        f"demo draws the {NUM_JOINTS} MPII joints, so use an MPII-joint model "
                        "such as models/fusion_3d_var.pth")
    heads.setdefault("depth", NUM_JOINTS)
    input_h = int(saved.get("input_h") or opt.input_h)
    input_w = int(saved.get("input_w") or opt.input_w)
    if "--arch" in _explicit_flags(getattr(opt, "argv", None)) and arch != opt.arch:
        log.warning("--arch %s ignored: the checkpoint says it holds %s", opt.arch, arch)
    return {
        "arch": str(arch),
        "heads": {str(k): int(v) for k, v in heads.items()},
        "input_hw": (input_h, input_w),
        "num_stacks": int(saved.get("num_stacks") or opt.num_stacks or 2),
        "num_modules": int(saved.get("num_modules") or opt.num_modules),
        "num_features": int(saved.get("num_features") or opt.num_features),
    }


def load_predictor(opt: argparse.Namespace) -> Predictor:
    """Build the model from the checkpoint (or the ONNX file) named by the options.

    Raises:
        UserError / CheckpointError: missing or unreadable file, or weights of another
            architecture.
    """
    from pose3d.models import create_model
    from pose3d.utils.checkpoint import load_checkpoint, load_model_weights

    path = resolve_model_path(opt.load_model, opt.backend)
    device = dev.resolve_device(opt.device, opt.gpus)
    if opt.backend == "onnxruntime":
        if not path.is_file():
            raise UserError(f"{path}: ONNX model not found; check --load_model")
        from pose3d.onnx_backend import OnnxModel, providers_for

        model = OnnxModel(path, providers=providers_for(device))
        model.description = str(path)
        input_hw = model.input_hw or (opt.input_h, opt.input_w)
        return Predictor(model, (input_hw[1], input_hw[0]), device, amp="off")

    ckpt = load_checkpoint(path)
    cfg = model_config(ckpt, opt)
    model = create_model(cfg["arch"], cfg["heads"], num_stacks=cfg["num_stacks"],
                         num_modules=cfg["num_modules"], num_features=cfg["num_features"],
                         input_hw=cfg["input_hw"], pretrained=False)
    allowed = load_model_weights(model, ckpt["state_dict"], cfg["arch"], source=path)
    if allowed:
        log.warning("%s is a 2D checkpoint (no depth head): the 3D output is untrained", path)
    model.to(device).eval()
    if opt.channels_last:
        model.to(memory_format=torch.channels_last)
    if opt.compile:
        model = torch.compile(model)
    model.description = str(path)  # type: ignore[attr-defined]
    log.info("model %s (%s, input %dx%d) on %s", _short(path), cfg["arch"], cfg["input_hw"][1],
             cfg["input_hw"][0], device)
    h, w = cfg["input_hw"]
    return Predictor(model, (w, h), device, amp=opt.amp, channels_last=opt.channels_last)


# ----------------------------------------------------------------------------- inputs

def read_image(path: Path) -> np.ndarray:
    """Read a picture as (H, W, 3) uint8 BGR.

    Decoded from the bytes (``cv2.imdecode``) so a bad file gives our message only, not OpenCV's
    own warning as well.

    Raises:
        UserError: the file is missing or not a decodable image.
    """
    try:
        data = np.fromfile(str(path), dtype=np.uint8)
    except OSError as err:
        raise UserError(f"{path}: cannot read the file ({err.strerror}); check --demo") from None
    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if image is None:
        raise UserError(f"{path}: not a readable image (empty, corrupt or another format); "
                        f"give a {'/'.join(e[1:] for e in IMAGE_EXTS)} file with --demo")
    return image


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
            raise UserError(f"--demo {path_text}: the folder holds no "
                            f"{'/'.join(e[1:] for e in IMAGE_EXTS)} images")
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


def unique_names(paths: Sequence[Path]) -> list[str]:
    """Output names: the file stem, or stem_ext where two files share a stem (a.jpg, a.png)."""
    stems = [p.stem for p in paths]
    return [f"{p.stem}_{p.suffix[1:].lower()}" if stems.count(p.stem) > 1 else p.stem
            for p in paths]


# ----------------------------------------------------------------------------- display

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


# ----------------------------------------------------------------------------- outputs

def _round(a: np.ndarray, digits: int) -> list:
    return np.round(np.asarray(a, dtype=np.float64), digits).tolist()


def pose_record(pose: Pose) -> dict[str, Any]:
    """JSON fields of one pose (2D px, 3D mm, confidences, crop)."""
    return {
        "joints_2d": _round(pose.joints_2d, 2),
        "joints_3d_mm": _round(pose.joints_3d_mm, 1),
        "confidence": _round(pose.confidence, 4),
        "crop": {"center": _round(pose.crop.center, 2), "size": _round(pose.crop.size, 2)},
    }


def render_pose(image: np.ndarray, pose: Pose, bbox: Sequence[float] | None,
                title: str) -> tuple[np.ndarray, np.ndarray]:
    """The 2D overlay (with the user box, if any) and the 3D plot of one pose."""
    overlay = vis.draw_skeleton_2d(image, pose.joints_2d)
    if bbox is not None:
        x, y, w, h = (int(round(v)) for v in bbox)
        cv2.rectangle(overlay, (x, y), (x + w, y + h), (200, 200, 200), 1, cv2.LINE_AA)
    plot = vis.plot_skeleton_3d(pose.joints_3d_mm, title=title)
    return overlay, plot


# A list of numbers (e.g. one joint) spread over several lines by json.dumps(indent=...).
_NUMBER_LIST = re.compile(r"\[\s+([-+0-9.eE,\s]+?)\s+\]")


def _dumps(payload: dict[str, Any]) -> str:
    """Indented JSON with each innermost list of numbers on one line (one joint per line)."""
    text = json.dumps(payload, indent=1)
    return _NUMBER_LIST.sub(lambda m: "[" + ", ".join(m.group(1).replace(",", " ").split()) + "]",
                            text)


def _write_json(path: Path, payload: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(_dumps(payload) + "\n")
    os.replace(tmp, path)


def _progress(name: str, total: int):
    """A ``progress`` bar (silent when stderr is not a terminal); a counter if total is unknown."""
    if total > 0:
        from progress.bar import Bar

        return Bar(name, max=total, suffix="%(index)d/%(max)d  %(elapsed_td)s / eta %(eta_td)s")
    from progress.counter import Counter

    return Counter(f"{name} ")


def _batches(items: Iterator[Any], size: int) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def run_images(src: DemoInput, predictor: Predictor, save_dir: Path, bbox, viewer: Viewer,
               model_name: str) -> list[Path]:
    """Image or folder: three files per picture. Returns the written paths."""
    names = unique_names(src.images)
    written: list[Path] = []

    def load() -> Iterator[tuple[str, Path, np.ndarray]]:
        for name, path in zip(names, src.images):
            image = src.first if (src.kind == "image" and src.first is not None) else \
                read_image(path)
            yield name, path, image

    bar = _progress(src.path.name, len(src.images)) if len(src.images) > 1 else None
    for batch in _batches(load(), BATCH_SIZE):
        crops = [make_crop(im.shape[:2], bbox, predictor.input_wh) for _, _, im in batch]
        poses = predictor([im for _, _, im in batch], crops)
        for (name, path, image), pose in zip(batch, poses):
            overlay, plot = render_pose(image, pose, bbox, name)
            written.append(vis.write_image(save_dir / f"{name}_2d.png", overlay))
            written.append(vis.write_image(save_dir / f"{name}_3d.png", plot))
            payload = {"image": str(path.resolve()), "image_size": [image.shape[1],
                                                                     image.shape[0]],
                       "model": model_name, "joint_names": list(MPII16.names),
                       **pose_record(pose)}
            json_path = save_dir / f"{name}.json"
            _write_json(json_path, payload)
            written.append(json_path)
            viewer.show(overlay, plot, wait_ms=0)
            if bar is not None:
                bar.next()
    if bar is not None:
        bar.finish()
    return written


def run_video(src: DemoInput, predictor: Predictor, save_dir: Path, bbox, viewer: Viewer,
              model_name: str) -> list[Path]:
    """Video: per-frame pictures, one JSON with every frame and the annotated ``_2d.mp4``."""
    cap = src.capture
    assert cap is not None and src.first is not None
    name = src.path.stem
    fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
    total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
    video_path = save_dir / f"{name}_2d.mp4"
    written: list[Path] = []
    frames: list[dict[str, Any]] = []

    def frames_iter() -> Iterator[np.ndarray]:
        yield src.first
        while True:
            ok, frame = cap.read()
            if not ok:
                return
            yield frame

    bar = _progress(name, total)
    writer = vis.VideoWriter(video_path, fps)
    try:
        index = 0
        for batch in _batches(frames_iter(), BATCH_SIZE):
            crops = [make_crop(f.shape[:2], bbox, predictor.input_wh) for f in batch]
            for frame, pose in zip(batch, predictor(batch, crops)):
                frame_name = f"{name}_{index:05d}"
                overlay, plot = render_pose(frame, pose, bbox, frame_name)
                written.append(vis.write_image(save_dir / f"{frame_name}_2d.png", overlay))
                written.append(vis.write_image(save_dir / f"{frame_name}_3d.png", plot))
                writer.write(overlay)
                frames.append({"frame": index, "name": frame_name, **pose_record(pose)})
                viewer.show(overlay, plot, wait_ms=1)
                bar.next()
                index += 1
    finally:
        writer.close()
        cap.release()
        bar.finish()
    written.append(video_path)
    decoded = vis.count_video_frames(video_path)
    if decoded != len(frames):
        log.warning("%s: wrote %d frames but OpenCV reads back %d", video_path, len(frames),
                    decoded)
    json_path = save_dir / f"{name}.json"
    _write_json(json_path, {"video": str(src.path.resolve()), "fps": writer.fps,
                            "num_frames": len(frames), "image_size": [int(src.first.shape[1]),
                                                                      int(src.first.shape[0])],
                            "model": model_name, "joint_names": list(MPII16.names),
                            "annotated_video": str(video_path), "frames": frames})
    written.append(json_path)
    return written


def run(opt: argparse.Namespace, predictor: Predictor | None = None) -> list[Path]:
    """Run the demo for parsed options.

    Args:
        opt: options from :func:`pose3d.opts.parse` (``demo``, ``load_model``, ``bbox``,
            ``show``, ``save_dir``, device flags).
        predictor: use this instead of loading ``--load_model`` (tests, embedding).

    Returns:
        Every file written.

    Raises:
        UserError: bad input, model or output folder (one line for the user).
    """
    src = discover_inputs(opt.demo)
    try:
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
        bbox = list(opt.bbox) if opt.bbox else None
        if src.kind == "video":
            written = run_video(src, predictor, save_dir, bbox, viewer, model_name)
        else:
            written = run_images(src, predictor, save_dir, bbox, viewer, model_name)
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
