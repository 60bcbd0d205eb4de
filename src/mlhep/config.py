"""Configuration checks beyond the JSON schema: the config files themselves, numbers the schema
cannot judge, references between sections."""

import math
from pathlib import Path

import yaml

from mlhep.errors import InvalidConfig

__all__ = [
    "DECORRELATED",
    "MAX_CONFIG_DEPTH",
    "MAX_CONFIG_VALUES",
    "anomaly_run_names",
    "check_config",
    "check_config_files",
    "check_config_values",
    "check_integers",
    "injection_key",
    "read_config_file",
    "tagger_models",
]

# jet quantities the OmniFold networks may see beside the unfolded observables (schema's extra_inputs)
UNFOLDING_EXTRA_INPUTS = {"jet_pt", "jet_eta"}

# tagger kinds trained once per lambda of their config list, as "{kind}_lambda_{lambda}"
DECORRELATED = ("disco", "adversarial", "mode")

# a config is a few hundred values; more than this is a mistake or a YAML alias bomb (aliases
# expanded: a few hundred bytes of anchors can stand for 10**9 values)
MAX_CONFIG_VALUES = 100_000
MAX_CONFIG_DEPTH = 32


class _StrictLoader(yaml.SafeLoader):
    """yaml.safe_load's loader, refusing a key given twice in one mapping."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if key in seen:
                raise InvalidConfig(f"{self.name}, line {key_node.start_mark.line + 1}: duplicate key '{key}' (YAML keeps only the last one)")
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def read_config_file(path, allow_yte=False):
    """The contents of a YAML or JSON config file, refusing duplicate keys, the values that
    ``check_config_values`` refuses and, unless ``allow_yte``, Snakemake's YTE templates
    (``__use_yte__: true`` runs the Python in them). Raises InvalidConfig naming the file (and
    the line of a duplicate key)."""
    text = Path(path).read_text(encoding="utf-8")
    loader = _StrictLoader(text)
    loader.name = str(path)
    try:
        document = loader.get_single_data()
    except yaml.YAMLError as err:
        raise InvalidConfig(f"{path}: not valid YAML or JSON: {err}") from err
    finally:
        loader.dispose()
    if isinstance(document, dict) and "__use_yte__" in document and not allow_yte:
        raise InvalidConfig(
            f"{path}: __use_yte__ makes Snakemake run the file as a YTE template, Python code with your rights; "
            "refused unless you set MLHEP_ALLOW_YTE=1 (only for config files you trust)"
        )
    return check_config_values(document, where=path)


def check_config_files(paths, allow_yte=False):
    """Read every config file that Snakemake merged (``workflow.configfiles``) with
    ``read_config_file``: a duplicate key, a YTE template, an oversized file or a NaN stops the
    run naming the file."""
    for path in paths:
        if allow_yte and "__use_yte__" in Path(path).read_text(encoding="utf-8"):
            continue  # a template's keys (?if, ?for) may repeat; YTE itself reads it
        read_config_file(path, allow_yte)


def check_config_values(config, where="the config"):
    """Before the schema: refuse a config (``where``: its file) of more than MAX_CONFIG_VALUES
    values or nested deeper than MAX_CONFIG_DEPTH (counted with aliases expanded, stopping at the
    limit), and any NaN or infinite number, naming its key: the schema's bounds let NaN through."""
    count, stack = 0, [("", config, 0)]
    while stack:
        key, value, depth = stack.pop()
        count += 1
        if count > MAX_CONFIG_VALUES or depth > MAX_CONFIG_DEPTH:
            raise InvalidConfig(
                f"{where}: more than {MAX_CONFIG_VALUES} values or {MAX_CONFIG_DEPTH} levels (at '{key}'): "
                "a mistake or a YAML alias bomb; refused before validating it"
            )
        if isinstance(value, float) and not math.isfinite(value):
            raise InvalidConfig(f"{where}: {key}: {value} is not a finite number")
        items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
        stack.extend((f"{key}.{k}" if key else str(k), v, depth + 1) for k, v in items)
    return config


