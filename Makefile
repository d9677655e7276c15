# The README's two commands: `make demo` (the main job) and `make test` (the tests).
# Both set up a fresh machine themselves (Debian packages, libtorch, build).
SWIFT ?= swift

.PHONY: setup build release test demo bench clean

setup:
	@scripts/setup.sh

build: setup
	$(SWIFT) build

release: setup
	$(SWIFT) build -c release

test: setup
	@start=$$(date +%s); $(SWIFT) build --build-tests; echo "[make test] build took $$(( $$(date +%s) - start )) s"
	$(SWIFT) test --skip-build

demo: release
	$(SWIFT) run -c release --skip-build torch-smoke
	@mkdir -p runs/demo
	$(SWIFT) run -c release --skip-build train-synthetic --epochs 6 --items 2048 --checkpoint runs/demo/checkpoint.safetensors --out runs/demo/model.safetensors --logdir runs/demo

bench: release
	benchmarks/op_overhead.sh
	benchmarks/models.sh
	benchmarks/data.sh

clean:
	rm -rf .build
