"""Snakemake script: summary and control plots of all generated samples."""

import sys
from collections import defaultdict
from pathlib import Path

sys.stderr = open(snakemake.log[0], "w")

from mlhep.generate.validate import validate_samples

files_by_sample = defaultdict(list)
for path in snakemake.input.shards:
    files_by_sample[Path(path).parent.name].append(path)
validate_samples(dict(files_by_sample), snakemake.output.summary, snakemake.output.plots)
