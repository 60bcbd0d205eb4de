"""Unfolding: the triangular discriminator, OmniFold and IBU on Gaussian toys with known answers, bad inputs."""

import awkward as ak
import numpy as np
import pytest

from mlhep.errors import BadInputFile, EmptySelection, InvalidConfig, InvalidInput, MlhepError
from mlhep.ml.training import TrainConfig
from mlhep.unfold import (
    bootstrap_weights,
    ibu,
    ibu_bootstrap,
    normalized_histogram,
    omnifold,
    response_matrix,
    triangular_discriminator,
)
from mlhep.unfold.stage import load_events

pytestmark = pytest.mark.usefixtures("one_torch_thread")

N = 20000
SMEARING = 0.5
BINS = np.linspace(-3, 3, 25)
# a fixed number of epochs: early stopping on these small samples often stops an epoch too soon
TRAIN = TrainConfig(epochs=10, batch_size=256, learning_rate=1e-3, early_stopping=False, device="cpu")
OPTIONS = {"hidden": (32, 32), "train": TRAIN}


def toy(rng, mean, sigma, n=N, efficiency=False, fakes=0.0):
    """Truth N(mean, sigma), reco = truth + N(0, 0.5). With ``efficiency`` an event passes reco with
    probability 0.6 + 0.3 tanh(truth); ``fakes`` x n events pass reco only, reco N(0, 1.5)."""
    truth = rng.normal(mean, sigma, n)
    reco = truth + rng.normal(0, SMEARING, n)
    pass_reco = rng.random(n) < 0.6 + 0.3 * np.tanh(truth) if efficiency else np.ones(n, bool)
    n_fakes = int(fakes * n)
    return {
        "truth": np.concatenate([truth, np.full(n_fakes, np.nan)]),
        "reco": np.concatenate([np.where(pass_reco, reco, np.nan), rng.normal(0, 1.5, n_fakes)]),
        "pass_reco": np.concatenate([pass_reco, np.ones(n_fakes, bool)]),
        "pass_truth": np.concatenate([np.ones(n, bool), np.zeros(n_fakes, bool)]),
    }


def moments(values, weights):
    mean = np.average(values, weights=weights)
    return mean, np.sqrt(np.average((values - mean) ** 2, weights=weights))


def delta(values, weights, target):
    return triangular_discriminator(np.histogram(values, BINS, weights=weights)[0], np.histogram(target, BINS)[0])


def test_triangular_discriminator_known_values():
    assert triangular_discriminator([1, 2, 3], [2, 4, 6]) == 0.0  # same shape, other normalization
    assert triangular_discriminator([1, 0], [0, 1]) == pytest.approx(1000.0)  # disjoint
    # p = (3/4, 1/4), q = (1/2, 1/2): 1/2 (1/16 / (5/4) + 1/16 / (3/4)) = 1/15
    assert triangular_discriminator([3, 1, 0], [1, 1, 0]) == pytest.approx(1000 / 15)
    assert normalized_histogram([0.5, 1.5, 1.5, np.nan, 9.0], [0, 1, 2]) == pytest.approx([1 / 3, 2 / 3])
    weights = bootstrap_weights(50000, 2, seed=1)
    assert weights.shape == (2, 50000)
    assert weights.mean() == pytest.approx(1.0, abs=0.01) and weights.var() == pytest.approx(1.0, abs=0.02)
    assert np.array_equal(weights, bootstrap_weights(50000, 2, seed=1))


