#!/usr/bin/env bash
# Install into .venv if needed (setup.sh returns at once when nothing changed), then run pytest
# from the repository root. Arguments go to pytest; its exit status is this script's.
#   ./scripts/test.sh                  # everything
#   ./scripts/test.sh tests/utils -q   # a folder
#   ./scripts/test.sh -m "not slow"    # skip the end-to-end runs
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
./setup.sh
exec .venv/bin/python -m pytest "$@"
