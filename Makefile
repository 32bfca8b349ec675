# Two commands: `make run` serves the portal, `make test` proves it. Both set up
# everything they need first, and are quick when it is already there.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := .venv
PY := $(VENV)/bin/python
PORTAL_PORT ?= 8000
export PORTAL_PORT
# pip's own notices (a newer pip exists, running as root) are noise here.
export PIP_DISABLE_PIP_VERSION_CHECK := 1
export PIP_ROOT_USER_ACTION := ignore

.PHONY: help run test bench setup setup-dev lint check-imports format demo clean

help:
	@echo "make run    set up and serve the portal on http://127.0.0.1:$(PORTAL_PORT) with a demo server group"
	@echo "make test   set up (browser included) and run lint, the import check, unit, integration, browser and reliability tests"
	@echo "make bench  run the benchmarks; figures go to bench/results/"

$(PY):
	@python="$$(scripts/find-python)" && echo "Creating $(VENV) with $$python" && "$$python" -m venv $(VENV)
	@$(PY) -m pip install -q --upgrade pip >/dev/null

$(VENV)/.installed: requirements.txt | $(PY)
	$(PY) -m pip install -q -r requirements.txt
	@touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt $(VENV)/.installed
	$(PY) -m pip install -q -r requirements-dev.txt
	@touch $@

setup: $(VENV)/.installed
	@scripts/ensure-postgresql
	@$(PY) manage.py migrate --noinput -v 0
	@$(PY) manage.py bootstrap_admin --password-file "$${PORTAL_VAR_DIR:-var}/admin-password"

setup-dev: setup $(VENV)/.installed-dev
	@scripts/ensure-chromium
	@scripts/ensure-axe

demo: setup
	@$(PY) manage.py localcloud_demo

run: demo
	@$(PY) manage.py portcheck $(PORTAL_PORT)
	@scripts/serve

lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# Imports go one way (drills -> restore_wizard -> portal -> portal.backends -> localcloud),
# with no circle and no import hidden in a function: the rules are in the script's docstring.
check-imports: | $(PY)
	$(PY) scripts/check-imports

format: $(VENV)/.installed-dev
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# The whole suite on SQLite, then the suites whose subject is the portal's own database
# again with PostgreSQL as DATABASE_URL (the script starts and stops that PostgreSQL):
# portal, security and wizard, the drills' claims (a row lock on PostgreSQL, SQLite's
# immediate transactions otherwise), and the browser tests where two sessions meet in it.
# The other browser tests follow a localcloud restore, which the first pass already proves;
# tests/unit touches no database.
PG_SUITES := tests/portal tests/security tests/wizard tests/browser/test_two_browsers.py \
	tests/browser/test_shell.py tests/drills/test_claims.py
test: setup-dev lint check-imports
	$(VENV)/bin/pytest
	scripts/with-portal-postgres $(VENV)/bin/pytest $(PG_SUITES)

# The portal's own database is PostgreSQL here, as in a deployment that takes load.
bench: setup-dev
	scripts/with-portal-postgres $(PY) bench/run.py $(BENCH)

clean:
	rm -rf $(VENV) var staticfiles test-results
