"""Snakemake script: the run manifest (versions, commit, config, seeds, output hashes)."""

import sys

sys.stderr = open(snakemake.log[0], "w")  # noqa: F821

from mlhep.manifest import write_manifest  # noqa: E402

write_manifest(list(snakemake.input), snakemake.params.config, snakemake.output[0], snakemake.params.checkout)  # noqa: F821
