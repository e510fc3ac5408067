# Lyceum: two commands on a fresh machine.
#   make dev   installs everything and runs the platform with demo data
#   make test  runs the pre-commit checks (ruff, mypy, licences, hadolint) and the whole test suite
#              against real PostgreSQL and Redis
SHELL := /bin/bash
PYTHON ?= python3
export UV_PYTHON_DOWNLOADS ?= never
# uv from PATH when present; otherwise the copy `make uv` installs with pip, run as a module.
UV ?= $(shell command -v uv 2>/dev/null || echo "$(PYTHON) -m uv")

.PHONY: dev test install uv lint typecheck pytest frontend frontend-test web-dev browser sandbox ops-tools up clean bench loadtest release

uv:
	@$(UV) --version >/dev/null 2>&1 || { \
	  echo "Installing uv (the Python package manager) with pip…"; \
	  $(PYTHON) -m pip install --user --quiet uv 2>/dev/null || $(PYTHON) -m pip install --quiet uv; }

# Quiet: one line per step; a failing step prints its whole output. `make install V=1` shows everything.
install: uv sandbox
	@echo "Installing Python packages (uv sync)…"
	@$(UV) sync --frozen $(if $(V),,-q)
	@$(MAKE) --no-print-directory frontend

# bubblewrap, the operating-system boundary around learners' code (ADR 0007). Without it code grading
# fails closed: code submissions go to a person instead of running unisolated.
sandbox:
	@if command -v bwrap >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "Installing bubblewrap (Debian package) for the code sandbox…"; \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -q bubblewrap >/dev/null 2>&1 || \
	  { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q bubblewrap >/dev/null; }; \
	elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then \
	  sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -q bubblewrap >/dev/null; \
	else echo "code sandbox: bubblewrap is missing and needs root to install (apt-get install bubblewrap);" \
	  "code submissions will go to human review and the sandbox tests will skip"; fi

# The web app's API client is typed from the server's OpenAPI document, exported fresh on every build,
# so a changed API breaks the TypeScript build instead of the browser.
frontend:
	@echo "Building the web app (npm ci, vite build)…"
	@log=$$($(UV) run $(if $(V),,-q) lyceum openapi --output frontend/openapi.json 2>&1) || { echo "$$log"; exit 1; }
	@cd frontend && if [ -n "$(V)" ]; then npm ci --no-audit --no-fund --loglevel=error && npm run build; else \
	  log=$$(npm ci --no-audit --no-fund --loglevel=error 2>&1 && npm run --silent build 2>&1) || { echo "$$log"; exit 1; }; \
	  echo "$$log" | tail -n 1; fi

frontend-test:
	cd frontend && npm test

# Vite with hot reload on :5173, proxying /v1 (and the tutor socket) to a running `lyceum up` on :8000.
web-dev:
	cd frontend && npm run dev

# Debian's Chromium for the browser tests (Playwright cannot download its own browser here).
browser:
	@if [ -x /usr/bin/chromium ] || command -v chromium >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "Installing Chromium (Debian package) for the browser tests…"; \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null 2>&1 || \
	  { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null; }; \
	elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then \
	  sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null; \
	else echo "browser tests: Chromium is missing and needs root to install (apt-get install chromium); they will skip"; fi

# The operator's tools the deployment tests run (deploy/): kubectl renders the Kustomize overlays, promtool
# (Debian package prometheus) checks and unit-tests the alert rules, pgbouncer stands between the app and
# PostgreSQL in the transaction-pooling test. Missing and not installable: those tests skip, naming the tool.
OPS_TOOLS := kubectl:kubectl promtool:prometheus pgbouncer:pgbouncer
ops-tools:
	@missing=""; for pair in $(OPS_TOOLS); do command -v $${pair%%:*} >/dev/null 2>&1 || [ -x /usr/sbin/$${pair%%:*} ] || \
	  missing="$$missing $${pair##*:}"; done; \
	if [ -z "$$missing" ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "Installing the deployment tests' tools (Debian packages:$$missing)…"; \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing >/dev/null 2>&1 || \
	  { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing >/dev/null; } || \
	  echo "deployment tests: could not install$$missing; the tests that need them will skip"; \
	elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then \
	  sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing >/dev/null; \
	else echo "deployment tests:$$missing missing and needs root to install; the tests that need them will skip"; fi

dev: install
	$(UV) run lyceum up

up:
	$(UV) run lyceum up

# Exactly the pre-commit hooks (.pre-commit-config.yaml): ruff, ruff format, mypy, dependency licences,
# hadolint. Contributors run the same on every commit after `uv run pre-commit install`.
lint: uv
	$(UV) run pre-commit run --all-files --show-diff-on-failure

typecheck: uv
	$(UV) run mypy app jobs

pytest: uv
	$(UV) run pytest -n 2 --dist loadfile --durations=25

test: install lint frontend-test browser ops-tools pytest

bench: install
	$(UV) run python benchmarks/foundation.py

loadtest: uv
	$(UV) run locust -f loadtests/locustfile.py --headless -u 50 -r 10 -t 30s --host http://127.0.0.1:8000

# A release: wheel and sdist (each with the built web app inside) and CycloneDX SBOMs of what ships
# (Python runtime packages from the virtualenv, npm packages of the web bundle), all in dist/, named by
# the version in pyproject.toml. Offline: hatchling is a dev dependency, so no build isolation is needed.
VERSION = $(shell sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml | head -n 1)
release: install
	@rm -rf dist && mkdir -p dist
	$(UV) build --no-build-isolation --out-dir dist
	$(UV) run python tools/sbom.py dist/lyceum-$(VERSION)-python.cdx.json
	cd frontend && npx --no-install cyclonedx-npm --omit dev --output-reproducible \
	  --output-file ../dist/lyceum-$(VERSION)-npm.cdx.json
	@ls -l dist

clean:
	rm -rf .lyceum .pytest_cache .mypy_cache .ruff_cache
