"""Configuration checks beyond the JSON schema: references between sections."""

from pathlib import Path

from mlhep.errors import InvalidConfig

__all__ = ["DECORRELATED", "anomaly_run_names", "check_config", "injection_key", "tagger_models"]

# tagger kinds trained once per lambda of their config list, as "{kind}_lambda_{lambda}"
DECORRELATED = ("disco", "adversarial", "mode")


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
        for sample in analysis.get("mass_points", {}):
            _check_dijet_sample(config, f"fits.{name}.mass_points", sample)
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
        unknown = sorted(logged - set(unfolding.get("observables", logged)))  # the default unfolds all
        if unknown:
            raise InvalidConfig(f"unfolding.log_observables: {unknown} not among the unfolded observables")
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
            expanded[f"{kind}_lambda_{lam:g}"] = (kind, {**hyper, "decorrelation": {"method": kind, "lam": lam, **options}})
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
