# Two commands matter: `make up` starts the platform, `make test` checks it.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
UV_VERSION := 0.13.9
BIN := $(VENV)/bin
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)

.PHONY: up install web web-check api-types test lint typecheck clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(BIN)/uv: | $(BIN)/python
	$(BIN)/pip install --quiet uv==$(UV_VERSION)

# The stamp makes a second `make up` skip the install until the lock file changes.
$(VENV)/.installed: pyproject.toml uv.lock | $(BIN)/uv
	$(BIN)/uv sync --frozen --inexact --all-extras
	touch $@

install: $(VENV)/.installed

# The web (Next.js) needs Node.js 20.9+; without it `make up` starts everything else and says so.
WEB := web
NODE_OK := $(shell node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 9) ? 0 : 1)' 2>/dev/null && echo yes)
WEB_SOURCES := $(shell find $(WEB) \( -name node_modules -o -name .next -o -name test-results -o -name e2e \) -prune -o -type f \
	\( -name '*.ts' -o -name '*.tsx' -o -name '*.css' -o -name '*.mjs' -o -name '*.json' -o -path '$(WEB)/public/*' \) \
	! -name '*.test.ts' ! -name next-env.d.ts -print 2>/dev/null)
export NEXT_TELEMETRY_DISABLED := 1

# Stamps: `npm ci` again only when the lock file changes, a build only when a source does.
$(WEB)/node_modules/.installed: $(WEB)/package.json $(WEB)/package-lock.json
	cd $(WEB) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(WEB)/.next/standalone/.built: $(WEB)/node_modules/.installed $(WEB_SOURCES)
	cd $(WEB) && npm run build
	touch $@

# The web's API types: scripts/openapi.py writes both services' OpenAPI documents into the folder $(1)
# (it builds the apps without starting them), openapi-typescript turns each into $(2)/<service>.ts.
# A field with a default is optional, as a request body may leave it out.
define generate-api-types
	$(BIN)/python scripts/openapi.py "$(1)"; \
	mkdir -p "$(2)"; \
	for service in analytics ml; do \
		(cd $(WEB) && npx openapi-typescript "$(1)/$$service.json" --output "$(2)/$$service.ts" --default-non-nullable false >/dev/null); \
	done
endef
API_TYPES := $(CURDIR)/$(WEB)/lib/api

ifeq ($(NODE_OK),yes)
web: $(WEB)/.next/standalone/.built

# Writes web/lib/api/analytics.ts and ml.ts; run it after changing a route or a reply model, and commit them.
api-types: install $(WEB)/node_modules/.installed
	@set -euo pipefail; specs=$$(mktemp -d); trap 'rm -rf "$$specs"' EXIT; \
	$(call generate-api-types,$$specs,$(API_TYPES)); \
	echo "api-types: wrote $(WEB)/lib/api/analytics.ts and ml.ts"

# Type check, lint and unit tests of the web; its end-to-end tests run in pytest (tests/web).
web-check: install $(WEB)/node_modules/.installed
	@set -euo pipefail; specs=$$(mktemp -d); trap 'rm -rf "$$specs"' EXIT; \
	$(call generate-api-types,$$specs,$$specs/ts); \
	diff -r -u $(API_TYPES) "$$specs/ts" >&2 || \
		{ echo "web/lib/api/ is not what the services' OpenAPI documents give: run \`make api-types\` and commit it" >&2; exit 1; }
	cd $(WEB) && npx next typegen >/dev/null && npx tsc --noEmit
	cd $(WEB) && npx eslint --max-warnings=0 .
	cd $(WEB) && npx vitest run
else
web web-check api-types:
	@echo "web: skipped, Node.js 20.9+ is not installed; install it (https://nodejs.org) and run \`make web\`"
endif

up: install web
	$(BIN)/bi-agent up

test: install web web-check
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/ruff format --check src tests bench scripts
	$(BIN)/mypy
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/mypy

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache $(WEB)/node_modules $(WEB)/.next $(WEB)/test-results
