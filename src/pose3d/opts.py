"""The one command-line parser of pose3d: every flag, the settings derived from them, the checks.

Flow (``parse``): ``build_parser().parse_args`` (names and single values checked by ``choices``
and ``type``) -> ``derive(opt)`` -> ``validate(opt, parser)``. After that ``opt`` is treated as
read-only; builders receive explicit keyword arguments. The pieces live in ``pose3d.options``:
``parser`` (flags), ``choices`` (allowed values, from the registries), ``derived``, ``checks``
and ``plain`` (``opt_to_dict``). Dataset names are matched case-insensitively and stored in their
registered spelling; the optimizer name is stored lower-case.

Bad values end the program with one line on stderr (exit status 2) that names the flag, the
value and what is allowed.
"""
import argparse
import sys

from pose3d.options.checks import validate
from pose3d.options.choices import DATASETS, DATASETS_2D, DATASETS_3D, TASKS
from pose3d.options.derived import derive
from pose3d.options.parser import build_parser
from pose3d.options.plain import opt_to_dict

__all__ = ["DATASETS", "DATASETS_2D", "DATASETS_3D", "TASKS", "build_parser", "derive",
           "opt_to_dict", "parse", "validate"]


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
