"""The classification losses and their mass-decorrelation penalties on one batch, by hand and
against dcor: no training, so each test takes milliseconds."""

import dcor
import numpy as np
import pytest
import torch

from mlhep.ml.decorrelation import METHODS, classification_loss, distance_correlation, mass_bin_edges, weighted_bce, weighted_mean
from mlhep.ml.networks import MLP

pytestmark = pytest.mark.usefixtures("one_torch_thread")


class Identity(torch.nn.Module):
    """A 'network' whose logit is its first input feature."""

    def forward(self, x):
        return x[:, 0]


def _batch(seed=0, n=200):
    rng = np.random.default_rng(seed)
    labels = (rng.random(n) < 0.5).astype(np.float64)
    mass = rng.uniform(20.0, 300.0, n)
    logit = rng.normal(0, 1, n) + labels + 0.01 * mass * (labels == 0)  # the background's score follows its mass
    weights = rng.uniform(0.5, 2.0, n)
    return {name: torch.tensor(value) for name, value in (("inputs", logit[:, None]), ("labels", labels), ("weights", weights), ("mass", mass))}


def _bce(logit, labels, weights):
    p = 1 / (1 + np.exp(-logit))
    return np.sum(weights * -(labels * np.log(p) + (1 - labels) * np.log(1 - p))) / np.sum(weights)


def test_weighted_mean_and_bce_by_hand():
    assert weighted_mean(torch.tensor([1.0, 3.0]), torch.tensor([3.0, 1.0])).item() == pytest.approx(1.5)
    assert weighted_mean(torch.tensor([1.0, 3.0]), torch.tensor([0.0, 0.0])).item() == 0.0  # not nan
    b = _batch()
    logit = b["inputs"][:, 0]
    expected = _bce(logit.numpy(), b["labels"].numpy(), b["weights"].numpy())
    assert weighted_bce(logit, b["labels"], b["weights"]).item() == pytest.approx(expected, rel=1e-12)
    plain = classification_loss()
    assert plain(Identity(), b["inputs"], b["labels"], b["weights"], b["mass"]).item() == pytest.approx(expected, rel=1e-12)


def test_mass_bins_are_equally_populated():
    mass = np.arange(1.0, 101.0)
    np.testing.assert_allclose(mass_bin_edges(mass, 4), [25.75, 50.5, 75.25])
    assert len(mass_bin_edges(mass, 10)) == 9
    assert classification_loss({"method": "mode", "lam": 1.0, "mass_bins": 5}, mass).edges.tolist() == pytest.approx(mass_bin_edges(mass, 5).tolist())
    assert len(classification_loss({"method": "adversarial", "lam": 1.0}, mass).edges) == 9  # 10 bins by default


def test_disco_penalty_is_the_distance_correlation_of_the_background():
    b = _batch(1)
    loss = classification_loss({"method": "disco", "lam": 3.0})
    background = (b["labels"] == 0).numpy()
    score = 1 / (1 + np.exp(-b["inputs"][:, 0].numpy()))
    # dcor counts a weight of k as k copies: integer weights on the background
    weights = torch.tensor(np.where(background, np.arange(len(background)) % 3 + 1, 1.0))
    penalty = dcor.distance_correlation_sqr(np.repeat(score[background], weights.numpy()[background].astype(int)), np.repeat(b["mass"].numpy()[background], weights.numpy()[background].astype(int)))
    expected = _bce(b["inputs"][:, 0].numpy(), b["labels"].numpy(), weights.numpy()) + 3.0 * penalty
    assert loss(Identity(), b["inputs"], b["labels"], weights, b["mass"]).item() == pytest.approx(expected, rel=1e-9)
    assert penalty > 0.05  # the toy's background score follows its mass
    # one background jet: no correlation to measure
    one = torch.tensor([1.0, 1.0, 0.0], dtype=torch.float64)
    inputs = torch.tensor([[0.3], [0.1], [2.0]], dtype=torch.float64)
    expected = _bce(inputs[:, 0].numpy(), one.numpy(), np.ones(3))
    assert loss(Identity(), inputs, one, torch.ones(3, dtype=torch.float64), torch.tensor([50.0, 60.0, 70.0], dtype=torch.float64)).item() == pytest.approx(expected, rel=1e-12)
    # dCorr^2 of independent variables is small, of a function of each other one
    rng = np.random.default_rng(2)
    x = torch.tensor(rng.normal(size=500))
    assert distance_correlation(x, torch.tensor(rng.normal(size=500))).item() < 0.02
    assert distance_correlation(x, 3 * x - 2).item() == pytest.approx(1.0, rel=1e-9)


