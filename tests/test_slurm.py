"""The cluster path: profiles/slurm checked with the SLURM executor plugin's own code, the conda
environment file resolved from where Snakemake copies it, docs/SLURM.md as its generator writes
it, README's cluster commands, and, where a SLURM cluster answers (CI starts one with
.ci/slurm-up.sh), coffea's dask executor on a dask-jobqueue SLURMCluster. The mini DAG itself
runs through SLURM (tests/mini_run.py, with ``run_on_slurm``) for the tests of test_workflow.py."""

import hashlib
import importlib.util
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import tomllib
from collections import Counter
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement

from conftest import ROOT

_spec = importlib.util.spec_from_file_location("slurm_doc", ROOT / ".ci" / "slurm_doc.py")
slurm_doc = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(slurm_doc)

GPU_RULES = {"train_tagger", "unfold", "nsbi", "anomaly_run", "anomaly_window"}
WORKFLOW = ("Snakefile", "workflow", "config", "scripts", "envs", "profiles")


def _no_slurm():
    """Why no SLURM job can run here, or None when `sinfo` shows a usable node."""
    if os.environ.get("MLHEP_TESTS_NO_SLURM"):
        return "MLHEP_TESTS_NO_SLURM is set: the tests submit nothing to SLURM"
    if not shutil.which("sinfo"):
        return "no SLURM here: `sinfo` not found (CI starts a single-node cluster with .ci/slurm-up.sh)"
    try:
        result = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, timeout=20)
    except subprocess.TimeoutExpired:
        return "SLURM does not answer: `sinfo` timed out"
    if not {"idle", "mixed", "allocated"} & set(result.stdout.split()):
        return f"no usable SLURM node: sinfo says {result.stdout.split() or result.stderr.strip()}"
    return None


NO_SLURM = _no_slurm()
needs_slurm = pytest.mark.skipif(NO_SLURM is not None, reason=str(NO_SLURM))


def fresh_workdir(folder):
    """A copy of the workflow with no outputs, in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for item in WORKFLOW:
        source = ROOT / item
        (shutil.copytree if source.is_dir() else shutil.copy)(source, folder / item)
    return folder


def readme_cluster_commands():
    """The command lines of the bash block of README's "Running on a cluster", comments dropped."""
    section = (ROOT / "README.md").read_text().split("\n## Running on a cluster\n")[1].split("\n## ")[0]
    block = re.search(r"```bash\n(.*?)```", section, re.DOTALL).group(1)
    return [line.split(" #")[0].strip() for line in block.splitlines() if line.split(" #")[0].strip()]


def _run_jobs(workdir):
    """{SLURM job id: (state, comment, allocated TRES)} of the jobs run in ``workdir``."""
    fields = "JobID,State,Comment%200,AllocTRES%200,WorkDir%500"
    out = subprocess.run(["sacct", "-a", "-X", "-n", "-P", "-S", "now-1days", "-o", fields], capture_output=True, text=True, timeout=60, check=True).stdout
    rows = [line.split("|") for line in out.splitlines()]
    return {row[0]: tuple(row[1:4]) for row in rows if os.path.realpath(row[4]) == os.path.realpath(workdir)}


def _scancel_when_running(workdir, comment, log):
    """Cancels the SLURM job of ``workdir`` whose comment is ``comment`` once its rule's ``log``
    shows a finished batch of events; its job id, or None while it has not got that far."""
    text = (workdir / log).read_text() if (workdir / log).exists() else ""
    if not re.search(r"\| *[1-9]\d*/\d+", text):
        return None
    out = subprocess.run(["squeue", "-h", "-o", "%i|%T|%k|%Z"], capture_output=True, text=True, timeout=30).stdout
    for jobid, state, job_comment, directory in (line.split("|") for line in out.splitlines()):
        if job_comment == comment and state == "RUNNING" and os.path.realpath(directory) == os.path.realpath(workdir):
            subprocess.run(["scancel", jobid], check=True, timeout=30)
            return jobid
    return None


