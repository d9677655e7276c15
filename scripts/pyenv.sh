#!/usr/bin/env bash
# The Python peer for benchmarks and by-hand checks: a virtualenv in the cache with the *same* torch
# version Pretext builds against (plus safetensors, numpy). Prints the venv's python.
set -euo pipefail
cd "$(dirname "$0")/.."
version=$(cat scripts/torch-version)
venv="${PRETEXT_CACHE:-$HOME/.cache/pretext}/pyenv"
if ! "$venv/bin/python" -c "import torch, safetensors, numpy; assert torch.__version__.split('+')[0] == '$version'" 2>/dev/null; then
  echo "[pretext] setting up the Python peer in $venv (torch $version)" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "torch==$version+cpu" safetensors numpy 2>/dev/null \
    || "$venv/bin/pip" install -q "torch==$version" safetensors numpy
fi
echo "$venv/bin/python"
