"""Snakemake script: summary and control plots of all generated samples."""

from collections import defaultdict
from pathlib import Path

from mlhep.io import log_to

log_to(snakemake.log[0])

from mlhep.generate.validate import validate_samples

files_by_sample = defaultdict(list)
for path in snakemake.input.shards:
    files_by_sample[Path(path).parent.name].append(path)
validate_samples(dict(files_by_sample), snakemake.output.summary, snakemake.output.plots)
