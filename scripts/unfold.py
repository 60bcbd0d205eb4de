"""Snakemake script: OmniFold and IBU of the Z+jets observables."""

import sys

sys.stderr = open(snakemake.log[0], "w")  # noqa: F821

import torch  # noqa: E402

from mlhep.unfold.stage import run_unfolding  # noqa: E402

torch.set_num_threads(snakemake.threads)  # noqa: F821
run_unfolding(
    snakemake.params.settings,  # noqa: F821
    snakemake.input.simulation,  # noqa: F821
    snakemake.input.data,  # noqa: F821
    snakemake.params.seed,  # noqa: F821
    "results/unfolding",
    snakemake.output.plots,  # noqa: F821
    alternative_path=snakemake.input.alternative[0] if snakemake.input.alternative else None,  # noqa: F821
)