def run_on_slurm(workdir, timeout=1200, cancel=("rule_generate_wildcards_qcd_dijet_1", "logs/generate/qcd_dijet/1.log")):
    """Runs the snakemake lines of README's "Running on a cluster" in ``workdir``, through SLURM.
    During the run, the job whose SLURM comment is ``cancel[0]`` is scancelled once its log
    ``cancel[1]`` shows progress; the profile's ``retries`` redoes it. A Snakemake still running
    after ``timeout`` seconds is killed with SIGKILL (SIGTERM does not stop one waiting on SLURM)
    and its jobs scancelled. Returns {"output", "cancelled" (job id), "jobs" (sacct records)}."""
    deadline, output, cancelled = time.monotonic() + timeout, "", None
    for line in readme_cluster_commands():
        if not line.startswith("snakemake "):
            continue
        argv = [str(Path(sys.executable).with_name("snakemake")), *shlex.split(line)[1:]]
        with open(workdir / "snakemake.log", "w") as log:
            snakemake = subprocess.Popen(argv, cwd=workdir, stdout=log, stderr=subprocess.STDOUT)
            try:
                while snakemake.poll() is None and time.monotonic() < deadline:
                    if cancelled is None and "-n" not in argv:
                        cancelled = _scancel_when_running(workdir, *cancel)
                    time.sleep(0.2)
            finally:
                if snakemake.poll() is None:
                    snakemake.kill()
                    snakemake.wait()
                    jobs = _run_jobs(workdir)
                    subprocess.run(["scancel", *jobs], timeout=60)
        text = (workdir / "snakemake.log").read_text()
        output += text
        ended = f"killed after {timeout} s" if time.monotonic() >= deadline else f"exit {snakemake.returncode}"
        assert snakemake.returncode == 0, f"{line} ({ended}): {text[-5000:]}"
    return {"output": output, "cancelled": cancelled, "jobs": _run_jobs(workdir)}


def check_slurm_run(workdir, run):
    """The mini DAG of ``run_on_slurm``: every job completed in SLURM with its rule's cores and
    GPU, and the cancelled job was resubmitted, with its SLURM log kept."""
    assert run["cancelled"], "the generation job ended before it could be cancelled"
    dag = list(filter(slurm_doc.submitted, slurm_doc.profile_jobs(workdir / "config/mini.yaml", workdir=workdir)))
    expected, planned = {job.rule.name: job.threads for job in dag}, Counter(job.rule.name for job in dag)
    jobs = run["jobs"]
    state, comment, _ = jobs[run["cancelled"]]
    assert state.startswith("CANCELLED") and comment == "rule_generate_wildcards_qcd_dijet_1", jobs[run["cancelled"]]
    assert "Trying to restart job" in run["output"]
    assert list(workdir.glob(f".snakemake/slurm_logs/rule_generate/**/{run['cancelled']}.log")), "the failed job's SLURM log was removed"
    done = {jobid: record for jobid, record in jobs.items() if jobid != run["cancelled"]}
    assert all(state == "COMPLETED" for state, _, _ in done.values()), done
    rules = Counter(comment.removeprefix("rule_").split("_wildcards_")[0] for _, comment, _ in done.values())
    assert rules == planned, rules
    for _state, comment, tres in done.values():
        rule = comment.removeprefix("rule_").split("_wildcards_")[0]
        allocated = dict(item.split("=") for item in tres.split(","))
        assert int(allocated["cpu"]) == expected[rule], (rule, tres)
        assert allocated.get("gres/gpu") == ("1" if rule in GPU_RULES else None), (rule, tres)


@pytest.fixture(scope="module")
def mini_jobs():
    """The mini DAG's jobs with profiles/slurm's resources (Snakemake's own DAG and profile parser)."""
    return list(filter(slurm_doc.submitted, slurm_doc.profile_jobs(ROOT / "config" / "mini.yaml")))


