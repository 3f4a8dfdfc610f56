"""House rules that keep the code base honest."""
import re
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"


# The device layer: device choice, distribution and precision. Only these may touch CUDA / NPU.
DEVICE_LAYER = {"pose3d/utils/device.py", "pose3d/utils/distributed.py",
                "pose3d/utils/precision.py"}
DEVICE_CALL = re.compile(r"\.cuda\(|torch\.cuda\.|torch_npu|\.npu\(")
MAX_LINES = 400



def _sources() -> dict[str, str]:
    """{path relative to src/: text} of every module."""
    return {p.relative_to(SRC).as_posix(): p.read_text() for p in SRC.rglob("*.py")}


def test_device_calls_only_in_device_module():
    offenders = [name for name, text in _sources().items()
                 if name not in DEVICE_LAYER and DEVICE_CALL.search(text)]
    assert offenders == []


def test_device_layer_check_sees_a_scattered_cuda_call():
    assert DEVICE_CALL.search("x = batch.cuda()") and DEVICE_CALL.search("torch.cuda.synchronize()")
    assert all((SRC / name).is_file() for name in DEVICE_LAYER)


def test_no_module_over_400_lines():
    long = {name for name, text in _sources().items() if len(text.splitlines()) > MAX_LINES}
    assert long == set(), "split these modules by concern"


def test_no_nonlocal():
    pattern = re.compile(r"^\s*nonlocal\b", re.MULTILINE)
    assert [name for name, text in _sources().items() if pattern.search(text)] == []


def test_no_environment_test_hooks_in_training():
    """Test hooks reach the training loop as callbacks (``on_step``), never through os.environ."""
    offenders = [name for name, text in _sources().items()
                 if name.startswith("pose3d/train/") and ("os.environ" in text or "getenv" in text)]
    assert offenders == []


def test_every_dataset_has_a_writer_and_loader():
    from pose3d.datasets import DATASETS
    from pose3d.synthetic import WRITERS

    assert {"mpii", "lsp_extended", "flic_full", "coco", "fusion_3d", "H36M", "MPII3D", "3DPW",
            "OcclusionPerson"} <= set(DATASETS)
    assert {"mpii", "lsp", "lspet", "flic_full", "coco", "h36m", "occlusion_person", "mpii3d",
            "3dpw", "preview"} <= set(WRITERS)
