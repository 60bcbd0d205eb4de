"""Snakemake script: NSBI of the signal strength against binned pyhf fits."""

import os

from mlhep.io import log_to

log_to(snakemake.log[0])

import torch

from mlhep.nsbi.stage import run_nsbi

torch.set_num_threads(snakemake.threads)
run_nsbi(
    snakemake.params.settings,
    snakemake.input.signal,
    snakemake.input.background,
    snakemake.params.systematics,
    snakemake.params.seed,
    os.path.dirname(snakemake.output.metrics),
    snakemake.output.plots,
)
