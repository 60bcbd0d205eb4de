"""The weakly supervised bump hunt of the anomaly stage: one run per (injected signal, seed) with
CWoLa hunting, CATHODE and the idealized and supervised references on the same splits, and the
summary over seeds and injections.

Set-up of the LHC Olympics 2020 R&D studies (CATHODE, arXiv:2109.00546): features
x = (mj1, delta_mj, tau21_j1, tau21_j2) of the two jets ordered by mass, the dijet mass mjj as
the resonant variable, a signal region (SR) and the sidebands (SB) of a window around it.
"""

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import awkward as ak
import numpy as np
import pandas as pd
from scipy.stats import gaussian_kde

from mlhep import seeds
from mlhep.anomaly.bumphunt import closure_chi2, excess_significance, mjj_edges, sideband_estimate
from mlhep.anomaly.classifier import best_epochs_scores
from mlhep.anomaly.flow import ConditionalFlow
from mlhep.anomaly.metrics import sic_curve
from mlhep.checks import require_finite
from mlhep.columns import read_columns, split
from mlhep.config import injection_key
from mlhep.errors import EmptySelection
from mlhep.io import atomic_path, write_json
from mlhep.ml.metrics import rejection, roc_auc
from mlhep.ml.training import TrainConfig

__all__ = ["METHODS", "run_bump_hunt", "summarize"]

log = logging.getLogger(__name__)

METHODS = ("cathode", "cwola", "idealized", "supervised")
EPS_S_GRID = np.linspace(0.02, 1.0, 50)


def _load(path, features, window):
    """(features, mjj) of the events of ``path`` inside the mjj window."""
    columns = read_columns(path, ["mjj", *features])
    mjj = ak.to_numpy(columns.mjj).astype(np.float64)
    inside = (mjj >= window[0]) & (mjj < window[1])
    X, mjj = np.column_stack([ak.to_numpy(columns[name]) for name in features]).astype(np.float64)[inside], mjj[inside]
    require_finite(np.column_stack([mjj, X]), ["mjj", *features], f"{path} (mjj window)")
    if len(X) < 10:
        raise EmptySelection(f"{path}: {len(X)} events in the mjj window {window[0]:g}-{window[1]:g} GeV")
    return X, mjj


def _in_region(mjj, region):
    return (mjj >= region[0]) & (mjj < region[1])


def _kde_masses(mjj, region, n, rng):
    """``n`` dijet masses from a Gaussian KDE of ``mjj``, reflected at the edges of ``region``
    (a truncated KDE would underfill the bins at the edges)."""
    low, high = region
    values = gaussian_kde(mjj).resample(n, seed=rng)[0]
    values = np.where(values < low, 2 * low - values, values)
    values = np.where(values >= high, 2 * high - values, values)
    return np.clip(values, low, np.nextafter(high, low))


def _out_of_fold(positive, negative, evaluate, folds, settings, seed):
    """Scores of the ``evaluate`` sets, each event by the model of its fold.

    ``positive``, ``negative`` and every entry of ``evaluate`` are (X, fold) pairs. For fold f
    the model trains on the other folds but f + 1, which is its validation set (CATHODE's
    k-folding: no SR event is scored by a model that saw it)."""
    scores = [np.full(len(X), np.nan) for X, _ in evaluate]
    classifier = settings["classifier"]
    for f in range(folds):
        validation = (f + 1) % folds
        parts = {}
        for name in ("train", "validation"):
            keep_positive, keep_negative = (fold == validation if name == "validation" else (fold != f) & (fold != validation) for fold in (positive[1], negative[1]))
            X = np.concatenate([positive[0][keep_positive], negative[0][keep_negative]])
            y = np.concatenate([np.ones(keep_positive.sum()), np.zeros(keep_negative.sum())])
            parts[name] = (X, y)
        config = TrainConfig(**{**classifier["train"], "seed": seeds.integer("training", seed, "fold", f)})
        out = best_epochs_scores(parts["train"], parts["validation"], [X[fold == f] for X, fold in evaluate], classifier["hidden"], config, classifier["keep_epochs"])
        for score, (_, fold), values in zip(scores, evaluate, out):
            score[fold == f] = values
    return scores


