"""Snakemake script: one stage's metrics (JSON or CSV) as an HTML table for the report."""

import sys

sys.stderr = open(snakemake.log[0], "w")  # noqa: F821

from mlhep.report import write_metrics_table  # noqa: E402

write_metrics_table(snakemake.input[0], snakemake.output[0])  # noqa: F821
