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


# the targets of issue 27, judged on the held-out variations
TARGETS = {"wins": 4, "worst_over_ibu": 1.5, "auc_excess_over_prior": 0.1, "never_over_prior": 0.3}
PERCENTILES = (16, 84)


def check_variations(config):
    """The pseudo-data of ``unfolding.variations``: Z+jets samples of the config other than the
    simulation, at least one of them held out and one not (the settings were chosen on those),
    each ``reference`` a different Z+jets sample generated the same way (process, parameters,
    settings, filter); InvalidConfig otherwise. Returns {name: held_out}."""
    from mlhep.errors import InvalidConfig

    settings = config.get("unfolding") or {}
    variations = settings.get("variations") or {}
    if not variations:
        raise InvalidConfig("unfolding.variations: none configured (config/benchmark.yaml lists them)")
    for name in variations:
        sample = config["samples"].get(name)
        if sample is None or sample.get("channel") != "zjets":
            raise InvalidConfig(f"unfolding.variations.{name}: not a zjets-channel sample of the config")
        if name in (settings["simulation"], settings.get("alternative_simulation")):
            raise InvalidConfig(f"unfolding.variations.{name}: is the simulation (or the alternative one); name a pseudo-data sample")
        _check_reference(config, name, variations[name].get("reference"))
    held_out = {name: bool(v["held_out"]) for name, v in variations.items()}
    if all(held_out.values()) or not any(held_out.values()):
        raise InvalidConfig("unfolding.variations: need variations the settings were chosen on (held_out: false) and held-out ones (held_out: true)")
    return held_out


def _check_reference(config, name, reference):
    from mlhep.errors import InvalidConfig

    if reference is None:
        return
    how = lambda sample: {key: sample.get(key) for key in ("channel", "process", "parameters", "settings", "filter")}
    other = config["samples"].get(reference)
    if reference == name or other is None:
        raise InvalidConfig(f"unfolding.variations.{name}.reference: {reference!r} is not another sample of the config")
    if how(other) != how(config["samples"][name]):
        raise InvalidConfig(f"unfolding.variations.{name}.reference: {reference} is not generated as {name} (channel, process, parameters, settings and filter must match)")


def _spread(values, extra):
    """The median and the 16th and 84th percentiles of ``values`` (one per seed), with ``extra``."""
    import numpy as np

    low, high = np.percentile(values, PERCENTILES)
    return {"omnifold": float(np.median(values)), "omnifold_16": float(low), "omnifold_84": float(high), **extra}


def _aggregate(runs):
    """The per-seed figures of one variation as medians and 16-84 % bands over the seeds."""
    first = runs[0]
    out = {}
    for section in ("observables", "unfolded_never"):
        out[section] = {name: _spread([run[section][name]["omnifold"] for run in runs], {k: v for k, v in figures.items() if k != "omnifold"}) for name, figures in first[section].items()}
    out["auc_joint"] = _spread([run["auc_joint"]["omnifold"] for run in runs], {k: first["auc_joint"][k] for k in ("prior", "floor")})
    return out


def _wins(observables):
    return sum(figures["omnifold"] < figures["ibu"] for figures in observables.values())


def _one_run(card, sim, data, options, seed):
    """One OmniFold of ``data`` with ``sim`` judged by the Scorecard ``card``, with the ensemble
    curve (the last step averaged over its first k networks) and its wall time."""
    import time

    import numpy as np

    from mlhep.unfold.omnifold import ensemble_weights
    from mlhep.unfold.stage import unfold_events

    start = time.perf_counter()
    result = unfold_events(sim, data, options, seed=seed)
    figures = {"seed": seed, "seconds": time.perf_counter() - start, **card.judge(result.weights)}
    figures["wins"] = _wins(figures["observables"])
    curve = {}
    for size in range(1, len(result.member_weights) + 1):
        observables = card.judge(ensemble_weights(result, size), auc=False)["observables"]
        curve[size] = {"mean": float(np.mean([m["omnifold"] for m in observables.values()])), "wins": _wins(observables)}
    figures["ensemble_curve"] = curve
    return figures, result


