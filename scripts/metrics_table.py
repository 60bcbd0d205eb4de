"""Snakemake script: one stage's metrics (JSON or CSV) as an HTML table for the report."""

import sys

sys.stderr = open(snakemake.log[0], "w")

from mlhep.report import write_metrics_table

write_metrics_table(snakemake.input[0], snakemake.output[0])
