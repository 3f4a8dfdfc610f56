"""The command-line parser: every flag with its type, default and help, grouped for ``--help``.

Every flag of the fork (ECE740F21T01/pytorch-pose-hg-3d, ``src/lib/opts.py``) is kept with its name,
type and default, and argparse prefix abbreviations keep working (the fork's README writes
``--num_epoch 60`` for ``--num_epochs``). New flags live in the "pose3d additions" help group.
Names and single values are checked here (``choices``, ``type``); checks that need other flags or
derived settings are in :mod:`pose3d.options.checks`.
"""
import argparse
from typing import NoReturn

from pose3d.options.choices import (ARCH_HELP, AT_LEAST_ONE, AUGMENTATION, DATASETS, DATASETS_2D,
                                    DATASETS_3D, GRAD_CLIP, NON_NEGATIVE_FLOAT, NON_NEGATIVE_INT,
                                    OPTIMIZERS, POSITIVE_FLOAT, POSITIVE_INT, PROBABILITY, TASKS,
                                    AnyCase, arch_name, optimizer_name)
from pose3d.options.derived import DEFAULT_NUM_STACKS
from pose3d.paths import DATA_DIR, EXP_DIR

NO_EFFECT = "accepted for compatibility; no effect, as in the original"


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
    g.add_argument("--task", default="human2d", choices=TASKS,
                   help=" | ".join(TASKS) + " (human3d adds the depth head and the 3D losses)")
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
    g.add_argument("--arch", default="msra_50", type=arch_name, help=ARCH_HELP)

    g = p.add_argument_group("input and output resolution")
    g.add_argument("--input_h", type=int, default=-1,
                   help="input height; all four -1: 256x256 in, 64x64 out (coco 256x192, 64x48)")
    g.add_argument("--input_w", type=int, default=-1, help="input width")
    g.add_argument("--output_h", type=int, default=-1, help="heatmap height")
    g.add_argument("--output_w", type=int, default=-1, help="heatmap width")
    g.add_argument("--fit_short_side", action="store_true",
                   help="fit to long or short bbox side when the input resolution is rectangle")

    g = p.add_argument_group("training")
    g.add_argument("--optim_type", default="adam", type=optimizer_name, choices=OPTIMIZERS,
                   help="adam | sgd (any case)")
    g.add_argument("--lr", type=POSITIVE_FLOAT, default=0.001, help="initial learning rate")
    g.add_argument("--lr_step", type=str, default="90,120",
                   help="epochs after which the learning rate drops x0.1 (comma list)")
    g.add_argument("--num_epochs", type=POSITIVE_INT, default=140, help="last epoch (inclusive)")
    g.add_argument("--val_intervals", type=int, default=5, help="validate every N epochs")
    g.add_argument("--batch_size", type=POSITIVE_INT, default=32,
                   help="batch size per GPU/process; the global batch is batch_size x number of "
                        "processes; BatchNorm statistics are per process (as the original's "
                        "DataParallel per GPU)")
    g.add_argument("--weight_decay", type=NON_NEGATIVE_FLOAT, default=0.0, help="weight decay")
    g.add_argument("--grad_clip", type=GRAD_CLIP, default=None,
                   help="clip the gradient norm to this value (typical 5.0); off when not given")

    g = p.add_argument_group("dataset and augmentation")
    g.add_argument("--dataset", default="mpii", type=AnyCase(DATASETS), choices=DATASETS,
                   help=" | ".join(DATASETS))
    g.add_argument("--dataset2D", default="mpii", type=AnyCase(DATASETS_2D),
                   choices=DATASETS_2D, help="2D part of fusion_3d: " + " | ".join(DATASETS_2D))
    g.add_argument("--dataset3D", default="H36M", type=AnyCase(DATASETS_3D),
                   choices=DATASETS_3D, help="3D part of fusion_3d: " + " | ".join(DATASETS_3D))
    g.add_argument("--ratio_3d", type=float, default=1,
                   help="fusion_3d: at most ratio_3d x #2D samples of the 3D set per epoch; "
                        "<=0 uses all 3D samples")
    g.add_argument("--scale", type=AUGMENTATION, default=-1,
                   help="scale augmentation factor; -1: 0.25 (coco 0.3)")
    g.add_argument("--rotate", type=AUGMENTATION, default=-1,
                   help="rotation augmentation in degrees; -1: 30 (coco 40)")
    g.add_argument("--flip", type=PROBABILITY, default=0.5, help="horizontal flip probability")
    g.add_argument("--all_pts", action="store_true",
                   help=f"heatmap for all persons in stack 1; {NO_EFFECT}")
    g.add_argument("--multi_person", action="store_true",
                   help=f"heatmap for all persons in final stack; {NO_EFFECT}")

    g = p.add_argument_group("loss")
    g.add_argument("--weight_3d", type=NON_NEGATIVE_FLOAT, default=0,
                   help="weight of the depth regression loss")
    g.add_argument("--weight_var", type=NON_NEGATIVE_FLOAT, default=0,
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
    g.add_argument("--num_modules", type=AT_LEAST_ONE, default=2,
                   help="hourglass residual modules per level")
    g.add_argument("--num_features", type=AT_LEAST_ONE, default=256,
                   help="hourglass feature channels")
    g.add_argument("--channels_last", action="store_true",
                   help="use the channels_last memory format")
    g.add_argument("--compile", action="store_true", help="compile the model with torch.compile")
    g.add_argument("--no_pretrained", action="store_true",
                   help="start a new PoseResNet from random initialisation; never load or "
                        "download the ImageNet weights")
    g.add_argument("--max_bad_steps", type=NON_NEGATIVE_INT, default=10,
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
