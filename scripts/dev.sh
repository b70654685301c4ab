#!/usr/bin/env bash
# Set up the project on a fresh machine and run one of its jobs:
#   scripts/dev.sh build   install, then `nn-autograder build` (releases, solutions, zips, verified)
#   scripts/dev.sh test    install, then the project's tests (pytest)
#   scripts/dev.sh doctor  install, then `nn-autograder doctor` (can this machine grade?)
# The venv is made from a Python that every user can run (the system's /usr/bin/python3 when
# present): graded as root, student code runs as an unprivileged user with that same Python.
set -euo pipefail
cd "$(dirname "$0")/.."
job="${1:-test}"
shift || true
python="${PYTHON:-}"
if [ -z "$python" ]; then
  if [ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import venv, ensurepip' 2>/dev/null; then
    python=/usr/bin/python3
  else
    python=python3
  fi
fi
# Graded as root, student code runs as a uid of a reserved range (61000-61063): no user to create.
if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
case "$job" in
  build) exec .venv/bin/nn-autograder build "$@" ;;
  test) exec .venv/bin/python -m pytest "$@" ;;
  doctor) exec .venv/bin/nn-autograder doctor "$@" ;;
  *) echo "usage: scripts/dev.sh build|test|doctor [args]" >&2; exit 2 ;;
esac