def _finite(value):
    """``value`` as a float, or None (JSON null) when it is infinite or NaN: no background passing
    (the rejection exceeds the sample), no cut (threshold -inf), beyond the SIC floor."""
    return float(value) if value is not None and np.isfinite(value) else None


def _histogram(values, edges):
    return np.histogram(values, edges)[0].tolist()


def _bump_hunt(settings, region, data, scores, edges, samples=None):
    """Per cut efficiency: the SB fit after the cut, its SR prediction against the observed and
    the true-background SR counts, and the significance of the excess. ``scores`` are the
    data's; ``samples`` = (CATHODE's samples, their scores) adds the samples' own estimate."""
    window = settings["window"]
    sr_edges = np.linspace(*region, settings["sr_bins"] + 1)
    sr = _in_region(data["mjj"], region)
    hunts = []
    uncut = None
    for efficiency in [1.0, *settings["cut_efficiencies"]]:
        threshold = np.quantile(scores[sr], 1.0 - efficiency) if efficiency < 1 else -np.inf
        passing = scores > threshold
        observed = np.histogram(data["mjj"][passing], sr_edges)[0]
        background = np.histogram(data["mjj"][passing & ~data["signal"]], sr_edges)[0]
        hunt = {
            "efficiency": efficiency,
            "threshold": _finite(threshold),
            "observed": observed.tolist(),
            "true_background": background.tolist(),
            "spectrum": _histogram(data["mjj"][passing], edges),
            "spectrum_background": _histogram(data["mjj"][passing & ~data["signal"]], edges),
        }
        hunts.append(hunt)
        try:
            estimate = sideband_estimate(data["mjj"][passing], window, region, sr_edges, what=f"the sidebands after a cut keeping {efficiency:g} of the SR")
        except EmptySelection as error:  # too few sideband events after a tight cut: no estimate
            hunt["error"] = str(error)
            continue
        if uncut is None:
            uncut = estimate
        hunt.update({
            "prediction": estimate.prediction.tolist(),
            "prediction_uncertainty": np.sqrt(np.diag(estimate.covariance)).tolist(),
            "closure_chi2": closure_chi2(estimate.prediction, estimate.covariance, background),
            "ndf": len(background),
            "significance": excess_significance(float(observed.sum()), estimate.total, estimate.total_uncertainty),
            "fit": estimate.fit.yields(edges).tolist(),
        })
        if samples is not None and uncut is not None:
            # CATHODE's own estimate: per SR bin, the fraction of its samples passing the cut
            # times the background the uncut sideband fit predicts there (the KDE's shape of
            # mjj, biased at the SR edges, cancels)
            events, sample_scores = samples
            total = np.histogram(events["mjj"], sr_edges)[0]
            passing_samples = np.histogram(events["mjj"][sample_scores > threshold], sr_edges)[0]
            prediction = uncut.prediction * passing_samples / np.maximum(total, 1)
            variance = prediction**2 * (1 / np.maximum(passing_samples, 1) - 1 / np.maximum(total, 1))
            hunt["samples_prediction"] = prediction.tolist()
            hunt["samples_closure_chi2"] = closure_chi2(prediction, np.diag(variance) + uncut.covariance * np.outer(prediction, prediction) / np.outer(uncut.prediction, uncut.prediction), background)
    return hunts


def _feature_histograms(features, reference, generated, bins=40):
    """{feature: {"edges", "reference", "generated"}} on the reference's 0.1-99.9 % range."""
    out = {}
    for i, name in enumerate(features):
        edges = np.linspace(*np.quantile(reference[:, i], [0.001, 0.999]), bins + 1)
        out[name] = {"edges": edges.tolist(), "reference": _histogram(reference[:, i], edges), "generated": _histogram(generated[:, i], edges)}
    return out


@dataclass(frozen=True)
class _Injection:
    """The data of one run: background "data" with the signal injected, and what stays aside."""

    data: dict  # X, mjj and signal (truth label) of the data events
    signal_test: np.ndarray  # signal events never injected, in the signal region: the test set
    reference: np.ndarray  # the idealized reference: background events of the signal region, not in data
    region: tuple
    sr_background: int
    n_signal_sr: int
    s_over_b: float


