"""Allowed values of the flags, and the argparse ``type`` callables that check them while parsing.

Dataset, task and network names come from their registries (``pose3d.datasets``,
``pose3d.train``, ``pose3d.models``), so a newly registered one is accepted and listed in
``--help`` without touching the options.
"""
import argparse
from collections.abc import Callable, Iterable

from pose3d.datasets import DATASETS as DATASET_REGISTRY
from pose3d.datasets import FUSION_2D, FUSION_3D
from pose3d.models import MSRA_DEPTHS, parse_arch
from pose3d.train import TRAINERS
from pose3d.utils.errors import UserError

DATASETS: tuple[str, ...] = tuple(DATASET_REGISTRY)
DATASETS_2D: tuple[str, ...] = FUSION_2D
DATASETS_3D: tuple[str, ...] = FUSION_3D
TASKS: tuple[str, ...] = tuple(TRAINERS)
# --optim_type takes these spellings and stores them lower-case.
OPTIMIZER_SPELLINGS: tuple[str, ...] = ("adam", "Adam", "ADAM", "sgd", "SGD")
OPTIMIZERS: tuple[str, ...] = ("adam", "sgd")
ARCH_HELP = (f"hg | hg_<stacks> | msra_<depth> with depth {', '.join(map(str, MSRA_DEPTHS[:-1]))} "
             f"or {MSRA_DEPTHS[-1]}")


class AnyCase:
    """``type`` that turns a name given in any case into its registered spelling.

    Other values pass unchanged, so that ``choices`` refuses them and lists the allowed names.

    Args:
        names: the registered spellings.
    """

    def __init__(self, names: Iterable[str]):
        self._names = {name.lower(): name for name in names}

    def __call__(self, value: str) -> str:
        return self._names.get(value.lower(), value)


def optimizer_name(value: str) -> str:
    """``type`` of ``--optim_type``: a listed spelling lower-case; others left for ``choices``."""
    return value.lower() if value in OPTIMIZER_SPELLINGS else value


def arch_name(value: str) -> str:
    """``type`` of ``--arch``: the value unchanged if ``pose3d.models.parse_arch`` knows it."""
    try:
        parse_arch(value)
    except UserError:
        raise argparse.ArgumentTypeError(f"invalid value {value!r} ({ARCH_HELP})") from None
    return value


class Number:
    """``type`` for a number with a rule: ``kind(text)``, refused when ``bad(value)``.

    A value that is not a number gets argparse's own message (``invalid float value: 'x'``);
    one that breaks the rule gets ``invalid value <value> (<rule>)``.

    Args:
        kind: ``int`` or ``float``.
        bad: True for the values to refuse.
        rule: what is allowed, shown in the message.
    """

    def __init__(self, kind: type, bad: Callable[[float], bool], rule: str):
        self.kind, self.bad, self.rule = kind, bad, rule

    def __call__(self, text: str) -> int | float:
        value = self.kind(text)
        if self.bad(value):
            raise argparse.ArgumentTypeError(f"invalid value {value!r} ({self.rule})")
        return value

    def __repr__(self) -> str:
        # argparse names the type by this when the text is not a number at all.
        return self.kind.__name__


POSITIVE = "must be positive"
NOT_NEGATIVE = "must not be negative"
POSITIVE_FLOAT = Number(float, lambda v: v <= 0, POSITIVE)
POSITIVE_INT = Number(int, lambda v: v <= 0, POSITIVE)
AT_LEAST_ONE = Number(int, lambda v: v < 1, "must be at least 1")
NON_NEGATIVE_FLOAT = Number(float, lambda v: v < 0, NOT_NEGATIVE)
NON_NEGATIVE_INT = Number(int, lambda v: v < 0, NOT_NEGATIVE)
# -1 asks for the dataset's default (set by derive).
AUGMENTATION = Number(float, lambda v: v < 0 and v != -1, NOT_NEGATIVE)
PROBABILITY = Number(float, lambda v: not 0.0 <= v <= 1.0, "a probability between 0 and 1")
GRAD_CLIP = Number(float, lambda v: v <= 0,
                   "must be positive; leave it out to disable clipping")
