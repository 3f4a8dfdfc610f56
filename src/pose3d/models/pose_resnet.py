"""PoseResNet ("msra_resnet"): a ResNet trunk, three deconvolutions and one 1x1 conv per head.

The "simple baseline" of Xiao et al. (ECCV 2018) as used by the master branch of
xingyizhou/pytorch-pose-hg-3d and its fork; the published checkpoints
(``fusion_3d_var.pth``, ``fusion_3d.pth``, ``mpii.pth``) were trained with it, so the state-dict
names are kept exactly:

* ``conv1``, ``bn1``, ``layer1`` .. ``layer4``: torchvision ResNet names (no ``avgpool``/``fc``);
* ``deconv_layers.{0,3,6}``: ConvTranspose2d(k=4, s=2, p=1, no bias), ``.{1,4,7}``: BatchNorm(256),
  ``.{2,5,8}``: ReLU;
* one Conv2d(256 -> C, 1x1, bias) per head, named by the head, created in sorted name order
  (``depth`` before ``hm``).

Shapes: input (B, 3, H, W) normalised BGR with H, W multiples of 32; output
``[{head: (B, C_head, H/4, W/4)}]``, a one-element list as in the original.

ResNet-50 with heads ``{'hm': 16, 'depth': 16}`` has 34,003,552 parameters and 284 state-dict
tensors (340 with the BatchNorm ``num_batches_tracked`` counters).
"""

import hashlib
import logging
import os
import urllib.request
from pathlib import Path

import torch
from torch import nn
from torchvision.models import get_weight
from torchvision.models.resnet import BasicBlock, Bottleneck, ResNet

log = logging.getLogger(__name__)

#: ResNet depth -> (block type, blocks per stage), as torchvision's resnet{18,...,152}.
RESNET_SPECS: dict[int, tuple[type[BasicBlock] | type[Bottleneck], list[int]]] = {
    18: (BasicBlock, [2, 2, 2, 2]),
    34: (BasicBlock, [3, 4, 6, 3]),
    50: (Bottleneck, [3, 4, 6, 3]),
    101: (Bottleneck, [3, 4, 23, 3]),
    152: (Bottleneck, [3, 8, 36, 3]),
}

#: Top-level module names that hold ImageNet weights.
TRUNK_MODULES = ("conv1", "bn1", "layer1", "layer2", "layer3", "layer4")

DECONV_CHANNELS = 256
DOWNLOAD_TIMEOUT_S = 30.0


class PoseResNet(ResNet):
    """torchvision ResNet without ``avgpool``/``fc``, followed by 3 deconvolutions and the heads.

    Args:
        num_layers: ResNet depth, one of 18, 34, 50, 101, 152.
        heads: head name -> output channels C, e.g. ``{'hm': 16, 'depth': 16}``. Names must be
            Python identifiers that do not clash with the trunk's attributes.

    Shapes:
        x: (B, 3, H, W) -> ``[{name: (B, C, H/4, W/4) for each head}]``.
    """

    def __init__(self, num_layers: int, heads: dict[str, int]):
        if num_layers not in RESNET_SPECS:
            raise ValueError(f"num_layers must be one of {sorted(RESNET_SPECS)}, got {num_layers}")
        block, layers = RESNET_SPECS[num_layers]
        super().__init__(block, layers)
        # The classifier is not part of the pose network (and not in its checkpoints).
        del self.avgpool, self.fc
        self.num_layers = num_layers
        self.heads = {name: int(heads[name]) for name in sorted(heads)}

        self.deconv_layers = _make_deconv_layers(self.inplanes, DECONV_CHANNELS, num_deconv=3)
        for name, channels in self.heads.items():
            if not name.isidentifier() or hasattr(self, name):
                raise ValueError(f"head name {name!r} is not usable as a module name")
            if channels <= 0:
                raise ValueError(f"head {name!r} needs a positive channel count, got {channels}")
            self.add_module(name, nn.Conv2d(DECONV_CHANNELS, channels, kernel_size=1))
        self.init_head_weights()

    def init_head_weights(self) -> None:
        """Deconv weights N(0, 0.001), their BN 1/0, head weights N(0, 0.001) and bias 0."""
        for m in self.deconv_layers.modules():
            if isinstance(m, nn.ConvTranspose2d):
                nn.init.normal_(m.weight, std=0.001)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        for name in self.heads:
            head = self.get_submodule(name)
            nn.init.normal_(head.weight, std=0.001)
            nn.init.zeros_(head.bias)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) -> deconvolved features (B, 256, H/4, W/4)."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.deconv_layers(x)

    def forward(self, x: torch.Tensor) -> list[dict[str, torch.Tensor]]:
        """(B, 3, H, W) -> ``[{name: (B, C, H/4, W/4)}]``, one dict like the original."""
        x = self.forward_features(x)
        return [{name: self.get_submodule(name)(x) for name in self.heads}]