def _inject(settings, signal_path, background_path, s_over_sqrtb, global_seed, analysis_region, rng):
    """The background split into data and the idealized reference (fixed by the config seed), and
    signal events in random order up to the one that completes the signal-region count."""
    features, window, region, folds = settings["features"], settings["window"], settings["signal_region"], settings["folds"]
    background_X, background_mjj = _load(background_path, features, window)
    is_data, is_reference = split(np.arange(len(background_X)), global_seed, (1 - settings["reference_fraction"], settings["reference_fraction"]), stream="reference")
    sr_background = int(_in_region(background_mjj[is_data], region).sum())
    if sr_background < folds * 10:
        raise EmptySelection(f"{background_path}: {sr_background} background events in the signal region {region}, too few for {folds} folds")
    signal_X, signal_mjj = _load(signal_path, features, window)
    n_signal_sr = int(round(s_over_sqrtb * np.sqrt(sr_background)))
    s_over_b = n_signal_sr / sr_background
    order = rng.permutation(len(signal_X))
    in_sr = np.cumsum(_in_region(signal_mjj[order], region))
    available = int(in_sr[-1])
    if n_signal_sr > available - folds * 10:
        raise EmptySelection(f"{signal_path}: {available} signal events in the signal region; S/sqrt(B) = {s_over_sqrtb:g} needs {n_signal_sr} and the test set at least {folds * 10} more")
    cut = int(np.searchsorted(in_sr, n_signal_sr, side="left")) + 1 if n_signal_sr else 0
    injected, test = order[:cut], order[cut:]
    if analysis_region is not None:
        region = tuple(analysis_region)
        sr_background = int(_in_region(background_mjj[is_data], region).sum())
        if sr_background < folds * 10 or not window[0] < region[0] < region[1] < window[1]:
            raise EmptySelection(f"{background_path}: {sr_background} background events in the analysis region {region} (window {window}), too few for {folds} folds or no sidebands")
    test = test[_in_region(signal_mjj[test], region)]
    if len(test) < folds:
        raise EmptySelection(f"{signal_path}: {len(test)} signal events left for the test set in the signal region {region}")
    data = {
        "X": np.concatenate([background_X[is_data], signal_X[injected]]),
        "mjj": np.concatenate([background_mjj[is_data], signal_mjj[injected]]),
        "signal": np.concatenate([np.zeros(is_data.sum(), bool), np.ones(len(injected), bool)]),
    }
    reference = background_X[is_reference & _in_region(background_mjj, region)]
    return _Injection(data, signal_X[test], reference, tuple(region), sr_background, n_signal_sr, s_over_b)


def _cathode_samples(settings, run, sr, sb, seed, timings):
    """The conditional flow trained on the sidebands, and its samples in the signal region at
    masses from a KDE of the data's."""
    start = time.perf_counter()
    flow_settings = dict(settings["flow"])
    flow = ConditionalFlow(**{**flow_settings, "train": TrainConfig(**{**flow_settings.pop("train"), "seed": seeds.integer("training", seed, "flow")})})
    flow.fit(run.data["X"][sb], run.data["mjj"][sb])
    timings["flow_training"] = time.perf_counter() - start
    start = time.perf_counter()
    samples_mjj = _kde_masses(run.data["mjj"][sr], run.region, settings["oversample"] * int(sr.sum()), seeds.generator("sampling", seed, "kde"))
    samples = {"X": flow.sample(samples_mjj, seed=seeds.integer("sampling", seed, "flow", "signal_region")), "mjj": samples_mjj}
    timings["flow_sampling"] = time.perf_counter() - start
    return flow, samples


