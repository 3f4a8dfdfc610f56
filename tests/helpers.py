"""Small helpers shared by several test modules."""
import importlib.util
from pathlib import Path
from types import ModuleType

import torch

REPO = Path(__file__).resolve().parents[1]

#: The environment torchrun sets; tests run as one process unless they set it themselves.
DIST_VARS = ("RANK", "LOCAL_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE", "GROUP_RANK", "ROLE_RANK",
             "MASTER_ADDR", "MASTER_PORT", "TORCHELASTIC_RUN_ID")


def randomise_bn(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Non-trivial BN statistics, so eval-mode BN is not the identity."""
    gen = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            n = m.num_features
            m.running_mean.copy_(torch.rand(n, generator=gen) - 0.5)
            m.running_var.copy_(torch.rand(n, generator=gen) + 0.5)
            m.weight.data.copy_(torch.rand(n, generator=gen) + 0.5)
            m.bias.data.copy_(torch.rand(n, generator=gen) * 0.4 - 0.2)
    return model


def rel_error(a: torch.Tensor, b: torch.Tensor) -> float:
    """Largest absolute difference relative to the largest magnitude of ``b``."""
    return float((a - b).abs().max() / b.abs().max().clamp(min=1e-12))


def load_script(name: str) -> ModuleType:
    """``scripts/<name>.py`` imported as a module (its functions callable in-process)."""
    spec = importlib.util.spec_from_file_location(f"{name}_script", REPO / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_prepare(script: ModuleType, argv: list[str]):
    """``prepare_data.py argv`` in this process, as its ``main`` runs it; returns the Summary."""
    from pose3d.prepare import preparer

    args = script.build_parser().parse_args(argv)
    args.crop = script.crop_policy(args)
    return preparer(args.dataset).prepare(args)