def check_integers(config, schema):
    """Every value that the schema (the path of its YAML file) types ``integer`` must be an int:
    JSON schema takes 1.0 for an integer, which fails later far from its key. Run after the
    schema's own validation, which has filled in the defaults."""
    import jsonschema

    schema = yaml.safe_load(Path(schema).read_text(encoding="utf-8"))

    def is_integer(checker, value):
        return isinstance(value, int) and not isinstance(value, bool)

    checker = jsonschema.Draft202012Validator.TYPE_CHECKER.redefine("integer", is_integer)
    validator = jsonschema.validators.extend(jsonschema.Draft202012Validator, type_checker=checker)(schema)
    for error in validator.iter_errors(config):
        key = ".".join(map(str, error.absolute_path))
        if error.validator == "type" and isinstance(error.instance, float):
            raise InvalidConfig(f"{key}: {error.instance} is not an integer")
        raise InvalidConfig(f"{key}: {error.message}")
    return config


def check_config(config):
    """Raise InvalidConfig naming the key when a sample refers to something undefined."""
    processes = config["processes"]
    for name, sample in config["samples"].items():
        if ("process" in sample) == ("files" in sample):
            raise InvalidConfig(f"samples.{name}: give either 'process' (generate) or 'files' (NanoAOD input), not {'both' if 'files' in sample else 'neither'}")
        if "files" in sample:
            for path in sample["files"]:
                if "://" not in path and not Path(path).is_file():  # remote (root://, https://) files are checked when opened
                    raise InvalidConfig(f"samples.{name}.files: no file '{path}' (relative paths start from the working directory)")
            continue
        for key in ("shards", "events_per_shard"):
            if key not in sample:
                raise InvalidConfig(f"samples.{name}.{key}: required for a generated sample")
            limit = config.get("limits", {}).get(key)  # the schema's default unless raised
            if limit is not None and sample[key] > limit:
                raise InvalidConfig(f"samples.{name}.{key}: {sample[key]} is above limits.{key} ({limit}); for a production this large, raise limits.{key} in the config")
        if sample["process"] not in processes:
            raise InvalidConfig(
                f"samples.{name}.process: unknown process '{sample['process']}' (defined: {', '.join(sorted(processes))})"
            )
    for key in ("signal", "background"):
        _check_dijet_sample(config, f"taggers.{key}", config["taggers"][key])
    taggers = tagger_models(config["taggers"]["models"])
    for name, analysis in config.get("fits", {}).items():
        for key in ("signal", "background"):
            _check_dijet_sample(config, f"fits.{name}.{key}", analysis[key])
        masses = analysis.get("mass_points", {})
        for sample in masses:
            _check_dijet_sample(config, f"fits.{name}.mass_points", sample)
        repeated = sorted({mass for mass in masses.values() if list(masses.values()).count(mass) > 1})
        if repeated:
            raise InvalidConfig(f"fits.{name}.mass_points: the mass {repeated[0]:g} is given to {', '.join(s for s, m in masses.items() if m == repeated[0])}; each point needs its own (its published patch is looked up by mass)")
        if analysis["tagger"] not in taggers:
            raise InvalidConfig(f"fits.{name}.tagger: unknown tagger '{analysis['tagger']}' (trained: {', '.join(taggers)})")
    nsbi = config.get("nsbi")
    if nsbi:
        for key in ("signal", "background"):
            _check_dijet_sample(config, f"nsbi.{key}", nsbi[key])
        if nsbi["window"][0] >= nsbi["window"][1]:
            raise InvalidConfig(f"nsbi.window: {nsbi['window']} is not an increasing pair")
    anomaly = config.get("anomaly")
    if anomaly:
        _check_anomaly(config, anomaly)
    unfolding = config.get("unfolding")
    if unfolding:
        for key in ("simulation", "data", "alternative_simulation"):
            if unfolding.get(key) is not None:
                _check_sample(config, f"unfolding.{key}", unfolding[key], "zjets")
        if unfolding.get("alternative_simulation") in (unfolding["simulation"], unfolding["data"]):
            raise InvalidConfig(f"unfolding.alternative_simulation: '{unfolding['alternative_simulation']}' is the simulation or the data; name a third sample")
        logged = set(unfolding.get("log_observables", ()))
        extra = set(unfolding.get("extra_inputs", ()))
        if extra and unfolding.get("constituents"):
            raise InvalidConfig(f"unfolding.extra_inputs: {sorted(extra)} with unfolding.constituents: the constituent networks see the constituents only; set extra_inputs: []")
        inputs = set(unfolding.get("observables", logged - UNFOLDING_EXTRA_INPUTS)) | extra  # the default unfolds every observable
        unknown = sorted(logged - inputs)
        if unknown:
            raise InvalidConfig(f"unfolding.log_observables: {unknown} not among the unfolded observables or extra_inputs")
    return config