def _make_deconv_layers(in_channels: int, channels: int, num_deconv: int) -> nn.Sequential:
    """``num_deconv`` x [ConvTranspose2d(k4, s2, p1, no bias), BN, ReLU]; each doubles h and w."""
    layers: list[nn.Module] = []
    for _ in range(num_deconv):
        layers += [
            nn.ConvTranspose2d(in_channels, channels, kernel_size=4, stride=2, padding=1,
                               output_padding=0, bias=False),
            nn.BatchNorm2d(channels, momentum=0.1),
            nn.ReLU(inplace=True),
        ]
        in_channels = channels
    return nn.Sequential(*layers)


# ImageNet weights --------------------------------------------------------------------------------

def imagenet_weights_url(num_layers: int) -> str:
    """URL of torchvision's ``ResNet{num_layers}_Weights.IMAGENET1K_V1`` file."""
    return get_weight(f"ResNet{num_layers}_Weights.IMAGENET1K_V1").url


def imagenet_weights_path(num_layers: int) -> Path:
    """Where torch.hub caches that file: ``<torch.hub.get_dir()>/checkpoints/<file name>``."""
    name = imagenet_weights_url(num_layers).rsplit("/", 1)[-1]
    return Path(torch.hub.get_dir()) / "checkpoints" / name


def imagenet_weights_available(num_layers: int) -> bool:
    """True if the ImageNet ResNet weights are already in the local torch hub cache."""
    return num_layers in RESNET_SPECS and imagenet_weights_path(num_layers).is_file()


def _download(url: str, dst: Path, timeout: float = DOWNLOAD_TIMEOUT_S) -> None:
    """Fetch ``url`` to ``dst`` atomically, checking the sha256 prefix in torchvision's file name.

    Unlike ``torch.hub.download_url_to_file`` this gives up after ``timeout`` seconds without
    data instead of hanging on a machine without network access.
    """
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f"{dst.name}.{os.getpid()}.partial")
    expected = dst.stem.rsplit("-", 1)[-1]
    digest = hashlib.sha256()
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, open(tmp, "wb") as f:
            while chunk := response.read(1 << 20):
                f.write(chunk)
                digest.update(chunk)
        if not digest.hexdigest().startswith(expected):
            raise ValueError(f"checksum of {url} does not start with {expected}")
        os.replace(tmp, dst)
    finally:
        tmp.unlink(missing_ok=True)


def load_imagenet_weights(model: PoseResNet, download: bool = True) -> bool:
    """Copy torchvision's ImageNet weights into the trunk of ``model``; never raises.

    The file is read from the torch hub cache, or downloaded there first when ``download`` is
    set. On any failure (no file, no network, a corrupt or mismatching file) one warning is
    logged and the model keeps its random initialisation.

    Returns:
        True if the trunk now holds the ImageNet weights.
    """
    num_layers = model.num_layers
    try:
        path = imagenet_weights_path(num_layers)
        if not path.is_file():
            if not download:
                raise FileNotFoundError(f"{path} does not exist")
            log.info("downloading ImageNet ResNet-%d weights to %s", num_layers, path)
            _download(imagenet_weights_url(num_layers), path)
        state = torch.load(path, map_location="cpu", weights_only=True)
        trunk = {k: v for k, v in state.items() if k.split(".", 1)[0] in TRUNK_MODULES}
        # Check everything before copying, so a bad file cannot leave a half-loaded trunk.
        wanted = {k: v.shape for k, v in model.state_dict().items()
                  if k.split(".", 1)[0] in TRUNK_MODULES and not k.endswith("num_batches_tracked")}
        missing = set(wanted) - set(trunk)
        extra = {k for k in set(trunk) - set(wanted) if not k.endswith("num_batches_tracked")}
        wrong = {k for k in wanted.keys() & trunk.keys() if trunk[k].shape != wanted[k]}
        if missing or extra or wrong:
            raise ValueError(f"{path} does not fit ResNet-{num_layers} ({len(missing)} missing, "
                             f"{len(extra)} unexpected, {len(wrong)} mismatching tensors)")
        model.load_state_dict(trunk, strict=False)
    except Exception as err:  # noqa: BLE001 - any failure falls back to random init by design
        log.warning("ImageNet weights for ResNet-%d not loaded (%s: %s); the backbone starts "
                    "from random initialisation", num_layers, type(err).__name__, err)
        return False
    log.info("loaded ImageNet ResNet-%d weights from %s", num_layers, path)
    return True


# Builders -----------------------------------------------------------------------------------------

def build(num_layers: int, heads: dict[str, int], pretrained: bool = False) -> PoseResNet:
    """PoseResNet of the given depth; ``pretrained`` loads the ImageNet trunk (see
    :func:`load_imagenet_weights`, which falls back to random init with a warning).

    Args:
        num_layers: 18, 34, 50, 101 or 152.
        heads: head name -> channels, e.g. ``{'hm': 16, 'depth': 16}`` (3D) or ``{'hm': 16}``.
        pretrained: start the ResNet trunk from torchvision's ImageNet weights.
    """
    model = PoseResNet(num_layers, heads)
    if pretrained:
        load_imagenet_weights(model)
    return model


def convert_legacy_state_dict(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Map a checkpoint of the original code onto this module's names.

    The published files already use these names; only the ``module.`` prefix that
    ``nn.DataParallel``/DDP adds is stripped. The BN ``num_batches_tracked`` counters are kept.
    """
    return {k.removeprefix("module."): v for k, v in state_dict.items()}
