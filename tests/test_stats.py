"""Statistical fits with pyhf: workspaces from histogram templates, best fit, significance,
upper limits, ROOT input, bad input and plots, on a synthetic dijet resonance search."""

import json
import subprocess
import sys
from pathlib import Path

import hist
import numpy as np
import pyhf
import pytest
import uproot

from mlhep.errors import BadInputFile, EmptySelection, InvalidConfig, InvalidInput
from mlhep.stats import (
    MIN_YIELD,
    SampleInput,
    best_fit,
    build_workspace,
    dijet_shape,
    discovery_significance,
    fit_dijet_function,
    fit_workspace,
    limit_vs_mass,
    model_and_data,
    patchset,
    plot_brazil,
    plot_pulls,
    plot_stack,
    ranking,
    read_hists,
    sample_from_hists,
    upper_limits,
    write_results,
)
from mlhep.stats.fit import free_poi_bounds

BINNING = (10, 1000.0, 3000.0)  # mjj [GeV]; few bins keep the limit scans (a numerical gradient per nuisance parameter) quick


def _templates(mjj, total, rng):
    """{variation: hist} of ``mjj`` weighted to ``total`` events: JES +-2 %, JER 3 % extra smearing."""
    weight = np.full(len(mjj), total / len(mjj))
    varied = {"nominal": mjj, "jes_up": 1.02 * mjj, "jes_down": 0.98 * mjj, "jer": mjj * (1 + rng.normal(0, 0.03, len(mjj)))}
    histograms = {}
    for variation, values in varied.items():
        histograms[variation] = hist.Hist.new.Reg(*BINNING, name="mjj").Weight()
        histograms[variation].fill(mjj=values, weight=weight)
    return histograms


@pytest.fixture(scope="module")
def templates():
    rng = np.random.default_rng(7)
    return {
        "signal": _templates(rng.normal(2000, 100, 2000), 100.0, rng),
        "background": _templates(1000 + rng.exponential(400, 20000), 5000.0, rng),
    }


def _channels(templates, background_scale=1.0):
    background = {variation: histogram * background_scale for variation, histogram in templates["background"].items()}
    return {"mjj": {"signal": sample_from_hists(templates["signal"], signal=True), "background": sample_from_hists(background)}}


def _modifiers(spec, sample):
    (found,) = [s for s in spec["channels"][0]["samples"] if s["name"] == sample]
    return {(m["name"], m["type"]): m["data"] for m in found["modifiers"]}


def test_workspace_from_histograms_is_valid_and_complete(templates):
    spec = build_workspace(_channels(templates), norm_uncertainties={"background": 0.1})
    pyhf.Workspace(spec)
    pyhf.schema.validate(spec, "workspace.json")
    assert json.loads(json.dumps(spec)) == spec
    signal, background = _modifiers(spec, "signal"), _modifiers(spec, "background")
    systematics = {(name, kind) for name in ("jes", "jer") for kind in ("normsys", "histosys")}
    assert set(signal) == systematics | {("mu", "normfactor"), ("staterror_mjj", "staterror")}
    assert set(background) == systematics | {("staterror_mjj", "staterror"), ("norm_background", "normsys")}
    assert background[("norm_background", "normsys")] == {"hi": pytest.approx(1.1), "lo": pytest.approx(0.9)}
    nominal = templates["background"]["nominal"]
    assert background[("staterror_mjj", "staterror")] == pytest.approx(np.sqrt(nominal.variances()))
    # the histosys keeps the nominal yield, the normsys carries the change of yield
    shapes = background[("jes", "histosys")]
    assert sum(shapes["hi_data"]) == pytest.approx(nominal.sum().value) == sum(shapes["lo_data"])
    # JES down pushes the falling background below the 1000 GeV threshold
    assert background[("jes", "normsys")]["lo"] < 0.99
    jer = background[("jer", "normsys")]
    assert jer["lo"] == pytest.approx(2 - jer["hi"])  # one-sided, symmetrized
    # no observations given: the data are the background-only expectation
    assert spec["observations"][0]["data"] == pytest.approx(np.maximum(nominal.values(), MIN_YIELD))


def test_asimov_data_fit_back_their_signal_strength(templates):
    for mu in (1.0, 2.0):
        fit = best_fit(build_workspace(_channels(templates), asimov_mu=mu))
        assert fit["mu_hat"] == pytest.approx(mu, abs=1e-3)
        assert 0.1 < fit["mu_unc"] < 0.5
        assert all(abs(value) < 1e-2 and 0 < error <= 1.01 for value, error in fit["pulls"].values())
    assert {"jes", "jer", "staterror_mjj[0]"} <= set(fit["pulls"])


def test_empty_background_bins_do_not_break_the_fit():
    nominal = np.array([50.0, 20.0, 5.0, 0.0, 0.0])
    background = SampleInput(nominal, stat_variance=nominal / 10, variations={"jes": (1.05 * nominal, None)})
    signal_yields = np.array([1.0, 5.0, 10.0, 5.0, 0.0])
    signal = SampleInput(signal_yields, stat_variance=signal_yields / 10, signal=True)
    spec = build_workspace({"sr": {"signal": signal, "background": background}}, asimov_mu=1.0)
    assert min(spec["channels"][0]["samples"][1]["data"]) == MIN_YIELD
    fit = best_fit(spec)
    assert fit["mu_hat"] == pytest.approx(1.0, abs=1e-2)
    assert "staterror_sr[4]" not in fit["pulls"]  # a bin without uncertainty has no free gamma


def test_injected_signal_raises_the_significance(templates):
    background_only, _ = discovery_significance(build_workspace(_channels(templates), asimov_mu=0.0))
    with_signal, expected = discovery_significance(build_workspace(_channels(templates), asimov_mu=1.0))
    assert background_only == pytest.approx(0.0, abs=0.1)
    assert with_signal > 3.0
    assert with_signal == pytest.approx(expected, rel=1e-3)  # Asimov data at mu = 1 are the expectation


@pytest.fixture(scope="module")
def limits(templates):
    """Full fits of background-only data, nominal and with a quarter of the background."""
    return {scale: fit_workspace(build_workspace(_channels(templates, scale))) for scale in (1.0, 0.25)}


def test_expected_limit_shrinks_with_the_background(limits, tmp_path):
    nominal, quarter = limits[1.0], limits[0.25]
    for results in (nominal, quarter):
        assert results["upper_limit_exp"] == sorted(results["upper_limit_exp"])
        assert results["upper_limit_obs"] == pytest.approx(results["upper_limit_exp"][2], rel=1e-2)  # data = median expectation
        assert results["cls_obs"] < 0.05 and len(results["cls_exp"]) == 5
        assert results["fit_s"] > 0
    assert quarter["upper_limit_exp"][2] < 0.75 * nominal["upper_limit_exp"][2]
    write_results(nominal, tmp_path / "results.json")
    assert json.loads((tmp_path / "results.json").read_text())["upper_limit_exp"] == nominal["upper_limit_exp"]


