# FileGate: build, run and check. Needs GNU make and Python 3.11; everything else is installed on demand.
#   make dev     the API on http://127.0.0.1:3000 with an embedded AWS (moto) on :4566; Ctrl-C stops it
#   make test    lint, types, template checks, sam build + arm64/size check, unit, service, local, integration and browser tests
#   make help    every target
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:
MAKEFLAGS += --no-builtin-rules --no-print-directory

# ------------------------------------------------------------------ tools
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3 2>/dev/null)
VENV := .venv
BIN := $(VENV)/bin
VENV_STAMP := $(VENV)/.installed

# SAM CLI and cfn-lint live in their own venv so their pins never clash with ours.
SAM_CLI_VERSION := 1.170.0
CFN_LINT_VERSION := 1.58.0
SAM_VENV := .venv-sam
SAM_BIN := $(SAM_VENV)/bin
SAM_STAMP := $(SAM_VENV)/.installed-sam-$(SAM_CLI_VERSION)-cfn-lint-$(CFN_LINT_VERSION)

# checkov (the template's security checks) in a venv of its own too: its pins are many. Its skips, each with
# its reason, are in infra/checkov.yaml.
CHECKOV_VERSION := 3.3.30
CHECKOV_VENV := .venv-checkov
CHECKOV_BIN := $(CHECKOV_VENV)/bin
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed-checkov-$(CHECKOV_VERSION)

# The Lambda runtime is python3.13: `sam build` without a container needs that interpreter first on PATH.
# pyenv keeps one on these machines; PYTHON313_BIN=/some/bin overrides.
PYENV_ROOT ?= $(shell pyenv root 2>/dev/null || echo "$$HOME/.pyenv")
PYTHON313_BIN ?= $(or $(shell ls -d "$(PYENV_ROOT)"/versions/3.13*/bin 2>/dev/null | grep -v -- '-dev\|t/bin' | sort -V | tail -n 1),$(patsubst %/,%,$(dir $(shell command -v python3.13 2>/dev/null))))

# SAM and cfn-lint are told a region and given dummy credentials so that nothing reaches for AWS.
OFFLINE_AWS := env -u AWS_PROFILE
template build: export AWS_REGION := us-east-1
template build: export AWS_DEFAULT_REGION := us-east-1
template build: export AWS_ACCESS_KEY_ID := testing
template build: export AWS_SECRET_ACCESS_KEY := testing
template build: export AWS_SESSION_TOKEN := testing
template build: export AWS_EC2_METADATA_DISABLED := true
template build: export AWS_CONFIG_FILE := /dev/null
template build: export AWS_SHARED_CREDENTIALS_FILE := /dev/null
export SAM_CLI_TELEMETRY := 0

TEMPLATE := template.yaml
BUILD_DIR := .aws-sam/build
# Only the folders that exist: git keeps no empty folder, so a fresh clone may lack one.
PY_DIRS := $(wildcard layers functions infra tests clients)
PORT ?= 3000
MOTO_PORT ?= 4566

.PHONY: help venv sam-venv checkov-venv dev lint format types template build unit service local integration browser browser-tools test bench clean distclean openapi system-packages deploy deploy-prod sam-local-env smoke

help: ## this list
	@grep -E '^[a-z][a-z-]*:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

# ------------------------------------------------------------------ environments
venv: $(VENV_STAMP) ## .venv (Python 3.11) with the project and its dev tools

