# certhygiene: `make demo` runs the seed's whole procedure against the sandbox;
# `make test` sets everything up and runs every check and test.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: all venv tools changelog mosquitto lint typecheck compat39 unit crypto-matrix sanity ansible-lint test demo bench clean

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

# Module code runs on managed nodes from Python 3.9 (RHEL 9): no syntax or library call newer than that.
compat39: venv
	$(BIN)/vermin -t=3.9- --no-tips --violations --no-parse-comments plugins

# External tools some tests drive: Microsoft's SARIF validator (npm) and galaxy-importer (own venv).
tools: venv
	bash scripts/gitops-tools.sh

changelog: venv
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/antsibull-changelog release --reload-plugins --update-existing

unit: venv tools
	$(BIN)/pytest -q -p no:cacheprovider -m "not crypto_matrix"

# The engine and the modules under each distribution's cryptography (3.4.8 .. newest, Debian's python3-cryptography)
# and a node below the floor; environments cached in ~/.cache/certhygiene/crypto-matrix.
crypto-matrix: venv
	bash scripts/crypto-matrix.sh

sanity: venv
	bash scripts/sanity.sh

ansible-lint: venv
	bash scripts/ansible-lint.sh

test: lint typecheck compat39 sanity ansible-lint unit crypto-matrix

demo: venv mosquitto
	bash demo/check_demo.sh
	bash demo/run.sh

# The sandbox drives a real mosquitto broker: install it where we can, say how where we cannot.
mosquitto:
	@command -v mosquitto >/dev/null 2>&1 || test -x /usr/sbin/mosquitto || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mosquitto; \
	  else \
	    echo "make demo needs mosquitto: run 'sudo apt-get install -y mosquitto' (Debian/Ubuntu) and try again" >&2; exit 1; \
	  fi; }

bench: venv
	@for bench in tests/bench/bench_*.py; do echo "== $$bench"; $(BIN)/python $$bench || exit 1; done

clean:
	rm -rf build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache
