"""Snakemake script: train one jet tagger and measure it."""

from mlhep.io import log_to

log_to(snakemake.log[0])

import torch

from mlhep.ml.stage import train_tagger
from mlhep.ml.training import checkpoint_folder

torch.set_num_threads(snakemake.threads)
settings = {"kind": snakemake.params.kind, "hyper": snakemake.params.hyper, "seed": snakemake.params.seed}
inputs = [snakemake.input.signal, snakemake.input.background]

train_tagger(
    settings["kind"],
    settings["hyper"],
    *inputs,
    settings["seed"],
    snakemake.output.model,
    checkpoint_folder("checkpoints/train_tagger", snakemake.wildcards.model, settings, inputs),
)