def test_omnifold_closure_keeps_unit_weights():
    """Data: an independent draw of the simulated distributions; the weights stay ~1."""
    sim, data = toy(np.random.default_rng(1), 0, 1), toy(np.random.default_rng(2), 0, 1)
    result = omnifold(sim["reco"], sim["truth"], data["reco"], iterations=2, ensemble=2, **OPTIONS)
    assert result.push_history.shape == (2, N) and len(result.seconds_per_iteration) == 2
    assert result.weights.mean() == pytest.approx(1.0, abs=0.02)
    assert result.weights.std() < 0.1
    # each network of the last step alone: close to the ensemble, not identical to each other
    assert result.member_weights.shape == (2, N)
    assert np.abs(result.member_weights.mean(axis=0) - result.weights).max() < 0.02
    assert not np.array_equal(*result.member_weights)
    # the unfolded histogram agrees with the data truth within the statistical errors
    unfolded, _ = np.histogram(sim["truth"], BINS, weights=result.weights)
    variance, _ = np.histogram(sim["truth"], BINS, weights=result.weights**2)
    truth, _ = np.histogram(data["truth"], BINS)
    filled = truth > 0
    chi2 = np.sum((unfolded - truth)[filled] ** 2 / (variance + truth)[filled])
    assert chi2 / filled.sum() < 1.5


def test_omnifold_recovers_gaussian_truth():
    """Simulation N(0, 1), data N(0.2, 0.8), smeared by 0.5: mean and std recovered within 0.04.
    Data events with zero weight (far off at x = 3) must not count."""
    sim, data = toy(np.random.default_rng(3), 0, 1), toy(np.random.default_rng(4), 0.2, 0.8)
    data_reco = np.concatenate([data["reco"], np.full(5000, 3.0)])
    data_weights = np.concatenate([np.ones(N), np.zeros(5000)])
    result = omnifold(sim["reco"][:, None], sim["truth"][:, None], data_reco[:, None], data_weights=data_weights, iterations=4, **OPTIONS)
    mean, std = moments(sim["truth"], result.weights)
    assert mean == pytest.approx(0.2, abs=0.04) and std == pytest.approx(0.8, abs=0.04)
    prior = delta(sim["truth"], None, data["truth"])
    unfolded = delta(sim["truth"], result.weights, data["truth"])
    assert unfolded < 0.1 * prior
    # the iterations converge: the last one changes the weights less than the first
    steps = np.abs(np.diff(np.vstack([np.ones(N), result.push_history]), axis=0)).mean(axis=1)
    assert steps[-1] < 0.5 * steps[0]


def test_omnifold_with_efficiency_and_fakes():
    """Efficiency 0.6 + 0.3 tanh(x) and 10 % fakes in simulation and data: the truth of all events
    (detected or not) is recovered, mean and std within 0.04."""
    sim, data = toy(np.random.default_rng(5), 0, 1, efficiency=True, fakes=0.1), toy(np.random.default_rng(6), 0.2, 0.8, efficiency=True, fakes=0.1)
    selections = {"pass_reco": sim["pass_reco"], "pass_truth": sim["pass_truth"]}
    result = omnifold(sim["reco"], sim["truth"], data["reco"][data["pass_reco"]], iterations=5, **selections, **OPTIONS)
    truth, weights = sim["truth"][sim["pass_truth"]], result.weights[sim["pass_truth"]]
    mean, std = moments(truth, weights)
    assert mean == pytest.approx(0.2, abs=0.04) and std == pytest.approx(0.8, abs=0.04)
    assert delta(truth, weights, data["truth"][data["pass_truth"]]) < 0.1 * delta(truth, None, data["truth"][data["pass_truth"]])
    assert np.all(result.weights[~sim["pass_truth"]] == 1.0)  # fakes keep the simulation's weight


def test_omnifold_respects_generator_weights():
    """Simulation drawn from N(0, 1.5) with generator weights making it N(0, 1), data N(0, 1): no
    reweighting is needed, so the weights stay ~1 (they would narrow the truth if ignored)."""
    rng = np.random.default_rng(7)
    sim, data = toy(rng, 0, 1.5, n=N), toy(rng, 0, 1, n=N)
    generator = 1.5 * np.exp(-0.5 * sim["truth"] ** 2 + 0.5 * (sim["truth"] / 1.5) ** 2)
    result = omnifold(sim["reco"], sim["truth"], data["reco"], sim_weights=generator, iterations=2, **OPTIONS)
    assert np.average(result.weights, weights=generator) == pytest.approx(1.0, abs=0.02)
    assert moments(sim["truth"], generator * result.weights)[1] == pytest.approx(1.0, abs=0.03)


def test_ibu_recovers_gaussian_truth_with_efficiency_and_fakes():
    rng = np.random.default_rng(8)
    # a diagonal response unfolds exactly in one iteration
    values = rng.normal(0, 1, 1000)
    identity = response_matrix(values, values, np.ones(1000, bool), np.ones(1000, bool), BINS)
    counts = rng.poisson(50, len(BINS) - 1).astype(float)
    assert ibu(counts, identity, iterations=1) == pytest.approx(counts)

    for efficiency, fakes, limit in ((False, 0.0, 2.0), (True, 0.1, 6.0)):
        sim, data = toy(rng, 0, 1, 100000, efficiency, fakes), toy(rng, 0.2, 0.8, N, efficiency, fakes)
        response = response_matrix(sim["reco"], sim["truth"], sim["pass_reco"], sim["pass_truth"], BINS)
        observed = data["reco"][data["pass_reco"]]
        unfolded = ibu(np.histogram(observed, BINS)[0], response, iterations=4)
        truth, _ = np.histogram(data["truth"][data["pass_truth"]], BINS)
        prior = triangular_discriminator(response.truth, truth)
        assert triangular_discriminator(unfolded, truth) < min(limit, 0.1 * prior)
        # corrected for efficiency and fakes: the unfolded total is the number of true events
        assert unfolded.sum() == pytest.approx(truth.sum(), rel=0.03)
    # fakes scaled with the data in each reco bin follow the signal: a worse result here
    by_fraction = ibu(np.histogram(observed, BINS)[0], response, iterations=4, fakes="fraction")
    assert triangular_discriminator(by_fraction, truth) > 2 * triangular_discriminator(unfolded, truth)
    replicas = ibu_bootstrap(observed, response, replicas=50, seed=1)
    assert replicas.mean(axis=0) == pytest.approx(unfolded, rel=0.1, abs=20)
    assert replicas.sum(axis=1).std() / unfolded.sum() == pytest.approx(1 / np.sqrt(len(observed)), rel=0.4)


def constituent_toy(rng, mean_count, n=8000, particles=20):
    """Jets of 1 + Poisson(mean_count) particles (at most ``particles``) with momentum fractions
    from a flat Dirichlet and angles N(0, 0.1) to the axis; at reco each particle is lost with
    probability 0.1, the fractions renormalized and the angles smeared by 0.02. Returns reco and
    truth (n, particles, 3) arrays, pass_reco and the true multiplicity."""
    count = np.minimum(1 + rng.poisson(mean_count, n), particles)
    present = np.arange(particles) < count[:, None]
    energy = rng.exponential(1.0, (n, particles)) * present
    z = energy / energy.sum(axis=1, keepdims=True)
    angles = rng.normal(0, 0.1, (n, particles, 2)) * present[..., None]
    kept = present & (rng.random((n, particles)) > 0.1)
    pass_reco = kept.any(axis=1)
    z_reco = np.where(kept, z, 0.0) / np.where(pass_reco, np.where(kept, z, 0.0).sum(axis=1), 1.0)[:, None]
    angles_reco = (angles + rng.normal(0, 0.02, angles.shape)) * kept[..., None]
    truth = np.concatenate([z[..., None], angles], axis=-1)
    reco = np.concatenate([z_reco[..., None], angles_reco], axis=-1)
    return reco, truth, pass_reco, count


