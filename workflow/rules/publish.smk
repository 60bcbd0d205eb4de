from mlhep.publish.stage import record_files

# the HEPData record's files: submission.yaml and one YAML file per table
HEPDATA_FILES = record_files(
    observables=UNFOLDING["observables"] if UNFOLDING else [],
    analyses=list(FITS),
    channels=sorted({sample["channel"] for sample in SAMPLES.values()}),
    taggers=bool(TAGGERS),
)


rule hepdata:
    input:
        unfolded=lambda wildcards: rules.unfold.output.hists if UNFOLDING else [],
        weights=lambda wildcards: rules.unfold.output.weights if UNFOLDING else [],
        model_weights=lambda wildcards: rules.unfold.output.model_weights if UNFOLDING and UNFOLDING.get("alternative_simulation") else [],
        limits=expand("results/fits/{analysis}/limits.json", analysis=FITS),
        cutflow=rules.cutflow_table.output.table,
        taggers=expand("results/taggers/{model}", model=TAGGERS),
    output:
        expand("results/hepdata/{file}", file=HEPDATA_FILES),
    log:
        "logs/hepdata.log",
    benchmark:
        "benchmarks/hepdata.tsv"
    threads: 1
    conda:
        "../../envs/mlhep.yaml"
    resources:
        mem_mb=2000,
    script:
        "../../scripts/hepdata.py"
