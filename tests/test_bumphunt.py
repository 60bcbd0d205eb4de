"""The weakly supervised bump hunt: best-epoch classifier, sideband fit and its interpolation,
the excess significance, and the whole chain on a toy with a known answer."""

import json

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from mlhep.anomaly.bumphunt import closure_chi2, excess_significance, sideband_estimate
from mlhep.anomaly.classifier import best_epochs_scores
from mlhep.anomaly.stage import METHODS, run_bump_hunt, summarize
from mlhep.errors import BadInputFile, EmptySelection, InvalidInput
from mlhep.ml.metrics import roc_auc
from mlhep.ml.training import TrainConfig
from mlhep.stats.dijet_function import dijet_shape

pytestmark = pytest.mark.usefixtures("one_torch_thread")

WINDOW, REGION = (3000.0, 4600.0), (3300.0, 3700.0)


def _dijet_masses(n, rng, params=(10.0, 5.0, 0.0)):
    """mjj drawn from the dijet function in the window (inverse CDF on a fine grid)."""
    grid = np.linspace(*WINDOW, 4001)
    cdf = np.concatenate([[0], np.cumsum(dijet_shape((grid[1:] + grid[:-1]) / 2, params))])
    return np.interp(rng.random(n), cdf / cdf[-1], grid)


def test_best_epochs_classifier_reaches_the_optimal_auc():
    rng = np.random.default_rng(3)
    shift = np.array([0.5, 0.5])  # |shift| / sqrt(2) = 0.5: the optimal AUC is Phi(0.5)

    def draw(n):
        y = rng.integers(2, size=n)
        return rng.normal(size=(n, 2)) + y[:, None] * shift, y

    (X_train, y_train), validation, (X_test, y_test) = draw(20000), draw(5000), draw(20000)
    config = TrainConfig(epochs=6, batch_size=256, learning_rate=1e-3, seed=1)
    scores, = best_epochs_scores((X_train, y_train), validation, [X_test], hidden=(16, 16), config=config, keep=3)
    assert roc_auc(y_test, scores) == pytest.approx(norm.cdf(0.5), abs=0.01)
    with pytest.raises(InvalidInput, match="training events: no events of class 1"):
        best_epochs_scores((X_train, np.zeros(len(X_train))), validation, [X_test])


def test_sideband_fit_predicts_the_signal_region_within_its_uncertainty():
    mjj = _dijet_masses(40000, np.random.default_rng(4))
    edges = np.linspace(*REGION, 5)
    estimate = sideband_estimate(mjj, WINDOW, REGION, edges)
    sidebands = (mjj < REGION[0]) | (mjj >= REGION[1])
    assert estimate.fit.total == sidebands.sum()
    counts = np.histogram(mjj, edges)[0]
    assert closure_chi2(estimate.prediction, estimate.covariance, counts) / 4 < 2.5
    assert abs(counts.sum() - estimate.total) < 2.5 * np.sqrt(estimate.total + estimate.total_uncertainty**2)
    # the interpolation's uncertainty: about the relative Poisson error of the sidebands, more from the shape
    assert estimate.total_uncertainty / estimate.total > 1 / np.sqrt(sidebands.sum())


def test_excess_significance_matches_the_asymptotic_formula():
    observed, background = 150.0, 100.0
    exact = np.sqrt(2 * (observed * np.log(observed / background) - (observed - background)))
    assert excess_significance(observed, background, 1e-3 * background) == pytest.approx(exact, abs=0.05)
    assert excess_significance(observed, background, 0.1 * background) < 0.7 * exact  # the background's uncertainty dilutes it
    assert excess_significance(background, background, 1.0) == pytest.approx(0.0, abs=0.05)
    assert excess_significance(80.0, background, 1.0) == pytest.approx(0.0, abs=1e-3)  # a deficit is no discovery
    assert excess_significance(80.0, background, 0.0) == pytest.approx(0.0, abs=1e-3)  # also with an exact background


