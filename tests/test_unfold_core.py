"""The unfolding core without training: OmniFold with an exact binned density ratio is IBU
(arXiv:1911.09107, Sec. 3), IBU's response and iterations on hand-sized examples, and the
figures of merit. Fast tests that pin the numbers the mutation tests of issue 26 probe."""

import importlib
from types import SimpleNamespace

import numpy as np
import pytest

from mlhep import seeds
from mlhep.errors import EmptySelection, InvalidConfig, InvalidInput
from mlhep.ml.training import TrainConfig
from mlhep.unfold import bootstrap_weights, ibu, ibu_bootstrap, normalized_histogram, omnifold, response_matrix, triangular_discriminator

omnifold_module = importlib.import_module("mlhep.unfold.omnifold")  # the package exports the function of that name

EDGES = np.linspace(-3.0, 3.0, 13)


class BinnedRatio:
    """Stands in for mlhep.ml.ratio.DensityRatio: the exact class-balanced ratio
    p_num / p_den of the first feature (of the first particle, for constituents) on the bins
    EDGES, from the weighted counts. With it, OmniFold's two steps are the two halves of an IBU
    iteration."""

    made = []

    def __init__(self, *, hidden, ensemble, train, clip, seed, constituents):
        BinnedRatio.made.append({"hidden": hidden, "ensemble": ensemble, "train_seed": train.seed, "seed": seed, "clip": clip, "epochs": train.epochs, "constituents": constituents})
        self.ensemble = ensemble

    def fit(self, numerator, reference, w_numerator, w_reference, progress=False):
        BinnedRatio.made[-1]["progress"] = progress
        x = _first(numerator)
        num = np.histogram(x, EDGES, weights=w_numerator)[0]
        den = np.histogram(x if reference is None else _first(reference), EDGES, weights=w_reference)[0]
        self.table = np.divide(num / num.sum(), den / den.sum(), out=np.zeros(len(num)), where=den > 0)
        self.classifier = SimpleNamespace(history=[{"epochs": 0}])
        return self

    def ratio(self, X):
        return self.table[np.searchsorted(EDGES, _first(X), side="right") - 1]

    def member_ratios(self, X):
        return np.repeat(self.ratio(X)[None], self.ensemble, axis=0)


def _first(X):
    return X.reshape(len(X), -1)[:, 0]


@pytest.fixture
def binned(monkeypatch):
    BinnedRatio.made = []
    monkeypatch.setattr(omnifold_module, "DensityRatio", BinnedRatio)
    return BinnedRatio


def _toy(rng, n, mean, sigma, efficiency=False, fakes=0.0):
    """Truth N(mean, sigma), reco = truth + N(0, 0.6), both inside EDGES; with ``efficiency`` an
    event passes reco with probability 0.55 + 0.35 tanh(truth); ``fakes`` x n reco-only events."""
    truth = np.clip(rng.normal(mean, sigma, n), -2.99, 2.99)
    reco = np.clip(truth + rng.normal(0, 0.6, n), -2.99, 2.99)
    pass_reco = rng.random(n) < 0.55 + 0.35 * np.tanh(truth) if efficiency else np.ones(n, bool)
    n_fakes = int(fakes * n)
    return {
        "truth": np.concatenate([truth, np.full(n_fakes, np.nan)]),
        "reco": np.concatenate([np.where(pass_reco, reco, np.nan), rng.uniform(-2.99, 2.99, n_fakes)]),
        "pass_reco": np.concatenate([pass_reco, np.ones(n_fakes, bool)]),
        "pass_truth": np.concatenate([np.ones(n, bool), np.zeros(n_fakes, bool)]),
    }


def _shape(counts):
    return counts / counts.sum()


@pytest.mark.parametrize("iterations", [1, 3])
def test_omnifold_with_an_exact_binned_ratio_is_ibu(binned, iterations):
    """Without fakes, binned OmniFold's truth spectrum after n iterations is IBU's after n
    iterations, bin for bin, with an efficiency, generator weights and data weights."""
    rng = np.random.default_rng(21)
    sim, data = _toy(rng, 6000, 0.0, 1.0, efficiency=True), _toy(rng, 3000, 0.4, 0.8, efficiency=True)
    generator = rng.uniform(0.5, 1.5, len(sim["truth"]))
    observed = data["reco"][data["pass_reco"]]
    data_weights = rng.poisson(1.0, len(observed)).astype(float)
    train = TrainConfig(epochs=1)
    result = omnifold(sim["reco"], sim["truth"], observed, sim_weights=generator, data_weights=data_weights,
                      pass_reco=sim["pass_reco"], pass_truth=sim["pass_truth"], iterations=iterations, hidden=(5,), train=train, ensemble=2, seed=9)
    response = response_matrix(sim["reco"], sim["truth"], sim["pass_reco"], sim["pass_truth"], EDGES, weights=generator)
    reference = ibu(np.histogram(observed, EDGES, weights=data_weights)[0], response, iterations=iterations, fakes="fraction")
    unfolded = np.histogram(sim["truth"], EDGES, weights=generator * result.weights)[0]
    np.testing.assert_allclose(_shape(unfolded), _shape(reference), rtol=1e-9, atol=1e-12)
    # and it moved: the prior is far from the answer
    assert triangular_discriminator(response.truth, reference) > 10
    # the bookkeeping: histories, members, seeds of every network
    assert result.push_history.shape == result.pull_history.shape == (iterations, len(sim["truth"]))
    np.testing.assert_array_equal(result.push_history[-1], result.weights)
    np.testing.assert_array_equal(result.pull_history[-1], result.step1_weights)
    np.testing.assert_allclose(result.member_weights, np.repeat(result.weights[None], 2, axis=0), rtol=1e-12)
    assert len(result.seconds_per_iteration) == iterations and all(s >= 0 for s in result.seconds_per_iteration)
    assert [sorted(h) for h in result.histories] == [["step1", "step2"]] * iterations
    expected_seeds = [seeds.integer("training", 9, n, step) for n in range(iterations) for step in (1, 2)]
    assert [m["seed"] for m in binned.made] == [m["train_seed"] for m in binned.made] == expected_seeds
    assert all(m["hidden"] == (5,) and m["ensemble"] == 2 and m["clip"] == omnifold_module.CLIP for m in binned.made)
    # an event that fails reco keeps its push weight in the pull step
    failed = ~sim["pass_reco"]
    previous = result.push_history[-2] if iterations > 1 else np.ones(len(failed))
    np.testing.assert_array_equal(result.step1_weights[failed], previous[failed])