def _tf_run(sim, data, settings, seed, python, threads=2):
    """The TensorFlow `omnifold` package (MultiFold, in its own environment: ``python``) on the
    same network inputs, iterations, epochs, batch size, learning rate, widths and ensemble.
    Returns (weights per simulated event, seconds of MultiFold.Unfold)."""
    import subprocess

    import numpy as np

    from mlhep.errors import MlhepError
    from mlhep.io import write_json

    train = settings["train"]
    options = {
        "iterations": settings["iterations"],
        "epochs": train["epochs"],
        "batch_size": train["batch_size"],
        "learning_rate": train["learning_rate"],
        "ensemble": settings["ensemble"],
        "hidden": list(settings["hidden"]),
        "patience": train["patience"] if train.get("early_stopping", True) else train["epochs"],
        "seed": int(seed) % 2**31,
        "threads": threads,
    }
    with tempfile.TemporaryDirectory() as folder:
        selected = data.pass_reco
        np.savez(f"{folder}/events.npz", sim_reco=sim.reco_inputs, sim_truth=sim.truth_inputs, pass_reco=sim.pass_reco, pass_truth=sim.pass_truth, sim_weight=sim.weight, data_reco=data.reco_inputs[selected], data_weight=data.weight[selected])
        write_json(options, f"{folder}/settings.json")
        script = Path(__file__).with_name("omnifold_tf.py")
        done = subprocess.run([python, str(script), f"{folder}/events.npz", f"{folder}/weights.npz", f"{folder}/settings.json"], capture_output=True, text=True)
        if done.returncode != 0:
            raise MlhepError(f"the TensorFlow omnifold package ({python}) failed with exit code {done.returncode}:\n{done.stderr[-3000:]}")
        out = np.load(f"{folder}/weights.npz")
        return out["weights"], float(out["seconds"])


def _variation(name, held_out, sim, load, settings, seeds, seed, tf_python):
    """Every figure of one pseudo-data variation: one OmniFold run per seed, their medians and
    16-84 % bands, and with ``tf_python`` the TF package on the first seed; judged against the
    truth of the variation's ``reference`` sample where it has one."""
    from mlhep.unfold.scorecard import Scorecard
    from mlhep.unfold.stage import observable_edges, omnifold_options

    data = load(name)
    reference = settings["variations"][name].get("reference")
    edges = {o: observable_edges(o, settings["bins"]) for o in settings["observables"]}
    card = Scorecard(sim, data, settings["observables"], edges, settings["ibu_iterations"], seed=seed, reference=reference and load(reference))
    runs = [_one_run(card, sim, data, omnifold_options(settings, s), s)[0] for s in seeds]
    entry = {"held_out": held_out, "truth": reference or "own", **_aggregate(runs), "wins": [run["wins"] for run in runs], "data_events": int(data.pass_reco.sum()), "runs": runs}
    if card.missing:
        entry["unfolded_never_missing"] = card.missing
    if tf_python:
        weights, seconds = _tf_run(sim, data, settings, seeds[0], tf_python)
        tf = card.judge(weights)
        entry["tf_omnifold"] = {**tf, "wins": _wins(tf["observables"]), "seconds": seconds, "mlhep_seconds": runs[0]["seconds"], "seed": seeds[0]}
    return entry


def excess_over_prior(figures):
    """OmniFold's discriminator above the floor as a fraction of the prior's: (omnifold - floor)
    / (prior - floor), 0 when OmniFold is at or below the floor, inf when only the prior is
    (weights that pull a right prior off). The floor is what a perfect unfolding of the data
    scores, so a fraction of the prior's own figure below it asks for better than perfect; this
    is the form the joint AUC's target has."""
    above = figures["omnifold"] - figures["floor"]
    if above <= 0:
        return 0.0
    prior_above = figures["prior"] - figures["floor"]
    return above / prior_above if prior_above > 0 else float("inf")


def _group_summary(chosen, inputs):
    """Medians over the variations (and seeds) of one group, and the worst cases; ``inputs``: the
    jet quantities the networks saw (not histogrammed, so not "never unfolded" either: their
    figures are kept apart as input_jet_*)."""
    import numpy as np

    runs = [run for entry in chosen for run in entry["runs"]]
    excess = lambda auc: auc["omnifold"] - auc["floor"]
    seen = [(name, entry["unfolded_never"][name]) for entry in chosen for name in entry["unfolded_never"] if name in inputs]
    never = [(name, entry["unfolded_never"][name]) for entry in chosen for name in entry["unfolded_never"] if name not in inputs]
    over_prior = lambda pairs: [figures["omnifold"] / figures["prior"] for _, figures in pairs]
    sizes = sorted({size for run in runs for size in run["ensemble_curve"]})
    return {
        "variations": len(chosen),
        "wins_median": float(np.median([run["wins"] for run in runs])),
        "wins_of_medians_median": float(np.median([_wins(entry["observables"]) for entry in chosen])),
        "worst_over_ibu": float(max(m["omnifold"] / m["ibu"] for entry in chosen for m in entry["observables"].values())),
        "auc_excess_median": float(np.median([excess(run["auc_joint"]) for run in runs])),
        "prior_auc_excess_median": float(np.median([entry["auc_joint"]["prior"] - entry["auc_joint"]["floor"] for entry in chosen])),
        "auc_excess_over_prior_median": float(np.median([excess(run["auc_joint"]) / (run["auc_joint"]["prior"] - run["auc_joint"]["floor"]) for run in runs])),
        "never_jet_over_prior_median": float(np.median(over_prior([p for p in never if ":" not in p[0]]) or [np.nan])),
        "never_jet_over_prior_max": float(max(over_prior([p for p in never if ":" not in p[0]]) or [np.nan])),
        "never_jet_excess_over_prior_max": float(max([excess_over_prior(figures) for name, figures in never if ":" not in name] or [np.nan])),
        "input_jet_over_prior_max": float(max(over_prior(seen) or [np.nan])),
        "input_jet_over_floor_max": float(max([figures["omnifold"] / figures["floor"] for _, figures in seen] or [np.nan])),
        "pairs_over_prior_median": float(np.median(over_prior([p for p in never if ":" in p[0]]))),
        "pairs_over_prior_max": float(max(over_prior([p for p in never if ":" in p[0]]))),
        "pairs_below_ibu_fraction": float(np.mean([figures["omnifold"] < figures["ibu"] for name, figures in never if ":" in name])),
        "ensemble_curve": {size: float(np.median([run["ensemble_curve"][size]["mean"] for run in runs])) for size in sizes},
    }


def _summary(variations, inputs=()):
    """The issue's summary (held_out_wins_median, held_out_auc_excess_median), the same for the
    tuning variations, and whether each target is met on the held-out ones."""
    out = {}
    for group, held_out in (("held_out", True), ("tuning", False)):
        chosen = [entry for entry in variations.values() if entry["held_out"] == held_out]
        if chosen:
            out.update({f"{group}_{key}": value for key, value in _group_summary(chosen, inputs).items()})
    if "held_out_wins_median" in out:
        out["targets"] = {
            "wins": {"target": f">= {TARGETS['wins']}", "met": out["held_out_wins_median"] >= TARGETS["wins"]},
            "worst_over_ibu": {"target": f"<= {TARGETS['worst_over_ibu']}", "met": out["held_out_worst_over_ibu"] <= TARGETS["worst_over_ibu"]},
            "auc_excess_over_prior": {"target": f"<= {TARGETS['auc_excess_over_prior']}", "met": out["held_out_auc_excess_over_prior_median"] <= TARGETS["auc_excess_over_prior"]},
            "never_over_prior": {"target": f"<= {TARGETS['never_over_prior']} (the never-unfolded jet observables, worst)", "met": out["held_out_never_jet_over_prior_max"] <= TARGETS["never_over_prior"]},
            "never_excess_over_prior": {"target": f"<= {TARGETS['never_over_prior']} (the same above the floor, as the joint AUC's: excess_over_prior)", "met": out["held_out_never_jet_excess_over_prior_max"] <= TARGETS["never_over_prior"]},
        }
    return out


def bench_variations(config, seeds, columns="results/columns", which="all", tf_python=None):
    """OmniFold of every pseudo-data sample of ``unfolding.variations`` with the simulation, with
    the settings of ``config``, one run per seed of ``seeds``; judged per observable against
    IBU and the prior, on never-unfolded observables and pairs, and by a classifier two-sample
    test (mlhep.unfold.scorecard.Scorecard). ``which``: all, held_out or tuning variations;
    ``tf_python``: the interpreter of an environment with the TF `omnifold` package, run once
    per variation on the first seed. Returns the results/benchmarks/unfolding_variations.json
    content: {"variations": {name: {...}}, "summary": {...}, "settings": {...}}."""
    import numpy as np

    from mlhep.errors import InvalidConfig
    from mlhep.unfold.stage import load_events

    held_out = check_variations(config)
    settings = config["unfolding"]
    if settings.get("constituents"):
        raise InvalidConfig("unfolding.constituents: the variations benchmark unfolds the observables; set it to null")
    if not seeds:
        raise InvalidConfig("bench unfolding --variations: give at least one seed (--seeds)")
    chosen = [name for name, held in held_out.items() if which == "all" or held == (which == "held_out")]
    load = lambda name: load_events(f"{columns}/{name}.parquet", settings["observables"], log_observables=settings["log_observables"], extra_inputs=settings.get("extra_inputs", ()))
    sim = load(settings["simulation"])
    variations = {name: _variation(name, held_out[name], sim, load, settings, seeds, config["seed"], tf_python) for name in chosen}
    keys = ("iterations", "hidden", "train", "ensemble", "log_observables", "extra_inputs", "bins", "ibu_iterations")
    return {
        "variations": variations,
        "summary": _summary(variations, settings.get("extra_inputs", ())),
        "settings": {key: settings.get(key, []) for key in keys} | {"simulation": settings["simulation"], "simulation_events": int(np.sum(sim.pass_reco | sim.pass_truth)), "seeds": list(seeds)},
    }