def test_slurm_profile_gives_every_job_its_resources(mini_jobs):
    """Each job's sbatch call as the plugin builds it (its own checks of slurm_extra and of the GPU
    request included): cores from the rule's threads, a GPU for the training rules, memory and time."""
    workers = yaml.safe_load((ROOT / "config/config.yaml").read_text())["processing"]["workers"]
    assert {job.rule.name for job in mini_jobs} == {
        "generate", "validate_generation", "process", "train_tagger", "summarize_taggers", "fit_search",
        "unfold", "nsbi", "anomaly_run", "anomaly_window", "anomaly_summary", "manifest",
    }  # cutflow_table, hepdata and metrics_table are localrules
    for job in mini_jobs:
        options = slurm_doc.sbatch_options(job)
        assert int(options["--cpus-per-task"]) == job.threads, (job.rule.name, options)
        assert options.get("--gpus") == ("1" if job.rule.name in GPU_RULES else None), (job.rule.name, options)
        assert "--gres" not in options and not job.resources.get("slurm_extra"), (job.rule.name, options)
        assert int(options["--mem"]) == job.resources.mem_mb > 0 and int(options["-t"]) == job.resources.runtime > 0, (job.rule.name, options)
    threads = {job.rule.name: job.threads for job in mini_jobs}
    assert threads["process"] == workers == 2 and threads["train_tagger"] == 2  # no default cpus_per_task overrides them
    assert Counter(job.rule.name for job in mini_jobs)["generate"] == 9  # one job per shard


def test_slurm_profile_settings_pass_the_plugins_validation_and_read_account_and_partition_from_sbatchs_variables(monkeypatch):
    from snakemake.cli import parse_args
    from snakemake_interface_executor_plugins.registry import ExecutorPluginRegistry

    _, args = parse_args(["--snakefile", str(ROOT / "Snakefile"), "--workflow-profile", str(ROOT / "profiles/slurm")])
    assert args.executor == "slurm" and args.retries == 1
    settings = ExecutorPluginRegistry().get_plugin("slurm").get_settings(args)  # the plugin validates them here
    assert settings.init_seconds_before_status_checks == 5 and settings.status_command == "squeue"
    assert settings.delete_logfiles_older_than == 0 and not settings.keep_successful_logs  # failed jobs' logs stay
    monkeypatch.setenv("SBATCH_ACCOUNT", "physics")
    monkeypatch.setenv("SBATCH_PARTITION", "short")
    job = next(job for job in slurm_doc.profile_jobs(ROOT / "config/mini.yaml") if job.rule.name == "manifest")
    assert (job.resources.slurm_account, job.resources.slurm_partition) == ("physics", "short")


