"""Jobs of the mini DAG run in folders of their own, beside test_workflow.py's tests of the
finished run (xdist gives each file a worker): a generation job killed midway and redone, the
processing on a dask cluster, a corrupted input file stopping its job. The first two compare
their output with the run's (files that test_workflow.py never rebuilds)."""

import re
import subprocess
import sys
import time

import psutil
import pytest

from conftest import snakemake_mini
from mlhep.manifest import content_sha256
from test_slurm import fresh_workdir

pytestmark = pytest.mark.slow


def _job_process(snakemake, script, timeout=120):
    """The process of the job that runs ``script`` under the Snakemake process ``snakemake``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for child in snakemake.children(recursive=True):
            try:
                if any(part.endswith(script) for part in child.cmdline()):
                    return child
            except psutil.NoSuchProcess:
                continue
        time.sleep(0.05)
    raise AssertionError(f"no job running {script}")


def test_a_generation_job_killed_midway_is_redone_with_identical_output(workflow_run_when_done, tmp_path_factory):
    workdir = fresh_workdir(tmp_path_factory.mktemp("killed"))
    shard, log = "data/generated/qcd_dijet/0.root", workdir / "logs/generate/qcd_dijet/0.log"
    command = [sys.executable, "-m", "snakemake", "--cores", "1", "--configfile", "config/mini.yaml", "--", shard]
    snakemake = subprocess.Popen(command, cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    job = _job_process(psutil.Process(snakemake.pid), "generate.py")
    while job.is_running() and not re.search(r"\| *[1-9]\d*/400", log.read_text() if log.exists() else ""):
        time.sleep(0.02)  # until the first batch of events is done
    job.kill()
    output = snakemake.communicate(timeout=120)[0]
    assert snakemake.returncode != 0, "the job ended before it could be killed"
    assert "Error in rule generate" in output and not (workdir / shard).exists()
    snakemake_mini(workdir, "--", shard)
    assert content_sha256(workdir / shard) == content_sha256(workflow_run_when_done() / shard)
    assert not list((workdir / "data/generated/qcd_dijet").glob(".*tmp*"))  # the killed job's temporary file is gone


def test_processing_on_a_dask_local_cluster_writes_the_same_columns(workflow_run_when_done, tmp_path_factory):
    workdir = fresh_workdir(tmp_path_factory.mktemp("dask"))
    (workdir / "dask.yaml").write_text("processing: {executor: dask, workers: 2}\n")
    columns = "results/columns/wprime_xy.parquet"
    snakemake_mini(workdir, "dask.yaml", "--", columns)
    assert (workdir / columns).read_bytes() == (workflow_run_when_done() / columns).read_bytes()


def test_a_corrupted_input_file_stops_its_job_with_the_file_named_and_no_output(tmp_path_factory):
    workdir = fresh_workdir(tmp_path_factory.mktemp("corrupted"))
    (workdir / "broken.root").write_bytes(b"root" + bytes(1000))
    (workdir / "broken.yaml").write_text("samples:\n  broken: {channel: dijet, files: [broken.root]}\n")
    command = [sys.executable, "-m", "snakemake", "--cores", "1", "--configfile", "config/mini.yaml", "broken.yaml", "--", "results/columns/broken.parquet"]
    result = subprocess.run(command, cwd=workdir, capture_output=True, text=True)
    assert result.returncode != 0
    log = (workdir / "logs/process/broken.log").read_text()
    assert "BadInputFile" in log and "broken.root" in log, log[-2000:]
    assert not list((workdir / "results").rglob("*broken*"))