def test_omnifold_on_constituents_recovers_the_multiplicity():
    """Unfolding constituents with a Particle Flow Network: the simulation has 1 + Poisson(8)
    particles per jet, the data 1 + Poisson(11), 10 % of them lost at reco. The multiplicity
    (not an input: the networks see only the particles) is recovered."""
    sim_reco, sim_truth, sim_pass, sim_count = constituent_toy(np.random.default_rng(11), 8)
    data_reco, _, data_pass, data_count = constituent_toy(np.random.default_rng(12), 11)
    network = {"phi": (16, 16), "f": (16,), "max_particles": 20}
    result = omnifold(sim_reco, sim_truth, data_reco[data_pass], pass_reco=sim_pass, iterations=4, constituents=network, **OPTIONS)
    assert result.member_weights.shape == (1, len(sim_count))
    assert np.average(sim_count, weights=result.weights) == pytest.approx(data_count.mean(), abs=0.2)  # from 9.0 to 12.0
    bins = np.arange(0.5, 21)
    prior = triangular_discriminator(np.histogram(sim_count, bins)[0], np.histogram(data_count, bins)[0])
    unfolded = triangular_discriminator(np.histogram(sim_count, bins, weights=result.weights)[0], np.histogram(data_count, bins)[0])
    assert unfolded < 0.02 * prior


def test_log_observables_change_the_network_inputs_only(tmp_path):
    """The width enters the networks as log(width + 0.001); the observables that IBU and the
    metrics bin stay linear. A missing column is named."""
    width = np.array([0.0, 0.05, np.nan])
    columns = {"width_reco": width, "mass_reco": [10.0, 20.0, np.nan], "width_truth": width, "mass_truth": [11.0, 19.0, 30.0]}
    columns.update(pass_reco=[True, True, False], pass_truth=[True, True, True], weight=[1.0, 1.0, 1.0], event=[1, 2, 3])
    path = tmp_path / "columns.parquet"
    ak.to_parquet(ak.Array({name: np.asarray(values) for name, values in columns.items()}), path)
    events = load_events(path, ["width", "mass"], log_observables=["width"])
    np.testing.assert_array_equal(events.reco[:2, 0], width[:2])
    np.testing.assert_allclose(events.reco_inputs[:2, 0], np.log(width[:2] + 1e-3))
    np.testing.assert_array_equal(events.truth_inputs[:, 1], events.truth[:, 1])
    assert list(events.pass_truth) == [True, True, False]  # a NaN observable fails its level
    with pytest.raises(BadInputFile, match=r"columns.parquet: missing columns \['zg_reco', 'zg_truth'\]"):
        load_events(path, ["width", "zg"])


def test_extra_inputs_reach_the_networks_not_the_observables(tmp_path):
    """The jet pT joins the network inputs after the observables (as a logarithm when named in
    log_observables); the observables stay as they are, and an event whose jet pT is NaN at a
    level fails that level."""
    columns = {"mass_reco": [10.0, 20.0], "mass_truth": [11.0, 19.0], "jet_pt_reco": [150.0, np.nan], "jet_pt_truth": [160.0, 210.0]}
    columns.update(pass_reco=[True, True], pass_truth=[True, True], weight=[1.0, 1.0], event=[1, 2])
    path = tmp_path / "columns.parquet"
    ak.to_parquet(ak.Array({name: np.asarray(values) for name, values in columns.items()}), path)
    events = load_events(path, ["mass"], log_observables=["jet_pt"], extra_inputs=["jet_pt"])
    assert events.reco.shape == (2, 1) and events.truth_inputs.shape == (2, 2)
    np.testing.assert_allclose(events.truth_inputs[:, 1], np.log(np.array([160.0, 210.0]) + 1e-3))
    np.testing.assert_array_equal(events.truth_inputs[:, 0], [11.0, 19.0])
    assert list(events.pass_reco) == [True, False] and list(events.pass_truth) == [True, True]
    with pytest.raises(BadInputFile, match=r"missing columns \['jet_eta_reco', 'jet_eta_truth'\]"):
        load_events(path, ["mass"], extra_inputs=["jet_eta"])