def _toy(path, n_background, n_signal, seed):
    """Dijet events: QCD-like background with features mildly correlated with mjj, and a
    resonance at 3.5 TeV whose jets have masses 100 and 500 GeV and two-prong substructure."""
    rng = np.random.default_rng(seed)
    mjj = _dijet_masses(n_background, rng)
    background = pd.DataFrame({
        "mjj": mjj,
        "mj1": rng.gamma(3.0, 30.0 * (mjj / 3500) ** 0.3),
        "delta_mj": rng.exponential(120.0, n_background),
        "tau21_j1": rng.beta(5, 3, n_background),
        "tau21_j2": rng.beta(4, 3, n_background),
    })
    signal = pd.DataFrame({
        "mjj": rng.normal(3500.0, 120.0, n_signal),
        "mj1": rng.normal(100.0, 10.0, n_signal),
        "delta_mj": rng.normal(400.0, 30.0, n_signal),
        "tau21_j1": rng.beta(2, 6, n_signal),
        "tau21_j2": rng.beta(2, 6, n_signal),
    })
    background.to_parquet(path / "background.parquet")
    signal.to_parquet(path / "signal.parquet")
    return path / "signal.parquet", path / "background.parquet"


SETTINGS = {
    "features": ["mj1", "delta_mj", "tau21_j1", "tau21_j2"],
    "signal_region": list(REGION),
    "window": list(WINDOW),
    "sr_bins": 4,
    "reference_fraction": 0.25,
    "headline": 5,
    "folds": 3,
    "oversample": 2,
    "min_background_events": 25,
    "cut_efficiencies": [0.2, 0.05],
    "significance_efficiency": 0.05,
    "flow": {"transforms": 2, "hidden": [32, 32], "bins": 8, "train": {"epochs": 15, "batch_size": 256}},
    "classifier": {"hidden": [32, 32], "keep_epochs": 3, "train": {"epochs": 8, "batch_size": 256}},
}


@pytest.fixture(scope="module")
def toy_runs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bumphunt")
    signal, background = _toy(folder, 30000, 3000, seed=5)
    runs = {}
    for injection in (0, 5):
        runs[injection] = folder / f"run_{injection}.json"
        run_bump_hunt(SETTINGS, signal, background, injection, 7, 11, runs[injection], folder / f"scores_{injection}.parquet")
    runs["away"] = folder / "run_away.json"  # the same data searched in a window above the resonance
    run_bump_hunt(SETTINGS, signal, background, 5, 7, 11, runs["away"], folder / "scores_away.parquet", analysis_region=(3800.0, 4200.0))
    return folder, runs


def _strict_json(path):
    """The JSON of ``path``; NaN or Infinity (not JSON) fail the test."""
    return json.loads(path.read_text(), parse_constant=lambda constant: pytest.fail(f"{path.name} holds {constant}"))


def test_no_injected_signal_no_bump(toy_runs):
    run = _strict_json(toy_runs[1][0])
    assert run["n_signal_sr"] == 0 and run["sr_background_events"] > 3000
    hunts = [(method, hunt) for method in METHODS for hunt in run["methods"][method]["bump_hunt"]]
    for method, hunt in hunts:
        assert hunt["significance"] < 2, (method, hunt["efficiency"])
        assert hunt["observed"] == hunt["true_background"]
        # the cut sculpts no bump: each closure within chi2 p > 0.003 (chi2/ndf < 4 for 4 bins) ...
        assert hunt["closure_chi2"] / hunt["ndf"] < 4, (method, hunt["efficiency"])
    # ... and the 12 (correlated) closures together near 1
    assert sum(h["closure_chi2"] for _, h in hunts) / sum(h["ndf"] for _, h in hunts) < 2


