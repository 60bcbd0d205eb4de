rule anomaly_run:
    input:
        signal=lambda wildcards: f"results/columns/{ANOMALY['signal']}.parquet",
        background=lambda wildcards: f"results/columns/{ANOMALY['background']}.parquet",
    output:
        run="results/anomaly/runs/{injection}/seed{seed}.json",
        scores="results/anomaly/runs/{injection}/seed{seed}.parquet",
    wildcard_constraints:
        injection=r"\d+(\.\d+)?",
        seed=r"\d+",
    params:
        settings=ANOMALY_RUN,
        global_seed=config["seed"],
        injection=lambda wildcards: float(wildcards.injection),
        seed=lambda wildcards: int(wildcards.seed),
        region=None,
    log:
        "logs/anomaly/{injection}/seed{seed}.log",
    benchmark:
        "benchmarks/anomaly/{injection}/seed{seed}.tsv"
    threads: 1
    conda:
        "../../envs/mlhep.yaml"
    resources:
        mem_mb=4000,
        runtime=60,
    script:
        "../../scripts/anomaly_run.py"


rule anomaly_window:
    input:
        signal=lambda wildcards: f"results/columns/{ANOMALY['signal']}.parquet",
        background=lambda wildcards: f"results/columns/{ANOMALY['background']}.parquet",
    output:
        run="results/anomaly/windows/{low}-{high}.json",
        scores="results/anomaly/windows/{low}-{high}.parquet",
    wildcard_constraints:
        low=r"\d+(\.\d+)?",
        high=r"\d+(\.\d+)?",
    params:
        settings=ANOMALY_RUN,
        global_seed=config["seed"],
        injection=lambda wildcards: ANOMALY["headline"],
        seed=config["seed"],
        region=lambda wildcards: [float(wildcards.low), float(wildcards.high)],
    log:
        "logs/anomaly_window/{low}-{high}.log",
    benchmark:
        "benchmarks/anomaly_window/{low}-{high}.tsv"
    threads: 1
    conda:
        "../../envs/mlhep.yaml"
    resources:
        mem_mb=4000,
        runtime=60,
    script:
        "../../scripts/anomaly_run.py"


rule anomaly_summary:
    input:
        runs=anomaly_runs,
        windows=anomaly_windows,
    output:
        summary="results/anomaly/summary.json",
        plots=report(
            directory("results/plots/anomaly"),
            patterns=["{name}.png"],
            caption="../report/anomaly.rst",
            category="Anomaly detection",
        ),
    params:
        settings=ANOMALY,
    log:
        "logs/anomaly_summary.log",
    benchmark:
        "benchmarks/anomaly_summary.tsv"
    threads: 1
    conda:
        "../../envs/mlhep.yaml"
    resources:
        mem_mb=2000,
    script:
        "../../scripts/anomaly_summary.py"