def test_bad_inputs_raise_clear_errors():
    rng = np.random.default_rng(9)
    x = rng.normal(0, 1, (100, 2))
    with pytest.raises(InvalidInput, match="sim_truth has 99 rows"):
        omnifold(x, x[:99], x, **OPTIONS)
    with pytest.raises(InvalidInput, match=r"data_reco has features of shape \(1,\), sim_reco \(2,\)"):
        omnifold(x, x, x[:, :1], **OPTIONS)
    with pytest.raises(InvalidInput, match=r"sim_reco must be \(events, particles, features\), got shape \(100, 2\)"):
        omnifold(x, x, x, constituents={"max_particles": 5}, **OPTIONS)
    with pytest.raises(InvalidInput, match="non-finite features in 100 of 100 selected rows"):
        omnifold(np.full((100, 2), np.nan), x, x, **OPTIONS)
    with pytest.raises(InvalidInput, match="data_reco has non-finite"):
        omnifold(x, x, np.full((10, 2), np.nan), **OPTIONS)
    with pytest.raises(EmptySelection, match="passes pass_reco"):
        omnifold(x, x, x, pass_reco=np.zeros(100, bool), **OPTIONS)
    with pytest.raises(InvalidInput, match="pass_truth must be a boolean"):
        omnifold(x, x, x, pass_truth=np.ones(100), **OPTIONS)
    with pytest.raises(InvalidInput, match="different shapes"):
        triangular_discriminator([1, 2], [1, 2, 3])
    with pytest.raises(MlhepError, match="empty histogram"):
        triangular_discriminator([0, 0], [1, 2])
    with pytest.raises(InvalidInput, match="expected \\(100,\\) like sim_reco"):
        response_matrix(x[:, 0], x[:50, 0], np.ones(100, bool), np.ones(100, bool), BINS)
    response = response_matrix(x[:, 0], x[:, 1], np.ones(100, bool), np.ones(100, bool), BINS)
    with pytest.raises(InvalidInput, match="24 reco bins"):
        ibu(np.ones(5), response)


def test_ibu_agrees_with_the_closed_form_two_bin_answers():
    """One iteration against D'Agostini's formula written out by hand, and the converged result
    against R^-1 d, the maximum-likelihood answer of a 2 x 2 response without fakes."""
    from mlhep.bench.oracles import ibu_two_bins

    for name, result in ibu_two_bins().items():
        assert result["pass"], (name, result)


# --- issue 27: full-phase-space metrics, the ensemble, the variations config ---


def test_two_sample_auc_finds_a_known_shift_and_respects_weights():
    """The classifier two-sample test: two draws of one 2D Gaussian give 0.5 (within the
    statistical spread of ~0.01 at these sizes), and so do a wider Gaussian reweighted to it; a
    shift of 0.5 in one coordinate gives the optimal classifier's AUC Phi(0.5 / sqrt(2)) = 0.638
    (closed form), not exceeded beyond the spread."""
    from scipy.stats import norm

    from mlhep.unfold.metrics import two_sample_auc, two_sample_auc_floor

    rng = np.random.default_rng(21)
    n = 3000
    reference, same = rng.normal(0, 1, (n, 2)), rng.normal(0, 1, (n, 2))
    shifted = rng.normal(0, 1, (n, 2)) + [0.5, 0.0]
    wide = rng.normal(0, 1.5, (n, 2))
    to_reference = np.exp(-0.5 * np.sum(wide**2, axis=1) + 0.5 * np.sum((wide / 1.5) ** 2, axis=1))
    assert two_sample_auc(same, reference, seed=1) == pytest.approx(0.5, abs=0.03)
    assert two_sample_auc_floor(reference, seed=1) == pytest.approx(0.5, abs=0.03)
    assert 0.60 < two_sample_auc(shifted, reference, seed=1) < norm.cdf(0.5 / np.sqrt(2)) + 0.02
    assert two_sample_auc(wide, reference, to_reference, seed=1) == pytest.approx(0.5, abs=0.03)
    assert two_sample_auc(wide, reference, seed=1) > 0.6  # without the weights: wider
    with pytest.raises(InvalidInput, match="NaN"):
        two_sample_auc(np.full((100, 2), np.nan), reference)
    with pytest.raises(InvalidInput, match=r"shapes \(3000, 2\) and \(3000, 1\)"):
        two_sample_auc(reference, reference[:, :1])