def test_read_hists_round_trip_and_missing_key(templates, tmp_path):
    path = tmp_path / "hists.root"
    with uproot.recreate(path) as out:
        for variation, histogram in templates["signal"].items():
            out[f"signal_region/mjj/{variation}"] = histogram
    read = read_hists(path, "signal_region", "mjj")
    assert set(read) == set(templates["signal"])
    for variation, histogram in templates["signal"].items():
        np.testing.assert_allclose(read[variation].values(), histogram.values())
        np.testing.assert_allclose(read[variation].variances(), histogram.variances())
    with pytest.raises(BadInputFile, match=r"hists\.root.*control_region/mjj"):
        read_hists(path, "control_region", "mjj")
    with pytest.raises(BadInputFile, match="absent.root"):
        read_hists(tmp_path / "absent.root", "signal_region", "mjj")


def test_bad_templates_raise_clear_errors(templates):
    broken = templates["signal"]["nominal"].copy()
    broken.view().value[3] = np.nan
    channels = _channels(templates)
    channels["mjj"]["signal"] = sample_from_hists({"nominal": broken}, signal=True)
    with pytest.raises(InvalidInput, match=r"sample 'signal' in channel 'mjj'.*NaN"):
        build_workspace(channels)
    channels["mjj"]["signal"] = SampleInput(-templates["signal"]["nominal"].values(), signal=True)
    with pytest.raises(InvalidInput, match=r"sample 'signal'.*negative"):
        build_workspace(channels)
    with pytest.raises(InvalidConfig, match="unknown samples"):
        build_workspace(_channels(templates), norm_uncertainties={"ttbar": 0.1})


def test_plots_are_written(templates, limits, tmp_path):
    spec = build_workspace(_channels(templates), asimov_mu=1.0)
    fit = best_fit(spec)
    edges = {"mjj": templates["signal"]["nominal"].axes[0].edges}
    plot_stack(spec, tmp_path / "prefit", edges=edges, xlabel="m_jj [GeV]")
    plot_stack(spec, tmp_path / "postfit", postfit=True)
    plot_pulls(fit["pulls"], tmp_path / "pulls")
    masses, observed, expected = limit_vs_mass([(2500.0, limits[0.25]), (2000.0, limits[1.0])])
    assert masses.tolist() == [2000.0, 2500.0] and expected.shape == (2, 5)
    assert observed[0] == limits[1.0]["upper_limit_obs"]
    plot_brazil(masses, observed, expected, tmp_path / "brazil")
    for stem in ("prefit_mjj", "postfit_mjj", "pulls", "brazil"):
        for suffix in (".pdf", ".png"):
            assert (tmp_path / f"{stem}{suffix}").stat().st_size > 1000


def _three_bins():
    """A small workspace: 20 % background normalization, 1 % JES, Asimov data at mu = 1."""
    background = SampleInput(np.array([100.0, 80.0, 60.0]), variations={"jes": (np.array([101.0, 81.0, 61.0]), None)})
    signal = SampleInput(np.array([5.0, 20.0, 5.0]), signal=True)
    return build_workspace({"sr": {"signal": signal, "background": background}}, norm_uncertainties={"background": 0.2}, asimov_mu=1.0)


def test_limits_agree_with_pyhf_root_finding(limits, templates):
    """Observed and expected limits against pyhf's own toms748 search (scan=None) on the same
    workspace, to 0.5 %; the linearly interpolated 6-point scan used before was off by 1-17 %."""
    for scale, results in limits.items():
        model, data = model_and_data(build_workspace(_channels(templates, scale)))
        pyhf.set_backend("numpy", "scipy")
        observed, expected = pyhf.infer.intervals.upper_limits.upper_limit(data, model, scan=None, level=0.05, test_stat="qtilde")
        assert results["upper_limit_obs"] == pytest.approx(float(observed), rel=5e-3)
        assert results["upper_limit_exp"] == pytest.approx([float(e) for e in expected], rel=5e-3)
    # a bracket far from the limits is widened until it holds them
    assert upper_limits(_three_bins(), (5.0, 6.0))[0] == pytest.approx(upper_limits(_three_bins(), (0.1, 1.0))[0], rel=2e-3)


def test_ranking_orders_nuisance_parameters_by_impact():
    ranked = ranking(_three_bins())
    assert [row["parameter"] for row in ranked] == ["norm_background", "jes"]
    assert ranked[0]["postfit_up"] < 0 < ranked[0]["postfit_down"]  # more background, less signal


def test_ranking_survives_a_staterror_whose_minus_one_sigma_is_negative():
    # a bin filled by one simulated signal event: its gamma's -1 sigma is 0, outside its bounds
    background = SampleInput(np.array([100.0, 80.0, 60.0]))
    signal = SampleInput(np.array([5.0, 20.0, 5.0]), stat_variance=np.array([25.0, 4.0, 1.0]), signal=True)
    spec = build_workspace({"sr": {"signal": signal, "background": background}}, asimov_mu=1.0)
    ranked = {row["parameter"]: row for row in ranking(spec)}
    assert set(ranked) == {"staterror_sr[0]", "staterror_sr[1]", "staterror_sr[2]"}
    # the 10 % MC uncertainty of the signal peak moves mu by about 10 % (mu-hat = 1)
    assert ranked["staterror_sr[1]"]["prefit_up"] == pytest.approx(-0.1, abs=0.03)


def _dijet_events(params, count, rng, window=(2500.0, 5000.0)):
    """``count`` masses drawn from the dijet function by accept-reject."""
    drawn = []
    while sum(len(d) for d in drawn) < count:
        mjj = rng.uniform(*window, 100000)
        density = dijet_shape(mjj, params)
        drawn.append(mjj[rng.uniform(0, density.max(), len(mjj)) < density])
    return np.concatenate(drawn)[:count]


def test_dijet_function_fit_describes_its_own_events_and_its_uncertainty_covers_them():
    rng = np.random.default_rng(11)
    truth = (12.0, 6.0, 0.0)
    edges = np.linspace(2500.0, 5000.0, 26)
    mjj = _dijet_events(truth, 3000, rng)
    fit = fit_dijet_function(mjj, np.full(len(mjj), 2.0), 2500.0, 5000.0)
    fitted, exact = fit.yields(edges), dijet_shape(edges[:-1] + 50.0, truth)
    assert fitted.sum() == pytest.approx(6000.0)  # the normalization is the weighted count
    exact = exact * fitted.sum() / exact.sum()
    counts, _ = np.histogram(mjj, edges)
    chi2 = np.sum((2 * counts - fitted) ** 2 / (4 * np.maximum(counts, 1)))
    assert chi2 / (len(counts) - 3) < 2.0
    # the fit follows the true shape far better than the counts of one bin do
    assert np.max(np.abs(fitted - exact)[:10] / exact[:10]) < 0.1
    variations = fit.eigen_variations(edges)
    assert len(variations) == 2  # p3 is fixed by default
    spread = np.sqrt(sum(((up - down) / 2) ** 2 for up, down in variations))
    pull = (fitted - exact) / spread
    assert np.mean(np.abs(pull) < 2) > 0.8  # the eigenvector band covers the truth in most bins


def test_dijet_function_fit_needs_events():
    with pytest.raises(EmptySelection, match="QCD after the cut: 3 events in 2500-5000 GeV"):
        fit_dijet_function([3000.0, 3100.0, 3200.0], [1.0, 1.0, 1.0], 2500.0, 5000.0, what="QCD after the cut")


