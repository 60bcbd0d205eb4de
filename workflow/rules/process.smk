rule process:
    input:
        files=sample_inputs,
    output:
        columns="results/columns/{sample}.parquet",
        hists="results/hists/{sample}.root",
        cutflow="results/cutflow/{sample}.json",
    params:
        selection=channel_options,
        processing=PROCESSING,
        seed=config["seed"],
    log:
        "logs/process/{sample}.log",
    benchmark:
        "benchmarks/process/{sample}.tsv"
    threads: config["processing"]["workers"]
    conda:
        "../../envs/mlhep.yaml"
    resources:
        mem_mb=4000,
        runtime=60,
    script:
        "../../scripts/process.py"


rule cutflow_table:
    input:
        cutflows=expand("results/cutflow/{sample}.json", sample=SAMPLES),
    output:
        table=report(
            "results/cutflow/cutflow.csv",
            caption="../report/cutflow.rst",
            category="Processing",
        ),
    log:
        "logs/cutflow_table.log",
    benchmark:
        "benchmarks/cutflow_table.tsv"
    threads: 1
    conda:
        "../../envs/mlhep.yaml"
    resources:
        mem_mb=500,
        runtime=5,
    script:
        "../../scripts/cutflow_table.py"
