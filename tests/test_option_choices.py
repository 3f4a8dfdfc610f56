"""The parser's allowed values come from the registries, and its types check single values."""
import pytest

from pose3d.datasets import DATASETS, FUSION_2D, FUSION_3D
from pose3d.models import ARCH_CHOICES, parse_arch
from pose3d.opts import build_parser, parse
from pose3d.train import TRAINERS
from pose3d.utils.errors import UserError


def _choices() -> dict[str, tuple]:
    return {a.dest: tuple(a.choices) for a in build_parser()._actions if a.choices}


def test_choices_are_the_registries():
    got = _choices()
    assert got["dataset"] == tuple(DATASETS)
    assert got["task"] == tuple(TRAINERS)
    assert got["dataset2D"] == FUSION_2D and got["dataset3D"] == FUSION_3D
    assert set(FUSION_3D) == {n for n, cls in DATASETS.items() if cls.is_3d} - {"fusion_3d"}
    assert not any(DATASETS[n].is_3d for n in FUSION_2D)


def test_help_lists_the_registered_names():
    text = " ".join(build_parser().format_help().split())
    assert " | ".join(DATASETS) in text
    assert "3D part of fusion_3d: " + " | ".join(FUSION_3D) in text


@pytest.mark.parametrize("arch", [*ARCH_CHOICES, "hg_1", "hg_3", "msra_050", "hg_01", "hg_0",
                                  "msra_19", "msra", "vgg", "HG"])
def test_arch_is_accepted_exactly_when_the_models_accept_it(arch, capsys):
    try:
        parse_arch(arch)
        known = True
    except UserError:
        known = False
    if known:
        assert parse(["--arch", arch]).arch == arch
        return
    with pytest.raises(SystemExit) as exc:
        parse(["--arch", arch])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and err.count("\n") == 1
    assert f"argument --arch: invalid value {arch!r}" in err and "msra_<depth>" in err


@pytest.mark.parametrize("argv,text", [
    (["--lr", "fast"], "argument --lr: invalid float value: 'fast'"),
    (["--lr", "0"], "argument --lr: invalid value 0.0 (must be positive)"),
    (["--batch_size", "1.5"], "argument --batch_size: invalid int value: '1.5'"),
    (["--num_features", "0"], "argument --num_features: invalid value 0 (must be at least 1)"),
    (["--scale", "-2"], "argument --scale: invalid value -2.0 (must not be negative)"),
    (["--flip", "-0.1"], "argument --flip: invalid value -0.1 (a probability between 0 and 1)"),
    (["--optim_type", "aDaM"], "argument --optim_type: invalid choice: 'aDaM'"),
    (["--dataset", "h36"], "argument --dataset: invalid choice: 'h36'"),
])
def test_type_messages(argv, text, capsys):
    with pytest.raises(SystemExit) as exc:
        parse(argv)
    err = capsys.readouterr().err
    assert exc.value.code == 2 and err.count("\n") == 1 and text in err, err


def test_minus_one_keeps_meaning_the_default():
    o = parse(["--scale", "-1", "--rotate", "-1", "--dataset", "COCO"])
    assert (o.dataset, o.scale, o.rotate) == ("coco", 0.3, 40)
    assert parse(["--optim_type", "ADAM"]).optim_type == "adam"


def test_registries_resolve_to_their_classes():
    from pose3d.models import FAMILIES, MSRA_DEPTHS
    from pose3d.models.pose_resnet import RESNET_SPECS

    assert all(isinstance(DATASETS[name], type) for name in DATASETS)
    assert all(isinstance(TRAINERS[name], type) for name in TRAINERS)
    assert tuple(sorted(RESNET_SPECS)) == MSRA_DEPTHS
    assert set(FAMILIES) == {parse_arch(arch)[0] for arch in ARCH_CHOICES}


def test_flag_errors_and_help_come_before_torch_is_imported():
    import subprocess
    import sys

    code = ("import sys, pose3d.opts as o\n"
            "try:\n    o.parse(['--lr', '0'])\nexcept SystemExit as e:\n    code = e.code\n"
            "print(code, 'torch' in sys.modules, 'cv2' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["2", "False", "False"], out.stdout + out.stderr
