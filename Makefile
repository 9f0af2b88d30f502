# Every target that needs Python builds the virtual environment first, so a
# fresh clone needs nothing but a Python 3.10+ interpreter and make.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
ASSIGNMENT ?= lstm_scalar
JOBS   ?= 2

.PHONY: venv test demo bench bench-otter assignments autograder clean report-check security

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

# Otter-Grader (the `bench` extra), only to time `otter run` against us: in a venv of its own, so that
# `make test` never has it. Installs it, then runs the comparison; `make bench` includes it from then on.
BENCH_VENV  ?= .venv-bench
BENCH_STAMP := $(BENCH_VENV)/.installed

$(BENCH_STAMP): requirements.txt requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --quiet --disable-pip-version-check \
		-c requirements.txt -c requirements-dev.txt -e '.[bench]'
	touch $@

bench-otter: $(STAMP) $(BENCH_STAMP)
	$(PY) bench/run.py --only otter

# Regenerate every student notebook from its instructor solution notebook.
assignments: $(STAMP)
	$(VENV)/bin/lstm-grader assign

# The Gradescope autograder zip of one assignment: make autograder ASSIGNMENT=lstm_scalar
autograder: $(STAMP)
	$(VENV)/bin/lstm-grader autograder $(ASSIGNMENT)

# Grade the Gradescope-export fixture, write the class report and the feedback
# files, and check in a real headless Chromium that the pages show their plots.
# Installs Debian's chromium when it is missing (needs root); `make test` never does.
REPORT_DIR := out/report-check
report-check: $(STAMP)
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
		{ echo "installing chromium (apt-get)"; apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }
	rm -rf $(REPORT_DIR) && mkdir -p $(REPORT_DIR)
	$(VENV)/bin/lstm-grader grade lstm_scalar tests/fixtures/gradescope_export --jobs $(JOBS) --quiet \
		--json $(REPORT_DIR)/reports.json --csv $(REPORT_DIR)/gradebook.csv --feedback $(REPORT_DIR)/feedback
	$(VENV)/bin/lstm-grader report $(REPORT_DIR)/reports.json --out $(REPORT_DIR)/class.html
	$(PY) -m grader.classreport check $(REPORT_DIR)/class.html $(REPORT_DIR)/feedback/*.html

# Every attack of tests/fixtures/hostile/ graded with each isolation layer alone
# and with all of them: a table of attack, layers that stop it, score, verdict.
# Then a second table: the whole corpus graded outside the test process, by the
# CLI as an unprivileged user and by run_autograder in the Gradescope stand-in
# (`make test` runs the stand-in on one attack per class only). Fails if either does.
security: $(STAMP)
	@status=0; \
	$(PY) -m grader.sandbox.security_table || status=1; \
	LSTM_HOSTILE_FULL=1 $(PY) -m pytest -q -p no:cacheprovider tests/grader/test_hostile_batch.py \
		tests/grader/gradescope/test_hostile_corpus.py || status=1; \
	exit $$status

clean:
	rm -rf $(VENV) $(BENCH_VENV) .cache dist build *.egg-info
