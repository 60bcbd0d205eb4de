"""Snakemake script: one bump-hunt run (every method) at one injection and seed, in the signal
region or in one sliding window."""

import sys

sys.stderr = open(snakemake.log[0], "w")  # noqa: F821

import torch  # noqa: E402

from mlhep.anomaly.stage import run_bump_hunt  # noqa: E402

torch.set_num_threads(snakemake.threads)  # noqa: F821
run_bump_hunt(
    snakemake.params.settings,  # noqa: F821
    snakemake.input.signal,  # noqa: F821
    snakemake.input.background,  # noqa: F821
    snakemake.params.injection,  # noqa: F821
    snakemake.params.seed,  # noqa: F821
    snakemake.params.global_seed,  # noqa: F821
    snakemake.output.run,  # noqa: F821
    snakemake.output.scores,  # noqa: F821
    analysis_region=snakemake.params.region,  # noqa: F821
)
