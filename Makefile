# certhygiene: `make demo` runs the seed's whole procedure against the sandbox;
# `make test` sets everything up and runs every check and test.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: all venv lint typecheck unit sanity ansible-lint test demo bench clean

all: test

$(STAMP): pyproject.toml requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[mqtt]' -r requirements-dev.txt
	touch $(STAMP)

venv: $(STAMP)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: venv
	$(BIN)/mypy

unit: venv
	$(BIN)/pytest -q -p no:cacheprovider

sanity: venv
	bash scripts/sanity.sh

ansible-lint: venv
	bash scripts/ansible-lint.sh

test: lint typecheck sanity ansible-lint unit

demo: venv
	bash demo/run.sh

bench: venv
	@for bench in tests/bench/bench_*.py; do echo "== $$bench"; $(BIN)/python $$bench || exit 1; done

clean:
	rm -rf build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache
