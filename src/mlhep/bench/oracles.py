"""Reference checks: the headline numbers of a finished run against the field's libraries
(scikit-learn, pyhf, cabinetry, dcor, coffea) or an exact answer, on the run's own outputs.

Each check is ``{"ours", "reference", "abs_diff", "tolerance", "pass"}``.
"""

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["check", "ibu_two_bins", "omnifold_gaussian", "run_oracles"]


def check(ours, reference, tolerance):
    """One comparison: passes when |ours - reference| <= tolerance."""
    ours, reference = float(ours), float(reference)
    diff = abs(ours - reference)
    return {"ours": ours, "reference": reference, "abs_diff": diff, "tolerance": float(tolerance), "pass": bool(diff <= tolerance)}


def _r50_reference(labels, scores):
    """1/eps_B at eps_S = 0.5, interpolated on scikit-learn's ROC curve."""
    from sklearn.metrics import roc_curve

    fpr, tpr, _ = roc_curve(labels, scores, drop_intermediate=False)
    above = int(np.argmax(tpr >= 0.5))
    eps_b = fpr[above - 1] + (0.5 - tpr[above - 1]) / (tpr[above] - tpr[above - 1]) * (fpr[above] - fpr[above - 1])
    return 1 / eps_b


def tagger_checks(results):
    """AUC (and R50 where defined) of every tagger's test scores against scikit-learn."""
    from sklearn.metrics import roc_auc_score

    checks = {}
    for folder in sorted(path for path in (Path(results) / "taggers").iterdir() if (path / "scores.parquet").exists()):
        scores = pd.read_parquet(folder / "scores.parquet")
        metrics = json.loads((folder / "metrics.json").read_text())
        labels, values = scores.label.to_numpy(), scores.score.to_numpy()
        checks[f"auc_{folder.name}"] = check(metrics["auc"], roc_auc_score(labels, values), 1e-9)
        if metrics["r50"] is not None:
            reference = _r50_reference(labels, values)
            checks[f"r50_{folder.name}"] = check(metrics["r50"], reference, 1e-9 * reference)
    return checks


def dcor_check(results, tagger, max_jets=2000):
    """Our distance correlation (the DisCo penalty) of a tagger's background scores and jet
    mass against ``dcor.distance_correlation_sqr``."""
    import dcor
    import torch

    from mlhep.ml.decorrelation import distance_correlation

    scores = pd.read_parquet(Path(results) / "taggers" / tagger / "scores.parquet")
    background = scores[scores.label == 0].head(max_jets)
    score, mass = background.score.to_numpy(np.float64), background.mass.to_numpy(np.float64)
    ours = distance_correlation(torch.from_numpy(score), torch.from_numpy(mass)).item()
    return check(ours, dcor.distance_correlation_sqr(score, mass), 1e-9)


def fit_checks(fit_dir):
    """Limits against pyhf's own root-finding (scan=None, toms748; 0.5 %), the discovery
    significance against pyhf's asymptotic q0 test and the top-ranked impact against cabinetry,
    all on the fit's published workspace.json."""
    import pyhf
    from scipy.stats import norm

    from mlhep.stats.fit import free_poi_bounds, model_and_data

    fit_dir = Path(fit_dir)
    spec = json.loads((fit_dir / "workspace.json").read_text())
    results = json.loads((fit_dir / "results.json").read_text())
    ranked = json.loads((fit_dir / "ranking.json").read_text())
    model, data = model_and_data(spec)
    pyhf.set_backend("numpy", "scipy")
    observed, expected = pyhf.infer.intervals.upper_limits.upper_limit(data, model, scan=None, level=0.05, test_stat="qtilde")
    significance = norm.isf(float(pyhf.infer.hypotest(0.0, data, model, test_stat="q0")))
    top = ranked[0]
    impact = _cabinetry_postfit_impact(model, data, top["parameter"], free_poi_bounds(model))
    return {
        "limit_obs": check(results["upper_limit_obs"], observed, 5e-3 * float(observed)),
        "limit_exp_median": check(results["upper_limit_exp"][2], expected[2], 5e-3 * float(expected[2])),
        "significance": check(results["significance"], significance, 1e-3 * max(abs(significance), 1.0)),
        "ranking_top": check(max(abs(top["postfit_up"]), abs(top["postfit_down"])), impact, 1e-2),
    }


def _cabinetry_postfit_impact(model, data, parameter, bounds):
    """The larger post-fit impact of ``parameter`` on the POI, as cabinetry's ranking computes it,
    from cabinetry's own fits: the parameter held at its best fit +- its post-fit uncertainty and
    the rest refitted. (cabinetry.fit.ranking itself refits every parameter, and stops at a
    staterror of a nearly empty bin whose best fit minus one sigma is below its bound.)"""
    import cabinetry

    nominal = cabinetry.fit.fit(model, data, par_bounds=bounds)
    index, poi = nominal.labels.index(parameter), model.config.poi_index
    fixed = list(model.config.suggested_fixed())
    fixed[index] = True
    impacts = []
    for sign in (1, -1):
        init = np.array(nominal.bestfit)
        init[index] += sign * nominal.uncertainty[index]
        init = np.clip(init, *np.array(bounds).T).tolist()  # a best fit at a bound may lie a hair beyond it
        refit = cabinetry.fit.fit(model, data, init_pars=init, fix_pars=fixed, par_bounds=bounds)
        impacts.append(abs(refit.bestfit[poi] - nominal.bestfit[poi]))
    return max(impacts)


def cutflow_checks(cutflow_path, files, channel, options, seed):
    """A processed sample's cutflow (ours: counted chunk by chunk, merged in file order) against
    coffea's ``PackedSelection.cutflow`` on each whole input file, with and without the event
    weights: (unweighted check, weighted check), the largest difference over the steps."""
    from coffea.analysis_tools import Weights
    from coffea.nanoevents import NanoEventsFactory

    from mlhep.process.inputs import Schema
    from mlhep.process.run import make_processor

    ours = json.loads(Path(cutflow_path).read_text())
    processor = make_processor(channel, options, seed)
    counts, weighted = 0, 0.0
    for path in files:
        if (path if "://" in path else os.path.abspath(path)) in ours["skipped_files"]:
            continue
        events = NanoEventsFactory.from_root({path: "Events"}, schemaclass=Schema, mode="eager").events()
        selection, event_weights = processor.selection(events)
        weights = Weights(len(events))
        weights.add("generator", event_weights)
        result = selection.cutflow(*processor.cuts, weights=weights).result()
        counts = counts + np.array(result.nevcutflow, dtype=np.int64)
        weighted = weighted + np.array(result.wgtevcutflow, dtype=np.float64)
    ours_counts = np.array(list(ours["cutflow"].values()))
    ours_weighted = np.array(list(ours["cutflow_weighted"].values()))
    relative = np.max(np.abs(ours_weighted - weighted) / np.maximum(np.abs(weighted), 1e-300))
    return check(np.max(np.abs(ours_counts - counts)), 0, 0), check(relative, 0, 1e-9)


def code4_check(points=200, seed=0):
    """Our per-event HistFactory code-4 interpolation against pyhf's interpolator."""
    import pyhf

    from mlhep import seeds
    from mlhep.nsbi.likelihood import interpolate

    rng = seeds.generator("toys", seed, "code4")
    up, down = np.exp(rng.normal(0, 0.3, points)), np.exp(rng.normal(0, 0.3, points))
    pyhf.set_backend("numpy")
    reference = pyhf.interpolators.code4([[[down, np.ones(points), up]]])
    worst = 0.0
    for alpha in np.linspace(-2.5, 2.5, 51):
        expected = np.asarray(reference(pyhf.tensorlib.astensor([[alpha]])))[0, 0, 0]
        worst = max(worst, float(np.max(np.abs(interpolate(alpha, up, down) - expected))))
    return check(worst, 0.0, 1e-10)


def jer_check(columns_path, split_seed, jer_extra):
    """Mean JER factor of the leading jet over the test split: 1 within 5 standard errors (the
    split and the smearing draw independent numbers)."""
    import awkward as ak

    from mlhep.columns import read_columns, split
    from mlhep.process.systematics import scale_factors

    event = ak.to_numpy(read_columns(columns_path, ["event"]).event)
    test = split(event, split_seed)[2]
    factors = scale_factors(np.full(len(event), 2), event, "jer", 0.0, jer_extra, split_seed).reshape(-1, 2)[test, 0]
    return check(factors.mean(), 1.0, 5 * jer_extra / np.sqrt(len(factors)))


