#!/usr/bin/env bash
# Create .venv and install brainenc with its data, sweep and dev extras.
# torch is pinned to 2.13.0 first: this machine has a local CPU wheel of it, while an
# unpinned torch would pull the newest CUDA build (several GB).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
stamp=.venv/.brainenc-installed
if [ -f "$stamp" ] && [ "$stamp" -nt pyproject.toml ]; then
  exit 0
fi
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
pip=".venv/bin/python -m pip"
if ! .venv/bin/python -c "import torch" 2>/dev/null; then
  $pip install --quiet --disable-pip-version-check "torch==2.13.0"
fi
$pip install --quiet --disable-pip-version-check -e ".[data,sweep,dev]"
touch "$stamp"