def test_binned_omnifold_with_fakes_is_ibu_on_the_simulated_purity_in_its_first_iteration(binned):
    """Fakes keep push weight 1; in the first iteration the pull step scales every reco bin by
    data / simulation, fakes included: IBU with the data scaled by the simulated purity."""
    rng = np.random.default_rng(22)
    sim, data = _toy(rng, 6000, 0.0, 1.0, efficiency=True, fakes=0.15), _toy(rng, 3000, 0.3, 0.9, efficiency=True, fakes=0.15)
    observed = data["reco"][data["pass_reco"]]
    result = omnifold(sim["reco"], sim["truth"], observed, pass_reco=sim["pass_reco"], pass_truth=sim["pass_truth"], iterations=1)
    response = response_matrix(sim["reco"], sim["truth"], sim["pass_reco"], sim["pass_truth"], EDGES)
    reference = ibu(np.histogram(observed, EDGES)[0], response, iterations=1, fakes="fraction")
    unfolded = np.histogram(sim["truth"], EDGES, weights=result.weights)[0]
    np.testing.assert_allclose(_shape(unfolded), _shape(reference), rtol=1e-9, atol=1e-12)
    fakes = ~sim["pass_truth"]
    assert np.all(result.weights[fakes] == 1.0)
    assert not np.allclose(result.step1_weights[fakes], 1.0)  # their pull weights follow the data


def test_omnifold_refuses_empty_or_inconsistent_inputs(binned):
    x = np.linspace(-1, 1, 50)
    with pytest.raises(EmptySelection, match="no data events"):
        omnifold(x, x, x, data_weights=np.zeros(50))
    with pytest.raises(EmptySelection, match="passes both pass_truth and pass_reco"):
        omnifold(x, x, x, pass_reco=np.arange(50) < 25, pass_truth=np.arange(50) >= 25)
    with pytest.raises(EmptySelection, match="passes pass_truth"):
        omnifold(x, x, x, pass_truth=np.zeros(50, bool))
    with pytest.raises(InvalidConfig, match="need iterations >= 1 and ensemble >= 1, got 0 and 1"):
        omnifold(x, x, x, iterations=0)
    with pytest.raises(InvalidConfig, match="got 4 and 0"):
        omnifold(x, x, x, ensemble=0)
    with pytest.raises(InvalidInput, match=r"sim_weights must be finite with shape \(50,\)"):
        omnifold(x, x, x, sim_weights=np.ones(49))
    with pytest.raises(InvalidInput, match="sim_weights must be finite"):
        omnifold(x, x, x, sim_weights=np.full(50, np.nan))
    with pytest.raises(InvalidInput, match=r"sim_truth has non-finite features in 1 of 50 selected rows \(mark them failing with pass_truth\)"):
        omnifold(x, np.where(np.arange(50) == 3, np.nan, x), x)
    with pytest.raises(EmptySelection, match="non-positive sum of weights"):
        omnifold(x, x, x, sim_weights=np.zeros(50))
    assert binned.made == []  # nothing was trained on bad input
    # NaN rows that fail their level are fine, and a failing reco row keeps its push weight
    result = omnifold(np.where(np.arange(50) < 5, np.nan, x), x, x, pass_reco=np.arange(50) >= 5, iterations=1)
    assert np.all(np.isfinite(result.weights)) and np.all(result.step1_weights[:5] == 1.0)


