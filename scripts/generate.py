"""Snakemake script: generate one shard of one sample."""

import sys

sys.stderr = open(snakemake.log[0], "w")  # noqa: F821

from mlhep.generate import SampleSpec, generate_shard  # noqa: E402

generate_shard(
    SampleSpec(**snakemake.params.spec),  # noqa: F821
    int(snakemake.wildcards.shard),  # noqa: F821
    snakemake.output.root,  # noqa: F821
)
