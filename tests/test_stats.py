"""Statistical fits with pyhf: workspaces from histogram templates, best fit, significance,
upper limits, ROOT input, bad input and plots, on a synthetic dijet resonance search."""

import json

import hist
import numpy as np
import pyhf
import pytest
import uproot

from mlhep.errors import BadInputFile, EmptySelection, InvalidConfig
from mlhep.stats import (
    MIN_YIELD,
    SampleInput,
    ScanTooShort,
    best_fit,
    build_workspace,
    dijet_shape,
    discovery_significance,
    fit_dijet_function,
    fit_workspace,
    limit_vs_mass,
    plot_brazil,
    plot_pulls,
    plot_stack,
    ranking,
    read_hists,
    sample_from_hists,
    upper_limits,
    write_results,
)

BINNING = (20, 1000.0, 3000.0)  # mjj [GeV]


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
    return {scale: fit_workspace(build_workspace(_channels(templates, scale)), scan_points=6) for scale in (1.0, 0.25)}


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
    with pytest.raises(InvalidConfig, match=r"sample 'signal' in channel 'mjj'.*NaN"):
        build_workspace(channels)
    channels["mjj"]["signal"] = SampleInput(-templates["signal"]["nominal"].values(), signal=True)
    with pytest.raises(InvalidConfig, match=r"sample 'signal'.*negative"):
        build_workspace(channels)
    with pytest.raises(InvalidConfig, match="unknown samples"):
        build_workspace(_channels(templates), norm_uncertainties={"ttbar": 0.1})


def test_plots_are_written(templates, limits, tmp_path):
    spec = build_workspace(_channels(templates), asimov_mu=1.0)
    fit = best_fit(spec)
    edges = {"mjj": templates["signal"]["nominal"].axes[0].edges}
    plot_stack(spec, fit, tmp_path / "prefit", edges=edges, xlabel="m_jj [GeV]")
    plot_stack(spec, fit, tmp_path / "postfit", postfit=True)
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


def test_a_too_short_limit_scan_is_refused():
    with pytest.raises(ScanTooShort, match="scan up to 0.1"):
        upper_limits(_three_bins(), [0.0, 0.05, 0.1])


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