def _mode_penalty(logit, mass, weights, edges, efficiencies=(0.5, 0.2, 0.1, 0.05)):
    """MoDE's order-0 penalty in numpy, from its definition: the weighted mean over mass bins of
    the mean over working points of (eps_bin / eps - 1)^2, eps a smooth step of width
    0.1 max(std(logit), 1) at the logit quantiles of the background efficiencies."""
    cuts = np.quantile(logit, 1 - np.array(efficiencies))
    width = 0.1 * max(np.std(logit, ddof=1), 1.0)
    passing = 1 / (1 + np.exp(-(logit[:, None] - cuts[None, :]) / width))
    overall = weights @ passing / weights.sum()
    index = np.searchsorted(edges, mass, side="left")
    total, penalty = 0.0, 0.0
    for b in range(len(edges) + 1):
        in_bin = index == b
        if weights[in_bin].sum() > 0:
            efficiency = weights[in_bin] @ passing[in_bin] / weights[in_bin].sum()
            penalty += weights[in_bin].sum() * np.mean((efficiency / overall - 1) ** 2)
            total += weights[in_bin].sum()
    return penalty / weights.sum()


def test_mode_penalty_matches_its_definition_and_vanishes_without_sculpting():
    b = {name: value.float() for name, value in _batch(3).items()}  # the training's float32
    background = b["labels"] == 0
    edges = mass_bin_edges(b["mass"][background].numpy(), 4)
    loss = classification_loss({"method": "mode", "lam": 2.0, "mass_bins": 4}, b["mass"][background].numpy())
    args = (b["inputs"][:, 0][background], b["mass"][background], b["weights"][background])
    expected = _mode_penalty(*(a.numpy() for a in args), edges)
    assert loss.penalty(*args).item() == pytest.approx(expected, rel=1e-4)
    assert expected > 0.01
    total = loss(Identity(), b["inputs"], b["labels"], b["weights"], b["mass"]).item()
    assert total == pytest.approx(_bce(b["inputs"][:, 0].double().numpy(), b["labels"].numpy(), b["weights"].numpy()) + 2.0 * expected, rel=1e-4)
    # the same logits in every mass bin: every bin has the overall efficiency
    logit = torch.tensor(np.tile(np.linspace(-2, 2, 50), 4), dtype=torch.float32)
    mass = torch.tensor(np.repeat([10.0, 30.0, 50.0, 70.0], 50), dtype=torch.float32)
    assert loss.penalty(logit, mass, torch.ones(200)).item() == pytest.approx(0.0, abs=1e-10)
    assert loss.penalty(logit[:1], mass[:1], torch.ones(1)) == 0.0
    # a weight of zero removes a jet
    weights = torch.ones(200)
    weights[:10] = 0.0
    assert loss.penalty(logit, mass, weights).item() == pytest.approx(loss.penalty(logit[10:], mass[10:], weights[10:]).item(), rel=1e-5)


def test_adversary_trains_in_training_mode_and_is_subtracted():
    torch.manual_seed(0)
    b = _batch(4)
    mass = b["mass"].float()
    loss = classification_loss({"method": "adversarial", "lam": 5.0, "mass_bins": 3, "adversary_steps": 4}, mass.numpy())
    assert loss.steps == 4 and loss.lam == 5.0
    classifier = MLP(1, (4,))
    inputs, labels, weights = b["inputs"].float(), b["labels"].float(), b["weights"].float()
    before = [p.detach().clone() for p in loss.net.parameters()]
    classifier.eval()
    value = loss(classifier, inputs, labels, weights, mass)
    assert all(torch.equal(p, q) for p, q in zip(before, loss.net.parameters()))  # no adversary step when evaluating
    background = labels == 0
    logit = classifier(inputs)
    score = torch.sigmoid(logit[background])
    target = torch.bucketize(mass[background], loss.edges)
    assert set(target.tolist()) == {0, 1, 2}
    adversary = torch.nn.functional.cross_entropy(loss.net(score[:, None]), target, reduction="none")
    expected = weighted_bce(logit, labels, weights) - 5.0 * (adversary * weights[background]).sum() / weights[background].sum()
    assert value.item() == pytest.approx(expected.item(), rel=1e-5)
    classifier.train()
    losses = [loss._loss(score.detach(), target, weights[background]).item()]
    for _ in range(5):
        loss(classifier, inputs, labels, weights, mass)
        losses.append(loss._loss(score.detach(), target, weights[background]).item())
    assert not all(torch.equal(p, q) for p, q in zip(before, loss.net.parameters()))
    assert losses[-1] < losses[0]  # the adversary learns to predict the mass bin
    state = loss.state_dict()
    other = classification_loss({"method": "adversarial", "lam": 5.0, "mass_bins": 3}, mass.numpy())
    other.load_state_dict(state)
    assert torch.equal(other.net(score[:, None]), loss.net(score[:, None]))
    assert other.optimizer.state_dict()["state"].keys() == loss.optimizer.state_dict()["state"].keys()


