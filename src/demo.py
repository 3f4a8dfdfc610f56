"""Run a model on pictures: ``cd src && python demo.py --demo PATH`` (or ``python src/demo.py``).

PATH is an image, a folder of images or a video; see :mod:`pose3d.demo` for the flags and outputs.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # runs without installing pose3d

from pose3d.cli import run_entry  # noqa: E402


def main(argv: list[str]) -> None:
    from pose3d.demo import main as demo_main

    demo_main(argv)


if __name__ == "__main__":
    sys.exit(run_entry(main))
