# Lyceum: two commands on a fresh machine.
#   make dev   installs everything and runs the platform with demo data
#   make test  runs ruff, mypy and the whole test suite against real PostgreSQL and Redis
SHELL := /bin/bash
PYTHON ?= python3
export UV_PYTHON_DOWNLOADS ?= never
# uv from PATH when present; otherwise the copy `make uv` installs with pip, run as a module.
UV ?= $(shell command -v uv 2>/dev/null || echo "$(PYTHON) -m uv")

.PHONY: dev test install uv lint typecheck pytest frontend up clean bench loadtest

uv:
	@$(UV) --version >/dev/null 2>&1 || { \
	  echo "Installing uv (the Python package manager) with pip…"; \
	  $(PYTHON) -m pip install --user --quiet uv 2>/dev/null || $(PYTHON) -m pip install --quiet uv; }

install: uv
	$(UV) sync --frozen
	@$(MAKE) --no-print-directory frontend

frontend:
	@if [ -f frontend/package.json ]; then cd frontend && npm ci --no-audit --no-fund && npm run build; \
	else echo "frontend: placeholder (the web app arrives with its own issue)"; fi

dev: install
	$(UV) run lyceum up

up:
	$(UV) run lyceum up

lint: uv
	$(UV) run ruff check .
	$(UV) run ruff format --check .

typecheck: uv
	$(UV) run mypy app jobs

pytest: uv
	$(UV) run pytest -n 2 --dist loadfile

test: install lint typecheck pytest

bench: install
	$(UV) run python benchmarks/foundation.py

loadtest: uv
	$(UV) run locust -f loadtests/locustfile.py --headless -u 50 -r 10 -t 30s --host http://127.0.0.1:8000

clean:
	rm -rf .lyceum .pytest_cache .mypy_cache .ruff_cache
