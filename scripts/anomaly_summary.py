"""Snakemake script: the bump hunt's summary over seeds and injections, and its figures."""

import sys

sys.stderr = open(snakemake.log[0], "w")  # noqa: F821

from mlhep.anomaly.stage import summarize  # noqa: E402

summarize(snakemake.params.settings, snakemake.input.runs, snakemake.output.summary, snakemake.output.plots, snakemake.input.windows)  # noqa: F821
