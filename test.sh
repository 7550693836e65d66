#!/usr/bin/env bash
# Set up (first run) and run the whole test suite: lint, format check, pytest.
set -euo pipefail
cd "$(dirname "$0")"
source ./setup.sh
export QT_QPA_PLATFORM=offscreen
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/python -m pytest "$@"
