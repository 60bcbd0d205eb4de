"""Snakemake script: NSBI of the signal strength against binned pyhf fits."""

import sys

sys.stderr = open(snakemake.log[0], "w")  # noqa: F821

import torch  # noqa: E402

from mlhep.nsbi.stage import run_nsbi  # noqa: E402

torch.set_num_threads(snakemake.threads)  # noqa: F821
run_nsbi(
    snakemake.params.settings,  # noqa: F821
    snakemake.input.signal,  # noqa: F821
    snakemake.input.background,  # noqa: F821
    snakemake.params.systematics,  # noqa: F821
    snakemake.params.seed,  # noqa: F821
    "results/nsbi",
    snakemake.output.plots,  # noqa: F821
)