def _check_anomaly(config, anomaly):
    for key in ("signal", "background"):
        _check_dijet_sample(config, f"anomaly.{key}", anomaly[key])
    (low, high), (start, stop) = anomaly["signal_region"], anomaly["window"]
    if not start < low < high < stop:
        raise InvalidConfig(f"anomaly: the signal region {[low, high]} must lie inside the window {[start, stop]} with sidebands on both sides")
    for low, high in anomaly.get("sliding_regions", []):
        if not start < low < high < stop:
            raise InvalidConfig(f"anomaly.sliding_regions: {[low, high]} must lie inside the window {[start, stop]} with sidebands on both sides")
    keys = [injection_key(value) for value in anomaly["injections"]]
    if len(set(keys)) < len(keys):
        raise InvalidConfig(f"anomaly.injections: {anomaly['injections']} name the same run twice (file names use {keys})")
    if anomaly["headline"] not in anomaly["injections"]:
        raise InvalidConfig(f"anomaly.headline: {anomaly['headline']} is not one of the injections {anomaly['injections']}")
    if anomaly["significance_efficiency"] not in anomaly["cut_efficiencies"]:
        raise InvalidConfig(f"anomaly.significance_efficiency: {anomaly['significance_efficiency']} is not one of the cut_efficiencies {anomaly['cut_efficiencies']}")


def _check_dijet_sample(config, key, sample):
    _check_sample(config, key, sample, "dijet")


def _check_sample(config, key, sample, channel):
    if sample not in config["samples"]:
        raise InvalidConfig(f"{key}: unknown sample '{sample}' (defined: {', '.join(sorted(config['samples']))})")
    if config["samples"][sample]["channel"] != channel:
        raise InvalidConfig(f"{key}: sample '{sample}' is not a {channel}-channel sample")


def tagger_models(models):
    """{name: (kind, hyper-parameters)} of every tagger to train from ``taggers.models``: the
    decorrelated kinds once per value of their ``lambdas`` list, named e.g. ``disco_lambda_10``."""
    expanded = {}
    for kind, hyper in models.items():
        if kind not in DECORRELATED:
            expanded[kind] = (kind, hyper)
            continue
        hyper = dict(hyper)
        lambdas = hyper.pop("lambdas")
        options = {key: hyper.pop(key) for key in list(hyper) if key not in ("hidden", "train", "ensemble")}
        for lam in lambdas:
            name = f"{kind}_lambda_{lam:g}"
            if name in expanded:
                raise InvalidConfig(f"taggers.models.{kind}.lambdas: {expanded[name][1]['decorrelation']['lam']} and {lam} are both named {name}; give lambdas that differ in 6 significant digits")
            expanded[name] = (kind, {**hyper, "decorrelation": {"method": kind, "lam": lam, **options}})
    return expanded


def injection_key(s_over_sqrtb):
    """An injected S/sqrt(B) as it appears in file names and in the anomaly summary ("2.14", "0")."""
    return f"{float(s_over_sqrtb):g}"


def anomaly_run_names(anomaly, seed):
    """``[(injection key, run seed), ...]`` of the bump hunt: ``seeds`` runs at the headline
    injection and ``scan_seeds`` at every other, with seeds seed, seed + 1, ..."""
    return [
        (injection_key(injection), seed + k)
        for injection in anomaly["injections"]
        for k in range(anomaly["seeds"] if injection == anomaly["headline"] else anomaly["scan_seeds"])
    ]
