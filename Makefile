# Two commands do all set-up on a fresh machine (see README):
#   make demo   - install into .venv and run the main job: the corpus as an .sgc archive tree, restored as previews
#   make test   - install into .venv with test extras and run the whole test suite
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
# A CPU build of torch that these machines carry; a bare `torch` requirement pulls a multi-GB CUDA build.
TORCH  ?= torch==2.13.0

.PHONY: demo test install lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install -q "$(TORCH)"
	$(BIN)/pip install -q -e ".[test]"
	touch $@

install: $(VENV)/.installed

demo: install
	$(BIN)/python bench/demo.py

test: install
	bash scripts/system-deps.sh
	$(BIN)/python -m pytest -q

lint: install
	$(BIN)/ruff check .

bench: install
	$(BIN)/python bench/bitrate.py
	$(BIN)/python bench/speed.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
