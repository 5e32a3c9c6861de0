# Two entry points for a fresh machine (see README): `make demo` and `make test`;
# `make test-fast` is the edit-test loop; `make docs` builds the documentation site into site/.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: demo test test-fast lint bench docs docs-serve clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[test,docs]'
	touch $@

demo: $(VENV)/.installed  ## install, then train + evaluate a VAE on the embedded MNIST subset
	$(VENV)/bin/vaelab demo

test: $(VENV)/.installed  ## install with test extras, then lint, check the layers and run the test suite
	$(PY) -m ruff check .
	$(VENV)/bin/lint-imports
	$(PY) -m pytest -q --durations=10

test-fast: $(VENV)/.installed  ## the edit-test loop: lint, the layers, then every test not marked slow (1–4 min on 2 shared cores)
	$(PY) -m ruff check .
	$(VENV)/bin/lint-imports
	$(PY) -m pytest -q -m "not slow" --durations=5

bench: $(VENV)/.installed  ## training throughput: vaelab vs hand-written PyTorch
	$(PY) bench/throughput.py

docs: $(VENV)/.installed  ## build the documentation site into site/ (strict: a warning or broken link fails; ~15 s)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict

docs-serve: $(VENV)/.installed  ## read the site at http://127.0.0.1:8000/, rebuilt as docs/ and the code change
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs serve --watch vaelab

clean:
	rm -rf $(VENV) runs site .pytest_cache .ruff_cache
