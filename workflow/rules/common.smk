from snakemake.utils import validate

from mlhep.config import check_config

validate(config, schema="../schemas/config.schema.yaml")
check_config(config)

SAMPLES = config["samples"]


wildcard_constraints:
    sample="[A-Za-z][A-Za-z0-9_]*",
    shard=r"\d+",


def shard_files(sample):
    return [f"data/generated/{sample}/{shard}.root" for shard in range(SAMPLES[sample]["shards"])]


def all_shard_files(wildcards=None):
    return [path for sample in SAMPLES for path in shard_files(sample)]


def generation_spec(wildcards):
    from dataclasses import asdict

    from mlhep.generate import SampleSpec

    return asdict(SampleSpec.from_config(config, wildcards.sample))


def final_outputs():
    return ["results/generation/summary.json"]
