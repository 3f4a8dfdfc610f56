"""The demo's network: crops from person boxes, flip-test inference, 2D pixels and 3D mm.

A :class:`Predictor` takes pictures with one :class:`Crop` each (a picture may appear several
times, once per person) and returns one :class:`Pose` per crop. :func:`load_predictor` builds it
from ``--load_model`` (a pose3d or published checkpoint, or an exported ONNX file).
"""
import argparse
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from pose3d.datasets.transforms import adjust_aspect_ratio, get_affine_transform, normalize_image
from pose3d.evaluation.h36m import mpii16_to_h36m17, skeleton_length
from pose3d.inference import decode_2d, decode_3d, predict
from pose3d.models import ModelSpec, build_from_spec, spec_from_checkpoint
from pose3d.paths import EXP_DIR, MODELS_DIR, REPO_ROOT
from pose3d.skeleton import MEAN_BONE_LENGTH_MM, MPII16
from pose3d.utils import device as dev
from pose3d.utils.errors import UserError
from pose3d.utils.precision import autocast

log = logging.getLogger(__name__)

DEFAULT_MODEL = MODELS_DIR / "fusion_3d_var.pth"
# Tried in order when DEFAULT_MODEL is missing: a full local reproduction, then the quick start.
FALLBACK_MODELS = (EXP_DIR / "fusion_3d_var" / "model_last.pth",
                   EXP_DIR / "quickstart_s3" / "model_last.pth")
# Crops per forward pass.
BATCH_SIZE = 8
# Crop side = BBOX_PADDING x the longer side of a user box (training crops are 1.25 x the person).
BBOX_PADDING = 1.25
NUM_JOINTS = MPII16.num_joints


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
        """Predict one pose per crop, :data:`BATCH_SIZE` crops per forward pass.

        Args:
            images: B pictures, each (H_i, W_i, 3) uint8 BGR (sizes may differ; the same picture
                may be given once per person in it).
            crops: B crops, one per entry of ``images``.

        Returns:
            B :class:`Pose` objects.
        """
        poses: list[Pose] = []
        for start in range(0, len(images), BATCH_SIZE):
            poses += self._batch(images[start:start + BATCH_SIZE], crops[start:start + BATCH_SIZE])
        return poses

    def _batch(self, images: Sequence[np.ndarray], crops: Sequence[Crop]) -> list[Pose]:
        x = torch.from_numpy(np.stack([crop_input(im, c, self.input_wh)
                                       for im, c in zip(images, crops)])).to(self.device)
        x = dev.channels_last_batch(x, self.channels_last)
        with autocast(self.device, self.amp):
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


def demo_spec(ckpt: Mapping[str, Any], opt: argparse.Namespace) -> ModelSpec:
    """The demo's network: the checkpoint's, with the flags for what the checkpoint leaves open.

    Args:
        ckpt: :func:`pose3d.utils.checkpoint.load_checkpoint` output.
        opt: parsed options (``arch``, ``input_h``, ``input_w``, hourglass sizes).

    Returns:
        A :class:`ModelSpec` whose heads always include a 16-channel ``depth`` head (the original
        demo forces it).

    Raises:
        UserError: the checkpoint predicts other than the 16 MPII joints.
    """
    flags = ModelSpec(arch=opt.arch, heads={"hm": NUM_JOINTS}, input_hw=(opt.input_h, opt.input_w),
                      num_stacks=opt.num_stacks or 2, num_modules=opt.num_modules,
                      num_features=opt.num_features)
    typed_arch = opt.arch if "--arch" in _explicit_flags(getattr(opt, "argv", None)) else None
    spec = spec_from_checkpoint(ckpt, arch=typed_arch, defaults=flags)
    if spec.heads.get("hm", NUM_JOINTS) != NUM_JOINTS:
        raise UserError(f"--load_model: the checkpoint predicts {spec.heads['hm']} joints; the "
                        f"demo draws the {NUM_JOINTS} MPII joints, so use an MPII-joint model "
                        "such as models/fusion_3d_var.pth")
    return replace(spec, heads={**spec.heads, "depth": spec.heads.get("depth", NUM_JOINTS)})


def load_predictor(opt: argparse.Namespace) -> Predictor:
    """Build the model from the checkpoint (or the ONNX file) named by the options.

    Raises:
        UserError / CheckpointError: missing or unreadable file, or weights of another
            architecture.
    """
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
    spec = demo_spec(ckpt, opt)
    model = build_from_spec(spec)
    allowed = load_model_weights(model, ckpt["state_dict"], spec.arch, source=path)
    if allowed:
        log.warning("%s is a 2D checkpoint (no depth head): the 3D output is untrained", path)
    model = dev.prepare_model(model, device, channels_last=opt.channels_last,
                              compile=opt.compile, eval=True).net
    model.description = str(path)  # type: ignore[attr-defined]
    log.info("model %s (%s, input %dx%d) on %s", _short(path), spec.arch, spec.input_hw[1],
             spec.input_hw[0], device)
    h, w = spec.input_hw
    return Predictor(model, (w, h), device, amp=opt.amp, channels_last=opt.channels_last)
