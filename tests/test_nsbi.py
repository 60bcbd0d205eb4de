"""NSBI: learned density ratios against the exact ones of a toy, calibration, code-4 interpolation,
the unbinned likelihood and its intervals, bad input."""

import numpy as np
import pyhf
import pytest

from mlhep.errors import InvalidConfig, InvalidInput, MlhepError
from mlhep.ml.ratio import DensityRatio, balanced_weights, fit_calibration, isotonic, reliability_curve
from mlhep.ml.training import TrainConfig
from mlhep.nsbi import PROCESSES, Fit, GaussianOnExponential, IntervalNotFound, NSBILikelihood, Process, ProfileScan, interpolate, interval, profile_interval
from mlhep.nsbi.plots import plot_calibration

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TOY = GaussianOnExponential()
N_TRAIN = 15000  # events per training sample
N_MC = 20000  # nominal events per process that renormalize the interpolated shapes
ASIMOV_EVENTS = 100000


def _ratio(epochs, learning_rate, **kwargs):
    train = TrainConfig(epochs=epochs, batch_size=256, learning_rate=learning_rate, early_stopping=False)
    return DensityRatio(hidden=(32, 32), ensemble=2, train=train, **kwargs)


@pytest.fixture(scope="module")
def learned():
    """Ratios trained on the toy: signal vs background (nominal) and, per process, the +-1 sigma
    energy scale vs the nominal; held-out seeds everywhere else in this file."""
    ratios = {"sb": _ratio(20, 3e-3).fit(TOY.sample("signal", N_TRAIN, seed=1), TOY.sample("background", N_TRAIN, seed=2))}
    for i, process in enumerate(PROCESSES):
        nominal = TOY.sample(process, N_TRAIN, seed=10 + i)
        for alpha, side in ((1.0, "up"), (-1.0, "down")):
            # the same seed: the varied sample rescales the nominal sample's events
            varied = TOY.sample(process, N_TRAIN, alpha=alpha, seed=10 + i)
            ratios[process, side] = _ratio(15, 1e-3).fit(varied, nominal)
    return ratios


def _nsbi_likelihood(ratios, X, weight=None):
    """The likelihood with learned ratios: the reference is the balanced nominal mixture, whose
    ratios come from the one signal-vs-background classifier; the yield factors are exact."""
    to_reference = dict(zip(PROCESSES, ratios["sb"].log_mixture_ratios(X)))
    processes = []
    for i, p in enumerate(PROCESSES):
        norm = {"jes": (TOY.expected(p, 1.0) / TOY.expected(p), TOY.expected(p, -1.0) / TOY.expected(p))}
        shape = {"jes": (ratios[p, "up"], ratios[p, "down"])}
        mc = TOY.sample(p, N_MC, seed=1000 + i)
        processes.append(Process.from_ratios(p, TOY.expected(p), X, to_reference[p], shape, norm, signal=p == "signal", mc=mc))
    return NSBILikelihood(processes, weight)


def _rms(difference):
    return float(np.sqrt(np.mean(difference**2)))


def test_toy_densities_are_normalized_and_yields_follow_the_scale():
    # importance sampling of the integral of p(x | alpha) above the cut, from the nominal sample
    for process in PROCESSES:
        X = TOY.sample(process, 50000, seed=3)
        for alpha in (-1.0, 1.0):
            weights = np.exp(TOY.log_ratio(X, (process, alpha), (process, 0.0)))
            assert weights.mean() == pytest.approx(1.0, abs=0.02)
    # the background above the cut: exp(-slope * threshold / k)
    assert TOY.expected("background", 1.0) == pytest.approx(3000 * np.exp(-0.5 / 1.05))
    assert TOY.expected("signal", 0.0, mu=2.0) == pytest.approx(600.0, rel=1e-6)
    # the up sample rescales the nominal events
    nominal, up = TOY.sample("signal", 1000, seed=4), TOY.sample("signal", 1000, alpha=1.0, seed=4)
    assert np.allclose(up[:, 0], 1.05 * nominal[:, 0]) and np.array_equal(up[:, 1], nominal[:, 1])
    X, w = TOY.pseudo_data(mu=1.0, seed=6)
    assert len(X) == pytest.approx(TOY.expected("signal") + TOY.expected("background"), rel=0.1)
    assert np.all(w == 1.0) and X.shape[1] == TOY.dims


def test_interpolation_code4_is_smooth_and_exact_at_the_knots():
    up, down = np.array([1.3, 0.8, 1.0, 1.05]), np.array([0.7, 1.1, 1.0, 0.9])
    assert np.allclose(interpolate(0.0, up, down), 1.0)
    assert np.allclose(interpolate(1.0, up, down), up)
    assert np.allclose(interpolate(-1.0, up, down), down)
    assert np.allclose(interpolate(2.5, up, down), up**2.5)
    assert np.allclose(interpolate(-2.0, up, down), down**2.0)
    h = 1e-5
    for knot in (-1.0, 1.0):
        left, right = interpolate(knot - h, up, down), interpolate(knot + h, up, down)
        assert np.allclose(left, right, atol=1e-4)  # continuous
        slope_left = (interpolate(knot, up, down) - interpolate(knot - 2 * h, up, down)) / (2 * h)
        slope_right = (interpolate(knot + 2 * h, up, down) - interpolate(knot, up, down)) / (2 * h)
        assert np.allclose(slope_left, slope_right, atol=1e-4)  # continuous first derivative
    # ROOT's closed form of the code-4 polynomial (FlexibleInterpVar), for one up/down pair
    hi, lo = 1.3, 0.7
    s0, a0 = (hi + lo) / 2, (hi - lo) / 2
    s1, a1 = (hi * np.log(hi) - lo * np.log(lo)) / 2, (hi * np.log(hi) + lo * np.log(lo)) / 2
    s2, a2 = (hi * np.log(hi) ** 2 + lo * np.log(lo) ** 2) / 2, (hi * np.log(hi) ** 2 - lo * np.log(lo) ** 2) / 2
    coefficients = [
        (15 * a0 - 7 * s1 + a2) / 8,
        (-24 + 24 * s0 - 9 * a1 + s2) / 8,
        (-5 * a0 + 5 * s1 - a2) / 4,
        (12 - 12 * s0 + 7 * a1 - s2) / 4,
        (3 * a0 - 3 * s1 + a2) / 8,
        (-8 + 8 * s0 - 5 * a1 + s2) / 8,
    ]
    for alpha in (-0.7, -0.2, 0.4, 0.9):
        expected = 1 + sum(c * alpha ** (i + 1) for i, c in enumerate(coefficients))
        assert interpolate(alpha, hi, lo) == pytest.approx(expected, rel=1e-12)


def test_code4_interpolation_agrees_with_pyhf():
    """Our per-event code 4 against pyhf's own interpolator (HistFactory code 4), inside and
    outside |alpha| < 1, for factors on either side of 1 and asymmetric ones."""
    rng = np.random.default_rng(11)
    up, down = np.exp(rng.normal(0, 0.3, 50)), np.exp(rng.normal(0, 0.3, 50))
    pyhf.set_backend("numpy")
    reference = pyhf.interpolators.code4([[[down, np.ones(50), up]]])
    for alpha in (-2.5, -1.0, -0.6, -0.1, 0.0, 0.3, 0.99, 1.0, 1.7):
        expected = np.asarray(reference(pyhf.tensorlib.astensor([[alpha]])))[0, 0, 0]
        np.testing.assert_allclose(interpolate(alpha, up, down), expected, rtol=0, atol=1e-10)


