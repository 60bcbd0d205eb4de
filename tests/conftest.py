"""Shared fixtures: the repository's configs, small generated samples, real CMS NanoAOD files and
the mini DAG's run (started at the beginning of the session, beside the other tests)."""

import copy
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import awkward as ak
import numpy as np
import psutil
import pytest
import uproot
import yaml
from filelock import FileLock
from snakemake.utils import update_config

from mlhep.generate import SampleSpec
from mlhep.generate.nanoaod import read_collections
from mlhep.generate.stage import generate_shard

ROOT = Path(__file__).resolve().parents[1]

if os.environ.get("PYTEST_XDIST_WORKER"):
    # the workers (and the mini run beside them) share the cores: torch's and xgboost's thread
    # pools, one per worker, would each spin on all of them
    os.environ.setdefault("OMP_NUM_THREADS", "1")


def pytest_configure(config):
    if getattr(config.option, "numprocesses", None) and not hasattr(config, "workerinput"):
        # dcor compiles its numba functions at import and caches them: done once here, before the
        # xdist workers import it at the same moment (two first compiles at once aborted in LLVM
        # on a fresh virtual environment)
        import dcor  # noqa: F401 (imported to find out whether it is installed)


@pytest.fixture(scope="module")
def one_torch_thread():
    """Small networks train fastest on one thread, and other jobs may share the cores."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def load_config(*names):
    """The configs in config/, each updating the one before (as Snakemake's --configfile does)."""
    config = {}
    for name in names:
        update_config(config, yaml.safe_load((ROOT / "config" / name).read_text()))
    return config


@pytest.fixture
def config():
    return load_config("config.yaml", "mini.yaml")


def snakemake_mini(workdir, *args, cores=2):
    """`snakemake --cores 2 --configfile config/mini.yaml ARGS` in ``workdir``; its output, after
    checking that it succeeded."""
    command = [sys.executable, "-m", "snakemake", "--cores", str(cores), "--configfile", "config/mini.yaml", *args]
    result = subprocess.run(command, cwd=workdir, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout + result.stderr


def generate(config, sample, events, path, shard=0):
    config = copy.deepcopy(config)
    config["samples"][sample]["events_per_shard"] = events
    return generate_shard(SampleSpec.from_config(config, sample), shard, path, progress=False)


@pytest.fixture(scope="session")
def qcd_jets():
    """Anti-kT R = 0.8 jets (pT > 200 GeV) of 30 Pythia QCD events, as jets x particles."""
    import awkward as ak
    import fastjet

    from mlhep.generate.jets import momenta
    from mlhep.generate.pythia import final_state, make_pythia

    pythia = make_pythia(["Beams:eCM = 13000.", "HardQCD:all = on", "PhaseSpace:pTHatMin = 500"], seed=7)
    particles = momenta(final_state(pythia, pythia.nextBatch(30)))
    sequence = fastjet.ClusterSequence(particles, fastjet.JetDefinition(fastjet.antikt_algorithm, 0.8))
    jets = ak.flatten(sequence.constituents(200.0), axis=1)
    assert len(jets) >= 30
    return jets


@pytest.fixture(scope="session")
def generated(tmp_path_factory):
    """Small shards of the signal, QCD and Z+jets samples, generated once per session."""
    config = load_config("config.yaml", "mini.yaml")
    folder = tmp_path_factory.mktemp("generated")
    files = {}
    for sample, events in (("wprime_xy", 200), ("qcd_dijet", 100), ("zjets_nominal", 200)):
        files[sample] = folder / f"{sample}.root"
        generate(config, sample, events, files[sample])
    return files


COFFEA_VERSION = "2026.9.0"
NANOAOD_SAMPLES = ("nano_dy.root", "nano_tt_v12.root", "pfnano.root")


@pytest.fixture(scope="session")
def cms_nanoaod():
    """Real CMS NanoAOD files from coffea's source distribution on PyPI, fetched once into
    tests/.samples (git-ignored): {name: path}."""
    import tarfile
    import tempfile

    folder = ROOT / "tests" / ".samples"
    folder.mkdir(parents=True, exist_ok=True)
    with FileLock(folder / ".fetch.lock"):  # xdist workers: one fetches, the others wait for it
        if all((folder / name).exists() for name in NANOAOD_SAMPLES):
            return {name: folder / name for name in NANOAOD_SAMPLES}
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run(
                [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:", f"coffea=={COFFEA_VERSION}", "-d", tmp],
                check=True,
            )
            with tarfile.open(next(Path(tmp).glob("coffea-*.tar.gz"))) as archive:
                for name in NANOAOD_SAMPLES:
                    member = archive.getmember(f"coffea-{COFFEA_VERSION}/tests/samples/{name}")
                    (folder / name).write_bytes(archive.extractfile(member).read())
    return {name: folder / name for name in NANOAOD_SAMPLES}

# the mini DAG, run once per session beside the other tests (tests/mini_run.py)
MINI_RUN_TIMEOUT = 2400
_MINI_RUN_FIXTURES = {"mini_run", "workflow_run", "workflow_run_when_done"}


def _shared_folder(config, tmp_path_factory):
    """The session's folder for the mini run, that every xdist worker of this session sees."""
    base = tmp_path_factory.getbasetemp()
    workerinput = getattr(config, "workerinput", None)
    if workerinput is None:
        return base / "mini_run"
    return base.parent / f"mini_run_{workerinput['testrunuid']}"  # base: this worker's popen-gwN


@pytest.fixture(scope="session", autouse=True)
def _mini_run_in_background(request, tmp_path_factory):
    """Starts the mini DAG when the session has a test of it: its jobs run while the other tests
    do. One xdist worker starts it and, at its end, waits for it; ``mini_run`` waits for its
    record. A session that stops early (a failure under -x, Ctrl-C) stops it: any worker that
    stops writes ``stop`` beside it."""
    if not any(_MINI_RUN_FIXTURES & set(getattr(item, "fixturenames", ())) for item in request.session.items):
        yield
        return
    folder = _shared_folder(request.config, tmp_path_factory)
    process = None
    with FileLock(f"{folder}.lock"):
        if not folder.exists():
            folder.mkdir()
            command = [sys.executable, str(ROOT / "tests" / "mini_run.py"), str(folder / "workflow"), str(folder / "record.json")]
            with open(folder / "mini_run.log", "w") as log:
                process = subprocess.Popen(command, cwd=ROOT / "tests", stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
            (folder / "pid").write_text(str(process.pid))
    yield
    session = request.session
    if session.shouldfail or session.shouldstop or session.exitstatus == pytest.ExitCode.INTERRUPTED:
        (folder / "stop").touch()
    if process is None:
        return
    try:
        deadline = time.monotonic() + MINI_RUN_TIMEOUT
        while process.poll() is None and not (folder / "stop").exists() and time.monotonic() < deadline:
            time.sleep(1)
    finally:
        if process.poll() is None:  # stopped early or interrupted while waiting: mini_run.py cancels its jobs
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)


def _alive(pid):
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _wait_for_mini_run(config, tmp_path_factory):
    folder = _shared_folder(config, tmp_path_factory)
    record, deadline = folder / "record.json", time.monotonic() + MINI_RUN_TIMEOUT
    while not record.exists():
        log = (folder / "mini_run.log").read_text()[-3000:]
        assert not (folder / "stop").exists(), "the session stopped early, and with it the mini run"
        assert _alive(int((folder / "pid").read_text())) or record.exists(), f"the mini run ended without a record: {log}"
        assert time.monotonic() < deadline, f"the mini run took over {MINI_RUN_TIMEOUT} s: {log}"
        time.sleep(1)
    outcome = json.loads(record.read_text())
    assert outcome["returncode"] == 0, outcome["output"]
    return folder / "workflow", outcome


@pytest.fixture(scope="session")
def mini_run(pytestconfig, tmp_path_factory):
    """(workdir, record) of the mini DAG's run once it has finished (see tests/mini_run.py)."""
    return _wait_for_mini_run(pytestconfig, tmp_path_factory)


@pytest.fixture(scope="session")
def workflow_run_when_done(pytestconfig, tmp_path_factory):
    """A function that returns the mini run's folder, waiting for the run then: for tests that
    have work of their own to do first."""
    return lambda: _wait_for_mini_run(pytestconfig, tmp_path_factory)[0]


@pytest.fixture(scope="session")
def workflow_run(mini_run):
    """The folder of the finished mini DAG."""
    return mini_run[0]


# writing deliberately damaged NanoAOD files (the fault matrix, processing tests)
def nanoaod_branches(source):
    """The ``Events`` of ``source`` as {name: array}: flat branches as they are, each collection X
    (branches X_f counted by nX) zipped into one record array (its counter made by the writer)."""
    return read_collections(source)


def write_events(path, events, counters=None):
    """Write ``events`` with uproot's mktree/extend as NanoAOD does (counter nX per collection X);
    ``counters`` {collection: values} writes nX with these values instead of the true lengths
    (the true counter, which ROOT needs to read the arrays, goes to nX_written)."""
    counters = counters or {}
    branches = {**events, **{f"n{name}": np.asarray(values) for name, values in counters.items()}}
    with uproot.recreate(path) as out:
        types_ = {name: value.type if isinstance(value, ak.Array) else value.dtype for name, value in branches.items()}
        out.mktree("Events", types_, counter_name=lambda name: f"n{name}_written" if name in counters else f"n{name}").extend(branches)
    return path
