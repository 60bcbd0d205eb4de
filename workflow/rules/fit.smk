rule fit_search:
    input:
        signal=lambda wildcards: f"results/columns/{FITS[wildcards.analysis]['signal']}.parquet",
        background=lambda wildcards: f"results/columns/{FITS[wildcards.analysis]['background']}.parquet",
        tagger=lambda wildcards: f"results/taggers/{FITS[wildcards.analysis]['tagger']}",
    output:
        fit=directory("results/fits/{analysis}"),
        plots=report(
            directory("results/plots/fits/{analysis}"),
            patterns=["{name}.png"],
            caption="../report/fits.rst",
            category="Fits",
            subcategory="{analysis}",
        ),
    params:
        analysis=lambda wildcards: FITS[wildcards.analysis],
        tagger_kind=lambda wildcards: TAGGERS[FITS[wildcards.analysis]["tagger"]][0],
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
        runtime=30,
    script:
        "../../scripts/fit_search.py"