def test_exact_likelihood_is_minimal_at_the_injected_mu():
    X, w = TOY.pseudo_data(mu=1.0, seed=5, asimov_events=ASIMOV_EVENTS)
    best = TOY.exact_likelihood(X, w, mc_events=N_MC).fit()
    assert best.valid
    assert best.mu == pytest.approx(1.0, abs=0.02)  # measured 0.995 (sigma_mu = 0.086)
    # alpha-hat spreads by 0.054 over pseudo-data and MC seeds 1-8 (mean -0.027); measured 0.133 here
    assert best.alpha["jes"] == pytest.approx(0.0, abs=0.2)
    # and off the minimum the NLL rises
    likelihood = TOY.exact_likelihood(X, w, mc_events=N_MC)
    assert likelihood.nll(1.3, [0.0]) > likelihood.nll(best.mu, [best.alpha["jes"]]) + 2


def test_learned_log_ratios_match_the_exact_ones(learned):
    # signal vs background on a balanced held-out mixture; the bulk: |exact log r| < 3, where
    # the events of either process are not yet all of one class (68 % of them)
    X = np.concatenate([TOY.sample("signal", 5000, seed=101), TOY.sample("background", 5000, seed=102)])
    exact = TOY.log_ratio(X, ("signal", 0.0), ("background", 0.0))
    bulk = np.abs(exact) < 3
    assert bulk.mean() > 0.6
    assert _rms(learned["sb"].log_ratio(X)[bulk] - exact[bulk]) < 0.2  # measured 0.11
    # the mixture ratios of the same classifier: exact at a perfect classifier
    log_s, log_b = learned["sb"].log_mixture_ratios(X)
    assert np.allclose(np.exp(log_s) + np.exp(log_b), 2.0)
    # variation vs nominal on held-out nominal events; the bulk: the central 98 %
    tolerance = {"signal": 0.1, "background": 0.04}  # measured 0.04-0.05 and 0.014-0.022
    for process in PROCESSES:
        X = TOY.sample(process, 10000, seed=200)
        for alpha, side in ((1.0, "up"), (-1.0, "down")):
            exact = TOY.log_ratio(X, (process, alpha), (process, 0.0))
            bulk = (exact > np.quantile(exact, 0.01)) & (exact < np.quantile(exact, 0.99))
            rms = _rms(learned[process, side].log_ratio(X)[bulk] - exact[bulk])
            assert rms < tolerance[process], (process, side, rms)
            assert rms < 0.7 * exact[bulk].std()  # a constant ratio would give the spread itself


def test_nsbi_interval_matches_the_exact_likelihood_interval(learned):
    X, w = TOY.pseudo_data(mu=1.0, seed=1)
    (exact_low, exact_high), exact_scan = profile_interval(TOY.exact_likelihood(X, w, mc_events=N_MC))
    (low, high), scan = profile_interval(_nsbi_likelihood(learned, X, w))
    assert isinstance(scan, ProfileScan) and scan.best.valid
    exact_width = exact_high - exact_low
    assert 0.1 < exact_width < 0.25  # measured 0.167
    assert high - low == pytest.approx(exact_width, rel=0.1)  # measured 0.169
    # and the interval sits near the exact one: the learned signal-vs-background ratio moves mu-hat
    # by up to 0.15 between training seeds (0.83-1.15 at the Asimov point over nine trainings,
    # with ensembles of 2 and 6 networks alike, see test_nsbi_likelihood_is_minimal_near_the_injected_mu)
    assert (low + high) / 2 == pytest.approx((exact_low + exact_high) / 2, abs=0.2)
    assert scan.best.mu == pytest.approx(exact_scan.best.mu, abs=0.2)
    # the scan is a profile: its minimum is at the best fit and it rises on either side
    assert scan.q.min() == pytest.approx(0.0, abs=0.05)
    assert scan.q[0] > 3 and scan.q[-1] > 3
    # the 95 % interval contains the 68 % one
    low95, high95 = interval(scan, 0.95)
    assert low95 < low and high95 > high


def test_nsbi_likelihood_is_minimal_near_the_injected_mu(learned):
    X, w = TOY.pseudo_data(mu=1.0, seed=5, asimov_events=ASIMOV_EVENTS)
    best = _nsbi_likelihood(learned, X, w).fit()
    assert best.valid
    # The learned ratios' training is the limit here: over training seeds 0-4 of the
    # signal-vs-background classifier mu-hat spread over 0.83-1.15 (0.89-1.07 before the named
    # random streams, 1.002 at the seed this bound was once tuned on), alpha-hat over -0.13-0.38;
    # with the exact signal-vs-background ratio mu-hat is 0.993.
    assert best.mu == pytest.approx(1.0, abs=0.2)
    assert best.alpha["jes"] == pytest.approx(0.0, abs=0.5)


def test_calibration_is_monotone_and_repairs_a_miscalibrated_score():
    rng = np.random.default_rng(7)
    # a calibrated score by construction: the label is 1 with probability s
    calibrated = rng.random(20000)
    y = (rng.random(20000) < calibrated).astype(np.float64)
    w = balanced_weights(y, np.ones(len(y)))
    distorted = calibrated**3
    fit_half = rng.random(len(y)) < 0.5

    def error(score):
        predicted, observed = reliability_curve(score[~fit_half], y[~fit_half], w[~fit_half], bins=10)
        return float(np.mean(np.abs(predicted - observed)))

    assert error(calibrated) < 0.03
    before = error(distorted)
    assert before > 0.1
    grid = np.linspace(0, 1, 1001)
    for method in ("isotonic", "histogram"):
        mapping = fit_calibration(distorted[fit_half], y[fit_half], w[fit_half], method, bins=20)
        assert np.all(np.diff(mapping(grid)) >= 0)
        after = error(mapping(distorted))
        assert after < 0.03 and after < before / 4, (method, before, after)
    values = rng.random(500)
    assert np.all(np.diff(isotonic(values, np.ones(500))) >= 0)
    assert np.array_equal(isotonic(np.arange(5.0), np.ones(5)), np.arange(5.0))
    assert np.allclose(isotonic(np.array([3.0, 1.0]), np.array([1.0, 3.0])), [1.5, 1.5])


def test_calibrated_ratio_saves_loads_and_plots(tmp_path):
    X_num, X_den = TOY.sample("signal", 3000, seed=40), TOY.sample("background", 6000, seed=41)
    ratio = _ratio(5, 3e-3, calibration="isotonic").fit(X_num, X_den)
    # the classes are balanced: twice as many denominator events do not shift log r by log 1/2
    X = np.concatenate([TOY.sample("signal", 2000, seed=43), TOY.sample("background", 2000, seed=44)])
    exact = TOY.log_ratio(X, ("signal", 0.0), ("background", 0.0))
    raw = ratio.raw_score(X)
    offset = np.mean((np.log(raw) - np.log1p(-raw) - exact)[np.abs(exact) < 3])
    assert abs(offset) < 0.2  # measured 0.03; unbalanced it would be near log(1/2)
    labels = np.repeat([1.0, 0.0], 2000)
    assert np.average(raw, weights=balanced_weights(labels, np.ones(4000))) == pytest.approx(0.5, abs=0.03)  # measured 0.506
    curves = {"raw": ratio.reliability(X[:2000], X[2000:], calibrated=False), "isotonic": ratio.reliability(X[:2000], X[2000:])}
    X = TOY.sample("background", 500, seed=42)
    ratio.save(tmp_path / "ratio")
    loaded = DensityRatio.load(tmp_path / "ratio")
    assert loaded.calibration == "isotonic" and loaded.train.epochs == 5
    assert np.allclose(loaded.log_ratio(X), ratio.log_ratio(X))
    assert np.all(np.diff(loaded.calibrator.y) >= 0)
    assert np.all(np.abs(ratio.log_ratio(X)) <= np.log((1 - ratio.clip) / ratio.clip) + 1e-9)
    plot_calibration(curves, tmp_path / "calibration")
    assert (tmp_path / "calibration.png").exists() and (tmp_path / "calibration.pdf").exists()


