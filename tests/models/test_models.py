"""Networks: published state-dict layout, parameter counts, output contract, speed, AMP,
channels_last, torch.compile and the ImageNet fallback. CPU only, no network access."""

import logging
import time
from pathlib import Path

import pytest
import torch
from torchvision.models import resnet as tv_resnet

from pose3d.models import (ARCH_CHOICES, MODELS, count_parameters, create_model, hourglass,
                           parse_arch, pose_resnet)
from pose3d.utils.errors import UserError

HEADS_3D = {"hm": 16, "depth": 16}
HEADS_2D = {"hm": 16}
FIXTURE = Path(__file__).with_name("msra50_keys.txt")

# Parameter counts with heads {'hm': 16, 'depth': 16}. 50 (34,003,552) and hg (14,429,104) are
# the original models' figures; 18/34/101/152 were measured with this implementation.
PARAMS_3D = {
    "msra_18": 15_380_576,
    "msra_34": 25_488_736,
    "msra_50": 34_003_552,
    "msra_101": 52_995_680,
    "msra_152": 68_639_328,
    "hg": 14_429_104,
}


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _load_fixture() -> list[tuple[str, tuple[int, ...]]]:
    rows = []
    for line in FIXTURE.read_text().splitlines():
        if not line or line.startswith("#"):
            continue
        key, *shape = line.split()
        rows.append((key, tuple(int(d) for d in shape[0].split(",")) if shape else ()))
    return rows


def _published_state_dict() -> dict[str, torch.Tensor]:
    """Random tensors laid out like ``fusion_3d_var.pth['state_dict']`` (torch 0.4.1 names)."""
    state = {}
    for key, shape in _load_fixture():
        if key.endswith("num_batches_tracked"):
            state[key] = torch.tensor(1000, dtype=torch.long)
        elif key.endswith("running_var"):
            state[key] = torch.rand(shape) + 0.5
        else:
            state[key] = torch.randn(shape)
    return state


def _tiny(arch: str, heads: dict[str, int] = HEADS_3D, hw: tuple[int, int] = (64, 64)):
    """The smallest network of a family: msra_18, or a 1-stack 64-feature hourglass."""
    if arch.startswith("hg"):
        return create_model(arch, heads, num_stacks=1, num_modules=1, num_features=64,
                            input_hw=hw)
    return create_model(arch, heads, input_hw=hw)


# Published layout ---------------------------------------------------------------------------------

def test_msra50_state_dict_matches_published_layout():
    model = create_model("msra_50", HEADS_3D)
    got = [(k, tuple(v.shape)) for k, v in model.state_dict().items()]
    assert got == _load_fixture()
    assert len(got) == 340
    assert sum(not k.endswith("num_batches_tracked") for k, _ in got) == 284