def test_omnifold_messages_defaults_and_small_weights_by_hand(binned):
    """Each input error names its argument; the defaults (seed 0, no progress bars, the default
    training) reach every network; weights summing to less than one event, a single data event
    and a single iteration are fine."""
    x = np.linspace(-1, 1, 20)
    cube, flat = np.zeros((20, 4, 3)), np.zeros((20, 2))
    particles = {"phi": [4], "f": [4], "energy_flow": False, "max_particles": 4}
    refusals = [
        ({"sim_reco": np.zeros((20, 2, 3))}, r"sim_reco must be \(events, features\), got shape \(20, 2, 3\)"),
        ({"sim_reco": np.zeros((20, 0))}, r"sim_reco must be \(events, features\), got shape \(20, 0\)"),
        ({"sim_reco": cube, "sim_truth": cube, "data_reco": flat, "constituents": particles}, r"data_reco must be \(events, particles, features\), got shape \(20, 2\)"),
        ({"sim_reco": cube, "sim_truth": flat, "data_reco": cube, "constituents": particles}, r"sim_truth must be \(events, particles, features\), got shape \(20, 2\)"),
        ({"pass_reco": np.ones(20)}, r"pass_reco must be a boolean array of shape \(20,\), got float64 \(20,\)"),
        ({"data_weights": np.ones(19)}, r"data_weights must be finite with shape \(20,\), got shape \(19,\)"),
        ({"data_weights": np.zeros(20)}, r"no data events \(or zero total data weight\)"),
        ({"sim_reco": np.where(np.arange(20) == 3, np.nan, x)}, r"sim_reco has non-finite features in 1 of 20 selected rows \(mark them failing with pass_reco\)"),
        ({"data_reco": np.where(np.arange(20) == 3, np.nan, x)}, r"data_reco has non-finite features in 1 of 20 selected rows"),
        ({"pass_reco": np.arange(20) < 10, "pass_truth": np.arange(20) >= 10}, r"no simulated event passes both pass_truth and pass_reco"),
        ({"sim_weights": np.zeros(20)}, r"a class has no events or a non-positive sum of weights"),
    ]
    for changes, message in refusals:
        arguments = {"sim_reco": x, "sim_truth": x, "data_reco": x, **changes}
        with pytest.raises((InvalidConfig, InvalidInput, EmptySelection), match=f"^omnifold: {message}$"):
            omnifold(arguments.pop("sim_reco"), arguments.pop("sim_truth"), arguments.pop("data_reco"), **arguments)
    assert binned.made == []
    result = omnifold(x, x, x, iterations=1)
    assert [(m["seed"], m["progress"], m["epochs"], m["constituents"]) for m in binned.made] == [
        (seeds.integer("training", 0, 0, step), False, TrainConfig().epochs, None) for step in (1, 2)
    ]
    assert 0 <= result.seconds_per_iteration[0] < 60
    np.testing.assert_allclose(omnifold_module.ensemble_weights(result, 1), result.weights, rtol=1e-9)  # one iteration: from unit weights
    binned.made.clear()
    small = omnifold(x, x, x[:1], sim_weights=np.full(20, 0.01), data_weights=[0.3], iterations=1, train=TrainConfig(epochs=3), progress=True)
    assert np.all(np.isfinite(small.weights)) and [(m["progress"], m["epochs"]) for m in binned.made] == [(True, 3), (True, 3)]
    binned.made.clear()
    jets = np.broadcast_to(x[:, None, None], (20, 4, 3))
    assert np.all(np.isfinite(omnifold(jets, jets, jets, constituents=particles, iterations=1).weights))
    assert [m["constituents"] for m in binned.made] == [particles, particles]  # the network settings reach both steps


def test_response_of_a_hand_made_sample():
    """Five events by hand: an event outside the edges fails its level, a NaN fails, fakes
    pass reco only; efficiency, fake fraction and smearing follow."""
    edges = [0.0, 1.0, 2.0]
    reco = np.array([0.5, 1.5, 1.5, 0.5, 5.0, 0.2])
    truth = np.array([0.5, 0.5, 1.5, np.nan, 1.5, -1.0])
    pass_reco = np.array([True, True, True, True, True, True])
    pass_truth = np.array([True, True, True, False, True, True])
    weights = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    response = response_matrix(reco, truth, pass_reco, pass_truth, edges, weights=weights)
    np.testing.assert_array_equal(response.migration, [[1.0, 0.0], [2.0, 3.0]])
    np.testing.assert_array_equal(response.truth, [3.0, 8.0])  # the reco 5.0 event is undetected
    np.testing.assert_array_equal(response.reco, [11.0, 5.0])
    np.testing.assert_array_equal(response.fakes, [10.0, 0.0])  # NaN truth and truth outside the edges
    np.testing.assert_allclose(response.efficiency, [1.0, 3.0 / 8.0])
    np.testing.assert_allclose(response.fake_fraction, [10.0 / 11.0, 0.0])
    np.testing.assert_allclose(response.smearing, [[1 / 3, 0.0], [2 / 3, 3 / 8]])
    # the last edge is exclusive, the first inclusive; separate truth edges
    response = response_matrix([0.0, 2.0], [0.0, 0.0], [True, True], [True, True], edges, truth_bins=[0.0, 3.0])
    assert response.migration.shape == (2, 1) and response.reco.tolist() == [1.0, 0.0] and response.fakes.tolist() == [0.0, 0.0]
    for bad in ([0.0], [0.0, 0.0], [[0.0, 1.0]]):
        with pytest.raises(InvalidConfig, match="bins must be at least two increasing edges"):
            response_matrix(reco, truth, pass_reco, pass_truth, bad)
    with pytest.raises(InvalidConfig, match="truth_bins must be"):
        response_matrix(reco, truth, pass_reco, pass_truth, edges, truth_bins=[1.0, 0.0])
    with pytest.raises(EmptySelection, match="no simulated event passes reco"):
        response_matrix(reco, truth, np.zeros(6, bool), pass_truth, edges)
    with pytest.raises(EmptySelection, match="no simulated event passes reco"):
        response_matrix(reco, truth, pass_reco, np.zeros(6, bool), edges)
    with pytest.raises(InvalidInput, match=r"pass_truth has shape \(5,\)"):
        response_matrix(reco, truth, pass_reco, pass_truth[:5], edges)