# Re-installs only when the project's dependency lists change.
$(VENV_STAMP): pyproject.toml $(wildcard layers/*/requirements.txt) clients/python/pyproject.toml
	@test -n "$(PYTHON)" || { echo "error: Python 3.11 (python3.11 or python3) is not on PATH" >&2; exit 1; }
	@"$(PYTHON)" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
		|| { echo "error: $(PYTHON) is older than Python 3.11" >&2; exit 1; }
	test -x $(BIN)/python || "$(PYTHON)" -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade 'pip>=24'
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/python -m pip install --quiet -e './clients/python[cli]'
	touch $@

sam-venv: $(SAM_STAMP) ## .venv-sam with the pinned AWS SAM CLI and cfn-lint

$(SAM_STAMP):
	@test -n "$(PYTHON)" || { echo "error: Python 3.11 (python3.11 or python3) is not on PATH" >&2; exit 1; }
	test -x $(SAM_BIN)/python || "$(PYTHON)" -m venv $(SAM_VENV)
	$(SAM_BIN)/python -m pip install --quiet --upgrade 'pip>=24'
	$(SAM_BIN)/python -m pip install --quiet 'aws-sam-cli==$(SAM_CLI_VERSION)' 'cfn-lint==$(CFN_LINT_VERSION)'
	rm -f $(SAM_VENV)/.installed-sam-*
	touch $@

checkov-venv: $(CHECKOV_STAMP) ## .venv-checkov with the pinned checkov

$(CHECKOV_STAMP):
	@test -n "$(PYTHON)" || { echo "error: Python 3.11 (python3.11 or python3) is not on PATH" >&2; exit 1; }
	test -x $(CHECKOV_BIN)/python || "$(PYTHON)" -m venv $(CHECKOV_VENV)
	$(CHECKOV_BIN)/python -m pip install --quiet --upgrade 'pip>=24'
	$(CHECKOV_BIN)/python -m pip install --quiet 'checkov==$(CHECKOV_VERSION)'
	rm -f $(CHECKOV_VENV)/.installed-checkov-*
	touch $@

# The browser tests: Debian's Chromium and its driver (apt), axe-core (npm) in a folder of the project.
BROWSER_TOOLS := .browser
AXE_CORE_VERSION := 4.14.1
AXE := $(BROWSER_TOOLS)/node_modules/axe-core/axe.min.js
SUDO := $(shell test "$$(id -u)" = 0 || echo sudo)

browser-tools: $(AXE) ## chromium + chromium-driver (apt-get) and axe-core (npm), each only when missing
	@if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then \
		echo "installing chromium and chromium-driver with apt-get"; \
		$(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver; \
	fi

$(AXE):
	@if ! command -v npm >/dev/null; then \
		echo "installing npm with apt-get"; \
		$(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm; \
	fi
	mkdir -p $(BROWSER_TOOLS)
	npm install --prefix $(BROWSER_TOOLS) --no-audit --no-fund --silent axe-core@$(AXE_CORE_VERSION)
	@test -f $@

# The Debian packages the document and PDF engines run on (LibreOffice, fonts, Tesseract, qpdf, poppler):
# one list, infra/system-packages.txt, that functions/documents/Dockerfile installs too. Only the missing
# ones are installed (apt-get update first); DRY_RUN=1 only names them.
SYSTEM_PACKAGES_LIST ?= infra/system-packages.txt
APT_INSTALL := apt-get install -y -qq --no-install-recommends

system-packages: ## the Debian packages of infra/system-packages.txt (apt-get), each only when missing
	@missing=$$(sed -e 's/#.*//' "$(SYSTEM_PACKAGES_LIST)" | xargs -r -n 1 | while read -r package; do \
		dpkg-query -W -f='$${db:Status-Abbrev}' "$$package" 2>/dev/null | grep -q '^ii' || echo "$$package"; \
	done | xargs); \
	if [ -z "$$missing" ]; then echo "system packages: every one of $(SYSTEM_PACKAGES_LIST) is installed"; \
	elif [ -n "$(DRY_RUN)" ]; then echo "system packages missing: $$missing"; \
	else echo "installing with apt-get: $$missing"; \
		$(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive $(APT_INSTALL) $$missing; \
	fi

# ------------------------------------------------------------------ run
dev: $(VENV_STAMP) system-packages ## run the local stack (API :3000, moto :4566) until Ctrl-C; refuses to start twice
	@exec $(BIN)/filegate-local --port $(PORT) --moto-port $(MOTO_PORT) --env EGRESS_ALLOW_INSECURE_LOOPBACK=true

# ------------------------------------------------------------------ generated files
openapi: $(VENV_STAMP) ## regenerate openapi.json (and the layer's copy) and the SDK's types.py from the apps' models, route table and template
	$(BIN)/python infra/build_openapi.py

# ------------------------------------------------------------------ checks
lint: $(VENV_STAMP) ## ruff check + ruff format --check
	$(BIN)/ruff check $(PY_DIRS)
	$(BIN)/ruff format --check $(PY_DIRS)

format: $(VENV_STAMP) ## apply ruff's fixes and formatting
	$(BIN)/ruff check --fix $(PY_DIRS)
	$(BIN)/ruff format $(PY_DIRS)

types: $(VENV_STAMP) ## mypy --strict on the shared package (config in pyproject.toml)
	$(BIN)/mypy

template: $(SAM_STAMP) $(CHECKOV_STAMP) ## cfn-lint, sam validate --lint and checkov (skips in infra/checkov.yaml), offline
	$(OFFLINE_AWS) $(SAM_BIN)/cfn-lint $(TEMPLATE)
	$(OFFLINE_AWS) $(SAM_BIN)/sam validate --lint --region us-east-1 --template-file $(TEMPLATE)
	$(OFFLINE_AWS) $(CHECKOV_BIN)/checkov --skip-download --config-file infra/checkov.yaml --file $(TEMPLATE)

build: $(SAM_STAMP) $(VENV_STAMP) ## sam build for arm64 (the document image only where Docker runs), then check architectures and sizes
	@test -x "$(PYTHON313_BIN)/python3.13" || { echo "error: no python3.13 found (looked in" \
		"$(PYENV_ROOT)/versions/3.13*/bin and on PATH); install it or set PYTHON313_BIN=/dir/with/python3.13" >&2; exit 1; }
	@excluded=""; if ! docker info >/dev/null 2>&1; then \
		excluded=$$($(BIN)/python infra/build_check.py --list-images $(TEMPLATE)); \
		echo "no Docker: the container-image functions ($$excluded) are left out; sam deploy needs them built with Docker"; \
	fi; \
	excludes=$$(for id in $$excluded; do printf -- ' --exclude %s' "$$id"; done); \
	echo "sam build --template-file $(TEMPLATE) --build-dir $(BUILD_DIR)$$excludes  # no build container; $(PYTHON313_BIN) first on PATH"; \
	PATH="$(abspath $(PYTHON313_BIN)):$$PATH" $(OFFLINE_AWS) \
		$(SAM_BIN)/sam build --template-file $(TEMPLATE) --build-dir $(BUILD_DIR) $$excludes \
	|| { echo "error: sam build failed. 'PythonPipBuilder:ResolveDependencies - {pkg==x.y(sdist)}' means that" \
		"package has no manylinux aarch64 wheel for CPython 3.13: pin a version that ships one." >&2; exit 1; }
	$(BIN)/python infra/build_check.py $(BUILD_DIR)

unit: $(VENV_STAMP) system-packages ## pytest tests/unit
	$(BIN)/pytest tests/unit tests/sdk

service: $(VENV_STAMP) system-packages ## pytest tests/service (each function's handler in-process against moto; under a minute)
	$(BIN)/pytest tests/service

local: $(VENV_STAMP) system-packages ## pytest tests/local (the local stack's own emulation of API Gateway, Lambda and SQS)
	$(BIN)/pytest tests/local

integration: $(VENV_STAMP) system-packages ## pytest tests/integration (through the local stack, over HTTP)
	$(BIN)/pytest tests/integration

browser: $(VENV_STAMP) browser-tools ## pytest tests/browser (the dashboard in Chromium via Selenium, axe-core; screenshots)
	$(BIN)/pytest tests/browser

test: lint types template build unit service local integration browser ## everything CI runs

# ------------------------------------------------------------------ deploy and check a deployed stack (docs/deploy.md)
deploy: build ## sam deploy the dev stack; asks only the sender address and the alarm email (remembered)
	$(BIN)/python infra/deploy.py dev --sam $(SAM_BIN)/sam

deploy-prod: build ## sam deploy the prod stack (shows its change set first); same questions
	$(BIN)/python infra/deploy.py prod --sam $(SAM_BIN)/sam

SAM_LOCAL_MOTO ?= http://127.0.0.1:$(MOTO_PORT)
sam-local-env: $(VENV_STAMP) ## env.json for `sam local start-api --docker-network host` against make dev's moto
	$(BIN)/python -m filegate_local.sam_env --moto-endpoint $(SAM_LOCAL_MOTO) --output env.json

BASE_URL ?=
ADMIN_ENV ?=
smoke: $(VENV_STAMP) ## the README walk-through against BASE_URL (ADMIN_ENV=dev|prod|local), cleaned up after
	@test -n "$(BASE_URL)" && test -n "$(ADMIN_ENV)" \
		|| { echo "usage: make smoke BASE_URL=https://… ADMIN_ENV=dev|prod|local" >&2; exit 2; }
	BASE_URL="$(BASE_URL)" ADMIN_ENV="$(ADMIN_ENV)" $(BIN)/pytest tests/e2e -q -rs

bench: $(VENV_STAMP) system-packages ## run every script in tests/bench; each prints its figures
	@set -e; found=0; for f in tests/bench/*.py; do \
		case "$$(basename "$$f")" in _*|conftest.py) continue;; esac; \
		test -f "$$f" || continue; found=1; \
		echo "== $$f"; $(BIN)/python "$$f"; \
	done; test $$found = 1 || echo "no benchmarks in tests/bench"

clean: ## remove build output and caches (keeps the venvs)
	rm -rf .aws-sam .pytest_cache .mypy_cache .ruff_cache .local-stack $(BROWSER_TOOLS)
	find . -path ./$(VENV) -prune -o -path ./$(SAM_VENV) -prune -o -name __pycache__ -type d -print0 \
		| xargs -0 rm -rf

distclean: clean ## clean, and remove the venvs
	rm -rf $(VENV) $(SAM_VENV) $(CHECKOV_VENV) *.egg-info
