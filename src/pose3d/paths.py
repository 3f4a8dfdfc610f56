"""Repository folders, resolved from the package location (never from the current directory).

The layout is the original one: ``data/`` (datasets or the synthetic tree), ``exp/`` (experiments,
``exp/<exp_id>/``) and ``models/`` (published or downloaded checkpoints) sit at the repository root,
next to ``src/``. So ``cd src && python main.py`` and ``python src/main.py`` find the same folders.
``--data_dir`` and ``--exp_dir`` override the first two.
"""
from pathlib import Path

REPO_ROOT: Path = Path(__file__).resolve().parents[2]
SRC_DIR: Path = REPO_ROOT / "src"
DATA_DIR: Path = REPO_ROOT / "data"
EXP_DIR: Path = REPO_ROOT / "exp"
MODELS_DIR: Path = REPO_ROOT / "models"
