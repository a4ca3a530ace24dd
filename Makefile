# The commands people actually run. The README's two commands are `make all` and `make test`.
PY ?= python3

.PHONY: all setup demo release book round notebooks test test-fast lint format bench

all: setup demo release book          ## set up, a demo run with grids in out/, the student notebooks, the website

setup:                                 ## install system packages (if root), the package and its tools
	bash scripts/setup.sh

demo:                                  ## a short real training run and generated grids, in out/
	bash scripts/demo.sh

release:                               ## the student notebooks, in autograder/release/ganlab (nbgrader generate_assignment)
	$(MAKE) -C autograder release

book:                                  ## the course website in _build/html (npm assets, demos executed, release notebooks)
	bash book/build.sh

notebooks:                             ## write the reference answers into the source notebooks' answer cells
	$(PY) -m ganlab_solution.notebooks

round:                                 ## a whole grading round on the catalogue of test submissions
	$(PY) autograder/grading_round.py

test: setup                            ## every test (what CI runs)
	bash scripts/run_tests.sh

# The tiers are pytest markers (pyproject.toml); the fast tier needs only the installed package.
FAST_TIER = not slow and not browser and not grading and not training and not dataset

test-fast:                             ## the unit tests (about 35 s of CPU): no dataset, training, grading or browser
	$(PY) -m pytest -q -m "$(FAST_TIER)" --durations=10

lint:
	ruff check . && ruff format --check .

format:
	ruff format . && ruff check --fix .

bench:                                 ## the performance comparisons of bench/
	$(PY) bench/train_throughput.py
	$(PY) bench/generate_latency.py
