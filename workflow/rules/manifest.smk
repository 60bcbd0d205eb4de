def manifest_inputs(wildcards):
    """Every final output of the analysis: what each stage writes under results/."""
    outputs = [*final_outputs(), *expand(rules.process.output, sample=SAMPLES), *rules.cutflow_table.output]
    outputs += [*expand(rules.train_tagger.output, model=TAGGERS), *rules.summarize_taggers.output]
    outputs += expand(rules.fit_search.output, analysis=FITS)
    if GENERATED:
        outputs += rules.validate_generation.output
    if UNFOLDING:
        outputs += rules.unfold.output
    if NSBI:
        outputs += rules.nsbi.output
    if ANOMALY:
        runs = anomaly_runs() + anomaly_windows()
        outputs += [*runs, *(run.replace(".json", ".parquet") for run in runs), *rules.anomaly_summary.output]
    return list(dict.fromkeys(outputs))


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
