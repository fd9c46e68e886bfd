# ClickNBack — build, run and test.   `make help` lists the targets.
#
# Variables (override on the command line or in the environment):
#   PYTHON       interpreter that creates the venv; default: a Python 3.13/3.12 found by scripts/find-python.sh
#   VENV         virtualenv directory (.venv)
#   HOST, PORT   where `make run` listens (127.0.0.1, 8000)
#   PYTEST_ARGS  extra pytest arguments, e.g. PYTEST_ARGS="-x -k payout"; -m "not browser" leaves out the Chromium tests
#   CHROMIUM_PATH  the Chromium the browser tests drive (default: the system one; none found → they skip)
#   BENCH_ARGS   arguments for bench/load.py (make bench); BENCH_SCENARIOS the scenario list
#   DATABASE_URL passed through untouched; `make test` starts a throwaway PostgreSQL when it is unset

SHELL := /bin/bash
.DEFAULT_GOAL := help

# Like `PYTHON ?= ...`, but probed only when a recipe needs it, and then once: scripts/find-python.sh
# looks on PATH, in pyenv's versions (even when no shim selects one), uv's interpreters and the
# usual install paths, and counts a candidate only if it actually runs.
ifndef PYTHON
PYTHON = $(eval PYTHON := $$(shell scripts/find-python.sh))$(PYTHON)
endif

VENV ?= .venv
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=
BENCH_ARGS ?=

VENV_PYTHON := $(VENV)/bin/python
VENV_STAMP := $(VENV)/.installed
MANAGE := $(VENV_PYTHON) manage.py

.PHONY: help venv run test soak fuzz worker bench clean print-python

help:
	@echo "make venv     create $(VENV) and install requirements-dev.txt (again only when requirements change)"
	@echo "make run      migrate, collect static files, seed demo data, serve with gunicorn on http://$(HOST):$(PORT)"
	@echo "make test     the whole pytest suite on PostgreSQL (DATABASE_URL, or a throwaway local cluster)"
	@echo "make soak     the stateful money model, long: SOAK_EXAMPLES (2000) examples of up to SOAK_STEPS (40) steps"
	@echo "make fuzz     schemathesis against /api/v1/schema, long: FUZZ_EXAMPLES (300) per operation and role"
	@echo "make worker   the background job loops (confirm_purchases, process_payouts); WORKER_INTERVAL seconds between passes"
	@echo "make bench    benchmark on a throwaway PostgreSQL: req/s, p50/p99, server CPU and statements per request"
	@echo "make clean    remove $(VENV), db.sqlite3, staticfiles/, .pytest_cache/"
	@echo "make print-python   the interpreter used to create the venv"

print-python:
	@$(CHECK_PYTHON)
	@echo "$(PYTHON)"
	@"$(PYTHON)" --version

# Fails with instructions when no interpreter was found (a recipe line, so only targets that
# need PYTHON fail: an existing venv does not).
define CHECK_PYTHON
if [ -z "$(PYTHON)" ]; then \
	echo "error: no usable Python found (ClickNBack needs Python 3.12 or 3.13). Looked on PATH, in pyenv's" >&2; \
	echo "       and uv's installed versions and in /usr/local/bin, /usr/bin, ~/.local/bin, Homebrew." >&2; \
	echo "       Or install one (apt-get install python3.13 python3.13-venv, brew install python@3.13," >&2; \
	echo "       pyenv install 3.13), or name it: make PYTHON=/path/to/python3.13 $(MAKECMDGOALS)" >&2; \
	exit 1; \
fi
endef

# --- virtualenv -----------------------------------------------------------------------------
venv: $(VENV_STAMP)

$(VENV_PYTHON):
	@$(CHECK_PYTHON)
	@echo "Creating $(VENV) with $(PYTHON) ($$("$(PYTHON)" --version 2>&1))"
	@"$(PYTHON)" -m venv "$(VENV)" || { \
		v=$$("$(PYTHON)" -c 'import sys; print("%d.%d" % sys.version_info[:2])'); \
		echo "error: '$(PYTHON) -m venv' failed; on Debian/Ubuntu install the venv module (apt-get install python$$v-venv)." >&2; \
		rm -rf "$(VENV)"; exit 1; }

$(VENV_STAMP): requirements.txt requirements-dev.txt | $(VENV_PYTHON)
	"$(VENV_PYTHON)" -m pip install --disable-pip-version-check -r requirements-dev.txt
	@touch "$@"

# Which interpreter the venv runs on (pyvenv.cfg names the one that created it).
define SAY_PYTHON
echo "Python: $$("$(VENV_PYTHON)" --version 2>&1 | cut -d' ' -f2) in $(VENV), created from $$(sed -n 's/^executable = //p' "$(VENV)/pyvenv.cfg" 2>/dev/null || echo '?')";
endef

# DEBUG is off by default (settings, R-214), so the secrets must exist. When they are missing
# and DEBUG is unset, the process gets random ones: tokens and admin sessions end with it.
define ENSURE_SECRETS
if [ -z "$${DEBUG:-}" ] && { [ -z "$${SECRET_KEY:-}" ] || [ -z "$${JWT_SIGNING_KEY:-}" ]; }; then \
	gen='import secrets; print(secrets.token_urlsafe(48))'; \
	[ -n "$${SECRET_KEY:-}" ] || export SECRET_KEY="$$("$(VENV_PYTHON)" -c "$$gen")"; \
	[ -n "$${JWT_SIGNING_KEY:-}" ] || export JWT_SIGNING_KEY="$$("$(VENV_PYTHON)" -c "$$gen")"; \
	echo "SECRET_KEY/JWT_SIGNING_KEY not set: using random secrets for this process (tokens do not survive a restart)."; \
