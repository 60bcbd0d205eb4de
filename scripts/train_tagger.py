"""Snakemake script: train one jet tagger and measure it."""

import sys

sys.stderr = open(snakemake.log[0], "w")  # noqa: F821

import torch  # noqa: E402

from mlhep.ml.taggers import train_tagger  # noqa: E402
from mlhep.ml.training import checkpoint_folder  # noqa: E402

torch.set_num_threads(snakemake.threads)  # noqa: F821
settings = {"kind": snakemake.params.kind, "hyper": snakemake.params.hyper, "seed": snakemake.params.seed}  # noqa: F821
inputs = [snakemake.input.signal, snakemake.input.background]  # noqa: F821

train_tagger(
    settings["kind"],
    settings["hyper"],
    *inputs,
    settings["seed"],
    snakemake.output.model,  # noqa: F821
    checkpoint_folder("checkpoints/train_tagger", snakemake.wildcards.model, settings, inputs),  # noqa: F821
)
