"""Snakemake script: generate one shard of one sample."""

import sys

sys.stderr = open(snakemake.log[0], "w")

from mlhep.generate import SampleSpec
from mlhep.generate.stage import generate_shard

generate_shard(
    SampleSpec(**snakemake.params.spec),
    int(snakemake.wildcards.shard),
    snakemake.output.root,
)
