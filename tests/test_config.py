"""Config validation: the shipped configs pass; bad ones stop with the key named; nothing in
the code runs what a config or an input file could smuggle in."""

import re

import pytest
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from conftest import ROOT, load_config
from mlhep.config import check_config
from mlhep.errors import InvalidConfig

SCHEMA = str(ROOT / "workflow" / "schemas" / "config.schema.yaml")


@pytest.mark.parametrize("files", [("config.yaml",), ("config.yaml", "mini.yaml"), ("config.yaml", "full.yaml"), ("config.yaml", "benchmark.yaml")])
def test_shipped_configs_are_valid(files):
    config = load_config(*files)
    validate(config, SCHEMA)
    check_config(config)


@pytest.mark.parametrize(
    ("mutate", "named"),
    [
        (lambda c: c["samples"]["qcd_dijet"].update(events_per_shard=-5), "events_per_shard"),
        (lambda c: c["samples"]["qcd_dijet"].update(shards="two"), "shards"),
        (lambda c: c.update(seed="forty-two"), "seed"),
        (lambda c: c["detector"]["tracker"].update(efficiency=1.5), "efficiency"),
        (lambda c: c["samples"].update({"../escape": c["samples"]["qcd_dijet"]}), "../escape"),
        (lambda c: c["samples"]["qcd_dijet"].update(shard=3), "shard"),
        (lambda c: c["fits"].update({"../../tmp/x": c["fits"]["tagged_search"]}), "../../tmp/x"),
        (lambda c: c["samples"].update({"/abs": c["samples"]["qcd_dijet"]}), "/abs"),
    ],
)
def test_invalid_config_names_the_key(config, mutate, named):
    mutate(config)
    with pytest.raises(WorkflowError, match="Error validating config") as error:
        validate(config, SCHEMA)
    assert named in str(error.value)


def test_a_missing_input_file_is_named_before_anything_runs(config, tmp_path):
    present = tmp_path / "present.root"
    present.write_bytes(b"")
    config["samples"]["real"] = {"channel": "dijet", "files": [str(present), str(tmp_path / "absent.root"), "root://eos.example//x.root"]}
    validate(config, SCHEMA)
    with pytest.raises(InvalidConfig, match=f"samples.real.files: no file '{tmp_path / 'absent.root'}'"):
        check_config(config)


def test_the_code_loads_no_pickles_and_interpolates_nothing_into_shell_commands():
    """What a shared config or input file could exploit: unpickling, full YAML, shell rules."""
    unsafe = re.compile(r"pickle\.load|cloudpickle|joblib\.load|allow_pickle=True|yaml\.load\(|yaml\.unsafe_load|(?<![.\w])eval\(|(?<![.\w])exec\(|^\s*shell:", re.MULTILINE)
    sources = [*(ROOT / "src").rglob("*.py"), *(ROOT / "scripts").glob("*.py"), *(ROOT / "workflow").rglob("*.smk"), ROOT / "Snakefile"]
    found = [f"{path.relative_to(ROOT)}: {match.group(0)}" for path in sources for match in unsafe.finditer(path.read_text())]
    assert not found, found
    loads = [(path, line) for path in sources for line in path.read_text().splitlines() if "torch.load(" in line]
    assert loads and all("weights_only=True" in line for _, line in loads), loads


def test_unknown_process_names_the_sample(config):
    config["samples"]["qcd_dijet"]["process"] = "nonexistent"
    validate(config, SCHEMA)
    with pytest.raises(InvalidConfig, match="samples.qcd_dijet.process: unknown process 'nonexistent'"):
        check_config(config)


def test_every_schema_key_is_described():
    import yaml

    from pathlib import Path

    schema = yaml.safe_load(Path(SCHEMA).read_text())

    def check(node, path):
        if isinstance(node, dict):
            for key, child in node.get("properties", {}).items():
                assert isinstance(child.get("description"), str), f"{path}.{key} has no description"
            for key, child in node.items():
                check(child, f"{path}.{key}")

    check(schema, "schema")


