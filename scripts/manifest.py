"""Snakemake script: the run manifest (versions, commit, config, seeds, output hashes)."""

import sys

sys.stderr = open(snakemake.log[0], "w")

from mlhep.manifest import write_manifest

write_manifest(list(snakemake.input), snakemake.params.config, snakemake.output[0], snakemake.params.checkout)
