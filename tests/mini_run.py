"""The mini DAG in a fresh copy of the workflow, started by tests/conftest.py at the beginning of a
session so that it runs while the other tests do. Through SLURM with README's cluster commands
when a cluster answers (one generation job cancelled midway and resubmitted), else locally.

    python tests/mini_run.py WORKDIR RECORD

RECORD (JSON, written last, atomically): returncode, the end of the output, and the SLURM run's
record (None for a local run) with why it ran locally."""

import json
import os
import sys
import traceback
from pathlib import Path


def run(workdir):
    from conftest import snakemake_mini
    from test_slurm import NO_SLURM, fresh_workdir, run_on_slurm

    fresh_workdir(workdir)
    if NO_SLURM is None:
        return {"returncode": 0, "output": "", "slurm": run_on_slurm(workdir), "local_because": None}
    return {"returncode": 0, "output": snakemake_mini(workdir)[-6000:], "slurm": None, "local_because": NO_SLURM}


def main(workdir, record):
    try:
        outcome = run(Path(workdir))
    except BaseException:  # noqa: BLE001 - whatever stopped the run is reported to the tests waiting for it
        outcome = {"returncode": 1, "output": traceback.format_exc()[-6000:], "slurm": None, "local_because": None}
    partial = Path(f"{record}.partial")
    partial.write_text(json.dumps(outcome))
    os.replace(partial, record)


if __name__ == "__main__":
    main(*sys.argv[1:])
