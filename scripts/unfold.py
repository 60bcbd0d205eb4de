"""Snakemake script: OmniFold and IBU of the Z+jets observables."""

import os
import sys

sys.stderr = open(snakemake.log[0], "w")

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
