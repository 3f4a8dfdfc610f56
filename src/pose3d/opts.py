"""The one command-line parser of pose3d: every flag, the settings derived from them, the checks.

Flow (``parse``): ``build_parser().parse_args`` -> ``derive(opt)`` -> ``validate(opt, parser)``.
After that ``opt`` is treated as read-only; builders receive explicit keyword arguments.

Every flag of the fork (ECE740F21T01/pytorch-pose-hg-3d, ``src/lib/opts.py``) is kept with its name,
type and default, and argparse prefix abbreviations keep working (the fork's README writes
``--num_epoch 60`` for ``--num_epochs``). New flags live in the "pose3d additions" help group.

``derive`` computes, in one place, what the original ``opts.parse`` computed (lists from
``--gpus``/``--lr_step``, the ``TEST``/``FULL_TEST`` exp_id suffix, ``save_dir``, resolutions,
augmentation defaults, number of joints, output heads, the ``--resume`` checkpoint) plus a few
fixes:

* ``--resume`` looks for ``model_last.pth`` in ``exp_dir/<exp_id>`` *before* the ``TEST`` suffix
  is added (the original searched ``exp/<exp_id>TEST``, which never holds a training checkpoint).
* Partially given resolutions are completed (input 256x256, or 256x192 for coco; output input/4)
  instead of failing on ``-1``.
* A relative ``--load_model`` that does not exist from the current folder is also tried from
  ``src/``, so the README commands written for ``cd src`` (``../models/...``) work from the root.
* Dataset names are matched case-insensitively and stored in their canonical spelling; the
  optimizer name is stored lower-case.

``validate`` turns bad values into one-line ``parser.error`` messages (exit status 2) that name the
flag, the value and what is allowed.
"""
import argparse
import json
import os
import re
import shlex
import sys
from pathlib import Path
from typing import Any, NoReturn

from pose3d.paths import DATA_DIR, EXP_DIR, REPO_ROOT, SRC_DIR

# Registry keys as the original factories spelled them (pose3d.datasets.DATASETS uses the same).
DATASETS: tuple[str, ...] = (
    "mpii", "lsp_extended", "flic_full", "coco", "fusion_3d", "H36M", "MPII3D", "3DPW",
    "OcclusionPerson",
)
DATASETS_2D: tuple[str, ...] = ("mpii", "lsp_extended", "flic_full")
DATASETS_3D: tuple[str, ...] = ("H36M", "MPII3D", "3DPW", "OcclusionPerson")
TASKS: tuple[str, ...] = ("human2d", "human3d")
OPTIMIZERS: tuple[str, ...] = ("adam", "Adam", "ADAM", "sgd", "SGD")
MSRA_DEPTHS: tuple[int, ...] = (18, 34, 50, 101, 152)
ARCH_HELP = "hg | hg_<stacks> | msra_<depth> with depth 18, 34, 50, 101 or 152"
# Both networks produce heatmaps at 1/4 of the input resolution.
NETWORK_STRIDE = 4
# Every dataset is mapped to the 16 MPII joints the network predicts (COCO included).
NUM_JOINTS = 16
NO_EFFECT = "accepted for compatibility; no effect, as in the original"
DEFAULT_NUM_STACKS = 2


class _Parser(argparse.ArgumentParser):
    """ArgumentParser whose errors are a single line on stderr (exit status 2), without usage."""

    def error(self, message: str) -> NoReturn:
        message = " ".join(str(message).split())
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows ``(default: X)`` unless the help already explains the default or it is empty/off."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if ("default" in text.lower() or default is None or default is False or default == ""
                or default == argparse.SUPPRESS):
            return text
        return super()._get_help_string(action)


