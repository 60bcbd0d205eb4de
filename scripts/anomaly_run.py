"""Snakemake script: one bump-hunt run (every method) at one injection and seed, in the signal
region or in one sliding window."""


from mlhep.io import log_to

log_to(snakemake.log[0])

import torch

from mlhep.anomaly.stage import run_bump_hunt

torch.set_num_threads(snakemake.threads)
run_bump_hunt(
    snakemake.params.settings,
    snakemake.input.signal,
    snakemake.input.background,
    snakemake.params.injection,
    snakemake.params.seed,
    snakemake.params.global_seed,
    snakemake.output.run,
    snakemake.output.scores,
    analysis_region=snakemake.params.region,
)