def test_expected_band_is_resolved_when_the_observed_limit_lies_far_above_it():
    # Asimov data with a strong signal: the observed limit is near mu = 1, the expected one
    # (background only) near 0.004, below the first steps of the observed scan
    background = SampleInput(np.array([10.0, 10.0, 10.0]))
    signal = SampleInput(np.array([1000.0, 1000.0, 1000.0]), signal=True)
    results = fit_workspace(build_workspace({"sr": {"s": signal, "b": background}}, asimov_mu=1.0))
    expected = results["upper_limit_exp"]
    assert results["upper_limit_obs"] > 1.0
    assert all(low < high for low, high in zip(expected, expected[1:]))
    assert 0.002 < expected[2] < 0.008 and expected[4] > 1.5 * expected[0]


def test_ranking_agrees_with_cabinetry():
    """Pre- and post-fit impacts on mu against cabinetry's ranking on the same workspace, to 1e-2.

    With the same parameter bounds: ours let mu go below 0 (cabinetry's default bound stopped
    the prefit_up refit at mu = 0, an impact of -1.000 instead of -1.042)."""
    import cabinetry

    spec = _three_bins()
    ours = {row["parameter"]: row for row in ranking(spec)}
    model, data = model_and_data(spec)
    theirs = cabinetry.fit.ranking(model, data, par_bounds=free_poi_bounds(model))
    assert set(theirs.labels) == set(ours)
    for index, label in enumerate(theirs.labels):
        for key in ("prefit_up", "prefit_down", "postfit_up", "postfit_down"):
            assert ours[label][key] == pytest.approx(float(getattr(theirs, key)[index]), abs=1e-2), (label, key)


def test_prediction_band_agrees_with_cabinetry():
    """The stack plots' total-yield uncertainty, pre-fit (constraint widths, uncorrelated) and
    post-fit (the fit's covariance), against cabinetry's model prediction on the same workspace:
    cabinetry shifts each parameter by one sigma where we differentiate, so they agree to the
    curvature of the exponential normsys interpolation, within 3 %."""
    import cabinetry

    from mlhep.stats.fit import parameter_covariance
    from mlhep.stats.plots import prediction_band

    spec = _three_bins()
    model, data = model_and_data(spec)
    prefit = prediction_band(spec, *parameter_covariance(spec, postfit=False))
    theirs = cabinetry.model_utils.prediction(model)
    np.testing.assert_allclose(prefit, np.asarray(theirs.total_stdev_model_bins)[0][-1], rtol=0.03)
    pars, covariance = parameter_covariance(spec)
    postfit = prediction_band(spec, pars, covariance)
    fit = cabinetry.fit.fit(model, data, par_bounds=free_poi_bounds(model))
    np.testing.assert_allclose(pars, fit.bestfit, atol=1e-3)
    theirs = cabinetry.model_utils.prediction(model, fit_results=fit)
    np.testing.assert_allclose(postfit, np.asarray(theirs.total_stdev_model_bins)[0][-1], rtol=0.03)
    assert np.all(postfit < prefit)  # the data constrain the background


def test_stack_figure_is_drawn_as_the_field_draws_it(monkeypatch, tmp_path):
    """The pre-fit stack (issue 25): mplhep's experiment label with "Simulation" and 13 TeV,
    the samples stacked by mplhep's histplot, the total uncertainty as a hatched band of
    prediction_band's half-width around the total, and the data as points with Garwood
    intervals (published values: 0 events 0-1.84, 1 event 0.17-3.30, 10 events 6.89-14.27)
    in both panels; PDF and PNG."""
    import matplotlib.collections

    from mlhep.plotting import COLORS
    from mlhep.stats import plots
    from mlhep.stats.fit import parameter_covariance

    spec = _three_bins()
    spec["observations"][0]["data"] = [0.0, 1.0, 10.0]
    figures = []
    saved = plots.save
    monkeypatch.setattr(plots, "save", lambda fig, stem: (figures.append(fig), saved(fig, stem)))
    plots.plot_stack(spec, tmp_path / "prefit", edges={"sr": [0.0, 1.0, 2.0, 3.0]}, xlabel="x")
    assert {p.name for p in tmp_path.iterdir()} == {"prefit_sr.pdf", "prefit_sr.png"}
    top, bottom = figures[0].axes
    texts = " ".join(t.get_text() for t in top.texts)
    assert "mlhep" in texts and "Simulation" in texts and "13 TeV" in texts
    assert {"background", "signal", "total uncertainty", "data"} <= {t.get_text() for t in top.get_legend().get_texts()}
    pars, covariance = parameter_covariance(spec, postfit=False)
    total = np.array([105.0, 100.0, 65.0])
    width = plots.prediction_band(spec, pars, covariance)
    band = next(c for c in top.collections if isinstance(c, matplotlib.collections.FillBetweenPolyCollection) and c.get_hatch() == "///")
    heights = np.unique(np.round(band.get_paths()[0].vertices[:, 1], 6))
    assert set(np.round(np.concatenate([total - width, total + width]), 6)) <= set(heights)
    segments = top.containers[-1].lines[2][0].get_segments()  # the data's error bars
    np.testing.assert_allclose([segment[:, 1] for segment in segments], [[0.0, 1.841], [0.173, 3.300], [6.891, 14.267]], atol=2e-3)
    ratio_segments = bottom.containers[-1].lines[2][0].get_segments()
    np.testing.assert_allclose(ratio_segments[2][:, 1], np.array([6.891, 14.267]) / 65.0, atol=1e-4)
    assert len(set(COLORS)) == 10


def test_significance_agrees_with_pyhf_hypotest(templates):
    from scipy.stats import norm

    spec = build_workspace(_channels(templates), asimov_mu=1.0)
    model, data = model_and_data(spec)
    pyhf.set_backend("numpy", "scipy")
    p_value = float(pyhf.infer.hypotest(0.0, data, model, test_stat="q0"))
    assert discovery_significance(spec)[0] == pytest.approx(norm.isf(p_value), rel=1e-3)


@pytest.fixture(scope="module")
def three_bins():
    """_three_bins' spec, its pyhf model and data, and fit_workspace's results on it."""
    spec = _three_bins()
    model, data = model_and_data(spec)
    return spec, model, data, fit_workspace(spec, test_poi=1.5)


