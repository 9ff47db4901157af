#!/usr/bin/env bash
# Prints the path of a Python interpreter that imports pyarrow, faiss and numpy: what the README's
# "Using the output" examples need, and what test/using-the-output.test.ts runs them with.
#
#   export SIGLIP_EXAMPLES_PYTHON="$(bash tools/python/ensure-venv.sh)"
#
# It reuses `.venv/` (the export tool's venv) when that already imports them; otherwise it creates
# `.venv-examples/` (git-ignored) with `python3 -m venv` and installs tools/python/requirements-examples.txt
# with pip, from the indexes pip is configured with (PIP_INDEX_URL, pip.conf). Progress goes to
# stderr; stdout is the interpreter's path only. Exits non-zero, saying why, when it cannot.
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
requirements="$root/tools/python/requirements-examples.txt"
check='import pyarrow, faiss, numpy'

imports() { [ -x "$1" ] && "$1" -c "$check" >/dev/null 2>&1; }

if imports "$root/.venv/bin/python"; then
  echo "$root/.venv/bin/python"
  exit 0
fi

venv="$root/.venv-examples"
python="$venv/bin/python"
if imports "$python"; then
  echo "$python"
  exit 0
fi

command -v python3 >/dev/null 2>&1 || { echo "ensure-venv.sh: python3 is not installed" >&2; exit 1; }
if [ ! -x "$python" ]; then
  echo "ensure-venv.sh: creating $venv" >&2
  python3 -m venv "$venv" >&2 || { echo "ensure-venv.sh: python3 -m venv failed (Debian/Ubuntu: apt-get install python3-venv)" >&2; exit 1; }
fi
echo "ensure-venv.sh: installing $(grep -v '^#' "$requirements" | tr '\n' ' ')" >&2
# One retry, not pip's five: on a machine whose only reachable index is a local one, an
# unreachable default index otherwise costs half a minute of back-off.
if ! PIP_RETRIES="${PIP_RETRIES:-1}" "$python" -m pip install --quiet --disable-pip-version-check -r "$requirements" >&2; then
  echo "ensure-venv.sh: pip could not install $requirements into $venv" >&2
  exit 1
fi
if ! "$python" -c "$check" >&2; then
  echo "ensure-venv.sh: $python still cannot import pyarrow, faiss and numpy" >&2
  exit 1
fi
echo "$python"
