# Two commands a fresh machine needs (see README):
#   make demo   install everything into .venv and run the credit audit
#   make test   install everything into .venv and run lint, type check and tests
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test install clean

# torch==2.13.0 first: it is the CPU wheel on this project's machines; a bare
# "torch" requirement would resolve to a multi-GB CUDA build.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/fmaudit run audits/credit.yaml

test: $(STAMP)
	$(BIN)/ruff check fmaudit tests
	$(BIN)/mypy
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
