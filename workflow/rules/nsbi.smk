rule nsbi:
    input:
        signal=lambda wildcards: f"results/columns/{NSBI['signal']}.parquet",
        background=lambda wildcards: f"results/columns/{NSBI['background']}.parquet",
    output:
        metrics="results/nsbi/metrics.json",
        models=directory("results/nsbi/models"),
        plots=report(
            directory("results/plots/nsbi"),
            patterns=["{name}.png"],
            caption="../report/nsbi.rst",
            category="NSBI",
        ),
    params:
        settings=NSBI,
        systematics=config["processing"]["channels"]["dijet"],
        seed=config["seed"],
    log:
        "logs/nsbi.log",
    benchmark:
        "benchmarks/nsbi.tsv"
    threads: 2
    conda:
        "../../envs/mlhep.yaml"
    resources:
        mem_mb=4000,
        runtime=120,
    script:
        "../../scripts/nsbi.py"
