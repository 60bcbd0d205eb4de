"""Snakemake script: the bump hunt's summary over seeds and injections, and its figures."""

import sys

sys.stderr = open(snakemake.log[0], "w")

from mlhep.anomaly.stage import summarize

summarize(snakemake.params.settings, snakemake.input.runs, snakemake.output.summary, snakemake.output.plots, snakemake.input.windows)
