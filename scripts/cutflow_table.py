"""Snakemake script: one CSV table of every sample's cutflow."""

import sys

sys.stderr = open(snakemake.log[0], "w")

from mlhep.process import cutflow_table

cutflow_table(snakemake.input.cutflows, snakemake.output.table)