def test_bad_input_raises_clear_errors():
    good = np.zeros((10, 2))
    with_nan = good.copy()
    with_nan[3, 1] = np.nan
    ratio = DensityRatio(ensemble=1)
    with pytest.raises(InvalidInput, match="NaN"):
        ratio.fit(with_nan, good)
    with pytest.raises(InvalidInput, match="features"):
        ratio.fit(good, np.zeros((10, 3)))
    with pytest.raises(InvalidInput, match="shape"):
        ratio.fit(good, good, numerator_weight=np.ones(9))
    with pytest.raises(InvalidInput, match="non-negative"):
        ratio.fit(good, good, denominator_weight=-np.ones(10))
    with pytest.raises(MlhepError, match="fit"):
        ratio.log_ratio(good)
    with pytest.raises(InvalidConfig, match="calibration"):
        DensityRatio(calibration="platt")
    with pytest.raises(InvalidConfig, match="dims"):
        GaussianOnExponential(dims=4)
    with pytest.raises(InvalidInput, match="features"):
        TOY.log_density(np.zeros((5, 3)), "signal")
    with pytest.raises(InvalidInput, match="process"):
        TOY.sample("ttbar", 10)
    signal = Process("signal", 10.0, np.zeros(5), shape={"jes": (np.zeros(5), np.zeros(4))}, signal=True)
    with pytest.raises(InvalidInput, match=r"shape \(5,\)"):
        NSBILikelihood([signal, Process("background", 100.0, np.zeros(5))])
    with pytest.raises(InvalidInput, match="NaN"):
        NSBILikelihood([Process("background", 100.0, np.array([0.0, np.nan]))])
    assert issubclass(InvalidInput, MlhepError)
    # a scan that never reaches the threshold on one side has no interval
    likelihood = TOY.exact_likelihood(*TOY.pseudo_data(seed=3))
    mu_hat = likelihood.fit().mu
    scan = likelihood.profile_scan(np.linspace(mu_hat - 0.05, mu_hat + 0.7, 8))  # barely below the minimum
    with pytest.raises(IntervalNotFound, match="below"):
        interval(scan, 0.95)


def test_an_interval_that_reaches_mu_zero_starts_at_the_bound():
    mu = np.linspace(0.0, 2.0, 21)
    q = (mu - 0.3) ** 2 / 0.5**2  # mu-hat 0.3, sigma 0.5: the 68 % interval would start at -0.2
    scan = ProfileScan(mu, q, np.zeros((21, 0)), Fit(0.3, 0.5, {}, 0.0, True))
    with pytest.raises(IntervalNotFound, match="below"):
        interval(scan, 0.68)
    low, high = interval(scan, 0.68, lower_bound=0.0)
    assert low == 0.0 and high == pytest.approx(0.8, abs=0.01)


def _reference_nll(mu, alpha, processes, weight):
    """The extended unbinned NLL written out from its definition (NSBILikelihood's docstring),
    with pyhf's code 4 for every interpolation."""
    total, density = 0.0, np.zeros(len(weight))
    for p in processes:
        nu = p["expected"] * (mu if p["signal"] else 1.0)
        for k, (up, down) in p.get("norm", {}).items():
            nu *= _factor(alpha[k], up, down)[0]
        factor, mc_factor = np.ones(len(weight)), None
        for k, (log_up, log_down) in p.get("shape", {}).items():
            factor = factor * _factor(alpha[k], np.exp(log_up), np.exp(log_down))
        if "mc_shape" in p:
            mc_factor = np.ones(len(p["mc_weight"]))
            for k, (log_up, log_down) in p["mc_shape"].items():
                mc_factor = mc_factor * _factor(alpha[k], np.exp(log_up), np.exp(log_down))
        scale = nu if mc_factor is None else nu / np.average(mc_factor, weights=p["mc_weight"])
        total += nu
        density += scale * np.exp(p["log_ratio"]) * factor
    return total - weight @ np.log(density) + 0.5 * sum(a * a for a in alpha.values())


def _factor(alpha, up, down):
    """pyhf's HistFactory code 4 factor at ``alpha`` for per-event up and down factors."""
    pyhf.set_backend("numpy")
    up, down = np.atleast_1d(np.asarray(up, dtype=np.float64)), np.atleast_1d(np.asarray(down, dtype=np.float64))
    interpolator = pyhf.interpolators.code4([[[down, np.ones(len(up)), up]]])
    return np.asarray(interpolator(pyhf.tensorlib.astensor([[alpha]])))[0, 0, 0]


def test_nsbi_nll_is_its_definition_with_pyhf_interpolation():
    rng = np.random.default_rng(30)
    n, n_mc = 40, 60
    weight = rng.uniform(0.5, 1.5, n)
    processes = [
        {"name": "signal", "expected": 12.0, "signal": True, "log_ratio": rng.normal(0, 0.5, n),
         "shape": {"jes": (rng.normal(0.1, 0.1, n), rng.normal(-0.1, 0.1, n))}, "mc_shape": {"jes": (rng.normal(0.1, 0.1, n_mc), rng.normal(-0.1, 0.1, n_mc))}, "mc_weight": rng.uniform(0.5, 1.5, n_mc)},
        {"name": "background", "expected": 30.0, "signal": False, "log_ratio": rng.normal(0, 0.5, n),
         "shape": {"jes": (rng.normal(-0.05, 0.1, n), rng.normal(0.05, 0.1, n))}, "norm": {"lumi": (1.1, 0.85), "jes": (1.03, 0.96)}},
    ]
    likelihood = NSBILikelihood(
        [Process(p["name"], p["expected"], p["log_ratio"], p["shape"], p.get("norm", {}), p["signal"], p.get("mc_shape"), p.get("mc_weight")) for p in processes], weight
    )
    assert likelihood.nuisances == ["jes", "lumi"]
    for mu, jes, lumi in ((1.0, 0.0, 0.0), (0.4, 0.7, -0.3), (2.0, -1.6, 1.2), (1.3, 1.0, -1.0), (0.0, 0.2, 2.5)):
        expected = _reference_nll(mu, {"jes": jes, "lumi": lumi}, processes, weight)
        assert likelihood.nll(mu, [jes, lumi]) == pytest.approx(expected, rel=1e-10, abs=1e-9), (mu, jes, lumi)
    # without the MC sample the shape is not renormalized
    plain = NSBILikelihood([Process("signal", 12.0, processes[0]["log_ratio"], processes[0]["shape"], signal=True)])
    del processes[0]["mc_shape"]
    expected = _reference_nll(0.7, {"jes": 0.5}, processes[:1], np.ones(n))
    assert plain.nll(0.7, [0.5]) == pytest.approx(expected, rel=1e-10)
    # a process defined through objects with log_ratio(X), on the events and on its MC sample
    X = rng.normal(size=(n, 2))
    mc = rng.normal(size=(n_mc, 2))

    class Linear:
        def __init__(self, slope):
            self.slope = slope

        def log_ratio(self, X):
            return self.slope * X[:, 0]

    process = Process.from_ratios("signal", 5.0, X, Linear(0.3), {"jes": (Linear(0.1), Linear(-0.2))}, {"jes": (1.1, 0.9)}, signal=True, mc=mc)
    np.testing.assert_allclose(process.log_ratio, 0.3 * X[:, 0])
    np.testing.assert_allclose(process.shape["jes"][1], -0.2 * X[:, 0])
    np.testing.assert_allclose(process.mc_shape["jes"][0], 0.1 * mc[:, 0])
    assert process.norm == {"jes": (1.1, 0.9)} and process.signal and process.mc_weight is None
    assert Process.from_ratios("b", 5.0, X, np.zeros(n)).mc_shape is None


