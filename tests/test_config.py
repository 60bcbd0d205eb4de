"""Config validation: the shipped configs pass; bad ones stop with the key named; nothing in
the code runs what a config or an input file could smuggle in."""

import re
from pathlib import Path

import pytest
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from conftest import ROOT, load_config
from mlhep.config import check_config, check_config_values, check_integers, read_config_file
from mlhep.errors import InvalidConfig

SCHEMA = str(ROOT / "workflow" / "schemas" / "config.schema.yaml")


@pytest.mark.parametrize("files", [("config.yaml",), ("config.yaml", "mini.yaml"), ("config.yaml", "full.yaml"), ("config.yaml", "benchmark.yaml")])
def test_shipped_configs_are_valid(files):
    for name in files:
        read_config_file(ROOT / "config" / name)  # no duplicate key, NaN or template
    config = load_config(*files)
    check_config_values(config)
    validate(config, SCHEMA)
    check_integers(config, SCHEMA)
    check_config(config)
    # the checks ran on a whole config (they raise on a bad one): every required section, samples
    # that name their process, and the defaults of the schema filled in by validate
    import yaml

    schema = yaml.safe_load(Path(SCHEMA).read_text())
    assert set(schema["required"]) <= set(config) and config["samples"]
    assert all(sample["process"] in config["processes"] for sample in config["samples"].values() if "process" in sample)
    defaults = {key for key, node in schema["properties"].items() if "default" in node}
    assert defaults <= set(config)


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
    from pathlib import Path

    import yaml

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
    config["unfolding"]["observables"], config["unfolding"]["log_observables"] = ["mass", "width"], ["width", "jet_pt"]
    config["unfolding"]["extra_inputs"] = []
    with pytest.raises(InvalidConfig, match=r"unfolding.log_observables: \['jet_pt'\] not among the unfolded observables or extra_inputs"):
        check_config(config)
    config["unfolding"]["extra_inputs"] = ["jet_pt"]
    check_config(config)
    config["unfolding"]["constituents"] = {"max_particles": 30}
    with pytest.raises(InvalidConfig, match=r"unfolding.extra_inputs: \['jet_pt'\] with unfolding.constituents: the constituent networks see the constituents only"):
        check_config(config)
    config["unfolding"]["constituents"] = None
    config["fits"]["tagged_search"]["mass_points"]["wprime_5000"] = 5000
    with pytest.raises(InvalidConfig, match="fits.tagged_search.mass_points: unknown sample 'wprime_5000'"):
        check_config(config)
    config["fits"]["tagged_search"]["mass_points"] = {"wprime_xy": 3500, "wprime_3000": 3500}
    with pytest.raises(InvalidConfig, match="fits.tagged_search.mass_points: the mass 3500 is given to wprime_xy, wprime_3000"):
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


def _subschemas(node, path="schema"):
    """Every mapping in the schema with its path: the schemas, and a few mappings that are not."""
    if isinstance(node, dict):
        yield path, node
        for key, child in node.items():
            yield from _subschemas(child, f"{path}.{key}")
    elif isinstance(node, list):
        for index, child in enumerate(node):
            yield from _subschemas(child, f"{path}[{index}]")


def _types(node):
    types = node.get("type", [])
    return [types] if isinstance(types, str) else types


def test_no_config_string_or_key_can_hold_markup():
    """Config values reach the HTML report (some inside <script> elements): every string the
    schema accepts is an identifier, one of a list, or text without markup characters, and
    every mapping lists its keys or restricts their names."""
    import yaml
    from jsonschema import Draft202012Validator

    schema = yaml.safe_load(Path(SCHEMA).read_text())
    validator = Draft202012Validator(schema)
    probes = ["</script><script>alert(1)</script>", "cpu<", "a>b", "a&amp;b", 'a"b', "a'b", "a`b", "a\\b"]
    strings = [(path, node) for path, node in _subschemas(schema) if "string" in _types(node)]
    assert len(strings) > 10
    for path, node in strings:
        accepted = [probe for probe in probes if validator.evolve(schema=node).is_valid(probe)]
        assert not accepted, (path, accepted)
    for path, node in _subschemas(schema):
        if "object" in _types(node):
            assert node.get("additionalProperties") is False or "propertyNames" in node, f"{path}: keys of any name"


def test_every_count_has_a_documented_upper_bound_and_samples_a_raisable_one(config):
    """shards: 1e9 ran the dry run out of memory, events_per_shard: 1e20 generated forever."""
    import yaml

    schema = yaml.safe_load(Path(SCHEMA).read_text())
    unbounded = [path for path, node in _subschemas(schema) if "integer" in _types(node) and "maximum" not in node]
    # a sample's size is bounded by limits (check_config), which a production may raise; those are not
    assert unbounded == [
        "schema.properties.limits.properties.shards",
        "schema.properties.limits.properties.events_per_shard",
        "schema.properties.samples.additionalProperties.properties.shards",
        "schema.properties.samples.additionalProperties.properties.events_per_shard",
    ]
    config["samples"]["qcd_dijet"]["shards"] = 1500
    validate(config, SCHEMA)
    with pytest.raises(InvalidConfig, match=r"samples.qcd_dijet.shards: 1500 is above limits.shards \(1000\); for a production this large, raise limits.shards"):
        check_config(config)
    config["limits"]["shards"] = 2000
    check_config(config)


def test_a_duplicate_key_is_refused_at_any_depth_with_its_file_and_line(tmp_path):
    path = tmp_path / "twice.yaml"
    path.write_text("seed: 1\nanomaly:\n  seeds: 2\n  folds: 3\n  seeds: 4\n")
    with pytest.raises(InvalidConfig, match=f"{path}, line 5: duplicate key 'seeds'"):
        read_config_file(path)
    path.write_text('{"seed": 1, "seed": 2}')  # JSON too
    with pytest.raises(InvalidConfig, match=f"{path}, line 1: duplicate key 'seed'"):
        read_config_file(path)


def test_integers_must_be_integers_and_numbers_finite(config):
    validate(config, SCHEMA)
    config["anomaly"]["classifier"]["train"]["epochs"] = 3.0
    with pytest.raises(InvalidConfig, match=r"^anomaly.classifier.train.epochs: 3.0 is not an integer$"):
        check_integers(config, SCHEMA)
    config["anomaly"]["classifier"]["train"]["epochs"] = 3
    config["anomaly"]["injections"][1] = float("nan")
    with pytest.raises(InvalidConfig, match=r"the config: anomaly.injections.1: nan is not a finite number"):
        check_config_values(config)
