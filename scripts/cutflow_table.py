"""Snakemake script: one CSV table of every sample's cutflow."""

import sys

sys.stderr = open(snakemake.log[0], "w")  # noqa: F821

from mlhep.process import cutflow_table  # noqa: E402

cutflow_table(snakemake.input.cutflows, snakemake.output.table)  # noqa: F821
