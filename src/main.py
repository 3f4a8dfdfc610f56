"""Train or test a model: ``cd src && python main.py --exp_id mpii ...`` (or ``python src/main.py``)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # runs without installing pose3d

from pose3d.cli import run_entry  # noqa: E402


def main(argv: list[str], on_step=None) -> None:
    """Parse ``argv`` and run; ``on_step(global_step)`` is called after every training step."""
    from pose3d.opts import parse

    opt = parse(argv)  # flag errors end here, before the heavy imports
    from pose3d.train.runner import run

    run(opt, on_step=on_step)


if __name__ == "__main__":
    sys.exit(run_entry(main))
