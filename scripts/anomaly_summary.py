"""Snakemake script: the bump hunt's summary over seeds and injections, and its figures."""

from mlhep.io import log_to

log_to(snakemake.log[0])

from mlhep.anomaly.stage import summarize

summarize(snakemake.params.settings, snakemake.input.runs, snakemake.output.summary, snakemake.output.plots, snakemake.input.windows)
