# The commands people actually run. The README's two commands are `make all` and `make test`.
PY ?= python3

.PHONY: all setup demo test lint format bench

all: setup demo                       ## set up, then a short training run and generated grids in out/

setup:                                 ## install system packages (if root), the package and its tools
	bash scripts/setup.sh

demo:                                  ## a short real training run and generated grids, in out/
	bash scripts/demo.sh

test: setup                            ## every test (what CI runs)
	bash scripts/run_tests.sh

lint:
	ruff check . && ruff format --check .

format:
	ruff format . && ruff check --fix .

bench:                                 ## the performance comparisons of bench/
	$(PY) bench/train_throughput.py
	$(PY) bench/generate_latency.py
