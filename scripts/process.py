"""Snakemake script: coffea processing of one sample."""

import os
import sys

from mlhep.io import log_to
from mlhep.process import configured_executor
from mlhep.process.stage import process_sample

if __name__ == "__main__":  # the dask executor's worker processes import this script again
    log_to(snakemake.log[0])
    processing = snakemake.params.processing
    # absolute paths: a dask cluster's workers (a SLURMCluster's jobs) run in their own directory
    files = [path if "://" in path else os.path.abspath(path) for path in snakemake.input.files]
    with configured_executor(processing, snakemake.threads) as executor:
        process_sample(
            snakemake.wildcards.sample,
            files,
            snakemake.params.selection["channel"],
            snakemake.params.selection["options"],
            snakemake.params.seed,
            executor,
            processing["chunksize"],
            processing["skipbadfiles"],
            dict(snakemake.output),
        )
    # Every output is written and closed. In 2 of 5 mini runs on 2026-12-02 this job then died
    # of SIGABRT ("terminate called without an active exception": a native thread destroyed
    # while running) after all three outputs were complete, the known way Arrow's thread pools
    # can end at interpreter teardown (apache/arrow#34314); leaving without the teardown cannot.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
