# The README's two commands: `make demo` (the main job) and `make test` (the tests).
# Both set up a fresh machine themselves (Debian packages, libtorch, build).
SWIFT ?= swift
# Every recipe line stops at its first failing command and make exits non-zero (a failed build never
# lets a run or a benchmark go on with stale binaries).
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

.PHONY: setup build release test test-fresh-clone demo bench bench-ops clean

setup:
	@scripts/setup.sh

build: setup
	$(SWIFT) build

release: setup
	@start=$$(date +%s); $(SWIFT) build -c release; echo "[make] set-up done; release build took $$(( $$(date +%s) - start )) s"

# The Swift tests, then a clean clone of this commit built and run with HOME pointing at an empty folder
# (not the passwd home), as CI containers and schedulers run it.
test: setup
	@start=$$(date +%s); $(SWIFT) build --build-tests; echo "[make test] build took $$(( $$(date +%s) - start )) s"
	@# One libtorch thread per test: the tests run concurrently, and a team of all cores in each one
	@# oversubscribes the machine (measured: bfloat16 suites 5-10x slower so, as fast as float32 with one thread
	@# each; the whole suite 377 s -> 135-160 s). Tests that need more threads give their tools OMP_NUM_THREADS.
	OMP_NUM_THREADS=1 $(SWIFT) test --skip-build
	@scripts/fresh-clone-check.sh

test-fresh-clone:
	@scripts/fresh-clone-check.sh

demo: release
	@start=$$(date +%s); $(SWIFT) run -c release --skip-build pretext compare --preset demo --out runs $(DEMO_ARGS); \
	  echo "[make demo] the comparison took $$(( $$(date +%s) - start )) s (set-up and build not counted)"

# Side by side with PyTorch/fastai (a Python peer with the same torch in ~/.cache/pretext/pyenv): one table,
# JSON in benchmarks/results/ (the committed reference: benchmarks/baseline.json). ROUNDS=n for more interleaved rounds.
bench: release
	@py=$$(scripts/pyenv.sh --fastai --lightly); "$$py" benchmarks/bench.py

# Per-op overhead of the Swift layer against a C++ floor and PyTorch Python.
bench-ops: release
	benchmarks/ops/op_overhead.sh

clean:
	rm -rf .build
