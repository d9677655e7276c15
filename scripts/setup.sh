#!/usr/bin/env bash
# Everything a fresh machine needs before `swift build`: Debian packages, then libtorch (cached outside
# the clone by scripts/libtorch.py). Safe to run again: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(libturbojpeg0-dev libpng-dev libtiff-dev zlib1g-dev libdcmtk-dev libgloo-dev python3 python3-pip)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# python3/pip may come from elsewhere (pyenv): only ask apt for them when there is no working pip.
if python3 -m pip --version >/dev/null 2>&1; then
  filtered=()
  for p in "${missing[@]}"; do [[ $p == python3 || $p == python3-pip ]] || filtered+=("$p"); done
  missing=("${filtered[@]+"${filtered[@]}"}")
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "[pretext setup] installing Debian packages: ${missing[*]}" >&2
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

command -v swift >/dev/null || { echo "[pretext setup] no Swift toolchain on PATH (Swift 6.1 or later is needed)" >&2; exit 1; }
python3 scripts/libtorch.py >/dev/null