def build_parser() -> argparse.ArgumentParser:
    """Build the parser with every flag, grouped for ``--help``.

    Returns:
        The parser. ``parse`` is the usual entry point; this is exposed for tests and ``--help``.
    """
    p = _Parser(
        description="pose3d: train, test and run 3D human pose estimation "
                    "(Zhou et al., ICCV 2017).",
        allow_abbrev=True,
        formatter_class=_HelpFormatter,
    )

    g = p.add_argument_group("experiment")
    g.add_argument("--exp_id", default="default",
                   help="experiment name; outputs go to exp/<exp_id>")
    g.add_argument("--test", action="store_true",
                   help="test: run one validation pass and exit")
    g.add_argument("--debug", type=int, default=0,
                   help=">=2: show inputs, heatmaps and 3D poses per iteration; >0 forces "
                        "--num_workers 1")
    g.add_argument("--demo", default="", help="path/to/image (an image, a folder or a video)")
    g.add_argument("--task", default="human2d",
                   help="human2d | human3d (human3d adds the depth head and the 3D losses)")
    g.add_argument("--load_model", default="", help="checkpoint to initialise the model from")
    g.add_argument("--resume", action="store_true",
                   help="continue training from exp/<exp_id>/model_last.pth (weights, optimizer, "
                        "scaler, lr schedule, epoch, random state)")
    g.add_argument("--metric", default="acc",
                   help="validation metric that selects model_best.pth")
    g.add_argument("--full_test", action="store_true",
                   help="evaluate every validation sample instead of every 10th")
    g.add_argument("--hide_data_time", action="store_true",
                   help="hide data/net timing in the progress bar")
    g.add_argument("--print_iter", type=int, default=-1,
                   help="for run in cloud server: >0 prints a status line every N iterations "
                        "instead of the progress bar")
    g.add_argument("--save_all_models", action="store_true",
                   help="save model_<epoch>.pth at validation epochs instead of overwriting "
                        "model_last.pth")

    g = p.add_argument_group("system")
    g.add_argument("--gpus", default="0",
                   help="-1 for CPU; a comma list such as 0,1 (several GPUs: run under torchrun)")
    g.add_argument("--num_workers", type=int, default=4,
                   help="training DataLoader workers per process (validation uses 1)")
    g.add_argument("--disable_cudnn", action="store_true",
                   help="disable cuDNN (the original's workaround for a PyTorch 0.4 BatchNorm bug)")
    g.add_argument("--random_seed", type=int, default=0,
                   help="seed for python, numpy and torch")

    g = p.add_argument_group("model")
    g.add_argument("--arch", default="msra_50", help=ARCH_HELP)

    g = p.add_argument_group("input and output resolution")
    g.add_argument("--input_h", type=int, default=-1,
                   help="input height; all four -1: 256x256 in, 64x64 out (coco 256x192, 64x48)")
    g.add_argument("--input_w", type=int, default=-1, help="input width")
    g.add_argument("--output_h", type=int, default=-1, help="heatmap height")
    g.add_argument("--output_w", type=int, default=-1, help="heatmap width")
    g.add_argument("--fit_short_side", action="store_true",
                   help="fit to long or short bbox side when the input resolution is rectangle")

    g = p.add_argument_group("training")
    g.add_argument("--optim_type", default="adam", help="adam | sgd (any case)")
    g.add_argument("--lr", type=float, default=0.001, help="initial learning rate")
    g.add_argument("--lr_step", type=str, default="90,120",
                   help="epochs after which the learning rate drops x0.1 (comma list)")
    g.add_argument("--num_epochs", type=int, default=140, help="last epoch (inclusive)")
    g.add_argument("--val_intervals", type=int, default=5, help="validate every N epochs")
    g.add_argument("--batch_size", type=int, default=32,
                   help="batch size per GPU/process; the global batch is batch_size x number of "
                        "processes; BatchNorm statistics are per process (as the original's "
                        "DataParallel per GPU)")
    g.add_argument("--weight_decay", type=float, default=0.0, help="weight decay")
    g.add_argument("--grad_clip", type=float, default=None,
                   help="clip the gradient norm to this value (typical 5.0); off when not given")

    g = p.add_argument_group("dataset and augmentation")
    g.add_argument("--dataset", default="mpii",
                   help=" | ".join(DATASETS))
    g.add_argument("--dataset2D", default="mpii",
                   help="2D part of fusion_3d: " + " | ".join(DATASETS_2D))
    g.add_argument("--dataset3D", default="H36M",
                   help="3D part of fusion_3d: " + " | ".join(DATASETS_3D))
    g.add_argument("--ratio_3d", type=float, default=1,
                   help="fusion_3d: at most ratio_3d x #2D samples of the 3D set per epoch; "
                        "<=0 uses all 3D samples")
    g.add_argument("--scale", type=float, default=-1,
                   help="scale augmentation factor; -1: 0.25 (coco 0.3)")
    g.add_argument("--rotate", type=float, default=-1,
                   help="rotation augmentation in degrees; -1: 30 (coco 40)")
    g.add_argument("--flip", type=float, default=0.5, help="horizontal flip probability")
    g.add_argument("--all_pts", action="store_true",
                   help=f"heatmap for all persons in stack 1; {NO_EFFECT}")
    g.add_argument("--multi_person", action="store_true",
                   help=f"heatmap for all persons in final stack; {NO_EFFECT}")

    g = p.add_argument_group("loss")
    g.add_argument("--weight_3d", type=float, default=0,
                   help="weight of the depth regression loss")
    g.add_argument("--weight_var", type=float, default=0,
                   help="weight of the geometric (bone-length ratio) loss")

    g = p.add_argument_group("pose3d additions")
    g.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda", "npu"),
                   help="auto: cuda when available, else cpu (--gpus -1 also means cpu)")
    g.add_argument("--amp", default="off", choices=("off", "bf16", "fp16"),
                   help="mixed precision through torch.amp (fp16 uses a gradient scaler)")
    g.add_argument("--apex", default=None, choices=("O0", "O1", "O2"),
                   help="NVIDIA/Ascend apex amp opt level (needs apex installed; else use --amp)")
    g.add_argument("--data_dir", default=str(DATA_DIR),
                   help="dataset root (e.g. data/synthetic for the synthetic tree)")
    g.add_argument("--exp_dir", default=str(EXP_DIR), help="experiment root")
    g.add_argument("--save_dir", default="",
                   help="output folder; empty: <exp_dir>/<exp_id> (demo: <exp_dir>/demo)")
    g.add_argument("--num_stacks", type=int, default=None,
                   help=f"hourglass stacks for --arch hg (default {DEFAULT_NUM_STACKS}; "
                        "--arch hg_N means N; msra always 1)")
    g.add_argument("--num_modules", type=int, default=2,
                   help="hourglass residual modules per level")
    g.add_argument("--num_features", type=int, default=256, help="hourglass feature channels")
    g.add_argument("--channels_last", action="store_true",
                   help="use the channels_last memory format")
    g.add_argument("--compile", action="store_true", help="compile the model with torch.compile")
    g.add_argument("--no_pretrained", action="store_true",
                   help="start a new PoseResNet from random initialisation; never load or "
                        "download the ImageNet weights")
    g.add_argument("--max_bad_steps", type=int, default=10,
                   help="stop after this many consecutive steps with a non-finite loss")
    g.add_argument("--backend", default="pytorch", choices=("pytorch", "onnxruntime"),
                   help="inference engine for --test and the demo")
    g.add_argument("--bbox", default="",
                   help="demo: person box x,y,w,h in image pixels; default: the whole image")
    g.add_argument("--show", action="store_true",
                   help="demo: open windows when a display exists")
    g.add_argument("--det_file", default="",
                   help="demo: person boxes per picture, COCO detection results (with "
                        "--det_images) or {\"<file name>\": [[x, y, w, h, score], ...]}; video "
                        "frames as \"<video>#<frame>\" (0-based)")
    g.add_argument("--det_images", default="",
                   help="demo: COCO annotation json whose 'images' list maps the --det_file "
                        "image ids to file names")
    g.add_argument("--det_thr", type=float, default=0.5,
                   help="demo: lowest detection score kept (--det_file and --detector hog)")
    g.add_argument("--detector", default="none", choices=("none", "hog"),
                   help="demo: none = --bbox or the whole picture; hog = OpenCV's HOG people "
                        "detector (upright, whole people)")
    g.add_argument("--focal", type=float, default=0.0,
                   help="demo: focal length in pixels for the camera-space 3D estimate; 0: "
                        "max(image width, height)")
    g.add_argument("--smooth", action="store_true",
                   help="demo: smooth each person's 2D and 3D track in a video (Savitzky-Golay, "
                        "5 frames)")
    return p


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse, derive and validate the options.

    Args:
        argv: arguments without the program name; ``None`` reads ``sys.argv[1:]``.

    Returns:
        The resolved options. Bad values exit with status 2 and one line on stderr.
    """
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    opt = parser.parse_args(argv)
    opt.argv = argv
    try:
        derive(opt)
    except ValueError as err:
        parser.error(str(err))
    validate(opt, parser)
    return opt


def _int_list(flag: str, text: str) -> list[int]:
    parts = [t.strip() for t in str(text).split(",") if t.strip()]
    try:
        return [int(t) for t in parts]
    except ValueError:
        raise ValueError(
            f"argument {flag}: invalid value {text!r} (expected integers separated by commas)"
        ) from None


def _canonical(value: str, allowed: tuple[str, ...]) -> str:
    """The allowed spelling matching ``value`` case-insensitively, or ``value`` unchanged."""
    for name in allowed:
        if name.lower() == str(value).lower():
            return name
    return value


def _resolve_checkpoint_path(path: str) -> str:
    """Keep ``path`` if it exists; else try it from ``src/`` (README commands run in src/)."""
    if not path or os.path.isabs(path) or os.path.exists(path):
        return path
    alt = SRC_DIR / path
    return str(alt.resolve()) if alt.exists() else path


def derive(opt: argparse.Namespace) -> argparse.Namespace:
    """Compute every derived setting once, in place.

    Call it once per namespace: the ``TEST``/``FULL_TEST`` suffix is appended on each call.

    Args:
        opt: the namespace returned by ``build_parser().parse_args``.

    Returns:
        The same namespace, completed.

    Raises:
        ValueError: a list flag (``--gpus``, ``--lr_step``, ``--bbox``) that does not parse; the
            message names the flag (``parse`` turns it into ``parser.error``).
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

    opt.dataset = _canonical(opt.dataset, DATASETS)
    opt.dataset2D = _canonical(opt.dataset2D, DATASETS_2D)
    opt.dataset3D = _canonical(opt.dataset3D, DATASETS_3D)
    if opt.optim_type in OPTIMIZERS:
        opt.optim_type = opt.optim_type.lower()

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

    arch = str(opt.arch)
    if arch.startswith("hg"):
        m = re.fullmatch(r"hg_(\d+)", arch)
        if m is not None:
            stacks = int(m.group(1))
            if opt.num_stacks is not None and opt.num_stacks != stacks:
                raise ValueError(
                    f"argument --num_stacks: {opt.num_stacks} contradicts --arch {arch} "
                    f"({stacks} stacks); give one of them"
                )
            opt.num_stacks = stacks
        elif opt.num_stacks is None:
            opt.num_stacks = DEFAULT_NUM_STACKS
    else:
        opt.num_stacks = 1

    is_coco = opt.dataset == "coco"
    default_in = (256, 192) if is_coco else (256, 256)
    if opt.input_h == -1 and opt.input_w == -1 and opt.output_h == -1 and opt.output_w == -1:
        opt.input_h, opt.input_w = default_in
        opt.output_h, opt.output_w = default_in[0] // 4, default_in[1] // 4
    else:
        if opt.input_h == -1:
            opt.input_h = default_in[0]
        if opt.input_w == -1:
            opt.input_w = default_in[1]
        if opt.output_h == -1:
            opt.output_h = opt.input_h // NETWORK_STRIDE
        if opt.output_w == -1:
            opt.output_w = opt.input_w // NETWORK_STRIDE

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
        if opt.bbox.strip():
            try:
                opt.bbox = [float(v) for v in opt.bbox.split(",")]
            except ValueError:
                raise ValueError(
                    f"argument --bbox: invalid value {opt.bbox!r} (expected x,y,w,h in pixels)"
                ) from None
        else:
            opt.bbox = None
    return opt


