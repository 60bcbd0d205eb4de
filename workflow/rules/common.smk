import re

from snakemake.utils import validate

from mlhep.config import check_config, tagger_models

validate(config, schema="../schemas/config.schema.yaml")
check_config(config)

SAMPLES = config["samples"]
GENERATED = [name for name, sample in SAMPLES.items() if "process" in sample]
TAGGERS = tagger_models(config["taggers"]["models"])
FITS = config.get("fits", {})


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


def final_outputs():
    outputs = ["results/cutflow/cutflow.csv", "results/taggers/summary.json"]
    outputs += expand("results/fits/{analysis}", analysis=FITS)
    if GENERATED:
        outputs.append("results/generation/summary.json")
    return outputs