def test_nsbi_fit_scan_and_interval_of_a_counting_experiment():
    """One signal process and no nuisance: mu-hat = n / nu, HESSE error sqrt(n) / nu, and
    -2 Delta lnL(mu) = 2 (nu (mu - mu-hat) - n log(mu / mu-hat)), whatever the per-event ratios."""
    from scipy.optimize import brentq

    n, nu = 40, 50.0
    log_ratio = np.random.default_rng(31).normal(0, 1, n)
    likelihood = NSBILikelihood([Process("signal", nu, log_ratio, signal=True)])
    best = likelihood.fit()
    assert best.valid and best.alpha == {}
    assert best.mu == pytest.approx(0.8, rel=1e-4)
    assert best.mu_error == pytest.approx(np.sqrt(n) / nu, rel=3e-3)
    assert best.nll == pytest.approx(0.8 * nu - np.sum(np.log(0.8 * nu * np.exp(log_ratio))), rel=1e-9)
    assert likelihood.profile(0.5)[0] == likelihood.nll(0.5) and likelihood.profile(0.5)[1].size == 0

    def q(mu):
        return 2 * (nu * (mu - 0.8) - n * np.log(mu / 0.8))

    (low, high), scan = profile_interval(likelihood)
    span = 4 * best.mu_error
    np.testing.assert_allclose(scan.mu, np.linspace(best.mu - span, best.mu + span, 25))
    np.testing.assert_allclose(scan.q, q(scan.mu), atol=1e-6)
    assert scan.alpha.shape == (25, 0) and scan.best is not None
    assert low == pytest.approx(brentq(lambda m: q(m) - 1, 0.3, 0.8), abs=2e-3)
    assert high == pytest.approx(brentq(lambda m: q(m) - 1, 0.8, 1.5), abs=2e-3)
    (low95, high95), scan95 = profile_interval(likelihood, 0.95, points=41)
    assert len(scan95.mu) == 41 and high95 == pytest.approx(brentq(lambda m: q(m) - 3.84, 0.8, 2.0), abs=2e-3)
    # a high level widens the scan beyond four errors: 1.5 sqrt(chi2 quantile) errors
    _, wide = profile_interval(likelihood, 0.9999, points=5)
    from scipy.stats import chi2

    assert wide.mu[-1] - best.mu == pytest.approx(1.5 * np.sqrt(chi2.ppf(0.9999, 1)) * best.mu_error, rel=1e-6)
    assert best.mu - wide.mu[0] == pytest.approx(wide.mu[-1] - best.mu, rel=1e-9)
    _, given = profile_interval(likelihood, span=0.5, points=3)
    np.testing.assert_allclose(given.mu, best.mu + np.array([-0.5, 0.0, 0.5]))
    _, clipped = profile_interval(likelihood, span=1.0, points=3)
    assert clipped.mu[0] == 0.0  # the lower limit of mu
    # without a lower limit the scan may go below zero, where the NLL refuses the point
    free = NSBILikelihood([Process("signal", nu, log_ratio, signal=True)], mu_limits=(None, None))
    assert free.nll(-0.1) == 1e30
    _, free_scan = profile_interval(free, span=1.0, points=3)
    assert free_scan.mu[0] == pytest.approx(best.mu - 1.0, rel=1e-4)
    # a deficit: mu-hat sits on the limit at 0
    with_background = NSBILikelihood([Process("signal", nu, log_ratio, signal=True), Process("background", 200.0, log_ratio)])
    assert with_background.fit().mu == pytest.approx(0.0, abs=1e-3)


def test_interval_of_a_gaussian_scan_is_exact():
    mu = np.linspace(0.0, 2.0, 11)
    best = Fit(1.0, 0.2, {}, 0.0, True)
    scan = ProfileScan(mu, ((mu - 1.0) / 0.2) ** 2, np.zeros((11, 0)), best)
    assert interval(scan) == pytest.approx((0.8, 1.2), abs=1e-12)
    assert interval(scan, 0.95) == pytest.approx((1 - 0.2 * np.sqrt(3.84), 1 + 0.2 * np.sqrt(3.84)), abs=1e-12)
    from scipy.stats import chi2

    half = 0.2 * np.sqrt(chi2.ppf(0.9, 1))
    assert interval(scan, 0.9) == pytest.approx((1 - half, 1 + half), abs=1e-12)
    # a minimum between two scan points, and scan values slightly negative (MIGRAD's tolerance)
    shifted = ProfileScan(mu, np.maximum(((mu - 1.05) / 0.2) ** 2 - 1e-9, -1e-9), np.zeros((11, 0)), Fit(1.05, 0.2, {}, 0.0, True))
    assert interval(shifted) == pytest.approx((0.85, 1.25), abs=1e-6)
    with pytest.raises(IntervalNotFound, match=r"does not reach -2 Delta lnL = 1 above mu = 1"):
        interval(ProfileScan(mu[:7], ((mu[:7] - 1.0) / 0.5) ** 2, np.zeros((7, 0)), best))  # 0.16 at its last point, 1.2
    # a lower bound inside the scan that is not its first point is no reason to stop
    assert interval(scan, 0.68, lower_bound=0.5) == pytest.approx((0.8, 1.2), abs=1e-12)


def test_nsbi_likelihood_refuses_inconsistent_processes():
    ok = np.zeros(5)
    with pytest.raises(InvalidInput, match="no processes"):
        NSBILikelihood([])
    with pytest.raises(InvalidInput, match="process b: yields and norm factors must be positive"):
        NSBILikelihood([Process("b", 0.0, ok)])
    with pytest.raises(InvalidInput, match="process b: yields and norm factors must be positive"):
        NSBILikelihood([Process("b", 10.0, ok, norm={"lumi": (1.1, 0.0)})])
    with pytest.raises(InvalidInput, match=r"process b: mc_shape needs the nuisances of shape, \['jes'\]"):
        NSBILikelihood([Process("b", 10.0, ok, shape={"jes": (ok, ok)}, mc_shape={"jer": (ok, ok)})])
    with pytest.raises(InvalidInput, match="process b: mc_shape needs finite arrays of one shape"):
        NSBILikelihood([Process("b", 10.0, ok, shape={"jes": (ok, ok)}, mc_shape={"jes": (np.zeros(3), np.zeros(4))})])
    with pytest.raises(InvalidInput, match="process b: mc_shape needs finite arrays"):
        NSBILikelihood([Process("b", 10.0, ok, shape={"jes": (ok, ok)}, mc_shape={"jes": (np.zeros(3), np.array([0.0, np.nan, 0.0]))})])
    with pytest.raises(InvalidInput, match="b mc_weight"):
        NSBILikelihood([Process("b", 10.0, ok, shape={"jes": (ok, ok)}, mc_shape={"jes": (np.zeros(3), np.zeros(3))}, mc_weight=np.ones(4))])
    with pytest.raises(InvalidInput, match="data weights"):
        NSBILikelihood([Process("b", 10.0, ok)], weight=np.ones(4))
    with pytest.raises(InvalidInput, match=r"process b: every per-event array needs shape \(5,\)"):
        NSBILikelihood([Process("s", 1.0, ok, signal=True), Process("b", 10.0, np.zeros(4))])
    with pytest.raises(InvalidInput, match="process b: NaN or infinite"):
        NSBILikelihood([Process("b", 10.0, ok, shape={"jes": (ok, np.full(5, np.inf))})])
    # an MC sample without shape nuisances is not needed and not checked
    assert NSBILikelihood([Process("b", 10.0, ok, mc_shape={"jes": (np.zeros(3), np.zeros(4))})]).nll(1.0) == pytest.approx(10.0 - 5 * np.log(10.0))