def _method_results(settings, run, sr, sb, fold, samples, edges, seed, timings):
    """Per method: out-of-fold scores of the data, and the metrics on the signal region (the
    data's events and the signal test set) with the bump hunts."""
    data, folds = run.data, settings["folds"]
    data_sr = (data["X"][sr], fold["data"][sr])
    truth_signal = np.concatenate([data["X"][sr & data["signal"]], run.signal_test]), np.concatenate([fold["data"][sr & data["signal"]], fold["test"]])
    training = {
        "cathode": (data_sr, (samples["X"], fold["samples"])),
        "cwola": (data_sr, (data["X"][sb], fold["data"][sb])),
        "idealized": (data_sr, (run.reference, fold["reference"])),
        "supervised": (truth_signal, (data["X"][sr & ~data["signal"]], fold["data"][sr & ~data["signal"]])),
    }
    evaluate = [(data["X"], fold["data"]), (run.signal_test, fold["test"])]
    labels = np.concatenate([data["signal"][sr], np.ones(len(run.signal_test), bool)])
    eps_b_floor = settings["min_background_events"] / run.sr_background
    results, scores = {}, {}
    for method in METHODS:
        start = time.perf_counter()
        with_samples = [(samples["X"], fold["samples"])] if method == "cathode" else []
        on_data, on_test, *on_samples = _out_of_fold(*training[method], evaluate + with_samples, folds, settings, seeds.integer("training", seed, method))
        timings[method] = time.perf_counter() - start
        scores[method] = on_data
        sr_scores = np.concatenate([on_data[sr], on_test])
        eps_s, sic = sic_curve(labels, sr_scores, eps_b_floor=eps_b_floor)
        eps_s, first = np.unique(eps_s, return_index=True)  # the SIC where eps_S first reaches each value
        sic = sic[first]
        results[method] = {
            "max_sic": float(sic.max()) if len(sic) else None,
            "auc": roc_auc(labels, sr_scores),
            "rej_at_eff02": _finite(rejection(labels, sr_scores, 0.2)),
            "sic": [_finite(v) for v in np.interp(EPS_S_GRID, eps_s, sic, left=np.nan, right=np.nan)] if len(sic) else [],
            "bump_hunt": _bump_hunt(settings, run.region, data, on_data, edges, (samples, on_samples[0]) if on_samples else None),
        }
    return results, scores, eps_b_floor


def run_bump_hunt(settings, signal_path, background_path, s_over_sqrtb, seed, global_seed, out_json, out_scores, analysis_region=None):
    """One run of every method at one injection and seed; writes ``out_json`` (metrics, SIC
    curves, bump hunts, histograms for the plots, timings) and ``out_scores`` (per-event scores
    of the data in the window). Memory: both samples' mjj and features in the window at once
    (the methods train on all of them), read with only those columns.

    The signal is injected by S/sqrt(B) in ``settings["signal_region"]``; ``analysis_region``,
    when given, is the SR of the search instead (a sliding window over the same data)."""
    rng = seeds.generator("injection", seed)
    run = _inject(settings, signal_path, background_path, s_over_sqrtb, global_seed, analysis_region, rng)
    data, folds = run.data, settings["folds"]
    sr = _in_region(data["mjj"], run.region)
    sb = ~sr
    fold = {name: rng.integers(folds, size=n) for name, n in (("data", len(data["X"])), ("test", len(run.signal_test)), ("reference", len(run.reference)))}
    timings = {}
    flow, samples = _cathode_samples(settings, run, sr, sb, seed, timings)
    fold["samples"] = rng.integers(folds, size=len(samples["mjj"]))
    edges = mjj_edges(settings["window"], run.region, settings["sr_bins"])
    results, scores, eps_b_floor = _method_results(settings, run, sr, sb, fold, samples, edges, seed, timings)
    sb_check = flow.sample(data["mjj"][sb], seed=seeds.integer("sampling", seed, "flow", "sidebands"))
    record = {
        "injection": injection_key(s_over_sqrtb),
        "seed": seed,
        "s_over_sqrtb": float(s_over_sqrtb),
        "s_over_b": run.s_over_b,
        "signal_region": list(run.region),
        "n_signal_sr": run.n_signal_sr,
        "n_signal_injected": int(data["signal"].sum()),
        "n_signal_test": len(run.signal_test),
        "sr_background_events": run.sr_background,
        "sb_events": int(sb.sum()),
        "reference_sr_events": len(run.reference),
        "eps_b_floor": eps_b_floor,
        "eps_s_grid": EPS_S_GRID.tolist(),
        "mjj_edges": edges.tolist(),
        "spectrum": _histogram(data["mjj"], edges),
        "spectrum_background": _histogram(data["mjj"][~data["signal"]], edges),
        "methods": results,
        "flow": {
            "sidebands": _feature_histograms(settings["features"], data["X"][sb], sb_check),
            "signal_region": _feature_histograms(settings["features"], data["X"][sr & ~data["signal"]], samples["X"]),
            "epochs": flow.history["epochs"],
        },
        "seconds": timings,
    }
    table = pd.DataFrame({"mjj": data["mjj"], "signal": data["signal"], "signal_region": sr, "fold": fold["data"], **{f"score_{m}": s for m, s in scores.items()}})
    with atomic_path(out_scores) as tmp:
        table.to_parquet(tmp, index=False)
    write_json(record, out_json)
    log.info("bump hunt at S/sqrt(B) %s, seed %d: %s; seconds %s", s_over_sqrtb, seed, {m: [h.get("significance") for h in r["bump_hunt"]] for m, r in results.items()}, timings)
    return record


