# The single entry point: install run test lint fmt bench up down.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: install prerequisites run test test-unit test-integration test-e2e test-faults test-security test-cluster bench profile lint fmt up down clean

install: $(STAMP)

# Reinstall only when the dependency pins change; constraints.txt pins every package.
$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

# GATEWAYS=N: N gateway processes on one port (make run GATEWAYS=2).
run: install
	GATEWAYS=$(or $(GATEWAYS),1) $(PY) deploy/run_local.py

# What the tests run from the OS (Chromium, nginx, promtool, the server binaries), checked
# before anything slow: as root it apt-get installs what is missing, otherwise it stops at
# once with the command to run. First prerequisite of every test target.
prerequisites:
	$(PYTHON) deploy/prerequisites.py

test: prerequisites install
	$(PY) -m pytest

test-unit: prerequisites install
	$(PY) -m pytest tests/unit

test-integration: prerequisites install
	$(PY) -m pytest tests/integration

test-e2e: prerequisites install
	$(PY) -m pytest tests/e2e

test-faults: prerequisites install
	$(PY) -m pytest tests/faults

test-security: prerequisites install
	$(PY) -m pytest tests/security

# Private RabbitMQ clusters, Redis with Sentinels, a Redis Cluster (issue 12).
test-cluster: prerequisites install
	$(PY) -m pytest tests/cluster

# A flash crowd against the engine and the conventional design (needs the three servers).
bench: install
	$(PY) -m bench $(BENCH_ARGS)

# Where the CPU goes for one kind of request: make profile KIND=purchases|polls|sold_out
profile: install
	$(PY) -m bench.profile $(or $(KIND),purchases)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

fmt: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

up:
	docker compose up --build -d

down:
	docker compose down

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