fi;
endef

# --- run ------------------------------------------------------------------------------------
run: venv
	@set -e; \
	$(SAY_PYTHON) \
	$(ENSURE_SECRETS) \
	if [ -n "$${DATABASE_URL:-}" ]; then echo "Database: DATABASE_URL from the environment"; \
	else echo "Database: SQLite file db.sqlite3 (set DATABASE_URL to use PostgreSQL)"; fi; \
	$(MANAGE) migrate --noinput; \
	$(MANAGE) collectstatic --noinput --verbosity 0; \
	$(MANAGE) seed_demo; \
	echo ""; \
	echo "ClickNBack is starting on http://$(HOST):$(PORT)"; \
	echo "  API      http://$(HOST):$(PORT)/api/v1"; \
	echo "  Swagger  http://$(HOST):$(PORT)/docs"; \
	echo "  Admin    http://$(HOST):$(PORT)/admin/"; \
	echo ""; \
	exec "$(VENV)/bin/gunicorn" -c gunicorn.conf.py --bind "$(HOST):$(PORT)" clicknback.wsgi:application

# --- test -----------------------------------------------------------------------------------
# pytest exit code 5 means "no tests collected": a broken test path, never a pass.
test: venv
	@set +e; \
	$(SAY_PYTHON) \
	if browser="$$("$(VENV_PYTHON)" -m tests.browser)"; then \
		browser_note="Browser tests: run with $$browser"; \
	else \
		browser_note="NOTE: $$browser"; \
	fi; \
	echo "$$browser_note"; \
	if [ -n "$${DATABASE_URL:-}" ]; then \
		case "$$DATABASE_URL" in \
			postgres://*|postgresql://*|pgsql://*) ;; \
			*) echo "warning: DATABASE_URL is not PostgreSQL; the suite is meant to run on PostgreSQL." >&2 ;; \
		esac; \
		echo "Running the tests against DATABASE_URL from the environment"; \
		"$(VENV)/bin/pytest" $(PYTEST_ARGS); \
	else \
		scripts/with-throwaway-postgres.sh "$(VENV)/bin/pytest" $(PYTEST_ARGS); \
	fi; \
	rc=$$?; \
	echo "$$browser_note"; \
	if [ $$rc -eq 5 ]; then \
		echo "error: pytest collected no tests (exit code 5); treating that as a failure." >&2; \
		exit 1; \
	fi; \
	exit $$rc

# The proofs of issue 9, longer than `make test` runs them. Both print what they ran (examples,
# steps, requests per operation) at the end.
SOAK_EXAMPLES ?= 2000
SOAK_STEPS ?= 40
FUZZ_EXAMPLES ?= 300

soak: venv
	@MONEY_MODEL_EXAMPLES="$(SOAK_EXAMPLES)" MONEY_MODEL_STEPS="$(SOAK_STEPS)" \
		$(MAKE) --no-print-directory test PYTEST_ARGS="tests/test_money_model.py -p no:logging $(PYTEST_ARGS)"

fuzz: venv
	@FUZZ_EXAMPLES="$(FUZZ_EXAMPLES)" \
		$(MAKE) --no-print-directory test PYTEST_ARGS="tests/test_fuzz_api.py -p no:logging $(PYTEST_ARGS)"

# --- background jobs, benchmark -------------------------------------------------------------
# The job loops of rules.md §15, in their own process (not started by `make run`). Several
# copies may run at once, on any hosts: rows are claimed with SKIP LOCKED.
worker: venv
	@set -e; \
	$(ENSURE_SECRETS) \
	echo "Starting confirm_purchases and process_payouts (Ctrl-C stops both after their current item)"; \
	$(MANAGE) confirm_purchases --interval "$${WORKER_INTERVAL:-60}" & confirm=$$!; \
	$(MANAGE) process_payouts --interval "$${WORKER_INTERVAL:-60}" & pay=$$!; \
	trap 'kill -TERM $$confirm $$pay 2>/dev/null' INT TERM; \
	wait $$confirm $$pay

# The issue-7 workloads on a throwaway PostgreSQL (pg_stat_statements preloaded for the statement
# counts), gunicorn with its defaults, 32 clients each; compared with the committed baseline.
BENCH_SCENARIOS ?= ingest:32,wallet:32,offers:32,login:32
BENCH_ARGS ?= --scenario $(BENCH_SCENARIOS) --duration 10 --warmup 2 --show-statements \
	--baseline bench/baseline.json --json bench/results/last.json
bench: venv
	@mkdir -p bench/results
	@if [ -n "$${DATABASE_URL:-}" ]; then \
		bench/run_pg.sh -- $(BENCH_ARGS); \
	else \
		PG_EXTRA_CONF="shared_preload_libraries = 'pg_stat_statements'" \
			scripts/with-throwaway-postgres.sh bench/run_pg.sh -- $(BENCH_ARGS); \
	fi

# --- clean ----------------------------------------------------------------------------------
clean:
	rm -rf "$(VENV)" db.sqlite3 staticfiles .pytest_cache
