"""Snakemake script: coffea processing of one sample."""

import sys

sys.stderr = open(snakemake.log[0], "w")  # noqa: F821

from mlhep.process import make_executor, process_sample  # noqa: E402

processing = snakemake.params.processing  # noqa: F821
process_sample(
    snakemake.wildcards.sample,  # noqa: F821
    list(snakemake.input.files),  # noqa: F821
    snakemake.params.selection["channel"],  # noqa: F821
    snakemake.params.selection["options"],  # noqa: F821
    snakemake.params.seed,  # noqa: F821
    make_executor(processing["executor"], snakemake.threads, processing["retries"]),  # noqa: F821
    processing["chunksize"],
    processing["skipbadfiles"],
    dict(snakemake.output),  # noqa: F821
)
