# Two commands: `make run` (the default analysis) and `make test`.
VENV ?= .venv
PYTHON ?= python3
STAMP := $(VENV)/.installed
CORES ?= all

.PHONY: run test mini bench report clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/snakemake --cores $(CORES) --workflow-profile profiles/default

mini: $(STAMP)
	$(VENV)/bin/snakemake --cores $(CORES) --workflow-profile profiles/default --configfile config/mini.yaml

test: $(STAMP)
	$(VENV)/bin/pytest

report: $(STAMP)
	$(VENV)/bin/snakemake --report results/report.html

bench: $(STAMP)
	$(VENV)/bin/python -m mlhep.bench generate

clean:
	rm -rf results data logs benchmarks checkpoints .snakemake
