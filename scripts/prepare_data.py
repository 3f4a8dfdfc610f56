"""Prepare an official dataset release into the layout pose3d's loaders read.

Usage:
    python scripts/prepare_data.py h36m --src RAW_DIR [--data_dir data] [--workers N]
        [--stride_train 5] [--stride_val 64] [--subjects S1 S9 ...]
    python scripts/prepare_data.py mpi_inf_3dhp --src RAW_DIR [--data_dir data]
    python scripts/prepare_data.py 3dpw --src RAW_DIR [--data_dir data]
        [--smpl_model F --j_regressor F]

``RAW_DIR`` is the folder the official archives extract to (for Human3.6M the one holding
``S1/``, ``S5/``, ...). Each image is saved as a crop around the person that covers every
training augmentation the loader can draw (``--scale``/``--rotate`` ranges, at least twice
``--input_res``), with the box and joints stored in the crop's coordinates and the crop's offset
in the frame kept beside them; ``--full_frames`` keeps whole frames. Sequences are prepared in
``--workers`` processes; a re-run reuses every sequence that is complete and was made with the
same options, and redoes the others. Bad input stops with one line naming the file, what was
found and what to do (exit status 1); files written before stay valid.
``python scripts/prepare_data.py DATASET --help`` lists the dataset's own options.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from pose3d.cli import run_entry  # noqa: E402
from pose3d.paths import DATA_DIR  # noqa: E402
from pose3d.prepare import PREPARERS, preparer  # noqa: E402
from pose3d.prepare.common import CropPolicy, disk_usage  # noqa: E402
from pose3d.utils.errors import UserError  # noqa: E402


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    sub = ap.add_subparsers(dest="dataset", required=True, metavar="{" + ",".join(PREPARERS) + "}")
    for name in PREPARERS:
        p = sub.add_parser(name, formatter_class=argparse.ArgumentDefaultsHelpFormatter,
                           help=f"prepare the official {name} release")
        p.add_argument("--src", type=Path, required=True,
                       help="folder of the extracted official release")
        p.add_argument("--data_dir", type=Path, default=None,
                       help="data root to write under (the repository's data/ when not given)")
        p.add_argument("--workers", type=int, default=2, help="sequences prepared in parallel")
        p.add_argument("--full_frames", action="store_true",
                       help="save whole frames instead of person crops")
        p.add_argument("--scale", type=float, default=0.25,
                       help="largest scale augmentation the crops must cover (main.py --scale)")
        p.add_argument("--rotate", type=float, default=30.0,
                       help="rotation augmentation the crops must cover (main.py --rotate; "
                            "h36m ignores it, as its loader never rotates)")
        p.add_argument("--input_res", type=int, default=256,
                       help="network input side (main.py --input_h/--input_w); crops are at least "
                            "twice it")
        preparer(name).add_arguments(p)
    return ap


def crop_policy(args: argparse.Namespace) -> CropPolicy:
    """The crop margin the flags ask for."""
    return CropPolicy(scale_factor=args.scale, rotate_factor=args.rotate,
                      min_side=2 * args.input_res, full_frames=args.full_frames)


def prepare(argv: list[str]) -> None:
    """Parse ``argv``, run the dataset's converter and print its summary."""
    args = build_parser().parse_args(argv)
    if args.data_dir is None:
        args.data_dir = DATA_DIR
    if args.workers < 1:
        raise UserError(f"--workers {args.workers}: must be at least 1")
    args.crop = crop_policy(args)
    t0 = time.time()
    summary = preparer(args.dataset).prepare(args)
    summary.seconds = time.time() - t0
    if not summary.disk_bytes:
        summary.disk_bytes = disk_usage(*summary.outputs)
    print(summary.format())


def main(argv: list[str] | None = None) -> int:
    """Exit status: 0, or 1 after a one-line error."""
    return run_entry(prepare, argv)


if __name__ == "__main__":
    sys.exit(main())
