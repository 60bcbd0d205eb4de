"""Snakemake script: OmniFold and IBU of the Z+jets observables."""

import os

from mlhep.io import log_to

log_to(snakemake.log[0])

import torch

from mlhep.unfold.stage import run_unfolding

torch.set_num_threads(snakemake.threads)
run_unfolding(
    snakemake.params.settings,
    snakemake.input.simulation,
    snakemake.input.data,
    snakemake.params.seed,
    os.path.dirname(snakemake.output.metrics),
    snakemake.output.plots,
    alternative_path=snakemake.input.alternative[0] if snakemake.input.alternative else None,
)
