# The README's two commands: `make demo` (the main job) and `make test` (the tests).
# Both set up a fresh machine themselves (Debian packages, libtorch, build).
SWIFT ?= swift

.PHONY: setup build release test demo bench clean

setup:
	@scripts/setup.sh

build: setup
	$(SWIFT) build

release: setup
	@start=$$(date +%s); $(SWIFT) build -c release; echo "[make] set-up done; release build took $$(( $$(date +%s) - start )) s"

test: setup
	@start=$$(date +%s); $(SWIFT) build --build-tests; echo "[make test] build took $$(( $$(date +%s) - start )) s"
	$(SWIFT) test --skip-build

demo: release
	@start=$$(date +%s); $(SWIFT) run -c release --skip-build pretext experiment --preset demo --out runs; \
	  echo "[make demo] the experiment took $$(( $$(date +%s) - start )) s (set-up and build not counted)"

bench: release
	benchmarks/op_overhead.sh
	benchmarks/models.sh
	benchmarks/data.sh

clean:
	rm -rf .build
