#!/usr/bin/env bash
# Set up (first run) and run the whole test suite: lint, format check, the docs build, pytest.
#   bash test.sh            with the locked versions (requirements.lock), as a lab installs
#   bash test.sh --latest   with today's newest releases of every dependency (.venv-latest)
#   bash test.sh --oldest   with the lowest versions pyproject.toml allows (.venv-oldest)
# Other arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")"
case "${1:-}" in
  --latest) export LABMRT_ENV=latest; shift ;;
  --oldest) export LABMRT_ENV=oldest; shift ;;
esac
source ./setup.sh
export QT_QPA_PLATFORM=offscreen
"$VENV/bin/ruff" check .
"$VENV/bin/ruff" format --check .
# the documentation site: warnings are errors (a broken reference, a figure no bench wrote)
"$VENV/bin/python" -m sphinx -E -W --keep-going -q -b html docs build/docs
"$VENV/bin/python" -m pytest "$@"
if [ "${LABMRT_ENV:-locked}" = latest ]; then
  echo "newest releases pass; to lock them: bash lock.sh"
fi
