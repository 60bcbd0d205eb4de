"""The mini DAG in a fresh copy of the workflow, started by tests/conftest.py at the beginning of a
session so that it runs while the other tests do. Through SLURM with README's cluster commands
when a cluster answers (one generation job cancelled midway and resubmitted), else locally.

    python tests/mini_run.py WORKDIR RECORD

RECORD (JSON, written last, atomically): returncode, the end of the output, the SLURM run's
record (None for a local run), why it ran locally and the SLURM run's error if it failed.
MLHEP_TESTS_NO_SLURM=1 keeps it (and the other cluster tests) off a cluster."""

import shutil
import signal
import sys
import traceback
from pathlib import Path

from mlhep.io import write_json

SLURM_TIMEOUT = 1800  # queueing included; the tests wait up to conftest.MINI_RUN_TIMEOUT


def run(workdir):
    """Through SLURM where a cluster answers; locally otherwise, or when the SLURM run fails (its
    error is kept: the SLURM test reports it, the other tests use the local run)."""
    from conftest import snakemake_mini
    from test_slurm import NO_SLURM, fresh_workdir, run_on_slurm

    fresh_workdir(workdir)
    local_because, slurm_error = NO_SLURM, None
    if NO_SLURM is None:
        try:
            return {"returncode": 0, "output": "", "slurm": run_on_slurm(workdir, timeout=SLURM_TIMEOUT), "local_because": None, "slurm_error": None}
        except Exception:  # reported by the SLURM test; the others go on with a local run
            slurm_error = traceback.format_exc()[-6000:]
            local_because = "the SLURM run failed"
            shutil.rmtree(workdir)
            fresh_workdir(workdir)
    output = snakemake_mini(workdir)[-6000:]
    return {"returncode": 0, "output": output, "slurm": None, "local_because": local_because, "slurm_error": slurm_error}


def main(workdir, record):
    # stopped by the test session (SIGTERM): unwind, so that run_on_slurm kills Snakemake and
    # cancels its jobs
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        outcome = run(Path(workdir))
    except BaseException:  # whatever stopped the run is reported to the tests waiting for it
        outcome = {"returncode": 1, "output": traceback.format_exc()[-6000:], "slurm": None, "local_because": None, "slurm_error": None}
    write_json(outcome, record)


if __name__ == "__main__":
    main(*sys.argv[1:])