def _two_by_two():
    """A 2 x 2 response: 100 true events per bin, of which 70 + 10 (bin 0) and 10 + 50 (bin 1)
    are reconstructed in bins 0 + 1 (efficiencies 80 % and 60 %), and 20 + 10 fakes."""
    reco = np.r_[np.full(70, 0.5), np.full(10, 1.5), np.full(20, np.nan), np.full(10, 0.5), np.full(50, 1.5), np.full(40, np.nan), np.full(20, 0.5), np.full(10, 1.5)]
    truth = np.r_[np.full(100, 0.5), np.full(100, 1.5), np.full(30, np.nan)]
    return response_matrix(reco, truth, np.isfinite(reco), np.isfinite(truth), [0.0, 1.0, 2.0])


def test_ibu_by_hand_on_a_two_by_two_response():
    response = _two_by_two()
    np.testing.assert_allclose(response.efficiency, [0.8, 0.6])
    np.testing.assert_allclose(response.fakes, [20.0, 10.0])
    data = np.array([120.0, 90.0])
    smearing = np.array([[0.7, 0.1], [0.1, 0.5]])
    # fakes="fraction", one iteration, D'Agostini's formula written out
    prior = np.array([100.0, 100.0])
    signal = data * (1 - response.fakes / response.reco)
    posterior = smearing * prior / (smearing @ prior)[:, None]
    expected = posterior.T @ signal / np.array([0.8, 0.6])
    np.testing.assert_allclose(ibu(data, response, 1, fakes="fraction"), expected, rtol=1e-12)
    # fakes="rate": the prior scaled to the data, then the expected fakes subtracted
    fakes_per_event = response.fakes / 200.0
    scaled = prior * data.sum() / (smearing @ prior + fakes_per_event * 200.0).sum()
    signal = np.clip(data - fakes_per_event * scaled.sum(), 0, None)
    posterior = smearing * scaled / (smearing @ scaled)[:, None]
    np.testing.assert_allclose(ibu(data, response, 1), posterior.T @ signal / np.array([0.8, 0.6]), rtol=1e-12)
    # a prior's normalization does not matter, its shape does
    np.testing.assert_allclose(ibu(data, response, 2, prior=[1.0, 3.0]), ibu(data, response, 2, prior=[10.0, 30.0]), rtol=1e-12)
    np.testing.assert_allclose(ibu(data, response, 2, prior=[1.0, 3.0], fakes="fraction"), ibu(data, response, 2, prior=[2.0, 6.0], fakes="fraction"), rtol=1e-12)
    assert not np.allclose(ibu(data, response, 1, prior=[1.0, 3.0]), ibu(data, response, 1))
    # many iterations converge to the inverse of the folding: fold(unfolded) + fakes = data
    converged = ibu(data, response, 2000)
    np.testing.assert_allclose(smearing @ converged + fakes_per_event * converged.sum(), data, rtol=1e-6)
    # data exactly below the expected fakes: nothing left to unfold in that bin
    assert ibu(np.array([0.0, 90.0]), response, 1)[0] < ibu(np.array([60.0, 90.0]), response, 1)[0]
    for kwargs, message in (
        ({"iterations": 0}, "iterations >= 1, got 0"),
        ({"fakes": "ratio"}, "fakes must be 'rate' or 'fraction'"),
        ({"prior": [1.0, -1.0]}, "prior must be non-negative"),
        ({"prior": [0.0, 0.0]}, "not all zero"),
        ({"prior": [1.0, 1.0, 1.0]}, "with 2 truth bins"),
    ):
        with pytest.raises(InvalidConfig, match=message):
            ibu(data, response, **kwargs)


def test_ibu_bootstrap_unfolds_each_poisson_replica():
    response = _two_by_two()
    rng = np.random.default_rng(5)
    observed = np.r_[rng.uniform(0, 1, 120), rng.uniform(1, 2, 90), [5.0]]  # one event outside the edges
    weights = rng.uniform(0.5, 2.0, len(observed))
    replicas = ibu_bootstrap(observed, response, data_weights=weights, replicas=4, seed=3, iterations=2)
    draws = bootstrap_weights(len(observed), 4, 3)
    for replica, draw in zip(replicas, draws):
        expected = ibu(np.histogram(observed, [0.0, 1.0, 2.0], weights=weights * draw)[0], response, 2)
        np.testing.assert_allclose(replica, expected, rtol=1e-12)
    assert replicas.shape == (4, 2) and not np.allclose(replicas[0], replicas[1])
    fraction = ibu_bootstrap(observed, response, replicas=2, seed=3, iterations=1, prior=[1.0, 2.0], fakes="fraction")
    expected = ibu(np.histogram(observed, [0.0, 1.0, 2.0], weights=bootstrap_weights(len(observed), 2, 3)[1])[0], response, 1, [1.0, 2.0], "fraction")
    np.testing.assert_allclose(fraction[1], expected, rtol=1e-12)
    with pytest.raises(InvalidInput, match=r"\(3,\) data_weights for \(211,\) events"):
        ibu_bootstrap(observed, response, data_weights=np.ones(3))


