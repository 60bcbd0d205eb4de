# mlhep: from generated or real NanoAOD events to physics results.
from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/generate.smk"
include: "workflow/rules/process.smk"
include: "workflow/rules/classify.smk"
include: "workflow/rules/unfold.smk"
include: "workflow/rules/nsbi.smk"
include: "workflow/rules/anomaly.smk"
include: "workflow/rules/fit.smk"
include: "workflow/rules/publish.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/manifest.smk"


# tables of finished results, a second's work: on a cluster they run beside Snakemake, not in the queue
localrules:
    cutflow_table,
    hepdata,
    metrics_table,


rule all:
    input:
        all_outputs,
    default_target: True