def test_small_workspace_fit_agrees_with_pyhf_and_its_closed_forms(three_bins):
    from scipy.stats import norm

    from mlhep.stats.fit import _limit_bracket, cls_at

    spec, model, data, results = three_bins
    # mu may go negative until a bin would empty: b / s = (20, 4, 12), half of the smallest
    bounds = free_poi_bounds(model)
    assert bounds[model.config.poi_index] == (-2.0, 10.0)
    assert [b for i, b in enumerate(bounds) if i != model.config.poi_index] == [b for i, b in enumerate(model.config.suggested_bounds()) if i != model.config.poi_index]
    pyhf.set_backend("numpy", pyhf.optimize.minuit_optimizer(verbose=0, strategy=0))
    reference = pyhf.infer.mle.fit(data, model, par_bounds=bounds, return_uncertainties=True)
    poi = model.config.poi_index
    assert results["mu_hat"] == pytest.approx(1.0, abs=1e-3)  # Asimov data at mu = 1
    assert results["mu_hat"] == pytest.approx(float(reference[poi, 0]), abs=1e-4)
    assert results["mu_unc"] == pytest.approx(float(reference[poi, 1]), rel=1e-3)
    assert set(results["bestfit"]) == set(model.config.par_names)
    # pulls in units of the prefit width (1 for normsys alphas): (value - 0) / 1
    for name in ("jes", "norm_background"):
        index = model.config.par_names.index(name)
        assert results["pulls"][name][0] == pytest.approx(float(reference[index, 0]), abs=1e-3)
        assert results["pulls"][name][1] == pytest.approx(float(reference[index, 1]), rel=1e-2)
    assert set(results["pulls"]) == {"jes", "norm_background"}  # mu is not a pull
    # CLs at test_poi, discovery significance and limits against pyhf's own calls
    pyhf.set_backend("numpy", "scipy")
    observed, expected = pyhf.infer.hypotest(1.5, data, model, test_stat="qtilde", return_expected_set=True)
    assert results["test_poi"] == 1.5
    assert results["cls_obs"] == pytest.approx(float(observed), rel=1e-4)
    assert results["cls_exp"] == pytest.approx([float(e) for e in expected], rel=1e-4)
    assert cls_at(spec, 30.0)[0] == pytest.approx(float(pyhf.infer.hypotest(30.0, data, model, test_stat="qtilde", par_bounds=[(-5, 60) if i == poi else b for i, b in enumerate(model.config.suggested_bounds())])), abs=1e-6)
    p_observed, p_expected = pyhf.infer.hypotest(0.0, data, model, test_stat="q0", return_expected=True)
    assert results["significance"] == pytest.approx(norm.isf(float(p_observed)), rel=1e-3)
    assert results["significance_exp"] == pytest.approx(norm.isf(float(p_expected)), rel=1e-3)
    assert results["significance"] == pytest.approx(results["significance_exp"], rel=1e-3)  # Asimov data at mu = 1
    limit_obs, limit_exp = pyhf.infer.intervals.upper_limits.upper_limit(data, model, scan=None, level=0.05, test_stat="qtilde")
    assert results["upper_limit_obs"] == pytest.approx(float(limit_obs), rel=5e-3)
    assert results["upper_limit_exp"] == pytest.approx([float(e) for e in limit_exp], rel=5e-3)
    assert _limit_bracket(0.5, 0.2) == (0.1, 1.5) and _limit_bracket(-0.5, 0.2) == (0.1, 1.0)
    assert results["fit_s"] > 0


def test_limit_vs_mass_sorts_the_points():
    points = [(3000.0, {"upper_limit_obs": 3.0, "upper_limit_exp": [1, 2, 3, 4, 5]}), (1000.0, {"upper_limit_obs": 1.0, "upper_limit_exp": [6, 7, 8, 9, 10]})]
    masses, observed, expected = limit_vs_mass(points)
    assert masses.tolist() == [1000.0, 3000.0] and observed.tolist() == [1.0, 3.0]
    assert expected.tolist() == [[6, 7, 8, 9, 10], [1, 2, 3, 4, 5]]


def test_workspace_modifiers_by_hand():
    from mlhep.stats import expected_yields

    background = SampleInput(np.array([10.0, 20.0, 0.0]), stat_variance=np.array([4.0, 9.0, 0.0]), variations={"jer": (np.array([12.0, 20.0, 0.0]), None), "jes": (np.array([11.0, 22.0, 1.0]), np.array([9.0, 18.0, 0.0]))})
    signal = SampleInput(np.array([1.0, 2.0, 3.0]), signal=True)
    channels = {"sr": {"background": background, "signal": signal}}
    spec = build_workspace(channels, poi="xsec", norm_uncertainties={"signal": 0.25}, measurement="search", asimov_mu=2.0)
    modifiers = _modifiers(spec, "background")
    # one-sided JER: down = 2 nominal - up = (8, 20, 0); the normsys carries the yield, the histosys the shape
    assert modifiers[("jer", "normsys")] == {"hi": pytest.approx(32 / 30), "lo": pytest.approx(28 / 30)}
    hi, lo = modifiers[("jer", "histosys")]["hi_data"], modifiers[("jer", "histosys")]["lo_data"]
    np.testing.assert_allclose(hi, np.array([12.0, 20.0, MIN_YIELD]) * (30 + MIN_YIELD) / (32 + MIN_YIELD))
    np.testing.assert_allclose(lo, np.array([8.0, 20.0, MIN_YIELD]) * (30 + MIN_YIELD) / (28 + MIN_YIELD))
    assert modifiers[("jes", "normsys")] == {"hi": pytest.approx(34 / (30 + MIN_YIELD)), "lo": pytest.approx((27 + MIN_YIELD) / (30 + MIN_YIELD))}
    np.testing.assert_allclose(modifiers[("staterror_sr", "staterror")], [2.0, 3.0, 0.0])
    assert _modifiers(spec, "signal") == {("xsec", "normfactor"): None, ("norm_signal", "normsys"): {"hi": 1.25, "lo": 0.75}}
    assert spec["measurements"] == [{"name": "search", "config": {"poi": "xsec", "parameters": []}}]
    assert spec["channels"][0]["samples"][0]["data"] == [10.0, 20.0, MIN_YIELD]
    # Asimov data at xsec = 2: the floored background plus twice the signal
    np.testing.assert_allclose(spec["observations"][0]["data"], [12.0, 24.0, 6.0 + MIN_YIELD])
    np.testing.assert_allclose(expected_yields(channels, 0.5)["sr"], [10.5, 21.0, 1.5 + MIN_YIELD])
    assert build_workspace(channels)["observations"][0]["data"] == [10.0, 20.0, MIN_YIELD]  # background only by default
    observed = build_workspace(channels, observations={"sr": np.array([9.0, 19.0, 1.0])})
    assert observed["observations"] == [{"name": "sr", "data": [9.0, 19.0, 1.0]}]


