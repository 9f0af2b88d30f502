# Every target that needs Python builds the virtual environment first, so a
# fresh clone needs nothing but a Python 3.10+ interpreter and make.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
ASSIGNMENT ?= lstm_scalar
JOBS   ?= 2

.PHONY: venv test demo bench assignments autograder clean

venv: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

test: $(STAMP)
	$(PY) -m pytest -q

demo: $(STAMP)
	$(PY) -m grader.demo

bench: $(STAMP)
	$(PY) bench/run.py

# Regenerate every student notebook from its instructor solution notebook.
assignments: $(STAMP)
	$(PY) -m grader.authoring

# The Gradescope autograder zip of one assignment: make autograder ASSIGNMENT=lstm_scalar
autograder: $(STAMP)
	$(PY) -m grader.gradescope.build $(ASSIGNMENT)

clean:
	rm -rf $(VENV) .cache dist build *.egg-info
