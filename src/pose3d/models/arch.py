"""The ``--arch`` names: families, their numbers and input-size rules.

No torch here: the command-line parser checks ``--arch`` before anything heavy is imported.
"""
import re

from ..utils.errors import UserError

# ResNet depths of PoseResNet (``msra_<depth>``); pose_resnet.RESNET_SPECS has one entry each.
MSRA_DEPTHS: tuple[int, ...] = (18, 34, 50, 101, 152)
# Hourglass down-sampling where its depth regressor reads the features.
HG_REG_STRIDE = 64
# Input sizes must be multiples of these: output stride 4 x the deepest down-sampling.
INPUT_MULTIPLE = {"msra": 32, "hg": HG_REG_STRIDE}
ARCH_CHOICES = tuple(f"msra_{n}" for n in MSRA_DEPTHS) + ("hg",)


def parse_arch(arch: str) -> tuple[str, int | None]:
    """Split an ``--arch`` value into (family, number).

    ``"msra_50"`` -> ``("msra", 50)`` (ResNet depth); ``"hg"`` -> ``("hg", None)``;
    ``"hg_4"`` -> ``("hg", 4)`` (number of stacks).

    Raises:
        UserError: for any other value, naming ``--arch`` and the allowed values.
    """
    match = re.fullmatch(r"(msra|hg)(?:_([1-9]\d*))?", arch)
    if match:
        family, number = match.group(1), match.group(2)
        if family == "msra" and number is not None and int(number) in MSRA_DEPTHS:
            return family, int(number)
        if family == "hg" and (number is None or int(number) >= 1):
            return family, None if number is None else int(number)
    raise UserError(f"--arch {arch!r} is not a known network; use one of "
                    f"{', '.join(ARCH_CHOICES)} (hg_<num_stacks> also works)")
