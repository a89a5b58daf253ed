# The README's two commands: `make demo` (set up, run the main job) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint format bench clean

# torch (needed from the training extra on) is pinned through constraints.txt so pip takes
# the local CPU wheel and never a multi-GB CUDA build. The gguf extra compiles llama.cpp
# (~6 min, cached by pip afterwards), portable: the native build crashes on K-quants here.
$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	CMAKE_ARGS="-DGGML_NATIVE=OFF" $(BIN)/python -m pip install -q -c constraints.txt \
		-e '.[train,gguf,dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/align demo

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(STAMP)
	$(BIN)/python scripts/bench_light.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info build
