rule train_tagger:
    input:
        signal=f"results/columns/{config['taggers']['signal']}.parquet",
        background=f"results/columns/{config['taggers']['background']}.parquet",
    output:
        model=directory("results/taggers/{model}"),
    params:
        kind=lambda wildcards: TAGGERS[wildcards.model][0],
        hyper=lambda wildcards: TAGGERS[wildcards.model][1],
        seed=config["seed"],
    wildcard_constraints:
        model="|".join(map(re.escape, TAGGERS)),
    log:
        "logs/train_tagger/{model}.log",
    benchmark:
        "benchmarks/train_tagger/{model}.tsv"
    threads: 2
    conda:
        "../../envs/mlhep.yaml"
    resources:
        mem_mb=6000,
        runtime=60,
    script:
        "../../scripts/train_tagger.py"


rule summarize_taggers:
    input:
        models=expand("results/taggers/{model}", model=TAGGERS),
    output:
        summary="results/taggers/summary.json",
        plots=report(
            directory("results/plots/taggers"),
            patterns=["{name}.png"],
            caption="../report/taggers.rst",
            category="Taggers",
        ),
    log:
        "logs/summarize_taggers.log",
    benchmark:
        "benchmarks/summarize_taggers.tsv"
    threads: 1
    conda:
        "../../envs/mlhep.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    script:
        "../../scripts/summarize_taggers.py"
