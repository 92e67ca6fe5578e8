# speechbrain-asd: one-command set-up, demo and tests.
# `make demo` and `make test` create .venv when missing, install the package
# with its extras and the Debian packages the offline corpus needs.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.speechbrain-asd-installed
SEED ?= 1234
DATA ?= data
CORPUS := $(DATA)/toy_corpus
MANIFESTS := $(DATA)/manifests

.PHONY: all install sysdeps demo test lint unit integration benchmarks clean

all: test

$(STAMP): setup.py
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP) sysdeps

sysdeps:
	@bash scripts/install-system-deps.sh

demo: install
	$(BIN)/speechbrain-asd make-toy-corpus $(CORPUS) --seed $(SEED)
	$(BIN)/speechbrain-asd prepare $(CORPUS) $(MANIFESTS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: install lint
	$(BIN)/python -m pytest -q

unit: install
	$(BIN)/python -m pytest -q tests/unit speechbrain_asd

integration: install
	$(BIN)/python -m pytest -q tests/integration

benchmarks: install
	$(BIN)/python benchmarks/metrics.py
	$(BIN)/python benchmarks/toy_corpus.py

clean:
	rm -rf $(DATA) results