def test_msra50_loads_published_state_dict_strictly():
    model = create_model("msra_50", HEADS_3D)
    state = _published_state_dict()
    # As saved through DataParallel, and with the BN counters dropped.
    wrapped = {f"module.{k}": v for k, v in state.items()
               if not k.endswith("num_batches_tracked")}
    model.load_state_dict(pose_resnet.convert_legacy_state_dict(wrapped), strict=True)
    assert torch.equal(model.hm.weight, state["hm.weight"])
    result = model.load_state_dict(state, strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    assert torch.equal(model.deconv_layers[7].running_var, state["deconv_layers.7.running_var"])


def test_human2d_checkpoint_fits_human3d_model_except_depth_head():
    state_2d = {k: v for k, v in _published_state_dict().items() if not k.startswith("depth.")}
    result = create_model("msra_50", HEADS_3D).load_state_dict(state_2d, strict=False)
    assert sorted(result.missing_keys) == ["depth.bias", "depth.weight"]
    assert not result.unexpected_keys


def test_hg_state_dict_layout():
    with torch.device("meta"):
        model = create_model("hg", HEADS_3D)
    keys = list(model.state_dict())
    assert len(keys) == 1446
    assert sum(not k.endswith("num_batches_tracked") for k in keys) == 1242
    tops = {k.split(".", 1)[0] for k in keys}
    assert tops == {"conv1_", "bn1", "r1", "r4", "r5", "hourglass", "Residual", "lin_", "tmpOut",
                    "ll_", "tmpOut_", "reg_", "reg"}
    assert "r1.conv4.weight" in keys and "r5.conv4.bias" in keys
    assert not any(k.startswith("r4.conv4") for k in keys)
    assert "hourglass.1.low2.low2.low2.low2_.1.conv3.weight" in keys
    assert "hourglass.0.low2.low2.low1_.0.bn.running_var" in keys
    assert {"lin_.1.0.weight", "lin_.1.1.running_mean", "Residual.3.conv2.bias",
            "reg_.7.bn2.weight", "tmpOut_.1.weight", "ll_.1.bias"} <= set(keys)
    assert model.state_dict()["reg.weight"].shape == (16, 4096)


# Sizes --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("arch", list(PARAMS_3D))
def test_parameter_counts(arch):
    with torch.device("meta"):  # no weight initialisation work
        model = create_model(arch, HEADS_3D)
    assert count_parameters(model) == PARAMS_3D[arch]


@pytest.mark.parametrize("arch", [a for a in ARCH_CHOICES if a.startswith("msra")])
def test_2d_model_lacks_only_the_depth_head(arch):
    with torch.device("meta"):
        n3d = count_parameters(create_model(arch, HEADS_3D))
        n2d = count_parameters(create_model(arch, HEADS_2D))
    assert n3d - n2d == 4_112  # 16 * 256 + 16


@pytest.mark.parametrize("hw", [(64, 64), (128, 128), (256, 256), (256, 192)])
def test_msra_output_shapes(hw):
    model = create_model("msra_18", HEADS_3D, input_hw=hw).eval()
    with torch.no_grad():
        out = model(torch.randn(1, 3, *hw))
    assert isinstance(out, list) and len(out) == 1
    assert set(out[0]) == {"hm", "depth"}
    for t in out[0].values():
        assert t.shape == (1, 16, hw[0] // 4, hw[1] // 4)


@pytest.mark.parametrize("hw", [(64, 64), (128, 192)])
@pytest.mark.parametrize("num_stacks", [1, 2])
def test_hg_output_shapes(hw, num_stacks):
    model = create_model("hg", HEADS_3D, num_stacks=num_stacks, num_modules=1, num_features=32,
                         input_hw=hw).eval()
    assert model.reg.in_features == 32 * (hw[0] // 64) * (hw[1] // 64)
    with torch.no_grad():
        out = model(torch.randn(1, 3, *hw))
    assert len(out) == num_stacks
    for stack in out[:-1]:
        assert set(stack) == {"hm"}
    assert set(out[-1]) == {"hm", "depth"}
    for stack in out:
        assert stack["hm"].shape == (1, 16, hw[0] // 4, hw[1] // 4)
    assert out[-1]["depth"].shape == (1, 16)


def test_hg_2d_has_no_depth_branch_and_no_last_merge():
    model = create_model("hg_2", HEADS_2D, num_modules=1, num_features=32, input_hw=(64, 64))
    assert not hasattr(model, "reg") and not hasattr(model, "reg_")
    assert len(model.ll_) == len(model.tmpOut_) == 1
    out = model(torch.randn(2, 3, 64, 64))
    assert [set(d) for d in out] == [{"hm"}, {"hm"}]
    out[-1]["hm"].sum().backward()
    assert all(p.grad is not None for p in model.parameters())  # nothing dangling for DDP


def test_hg_small_forward_backward_is_fast():
    model = _tiny("hg")
    x = torch.randn(2, 3, 64, 64)
    model(x)  # warm-up: first-call allocations
    start = time.perf_counter()
    out = model(x)
    loss = sum(t.float().square().mean() for d in out for t in d.values())
    loss.backward()
    elapsed = time.perf_counter() - start
    assert elapsed < 2.0, f"1-stack 64-feature hourglass fwd+bwd took {elapsed:.2f} s"
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())


# Registry -----------------------------------------------------------------------------------------

def test_registry_is_a_plain_dict():
    assert MODELS == {"msra": pose_resnet.build, "hg": hourglass.build}


@pytest.mark.parametrize("arch, expected", [
    ("msra_18", ("msra", 18)), ("msra_50", ("msra", 50)), ("msra_152", ("msra", 152)),
    ("hg", ("hg", None)), ("hg_2", ("hg", 2)), ("hg_4", ("hg", 4)),
])
def test_parse_arch(arch, expected):
    assert parse_arch(arch) == expected


@pytest.mark.parametrize("arch", ["msra_51", "msra", "resnet50", "hg_0", "hg_x", "", "MSRA_50"])
def test_bad_arch_is_a_user_error(arch):
    with pytest.raises(UserError) as err:
        create_model(arch, HEADS_3D)
    msg = str(err.value)
    assert "--arch" in msg and repr(arch) in msg and "\n" not in msg
    for allowed in ("msra_18", "msra_34", "msra_50", "msra_101", "msra_152", "hg"):
        assert allowed in msg


@pytest.mark.parametrize("arch, hw", [("msra_18", (100, 128)), ("hg", (96, 128))])
def test_bad_input_size_is_a_user_error(arch, hw):
    with pytest.raises(UserError, match="--input_h"):
        create_model(arch, HEADS_3D, input_hw=hw)


def test_hg_rejects_unknown_heads():
    with pytest.raises(UserError, match="--arch hg"):
        create_model("hg", {"hm": 16, "offset": 32}, input_hw=(64, 64))


def test_hg_arch_suffix_sets_stacks():
    model = create_model("hg_3", HEADS_3D, num_stacks=1, num_modules=1, num_features=16,
                         input_hw=(64, 64))
    assert len(model.hourglass) == 3


def test_convert_legacy_state_dict_strips_module_prefix():
    state = {"module.hm.weight": torch.zeros(1), "depth.bias": torch.ones(1)}
    for convert in (pose_resnet.convert_legacy_state_dict, hourglass.convert_legacy_state_dict):
        assert list(convert(state)) == ["hm.weight", "depth.bias"]


# Precision, memory format, compile ----------------------------------------------------------------

@pytest.mark.parametrize("arch", ["msra_18", "hg"])
def test_channels_last_and_bf16_autocast(arch):
    torch.manual_seed(0)
    model = _tiny(arch).eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        ref = model(x)
        model = model.to(memory_format=torch.channels_last)
        out = model(x.contiguous(memory_format=torch.channels_last))
        with torch.autocast("cpu", dtype=torch.bfloat16):
            low = model(x.contiguous(memory_format=torch.channels_last))
    for r, o, lo in zip(ref, out, low):
        assert r.keys() == o.keys() == lo.keys()
        for name in r:
            torch.testing.assert_close(o[name], r[name], rtol=1e-4, atol=1e-5)
            assert lo[name].shape == r[name].shape and torch.isfinite(lo[name]).all()


@pytest.mark.parametrize("arch", ["msra_18", pytest.param("hg", marks=pytest.mark.slow)])
def test_compiles_without_graph_breaks(arch):
    torch._dynamo.reset()
    model = _tiny(arch)
    x = torch.randn(2, 3, 64, 64)
    # fullgraph=True fails on any graph break (data-dependent Python control flow, .item()).
    out = torch.compile(model, backend="eager", fullgraph=True)(x)
    assert out[-1]["hm"].shape == (2, 16, 16, 16)
    torch._dynamo.reset()


# ImageNet initialisation --------------------------------------------------------------------------

@pytest.fixture
def hub_dir(tmp_path, monkeypatch):
    """An empty torch hub cache, and a downloader that fails the test if it is reached."""
    old = torch.hub.get_dir()
    torch.hub.set_dir(str(tmp_path))

    def no_network(url, dst, timeout=0.0):
        raise OSError("network disabled in tests")

    monkeypatch.setattr(pose_resnet, "_download", no_network)
    yield tmp_path
    torch.hub.set_dir(old)


def test_pretrained_reads_torch_hub_cache(hub_dir):
    source = tv_resnet.resnet18()
    path = pose_resnet.imagenet_weights_path(18)
    assert path.parent == hub_dir / "checkpoints" and path.name == "resnet18-f37072fd.pth"
    assert not pose_resnet.imagenet_weights_available(18)
    path.parent.mkdir(parents=True)
    torch.save(source.state_dict(), path)
    assert pose_resnet.imagenet_weights_available(18)

    model = create_model("msra_18", HEADS_3D, input_hw=(64, 64), pretrained=True)
    assert torch.equal(model.conv1.weight, source.conv1.weight)
    assert torch.equal(model.layer4[1].bn2.running_var, source.layer4[1].bn2.running_var)
    assert model.hm.bias.abs().sum() == 0  # heads keep their own initialisation


def test_pretrained_falls_back_to_random_init_with_one_warning(hub_dir, caplog):
    with caplog.at_level(logging.WARNING, logger="pose3d.models.pose_resnet"):
        model = create_model("msra_18", HEADS_3D, input_hw=(64, 64), pretrained=True)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "ResNet-18" in warnings[0].getMessage()
    assert model(torch.randn(1, 3, 64, 64))[0]["hm"].shape == (1, 16, 16, 16)


def test_pretrained_ignores_a_file_of_another_depth(hub_dir, caplog):
    path = pose_resnet.imagenet_weights_path(18)
    path.parent.mkdir(parents=True)
    torch.save(tv_resnet.resnet34().state_dict(), path)
    model = pose_resnet.build(18, HEADS_3D)
    before = model.conv1.weight.clone()
    with caplog.at_level(logging.WARNING, logger="pose3d.models.pose_resnet"):
        assert not pose_resnet.load_imagenet_weights(model)
    assert torch.equal(model.conv1.weight, before)
    assert len(caplog.records) == 1
