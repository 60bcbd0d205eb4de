import os
import re

from snakemake.utils import validate

from mlhep.config import anomaly_run_names, check_config, check_config_files, check_config_values, check_integers, tagger_models

# the config files as written (duplicate keys, YTE templates), the merged config's size and
# numbers (alias bombs, NaN), the schema, integers that are integers, references between sections
check_config_files(workflow.configfiles, allow_yte=os.environ.get("MLHEP_ALLOW_YTE") == "1")
check_config_values(config)
validate(config, schema="../schemas/config.schema.yaml")
check_integers(config, f"{workflow.basedir}/workflow/schemas/config.schema.yaml")
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


def manifest_inputs(wildcards=None):
    """Every final output of the analysis: what each stage writes under results/."""
    outputs = [*final_outputs(), *expand(rules.process.output, sample=SAMPLES), *rules.cutflow_table.output]
    outputs += [*expand(rules.train_tagger.output, model=TAGGERS), *rules.summarize_taggers.output]
    outputs += expand(rules.fit_search.output, analysis=FITS)
    outputs += rules.hepdata.output
    if GENERATED:
        outputs += rules.validate_generation.output
    if UNFOLDING:
        outputs += rules.unfold.output
    if NSBI:
        outputs += rules.nsbi.output
    if ANOMALY:
        runs = anomaly_runs() + anomaly_windows()
        outputs += [*runs, *(run.replace(".json", ".parquet") for run in runs), *rules.anomaly_summary.output]
    return list(dict.fromkeys(outputs))


def all_outputs(wildcards=None):
    """Every output of the DAG, each an input of the default target, all: Snakemake rebuilds a
    missing file only when a job that needs it has to run, so a missing intermediate (a killed
    job's) would otherwise stay missing behind an up-to-date manifest."""
    return [*all_shard_files(), *manifest_inputs(), *rules.manifest.output]
