#!/usr/bin/env bash
# Write requirements.lock from a fresh environment of today's newest releases, after
# the whole suite passed in it (bash test.sh --latest runs the same suite first).
set -euo pipefail
cd "$(dirname "$0")"
LABMRT_ENV=latest bash test.sh -q
# the benchmarks' extra is locked too, so a lab reproduces the published figures
.venv-latest/bin/python -m pip install --quiet --disable-pip-version-check -e ".[bench]"
{
  echo "# Exact versions the test suite passed with (pip constraints: setup.sh installs"
  echo "# with -c requirements.lock). Made by lock.sh on $(date -u +%Y-%m-%d) with"
  echo "# $(.venv-latest/bin/python --version) on $(uname -s) $(uname -m); includes the bench extra."
  .venv-latest/bin/python -m pip freeze --exclude-editable --disable-pip-version-check \
    | grep -v -i '^labmrt' | sort -f
} > requirements.lock
echo "requirements.lock updated; commit it"
