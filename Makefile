# videokit: `make demo` and `make test` set everything up on a fresh Debian/Ubuntu machine.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT    := ffmpeg tesseract-ocr redis-server fonts-dejavu-core
LIB    ?= demo/library

.PHONY: demo test system venv-demo venv-dev lint bench clean

## demo: install (apt ffmpeg/tesseract, a virtualenv), generate sample videos, run the pipeline, search
demo: venv-demo
	scripts/make_sample.sh demo/media
	$(BIN)/videokit --library $(LIB) run demo/media
	$(BIN)/videokit --library $(LIB) search --json
	$(BIN)/videokit --library $(LIB) search harbour

## test: install everything (incl. torch CPU, transformers, celery, redis) and run lint + the test suite
test: venv-dev
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/python -m pytest -q -p no:cacheprovider $(PYTEST_ARGS)

system:
	@missing=""; \
	for tool in ffmpeg:ffmpeg tesseract:tesseract-ocr redis-server:redis-server fc-match:fonts-dejavu-core; do \
	  command -v $${tool%%:*} >/dev/null 2>&1 || missing="$$missing $${tool#*:}"; \
	done; \
	$(PYTHON) -c "import ensurepip, venv" >/dev/null 2>&1 || missing="$$missing python3-venv"; \
	if [ -n "$$missing" ]; then \
	  echo "installing system packages:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing fontconfig >/dev/null; \
	fi

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# The demo needs no torch: the default analyzer is the CPU-only builtin one.
venv-demo: system $(BIN)/python
	@[ -f $(VENV)/.demo ] && [ $(VENV)/.demo -nt pyproject.toml ] || \
	  ($(BIN)/pip install -q -c constraints.txt -e ".[builtin]" && touch $(VENV)/.demo)

# torch first (the CPU wheel), then the rest constrained so nothing pulls a CUDA build.
venv-dev: system $(BIN)/python
	@[ -f $(VENV)/.dev ] && [ $(VENV)/.dev -nt pyproject.toml ] || \
	  ($(BIN)/pip install -q torch==2.13.0 && \
	   $(BIN)/pip install -q -c constraints.txt -e ".[all,dev]" && touch $(VENV)/.dev $(VENV)/.demo)

lint: venv-dev
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

bench: venv-dev
	$(BIN)/python benchmarks/scenes.py
	$(BIN)/python benchmarks/analysis.py
	$(BIN)/python benchmarks/retag.py
	$(BIN)/python benchmarks/workers.py

clean:
	rm -rf demo build dist *.egg-info
