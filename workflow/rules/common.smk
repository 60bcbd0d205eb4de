import re

from snakemake.utils import validate

from mlhep.config import anomaly_run_names, check_config, tagger_models

validate(config, schema="../schemas/config.schema.yaml")
check_config(config)

SAMPLES = config["samples"]
GENERATED = [name for name, sample in SAMPLES.items() if "process" in sample]
TAGGERS = tagger_models(config["taggers"]["models"])
FITS = config.get("fits", {})
UNFOLDING = config.get("unfolding")
NSBI = config.get("nsbi")
ANOMALY = config.get("anomaly")
# what one bump-hunt run depends on: not the list of runs, nor the summary's choice of cut
ANOMALY_RUN = {k: v for k, v in (ANOMALY or {}).items() if k not in ("injections", "headline", "seeds", "scan_seeds", "significance_efficiency", "sliding_regions")}


wildcard_constraints:
    sample="[A-Za-z][A-Za-z0-9_]*",
    shard=r"\d+",


def shard_files(sample):
    return [f"data/generated/{sample}/{shard}.root" for shard in range(SAMPLES[sample]["shards"])]


def all_shard_files(wildcards=None):
    return [path for sample in GENERATED for path in shard_files(sample)]


def sample_inputs(wildcards):
    sample = SAMPLES[wildcards.sample]
    return sample["files"] if "files" in sample else shard_files(wildcards.sample)


PROCESSING = {key: value for key, value in config["processing"].items() if key != "channels"}


def channel_options(wildcards):
    channel = SAMPLES[wildcards.sample]["channel"]
    return {"channel": channel, "options": config["processing"]["channels"][channel]}


def generation_spec(wildcards):
    from dataclasses import asdict

    from mlhep.generate import SampleSpec

    return asdict(SampleSpec.from_config(config, wildcards.sample))


def fit_signal_samples(analysis):
    """The signal sample of a fit, then its other mass points."""
    fit = FITS[analysis]
    return list(dict.fromkeys([fit["signal"], *fit.get("mass_points", {})]))


# metrics tables of the report: {table name: the JSON of a stage}
METRICS = {"cutflow": "results/cutflow/cutflow.csv", "taggers": "results/taggers/summary.json"}
METRICS.update({f"fit_{analysis}": f"results/fits/{analysis}/results.json" for analysis in FITS})
METRICS.update({f"limits_{analysis}": f"results/fits/{analysis}/limits.json" for analysis in FITS})
if GENERATED:
    METRICS["generation"] = "results/generation/summary.json"
if UNFOLDING:
    METRICS["unfolding"] = "results/unfolding/metrics.json"
if NSBI:
    METRICS["nsbi"] = "results/nsbi/metrics.json"
if ANOMALY:
    METRICS["anomaly"] = "results/anomaly/summary.json"


def anomaly_windows(wildcards=None):
    return [f"results/anomaly/windows/{low:g}-{high:g}.json" for low, high in ANOMALY.get("sliding_regions", [])]


def anomaly_runs(wildcards=None):
    return [f"results/anomaly/runs/{injection}/seed{seed}.json" for injection, seed in anomaly_run_names(ANOMALY, config["seed"])]


def final_outputs():
    return expand("results/tables/{table}.html", table=METRICS)
