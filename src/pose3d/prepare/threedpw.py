"""Placeholder: the threedpw converter is written next (same interface as its siblings)."""
from pose3d.utils.errors import UserError


def add_arguments(parser) -> None:
    """The dataset's own flags."""


def prepare(args):
    raise UserError("prepare_data.py threedpw: this converter is not available in this version")