class _SigmoidClassifier:
    """Stands in for MLPClassifier / PFNClassifier in DensityRatio: records what it is given and
    predicts sigmoid(first feature), so that the log-ratio of DensityRatio is that feature."""

    made = []

    def __init__(self, **kwargs):
        self.kwargs, self.parts = kwargs, None
        _SigmoidClassifier.made.append(self)

    def fit(self, train, val, progress=False):
        self.parts = (train, val)
        return self

    def _x(self, data):
        X = data["X"] if "X" in data else data["constituents"].sum(axis=1)
        return X[:, 0]

    def predict(self, data):
        return 1 / (1 + np.exp(-self._x(data)))

    def predict_members(self, data):
        return np.stack([self.predict(data), 1 / (1 + np.exp(-2 * self._x(data)))])


@pytest.fixture
def sigmoid_classifier(monkeypatch):
    from mlhep.ml import ratio as ratio_module

    _SigmoidClassifier.made = []
    monkeypatch.setattr(ratio_module, "MLPClassifier", _SigmoidClassifier)
    monkeypatch.setattr(ratio_module, "PFNClassifier", _SigmoidClassifier)
    return _SigmoidClassifier


def test_density_ratio_splits_balances_and_turns_scores_into_ratios(sigmoid_classifier):
    from mlhep import seeds
    from mlhep.ml.ratio import _split

    rng = np.random.default_rng(40)
    numerator, denominator = rng.normal(1, 1, (3000, 2)), rng.normal(0, 1, (1000, 2))
    w_den = rng.uniform(0.5, 1.5, 1000)
    ratio = DensityRatio(hidden=[8], ensemble=2, train={"epochs": 1}, seed=5).fit(numerator, denominator, denominator_weight=w_den)
    assert ratio.hidden == (8,) and ratio.train == TrainConfig(epochs=1)
    (classifier,) = sigmoid_classifier.made
    assert classifier.kwargs == {"train": TrainConfig(epochs=1), "ensemble": 2, "hidden": (8,)}
    train, val = classifier.parts
    # the held-out split of the "holdout" stream: 20 % validation, the rest trains
    masks = _split(4000, [0.2], seeds.generator("holdout", 5))
    assert masks[0].sum() + masks[1].sum() == 4000 and masks[1].mean() == pytest.approx(0.2, abs=0.02)
    X, y = np.concatenate([numerator, denominator]), np.r_[np.ones(3000), np.zeros(1000)]
    for part, mask in ((train, masks[0]), (val, masks[1])):
        np.testing.assert_array_equal(part["X"], X[mask])
        np.testing.assert_array_equal(part["y"], y[mask])
        assert np.array_equal(part["mass"], np.zeros(mask.sum()))
        # classes balanced: each sums to half the events of the part, in the denominator's own proportions
        for cls in (0, 1):
            assert part["w"][part["y"] == cls].sum() == pytest.approx(0.5 * mask.sum())
        den = part["y"] == 0
        np.testing.assert_allclose(part["w"][den] / part["w"][den].sum(), w_den[mask[3000:]] / w_den[mask[3000:]].sum())
    # s = sigmoid(x0): log r = x0 exactly, clipped at log((1 - clip) / clip)
    Z = np.array([[0.3, 9.0], [-2.0, 0.0], [40.0, 0.0], [-40.0, 0.0]])
    bound = np.log((1 - 1e-6) / 1e-6)
    np.testing.assert_allclose(ratio.log_ratio(Z), [0.3, -2.0, bound, -bound], rtol=1e-9)
    np.testing.assert_allclose(ratio.ratio(Z[:2]), np.exp([0.3, -2.0]), rtol=1e-12)
    s = 1 / (1 + np.exp(-Z[:2, 0]))
    np.testing.assert_allclose(ratio.log_mixture_ratios(Z[:2]), (np.log(2 * s), np.log(2 * (1 - s))), rtol=1e-12)
    np.testing.assert_allclose(ratio.member_ratios(Z[:2]), [np.exp([0.3, -2.0]), np.exp([0.6, -4.0])], rtol=1e-12)
    np.testing.assert_allclose(ratio.raw_score(Z[:2]), s)
    np.testing.assert_allclose(ratio.score(Z[2:]), [1 - 1e-6, 1e-6])
    predicted, observed = ratio.reliability(numerator[:100], denominator[:300], bins=5, calibrated=False)
    reference = reliability_curve(ratio.raw_score(np.r_[numerator[:100], denominator[:300]]), np.r_[np.ones(100), np.zeros(300)], balanced_weights(np.r_[np.ones(100), np.zeros(300)], np.ones(400)), 5)
    np.testing.assert_allclose(predicted, reference[0])
    np.testing.assert_allclose(observed, reference[1])


def test_density_ratio_reweighting_calibration_and_constituents(sigmoid_classifier):
    from mlhep.ml.ratio import fit_calibration

    rng = np.random.default_rng(41)
    X = rng.normal(0, 1, (2000, 1))
    w_num, w_den = rng.uniform(0, 2, 2000), rng.uniform(0.5, 1.5, 2000)
    # one sample under two weightings: soft labels w_num / (w_num + w_den), weights w_num + w_den, each weighting summing to n / 2
    ratio = DensityRatio(ensemble=1, validation_fraction=0.25, calibration="histogram", calibration_bins=4, calibration_fraction=0.25, seed=2).fit(X, None, w_num, w_den)
    train, val = sigmoid_classifier.made[0].parts
    a, b = w_num * 1000 / w_num.sum(), w_den * 1000 / w_den.sum()
    everything = {key: np.concatenate([train[key], val[key]]) for key in ("X", "y", "w")}
    assert len(train["y"]) + len(val["y"]) == pytest.approx(1500, abs=60) and len(val["y"]) == pytest.approx(500, abs=60)
    order = np.argsort(everything["X"][:, 0])
    kept = np.isin(X[:, 0], everything["X"][:, 0])
    reference = np.argsort(X[kept, 0])
    np.testing.assert_allclose(everything["w"][order], (a + b)[kept][reference])
    np.testing.assert_allclose(everything["y"][order], (a / (a + b))[kept][reference])
    # the calibration is fitted on the held-out rest: the events in neither part
    rest = ~kept
    labels, weights = (a / (a + b))[rest], (a + b)[rest]
    expected = fit_calibration(1 / (1 + np.exp(-X[rest, 0])), labels, weights, "histogram", 4)
    np.testing.assert_allclose(ratio.calibrator.x, expected.x)
    np.testing.assert_allclose(ratio.calibrator.y, expected.y)
    assert len(ratio.calibrator.x) == 4
    np.testing.assert_allclose(ratio.score(X[:5]), np.clip(expected(1 / (1 + np.exp(-X[:5, 0]))), 1e-6, 1 - 1e-6))
    # zero weights of both kinds give the neutral soft label
    zero = DensityRatio(ensemble=1).fit(X[:10], None, np.r_[0.0, np.ones(9)], np.r_[0.0, np.ones(9)])
    parts = sigmoid_classifier.made[-1].parts
    assert 0.5 in np.concatenate([parts[0]["y"], parts[1]["y"]]) and np.all(np.isfinite(np.concatenate([parts[0]["w"], parts[1]["w"]])))
    assert zero.calibrator is None
    # constituents go to the PFN classifier with its settings
    jets = rng.uniform(0, 1, (400, 5, 3))
    pfn = DensityRatio(ensemble=3, constituents={"max_particles": 5}).fit(jets[:200], jets[200:])
    assert sigmoid_classifier.made[-1].kwargs == {"train": TrainConfig(), "ensemble": 3, "max_particles": 5}
    assert "constituents" in sigmoid_classifier.made[-1].parts[0] and pfn.log_ratio(jets[:3]).shape == (3,)
    with pytest.raises(InvalidInput, match=r"numerator: expected a non-empty \(events, particles, features\) array, got shape \(200, 5\)"):
        pfn.fit(jets[:200, :, 0], jets[200:, :, 0])


