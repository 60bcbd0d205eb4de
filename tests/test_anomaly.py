"""Anomaly detection: the conditional flow against a known conditional Gaussian, the logit scaling
and its Jacobian, save/load, SIC curves, bad input."""

import numpy as np
import pytest

from mlhep.anomaly import ConditionalFlow, LogitScaler, max_sic, sic_curve
from mlhep.errors import InvalidInput
from mlhep.ml.metrics import rejection
from mlhep.ml.training import TrainConfig

pytestmark = pytest.mark.usefixtures("one_torch_thread")

COV = np.array([[1.0, 0.5 * 1.0 * 0.5], [0.5 * 1.0 * 0.5, 0.25]])  # sigmas 1 and 0.5, correlation 0.5
GAP_TOLERANCE = 0.05  # nats per event


def _draw(n, seed):
    """x ~ N((c, -c/2), COV) given c ~ U(1, 3)."""
    rng = np.random.default_rng(seed)
    c = rng.uniform(1.0, 3.0, n)
    return np.stack([c, -c / 2], axis=1) + rng.multivariate_normal([0.0, 0.0], COV, n), c


def _true_log_prob(x, c):
    d = x - np.stack([c, -c / 2], axis=1)
    return -0.5 * np.einsum("ni,ij,nj->n", d, np.linalg.inv(COV), d) - 0.5 * np.log(np.linalg.det(2 * np.pi * COV))


@pytest.fixture(scope="module")
def flow():
    """A small flow trained for several seconds; margin 0.2 so that the Gaussian tails of held-out
    events stay inside the model's support."""
    x, c = _draw(20000, seed=1)
    train = TrainConfig(epochs=60, batch_size=512, learning_rate=1e-3, patience=15)
    return ConditionalFlow(transforms=2, hidden=(32, 32), margin=0.2, train=train).fit(x, c)


def test_flow_learns_conditional_gaussian(flow):
    x, c = _draw(20000, seed=2)
    model = flow.log_prob(x, c)
    inside = np.isfinite(model)
    assert inside.mean() > 0.999
    gap = _true_log_prob(x, c)[inside].mean() - model[inside].mean()
    assert abs(gap) < GAP_TOLERANCE, f"log-likelihood gap {gap:.4f} nats per event"


def test_flow_samples_match_truth(flow):
    samples = flow.sample(np.full(20000, 2.0), seed=3)
    assert samples.shape == (20000, 2)
    # a mean shift of delta sigma costs only delta^2 / 2 nats, so the likelihood pins the
    # conditional mean loosely: over six training seeds it came out 0.02-0.09 sigma high
    np.testing.assert_allclose(samples.mean(axis=0), [2.0, -1.0], atol=0.1)
    np.testing.assert_allclose(np.cov(samples.T), COV, atol=0.05)
    np.testing.assert_array_equal(flow.sample(np.full(100, 2.0), seed=3), flow.sample(np.full(100, 2.0), seed=3))


def test_log_prob_includes_jacobian(flow):
    """exp(log p(x | c)) integrates to 1 over the support in the original space; without the
    scaler's Jacobian it would not."""
    lo, hi = flow.scaler.lo, flow.scaler.hi
    edges = [np.linspace(lo[j], hi[j], 401) for j in range(2)]
    centres = [0.5 * (e[1:] + e[:-1]) for e in edges]
    grid = np.stack([g.ravel() for g in np.meshgrid(*centres, indexing="ij")], axis=1)
    cell = np.prod([e[1] - e[0] for e in edges])
    log_p = flow.log_prob(grid, np.full(len(grid), 2.0))
    assert np.exp(log_p).sum() * cell == pytest.approx(1.0, abs=0.02)
    without = log_p - flow.scaler.log_abs_det_jacobian(grid)
    assert abs(np.exp(without).sum() * cell - 1.0) > 0.2  # 0.67 here
    outside = flow.log_prob([[hi[0] + 1.0, -1.0], [2.0, lo[1] - 1.0]], [2.0, 2.0])
    assert np.all(outside == -np.inf)


def test_save_load_reproduces(flow, tmp_path):
    flow.save(tmp_path / "flow")
    loaded = ConditionalFlow.load(tmp_path / "flow")
    x, c = _draw(500, seed=4)
    np.testing.assert_array_equal(loaded.log_prob(x, c), flow.log_prob(x, c))
    np.testing.assert_array_equal(loaded.sample(c, seed=5), flow.sample(c, seed=5))
    assert loaded.train == flow.train and loaded.hidden == flow.hidden


