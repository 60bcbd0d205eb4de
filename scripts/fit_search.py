"""Snakemake script: the tagged resonance search, templates and pyhf fits."""

import sys

sys.stderr = open(snakemake.log[0], "w")  # noqa: F821

from mlhep.stats.search import run_search  # noqa: E402

run_search(
    snakemake.params.analysis,  # noqa: F821
    dict(zip(snakemake.params.signal_samples, snakemake.input.signals)),  # noqa: F821
    snakemake.input.background,  # noqa: F821
    snakemake.params.tagger_kind,  # noqa: F821
    snakemake.input.tagger,  # noqa: F821
    snakemake.params.systematics,  # noqa: F821
    snakemake.params.seed,  # noqa: F821
    snakemake.params.fit_dir,  # noqa: F821
    snakemake.output.plots,  # noqa: F821
)
