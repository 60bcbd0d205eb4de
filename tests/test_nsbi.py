"""NSBI: learned density ratios against the exact ones of a toy, calibration, code-4 interpolation,
the unbinned likelihood and its intervals, bad input."""

import numpy as np
import pytest

from mlhep.errors import InvalidConfig, InvalidInput, MlhepError
from mlhep.ml.ratio import DensityRatio, balanced_weights, fit_calibration, isotonic, plot_calibration, reliability_curve
from mlhep.ml.training import TrainConfig
from mlhep.nsbi import PROCESSES, Fit, GaussianOnExponential, IntervalNotFound, NSBILikelihood, Process, ProfileScan, interpolate, interval, profile_interval

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


def test_exact_likelihood_is_minimal_at_the_injected_mu():
    X, w = TOY.pseudo_data(mu=1.0, seed=5, asimov_events=ASIMOV_EVENTS)
    best = TOY.exact_likelihood(X, w, mc_events=N_MC).fit()
    assert best.valid
    assert best.mu == pytest.approx(1.0, abs=0.02)  # measured 0.995 (sigma_mu = 0.086)
    assert best.alpha["jes"] == pytest.approx(0.0, abs=0.1)  # measured 0.038
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
    # and the interval sits where the exact one does, to a fraction of its width
    assert (low + high) / 2 == pytest.approx((exact_low + exact_high) / 2, abs=0.15 * exact_width)
    assert scan.best.mu == pytest.approx(exact_scan.best.mu, abs=0.15 * exact_width)
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
    # without the renormalization of the interpolated shapes alpha_hat moved to ~0.2, mu_hat to ~0.98
    assert best.mu == pytest.approx(1.0, abs=0.03)  # measured 1.002
    assert best.alpha["jes"] == pytest.approx(0.0, abs=0.1)  # measured -0.011


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
    scan = likelihood.profile_scan(np.linspace(0.9, 1.6, 8))
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
