"""Shared fixtures: the repository's configs and small generated samples."""

import copy
from pathlib import Path

import pytest
import yaml
from snakemake.utils import update_config

from mlhep.generate import SampleSpec, generate_shard

ROOT = Path(__file__).resolve().parents[1]


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
def generated(tmp_path_factory):
    """Small shards of the signal, QCD and Z+jets samples, generated once per session."""
    config = load_config("config.yaml", "mini.yaml")
    folder = tmp_path_factory.mktemp("generated")
    files = {}
    for sample, events in (("wprime_xy", 200), ("qcd_dijet", 100), ("zjets_nominal", 200)):
        files[sample] = folder / f"{sample}.root"
        generate(config, sample, events, files[sample])
    return files
