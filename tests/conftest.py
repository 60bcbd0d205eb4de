"""Shared fixtures: the repository's configs and small generated samples."""

import copy
from pathlib import Path

import awkward as ak
import numpy as np
import pytest
import uproot
import yaml
from snakemake.utils import update_config

from mlhep.generate import SampleSpec, generate_shard

ROOT = Path(__file__).resolve().parents[1]


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
    import subprocess
    import sys
    import tarfile
    import tempfile

    folder = ROOT / "tests" / ".samples"
    if not all((folder / name).exists() for name in NANOAOD_SAMPLES):
        folder.mkdir(parents=True, exist_ok=True)
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


# writing deliberately damaged NanoAOD files (the fault matrix, processing tests)
def nanoaod_branches(source):
    """The ``Events`` of ``source`` as {name: array}: flat branches as they are, each collection X
    (branches X_f counted by nX) zipped into one record array (its counter made by the writer)."""
    arrays = uproot.open(source)["Events"].arrays()
    names, events = set(arrays.fields), {}
    for name in arrays.fields:
        prefix, _, field = name.partition("_")
        if field and f"n{prefix}" in names:
            events.setdefault(prefix, {})[field] = arrays[name]
        elif not (name.startswith("n") and any(other.startswith(f"{name[1:]}_") for other in names)):
            events[name] = arrays[name]
    return {name: ak.zip(value) if isinstance(value, dict) else value for name, value in events.items()}


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
