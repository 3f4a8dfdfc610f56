"""Write the synthetic dataset trees (and the preview sheet) without downloading anything.

Usage:
    python scripts/make_synthetic_data.py --out data/synthetic [--datasets all|NAME ...]
        [--num N] [--seed S] [--workers W] [--preview_out PATH]

``--datasets all`` (the default) runs every registered writer, ``preview`` included, except the
miniatures of the official raw releases (``h36m_raw mpi_inf_3dhp_raw 3dpw_raw``, the input of
``scripts/prepare_data.py``), which are written only when named. Each
writer lays out its dataset's real folder tree under ``--out`` (``mpii/``, ``lsp/`` ...).
The ``preview`` sheet is written to ``<repo>/images/synthetic_preview.jpg`` regardless of
``--out``; ``--preview_out PATH`` puts it elsewhere. The same seed gives the same bytes for
any ``--workers``.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from pose3d.cli import run_entry  # noqa: E402
from pose3d.synthetic import RAW_WRITERS, WRITERS  # noqa: E402
from pose3d.utils.errors import UserError  # noqa: E402

KNOWN = ("mpii", "lsp", "lspet", "flic_full", "coco", "h36m", "occlusion_person", "mpii3d", "3dpw",
         "preview") + RAW_WRITERS


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=Path("data/synthetic"),
                    help="data root to write under")
    ap.add_argument("--datasets", nargs="+", default=["all"],
                    help=f"'all' or any of: {' '.join(KNOWN)}")
    ap.add_argument("--num", type=int, default=200, help="images per split")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--preview_out", type=Path, default=None,
                    help="preview sheet path (default <repo>/images/synthetic_preview.jpg)")
    return ap.parse_args(argv)


def select(names: list[str]) -> list[str]:
    """Expand 'all' and check every name against the registered writers."""
    if "all" in names:
        return [n for n in WRITERS if n not in RAW_WRITERS]
    chosen = []
    for n in names:
        if n not in WRITERS:
            have = " ".join(WRITERS) or "none"
            why = "is not written yet" if n in KNOWN else "is not a dataset name"
            raise UserError(f"--datasets {n}: {why}; available writers: {have}")
        if n not in chosen:
            chosen.append(n)
    return chosen


def write(argv: list[str]) -> None:
    """Parse ``argv`` and run the chosen writers."""
    args = parse(argv)
    if args.num < 1:
        raise UserError(f"--num {args.num}: must be at least 1")
    if args.workers < 1:
        raise UserError(f"--workers {args.workers}: must be at least 1")
    for name in select(args.datasets):
        t0 = time.time()
        if name == "preview":
            WRITERS[name](args.out, args.num, args.seed, args.workers, path=args.preview_out)
        else:
            WRITERS[name](args.out, args.num, args.seed, args.workers)
        print(f"{name}: done in {time.time() - t0:.1f}s")


def main(argv: list[str] | None = None) -> int:
    """Exit status: 0, or 1 after a one-line error."""
    return run_entry(write, argv)


if __name__ == "__main__":
    sys.exit(main())
