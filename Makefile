# speechbrain-asd: one-command set-up, demo and tests.
# `make demo` and `make test` create .venv when missing, install the package
# with its extras, the offline corpus generator (tools/toy_corpus, its own
# distribution: pyworld) and the Debian packages the corpus needs.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.speechbrain-asd-installed
TOY_CORPUS := tools/toy_corpus
SEEDS ?= 1
RESULTS ?= results
DEVICE ?=
JOBS ?= 1
PIPELINE := pipelines/run_pipeline.py
OVERRIDES := pipelines/overrides

.PHONY: all install sysdeps demo edge paper test lint unit integration benchmarks clean

all: test

$(STAMP): setup.py $(TOY_CORPUS)/setup.py
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/python -m pip install --quiet -e $(TOY_CORPUS)
	@touch $(STAMP)

install: $(STAMP) sysdeps

sysdeps:
	@bash scripts/install-system-deps.sh

# The main job: corpus, GE2E -> static AEG -> teacher -> distilled student,
# evaluation, export of the student, one table (results/demo/).
demo: install
	$(BIN)/python $(PIPELINE) $(OVERRIDES)/demo.yaml --results $(RESULTS)

# The demo's student scored by PyTorch, ONNX and int8 ONNX (after make demo).
edge: install
	$(BIN)/python benchmarks/edge.py --model $(RESULTS)/demo/student_model

# The paper's tables; SEEDS="1 2 3" make paper runs three seeds, resumable:
# a new call skips every finished job and prints the time left. On a GPU:
# make paper DEVICE=cuda JOBS=8 (up to 8 jobs at once, each after its needs).
paper: install
	$(BIN)/python $(PIPELINE) $(OVERRIDES)/paper.yaml \
		--results $(RESULTS) --seed $(SEEDS) --jobs $(JOBS) \
		$(if $(DEVICE),--device $(DEVICE))

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: install lint
	$(BIN)/python -m pytest -q

unit: install
	$(BIN)/python -m pytest -q tests/unit speechbrain_asd pipelines \
		$(TOY_CORPUS)/asd_toy_corpus

integration: install
	$(BIN)/python -m pytest -q tests/integration

benchmarks: install
	$(BIN)/python benchmarks/metrics.py
	$(BIN)/python benchmarks/toy_corpus.py
	$(BIN)/python benchmarks/inference.py
	$(BIN)/python benchmarks/training.py

clean:
	rm -rf data $(RESULTS)