def test_figures_of_merit_by_hand():
    # p = (0.2, 0.8, 0), q = (0.5, 0.25, 0.25): 1/2 (0.09 / 0.7 + 0.3025 / 1.05 + 0.0625 / 0.25) 1e3
    expected = 0.5 * (0.09 / 0.7 + 0.3025 / 1.05 + 0.0625 / 0.25) * 1e3
    assert triangular_discriminator([1.0, 4.0, 0.0], [2.0, 1.0, 1.0]) == pytest.approx(expected, rel=1e-12)
    assert triangular_discriminator([2.0, 1.0, 1.0], [1.0, 4.0, 0.0]) == pytest.approx(expected, rel=1e-12)  # symmetric
    for bad in ([-1.0, 2.0], [np.inf, 1.0], [np.nan, 1.0]):
        with pytest.raises(InvalidInput, match="^triangular_discriminator: histograms must be finite and non-negative$"):
            triangular_discriminator(bad, [1.0, 1.0])
        with pytest.raises(InvalidInput, match="finite and non-negative"):
            triangular_discriminator([1.0, 1.0], bad)
    for empty in (([1.0, 2.0], [0.0, 0.0]), ([0.0, 0.0], [1.0, 2.0])):
        with pytest.raises(EmptySelection, match="^triangular_discriminator: an empty histogram has no shape to compare$"):
            triangular_discriminator(*empty)
    with pytest.raises(InvalidInput, match=r"^triangular_discriminator: histograms of different shapes \(2,\) and \(3,\)$"):
        triangular_discriminator([1.0, 2.0], [1.0, 2.0, 3.0])
    np.testing.assert_allclose(normalized_histogram([0.5, 1.5, 1.5, 2.5, np.nan], [0, 1, 2], weights=[3.0, 1.0, 0.5, 9.0, 1.0]), [3.0 / 4.5, 1.5 / 4.5])
    np.testing.assert_allclose(normalized_histogram([0.5, 1.5], [0, 1, 2], weights=[0.1, 0.3]), [0.25, 0.75])  # a total below one event
    with pytest.raises(EmptySelection, match=r"no weight inside the edges \[0, 2\]"):
        normalized_histogram([5.0, 7.0], [0, 1, 2])
    with pytest.raises(InvalidInput, match=r"\(2,\) weights for \(3,\) values"):
        normalized_histogram([0.5, 1.5, 1.5], [0, 1, 2], weights=[1.0, 1.0])
    # Poisson(1) draws of the "bootstrap" stream: seeded, independent between replicas and seeds
    draws = bootstrap_weights(4000, 3, seed=2)
    np.testing.assert_array_equal(draws, seeds.generator("bootstrap", 2).poisson(1.0, size=(3, 4000)).astype(float))
    assert draws.dtype == np.float64 and not np.array_equal(draws, bootstrap_weights(4000, 3, seed=3))
    assert bootstrap_weights(1, 1).shape == (1, 1)
    np.testing.assert_array_equal(bootstrap_weights(20, 2), seeds.generator("bootstrap", 0).poisson(1.0, size=(2, 20)))  # seed 0 by default
    for n, replicas in ((0, 1), (1, 0)):
        with pytest.raises(InvalidConfig, match=f"n={n}, replicas={replicas}"):
            bootstrap_weights(n, replicas)


def test_ibu_closed_form_oracles_are_both_there():
    """test_unfold's loop over the oracle's checks would pass on an empty dict: both are present."""
    from mlhep.bench.oracles import ibu_two_bins

    checks = ibu_two_bins()
    assert set(checks) == {"ibu_converged", "ibu_one_iteration"}
    assert all(check["pass"] and check["abs_diff"] <= check["tolerance"] for check in checks.values())


# --- issue 26: the noise floors and the classifier two-sample test against references ---


def _delta_by_hand(p, q):
    """Delta = 1/2 sum (p - q)^2 / (p + q) x 1e3 of two unit-sum histograms, written out here."""
    p, q = p / p.sum(), q / q.sum()
    filled = p + q > 0
    return 0.5 * np.sum((p[filled] - q[filled]) ** 2 / (p + q)[filled]) * 1e3