def test_ratio_helpers_by_hand():
    from mlhep.checks import check_features, check_weights
    from mlhep.ml.ratio import MonotoneMap

    np.testing.assert_allclose(balanced_weights(np.array([1, 1, 0, 0, 0, 0]), np.array([1.0, 3.0, 1.0, 1.0, 1.0, 1.0])), [0.75, 2.25, 0.75, 0.75, 0.75, 0.75])
    assert check_features(np.arange(3.0)).shape == (3, 1)
    assert check_weights(None, 3).tolist() == [1.0, 1.0, 1.0]
    with pytest.raises(InvalidInput, match=r"X: expected a non-empty \(events, features\) array, got shape \(0, 2\)"):
        check_features(np.zeros((0, 2)))
    with pytest.raises(InvalidInput, match="X: 1 events with NaN or infinite features"):
        check_features(np.array([[0.0, np.inf], [1.0, 1.0]]))
    with pytest.raises(InvalidInput, match="expected a non-empty"):
        check_features(np.zeros((2, 2, 2)))
    with pytest.raises(InvalidInput, match="not all zero"):
        check_weights(np.zeros(3), 3)
    with pytest.raises(InvalidInput, match="must be finite"):
        check_weights(np.array([1.0, np.nan, 1.0]), 3)
    # isotonic: equal scores are one knot at their mean score, fractions made non-decreasing
    mapping = fit_calibration([0.1, 0.1, 0.4, 0.6, 0.9], [1, 0, 1, 0, 1], [1.0, 1.0, 2.0, 2.0, 1.0])
    np.testing.assert_allclose(mapping.x, [0.1, 0.4, 0.6, 0.9])
    np.testing.assert_allclose(mapping.y, [0.5, 0.5, 0.5, 1.0])
    assert mapping(0.0) == 0.5 and mapping(1.0) == 1.0 and mapping(0.75) == pytest.approx(0.75)
    # histogram: equally populated bins, knots at the bins' mean scores
    mapping = fit_calibration([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8], [0, 0, 1, 0, 1, 1, 0, 1], method="histogram", bins=2)
    np.testing.assert_allclose(mapping.x, [0.25, 0.65])
    np.testing.assert_allclose(mapping.y, [0.25, 0.75])
    restored = MonotoneMap.from_dict(mapping.to_dict())
    assert restored.x.dtype == np.float64 and restored(0.5) == mapping(0.5)
    with pytest.raises(InvalidConfig, match=r"calibration 'platt': choose from \('histogram', 'isotonic'\) or None"):
        fit_calibration([0.1], [1], method="platt")
    # reliability: equal-width bins, empty bins left out, the last edge in the last bin
    predicted, observed = reliability_curve([0.05, 0.15, 0.95, 1.0], [0, 1, 1, 0], bins=10)
    np.testing.assert_allclose(predicted, [0.05, 0.15, 0.975])
    np.testing.assert_allclose(observed, [0.0, 1.0, 0.5])
    for clip in (0.0, 0.5):
        with pytest.raises(InvalidConfig, match=f"clip {clip}: must lie in"):
            DensityRatio(clip=clip)
    with pytest.raises(InvalidInput, match="too few events: a split of the samples holds only one class"):
        DensityRatio(ensemble=1, validation_fraction=0.001).fit(np.zeros((3, 1)), np.zeros((1, 1)))
    with pytest.raises(MlhepError, match="call fit"):
        DensityRatio().member_ratios(np.zeros((2, 1)))


# --- issue 26: the profile over nuisance parameters, interval edge cases, the code-4 system ---


def test_code4_system_is_the_value_and_two_derivatives_at_plus_and_minus_one():
    """The 6 x 6 system of code 4, written out: rows alpha^i, i alpha^(i-1), i (i-1) alpha^(i-2)
    for i = 1..6 at alpha = +1, then -1; its inverse is the one the interpolation uses. At
    alpha = +-1 exactly the factor is up or down as the exponential gives it. A scalar up keeps a
    scalar result, an array its shape."""
    from mlhep.nsbi import likelihood

    i = np.arange(1, 7)
    expected = [np.ones(6), i, i * (i - 1), (-1.0) ** i, i * (-1.0) ** (i - 1), i * (i - 1) * (-1.0) ** i]
    np.testing.assert_array_equal(likelihood._code4_matrix(), expected)
    np.testing.assert_allclose(likelihood._CODE4_INVERSE @ np.array(expected), np.eye(6), atol=1e-12)
    # at the knots the factor is the exponential branch itself, not the polynomial's rounding of it
    up, down = np.random.default_rng(41).uniform(0.7, 1.4, (2, 50))
    np.testing.assert_array_equal(interpolate(1.0, up, down), np.exp(np.log(up)))
    np.testing.assert_array_equal(interpolate(-1.0, up, down), np.exp(np.log(down)))
    assert np.shape(interpolate(0.5, 1.2, 0.9)) == () and interpolate(0.5, np.full(3, 1.2), np.full(3, 0.9)).shape == (3,)


def _profile_case():
    rng = np.random.default_rng(40)
    n = 60
    processes = [
        {"name": "signal", "expected": 15.0, "signal": True, "log_ratio": rng.normal(0.3, 0.5, n), "shape": {"jes": (rng.normal(0.1, 0.05, n), rng.normal(-0.1, 0.05, n))}},
        {"name": "background", "expected": 50.0, "signal": False, "log_ratio": rng.normal(0, 0.5, n), "norm": {"lumi": (1.2, 0.8)}},
    ]
    weight = rng.uniform(0.5, 1.5, n)
    likelihood = NSBILikelihood([Process(p["name"], p["expected"], p["log_ratio"], p.get("shape", {}), p.get("norm", {}), p["signal"]) for p in processes], weight)
    return likelihood, processes, weight


def test_profile_minimizes_the_nuisances_at_fixed_mu():
    """profile(mu) is the minimum over (jes, lumi) of the NLL at that mu: checked against scipy's
    minimizer on the NLL written out with pyhf's code 4, also from a start away from zero; the
    profiled alpha is returned in the order of likelihood.nuisances."""
    from scipy.optimize import minimize

    likelihood, processes, weight = _profile_case()
    for mu, start in ((0.6, None), (1.8, [0.5, -0.5])):
        reference = minimize(lambda a, mu=mu: _reference_nll(mu, {"jes": a[0], "lumi": a[1]}, processes, weight), [0.0, 0.0], method="Nelder-Mead", options={"xatol": 1e-7, "fatol": 1e-10})
        value, alpha = likelihood.profile(mu, start)
        assert value == pytest.approx(reference.fun, abs=3e-5)  # MIGRAD stops within its tolerance
        np.testing.assert_allclose(alpha, reference.x, atol=5e-3)
    assert likelihood.profile(0.6)[0] < likelihood.nll(0.6, [0.0, 0.0]) - 1e-3  # the nuisances moved
    assert likelihood.profile(0.6)[0] > likelihood.fit().nll + 1e-3  # mu stayed fixed