def test_2d_histogram_and_its_discriminator_against_a_hand_computed_case():
    """p = diag(1/2, 1/2), q = first row (1/2, 1/2): Delta = 1/2 (1/4 / 1/2 + 1/4 / 1/2) x 1e3 =
    500; the noise floor of identical halves is small against it."""
    from mlhep.unfold.metrics import discriminator_floor, normalized_histogram2d

    edges = np.array([0.0, 1.0, 2.0])
    p = normalized_histogram2d([0.5, 1.5, np.nan], [0.5, 1.5, 0.5], edges, edges)
    q = normalized_histogram2d([0.5, 0.5, 9.0], [0.5, 1.5, 0.5], edges, edges, weights=[2.0, 2.0, 5.0])
    np.testing.assert_allclose(p, [[0.5, 0.0], [0.0, 0.5]])
    np.testing.assert_allclose(q, [[0.5, 0.5], [0.0, 0.0]])
    assert triangular_discriminator(p, q) == pytest.approx(500.0)
    values = np.random.default_rng(22).normal(0, 1, 40000)
    bins = np.linspace(-3, 3, 21)
    floor = discriminator_floor(lambda half: normalized_histogram(values[half], bins), len(values), seed=1)
    # two samples of 40 000 in 20 bins: Delta ~ (bins - 1) / (2 n) x 1e3 / 2 ~ 0.12 (chi2 per bin)
    assert 0.05 < floor < 0.25


def gaussian_events(rng, shift, n):
    """Z+jets-like events of three observables: truth x0 ~ N(shift, 1), x1 = N(0, 1) + shift / 2 x0,
    x2 ~ N(0, 1); reco = truth + N(0, 0.5); a never-unfolded jet_pt = the sum of the truths + N(0, 0.3)."""
    from types import SimpleNamespace

    truth = rng.normal(0, 1, (n, 3))
    truth[:, 0] += shift
    truth[:, 1] += 0.5 * shift * truth[:, 0]
    passing = np.ones(n, bool)
    never = {"jet_pt": truth.sum(axis=1) + rng.normal(0, 0.3, n)}
    return SimpleNamespace(truth=truth, reco=truth + rng.normal(0, 0.5, truth.shape), pass_reco=passing, pass_truth=passing, weight=np.ones(n), never=never)