@pytest.mark.parametrize(
    ("channels", "kwargs", "message"),
    [
        ({}, {}, "every channel needs at least one sample"),
        ({"sr": {}}, {}, "every channel needs at least one sample"),
        ({"sr": {"b": SampleInput(np.ones(2))}}, {}, "no signal sample: nothing carries the parameter of interest 'mu'"),
        ({"sr": {"s": SampleInput(np.ones(2), signal=True), "b": SampleInput(np.ones(3))}}, {}, r"channel 'sr': samples have different numbers of bins"),
        ({"sr": {"s": SampleInput(np.ones(2), signal=True)}}, {"norm_uncertainties": {"s": 1.0}}, r"norm_uncertainties: s = 1.0, expected a relative uncertainty in \[0, 1\)"),
        ({"sr": {"s": SampleInput(np.ones(2), signal=True)}}, {"norm_uncertainties": {"s": -0.1}}, "norm_uncertainties: s = -0.1"),
        ({"sr": {"s": SampleInput(np.ones(2), stat_variance=np.ones(3), signal=True)}}, {}, r"sample 's' in channel 'sr' stat_variance: 3 bins where 2 are expected"),
        ({"sr": {"s": SampleInput(np.ones(2), stat_variance=-np.ones(2), signal=True)}}, {}, r"stat_variance: negative values in bins \[0, 1\]"),
        ({"sr": {"s": SampleInput(np.zeros(2), signal=True)}}, {}, "the nominal template must be a 1D array with a positive total yield"),
        ({"sr": {"s": SampleInput(np.ones((2, 2)), signal=True)}}, {}, "must be a 1D array"),
        ({"sr": {"s": SampleInput(np.ones(2), variations={"jes": (np.ones(3), None)}, signal=True)}}, {}, r"variation 'jes' up: 3 bins where 2"),
        ({"sr": {"s": SampleInput(np.ones(2), variations={"jes": (np.ones(2), np.array([1.0, np.inf]))}, signal=True)}}, {}, r"variation 'jes' down: NaN or infinite values in bins \[1\]"),
        ({"sr": {"s": SampleInput(np.ones(2), signal=True)}}, {"observations": {"cr": np.ones(2)}}, r"observations are given for channels \['cr'\], the workspace has \['sr'\]"),
        ({"sr": {"s": SampleInput(np.ones(2), signal=True)}}, {"observations": {"sr": np.ones(3)}}, r"observations of channel 'sr': 3 bins where 2"),
        ({"sr": {"s": SampleInput(np.ones(2), signal=True)}}, {"observations": {"sr": np.array([1.0, -1.0])}}, r"observations of channel 'sr': negative values in bins \[1\]"),
    ],
)
def test_bad_workspaces_are_named(channels, kwargs, message):
    """A bad structure is InvalidConfig, bad per-bin values InvalidInput (mlhep.checks.check_bins)."""
    with pytest.raises(InvalidInput if "bins" in message and "different numbers" not in message else InvalidConfig, match=message):
        build_workspace(channels, **kwargs)


def test_templates_pair_their_variations():
    def h(values):
        histogram = hist.Hist.new.Reg(2, 0.0, 2.0, name="x").Weight()
        histogram[...] = np.stack([values, np.full(2, 0.5)], axis=-1)
        return histogram

    sample = sample_from_hists({"nominal": h([4.0, 6.0]), "jes_up": h([5.0, 6.0]), "jes_down": h([3.0, 6.0]), "jer": h([4.5, 5.5])}, signal=True)
    assert sample.signal and set(sample.variations) == {"jes", "jer"}
    np.testing.assert_array_equal(sample.variations["jes"][1], [3.0, 6.0])
    assert sample.variations["jer"][1] is None
    np.testing.assert_array_equal(sample.stat_variance, [0.5, 0.5])
    assert not sample_from_hists({"nominal": h([4.0, 6.0])}).signal
    other = hist.Hist.new.Reg(2, 0.0, 3.0, name="x").Weight()
    for histograms, message in (
        ({"jes_up": h([1.0, 1.0])}, r"no 'nominal' histogram among \['jes_up'\]"),
        ({"nominal": h([1.0, 1.0]), "jes_up": h([1.0, 1.0])}, "variation 'jes_up' has no 'jes_down' partner"),
        ({"nominal": h([1.0, 1.0]), "jes_down": h([1.0, 1.0])}, r"variations \['jes_down'\] have no '_up' partner"),
        ({"nominal": h([1.0, 1.0]), "jer": other}, "histogram 'jer' has a binning different from the nominal's"),
    ):
        with pytest.raises(InvalidConfig, match=message):
            sample_from_hists(histograms)


def test_dijet_function_integrals_and_yields_against_quad():
    from scipy.integrate import quad

    from mlhep.stats.dijet_function import DijetFit, _integrals, _region_integral

    params = (10.0, 5.0, 0.3)
    x = 3000.0 / 13000.0
    assert dijet_shape(3000.0, params) == pytest.approx((1 - x) ** 10 / x ** (5 + 0.3 * np.log(x)), rel=1e-12)
    assert dijet_shape(3000.0, params, sqrt_s=14000.0) == pytest.approx(dijet_shape(3000.0 * 13 / 14, params), rel=1e-12)

    def integral(low, high):
        return quad(dijet_shape, low, high, args=(params,), epsabs=0, epsrel=1e-12)[0]

    edges = np.array([2000.0, 2300.0, 3000.0, 4200.0])
    np.testing.assert_allclose(_integrals(edges, params, 13000.0), [integral(a, b) for a, b in zip(edges[:-1], edges[1:])], rtol=1e-9)
    assert _region_integral(params, 2000.0, 4200.0, None, 13000.0) == pytest.approx(integral(2000.0, 4200.0), rel=1e-9)
    assert _region_integral(params, 2000.0, 4200.0, (2300.0, 3000.0), 13000.0) == pytest.approx(integral(2000.0, 4200.0) - integral(2300.0, 3000.0), rel=1e-9)
    fit = DijetFit(np.array(params), np.diag([0.04, 0.01, 0.0]), 500.0, 2000.0, 4200.0, exclude=(2300.0, 3000.0))
    yields = fit.yields(edges)
    assert yields[0] + yields[2] == pytest.approx(500.0, rel=1e-9)  # the fitted events lie outside the excluded interval
    assert yields[1] == pytest.approx(500.0 * integral(2300.0, 3000.0) / (integral(2000.0, 4200.0) - integral(2300.0, 3000.0)), rel=1e-9)
    variations = fit.eigen_variations(edges)
    assert len(variations) == 2  # the fixed p3 has no variation
    # +-1 sigma along each eigenvector, in the order of increasing variance (an eigenvector's sign is free)
    for (up, down), shift in zip(variations, ([0.0, 0.1, 0.0], [0.2, 0.0, 0.0])):
        plus, minus = fit.yields(edges, np.array(params) + shift), fit.yields(edges, np.array(params) - shift)
        assert (np.allclose(up, plus, rtol=1e-12) and np.allclose(down, minus, rtol=1e-12)) or (np.allclose(up, minus, rtol=1e-12) and np.allclose(down, plus, rtol=1e-12))
        assert not np.allclose(up, down)