def test_profile_scan_refits_only_without_a_best_fit():
    """Without ``best`` the scan fits the global minimum itself; a given ``best`` is used as it
    is: a best NLL 0.5 below every point shifts -2 Delta lnL by 2 x 0.5 + 2 x (the lowest point
    minus the fit)."""
    likelihood, _, _ = _profile_case()
    best = likelihood.fit()
    scan = likelihood.profile_scan([0.5, 1.0, 1.5])
    assert scan.best.nll == pytest.approx(best.nll, abs=1e-9) and scan.best.mu == pytest.approx(best.mu, abs=1e-6)
    values = np.array([likelihood.profile(mu)[0] for mu in (0.5, 1.0, 1.5)])
    np.testing.assert_allclose(scan.q, 2 * (values - best.nll), atol=2e-4)  # MIGRAD tolerance
    low = Fit(best.mu, best.mu_error, best.alpha, best.nll - 0.5, True)
    shifted = likelihood.profile_scan([0.5, 1.0, 1.5], low)
    assert shifted.best is low
    np.testing.assert_allclose(shifted.q, 2 * (values - best.nll) + 1.0, atol=2e-4)
    assert shifted.alpha.shape == (3, 2)


def test_nll_of_densities_below_one_and_process_constructors():
    """The NLL refuses only non-positive densities: a yield of 0.5 and ratios 1 give densities
    0.5 per event, NLL = 0.5 - 3 log 0.5. Process.from_ratios takes an array of log-ratios, keeps
    its name, yield and MC weights, and makes a background by default."""
    likelihood = NSBILikelihood([Process("b", 0.5, np.zeros(3))])
    assert likelihood.nll(1.0) == pytest.approx(0.5 - 3 * np.log(0.5), rel=1e-12)
    mc_weight = np.array([1.0, 2.0])
    process = Process.from_ratios("top", 7.5, np.zeros((3, 1)), [0.1, 0.2, 0.3], mc_weight=mc_weight)
    assert (process.name, process.expected, process.signal, process.mc_weight is mc_weight) == ("top", 7.5, False, True)
    np.testing.assert_array_equal(process.log_ratio, [0.1, 0.2, 0.3])
    with pytest.raises(InvalidInput, match="^no processes$"):
        NSBILikelihood([])
    with pytest.raises(InvalidInput, match=r"^data weights: expected shape \(3,\)"):
        NSBILikelihood([Process("b", 0.5, np.zeros(3))], weight=np.ones(2))


def test_interval_edges_hand_computed():
    """Signed roots t = (-3, -0.5, 0, 2, 4) at mu = 0..4: the 68 % crossings interpolate between
    the last point inside and the first outside, 1 - 0.5 / 2.5 = 0.8 and 2 + 1 / 2 = 2.5; a point
    exactly on the threshold is the end; a minimum at the bound with the next point outside gives
    (bound, interpolated upper end); the messages name the side and the threshold of the level."""
    mu = np.arange(5.0)
    best = Fit(2.0, 0.5, {}, 0.0, True)
    scan = ProfileScan(mu, np.array([9.0, 0.25, 0.0, 4.0, 16.0]), np.zeros((5, 0)), best)
    assert interval(scan) == pytest.approx((0.8, 2.5), abs=1e-12)
    exact = ProfileScan(np.array([-1.0, 0.0, 1.0]), np.array([1.0, 0.0, 1.0]), np.zeros((3, 0)), Fit(0.0, 1.0, {}, 0.0, True))
    assert interval(exact) == (-1.0, 1.0)
    at_bound = ProfileScan(np.array([0.0, 1.0, 2.0]), np.array([0.0, 4.0, 16.0]), np.zeros((3, 0)), Fit(0.0, 0.5, {}, 0.0, True))
    assert interval(at_bound, lower_bound=0.0) == pytest.approx((0.0, 0.5), abs=1e-12)
    with pytest.raises(IntervalNotFound, match=r"^the profile scan does not reach -2 Delta lnL = 3.84 above mu = 2; widen it$"):
        interval(ProfileScan(mu[:4], np.array([9.0, 1.0, 0.0, 1.0]), np.zeros((4, 0)), best), 0.95)
    with pytest.raises(IntervalNotFound, match=r"^the profile scan does not reach -2 Delta lnL = 1 below mu = 2; widen it$"):
        interval(ProfileScan(mu[1:], np.array([0.25, 0.0, 4.0, 16.0]), np.zeros((4, 0)), best))


def test_profile_interval_of_a_deficit_starts_at_zero():
    """A signal of 10 on a background of 100 with 100 observed events and equal shapes is a
    counting experiment with mu-hat = 0 on its limit: -2 Delta lnL = 2 (10 mu - 100 log(1 + mu / 10)),
    so the 68 % interval is [0, root of q = 1] (linear interpolation in the signed root)."""
    from scipy.optimize import brentq

    likelihood = NSBILikelihood([Process("signal", 10.0, np.zeros(100), signal=True), Process("background", 100.0, np.zeros(100))])
    (low, high), scan = profile_interval(likelihood, points=41)
    assert low == 0.0 and scan.mu[0] == 0.0
    assert high == pytest.approx(brentq(lambda m: 2 * (10 * m - 100 * np.log1p(m / 10)) - 1, 0.1, 5.0), rel=2e-3)


def test_fits_and_scans_start_where_they_are_told():
    """MIGRAD starts from the given alpha (fit, profile), and each scan point from the alpha
    profiled at the previous point, the first from the best fit's: recorded at the minimizer."""
    likelihood, _, _ = _profile_case()
    starts = []
    make = likelihood._minuit
    likelihood._minuit = lambda mu, alpha, fix_mu: starts.append(np.array(alpha, dtype=float)) or make(mu, alpha, fix_mu)
    likelihood.fit(1.0, [0.3, -0.2])
    likelihood.profile(1.0, [0.4, 0.1])
    np.testing.assert_array_equal(starts, [[0.3, -0.2], [0.4, 0.1]])
    best = Fit(1.0, 0.3, {"jes": 0.25, "lumi": -0.5}, 0.0, True)
    starts.clear()
    scan = likelihood.profile_scan([0.8, 1.2], best)
    np.testing.assert_array_equal(starts, [[0.25, -0.5], scan.alpha[0]])


