"""Snakemake script: summary.json and comparison plots of all taggers."""

import sys

sys.stderr = open(snakemake.log[0], "w")  # noqa: F821

from mlhep.ml.taggers import summarize_taggers  # noqa: E402

summarize_taggers(snakemake.input.models, snakemake.output.summary, snakemake.output.plots)  # noqa: F821
