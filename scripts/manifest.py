"""Snakemake script: the run manifest (versions, commit, config, seeds, output hashes)."""

from mlhep.io import log_to

log_to(snakemake.log[0])

from mlhep.manifest import write_manifest

write_manifest(list(snakemake.input), snakemake.params.config, snakemake.output[0], snakemake.params.checkout)
