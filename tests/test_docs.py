"""README.md's commands name only flags that opts.py accepts and files that exist."""
import re
import shlex
from pathlib import Path

from pose3d.opts import build_parser

ROOT = Path(__file__).resolve().parents[1]


def _code_lines(md: str) -> list[str]:
    lines, inside = [], False
    for line in md.splitlines():
        if line.startswith("```"):
            inside = not inside
            continue
        if inside:
            lines.append(line.split("#")[0].strip())
    return [ln for ln in lines if ln]


def test_readme_commands_use_known_flags_and_existing_files():
    parser = build_parser()
    known = set(parser._option_string_actions)
    checked = 0
    for line in _code_lines((ROOT / "README.md").read_text()):
        if "main.py" not in line and "demo.py" not in line:
            continue
        words = shlex.split(line)
        cwd = ROOT / "src" if words[0] == "python" and words[1] in ("main.py", "demo.py") \
            else ROOT
        script = next(w for w in words if w.endswith(("main.py", "demo.py")))
        assert (cwd / script).is_file(), line
        for w in words[words.index(script) + 1:]:
            if w.startswith("--"):
                flag = w.split("=")[0]
                matches = [k for k in known if k.startswith(flag)]
                assert flag in known or len(matches) == 1, f"unknown flag {flag} in: {line}"
            elif re.match(r"^\.\./(images|scripts)/", w):
                assert (cwd / w).exists(), f"missing file {w} in: {line}"
        checked += 1
    assert checked >= 8


def test_readme_scripts_exist():
    text = (ROOT / "README.md").read_text()
    for path in set(re.findall(r"(?:\./)?(scripts/[\w.]+\.(?:sh|py))", text)):
        assert (ROOT / path).is_file(), path
    for path in set(re.findall(r"\((images/[\w./]+)\)", text)):
        assert (ROOT / path).is_file(), path
