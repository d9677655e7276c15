#!/usr/bin/env bash
# A clean clone of this repository's HEAD, set up, built and run with HOME pointing at an empty folder that
# is not the passwd home (as CI containers, `sudo -E` and schedulers run it) and no PRETEXT_CACHE/LIBTORCH:
# the cache root must follow $HOME in every tool (scripts/libtorch.py, Package.swift, the Swift code).
# Exits non-zero when any step fails. Uncommitted changes are not part of a clone: commit before relying on it.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/pretext-fresh-XXXXXX")"
trap 'rm -rf "$work"' EXIT
passwd_home="$(getent passwd "$(id -u)" | cut -d: -f6 || true)"
home="$work/home"
mkdir -p "$home"
[ "$home" != "$passwd_home" ] || { echo "[fresh clone] the empty HOME equals the passwd home" >&2; exit 1; }
start=$(date +%s)
git clone -q "$repo" "$work/clone"
[ -z "$(git -C "$repo" status --porcelain --untracked-files=no)" ] \
  || echo "[fresh clone] note: uncommitted changes in $repo are not part of the clone (HEAD is tested)" >&2
cd "$work/clone"
run() { env -u PRETEXT_CACHE -u LIBTORCH -u PRETEXT_DATA HOME="$home" "$@"; }
run make build >"$work/build.log" 2>&1 || { tail -n 40 "$work/build.log" >&2; echo "[fresh clone] make build failed" >&2; exit 1; }
# libtorch was unpacked under the new HOME, and the binaries point there (not at the passwd home's cache).
lib="$home/.cache/pretext/libtorch-$(cat scripts/torch-version)/lib"
[ -f "$lib/libtorch_cpu.so" ] || { echo "[fresh clone] libtorch is not under \$HOME/.cache/pretext" >&2; exit 1; }
smoke="$(swift build --show-bin-path)/torch-smoke"
readelf -d "$smoke" | grep -q "$lib" || { echo "[fresh clone] torch-smoke's rpath does not name $lib" >&2; exit 1; }
run "$smoke" >"$work/smoke.log" 2>&1 || { cat "$work/smoke.log" >&2; echo "[fresh clone] torch-smoke failed" >&2; exit 1; }
tail -n 1 "$work/smoke.log"
# The tool end to end on a tiny synthetic dataset: set-up, pretext, the scenarios, the report.
bin="$(swift build --show-bin-path)"
run "$bin/pretext" data synth "$work/data" --size 32 --train-per-class 2 --valid-per-class 1 --unsup 20 >/dev/null
run "$bin/pretext" experiment --data "$work/data" --out "$work/runs" --size 32 --pretext-size 32 --widen 0.125 --batch 8 \
  --pretext-batch 8 --epochs 2 --head-epochs 1 --pretext-epochs 1 --runs 1 --workers 1 >"$work/experiment.log" 2>&1 \
  || { tail -n 30 "$work/experiment.log" >&2; echo "[fresh clone] pretext experiment failed" >&2; exit 1; }
ls "$work"/runs/experiment-*/report.md >/dev/null
echo "[fresh clone] clean clone built and ran with HOME=$home in $(( $(date +%s) - start )) s"
