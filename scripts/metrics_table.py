"""Snakemake script: one stage's metrics (JSON or CSV) as an HTML table for the report."""

from mlhep.io import log_to

log_to(snakemake.log[0])

from mlhep.report import write_metrics_table

write_metrics_table(snakemake.input[0], snakemake.output[0])
