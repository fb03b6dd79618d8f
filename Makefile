# Two commands matter: `make demo` and `make test`. Everything they need is
# installed into .venv by the targets below; nothing has to be set up by hand.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test bench venv chromium lint clean

$(STAMP): pyproject.toml
	@set -e; \
	if [ ! -x "$(PY)" ]; then \
		python_bin=$$(scripts/find-python); \
		echo "Creating $(VENV) with $$python_bin"; \
		"$$python_bin" -m venv $(VENV); \
	fi; \
	$(PY) -m pip install --quiet --upgrade pip; \
	$(PY) -m pip install --quiet -e '.[test]'; \
	touch $(STAMP)

venv: $(STAMP)

chromium:
	@scripts/ensure-chromium >/dev/null

demo: $(STAMP)
	@scripts/demo

test: $(STAMP) chromium
	@CHROMIUM_PATH="$$(scripts/ensure-chromium)" $(PY) -m pytest $(PYTEST_ARGS)

bench: $(STAMP)
	@scripts/bench

clean:
	rm -rf $(VENV) var .pytest_cache
