#!/usr/bin/env bash
# The Python peer for benchmarks and by-hand checks: a virtualenv in the cache with the *same* torch
# version Pretext builds against (plus safetensors, numpy; with --fastai, fastai; with --lightly, lightly and
# torchvision). Prints its python.
set -euo pipefail
cd "$(dirname "$0")/.."
version=$(cat scripts/torch-version)
venv="${PRETEXT_CACHE:-$HOME/.cache/pretext}/pyenv"
pin_torch() {
  "$venv/bin/pip" install -q --force-reinstall --no-deps "torch==$version+cpu" 2>/dev/null \
    || "$venv/bin/pip" install -q --force-reinstall --no-deps "torch==$version"
}
if ! "$venv/bin/python" -c "import torch, safetensors, numpy" 2>/dev/null; then
  echo "[pretext] setting up the Python peer in $venv (torch $version)" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q safetensors numpy
  pin_torch
  # --no-deps above (so pip never swaps the pinned build): torch's own pure-Python dependencies.
  "$venv/bin/pip" install -q typing_extensions filelock sympy networkx jinja2 fsspec "setuptools>=77.0.3"
fi
if [[ " $* " == *" --fastai "* ]] && ! "$venv/bin/python" -c "import fastai" 2>/dev/null; then
  echo "[pretext] installing fastai into $venv" >&2
  "$venv/bin/pip" install -q fastai >&2
fi
# lightly (the SSL peer) and torchvision without their dependencies: with them pip would bring PyPI's CUDA
# torch and its GPU libraries. What the benchmarks and fixtures import of lightly needs hydra-core, tqdm and
# lightning-utilities (lightly.transforms imports it);
# torchvision imports through scripts/interop/torchvision_env.py (its compiled ops cannot load here).
if [[ " $* " == *" --lightly "* ]] && ! "$venv/bin/python" -c "import importlib.metadata as m; m.version('lightly'); m.version('torchvision'); m.version('lightning-utilities')" 2>/dev/null; then
  echo "[pretext] installing lightly and torchvision into $venv" >&2
  "$venv/bin/pip" install -q --no-deps "lightly==1.6.0" "torchvision==0.28.0" >&2
  "$venv/bin/pip" install -q hydra-core tqdm pillow lightning-utilities >&2
fi
# Installing fastai may pull another torch; the peer must run the pinned one.
"$venv/bin/python" -c "import torch, sys; sys.exit(torch.__version__.split('+')[0] != '$version')" || pin_torch
echo "$venv/bin/python"