def test_unknown_method_is_named():
    assert METHODS == ("disco", "adversarial", "mode")
    with pytest.raises(ValueError, match=r"unknown decorrelation method 'pivot'; choose from \('disco', 'adversarial', 'mode'\)"):
        classification_loss({"method": "pivot", "lam": 1.0}, np.arange(10.0))


def test_penalties_of_tiny_batches_small_weights_and_the_options_they_take():
    """Edge cases against the references: DisCo on two background jets is dcor's squared distance
    correlation of two points (1), and 0 for a constant score; MoDE on two jets, and on jets of
    weight 0.1 (bins lighter than one jet still count), is its numpy definition; a lone
    background jet adds no penalty; the adversary
    predicts one of len(edges) + 1 mass bins with a (32, 32) network, 10 steps and the given
    learning rate by default; options a method does not take are refused."""
    labels, mass = torch.tensor([0.0, 0.0, 1.0]), torch.tensor([30.0, 200.0, 90.0])
    logit, weights = torch.tensor([0.4, -0.7, 1.1], dtype=torch.float64), torch.ones(3, dtype=torch.float64)
    disco = classification_loss({"method": "disco", "lam": 3.0})
    expected = _bce(logit.numpy(), labels.numpy(), weights.numpy()) + 3.0 * dcor.distance_correlation_sqr(torch.sigmoid(logit[:2]).numpy(), mass[:2].double().numpy())
    assert disco(Identity(), logit[:, None], labels.double(), weights, mass.double()).item() == pytest.approx(expected, rel=1e-9)
    assert distance_correlation(torch.full((5,), 0.3, dtype=torch.float64), torch.arange(5.0, dtype=torch.float64)).item() == 0.0
    # a single background jet, of weight zero, has no correlation to penalize (and no NaN)
    single = disco(Identity(), logit[1:, None], labels[1:].double(), torch.tensor([0.0, 1.0], dtype=torch.float64), mass[1:].double())
    assert single.item() == pytest.approx(_bce(logit[2:].numpy(), labels[2:].numpy(), np.ones(1)), rel=1e-12)
    mode = classification_loss({"method": "mode", "lam": 1.0, "mass_bins": 2}, np.array([10.0, 90.0]))  # one inner edge, at 50
    jets, masses = torch.tensor([0.3, -1.2, 0.8, 0.1]), torch.tensor([10.0, 90.0, 20.0, 80.0])
    for n, w in ((2, torch.ones(2)), (4, torch.full((4,), 0.1))):
        expected = _mode_penalty(jets[:n].double().numpy(), masses[:n].double().numpy(), w.double().numpy(), np.array([50.0]))
        assert expected > 0.01 and mode.penalty(jets[:n], masses[:n], w).item() == pytest.approx(expected, rel=1e-4)
    adversary = classification_loss({"method": "adversarial", "lam": 1.0, "mass_bins": 3}, np.arange(30.0))
    assert adversary.steps == 10 and adversary.net(torch.zeros(1, 1)).shape == (1, 3) and adversary.net.net[0].out_features == 32
    fast = classification_loss({"method": "adversarial", "lam": 1.0, "adversary_learning_rate": 0.01}, np.arange(30.0))
    assert fast.optimizer.param_groups[0]["lr"] == 0.01
    for method in ("disco", "mode"):
        with pytest.raises(TypeError, match="adversary_steps"):
            classification_loss({"method": method, "lam": 1.0, "adversary_steps": 4}, np.arange(30.0))
