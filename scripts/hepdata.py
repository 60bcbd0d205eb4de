"""Snakemake script: the run's results as a HEPData submission, validated."""

from pathlib import Path

from mlhep.io import log_to

log_to(snakemake.log[0])

from mlhep.publish.stage import build_hepdata

inputs = snakemake.input
build_hepdata(
    Path(snakemake.output[0]).parent,  # submission.yaml and its tables, Snakemake's outputs
    unfolded_root=inputs.unfolded or None,
    weights=inputs.weights or None,
    model_weights=inputs.model_weights or None,
    limits=inputs.limits,
    cutflow=inputs.cutflow,
    taggers=inputs.taggers,
)
