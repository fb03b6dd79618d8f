# Two commands matter: `make demo` and `make test`. Everything they need is
# installed into .venv by the targets below; nothing has to be set up by hand.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
LOCK := requirements.lock

.PHONY: demo test test-sqlite test-services test-rq bench lighthouse venv chromium services lint format lock lock-upgrade clean

# .venv holds exactly what requirements.lock pins, every file checked against the lock's
# hashes (--require-hashes: pip refuses a file whose hash is not listed, and wheels only, so
# nothing is built), then the project itself, editable and without dependencies. The lock
# also pins pip (the venv's own pip installs it, in hash mode like the rest), setuptools
# (so the editable install builds offline, without isolation) and uv (for `make lock`).
$(STAMP): pyproject.toml $(LOCK)
	@set -e; \
	if [ ! -x "$(PY)" ]; then \
		python_bin=$$(scripts/find-python); \
		echo "Creating $(VENV) with $$python_bin"; \
		"$$python_bin" -m venv $(VENV); \
	fi; \
	$(PY) scripts/lock --check || echo "Installing requirements.lock as it is."; \
	$(PY) -m pip install --quiet --require-hashes --no-deps --only-binary :all: -r $(LOCK); \
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .; \
	touch $(STAMP)

venv: $(STAMP)

# requirements.lock from pyproject.toml (scripts/lock, with uv): `make lock` after changing
# the dependencies there keeps every pin that still fits; `make lock-upgrade` takes the
# newest versions pyproject.toml's ranges allow.
lock: $(STAMP)
	@$(PY) scripts/lock

lock-upgrade: $(STAMP)
	@$(PY) scripts/lock --upgrade

chromium:
	@scripts/ensure-chromium >/dev/null

services:
	@scripts/ensure-services

demo: $(STAMP)
	@scripts/demo

# `make test` runs the suite twice: everything on SQLite and the per-process memory
# cache (the defaults), then again on real PostgreSQL and Redis servers that
# tests/support/services.py starts and stops, the tests whose behaviour can differ there;
# then, on those servers again, the background workers' tests with the RQ task backend
# (test-rq, below).
# The rule: a test module is marked `postgres_redis` (pytestmark) when it exercises
# queries, transactions, row locks, unique constraints, sessions or the shared cache;
# folders do not decide. PYTEST_ARGS applies to both runs (the services run still keeps
# to the marker); SERVICES_PYTEST_ARGS replaces the services run's arguments whole.
SERVICES_PYTEST_ARGS ?= -m postgres_redis $(PYTEST_ARGS)
# Both runs spread their tests over pytest-xdist workers, each test module whole on one
# worker (--dist loadfile: a module's own simulator, seeded with hundreds of items, then
# starts once, and its tests run in their order as they do alone). Each worker has its own
# test database (pytest-django's _gwN suffix), Redis database (tests/settings.py) and
# servers on free ports. Four workers on two cores, as measured (README): most tests wait
# on the simulator, subprocesses and Chromium. `make test XDIST=` runs one process.
XDIST ?= -n 4 --dist loadfile

test: test-sqlite test-services test-rq

test-sqlite: $(STAMP) chromium services
	@echo "== The whole suite on SQLite and the local memory cache =="
	@CHROMIUM_PATH="$$(scripts/ensure-chromium)" $(PY) -m pytest $(XDIST) $(PYTEST_ARGS)

test-services: $(STAMP) chromium services
	@echo "== The tests marked postgres_redis, on PostgreSQL and Redis =="
	@CHROMIUM_PATH="$$(scripts/ensure-chromium)" $(PY) -m tests.support.services -- $(PY) -m pytest $(XDIST) $(SERVICES_PYTEST_ARGS) \
		|| { rc=$$?; [ $$rc -eq 5 ] && echo "(none of these tests is marked postgres_redis)" || exit $$rc; }

# The tests of the real background workers (marked `tasks_rq`) once more, with the RQ task
# backend (TASKS_BACKEND=rq), on private PostgreSQL and Redis servers as test-services: the
# run tests pass on both backends. Ten tests, about three minutes in one process.
test-rq: $(STAMP) services
	@echo "== The tests marked tasks_rq, with the RQ task backend =="
	@TASKS_BACKEND=rq $(PY) -m tests.support.services -- $(PY) -m pytest $(XDIST) -m tasks_rq $(PYTEST_ARGS) \
		|| { rc=$$?; [ $$rc -eq 5 ] && echo "(none of these tests is marked tasks_rq)" || exit $$rc; }

# Lint: ruff's checks and ruff's formatting, everywhere (`make format` applies both fixes);
# whether requirements.lock was made from pyproject.toml's dependencies as they are; mypy
# with django-stubs over dashboard/ and simulator/; no function of worse complexity than
# radon's C (xenon); no view longer than 40 lines (scripts/check-views); no migration that
# breaks the release before it (scripts/lint-migrations, on a private PostgreSQL).
lint: $(STAMP) services
	@$(PY) -m ruff check .
	@$(PY) -m ruff format --check .
	@$(PY) scripts/lock --check
	@$(PY) -m mypy
	@$(PY) -m xenon --max-absolute C dashboard simulator
	@$(PY) scripts/check-views
	@$(PY) scripts/lint-migrations

format: $(STAMP)
	@$(PY) -m ruff check --fix .
	@$(PY) -m ruff format .

bench: $(STAMP)
	@scripts/bench

# Lighthouse's accessibility score of History and Generate (needs node/npm; not in `make test`).
lighthouse: $(STAMP) chromium
	@$(PY) scripts/lighthouse

clean:
	rm -rf $(VENV) var .pytest_cache
