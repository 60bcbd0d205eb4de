rule fit_search:
    input:
        signals=lambda wildcards: [f"results/columns/{sample}.parquet" for sample in fit_signal_samples(wildcards.analysis)],
        background=lambda wildcards: f"results/columns/{FITS[wildcards.analysis]['background']}.parquet",
        tagger=lambda wildcards: f"results/taggers/{FITS[wildcards.analysis]['tagger']}",
    output:
        results="results/fits/{analysis}/results.json",
        workspace="results/fits/{analysis}/workspace.json",
        limits="results/fits/{analysis}/limits.json",
        ranking="results/fits/{analysis}/ranking.json",
        bkgonly="results/fits/{analysis}/bkgonly.json",
        patchset="results/fits/{analysis}/patchset.json",
        plots=report(
            directory("results/plots/fits/{analysis}"),
            patterns=["{name}.png"],
            caption="../report/fits.rst",
            category="Fits",
            subcategory="{analysis}",
        ),
    params:
        analysis=lambda wildcards: FITS[wildcards.analysis],
        signal_samples=lambda wildcards: fit_signal_samples(wildcards.analysis),
        systematics=config["processing"]["channels"]["dijet"],
        seed=config["seed"],
    wildcard_constraints:
        analysis="[A-Za-z][A-Za-z0-9_]*",
    log:
        "logs/fit_search/{analysis}.log",
    benchmark:
        "benchmarks/fit_search/{analysis}.tsv"
    threads: 1
    conda:
        "../../envs/mlhep.yaml"
    resources:
        mem_mb=4000,
        runtime=60,
    script:
        "../../scripts/fit_search.py"
