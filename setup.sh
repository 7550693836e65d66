# Sourced by run.sh and test.sh: create the virtual environment and install labmrt
# with its test extras; re-install when pyproject.toml or the lock file changes.
#
# Default: the exact versions in requirements.lock (pip constraints), the ones the
# test suite last passed with, so every workstation of a study gets the same software.
# LABMRT_ENV=latest: today's newest releases in .venv-latest (upgraded on every run),
# to see a break the day a dependency releases it. LABMRT_ENV=oldest: the lower bounds
# of pyproject.toml (constraints-oldest.txt) in .venv-oldest.
set -euo pipefail
PY=${PYTHON:-python3}
case "${LABMRT_ENV:-locked}" in
  locked) VENV=.venv; PIN=(-c requirements.lock); UPGRADE=() ;;
  latest) VENV=.venv-latest; PIN=(); UPGRADE=(--upgrade --upgrade-strategy eager) ;;
  oldest) VENV=.venv-oldest; PIN=(-c constraints-oldest.txt); UPGRADE=() ;;
  *) echo "LABMRT_ENV must be locked, latest or oldest (got '${LABMRT_ENV}')" >&2; return 2 ;;
esac
if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv "$VENV"
fi
stamp=$VENV/.labmrt-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ requirements.lock -nt "$stamp" ] \
  || [ ${#UPGRADE[@]} -gt 0 ]; then
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "${UPGRADE[@]}" \
    "${PIN[@]}" -e ".[test]"
  touch "$stamp"
fi
