"""Unfolding benchmark: OmniFold against IBU and the prior in a finished run's metrics."""

import json
import tempfile
from pathlib import Path

__all__ = ["bench_unfolding", "seed_spread"]


def _better_than_ibu(observables):
    return [name for name, m in observables.items() if m["omnifold"] < m["ibu"]]


def seed_spread(settings, simulation_path, data_path, seeds):
    """The nominal OmniFold redone with each of ``seeds`` (network initializations and batch
    order; no bootstrap, systematics or alternative simulation) on the same columns: how far
    the count of observables below IBU is luck of the training."""
    from mlhep.unfold.stage import run_unfolding

    settings = {**settings, "bootstrap": 0, "systematics": []}
    spread = {}
    for seed in seeds:
        with tempfile.TemporaryDirectory() as folder:
            observables = run_unfolding(settings, simulation_path, data_path, seed, folder, f"{folder}/plots")["observables"]
        spread[seed] = {"omnifold": {name: m["omnifold"] for name, m in observables.items()}, "better_than_ibu": _better_than_ibu(observables)}
    return spread


def bench_unfolding(metrics_path, max_prior_fraction=0.3, min_better_than_ibu=5):
    """The targets of the unfolding stage on ``results/unfolding/metrics.json``: OmniFold's
    triangular discriminator below IBU's for at least ``min_better_than_ibu`` observables, and
    on average at most ``max_prior_fraction`` of the prior's (the mean of the per-observable
    ratios, and the ratio of the means, both reported)."""
    metrics = json.loads(Path(metrics_path).read_text())
    observables = metrics["observables"]
    better = _better_than_ibu(observables)
    ratios = {name: m["omnifold"] / m["prior"] for name, m in observables.items()}
    mean_ratio = sum(ratios.values()) / len(ratios)
    ratio_of_means = sum(m["omnifold"] for m in observables.values()) / sum(m["prior"] for m in observables.values())
    return {
        "metrics": str(metrics_path),
        "observables": observables,
        "omnifold_over_prior": ratios,
        "mean_omnifold_over_prior": mean_ratio,
        "omnifold_over_prior_of_means": ratio_of_means,
        "better_than_ibu": better,
        "uncertainties": metrics.get("uncertainties"),
        "seconds_per_iteration": metrics["seconds_per_iteration"],
        "target_met": len(better) >= min_better_than_ibu and mean_ratio <= max_prior_fraction,
    }