def test_injected_resonance_is_found_and_summarized(toy_runs):
    folder, runs = toy_runs
    run = _strict_json(runs[5])
    assert run["n_signal_sr"] == round(5 * np.sqrt(run["sr_background_events"]))
    assert run["s_over_b"] == pytest.approx(run["n_signal_sr"] / run["sr_background_events"])
    for method in ("cathode", "idealized", "supervised"):
        assert run["methods"][method]["max_sic"] > 3, method
        hunt = next(h for h in run["methods"][method]["bump_hunt"] if h["efficiency"] == 0.05)
        assert hunt["significance"] > 5, method
    cathode = next(h for h in run["methods"]["cathode"]["bump_hunt"] if h["efficiency"] == 0.05)
    assert closure_chi2(np.array(cathode["samples_prediction"]), np.diag(cathode["samples_prediction"]), cathode["true_background"]) / 4 < 3
    scores = pd.read_parquet(folder / "scores_5.parquet")
    assert {f"score_{m}" for m in METHODS} <= set(scores.columns) and scores.signal.sum() == run["n_signal_injected"]
    assert scores.filter(like="score_").notna().all().all()  # every event scored out of fold

    away = _strict_json(runs["away"])
    assert away["signal_region"] == [3800.0, 4200.0] and away["n_signal_sr"] == run["n_signal_sr"]
    for method in ("cathode", "idealized", "supervised"):  # the resonance is not where the window looks
        assert next(h for h in away["methods"][method]["bump_hunt"] if h["efficiency"] == 0.05)["significance"] < 3, method

    summary = summarize({**SETTINGS, "headline": 5}, [runs[0], runs[5]], folder / "summary.json", folder / "plots", [runs["away"], runs[5]])
    assert _strict_json(folder / "summary.json") == summary
    assert list(summary["injections"]) == ["0", "5"] and summary["headline"] == "5" and summary["seeds"] == 1
    entry = summary["injections"]["5"]
    assert set(entry) == {"s_over_b", "n_signal_sr", "seeds", *METHODS}
    assert set(entry["cathode"]) == {"max_sic_median", "max_sic_16", "max_sic_84", "rej_at_eff02", "auc", "significance"}
    assert summary["closure_chi2_ndf"] < 3 and summary["eps_b_floor"] == pytest.approx(25 / summary["sr_background_events"])
    plots = {p.name for p in (folder / "plots").iterdir()}
    assert {"sic_curves.png", "max_sic_vs_injection.png", "flow_samples.png", "mjj_cathode_injection_5.png", "mjj_cwola_injection_0.pdf", "significance_vs_window.png"} <= plots
    assert [w["signal_region"] for w in summary["windows"]] == [list(REGION), [3800.0, 4200.0]]
    assert summary["windows"][0]["idealized"] > summary["windows"][1]["idealized"]


def test_bad_input_is_named(tmp_path):
    signal, background = _toy(tmp_path, 3000, 300, seed=1)
    out = (tmp_path / "run.json", tmp_path / "scores.parquet")
    pd.read_parquet(background).drop(columns="tau21_j2").to_parquet(tmp_path / "missing.parquet")
    with pytest.raises(BadInputFile, match="missing.parquet.*tau21_j2"):
        run_bump_hunt(SETTINGS, signal, tmp_path / "missing.parquet", 1.0, 1, 1, *out)
    table = pd.read_parquet(background)
    table.loc[table.index[table.mjj.between(*REGION)][:3], "mj1"] = np.nan
    table.to_parquet(tmp_path / "nan.parquet")
    with pytest.raises(InvalidInput, match=r"nan.parquet \(mjj window\): 3 events with NaN or infinite values \(columns: mj1\)"):
        run_bump_hunt(SETTINGS, signal, tmp_path / "nan.parquet", 1.0, 1, 1, *out)
    with pytest.raises(EmptySelection, match="signal.parquet: .* signal events in the signal region; S/sqrt\\(B\\) = 40"):
        run_bump_hunt(SETTINGS, signal, background, 40.0, 1, 1, *out)
    assert not any(path.exists() for path in out)


def test_every_event_is_scored_by_a_model_that_did_not_see_it():
    """Two samples of one distribution, and networks large enough to memorize their training
    events: out-of-fold scores cannot tell the samples apart (AUC 0.51 here); a model scoring its
    own training events can (AUC 0.60 for the fold-0 model on its training fold)."""
    from mlhep.anomaly.stage import _out_of_fold

    rng = np.random.default_rng(9)
    X = rng.normal(size=(2000, 4))
    label = np.arange(2000) % 2
    fold = rng.integers(3, size=2000)
    settings = {"classifier": {"hidden": [256, 256], "keep_epochs": 1, "train": {"epochs": 40, "batch_size": 64, "learning_rate": 3e-3}}}
    positive, negative = (X[label == 1], fold[label == 1]), (X[label == 0], fold[label == 0])
    scores, = _out_of_fold(positive, negative, [(X, fold)], 3, settings, seed=1)
    assert roc_auc(label, scores) == pytest.approx(0.5, abs=0.03)