def test_dijet_function_fit_is_the_weighted_maximum_likelihood():
    rng = np.random.default_rng(12)
    mjj = np.r_[_dijet_events((11.0, 5.5, 0.0), 2000, rng), [2500.0, 5000.0, 2400.0]]  # one on each edge, one outside
    weights = np.r_[np.full(2000, 0.5), [7.0, 100.0, 100.0]]
    fit = fit_dijet_function(mjj, weights, 2500.0, 5000.0)
    assert fit.total == pytest.approx(1000.0 + 7.0)  # the lower edge is inside, the upper one not
    assert (fit.start, fit.stop, fit.exclude) == (2500.0, 5000.0, None) and fit.params[2] == 0.0
    assert fit.covariance[2, 2] == 0.0 and fit.covariance[0, 0] > 0
    # the minimum of an independent NLL: its gradient in (p1, p2) vanishes at the fitted parameters
    inside = (mjj >= 2500.0) & (mjj < 5000.0)
    x, w = mjj[inside], weights[inside]
    grid = np.linspace(2500.0, 5000.0, 20001)

    def nll(p):
        values = dijet_shape(grid, p)
        norm = np.sum((values[1:] + values[:-1]) / 2 * np.diff(grid))
        return -np.sum(w * np.log(dijet_shape(x, p) / norm))

    for i in (0, 1):
        step = np.zeros(3)
        step[i] = 1e-3
        gradient = (nll(fit.params + step) - nll(fit.params - step)) / 2e-3
        assert abs(gradient) < 0.05
    # the weights are rescaled to the effective number of events: a constant factor changes nothing
    doubled = fit_dijet_function(mjj, 4 * weights, 2500.0, 5000.0)
    np.testing.assert_allclose(doubled.params, fit.params, rtol=1e-4)
    np.testing.assert_allclose(doubled.covariance, fit.covariance, rtol=1e-3)
    assert doubled.total == pytest.approx(4 * fit.total)
    # unit weights on the same events: sum(w)^2 / sum(w^2) events, a smaller uncertainty than two events per weight
    unit = fit_dijet_function(x[:-1], np.ones(len(x) - 1), 2500.0, 5000.0)
    assert unit.covariance[0, 0] < fit.covariance[0, 0]
    free = fit_dijet_function(mjj, weights, 2500.0, 5000.0, free_p3=True)
    assert free.covariance[2, 2] > 0
    sideband = fit_dijet_function(mjj, weights, 2500.0, 5000.0, exclude=(3000, 3500))
    assert sideband.exclude == (3000.0, 3500.0)
    assert sideband.total == pytest.approx(weights[inside & ((mjj < 3000.0) | (mjj >= 3500.0))].sum())
    with pytest.raises(InvalidConfig, match=r"dijet function fit of jets: the excluded interval \(2000.0, 3000.0\) is not inside 2500-5000 GeV"):
        fit_dijet_function(mjj, weights, 2500.0, 5000.0, what="jets", exclude=(2000, 3000))
    with pytest.raises(InvalidConfig, match="is not inside"):
        fit_dijet_function(mjj, weights, 2500.0, 5000.0, exclude=(3000, 3000))
    with pytest.raises(EmptySelection, match="0 events in 2500-5000 GeV without 2500-5000 GeV"):
        fit_dijet_function(mjj, weights, 2500.0, 5000.0, exclude=(2500, 5000))
    with pytest.raises(EmptySelection, match="at least 10 are needed"):
        fit_dijet_function(mjj, np.zeros(len(mjj)), 2500.0, 5000.0)


def test_workspace_input_edges_by_hand(tmp_path):
    """The edges of the workspace's input checks, each against the case worked out by hand."""
    background = SampleInput(np.array([10.0, 20.0, 5.0]))
    signal = SampleInput(np.array([0.2, 0.2, 0.1]), signal=True)  # a total below one event is a template too
    spec = build_workspace({"sr": {"b": background, "s": signal}}, norm_uncertainties={"b": 0.0})
    assert spec["measurements"][0]["name"] == "measurement"
    assert _modifiers(spec, "b")[("norm_b", "normsys")] == {"hi": 1.0, "lo": 1.0}  # a zero uncertainty is allowed
    # a varied template may go negative (negative-weight events): floored like the nominal
    varied = SampleInput(np.array([10.0, 20.0, 5.0]), variations={"jes": (np.array([11.0, -1.0, 5.0]), np.array([9.0, 21.0, 5.0]))})
    histosys = _modifiers(build_workspace({"sr": {"b": varied, "s": signal}}), "b")[("jes", "histosys")]
    assert histosys["hi_data"][1] == pytest.approx(MIN_YIELD * 35 / (16 + MIN_YIELD))
    # the negative bins are named, not the bins below one event
    with pytest.raises(InvalidInput, match=r"observations of channel 'sr': negative values in bins \[2\]$"):
        build_workspace({"sr": {"b": background, "s": signal}}, observations={"sr": [0.5, 0.0, -1.0]})
    # a missing bin (None) is a NaN, named as such
    with pytest.raises(InvalidInput, match=r"sample 'b' in channel 'sr' nominal: NaN or infinite values in bins \[1\]"):
        build_workspace({"sr": {"b": SampleInput([10.0, None, 5.0]), "s": signal}})
    with pytest.raises(InvalidInput, match=r"observations of channel 'sr': scalar bins where 3 are expected"):
        build_workspace({"sr": {"b": background, "s": signal}}, observations={"sr": 7.0})
    wrong_down = SampleInput(np.array([10.0, 20.0, 5.0]), variations={"jes": (np.array([11.0, 21.0, 5.0]), np.array([9.0, 19.0]))})
    with pytest.raises(InvalidInput, match=r"sample 'b' in channel 'sr' variation 'jes' down: 2 bins where 3 are expected"):
        build_workspace({"sr": {"b": wrong_down, "s": signal}})
    with pytest.raises(InvalidConfig, match=r"^build_workspace: every channel needs at least one sample$"):
        build_workspace({"sr": {}})
    with pytest.raises(InvalidConfig, match=r"^the workspace fails pyhf's schema: "):
        build_workspace({"sr": {"b": background, "s": signal}}, poi=1)  # a parameter's name must be a string
    # read_hists: the top-level folders are listed without cycles or their contents; a folder
    # that is not a histogram is named; an unreadable file is named
    path = tmp_path / "hists.root"
    with uproot.recreate(path) as out:
        out["signal_region/mjj/nominal"] = hist.Hist.new.Reg(3, 0.0, 3.0).Weight()
        out["signal_region/mjj/extra/nominal"] = hist.Hist.new.Reg(3, 0.0, 3.0).Weight()
    with pytest.raises(BadInputFile, match=r"no histograms under 'control_region/mjj' \(top-level keys: \['signal_region'\]\)$"):
        read_hists(path, "control_region", "mjj")
    with pytest.raises(BadInputFile, match=r"hists\.root: 'signal_region/mjj/extra' is a TDirectory, not a histogram$"):
        read_hists(path, "signal_region", "mjj")
    (tmp_path / "garbage.root").write_bytes(b"not a ROOT file" * 100)
    with pytest.raises(BadInputFile, match=r"garbage\.root: cannot read 'signal_region/mjj': "):
        read_hists(tmp_path / "garbage.root", "signal_region", "mjj")


