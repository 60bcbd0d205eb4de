rule manifest:
    input:
        manifest_inputs,
    output:
        "results/manifest.json",
    params:
        config=config,
        checkout=workflow.basedir,
    log:
        "logs/manifest.log",
    benchmark:
        "benchmarks/manifest.tsv"
    threads: 1
    conda:
        "../../envs/mlhep.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    script:
        "../../scripts/manifest.py"