def ibu_two_bins():
    """IBU on a 2-bin response without fakes, iterated to convergence, against the closed-form
    maximum-likelihood answer R^-1 d (positive here); and one iteration against D'Agostini's
    formula written out by hand."""
    from mlhep.unfold.ibu import Response, ibu

    truth, migration = np.array([1000.0, 500.0]), np.array([[700.0, 100.0], [150.0, 300.0]])
    response = Response(np.array([0.0, 1.0, 2.0]), np.array([0.0, 1.0, 2.0]), migration, truth, migration.sum(axis=1), np.zeros(2))
    data = np.array([600.0, 500.0])
    smearing = migration / truth  # columns sum to the efficiencies 0.85 and 0.8
    converged = ibu(data, response, iterations=5000)
    exact = np.linalg.solve(smearing, data)
    p1, p2 = truth
    (a, b), (c, d) = smearing
    by_hand = np.array([(a * p1 / (a * p1 + b * p2) * data[0] + c * p1 / (c * p1 + d * p2) * data[1]) / (a + c), (b * p2 / (a * p1 + b * p2) * data[0] + d * p2 / (c * p1 + d * p2) * data[1]) / (b + d)])
    return {
        "ibu_converged": check(np.max(np.abs(converged - exact) / exact), 0.0, 1e-6),
        "ibu_one_iteration": check(np.max(np.abs(ibu(data, response, iterations=1) - by_hand) / by_hand), 0.0, 1e-12),
    }


_GAUSSIAN_BINS = np.linspace(-3.0, 3.0, 31)


def omnifold_gaussian(events=100_000, iterations=4, seed=0, bins=_GAUSSIAN_BINS):
    """OmniFold on the Gaussian toy of arXiv:1911.09107: simulation truth N(0, 1), data truth
    N(0.2, 0.8), Gaussian smearing 0.5, ``events`` each. Ours: the triangular discriminator of
    the unfolded simulation truth against the data truth; reference: its statistical floor, the
    discriminator of the data truth against a second sample of the same size and distribution;
    tolerance: twice the floor."""
    from mlhep import seeds
    from mlhep.ml.training import TrainConfig
    from mlhep.unfold.metrics import triangular_discriminator
    from mlhep.unfold.omnifold import omnifold

    rng = seeds.generator("toys", seed, "omnifold_gaussian")
    sim_truth, data_truth, again = rng.normal(0, 1, events), rng.normal(0.2, 0.8, events), rng.normal(0.2, 0.8, events)
    sim_reco, data_reco = sim_truth + rng.normal(0, 0.5, events), data_truth + rng.normal(0, 0.5, events)
    train = TrainConfig(epochs=10, batch_size=512, learning_rate=1e-3, early_stopping=False, seed=seed)
    result = omnifold(sim_reco[:, None], sim_truth[:, None], data_reco[:, None], iterations=iterations, hidden=(32, 32), train=train)

    def histogram(values, weights=None):
        return np.histogram(np.clip(values, bins[0], bins[-1] - 1e-9), bins, weights=weights)[0]

    truth = histogram(data_truth)
    floor = triangular_discriminator(histogram(again), truth)
    return check(triangular_discriminator(histogram(sim_truth, result.weights), truth), floor, floor)


def run_oracles(results, config, omnifold_events=100_000):
    """Every check on the outputs under ``results`` of a run of ``config`` (validated, with
    defaults): {"checks": {name: check}, "all_pass": bool}."""
    results = Path(results)
    checks = tagger_checks(results)
    decorrelated = sorted(path.name for path in (results / "taggers").iterdir() if path.name.startswith("disco_lambda_"))
    if decorrelated:
        checks["dcor"] = dcor_check(results, decorrelated[-1])
    fits = config.get("fits", {})
    for analysis, settings in fits.items():
        suffix = "" if len(fits) == 1 else f"_{analysis}"
        checks.update({f"{name}{suffix}": value for name, value in fit_checks(results / "fits" / analysis).items()})
        jer_extra = config["processing"]["channels"]["dijet"]["jer_extra"]
        checks[f"jer_test_split_mean{suffix}"] = jer_check(results / "columns" / f"{settings['background']}.parquet", config["seed"], jer_extra)
    for sample, settings in config["samples"].items():
        cutflow = results / "cutflow" / f"{sample}.json"
        if not cutflow.exists():
            continue
        files = settings.get("files") or [str(results.parent / f"data/generated/{sample}/{shard}.root") for shard in range(settings["shards"])]
        channel = settings["channel"]
        checks[f"cutflow_{sample}"], checks[f"cutflow_weighted_{sample}"] = cutflow_checks(cutflow, files, channel, config["processing"]["channels"][channel], config["seed"])
    checks["code4"] = code4_check()
    checks.update(ibu_two_bins())
    checks["omnifold_gaussian"] = omnifold_gaussian(omnifold_events)
    return {"checks": checks, "all_pass": all(value["pass"] for value in checks.values())}
