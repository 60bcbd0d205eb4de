rule metrics_table:
    input:
        lambda wildcards: METRICS[wildcards.table],
    output:
        report("results/tables/{table}.html", caption="../report/metrics.rst", category="Metrics"),
    wildcard_constraints:
        table="[A-Za-z][A-Za-z0-9_]*",
    log:
        "logs/metrics_table/{table}.log",
    benchmark:
        "benchmarks/metrics_table/{table}.tsv"
    threads: 1
    conda:
        "../../envs/mlhep.yaml"
    resources:
        mem_mb=1000,
    script:
        "../../scripts/metrics_table.py"
