# The two commands of the README: `make demo` and `make test`. Both set up .venv first.
VENV_PY := .venv/bin/python

.PHONY: setup demo test lint
setup:
	@bash scripts/setup.sh

demo: setup
	$(VENV_PY) train.py experiment=demo

test: setup
	$(VENV_PY) -m pytest -q

lint: setup
	.venv/bin/ruff check . && .venv/bin/ruff format --check .
