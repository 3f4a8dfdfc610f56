#!/usr/bin/env bash
# One-command install: creates .venv from the system python3 (>= 3.10), installs requirements.txt
# and the pose3d package (editable). Idempotent: a second run with nothing changed returns at once.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$ROOT"
PY="${PYTHON:-python3}"
VENV="$ROOT/.venv"
STAMP="$VENV/.pose3d-installed"

"$PY" - <<'PYEOF' || { echo "setup.sh: pose3d needs Python 3.10 or newer (found $($PY --version 2>&1)); set PYTHON=/path/to/python3.x" >&2; exit 1; }
import sys
sys.exit(0 if sys.version_info >= (3, 10) else 1)
PYEOF

want="$(cat requirements.txt pyproject.toml | sha256sum | cut -d' ' -f1)"
if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$want" && -x "$VENV/bin/python" ]]; then
    exit 0
fi

if [[ ! -x "$VENV/bin/python" ]]; then
    echo "setup.sh: creating $VENV"
    "$PY" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --upgrade pip >/dev/null 2>&1 || true
echo "setup.sh: installing requirements.txt (torch and torchvision come from the local wheels when present)"
"$VENV/bin/python" -m pip install --quiet -r requirements.txt
"$VENV/bin/python" -m pip install --quiet --no-deps --no-build-isolation -e . 2>/dev/null \
    || "$VENV/bin/python" -m pip install --quiet --no-deps -e .
echo "$want" > "$STAMP"
echo "setup.sh: done. Activate with: source .venv/bin/activate"
