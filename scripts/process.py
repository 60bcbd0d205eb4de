"""Snakemake script: coffea processing of one sample."""

import os
import sys

from mlhep.process import configured_executor, process_sample

if __name__ == "__main__":  # the dask executor's worker processes import this script again
    sys.stderr = open(snakemake.log[0], "w")  # noqa: F821
    processing = snakemake.params.processing  # noqa: F821
    # absolute paths: a dask cluster's workers (a SLURMCluster's jobs) run in their own directory
    files = [path if "://" in path else os.path.abspath(path) for path in snakemake.input.files]  # noqa: F821
    with configured_executor(processing, snakemake.threads) as executor:  # noqa: F821
        process_sample(
            snakemake.wildcards.sample,  # noqa: F821
            files,
            snakemake.params.selection["channel"],  # noqa: F821
            snakemake.params.selection["options"],  # noqa: F821
            snakemake.params.seed,  # noqa: F821
            executor,
            processing["chunksize"],
            processing["skipbadfiles"],
            dict(snakemake.output),  # noqa: F821
        )
