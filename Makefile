# Two commands for a fresh machine: `make run` and `make test`. Both set up first.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.setup-done
# The CPU build of torch used when none is importable. An existing torch (NVIDIA's
# build on a Jetson, a CUDA build elsewhere) is never replaced.
TORCH_SPEC ?= torch==2.13.0
# llama-cpp-python: `try` (make run) builds it in the background while the app opens on
# transformers; `yes` (make test, CI) builds it here and fails set-up if it fails.
LLAMA ?= $(if $(filter true,$(CI)),yes,try)
# The board's stack: Python 3.10 and the lowest torch we support, standing in for the
# torch NVIDIA ships for JetPack 6. Its wheels (about 3 GB, a CUDA build) are kept here.
BOARD_VENV ?= .venv-board
BOARD_TORCH ?= torch==2.6.0
BOARD_WHEELS ?= $(HOME)/.cache/smollm-tui/board-wheels
FIND_PY310 = for p in python3.10 $$HOME/.pyenv/versions/3.10*/bin/python3.10; do \
	  "$$p" -c "" >/dev/null 2>&1 && echo "$$p" && break; done

.PHONY: setup run test test-board lint imports types pytest screenshots bench gpu-check llama-cpp llama-ready clean

setup: $(STAMP)

# tools/setup_env.py never installs, upgrades or downgrades an importable torch (it pins
# the one there while installing), leaves out PyPI's bitsandbytes on aarch64, uses a
# system-wide jetson-stats, and gets llama-cpp-python (the Jetson AI Lab wheel on a Jetson,
# else a build for this machine's GPU or CPU): in the background for make run, detached,
# its log and status in the app's data dir; here for make test and CI.
$(STAMP): pyproject.toml tools/setup_env.py
	$(PYTHON) tools/setup_env.py --venv $(VENV) --torch-spec "$(TORCH_SPEC)" --llama $(LLAMA)
	@touch $(STAMP)

# Get llama-cpp-python here, in the foreground, when it is missing (a background build
# under way is waited for); LLAMA_REBUILD=1 builds it again from source with the flags
# chosen here, whatever is installed (a CPU-only build on a machine with a GPU).
llama-cpp: setup
	$(PYTHON) tools/setup_env.py --venv $(VENV) --llama-only $(if $(LLAMA_REBUILD),--rebuild)

# The tests need llama.cpp (LLAMA=yes): wait for a build `make run` started in the
# background, and build it here if it is still missing; a failed build fails the tests.
llama-ready: setup
	@if [ "$(LLAMA)" = yes ]; then $(PYTHON) tools/setup_env.py --venv $(VENV) --llama-only; fi

run: setup
	$(VENV)/bin/smollm-tui

lint: setup
	$(VENV)/bin/ruff check engine tui tests bench tools
	$(VENV)/bin/ruff format --check engine tui tests bench tools
	@py310=$$($(FIND_PY310)); \
	if [ -n "$$py310" ]; then \
	  "$$py310" -m compileall -q -x '/__pycache__/' engine tui && \
	  echo "byte-compiled engine/ and tui/ with $$py310"; \
	else echo "no python3.10 here: skipped the 3.10 byte-compile"; fi

imports: setup
	$(VENV)/bin/lint-imports

# mypy, pinned in the dev extras, configured in pyproject.toml ([tool.mypy]: engine/ and tui/).
types: setup
	$(VENV)/bin/mypy

# Three test processes (pytest-xdist) on any machine: most tests wait on a worker or a
# subprocess, so a single one kept about one core busy. TEST_WORKERS=0 runs in one process.
TEST_WORKERS ?= 3

pytest: setup llama-ready
	$(PY) -m pytest -n $(TEST_WORKERS) $(PYTEST_ARGS)

# make test, like CI, waits for llama.cpp and fails if it cannot be built (LLAMA=try on the
# command line runs the tests without it).
test pytest test-board: LLAMA = yes
test: lint imports types pytest

# The suite (GPU tests aside) on Python 3.10 with torch 2.6 and the library versions pip
# resolves for 3.10, set up by the same script as `make setup`, which must keep that torch.
# The screen tests (marked `ui` by tests/conftest.py) run in `make test` only, but for a
# chat and an evaluation through the screens (conftest's BOARD_UI_SMOKE).
test-board:
	@py310=$$($(FIND_PY310)); \
	if [ -z "$$py310" ]; then echo "make test-board needs Python 3.10 (python3.10)"; exit 1; fi; \
	if [ ! -x $(BOARD_VENV)/bin/python ]; then "$$py310" -m venv $(BOARD_VENV); fi; \
	mkdir -p $(BOARD_WHEELS); \
	$(BOARD_VENV)/bin/python -m pip download -q -d $(BOARD_WHEELS) "$(BOARD_TORCH)" && \
	$(BOARD_VENV)/bin/python -m pip install -q --find-links $(BOARD_WHEELS) "$(BOARD_TORCH)" && \
	PIP_FIND_LINKS="$$PIP_FIND_LINKS $(BOARD_WHEELS)" "$$py310" tools/setup_env.py \
	  --venv $(BOARD_VENV) --python "$$py310" --llama $(LLAMA) && \
	$(BOARD_VENV)/bin/python -c "import sys, torch, transformers; \
	  print('board stack: Python', sys.version.split()[0], 'torch', torch.__version__, \
	        'transformers', transformers.__version__)" && \
	$(BOARD_VENV)/bin/python -m pytest -m "not gpu and not ui" -q -p no:cacheprovider \
	  -n $(TEST_WORKERS) $(PYTEST_ARGS)

# A fresh app home each time, so the pictures do not depend on (or change) your own data.
screenshots: setup
	SMOLLM_TUI_HOME=$$(mktemp -d) SMOLLM_TUI_BUNDLED_DIR=$(CURDIR)/.cache/bundled \
	  $(PY) -m tui.screenshots screenshots

bench: setup
	$(PY) bench/startup.py
	$(PY) bench/decode.py
	$(PY) bench/eval.py
	$(PY) bench/latency.py
	$(PY) bench/llama_memory.py

# Every check that needs a CUDA GPU, in one go (under 8 minutes), as one table.
gpu-check: setup
	SMOLLM_TUI_BUNDLED_DIR=$(CURDIR)/.cache/bundled $(PY) bench/gpu_check.py

clean:
	rm -rf $(VENV) $(BOARD_VENV) build dist *.egg-info .pytest_cache .ruff_cache
