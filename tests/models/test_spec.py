"""Model specs: the one checkpoint reader, the family table and the demo's rules on top."""
import logging

import pytest
import torch

import pose3d.models as models
import pose3d.models.factory  # noqa: F401  (the table create_model reads)
from pose3d.models import (FAMILIES, ModelSpec, build_from_spec, create_model,
                           heads_from_state_dict, spec_from_checkpoint)
from pose3d.opts import parse
from pose3d.predictor import demo_spec
from pose3d.utils.errors import UserError

HEADS_3D = {"hm": 16, "depth": 16}
HG = dict(num_stacks=1, num_modules=1, num_features=16, input_hw=(64, 64))


def _hg_state(depth: bool = True) -> dict[str, torch.Tensor]:
    return create_model("hg", HEADS_3D if depth else {"hm": 16}, **HG).state_dict()


def test_heads_read_off_both_layouts():
    assert heads_from_state_dict(_hg_state()) == HEADS_3D
    assert heads_from_state_dict(_hg_state(depth=False)) == {"hm": 16}
    assert heads_from_state_dict({"hm.weight": torch.zeros(14, 8, 1, 1)}) == {"hm": 14}
    assert heads_from_state_dict({"conv1.weight": torch.zeros(1)}) is None


def test_checkpoint_opt_wins_over_defaults_and_values_are_plain():
    ckpt = {"state_dict": _hg_state(), "opt": {"arch": "hg", "heads": {"hm": 16.0},
                                              "input_h": "128", "input_w": 64, "num_stacks": 3,
                                              "num_modules": 1, "num_features": 32}}
    spec = spec_from_checkpoint(ckpt, defaults=ModelSpec(arch="msra_18", heads={"hm": 8}))
    assert spec == ModelSpec("hg", {"hm": 16}, (128, 64), 3, 1, 32)
    assert type(spec.heads["hm"]) is int and type(spec.input_hw[0]) is int


def test_given_defaults_replace_the_weights_as_heads_source():
    bare = {"state_dict": _hg_state()}
    flags = ModelSpec(arch="hg", heads={"hm": 16}, input_hw=(64, 64), num_stacks=1,
                      num_modules=1, num_features=16)
    assert spec_from_checkpoint(bare, defaults=flags) == flags
    assert spec_from_checkpoint(bare).heads == HEADS_3D  # no defaults: read off the weights
    assert spec_from_checkpoint({"state_dict": {}}) == ModelSpec()


def test_request_differing_from_checkpoint_is_logged_and_ignored(caplog):
    ckpt = {"state_dict": {}, "arch": "msra_50", "heads": {"hm": 16}}
    with caplog.at_level(logging.WARNING, logger="pose3d.models.spec"):
        spec = spec_from_checkpoint(ckpt, arch="msra_18", heads=HEADS_3D)
    assert spec.arch == "msra_50" and spec.heads == {"hm": 16}
    assert "--arch msra_18 ignored" in caplog.text and "using the checkpoint's" in caplog.text


def test_build_from_spec_is_create_model():
    spec = ModelSpec("hg_2", HEADS_3D, (64, 64), num_stacks=1, num_modules=1, num_features=16)
    torch.manual_seed(0)
    built = build_from_spec(spec).state_dict()
    torch.manual_seed(0)
    direct = create_model("hg_2", HEADS_3D, num_stacks=1, num_modules=1, num_features=16,
                          input_hw=(64, 64)).state_dict()
    assert list(built) == list(direct)
    assert all(torch.equal(built[k], direct[k]) for k in built)


class _Recorder:
    """A builder that records its keyword arguments."""

    def __init__(self) -> None:
        self.calls: list[dict] = []

    def __call__(self, **kwargs) -> torch.nn.Module:
        self.calls.append(kwargs)
        return torch.nn.Identity()


def test_create_model_goes_through_the_family_table(monkeypatch):
    record = _Recorder()
    table = dict(FAMILIES)
    table["msra"] = models.Family(record, FAMILIES["msra"].arguments, 32, imagenet=True)
    monkeypatch.setattr(models.factory, "FAMILIES", table)
    assert isinstance(create_model("msra_34", HEADS_3D, input_hw=(64, 96)), torch.nn.Identity)
    assert record.calls == [{"num_layers": 34, "heads": HEADS_3D, "pretrained": False}]
    with pytest.raises(UserError, match="multiple of 32"):
        create_model("msra_34", HEADS_3D, input_hw=(64, 100))


def _opts(*argv: str):
    opt = parse(["--device", "cpu", *argv])
    opt.argv = list(argv)
    return opt


def test_demo_spec_forces_a_depth_head_and_takes_flags_for_the_rest():
    opt = _opts("--arch", "hg", "--input_h", "128", "--input_w", "192", "--num_modules", "3")
    spec = demo_spec({"state_dict": {}}, opt)
    assert spec == ModelSpec("hg", HEADS_3D, (128, 192), opt.num_stacks, 3, 256)
    two_d = demo_spec({"state_dict": {}, "heads": {"hm": 16}, "arch": "msra_50"}, _opts())
    assert two_d.heads == HEADS_3D and two_d.arch == "msra_50"


def test_demo_spec_warns_only_for_a_typed_arch(caplog):
    ckpt = {"state_dict": {}, "arch": "msra_50"}
    with caplog.at_level(logging.WARNING):
        demo_spec(ckpt, _opts())
        assert "ignored" not in caplog.text
        assert demo_spec(ckpt, _opts("--arch", "msra_18")).arch == "msra_50"
    assert "--arch msra_18 ignored" in caplog.text


def test_demo_spec_refuses_other_joint_sets():
    with pytest.raises(UserError, match="predicts 17 joints") as err:
        demo_spec({"state_dict": {}, "heads": {"hm": 17, "depth": 17}}, _opts())
    assert "\n" not in str(err.value)
