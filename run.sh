#!/usr/bin/env bash
# Set up (first run) and start labmrt on the embedded default: bundled demo
# protocol, simulated LSL sensors, a local SQLite study folder.
set -euo pipefail
cd "$(dirname "$0")"
source ./setup.sh
exec .venv/bin/labmrt demo "$@"
