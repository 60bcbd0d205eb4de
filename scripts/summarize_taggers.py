"""Snakemake script: summary.json and comparison plots of all taggers."""

from mlhep.io import log_to

log_to(snakemake.log[0])

from mlhep.ml.stage import summarize_taggers

summarize_taggers(snakemake.input.models, snakemake.output.summary, snakemake.output.plots)
