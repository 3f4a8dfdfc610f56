"""Placeholder: the h36m converter is written next (same interface as its siblings)."""
from pose3d.utils.errors import UserError


def add_arguments(parser) -> None:
    """The dataset's own flags."""


def prepare(args):
    raise UserError("prepare_data.py h36m: this converter is not available in this version")
