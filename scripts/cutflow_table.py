"""Snakemake script: one CSV table of every sample's cutflow."""

from mlhep.io import log_to

log_to(snakemake.log[0])

from mlhep.process import cutflow_table

cutflow_table(snakemake.input.cutflows, snakemake.output.table)
