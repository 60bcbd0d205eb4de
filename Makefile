# Two commands: `make run` (the default analysis) and `make test`.
VENV ?= .venv
PYTHON ?= python3
STAMP := $(VENV)/.installed
CORES ?= all

.PHONY: run test mini bench mutation report clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[test]'
	touch $(STAMP)

# the analysis, then its HTML report (results/report.html)
run: $(STAMP)
	$(VENV)/bin/snakemake --cores $(CORES) --workflow-profile profiles/default
	$(VENV)/bin/snakemake --report results/report.html

mini: $(STAMP)
	$(VENV)/bin/snakemake --cores $(CORES) --workflow-profile profiles/default --configfile config/mini.yaml

# on every core (pytest-xdist), a test file per worker at a time (pyproject's addopts): the tests
# of a file share its fixtures and folders (test_workflow.py the mini run's); the slowest 25 are listed
test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/pytest -n auto --durations=25

# mutation testing of the numeric core against each module's fast tests (slow: not part of `make test`)
mutation: $(STAMP)
	$(VENV)/bin/pip install --quiet -e '.[mutation]'
	nice -n 5 $(VENV)/bin/python -m mlhep.bench mutation

report: $(STAMP)
	$(VENV)/bin/snakemake --report results/report.html

bench: $(STAMP)
	$(VENV)/bin/python -m mlhep.bench generate

clean:
	rm -rf results data logs benchmarks checkpoints .snakemake
