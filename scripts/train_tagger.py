"""Snakemake script: train one jet tagger and measure it."""

import sys

sys.stderr = open(snakemake.log[0], "w")  # noqa: F821

import torch  # noqa: E402

from mlhep.ml.taggers import train_tagger  # noqa: E402

torch.set_num_threads(snakemake.threads)  # noqa: F821

train_tagger(
    snakemake.params.kind,  # noqa: F821
    snakemake.params.hyper,  # noqa: F821
    snakemake.input.signal,  # noqa: F821
    snakemake.input.background,  # noqa: F821
    snakemake.params.seed,  # noqa: F821
    snakemake.output.model,  # noqa: F821
)