def test_conda_environment_file_resolves_from_snakemakes_copy(tmp_path):
    """Snakemake copies envs/mlhep.yaml to .snakemake/conda/<hash>_.yaml and conda runs pip in that
    folder (snakemake/deployment/conda.py, create_env): pip resolves the file from there."""
    content = (ROOT / "envs/mlhep.yaml").read_bytes()
    copy = tmp_path / ".snakemake" / "conda" / f"{hashlib.md5(content).hexdigest()}_.yaml"
    copy.parent.mkdir(parents=True)
    copy.write_bytes(content)
    pip = next(entry["pip"] for entry in yaml.safe_load(copy.read_text())["dependencies"] if isinstance(entry, dict))
    for line in pip:
        requirement = Requirement(line)  # an option or a path (-e ../) is no requirement
        assert requirement.url is None and [spec.operator for spec in requirement.specifier] == ["=="], line
    (copy.parent / "condaenv.requirements.txt").write_text("\n".join(pip))  # what conda hands to pip
    command = [sys.executable, "-m", "pip", "install", "--dry-run", "--no-deps", "--ignore-installed", "--quiet", "--report", "report.json", "-r", "condaenv.requirements.txt"]
    result = subprocess.run(command, cwd=copy.parent, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    resolved = {item["metadata"]["name"].lower().replace("_", "-") for item in json.loads((copy.parent / "report.json").read_text())["install"]}
    assert resolved == {Requirement(line).name.lower().replace("_", "-") for line in pip}
    # the project itself: a rule's script runs with Snakemake's own import path, which holds this checkout's mlhep
    from snakemake.common import get_snakemake_searchpaths

    import mlhep

    assert str(Path(mlhep.__file__).parents[1]) in get_snakemake_searchpaths()


def test_docs_slurm_md_is_what_its_generator_writes():
    result = subprocess.run([sys.executable, str(ROOT / ".ci/slurm_doc.py"), "--check"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


def test_readme_cluster_section_is_what_ci_runs():
    """The block's pip line is part of what `make` installs, its snakemake lines are the ones
    ``run_on_slurm`` runs in the test suite, and .ci/run starts a cluster before `make test`."""
    commands = readme_cluster_commands()
    assert commands[0] == "pip install -e '.[slurm]'"
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    installed = re.search(r"pip install .*-e '\.\[(\w+)\]'", (ROOT / "Makefile").read_text()).group(1)  # what make installs
    assert installed == "test" and "slurm" in re.search(r"mlhep\[(.*)\]", " ".join(extras["test"])).group(1).split(",")
    assert commands[1:] == [
        "snakemake --workflow-profile profiles/slurm --configfile config/mini.yaml -n",
        "snakemake --workflow-profile profiles/slurm --configfile config/mini.yaml",
    ]
    ci = (ROOT / ".ci/run").read_text()
    assert re.search(r"^\s*timeout -s KILL \d+ bash \.ci/slurm-up\.sh", ci, re.MULTILINE) and ci.rstrip().endswith("make test")
    assert ci.index(".ci/slurm-up.sh") < ci.rindex("make test")


def _default_partition():
    out = subprocess.run(["sinfo", "-h", "-o", "%P"], capture_output=True, text=True, timeout=20).stdout.split()
    return os.environ.get("SBATCH_PARTITION") or next(name.rstrip("*") for name in out if name.endswith("*"))


DASK_WORKER_QUEUE_TIMEOUT = 1200  # behind a running mini-run job that holds both cores


@needs_slurm
def test_processing_on_a_dask_slurmcluster_writes_the_same_columns(tmp_path):
    """The `process` rule with processing.dask.scheduler: a dask-jobqueue SLURMCluster whose
    worker runs as a SLURM job in another directory (so input paths must be absolute). One
    worker: the mini run's jobs share the cluster, and its worker waits in the queue behind them."""
    from dask_jobqueue import SLURMCluster
    from distributed import Client, get_task_stream

    workdir = fresh_workdir(tmp_path / "workflow")
    columns = "results/columns/wprime_xy.parquet"
    command = [sys.executable, "-m", "snakemake", "--cores", "2", "--configfile", "config/mini.yaml"]
    result = subprocess.run([*command, "--", columns], cwd=workdir, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    local = (workdir / columns).read_bytes()
    elsewhere = tmp_path / "workers"
    elsewhere.mkdir()
    cluster = SLURMCluster(
        cores=1, processes=1, memory="1GB", queue=_default_partition(), interface="lo", walltime="00:20:00",
        log_directory=str(elsewhere), job_extra_directives=[f"--chdir={elsewhere}"], scheduler_options={"dashboard_address": None},
    )
    with cluster, Client(cluster) as client:
        cluster.scale(jobs=1)
        client.wait_for_workers(1, timeout=DASK_WORKER_QUEUE_TIMEOUT)
        assert set(client.run(os.getcwd).values()) == {str(elsewhere)}
        (workdir / "dask.yaml").write_text(f"processing: {{executor: dask, dask: {{scheduler: '{cluster.scheduler_address}'}}}}\n")
        with get_task_stream(client) as tasks:
            result = subprocess.run([*command, "dask.yaml", "--forcerun", "process", "--", columns], cwd=workdir, capture_output=True, text=True, timeout=900)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:] + (workdir / "logs/process/wprime_xy.log").read_text()[-3000:]
        assert tasks.data and {task["worker"] for task in tasks.data} <= set(client.scheduler_info()["workers"])  # the SLURM workers did the chunks
    assert (workdir / columns).read_bytes() == local