def test_full_scale_config_is_lhc_olympics_size():
    config = load_config("config.yaml", "full.yaml")
    validate(config, SCHEMA)
    size = {name: s["shards"] * s["events_per_shard"] for name, s in config["samples"].items()}
    assert size["qcd_dijet"] == 1_000_000 and size["wprime_xy"] == 100_000


def test_tagger_samples_must_exist_and_be_dijet(config):
    config["taggers"]["signal"] = "no_such_sample"
    with pytest.raises(InvalidConfig, match="taggers.signal: unknown sample 'no_such_sample'"):
        check_config(config)
    config["taggers"]["signal"] = "zjets_nominal"
    with pytest.raises(InvalidConfig, match="taggers.signal: sample 'zjets_nominal' is not a dijet-channel sample"):
        check_config(config)


def test_a_fit_must_name_a_trained_tagger_and_dijet_samples(config):
    analysis = config["fits"]["tagged_search"]
    analysis["tagger"] = "disco_lambda_7"  # not in the lambda list
    with pytest.raises(InvalidConfig, match="fits.tagged_search.tagger: unknown tagger 'disco_lambda_7'"):
        check_config(config)
    analysis["tagger"], analysis["background"] = "bdt", "zjets_alt"
    with pytest.raises(InvalidConfig, match="fits.tagged_search.background: sample 'zjets_alt' is not a dijet-channel sample"):
        check_config(config)


def test_unfolding_and_mass_points_must_name_samples_of_the_right_channel(config):
    config["unfolding"]["data"] = "qcd_dijet"
    with pytest.raises(InvalidConfig, match="unfolding.data: sample 'qcd_dijet' is not a zjets-channel sample"):
        check_config(config)
    config["unfolding"]["data"] = "zjets_alt"
    config["unfolding"]["alternative_simulation"] = "wprime_xy"
    with pytest.raises(InvalidConfig, match="unfolding.alternative_simulation: sample 'wprime_xy' is not a zjets-channel sample"):
        check_config(config)
    config["unfolding"]["alternative_simulation"] = "zjets_nominal"
    with pytest.raises(InvalidConfig, match="unfolding.alternative_simulation: 'zjets_nominal' is the simulation or the data"):
        check_config(config)
    config["unfolding"]["alternative_simulation"] = None  # no modelling systematic
    check_config(config)
    config["unfolding"]["observables"], config["unfolding"]["log_observables"] = ["mass", "zg"], ["width"]
    with pytest.raises(InvalidConfig, match=r"unfolding.log_observables: \['width'\] not among the unfolded observables"):
        check_config(config)
    config["unfolding"]["observables"] = ["mass", "width"]
    config["fits"]["tagged_search"]["mass_points"]["wprime_5000"] = 5000
    with pytest.raises(InvalidConfig, match="fits.tagged_search.mass_points: unknown sample 'wprime_5000'"):
        check_config(config)


def test_nsbi_needs_dijet_samples_and_an_increasing_window(config):
    config["nsbi"]["window"] = [5000.0, 2500.0]
    with pytest.raises(InvalidConfig, match="nsbi.window"):
        check_config(config)
    config["nsbi"]["window"], config["nsbi"]["background"] = [2500.0, 5000.0], "zjets_nominal"
    with pytest.raises(InvalidConfig, match="nsbi.background: sample 'zjets_nominal' is not a dijet-channel sample"):
        check_config(config)


def test_anomaly_needs_dijet_samples_a_region_inside_its_window_and_a_listed_headline(config):
    anomaly = config["anomaly"]
    anomaly["signal_region"] = [2000.0, 3700.0]
    with pytest.raises(InvalidConfig, match="anomaly: the signal region .* inside the window"):
        check_config(config)
    anomaly["signal_region"], anomaly["headline"] = [3300.0, 3700.0], 3.0
    with pytest.raises(InvalidConfig, match="anomaly.headline: 3.0 is not one of the injections"):
        check_config(config)
    anomaly["headline"], anomaly["background"] = 2.14, "zjets_alt"
    with pytest.raises(InvalidConfig, match="anomaly.background: sample 'zjets_alt' is not a dijet-channel sample"):
        check_config(config)