def test_scorecard_with_the_exact_density_ratio_reaches_the_noise_floor():
    """The simulation reweighted by the true p_data / p_sim (closed form for these Gaussians) is
    judged at the noise floor in every figure: the unfolded and never-unfolded observables, the
    pairs and the joint AUC; unit weights reproduce the prior; IBU improves on the prior in 1D
    and in 2D."""
    from mlhep.unfold.scorecard import Scorecard

    rng = np.random.default_rng(23)
    sim, data = gaussian_events(rng, 0.0, 8000), gaussian_events(rng, 0.5, 4000)
    card = Scorecard(sim, data, ["a", "b", "c"], {o: np.linspace(-4, 4, 13) for o in "abc"}, seed=1, floor_splits=4)
    x = sim.truth
    exact = np.exp(-0.5 * (x[:, 0] - 0.5) ** 2 + 0.5 * x[:, 0] ** 2 - 0.5 * (x[:, 1] - 0.25 * x[:, 0]) ** 2 + 0.5 * x[:, 1] ** 2)
    prior, unfolded = card.judge(np.ones(len(x))), card.judge(exact)
    assert prior["observables"]["a"]["omnifold"] == pytest.approx(card.prior["a"]) and prior["observables"]["a"]["prior"] > 20
    assert set(unfolded["unfolded_never"]) == {"jet_pt", "a:b", "a:c", "b:c"} and card.missing == ["jet_eta", "jet_zlead"]
    for section in ("observables", "unfolded_never"):
        for name, figures in unfolded[section].items():
            assert figures["omnifold"] < 4 * figures["floor"] + 0.5, (name, figures)
    assert unfolded["unfolded_never"]["jet_pt"]["prior"] > 10 * unfolded["unfolded_never"]["jet_pt"]["omnifold"]
    assert unfolded["observables"]["a"]["ibu"] < 0.2 * card.prior["a"] and card.ibu["a:b"] < 0.2 * card.prior["a:b"]
    auc = unfolded["auc_joint"]
    assert auc["prior"] - auc["floor"] > 0.06 and abs(auc["omnifold"] - auc["floor"]) < 0.03


def test_a_reference_sample_judges_the_methods_on_the_truth_not_on_the_datas_fluctuations():
    """With a perfect detector (reco = truth) IBU returns the data's own truth histogram: judged
    against that truth it scores 0, far below the noise floor, however the data fluctuated.
    Judged against an independent reference sample of the data's density it scores exactly the
    floor (the data's own truth against the reference), and the exact density ratio about as
    well; the AUC floor is the data against the reference."""
    from mlhep.unfold.scorecard import Scorecard

    rng = np.random.default_rng(29)
    sim, data, reference = gaussian_events(rng, 0.0, 8000), gaussian_events(rng, 0.5, 4000), gaussian_events(rng, 0.5, 4000)
    for events in (sim, data, reference):
        events.reco = events.truth.copy()
    edges = {o: np.array([-7.0, -3, -2, -1, 0, 1, 2, 3, 7]) for o in "abc"}  # every bin filled in the simulation
    own = Scorecard(sim, data, ["a", "b", "c"], edges, seed=1, floor_splits=4)
    fair = Scorecard(sim, data, ["a", "b", "c"], edges, seed=1, floor_splits=4, reference=reference)
    for name in ("a", "b", "c"):
        assert own.ibu[name] == pytest.approx(0.0, abs=1e-9) and own.floor[name] > 0.05
        assert fair.ibu[name] == pytest.approx(fair.floor[name], rel=1e-9) and fair.floor[name] > 0.05
        assert fair.prior[name] != own.prior[name]
    x = sim.truth
    exact = np.exp(-0.5 * (x[:, 0] - 0.5) ** 2 + 0.5 * x[:, 0] ** 2 - 0.5 * (x[:, 1] - 0.25 * x[:, 0]) ** 2 + 0.5 * x[:, 1] ** 2)
    judged = fair.judge(exact)
    for section in ("observables", "unfolded_never"):
        assert sum(f["omnifold"] for f in judged[section].values()) < 1.5 * sum(f["floor"] for f in judged[section].values())
    assert abs(fair.auc_floor - 0.5) < 0.03 and judged["auc_joint"]["prior"] - fair.auc_floor > 0.06


def test_ensemble_weights_average_the_last_step_networks():
    """With the whole ensemble, ensemble_weights gives the result's weights; with one network,
    that network's own weights (member_weights)."""
    from mlhep.unfold.omnifold import ensemble_weights

    rng = np.random.default_rng(24)
    sim, data = toy(rng, 0, 1, n=3000), toy(rng, 0.3, 1, n=3000)
    train = TrainConfig(epochs=2, batch_size=256, early_stopping=False, device="cpu")
    result = omnifold(sim["reco"], sim["truth"], data["reco"], iterations=2, ensemble=3, hidden=(8,), train=train)
    np.testing.assert_allclose(ensemble_weights(result, 3), result.weights, rtol=1e-6)
    np.testing.assert_allclose(ensemble_weights(result, 1), result.member_weights[0], rtol=1e-6)
    assert not np.allclose(ensemble_weights(result, 2), result.weights)
    with pytest.raises(InvalidConfig, match=r"size 4 outside 1..3"):
        ensemble_weights(result, 4)