def test_discriminator_floor_is_the_mean_half_split_delta_of_the_toys_stream():
    """The floor is the mean of Delta(A, B) / 2 over random halves A, B of n events, drawn as
    permutation(n) < n // 2 from the "toys" stream (seed, "halves", split): recomputed here with
    numpy histograms and Delta by hand. An odd n = 7 puts 3 events in A and 4 in B; each split
    draws a new half; seed 0 and 10 splits are the defaults; n >= 2 and splits >= 1 are enforced."""
    from mlhep.unfold.metrics import discriminator_floor

    values = np.array([0.1, 0.7, 1.2, 1.9, 0.4, 1.5, 0.2, 1.8, 0.9, 1.1, 0.3])
    bins = [0.0, 1.0, 2.0]

    def by_hand(n, seed, splits):
        halves = [seeds.generator("toys", seed, "halves", split).permutation(n) < n // 2 for split in range(splits)]
        return np.mean([_delta_by_hand(np.histogram(values[:n][h], bins)[0], np.histogram(values[:n][~h], bins)[0]) / 2 for h in halves])

    masks = []

    def histogram(mask):
        masks.append(mask)
        return np.histogram(values[:7][mask], bins)[0].astype(float)

    assert discriminator_floor(histogram, 7, seed=3, splits=4) == pytest.approx(by_hand(7, 3, 4), rel=1e-12)
    assert [int(m.sum()) for m in masks[::2]] == [3] * 4 and all(not np.array_equal(masks[0], m) for m in masks[2::2])
    np.testing.assert_array_equal(masks[1], ~masks[0])
    assert discriminator_floor(lambda m: np.histogram(values[m], bins)[0], 11) == pytest.approx(by_hand(11, 0, 10), rel=1e-12)
    assert discriminator_floor(lambda m: np.histogram(values[:2][m], bins)[0], 2, seed=1, splits=1) == pytest.approx(by_hand(2, 1, 1), rel=1e-12)
    for n, splits in ((1, 10), (2, 0), (1, 0)):
        with pytest.raises(InvalidConfig, match=rf"^discriminator_floor: need n >= 2 and splits >= 1, got n={n}, splits={splits}$"):
            discriminator_floor(histogram, n, splits=splits)


def test_2d_histogram_weights_and_refusals():
    """Unequal weights enter the 2D histogram (3 and 1 in two cells: 3/4, 1/4); a total below one
    event still normalizes; a pair with one NaN coordinate is dropped; no weight inside the edges
    and mismatched shapes are refused with messages naming the function."""
    from mlhep.unfold.metrics import normalized_histogram2d

    edges = np.array([0.0, 1.0, 2.0])
    np.testing.assert_allclose(normalized_histogram2d([0.5, 1.5, 0.5], [0.5, 0.5, np.nan], edges, edges, weights=[3.0, 1.0, 7.0]), [[0.75, 0.0], [0.25, 0.0]])
    np.testing.assert_allclose(normalized_histogram2d([0.5, 1.5], [1.5, 1.5], edges, edges, weights=[0.1, 0.3]), [[0.0, 0.25], [0.0, 0.75]])
    with pytest.raises(EmptySelection, match="^normalized_histogram2d: no weight inside the edges$"):
        normalized_histogram2d([5.0], [0.5], edges, edges)
    with pytest.raises(InvalidInput, match=r"^normalized_histogram2d: x \(2,\), y \(2,\) and weights \(1,\) differ$"):
        normalized_histogram2d([0.5, 1.5], [0.5, 1.5], edges, edges, weights=[1.0])


def _two_sample_auc_by_hand(first, second, first_weights, second_weights, seed, folds):
    """The documented protocol written out with xgboost and sklearn: classes balanced to n / 2
    each, k folds and 20 % early-stopping events from the "holdout" stream (seed, "two_sample"),
    a booster of TWO_SAMPLE_BOOSTER's depth, rate and rounds per fold, the held-out events scored
    by its margin at the best iteration, the weighted AUC (sklearn) averaged over the folds."""
    import xgboost
    from sklearn.metrics import roc_auc_score

    X, y = np.concatenate([first, second]), np.concatenate([np.ones(len(first)), np.zeros(len(second))])
    w = np.concatenate([first_weights / first_weights.sum(), second_weights / second_weights.sum()]) * len(y) / 2
    rng = seeds.generator("holdout", seed, "two_sample")
    fold, stop = rng.integers(folds, size=len(y)), rng.random(len(y)) < 0.2
    params = {"objective": "binary:logistic", "eval_metric": "logloss", "max_depth": 3, "eta": 0.1}
    aucs = []
    for k in range(folds):
        fit, val = (fold != k) & ~stop, (fold != k) & stop
        booster = xgboost.train(params, xgboost.DMatrix(X[fit], label=y[fit], weight=w[fit]), 400, evals=[(xgboost.DMatrix(X[val], label=y[val], weight=w[val]), "v")], early_stopping_rounds=20, verbose_eval=False)
        margin = booster.predict(xgboost.DMatrix(X[fold == k]), iteration_range=(0, booster.best_iteration + 1), output_margin=True)
        aucs.append(roc_auc_score(y[fold == k], margin, sample_weight=w[fold == k]))
    return float(np.mean(aucs))


def test_two_sample_auc_is_the_documented_protocol_and_prints_nothing(capfd):
    """two_sample_auc against the protocol written out with xgboost and sklearn (seed 0 and 2
    folds by default), on shifted 2D Gaussians with unequal weights; the balanced class weights
    are n / 2 per class; training prints nothing."""
    from mlhep.unfold.metrics import _balanced, two_sample_auc

    np.testing.assert_allclose(_balanced(np.array([1.0, 3.0]), np.array([2.0, 2.0, 2.0, 2.0])), [0.75, 2.25, 0.75, 0.75, 0.75, 0.75])
    rng = np.random.default_rng(5)
    first, second = rng.normal(0.4, 1, (150, 2)), rng.normal(0, 1, (120, 2))
    wf, ws = rng.uniform(0.2, 2.0, 150), rng.uniform(0.2, 2.0, 120)
    assert two_sample_auc(first, second, wf, ws) == pytest.approx(_two_sample_auc_by_hand(first, second, wf, ws, 0, 2), rel=1e-9)
    assert two_sample_auc(first, second, seed=4, folds=3) == pytest.approx(_two_sample_auc_by_hand(first, second, np.ones(150), np.ones(120), 4, 3), rel=1e-9)
    assert capfd.readouterr().out == ""


def test_two_sample_auc_floor_is_the_mean_over_random_halves():
    """The AUC floor against its definition: the mean over the splits (2 by default, seed 0) of
    the two-sample AUC of the halves permutation(n) < n // 2 of the "toys" stream (seed, "halves",
    split), each with its own weights, the booster seeded by the "toys" integer (seed, "floor", split)."""
    from mlhep.unfold.metrics import two_sample_auc_floor

    rng = np.random.default_rng(6)
    values, weights = rng.normal(0, 1, (90, 1)), rng.uniform(0.1, 3.0, 90)

    def by_hand(seed, splits, w):
        aucs = []
        for split in range(splits):
            half = seeds.generator("toys", seed, "halves", split).permutation(90) < 45
            aucs.append(_two_sample_auc_by_hand(values[half], values[~half], w[half], w[~half], seeds.integer("toys", seed, "floor", split), 2))
        return np.mean(aucs)

    assert two_sample_auc_floor(values, weights) == pytest.approx(by_hand(0, 2, weights), rel=1e-9)
    assert two_sample_auc_floor(values, seed=2, splits=1) == pytest.approx(by_hand(2, 1, np.ones(90)), rel=1e-9)


def test_two_sample_auc_refuses_bad_samples_and_weights():
    """Shapes, NaN, too few events (5 per fold and sample: 10 for 2 folds is the smallest
    accepted; seed 2 leaves early-stopping events in both folds), and weights that are negative, infinite, all zero or of the wrong length are
    refused with messages naming the function; zero weights among others, and a total weight
    below one, are accepted."""
    from mlhep.unfold.metrics import two_sample_auc

    rng = np.random.default_rng(7)
    a, b = rng.normal(0, 1, (30, 1)), rng.normal(0, 1, (30, 1))
    with pytest.raises(InvalidInput, match=r"^two_sample_auc: samples of shapes \(30,\) and \(30, 1\); expected \(n, d\) of one d$"):
        two_sample_auc(a[:, 0], b)
    with pytest.raises(InvalidInput, match="^two_sample_auc: the samples hold NaN or infinite values$"):
        two_sample_auc(a, np.full((30, 1), np.inf))
    with pytest.raises(InvalidConfig, match="^two_sample_auc: need folds >= 2 and at least 10 events per sample, got 2 folds, 9 and 30 events$"):
        two_sample_auc(a[:9], b)
    with pytest.raises(InvalidConfig, match="at least 5 events per sample, got 1 folds, 30 and 30 events"):
        two_sample_auc(a, b, folds=1)
    assert two_sample_auc(a[:10], b[:10], seed=2) == pytest.approx(_two_sample_auc_by_hand(a[:10], b[:10], np.ones(10), np.ones(10), 2, 2), rel=1e-9)
    message = "^two_sample_auc: weights must be finite, non-negative, not all zero, one per event$"
    for bad in (np.r_[-1.0, np.ones(29)], np.r_[np.inf, np.ones(29)], np.zeros(30), np.ones(29)):
        with pytest.raises(InvalidInput, match=message):
            two_sample_auc(a, b, bad)
        with pytest.raises(InvalidInput, match=message):
            two_sample_auc(a, b, None, bad)
    assert two_sample_auc(a, b, np.r_[0.0, np.ones(29)], np.full(30, 0.01)) == pytest.approx(_two_sample_auc_by_hand(a, b, np.r_[0.0, np.ones(29)], np.full(30, 0.01), 0, 2), rel=1e-9)


def _ibu_by_hand(data, smearing, efficiency, fakes_per_event, prior, iterations):
    """D'Agostini's iteration with the fakes as a rate, written out per bin with Python loops."""
    n_reco, n_truth = len(data), len(prior)
    estimate = [float(p) for p in prior]
    folded = [sum(smearing[r][t] * estimate[t] for t in range(n_truth)) + fakes_per_event[r] * sum(estimate) for r in range(n_reco)]
    estimate = [e * sum(data) / sum(folded) for e in estimate]
    for _ in range(iterations):
        signal = [max(data[r] - fakes_per_event[r] * sum(estimate), 0.0) for r in range(n_reco)]
        new = []
        for t in range(n_truth):
            total = 0.0
            for r in range(n_reco):
                norm = sum(smearing[r][u] * estimate[u] for u in range(n_truth))
                total += smearing[r][t] * estimate[t] / norm * signal[r] if norm > 0 else 0.0
            new.append(total / efficiency[t] if efficiency[t] > 0 else 0.0)
        estimate = new
    return np.array(estimate)


def test_ibu_defaults_small_counts_and_fakes_above_the_data_by_hand():
    """Four iterations by default; a data bin below its expected fakes (2 < 20 x 210 / 200)
    leaves no signal (clipped at 0, not at one event); counts below one event, an integer prior
    and a prior with an empty bin or a total below one are unfolded like any other."""
    response = _two_by_two()
    smearing, efficiency, fakes_per_event = [[0.7, 0.1], [0.1, 0.5]], [0.8, 0.6], [0.1, 0.05]
    data = np.array([2.0, 88.0])
    np.testing.assert_allclose(ibu(data, response), _ibu_by_hand(data, smearing, efficiency, fakes_per_event, [100, 100], 4), rtol=1e-12)
    small = np.array([0.6, 0.7])
    np.testing.assert_allclose(ibu(small, response, 2, prior=[0.2, 0.3]), _ibu_by_hand(small, smearing, efficiency, fakes_per_event, [0.2, 0.3], 2), rtol=1e-12)
    np.testing.assert_allclose(ibu(data, response, 3, prior=[1, 2]), _ibu_by_hand(data, smearing, efficiency, fakes_per_event, [1, 2], 3), rtol=1e-12)
    np.testing.assert_allclose(ibu(data, response, 1, prior=[0.0, 1.0]), _ibu_by_hand(data, smearing, efficiency, fakes_per_event, [0.0, 1.0], 1), rtol=1e-12)
    with pytest.raises(InvalidConfig, match=r"^ibu: prior must be non-negative, not all zero, with 2 truth bins$"):
        ibu(data, response, prior=[2.0, -1.0])
    with pytest.raises(InvalidInput, match=r"^ibu: data_hist has shape \(3,\), the response has 2 reco bins$"):
        ibu([1.0, 2.0, 3.0], response)


def test_a_truth_bin_without_reconstructed_events_has_zero_efficiency_and_stays_zero():
    """Truth bin 2 holds one event that is never reconstructed (efficiency 0 / 1 = 0) and a reco
    bin holds nothing (fake fraction 0 / 0 -> 0): the empty divisions give exactly 0, the unfolded
    bin is 0, and no division warning is raised. Integer 0/1 selections act as booleans; an event
    failing the truth selection is a fake even with a finite truth value inside the edges."""
    reco = np.array([0.5, 0.5, 1.5, np.nan, 0.5])
    truth = np.array([0.5, 1.5, 1.5, 2.5, 0.7])
    pass_reco, pass_truth = np.array([1, 1, 1, 0, 1]), np.array([1, 1, 1, 1, 0])
    edges = [0.0, 1.0, 2.0, 3.0]
    response = response_matrix(reco, truth, pass_reco, pass_truth, edges, truth_bins=[0.0, 1.0, 2.0, 3.0])
    np.testing.assert_array_equal(response.migration, [[1.0, 1.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 0.0]])
    np.testing.assert_array_equal(response.fakes, [1.0, 0.0, 0.0])
    np.testing.assert_array_equal(response.truth_bins, edges)
    with np.errstate(all="raise"):
        np.testing.assert_array_equal(response.efficiency, [1.0, 1.0, 0.0])
        np.testing.assert_allclose(response.fake_fraction, [1 / 3, 0.0, 0.0], rtol=1e-15)
        np.testing.assert_array_equal(response.smearing, [[1.0, 0.5, 0.0], [0.0, 0.5, 0.0], [0.0, 0.0, 0.0]])
        unfolded = ibu(np.array([4.0, 3.0, 0.0]), response, 2, fakes="fraction")
    assert unfolded[2] == 0.0 and np.all(np.isfinite(unfolded))
    for name, kwargs in (("sim_reco", {"sim_reco": np.zeros((5, 2))}), ("sim_truth", {"sim_truth": truth[:4]}), ("weights", {"weights": np.ones(4)}), ("pass_reco", {"pass_reco": pass_reco[:4]})):
        arguments = {"sim_reco": reco, "sim_truth": truth, "pass_reco": pass_reco, "pass_truth": pass_truth, "bins": edges} | kwargs
        with pytest.raises(InvalidInput, match=rf"^response_matrix: {name} has shape"):
            response_matrix(**arguments)
    with pytest.raises(EmptySelection, match=r"^response_matrix: no simulated event passes reco \(or truth\) inside the bin edges$"):
        response_matrix(reco, truth, np.zeros(5, bool), pass_truth, edges)


def test_ibu_bootstrap_defaults_are_100_replicas_of_seed_0_and_4_iterations():
    """Without arguments: 100 replicas, the Poisson(1) weights of the "bootstrap" stream of seed 0,
    four iterations; each row is the hand-written IBU of that replica's weighted histogram."""
    from mlhep.unfold import ibu_bootstrap

    response = _two_by_two()
    observed = np.r_[np.full(6, 0.5), np.full(5, 1.5)]
    replicas = ibu_bootstrap(observed, response)
    draws = seeds.generator("bootstrap", 0).poisson(1.0, size=(100, 11))
    assert replicas.shape == (100, 2)
    for row, draw in zip(replicas[::9], draws[::9]):
        data = np.histogram(observed, [0.0, 1.0, 2.0], weights=draw)[0]
        np.testing.assert_allclose(row, _ibu_by_hand(data, [[0.7, 0.1], [0.1, 0.5]], [0.8, 0.6], [0.1, 0.05], [100, 100], 4), rtol=1e-12)