def test_ratio_inputs_calibration_and_reliability_edges_by_hand():
    """The checks and maps of ml.ratio at their edges, each against the case worked out by hand."""
    from mlhep.checks import check_features, check_weights

    np.testing.assert_allclose(balanced_weights(np.array([1, 1, 0, 0]), np.array([1, 3, 1, 1])), [0.5, 1.5, 1.0, 1.0])  # integer weights
    assert check_features([[1, 2], [3, 4]]).dtype == np.float64 and check_weights([1, 2], 2).dtype == np.float64
    with pytest.raises(InvalidInput, match=r"^X: 2 events with NaN or infinite features$"):
        check_features(np.array([[0.0, np.inf], [1.0, 1.0], [np.nan, np.nan]]))
    with pytest.raises(InvalidInput, match=r"^weights: expected shape \(3,\), one weight per event, got \(2,\)$"):
        check_weights([1.0, 1.0], 3)
    with pytest.raises(InvalidInput, match=r"^weights: weights must be finite, non-negative and not all zero$"):
        check_weights([1.0, -1.0, 1.0], 3)
    assert check_weights([0.25, 0.25, 0.0], 3).sum() == 0.5  # a total below one event is fine
    # isotonic: weighted fractions per distinct score, one knot each (50 scores, 50 knots)
    mapping = fit_calibration([0.2, 0.2, 0.8], [1, 0, 1], [3.0, 1.0, 1.0])
    np.testing.assert_allclose(mapping.x, [0.2, 0.8])
    np.testing.assert_allclose(mapping.y, [0.75, 1.0])
    scores = np.linspace(0.01, 0.99, 50)
    assert len(fit_calibration(scores, scores > 0.5).x) == 50
    assert len(fit_calibration(np.linspace(0.0, 1.0, 100), np.arange(100) % 2, method="histogram").x) == 20  # 20 bins by default
    # histogram: an event on a bin edge belongs to the bin above it
    mapping = fit_calibration([0.1, 0.2, 0.3, 0.4, 0.5], [0, 0, 1, 1, 1], method="histogram", bins=2)
    np.testing.assert_allclose(mapping.x, [0.15, 0.4])
    np.testing.assert_allclose(mapping.y, [0.0, 1.0])
    # an event without weight makes no knot
    np.testing.assert_allclose(fit_calibration([0.1, 0.5, 0.9], [0, 1, 1], [1.0, 0.0, 1.0]).x, [0.1, 0.9])
    # histogram: bins that violate the order pool with their weights, (2 x 1 + 4 x 0) / 6
    mapping = fit_calibration([0.1, 0.2, 0.3, 0.4], [1, 1, 0, 0], [1.0, 1.0, 1.0, 3.0], method="histogram", bins=2)
    np.testing.assert_allclose(mapping.y, [1 / 3, 1 / 3])
    # reliability: ten bins by default (0.095 shares the first bin with 0.01), weights count,
    # the top bins may be empty
    predicted, observed = reliability_curve([0.01, 0.095, 0.85, 0.95], [0, 1, 1, 0], [1.0, 3.0, 3.0, 1.0])
    np.testing.assert_allclose(predicted, [(0.01 + 3 * 0.095) / 4, 0.85, 0.95])
    np.testing.assert_allclose(observed, [0.75, 1.0, 0.0])
    predicted, observed = reliability_curve([0.05, 0.15, 0.25], [0, 1, 1], [1.0, 1.0, 3.0], bins=4)
    np.testing.assert_allclose(predicted, [0.1, 0.25])
    np.testing.assert_allclose(observed, [0.5, 1.0])
    # a split without one of the two classes is refused, with either class missing
    ratio = DensityRatio(ensemble=1)
    for labels in (np.ones(3), np.zeros(3)):
        with pytest.raises(InvalidInput, match=r"^too few events: a split of the samples holds only one class$"):
            ratio._data(np.zeros((3, 1)), labels, np.ones(3), soft=False)
    assert ratio._data(np.zeros((2, 1)), np.array([1.0, 0.0]), np.ones(2), soft=False)["w"].tolist() == [1.0, 1.0]
    for method in (ratio.raw_score, ratio.member_ratios):
        with pytest.raises(MlhepError, match=r"^DensityRatio: call fit \(or load\) first$"):
            method(np.zeros((2, 1)))


def test_density_ratio_messages_save_load_and_reliability(tmp_path, capfd):
    """A tiny trained ratio: the names in its input errors, its round trip through save and
    load (calibrated or not, on features or constituents), and its reliability curves."""
    from mlhep.ml.models import MLPClassifier, PFNClassifier
    from mlhep.ml.ratio import MonotoneMap

    rng = np.random.default_rng(3)
    numerator, denominator = rng.normal(0.5, 1.0, (300, 2)), rng.normal(-0.5, 1.0, (300, 2))
    train = TrainConfig(epochs=2, batch_size=64, early_stopping=False)
    good = np.zeros((10, 2))
    with_nan = good.copy()
    with_nan[3, 1] = np.nan
    ratio = DensityRatio(hidden=(4,), ensemble=1, train=train, calibration="isotonic")
    with pytest.raises(InvalidInput, match=r"^denominator: 1 events with NaN or infinite features$"):
        ratio.fit(good, with_nan)
    with pytest.raises(InvalidInput, match=r"^numerator has features of shape \(2,\), denominator \(3,\)$"):
        ratio.fit(good, np.zeros((10, 3)))
    with pytest.raises(InvalidInput, match=r"^numerator_weight: expected shape \(10,\)"):
        ratio.fit(good, good, numerator_weight=np.ones(9))
    with pytest.raises(InvalidInput, match=r"^denominator_weight: expected shape \(10,\)"):
        ratio.fit(good, good, denominator_weight=np.ones(9))
    with pytest.raises(InvalidInput, match=r"^denominator_weight: expected shape \(10,\)"):
        ratio.fit(good, None, denominator_weight=np.ones(9))  # a reweighting of one sample
    capfd.readouterr()
    ratio.fit(numerator, denominator)
    assert capfd.readouterr().err == ""  # no progress bars unless asked
    assert ratio.calibrator.y.max() > 0.5 > ratio.calibrator.y.min()  # fitted on the held-out labels
    with pytest.raises(InvalidInput, match=r"^X: 1 events with NaN or infinite features$"):
        ratio.raw_score(with_nan)
    with pytest.raises(InvalidInput, match=r"^numerator: 1 events"):
        ratio.reliability(with_nan, good)
    with pytest.raises(InvalidInput, match=r"^denominator: 1 events"):
        ratio.reliability(good, with_nan)
    labels = np.r_[np.ones(300), np.zeros(300)]
    both, balanced = np.r_[numerator, denominator], balanced_weights(labels, np.ones(600))
    for calibrated, score in ((True, ratio.score(both)), (False, ratio.raw_score(both))):
        curve = ratio.reliability(numerator, denominator, calibrated=calibrated) if not calibrated else ratio.reliability(numerator, denominator)
        for mine, reference in zip(curve, reliability_curve(score, labels, balanced, 10)):
            np.testing.assert_array_equal(mine, reference)
    ratio.save(str(tmp_path / "calibrated"))
    loaded = DensityRatio.load(str(tmp_path / "calibrated"))
    assert type(loaded.classifier) is MLPClassifier and isinstance(loaded.calibrator, MonotoneMap)
    assert (loaded.hidden, loaded.calibration, loaded.train) == ((4,), "isotonic", train)
    np.testing.assert_array_equal(loaded.calibrator.x, ratio.calibrator.x)
    np.testing.assert_array_equal(loaded.log_ratio(numerator), ratio.log_ratio(numerator))
    plain = DensityRatio(hidden=(4,), ensemble=1, train=train).fit(numerator, denominator, progress=True)
    assert capfd.readouterr().err != ""  # asked for: the progress bars
    plain.save(tmp_path / "plain")
    assert DensityRatio.load(tmp_path / "plain").calibrator is None
    particles = np.abs(rng.normal(0.0, 1.0, (200, 4, 3)))
    pfn = DensityRatio(ensemble=1, train=train, constituents={"phi": [4], "f": [4], "energy_flow": False, "max_particles": 4})
    pfn.fit(particles[:100], particles[100:] * 0.5).save(tmp_path / "pfn")
    loaded = DensityRatio.load(tmp_path / "pfn")
    assert type(loaded.classifier) is PFNClassifier
    np.testing.assert_array_equal(loaded.log_ratio(particles[:20]), pfn.log_ratio(particles[:20]))
