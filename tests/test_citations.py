"""The repository cites only what users have: its own files (docs/datasets.md for formats).

Notes that are not shipped with the repository (``reference.md``, ``datasets.md`` outside
``docs/``, ``decisions.md``, ``raw_releases.md``, ``style.md``, section signs, "reference E.5"
style pointers) must not appear in the code, scripts, tests or documentation.
"""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCANNED = ["src", "scripts", "tests", "docs", "README.md", "new_readme.md", "pyproject.toml",
           "requirements.txt", "setup.sh"]
TEXT = {".py", ".md", ".txt", ".sh", ".toml", ".cfg", ".ini", ".json", ".yaml", ".yml"}
FORBIDDEN = re.compile(
    r"(?<!docs/)\b(?:reference|datasets|decisions|raw_releases|style)\.md\b"
    r"|\u00a7"
    r"|\breference\.? [A-K]\.?[0-9]"
    r"|shared/spec")


def _files():
    for name in SCANNED:
        path = ROOT / name
        if path.is_file():
            yield path
        elif path.is_dir():
            yield from (p for p in sorted(path.rglob("*"))
                        if p.is_file() and p.suffix in TEXT and "__pycache__" not in p.parts
                        and p != Path(__file__).resolve())  # this file spells the patterns


def citations(text: str) -> list[str]:
    """The forbidden citations in ``text``."""
    return [m.group(0) for m in FORBIDDEN.finditer(text)]


def test_pattern_catches_what_it_should() -> None:
    assert citations("see datasets.md \u00a74.3 and reference.md E.5") == [
        "datasets.md", "\u00a7", "reference.md"]
    assert citations("(reference K.10)") == ["reference K.1"]
    assert citations("decisions.md, raw_releases.md, style.md") == [
        "decisions.md", "raw_releases.md", "style.md"]
    assert citations("see docs/datasets.md, MPII Human Pose; the reference implementation") == []


def test_no_citation_outside_the_repository() -> None:
    found = []
    for path in _files():
        for n, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(),
                                 start=1):
            if citations(line):
                found.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert not found, "citations of notes users do not have:\n" + "\n".join(found)


def test_docs_datasets_has_the_cited_sections() -> None:
    doc = (ROOT / "docs" / "datasets.md").read_text(encoding="utf-8")
    headings = set(re.findall(r"^## (.+)$", doc, flags=re.M))
    for section in ("Data root", "Joint orders", "MPII Human Pose", "LSP and LSP-Extended",
                    "FLIC-full", "COCO", "Human3.6M", "Occlusion-Person", "MPI-INF-3DHP and 3DPW",
                    "Official releases and preparation"):
        assert section in headings, section
    # "docs/datasets.md, <section>" pointers in the code name real sections.
    for path in _files():
        for section in re.findall(r"docs/datasets\.md, ([A-Z][\w .'-]*?)[)\"]",
                                  path.read_text(encoding="utf-8", errors="replace")):
            assert section in headings or any(h.startswith(section) for h in headings), \
                f"{path.relative_to(ROOT)} cites a missing section {section!r}"