def _torchrun_command(argv: list[str], gpus: list[int]) -> str:
    """The command that runs the same job with one process per GPU."""
    kept: list[str] = []
    skip_next = False
    for tok in argv:
        if skip_next:
            skip_next = False
            continue
        name = tok.split("=", 1)[0]
        # Any unambiguous abbreviation of --gpus (argparse accepts --gp, --gpu).
        if len(name) >= 4 and "--gpus".startswith(name):
            skip_next = "=" not in tok
            continue
        kept.append(tok)
    script = sys.argv[0] if sys.argv and sys.argv[0].endswith(".py") else "src/main.py"
    cmd = f"torchrun --nproc_per_node {len(gpus)} {shlex.join([script, *kept])}"
    if gpus != list(range(len(gpus))):
        cmd = f"CUDA_VISIBLE_DEVICES={','.join(map(str, gpus))} {cmd}"
    return cmd


def validate(opt: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    """Reject bad values with one ``parser.error`` line naming the flag, the value and the fix.

    Args:
        opt: options after ``derive``.
        parser: the parser whose ``error`` ends the program (exit status 2).
    """

    def bad(flag: str, value: Any, allowed: str) -> NoReturn:
        parser.error(f"argument {flag}: invalid value {value!r} ({allowed})")

    def one_of(flag: str, value: str, allowed: tuple[str, ...]) -> None:
        if value not in allowed:
            bad(flag, value, "choose from " + ", ".join(allowed))

    one_of("--dataset", opt.dataset, DATASETS)
    one_of("--dataset2D", opt.dataset2D, DATASETS_2D)
    one_of("--dataset3D", opt.dataset3D, DATASETS_3D)
    one_of("--task", opt.task, TASKS)
    if opt.optim_type not in ("adam", "sgd"):
        bad("--optim_type", opt.optim_type, "choose from " + ", ".join(OPTIMIZERS))

    arch = str(opt.arch)
    m = re.fullmatch(r"msra_(\d+)", arch)
    is_msra = m is not None
    if is_msra and int(m.group(1)) not in MSRA_DEPTHS:
        bad("--arch", arch, ARCH_HELP)
    if not is_msra and re.fullmatch(r"hg(_\d+)?", arch) is None:
        bad("--arch", arch, ARCH_HELP)
    if opt.num_stacks < 1:
        bad("--num_stacks" if arch == "hg" else "--arch", opt.num_stacks, "at least 1 stack")

    for flag in ("lr", "batch_size", "num_epochs"):
        if getattr(opt, flag) <= 0:
            bad(f"--{flag}", getattr(opt, flag), "must be positive")
    for flag in ("num_modules", "num_features"):
        if getattr(opt, flag) < 1:
            bad(f"--{flag}", getattr(opt, flag), "must be at least 1")
    if is_msra:
        for flag, default in (("num_modules", 2), ("num_features", 256)):
            if getattr(opt, flag) != default:
                parser.error(f"argument --{flag}: {getattr(opt, flag)} has no effect on --arch "
                             f"{arch}; it sizes the stacked hourglass (--arch hg)")
    if opt.task == "human2d" and not opt.test:
        for flag in ("weight_3d", "weight_var"):
            if getattr(opt, flag) > 0:
                parser.error(f"argument --{flag}: {getattr(opt, flag):g} has no effect with "
                             "--task human2d (no depth head, no 3D loss); add --task human3d")
    for flag in ("num_workers", "weight_3d", "weight_var", "weight_decay", "scale", "rotate",
                 "max_bad_steps"):
        if getattr(opt, flag) < 0:
            bad(f"--{flag}", getattr(opt, flag), "must not be negative")
    if not 0.0 <= opt.flip <= 1.0:
        bad("--flip", opt.flip, "a probability between 0 and 1")
    if opt.grad_clip is not None and opt.grad_clip <= 0:
        bad("--grad_clip", opt.grad_clip, "must be positive; leave it out to disable clipping")

    for flag in ("input_h", "input_w", "output_h", "output_w"):
        if getattr(opt, flag) <= 0:
            bad(f"--{flag}", getattr(opt, flag), "must be positive, or -1 for the default")
    sizes = f"{opt.input_h}x{opt.input_w} -> {opt.output_h}x{opt.output_w}"
    if opt.input_h % opt.output_h or opt.input_w % opt.output_w:
        parser.error(f"arguments --input_h/--input_w/--output_h/--output_w: input size {sizes} "
                     "is not a multiple of the output size")
    stride_h, stride_w = opt.input_h // opt.output_h, opt.input_w // opt.output_w
    if stride_h != stride_w:
        parser.error(f"arguments --input_h/--input_w/--output_h/--output_w: unequal strides "
                     f"{stride_h} and {stride_w} for {sizes}; use the same ratio in both axes")
    if stride_h != NETWORK_STRIDE:
        parser.error(f"arguments --output_h/--output_w: --arch {arch} makes heatmaps at 1/"
                     f"{NETWORK_STRIDE} of the input, got {sizes} (stride {stride_h}); set the "
                     f"output to {opt.input_h // NETWORK_STRIDE}x{opt.input_w // NETWORK_STRIDE}")
    if is_msra and (opt.input_h % 32 or opt.input_w % 32):
        parser.error(f"arguments --input_h/--input_w: --arch {arch} needs an input size that is a "
                     f"multiple of 32, got {opt.input_h}x{opt.input_w}")

    if any(g < 0 for g in opt.gpus) and opt.device in ("cuda", "npu"):
        parser.error(f"argument --gpus: -1 (CPU) contradicts --device {opt.device}; "
                     "give a device index such as --gpus 0, or --device cpu")
    if len(opt.gpus) > 1 and opt.device != "cpu" and not os.environ.get("WORLD_SIZE"):
        cmd = _torchrun_command(getattr(opt, "argv", sys.argv[1:]), opt.gpus)
        parser.error(f"argument --gpus: {','.join(map(str, opt.gpus))} asks for "
                     f"{len(opt.gpus)} GPUs, which runs one process per GPU; start it with: {cmd}")

    if opt.apex is not None and opt.amp != "off":
        parser.error(f"arguments --amp/--apex: --amp {opt.amp} and --apex {opt.apex} both set "
                     "mixed precision; give only one")
    if opt.bbox is not None and (len(opt.bbox) != 4 or opt.bbox[2] <= 0 or opt.bbox[3] <= 0):
        bad("--bbox", ",".join(f"{v:g}" for v in opt.bbox),
            "expected x,y,w,h in pixels with w and h positive")


def _plain(value: Any) -> Any:
    """``value`` as JSON-compatible plain types (str, int, float, bool, None, list, dict)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy / torch scalars
        try:
            return _plain(value.item())
        except (TypeError, ValueError, RuntimeError):
            pass
    return str(value)


def opt_to_dict(opt: argparse.Namespace | dict) -> dict[str, Any]:
    """Options as a dict of plain types (JSON-ready, loadable by ``torch.load(weights_only=True)``).

    Args:
        opt: a namespace from ``parse`` or a dict.

    Returns:
        ``{name: value}`` sorted by name.
    """
    items = opt.items() if isinstance(opt, dict) else vars(opt).items()
    return {str(k): _plain(v) for k, v in sorted(items, key=lambda kv: str(kv[0]))}


def save_opts(opt: argparse.Namespace, save_dir: str | os.PathLike) -> Path:
    """Write ``opt.txt`` (the original format) and ``opt.json`` into ``save_dir``.

    ``opt.txt`` holds the torch, CUDA, cuDNN (and Ascend NPU) versions, ``sys.argv`` and every option
    as ``key: value``, sorted; ``opt.json`` holds the options only.

    Args:
        opt: resolved options.
        save_dir: folder, created if needed.

    Returns:
        The path of ``opt.txt``.
    """
    from pose3d.utils.device import backend_versions

    save_dir = Path(save_dir)
    save_dir.mkdir(parents=True, exist_ok=True)
    plain = opt_to_dict(opt)
    lines = [f"==> {name} version: {ver}" for name, ver in backend_versions().items()]
    lines += ["==> Cmd:", str(sys.argv), "==> Opt:"]
    lines += [f"  {k}: {v}" for k, v in plain.items()]
    txt = save_dir / "opt.txt"
    txt.write_text("\n".join(lines) + "\n")
    (save_dir / "opt.json").write_text(json.dumps(plain, indent=2, sort_keys=True) + "\n")
    return txt
