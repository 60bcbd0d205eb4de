"""Statistical analysis with pyhf: workspaces from histogram templates, fits, limits and plots."""

from mlhep.stats.dijet_function import DijetFit, dijet_shape, fit_dijet_function
from mlhep.stats.fit import (
    LimitNotBracketed,
    best_fit,
    cls_at,
    discovery_significance,
    fit_workspace,
    limit_vs_mass,
    model_and_data,
    ranking,
    upper_limits,
    write_results,
)
from mlhep.stats.plots import plot_brazil, plot_pulls, plot_ranking, plot_stack
from mlhep.stats.workspace import MIN_YIELD, SampleInput, background_only, build_workspace, expected_yields, patchset, read_hists, sample_from_hists

__all__ = [
    "DijetFit",
    "LimitNotBracketed",
    "MIN_YIELD",
    "SampleInput",
    "background_only",
    "best_fit",
    "build_workspace",
    "cls_at",
    "dijet_shape",
    "discovery_significance",
    "expected_yields",
    "fit_dijet_function",
    "fit_workspace",
    "limit_vs_mass",
    "model_and_data",
    "patchset",
    "plot_brazil",
    "plot_pulls",
    "plot_ranking",
    "plot_stack",
    "ranking",
    "read_hists",
    "sample_from_hists",
    "upper_limits",
    "write_results",
]
