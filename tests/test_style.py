"""House rules that keep the code base honest."""
import re
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "pose3d"


def test_device_calls_only_in_device_module():
    pattern = re.compile(r"\.cuda\(|torch\.cuda\.|torch_npu|\.npu\(")
    offenders = [str(p.relative_to(SRC)) for p in SRC.rglob("*.py")
                 if p.name != "device.py" and pattern.search(p.read_text())]
    assert offenders == []


def test_every_dataset_has_a_writer_and_loader():
    from pose3d.datasets import DATASETS
    from pose3d.synthetic import WRITERS

    assert {"mpii", "lsp_extended", "flic_full", "coco", "fusion_3d", "H36M", "MPII3D", "3DPW",
            "OcclusionPerson"} <= set(DATASETS)
    assert {"mpii", "lsp", "lspet", "flic_full", "coco", "h36m", "occlusion_person", "mpii3d",
            "3dpw", "preview"} <= set(WRITERS)
