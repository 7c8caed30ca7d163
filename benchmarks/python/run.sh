#!/usr/bin/env bash
# Run the scikit-learn baseline in its own virtualenv (created on first use).
# Usage: benchmarks/python/run.sh [sklearn_baseline.py args...]
#        benchmarks/python/run.sh SCRIPT.py [args...]   (another script of this folder,
#                                                       e.g. evaluate_baseline.py)
# Env: POISONKIT_VENV (default ~/.cache/poisonkit/bench-venv), POISONKIT_PYTHON (default python3).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="${POISONKIT_VENV:-$HOME/.cache/poisonkit/bench-venv}"
req="$here/requirements.txt"
stamp="$venv/.requirements.sha256"

if [ ! -x "$venv/bin/python" ]; then
  "${POISONKIT_PYTHON:-python3}" -m venv "$venv" >&2
fi
want="$(sha256sum "$req" | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]; then
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req" >&2
  echo "$want" > "$stamp"
fi
script=sklearn_baseline.py
if [ $# -gt 0 ] && [[ "$1" == *.py ]] && [ -f "$here/$(basename "$1")" ]; then
  script="$(basename "$1")"
  shift
fi
exec "$venv/bin/python" "$here/$script" "$@"
