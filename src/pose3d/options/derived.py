"""Settings computed from the flags (``derive``), once per parse.

What the original ``opts.parse`` computed (lists from ``--gpus``/``--lr_step``, the
``TEST``/``FULL_TEST`` exp_id suffix, ``save_dir``, resolutions, augmentation defaults, number of
joints, output heads, the ``--resume`` checkpoint) plus a few fixes:

* ``--resume`` looks for ``model_last.pth`` in ``exp_dir/<exp_id>`` *before* the ``TEST`` suffix
  is added (the original searched ``exp/<exp_id>TEST``, which never holds a training checkpoint).
* Partially given resolutions are completed (input 256x256, or 256x192 for coco; output input/4)
  instead of failing on ``-1``.
* A relative ``--load_model`` that does not exist from the current folder is also tried from
  ``src/``, so the README commands written for ``cd src`` (``../models/...``) work from the root.
"""
import argparse
import os

from pose3d.models import parse_arch
from pose3d.paths import REPO_ROOT, SRC_DIR

# Both networks produce heatmaps at 1/4 of the input resolution.
NETWORK_STRIDE = 4
# Every dataset is mapped to the 16 MPII joints the network predicts (COCO included).
NUM_JOINTS = 16
DEFAULT_NUM_STACKS = 2


def _int_list(flag: str, text: str) -> list[int]:
    parts = [t.strip() for t in str(text).split(",") if t.strip()]
    try:
        return [int(t) for t in parts]
    except ValueError:
        raise ValueError(
            f"argument {flag}: invalid value {text!r} (expected integers separated by commas)"
        ) from None


def _resolve_checkpoint_path(path: str) -> str:
    """Keep ``path`` if it exists; else try it from ``src/`` (README commands run in src/)."""
    if not path or os.path.isabs(path) or os.path.exists(path):
        return path
    alt = SRC_DIR / path
    return str(alt.resolve()) if alt.exists() else path


def _num_stacks(opt: argparse.Namespace) -> int:
    """Hourglass stacks from ``--arch hg_N`` or ``--num_stacks``; 1 for PoseResNet."""
    family, number = parse_arch(str(opt.arch))
    if family != "hg":
        return 1
    if number is None:
        return DEFAULT_NUM_STACKS if opt.num_stacks is None else opt.num_stacks
    if opt.num_stacks is not None and opt.num_stacks != number:
        raise ValueError(f"argument --num_stacks: {opt.num_stacks} contradicts --arch {opt.arch} "
                         f"({number} stacks); give one of them")
    return number


def _resolutions(opt: argparse.Namespace, is_coco: bool) -> None:
    """Complete the -1 (default) input and output sizes in place."""
    default_in = (256, 192) if is_coco else (256, 256)
    if opt.input_h == -1 and opt.input_w == -1 and opt.output_h == -1 and opt.output_w == -1:
        opt.input_h, opt.input_w = default_in
        opt.output_h, opt.output_w = default_in[0] // 4, default_in[1] // 4
        return
    if opt.input_h == -1:
        opt.input_h = default_in[0]
    if opt.input_w == -1:
        opt.input_w = default_in[1]
    if opt.output_h == -1:
        opt.output_h = opt.input_h // NETWORK_STRIDE
    if opt.output_w == -1:
        opt.output_w = opt.input_w // NETWORK_STRIDE


def _bbox(text: str) -> list[float] | None:
    if not text.strip():
        return None
    try:
        return [float(v) for v in text.split(",")]
    except ValueError:
        raise ValueError(
            f"argument --bbox: invalid value {text!r} (expected x,y,w,h in pixels)"
        ) from None


def derive(opt: argparse.Namespace) -> argparse.Namespace:
    """Compute every derived setting once, in place.

    Call it once per namespace: the ``TEST``/``FULL_TEST`` suffix is appended on each call.

    Args:
        opt: the namespace returned by ``build_parser().parse_args``.

    Returns:
        The same namespace, completed.

    Raises:
        ValueError: a list flag (``--gpus``, ``--lr_step``, ``--bbox``) that does not parse, or
            ``--num_stacks`` against ``--arch hg_N``; the message names the flag (``parse`` turns
            it into ``parser.error``).
    """
    # Constants of the original (RMSprop leftovers; momentum is used by SGD).
    opt.eps = 1e-6
    opt.momentum = 0.0
    opt.alpha = 0.99
    opt.epsilon = 1e-8
    opt.hm_gauss = 2

    opt.root_dir = str(REPO_ROOT)
    opt.data_dir = os.path.abspath(os.path.expanduser(opt.data_dir))
    opt.exp_dir = os.path.abspath(os.path.expanduser(opt.exp_dir))

    if opt.debug > 0:
        opt.num_workers = 1

    opt.gpus = _int_list("--gpus", opt.gpus) if isinstance(opt.gpus, str) else list(opt.gpus)
    if not opt.gpus:
        raise ValueError("argument --gpus: empty value (use -1 for CPU or e.g. 0)")
    if isinstance(opt.lr_step, str):
        opt.lr_step = _int_list("--lr_step", opt.lr_step)

    # --resume reads the training folder, before the test suffix (the original searched
    # exp/<exp_id>TEST, which holds no training checkpoint).
    train_dir = (os.path.abspath(os.path.expanduser(opt.save_dir)) if opt.save_dir
                 else os.path.join(opt.exp_dir, opt.exp_id))
    if opt.full_test:
        opt.exp_id = opt.exp_id + "FULL_TEST"
    elif opt.test:
        opt.exp_id = opt.exp_id + "TEST"
    if opt.save_dir:
        opt.save_dir = os.path.abspath(os.path.expanduser(opt.save_dir))
    elif opt.demo and opt.exp_id == "default":
        opt.save_dir = os.path.join(opt.exp_dir, "demo")
    else:
        opt.save_dir = os.path.join(opt.exp_dir, opt.exp_id)

    opt.num_stacks = _num_stacks(opt)

    is_coco = opt.dataset == "coco"
    _resolutions(opt, is_coco)
    if opt.scale == -1:
        opt.scale = 0.3 if is_coco else 0.25
    if opt.rotate == -1:
        opt.rotate = 40 if is_coco else 30

    # The original set 17 for coco but still built a 16-joint head; the loaders all return the
    # 16 MPII joints, so the targets, the head and the flip pairs agree.
    opt.num_output = NUM_JOINTS
    opt.num_output_depth = opt.num_output if opt.task == "human3d" else 0
    opt.heads = {"hm": opt.num_output}
    if opt.num_output_depth > 0:
        opt.heads["depth"] = opt.num_output_depth

    if opt.resume:
        opt.load_model = os.path.join(train_dir, "model_last.pth")
    else:
        opt.load_model = _resolve_checkpoint_path(opt.load_model)

    if isinstance(opt.bbox, str):
        opt.bbox = _bbox(opt.bbox)
    return opt