def test_mjj_edges_and_closure_chi2_by_hand():
    from mlhep.anomaly.bumphunt import mjj_edges

    np.testing.assert_allclose(mjj_edges((3000.0, 4600.0), (3300.0, 3700.0), 4), np.arange(3000.0, 4601.0, 100.0))
    # a window off the signal region's grid: the outermost bins are cut at the window
    edges = mjj_edges((2950.0, 4620.0), (3300.0, 3700.0), 2)
    np.testing.assert_allclose(edges, [2950.0, 3100.0, 3300.0, 3500.0, 3700.0, 3900.0, 4100.0, 4300.0, 4500.0, 4620.0])
    # the same in TeV: bins narrower than one unit
    np.testing.assert_allclose(mjj_edges((2.95, 4.62), (3.3, 3.7), 2), edges / 1000.0, rtol=1e-12)
    np.testing.assert_allclose(mjj_edges((2.0, 4.6), (3.3, 3.7), 4), mjj_edges((2000.0, 4600.0), (3300.0, 3700.0), 4) / 1000.0, rtol=1e-12)
    # chi2 with the Poisson variance at the prediction (at least 1 event) added to the covariance
    assert closure_chi2(np.array([4.0, 0.5]), np.zeros((2, 2)), [6.0, 0.5]) == pytest.approx(1.0)
    assert closure_chi2(np.array([4.0, 0.5]), np.zeros((2, 2)), [4.0, 2.5]) == pytest.approx(4.0)
    covariance = np.array([[1.0, 0.5], [0.5, 2.0]])
    residual = np.array([2.0, -1.0])
    expected = residual @ np.linalg.inv(covariance + np.diag([4.0, 1.0])) @ residual
    assert closure_chi2(np.array([4.0, 0.5]), covariance, [6.0, -0.5]) == pytest.approx(expected, rel=1e-12)


def test_sideband_estimate_covariance_and_a_large_background_uncertainty():
    mjj = _dijet_masses(5000, np.random.default_rng(6))
    edges = np.linspace(*REGION, 3)
    weights = np.full(len(mjj), 2.0)
    estimate = sideband_estimate(mjj, WINDOW, REGION, edges, weights=weights)
    fit = estimate.fit
    assert fit.exclude == REGION and fit.total == pytest.approx(2.0 * np.sum((mjj < REGION[0]) | (mjj >= REGION[1])))
    np.testing.assert_allclose(estimate.prediction, fit.yields(edges))
    shifts = [(up - down) / 2 for up, down in fit.eigen_variations(edges)]
    expected = sum(np.outer(s, s) for s in shifts) + np.outer(estimate.prediction, estimate.prediction) / fit.total
    np.testing.assert_allclose(estimate.covariance, expected, rtol=1e-12)
    assert estimate.total == pytest.approx(estimate.prediction.sum())
    assert estimate.total_uncertainty == pytest.approx(np.sqrt(expected.sum()))
    # an uncertainty above the background is clipped to 99 %: the signal template's size does not matter
    assert excess_significance(150.0, 100.0, 500.0) == pytest.approx(excess_significance(150.0, 100.0, 120.0), abs=1e-3)
    assert 0 < excess_significance(150.0, 100.0, 500.0) < 0.6


def test_sideband_estimate_names_its_events():
    few = np.array([3050.0, 3100.0, 3900.0])
    with pytest.raises(EmptySelection, match=r"^dijet function fit of events: 3 events in 3000-4600 GeV without 3300-3700 GeV"):
        sideband_estimate(few, WINDOW, REGION, np.linspace(*REGION, 3))
    with pytest.raises(EmptySelection, match=r"^dijet function fit of QCD sidebands: 3 events"):
        sideband_estimate(few, WINDOW, REGION, np.linspace(*REGION, 3), what="QCD sidebands")