def _band(values):
    """Median and 16/84 % percentiles over the seeds of the values that are not None."""
    values = np.array([v for v in values if v is not None], dtype=np.float64)
    return {key: float(np.percentile(values, q)) if len(values) else None for key, q in (("median", 50), ("16", 16), ("84", 84))}


def _cut(run, method, efficiency):
    return next(h for h in run["methods"][method]["bump_hunt"] if np.isclose(h["efficiency"], efficiency))


def summarize(settings, run_files, out_json, plot_dir=None, window_files=()):
    """summary.json over the runs (median and 16-84 % band of max SIC over seeds, per injection
    and method; the significance in each sliding window of ``window_files``) and, with
    ``plot_dir``, the figures."""
    import json

    runs = [json.loads(Path(f).read_text()) for f in run_files]
    windows = sorted((json.loads(Path(f).read_text()) for f in window_files), key=lambda w: w["signal_region"][0])
    by_injection = {}
    for run in runs:
        by_injection.setdefault(run["injection"], []).append(run)
    efficiency = settings["significance_efficiency"]
    injections = {}
    for key, group in sorted(by_injection.items(), key=lambda item: float(item[0])):
        entry = {"s_over_b": group[0]["s_over_b"], "n_signal_sr": group[0]["n_signal_sr"], "seeds": len(group)}
        for method in METHODS:
            band = _band([r["methods"][method]["max_sic"] for r in group])
            entry[method] = {
                "max_sic_median": band["median"],
                "max_sic_16": band["16"],
                "max_sic_84": band["84"],
                # None (no background passing at 20 % signal efficiency) counts as infinite
                "rej_at_eff02": _finite(np.median([r["methods"][method]["rej_at_eff02"] or np.inf for r in group])),
                "auc": _band([r["methods"][method]["auc"] for r in group])["median"],
                "significance": _band([_cut(r, method, efficiency).get("significance") for r in group])["median"],
            }
        injections[key] = entry
    headline = injection_key(settings["headline"])
    closure = {}
    for method in METHODS:
        hunts = [h for h in (_cut(r, method, efficiency) for r in by_injection.get("0", [])) if "closure_chi2" in h]
        closure[method] = sum(h["closure_chi2"] for h in hunts) / sum(h["ndf"] for h in hunts) if hunts else None
    first = runs[0]
    summary = {
        "injections": injections,
        "headline": headline,
        "eps_b_floor": first["eps_b_floor"],
        "seeds": len(by_injection.get(headline, [])),
        "sr_background_events": first["sr_background_events"],
        # chi2/ndf of the SB-fit estimate against the true SR background after CATHODE's cut with
        # no injected signal, over the seeds; every method's beside it
        "closure_chi2_ndf": closure["cathode"],
        "closure_chi2_ndf_per_method": closure,
        "significance_efficiency": efficiency,
        "signal_region": settings["signal_region"],
        # the same data (the headline injection, first seed) searched in each sliding signal region
        "windows": [{"signal_region": w["signal_region"], **{m: _cut(w, m, efficiency).get("significance") for m in METHODS}} for w in windows],
        "seconds_median": {step: float(np.median([r["seconds"][step] for r in runs])) for step in first["seconds"]},
    }
    write_json(summary, out_json)
    log.info("bump-hunt summary of %d runs written to %s", len(runs), out_json)
    if plot_dir is not None:
        from mlhep.anomaly.plots import plot_summary

        plot_summary(runs, summary, settings, plot_dir)
    return summary
