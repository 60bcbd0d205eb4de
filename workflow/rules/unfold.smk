rule unfold:
    input:
        simulation=lambda wildcards: f"results/columns/{UNFOLDING['simulation']}.parquet",
        data=lambda wildcards: f"results/columns/{UNFOLDING['data']}.parquet",
        alternative=lambda wildcards: [f"results/columns/{UNFOLDING['alternative_simulation']}.parquet"] if UNFOLDING.get("alternative_simulation") else [],
    output:
        metrics="results/unfolding/metrics.json",
        weights="results/unfolding/weights.parquet",
        **({"model_weights": "results/unfolding/model_weights.parquet"} if UNFOLDING and UNFOLDING.get("alternative_simulation") else {}),
        hists="results/unfolding/unfolded.root",
        plots=report(
            directory("results/plots/unfolding"),
            patterns=["{name}.png"],
            caption="../report/unfolding.rst",
            category="Unfolding",
        ),
    params:
        settings=UNFOLDING,
        seed=config["seed"],
    log:
        "logs/unfold.log",
    benchmark:
        "benchmarks/unfold.tsv"
    threads: 2
    conda:
        "../../envs/mlhep.yaml"
    resources:
        mem_mb=4000,
        runtime=120,
    script:
        "../../scripts/unfold.py"