def test_variations_config_is_valid_and_holds_out_variations_it_was_not_tuned_on():
    """config/benchmark.yaml on top of config.yaml: at least four pseudo-data Z+jets samples,
    two the settings were chosen on and the rest held out, each with its own Pythia settings,
    none equal to the simulation's; and check_variations names what is wrong."""
    from snakemake.utils import validate

    from conftest import ROOT, load_config
    from mlhep.bench.unfolding import _aggregate, _wins, check_variations
    from mlhep.config import check_config

    config = load_config("config.yaml", "benchmark.yaml")
    validate(config, str(ROOT / "workflow/schemas/config.schema.yaml"))
    check_config(config)
    held_out = check_variations(config)
    assert len(held_out) >= 4 and sum(not held for held in held_out.values()) == 2
    settings = [tuple(sorted(config["samples"][name].get("settings", []))) for name in [*held_out, config["unfolding"]["simulation"]]]
    assert len(set(settings)) == len(settings) and settings[-1] == ()
    assert "variations" not in load_config("config.yaml")["unfolding"]  # the default run keeps one variation
    config["unfolding"]["variations"] = {name: {"held_out": True} for name in held_out}
    with pytest.raises(InvalidConfig, match="need variations the settings were chosen on"):
        check_variations(config)
    config["unfolding"]["variations"]["zjets_nominal"] = {"held_out": False}
    with pytest.raises(InvalidConfig, match="zjets_nominal: is the simulation"):
        check_variations(config)
    references = {name: v["reference"] for name, v in load_config("config.yaml", "benchmark.yaml")["unfolding"]["variations"].items() if "reference" in v}
    assert set(references) == {name for name, held in held_out.items() if held}
    config["unfolding"]["variations"] = {"zjets_alt": {"held_out": False}, "zjets_mpi": {"held_out": True, "reference": "zjets_hadronization"}}
    with pytest.raises(InvalidConfig, match="zjets_mpi.reference: zjets_hadronization is not generated as zjets_mpi"):
        check_variations(config)
    config["unfolding"]["variations"]["zjets_mpi"]["reference"] = "zjets_nowhere"
    with pytest.raises(InvalidConfig, match="'zjets_nowhere' is not another sample"):
        check_variations(config)
    # the per-seed figures of one variation as the median and 16-84 % band
    runs = [{"observables": {"m": {"omnifold": v, "ibu": 2.0, "prior": 9.0}}, "unfolded_never": {}, "auc_joint": {"omnifold": 0.5, "prior": 0.6, "floor": 0.5}} for v in (1.0, 2.0, 3.0)]
    figures = _aggregate(runs)["observables"]["m"]
    assert figures["omnifold"] == 2.0 and figures["omnifold_16"] == pytest.approx(1.32) and figures["omnifold_84"] == pytest.approx(2.68)
    assert _wins(runs[0]["observables"]) == 1 and _wins(runs[2]["observables"]) == 0
    # never-unfolded figures above the floor, as a fraction of the prior's
    from mlhep.bench.unfolding import excess_over_prior

    assert excess_over_prior({"omnifold": 0.298, "prior": 0.457, "floor": 0.248}) == pytest.approx(0.05 / 0.209)
    assert excess_over_prior({"omnifold": 0.29, "prior": 0.208, "floor": 0.473}) == 0.0
    assert excess_over_prior({"omnifold": 0.6, "prior": 0.3, "floor": 0.4}) == float("inf")
