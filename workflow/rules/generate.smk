rule generate:
    output:
        root="data/generated/{sample}/{shard}.root",
    params:
        spec=generation_spec,
    log:
        "logs/generate/{sample}/{shard}.log",
    benchmark:
        "benchmarks/generate/{sample}/{shard}.tsv"
    threads: 1
    conda:
        "../../envs/mlhep.yaml"
    resources:
        mem_mb=3000,
        runtime=120,
    script:
        "../../scripts/generate.py"


rule validate_generation:
    input:
        shards=all_shard_files,
    output:
        summary="results/generation/summary.json",
        plots=report(
            directory("results/plots/generation"),
            patterns=["{name}.png"],
            caption="../report/generation.rst",
            category="Generation",
        ),
    log:
        "logs/validate_generation.log",
    benchmark:
        "benchmarks/validate_generation.tsv"
    threads: 1
    conda:
        "../../envs/mlhep.yaml"
    resources:
        mem_mb=4000,
        runtime=30,
    script:
        "../../scripts/validate_generation.py"