def test_logit_scaler_round_trip_edges_and_jacobian():
    rng = np.random.default_rng(0)
    X = np.stack([rng.exponential(50.0, 1000), rng.uniform(0.0, 1.0, 1000), rng.normal(0, 3, 1000)], axis=1)
    scaler = LogitScaler().fit(X)
    Z = scaler.transform(X)
    np.testing.assert_allclose(Z.mean(axis=0), 0.0, atol=1e-9)
    np.testing.assert_allclose(Z.std(axis=0), 1.0, atol=1e-9)
    np.testing.assert_allclose(scaler.inverse_transform(Z), X, rtol=1e-9, atol=1e-9)
    extremes = np.stack([X.min(axis=0), X.max(axis=0), X.min(axis=0) - 1e6, X.max(axis=0) + 1e6])
    assert np.all(np.isfinite(scaler.transform(extremes)))
    assert np.all(np.isfinite(scaler.log_abs_det_jacobian(extremes)))
    # the full Jacobian matrix by central differences, at events inside the range
    h = 1e-5
    for x in X[:20]:
        columns = [(scaler.transform((x + h * e)[None]) - scaler.transform((x - h * e)[None]))[0] / (2 * h) for e in np.eye(3)]
        expected = np.linalg.slogdet(np.array(columns).T)[1]
        assert scaler.log_abs_det_jacobian(x[None])[0] == pytest.approx(expected, abs=1e-5)
    restored = LogitScaler.from_dict(scaler.to_dict())
    np.testing.assert_array_equal(restored.transform(X), Z)


def test_sic_hand_computed():
    labels = [1, 0, 1, 0, 1, 0, 1, 0]
    scores = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2]
    # cuts after 2..8 events: eps_s 1/4, 2/4, 2/4, 3/4, 3/4, 1, 1; eps_b 1/4, 1/4, 2/4, 2/4, 3/4, 3/4, 1
    eps_s, sic = sic_curve(labels, scores)
    np.testing.assert_allclose(eps_s, [0.25, 0.5, 0.5, 0.75, 0.75, 1.0, 1.0])
    np.testing.assert_allclose(sic, [0.5, 1.0, 0.5 / np.sqrt(0.5), 0.75 / np.sqrt(0.5), 0.75 / np.sqrt(0.75), 1 / np.sqrt(0.75), 1.0])
    assert max_sic(labels, scores) == pytest.approx(1 / np.sqrt(0.75))
    assert len(sic_curve(labels, scores, eps_b_floor=0.3)[1]) == 5  # eps_b = 1/4 excluded
    assert np.isnan(max_sic(labels, scores, eps_b_floor=1.0))
    assert rejection(labels, scores, signal_efficiency=0.5) == pytest.approx(4.0)  # score >= 0.7: 2 of 4 signal, 1 of 4 background
    # ties form one threshold; weights count
    assert sic_curve([1, 0, 1, 0], [1.0, 1.0, 0.0, 0.0])[1] == pytest.approx([0.5 / np.sqrt(0.5), 1.0])  # not 1 / sqrt(0.5)
    np.testing.assert_allclose(sic_curve(labels, scores, weights=[1, 3, 1, 1, 1, 1, 1, 1])[1][0], 0.25 / np.sqrt(0.5))


def test_sic_perfect_classifier():
    labels = np.r_[np.ones(50), np.zeros(100)]
    scores = np.r_[np.linspace(2, 3, 50), np.linspace(0, 1, 100)]
    eps_s, sic = sic_curve(labels, scores)
    eps_b = np.arange(1, 101) / 100  # every kept cut keeps all the signal
    np.testing.assert_allclose(eps_s, 1.0)
    np.testing.assert_allclose(sic, 1 / np.sqrt(eps_b))
    assert max_sic(labels, scores) == pytest.approx(10.0)
    assert max_sic(labels, scores, eps_b_floor=0.05) == pytest.approx(1 / np.sqrt(0.06))
    assert rejection(labels, scores) == np.inf


def test_bad_input(flow):
    x, c = _draw(100, seed=6)
    nan = x.copy()
    nan[3, 1] = np.nan
    with pytest.raises(InvalidInput, match="NaN"):
        ConditionalFlow().fit(nan, c)
    with pytest.raises(InvalidInput, match="condition: 99 values for 100 events"):
        flow.log_prob(x, c[:-1])
    with pytest.raises(InvalidInput, match="condition: 1 NaN"):
        flow.sample(np.r_[c[:5], np.nan])
    with pytest.raises(InvalidInput, match="3 features, the scaler was fitted on 2"):
        flow.log_prob(np.c_[x, x[:, 0]], c)
    with pytest.raises(InvalidInput, match="NaN"):
        LogitScaler().fit(nan)
    with pytest.raises(InvalidInput, match="labels"):
        sic_curve([1, 0, 1], [0.1, 0.2])
    with pytest.raises(InvalidInput, match="no background"):
        sic_curve([1, 1], [0.1, 0.2])
    with pytest.raises(InvalidInput, match="scores: 1 NaN"):
        max_sic([1, 0], [0.1, np.nan])


def test_sic_floor_is_exclusive_and_weights_count():
    labels = [1, 0, 1, 0, 1, 0, 1, 0]
    scores = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2]
    eps_s, sic = sic_curve(labels, scores, eps_b_floor=0.25)  # eps_b = 1/4 is not above the floor
    np.testing.assert_allclose(eps_s, [0.5, 0.75, 0.75, 1.0, 1.0])
    assert max_sic(labels, scores, eps_b_floor=0.25) == pytest.approx(1 / np.sqrt(0.75))
    # the default floor keeps every cut of a sample of eight jets
    assert len(sic_curve(labels, scores)[1]) == 7
    weights = [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 9.0]  # the last background jet weighs 3/4 of the background
    assert max_sic(labels, scores, weights=weights) == pytest.approx(1 / np.sqrt(3 / 12))  # the cut above the heavy jet
