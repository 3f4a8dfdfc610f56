"""Speed and memory of pose3d's training step, demo inference, data pipeline and bone loss.

See ``pose3d.bench.cli`` (or ``--help``) for the sections, variants and options.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from pose3d.bench.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
