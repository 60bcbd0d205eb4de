"""Snakemake script: generate one shard of one sample."""

from mlhep.io import log_to

log_to(snakemake.log[0])

from mlhep.generate import SampleSpec
from mlhep.generate.stage import generate_shard

generate_shard(
    SampleSpec(**snakemake.params.spec),
    int(snakemake.wildcards.shard),
    snakemake.output.root,
)
