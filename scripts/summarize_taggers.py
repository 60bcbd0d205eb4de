"""Snakemake script: summary.json and comparison plots of all taggers."""

import sys

sys.stderr = open(snakemake.log[0], "w")

from mlhep.ml.stage import summarize_taggers

summarize_taggers(snakemake.input.models, snakemake.output.summary, snakemake.output.plots)
