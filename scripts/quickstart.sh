#!/usr/bin/env bash
# Quick start (to be completed): installs into .venv through setup.sh, then shows the options.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
./setup.sh
.venv/bin/python src/main.py --help