def test_dijet_function_edges_precision_and_refusals():
    """The dijet function fit at the edges of its inputs, each against the case worked out by hand."""
    import warnings

    from mlhep.stats.dijet_function import DijetFit

    rng = np.random.default_rng(21)
    mjj = _dijet_events((11.0, 5.5, 0.0), 400, rng)
    # float32 columns (as parquet stores them) are computed in float64: no float32 rounding
    masses32 = mjj.astype(np.float32)
    np.testing.assert_array_equal(dijet_shape(masses32, (10.0, 5.0, 0.3)), dijet_shape(masses32.astype(np.float64), (10.0, 5.0, 0.3)))
    weights32 = rng.uniform(0.1, 3.0, len(mjj)).astype(np.float32)
    assert fit_dijet_function(mjj, weights32, 2500.0, 5000.0).total == pytest.approx(np.sum(weights32.astype(np.float64)[mjj < 5000.0]), rel=1e-12)
    # the window's edges apply to the event's stored value: a float32 mass just below an edge that
    # float32 cannot hold is outside, an event on the excluded interval's upper edge inside
    start = 2500.2
    below = np.float32(start)
    assert float(below) < start
    edge_events = np.r_[mjj.astype(np.float32), below, np.float32(3500.0)]
    fit = fit_dijet_function(edge_events, np.r_[np.ones(len(mjj)), 1000.0, 100.0], start, 5000.0, exclude=(3000.0, 3500.0))
    kept = (mjj >= start) & (mjj < 5000.0) & ((mjj < 3000.0) | (mjj >= 3500.0))
    assert fit.total == pytest.approx(kept.sum() + 100.0)
    # a sample of ten events is enough, nine is not; a total weight below one event is a sample too
    assert fit_dijet_function(mjj[:10], np.ones(10), 2500.0, 5000.0).total == 10.0
    with pytest.raises(EmptySelection, match=r"^dijet function fit of events: 9 events in 2500-5000 GeV, at least 10 are needed$"):
        fit_dijet_function(mjj[:9], np.ones(9), 2500.0, 5000.0)
    assert fit_dijet_function(mjj[:20], np.full(20, 0.01), 2500.0, 5000.0).total == pytest.approx(0.2)
    with pytest.raises(EmptySelection, match=r"^dijet function fit of events: no valid minimum \(20 events in 2500-5000 GeV\)$"):
        fit_dijet_function(np.full(20, 2600.0), np.ones(20), 2500.0, 5000.0)
    # at another collision energy (13.6 TeV), the fit is the maximum of its own likelihood
    fit = fit_dijet_function(mjj, np.ones(len(mjj)), 2500.0, 5000.0, sqrt_s=13600.0)
    inside = mjj[mjj < 5000.0]
    grid = np.linspace(2500.0, 5000.0, 20001)

    def nll(p):
        values = dijet_shape(grid, p, sqrt_s=13600.0)
        return -np.sum(np.log(dijet_shape(inside, p, sqrt_s=13600.0) / np.sum((values[1:] + values[:-1]) / 2 * np.diff(grid))))

    for i in (0, 1):
        step = np.zeros(3)
        step[i] = 1e-3
        assert abs(nll(fit.params + step) - nll(fit.params - step)) / 2e-3 < 0.05
    # a covariance with a rounding-negative eigenvalue: that direction has no variation, and no warning
    rounded = DijetFit(np.array([10.0, 5.0, 0.0]), np.diag([0.04, 0.01, -1e-18]), 100.0, 2500.0, 5000.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(rounded.eigen_variations(np.linspace(2500.0, 5000.0, 6))) == 2


def _one_bin(signal=1.0, background=100.0, stat_variance=None, observed=None):
    channels = {"sr": {"s": SampleInput(np.array([signal]), signal=True), "b": SampleInput(np.array([background]), stat_variance=stat_variance)}}
    return build_workspace(channels, observations=None if observed is None else {"sr": [observed]})


def test_limit_above_the_default_poi_bound_from_any_bracket():
    """A limit near mu = 21, above pyhf's default POI bound of 10: found from brackets below,
    around and far above it, equal to pyhf's toms748 search with wide bounds."""
    spec = _one_bin()
    model, data = model_and_data(spec)
    bounds = model.config.suggested_bounds()
    bounds[model.config.poi_index] = (0.0, 200.0)
    pyhf.set_backend("numpy", "scipy")
    observed, expected = pyhf.infer.intervals.upper_limits.toms748_scan(data, model, 1.0, 100.0, level=0.05, rtol=1e-6, par_bounds=bounds)
    assert float(observed) == pytest.approx(20.9, abs=0.05)
    for bracket in ((0.01, 0.02), (0.5, 5.0), (15.0, 25.0), (0.5, 1e5)):
        limit, band = upper_limits(spec, bracket)
        assert limit == pytest.approx(float(observed), rel=2e-3), bracket
        assert band == pytest.approx([float(e) for e in expected], rel=2e-3), bracket


def test_fit_helpers_by_hand(tmp_path):
    """The POI's free bounds, the pulls of a staterror gamma, CLs at the default POI and the
    retry of a failed minimization, each against its case worked out by hand or by pyhf."""
    import logging
    import time

    from mlhep.stats import cls_at
    from mlhep.stats.fit import _minimize

    # mu may go down to half the smallest background / signal ratio, over every bin with signal
    background = SampleInput(np.array([2.0, 100.0]))
    model, _ = model_and_data(build_workspace({"sr": {"s": SampleInput(np.array([0.5, 10.0]), signal=True), "b": background}}))
    assert free_poi_bounds(model)[model.config.poi_index] == (-2.0, 10.0)
    # a staterror gamma's pull is (gamma - 1) / sigma, in units of its relative MC uncertainty
    spec = _one_bin(signal=5.0, stat_variance=np.array([25.0]), observed=130.0)
    results = best_fit(spec)
    model, data = model_and_data(spec)
    pyhf.set_backend("numpy", "minuit")
    fitted = pyhf.infer.mle.fit(data, model, par_bounds=free_poi_bounds(model), return_uncertainties=True)
    gamma = model.config.par_slice("staterror_sr").start
    pull, width = results["pulls"]["staterror_sr[0]"]
    assert pull == pytest.approx((fitted[gamma, 0] - 1.0) / 0.05, rel=1e-3) and pull != 0
    assert width == pytest.approx(fitted[gamma, 1] / 0.05, rel=1e-3)
    # CLs at mu = 1 unless told otherwise; fit_s is the call's own wall time
    assert cls_at(spec) == cls_at(spec, 1.0) != cls_at(spec, 2.0)
    start = time.perf_counter()
    results = fit_workspace(spec)
    assert results["test_poi"] == 1.0 and 0 < results["fit_s"] <= time.perf_counter() - start
    write_results(results, tmp_path / "results.json")
    assert json.loads((tmp_path / "results.json").read_text()) == json.loads(json.dumps(results))
    # a failed first try (scipy, or MINUIT strategy 0, its log silenced) is retried with MINUIT strategy 1
    mixins = logging.getLogger("pyhf.optimize.mixins")
    for first, tried in (("scipy", ("scipy", None)), ("minuit", ("minuit", 0))):
        seen = []

        def call(seen=seen):
            optimizer = pyhf.get_backend()[1]
            seen.append((optimizer.name, getattr(optimizer, "strategy", None), bool(getattr(optimizer, "verbose", False)), mixins.disabled))
            if len(seen) == 1:
                raise pyhf.exceptions.FailedMinimization(None)
            return "refitted"

        assert _minimize(call, first=first) == "refitted"
        assert seen == [(*tried, False, True), ("minuit", 1, False, False)] and not mixins.disabled
    calls = []

    def failing():
        calls.append(mixins.disabled)
        raise pyhf.exceptions.FailedMinimization(None)

    with pytest.raises(pyhf.exceptions.FailedMinimization):
        _minimize(failing)
    assert calls == [True, False] and not mixins.disabled


def test_limit_bracket_by_hand(monkeypatch):
    """The bracketing of the limits on CLs curves made by hand: all six equal to 0.5 / poi
    (crossing 0.05 at poi = 10), and 0 / 0 (NaN) above poi = 1000, where CLb underflows."""
    from mlhep.stats import fit

    monkeypatch.setattr(fit, "_cls_set", lambda data, model, poi, bounds: np.full(6, 0.5 / poi if poi <= 1000 else np.nan))
    model, data = model_and_data(_one_bin())
    assert fit._bracket(data, model, 1.0, 5.0) == (5.0, 10.0)  # doubled once; CLs = 0.05 is excluded
    assert fit._bracket(data, model, 10.0, 20.0) == (10.0, 20.0)  # CLs = 0.05 at the low end holds
    assert fit._bracket(data, model, 40.0, 80.0) == (10.0, 80.0)  # halved twice
    assert fit._bracket(data, model, 1.0, 5000.0) == (1.0, 625.875)  # NaN pulled halfway back, three times
    with pytest.raises(fit.LimitNotBracketed, match=r"^CLs < 0.05 at every poi down to 9.53674: the data exclude any signal$"):
        fit._bracket(data, model, 1e7, 2e7)  # 20 tries: 1e7 / 2^20 = 9.5 is the 21st
    assert fit._bracket(data, model, 1e7, 20.0, tries=21) == (1e7 / 2**20, 20.0)
    with pytest.raises(fit.LimitNotBracketed, match=r"^no poi up to 4 is excluded at CLs < 0.05 with finite CLs; check the signal template$"):
        fit._bracket(data, model, 1.0, 2.0, tries=1)


def test_ranking_by_hand_with_a_deficit_and_a_fixed_parameter():
    """One bin, 10 signal on 100 +- 10 % background, 90 observed: mu-hat = -1, and the
    background shifted by +-1 sigma moves it to -2 and 0. A parameter fixed in the measurement
    is not ranked and stays fixed in every refit: the ranking equals that without it."""
    deficit = build_workspace(
        {"sr": {"s": SampleInput(np.array([10.0]), signal=True), "b": SampleInput(np.array([100.0]))}}, norm_uncertainties={"b": 0.1}, observations={"sr": [90.0]}
    )
    (row,) = ranking(deficit)
    assert row["parameter"] == "norm_b"
    assert (row["prefit_up"], row["prefit_down"]) == pytest.approx((-1.0, 1.0), abs=2e-3)
    signal = SampleInput(np.array([5.0, 20.0, 5.0]), signal=True)

    def spec(variations, fixed):
        background = SampleInput(np.array([100.0, 80.0, 60.0]), variations=variations)
        built = build_workspace({"sr": {"signal": signal, "background": background}}, norm_uncertainties={"background": 0.2}, asimov_mu=1.0)
        built["measurements"][0]["config"]["parameters"] = [{"name": name, "fixed": True} for name in fixed]
        return built

    jes = {"jes": (np.array([101.0, 81.0, 61.0]), None)}
    with_fixed = ranking(spec({**jes, "xsec": (np.array([130.0, 100.0, 60.0]), None)}, ["xsec"]))
    without = ranking(spec(jes, []))
    assert [row["parameter"] for row in with_fixed] == [row["parameter"] for row in without] == ["norm_background", "jes"]
    for ours, reference in zip(with_fixed, without):
        assert ours == pytest.approx(reference, abs=1e-4)


def test_poi_bounds_and_limit_table_of_odd_inputs():
    """A bin without signal (and without background) does not bound the POI; limits and masses
    given as integers come back as floats."""
    spec = {"channels": [{"name": "sr", "samples": [
        {"name": "s", "data": [0.0, 10.0], "modifiers": [{"name": "mu", "type": "normfactor", "data": None}]},
        {"name": "b", "data": [0.0, 100.0], "modifiers": []},
    ]}]}  # fmt: skip
    model = pyhf.Model(spec)
    assert free_poi_bounds(model)[model.config.poi_index] == (-5.0, 10.0)
    masses, observed, expected = limit_vs_mass([(3000, {"upper_limit_obs": 3, "upper_limit_exp": [1, 2, 3, 4, 5]})])
    assert masses.dtype == observed.dtype == expected.dtype == np.float64


def test_patchset_of_mass_points_round_trips_through_pyhf(tmp_path):
    """A background-only workspace and a patch per mass point (issue 25): each patch, applied
    by pyhf's PatchSet and by `pyhf patchset apply`, gives back that point's workspace, whose
    refit limits equal the ones fitted before publishing, to 1e-6."""
    background = SampleInput(np.array([100.0, 80.0, 60.0, 40.0]), stat_variance=np.array([9.0, 7.0, 5.0, 4.0]), variations={"jes": (np.array([104.0, 82.0, 59.0, 38.0]), np.array([96.0, 78.0, 61.0, 42.0]))})
    signals = {"m1000": (1000, [20.0, 5.0, 1.0, 0.5]), "m2000": (2000, [2.0, 15.0, 6.0, 1.0]), "m3000": (3000, [0.5, 1.0, 8.0, 12.0])}
    points, limits = [], {}
    for name, (mass, yields) in signals.items():
        spec = build_workspace({"mjj": {"signal": SampleInput(np.array(yields), signal=True), "qcd": background}}, norm_uncertainties={"qcd": 0.05}, asimov_mu=1.0)
        points.append((name, mass, spec))
        limits[name] = upper_limits(spec, (0.1, 20.0))
    base, patches = patchset(points, label="mass", description="toy", inspire="ins1234567")
    assert [s["name"] for s in base["channels"][0]["samples"]] == ["qcd"]
    assert base["observations"][0]["data"] == pytest.approx([100.0, 80.0, 60.0, 40.0])
    (tmp_path / "bkgonly.json").write_text(json.dumps(base))
    (tmp_path / "patchset.json").write_text(json.dumps(patches))
    published = pyhf.PatchSet(json.loads((tmp_path / "patchset.json").read_text()))
    for name, mass, spec in points:
        by_value = published.apply(pyhf.Workspace(base), (mass,))
        cli = tmp_path / f"{name}.json"
        subprocess.run([str(Path(sys.executable).parent / "pyhf"), "patchset", "apply", str(tmp_path / "bkgonly.json"), str(tmp_path / "patchset.json"), "--name", name, "--output-file", str(cli)], check=True)
        for patched in (dict(by_value), json.loads(cli.read_text())):
            assert patched == json.loads(json.dumps(spec))
            observed, expected = upper_limits(patched, (0.1, 20.0))
            assert observed == pytest.approx(limits[name][0], abs=1e-6) and expected == pytest.approx(limits[name][1], abs=1e-6)
    other = build_workspace({"mjj": {"signal": SampleInput(np.ones(4), signal=True), "qcd": SampleInput(np.full(4, 50.0))}})
    with pytest.raises(InvalidConfig, match="'other' has another background than 'm1000'"):
        patchset([*points, ("other", 4000, other)], label="mass", description="toy", inspire="ins1234567")
    with pytest.raises(InvalidConfig, match="'m1000' and 'again' have the same mass 1000"):
        patchset([*points, ("again", 1000, points[1][2])], label="mass", description="toy", inspire="ins1234567")
    with pytest.raises(InvalidConfig, match="patchset fails pyhf's schema"):
        patchset(points, label="mass", description="toy", inspire="not-a-record")
