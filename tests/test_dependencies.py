"""Every third-party module the code imports is declared in pyproject.toml, and vice versa.

``pip install .`` must give a working pose3d without setup.sh: the imports of ``src/`` (and of
``scripts/``) must be runtime dependencies or extras, the tests' imports must be declared as well
(``test`` extra), and every runtime dependency must be used somewhere. requirements.txt (the
pinned install of setup.sh) lists them all.
"""
import ast
import re
import sys
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")  # Python >= 3.11

ROOT = Path(__file__).resolve().parents[1]
# Import name -> distribution name, where they differ.
DISTRIBUTION = {"cv2": "opencv-python-headless"}
# Imported only for hardware that brings its own vendor install (Ascend NPU, NVIDIA/Ascend apex).
VENDOR_ONLY = {"torch_npu", "apex"}
# Declared for the COCO keypoint tools although no module imports it yet.
DECLARED_UNUSED = {"pycocotools"}


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~;\[ ]", requirement, maxsplit=1)[0].strip().lower()


def declared() -> tuple[set[str], dict[str, set[str]]]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = {k: {_name(r) for r in v} for k, v in project.get("optional-dependencies", {}).items()}
    return {_name(r) for r in project.get("dependencies", [])}, extras


def third_party_imports(folder: Path) -> dict[str, str]:
    """{distribution name: first file importing it} for the top-level imports under ``folder``."""
    # The project's own modules: the package and the entry scripts of src/ (tests import main).
    local = ({p.stem for p in folder.rglob("*.py")} | {p.name for p in folder.rglob("*") if p.is_dir()}
             | {"pose3d"} | {p.stem for p in (ROOT / "src").glob("*.py")})
    found: dict[str, str] = {}
    for path in sorted(folder.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top in sys.stdlib_module_names or top in local or top.startswith("_"):
                    continue
                found.setdefault(DISTRIBUTION.get(top, top).lower(), str(path.relative_to(ROOT)))
    return found


def test_pyproject_declares_runtime_dependencies_and_extras() -> None:
    runtime, extras = declared()
    for dist in ("numpy", "scipy", "opencv-python-headless", "h5py", "tensorboardx", "progress",
                 "matplotlib", "joblib", "torch", "torchvision"):
        assert dist in runtime, dist
    assert extras["onnx"] == {"onnx", "onnxruntime"}
    assert extras["test"] == {"pytest", "hypothesis"}
    assert {"cdflib", "smplx"} <= extras["prepare"]


def test_every_import_is_declared() -> None:
    runtime, extras = declared()
    everything = runtime | set().union(*extras.values())
    for folder in ("src", "scripts", "tests"):
        missing = {d: f for d, f in third_party_imports(ROOT / folder).items()
                   if d not in everything and d not in VENDOR_ONLY}
        assert not missing, f"imported but not declared in pyproject.toml: {missing}"


def test_every_runtime_dependency_is_imported() -> None:
    runtime, _ = declared()
    used = set(third_party_imports(ROOT / "src"))
    assert runtime - used - DECLARED_UNUSED == set()


def test_requirements_txt_covers_pyproject() -> None:
    runtime, extras = declared()
    lines = [ln.strip() for ln in (ROOT / "requirements.txt").read_text().splitlines()]
    pinned = {_name(ln) for ln in lines if ln and not ln.startswith("#")}
    assert runtime | set().union(*extras.values()) <= pinned
    assert "torch==2.14.1" in lines and "torchvision==0.29.1" in lines
