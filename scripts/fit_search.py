"""Snakemake script: the tagged resonance search, templates and pyhf fits."""

from mlhep.io import log_to

log_to(snakemake.log[0])

import os

from mlhep.search.stage import SearchSettings, run_search

run_search(
    SearchSettings.from_config(snakemake.params.analysis, snakemake.params.systematics, snakemake.params.seed),
    dict(zip(snakemake.params.signal_samples, snakemake.input.signals)),
    snakemake.input.background,
    snakemake.input.tagger,
    os.path.dirname(snakemake.output.results),
    snakemake.output.plots,
)
