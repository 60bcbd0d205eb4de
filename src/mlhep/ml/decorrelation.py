"""Classification losses for the shared training loop, optionally decorrelated from the jet mass.

Every loss is called as ``loss(module, inputs, labels, weights, mass)`` on one batch and returns
the weighted binary cross-entropy plus a penalty on the background jets of the batch:
- DisCo (Kasieczka, Nachman, Schwartz, Shih, arXiv:2001.05310): lambda * distance correlation
  squared between the score and the mass;
- adversarial (Louppe, Kagan, Cranmer, arXiv:1611.01046, "Learning to Pivot"): a second
  network predicts the mass bin from the score; the classifier pays -lambda * its loss. The
  adversary takes its own optimizer steps inside the loss, in training mode only;
- MoDE order 0 (Kitouni, Nachman, Weisser, Williams, arXiv:2010.09745): lambda * the squared
  relative spread, across mass bins, of the background efficiency at a few working points,
  with a smooth step so that it has a gradient.
"""

import numpy as np
import torch
from torch import nn

from mlhep.ml.networks import MLP

__all__ = ["METHODS", "classification_loss", "distance_correlation", "mass_bin_edges", "weighted_bce", "weighted_mean"]

METHODS = ("disco", "adversarial", "mode")


def distance_correlation(x, y, weights=None):
    """Squared distance correlation dCorr^2(x, y) of two 1-d tensors (V-statistic, weighted).

    With unit weights it equals ``dcor.distance_correlation_sqr``; the weights enter as
    frequencies, so a weight of 2 counts a jet twice.
    """
    w = torch.ones_like(x) if weights is None else weights
    w = w / w.sum()

    def centred(v):
        distance = (v[:, None] - v[None, :]).abs()
        mean = distance @ w
        return distance - mean[:, None] - mean[None, :] + w @ mean

    a, b = centred(x), centred(y)
    covariance = w @ (a * b) @ w
    variance = (w @ (a * a) @ w) * (w @ (b * b) @ w)
    return covariance / torch.sqrt(variance + 1e-20)


def mass_bin_edges(mass, n_bins):
    """Inner edges of ``n_bins`` equally populated mass bins (of the training background)."""
    return np.quantile(mass, np.linspace(0, 1, n_bins + 1)[1:-1])


def weighted_mean(values, weights):
    """sum(w x) / sum(w), and 0 for a batch whose weights are all zero (bootstrap replicas,
    events weighted away): it carries no information, and 0 / 0 would poison the gradients."""
    return (values * weights).sum() / weights.sum().clamp_min(torch.finfo(weights.dtype).tiny)


def weighted_bce(logit, labels, weights):
    """Weighted mean binary cross-entropy of logits."""
    return weighted_mean(nn.functional.binary_cross_entropy_with_logits(logit, labels, reduction="none"), weights)


class _Disco:
    def __init__(self, lam):
        self.lam = lam

    def __call__(self, module, inputs, labels, weights, mass):
        logit = module(inputs)
        background = labels == 0
        score = torch.sigmoid(logit[background])
        penalty = distance_correlation(score, mass[background], weights[background]) if background.sum() > 1 else 0.0
        return weighted_bce(logit, labels, weights) + self.lam * penalty


class _Adversary:
    def __init__(self, lam, edges, adversary_hidden=(32, 32), adversary_learning_rate=1e-3, adversary_steps=10):
        self.lam, self.steps = lam, adversary_steps
        self.edges = torch.as_tensor(edges, dtype=torch.float32)
        self.net = MLP(1, adversary_hidden, n_outputs=len(edges) + 1)
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=adversary_learning_rate)

    def state_dict(self):
        return {"net": self.net.state_dict(), "optimizer": self.optimizer.state_dict()}

    def load_state_dict(self, state):
        self.net.load_state_dict(state["net"])
        self.optimizer.load_state_dict(state["optimizer"])

    def _loss(self, score, target, weights):
        per_jet = nn.functional.cross_entropy(self.net(score[:, None]), target, reduction="none")
        return weighted_mean(per_jet, weights)

    def __call__(self, module, inputs, labels, weights, mass):
        logit = module(inputs)
        background = labels == 0
        score, w = torch.sigmoid(logit[background]), weights[background]
        self.net.to(logit.device)
        target = torch.bucketize(mass[background], self.edges.to(mass.device))
        if module.training:
            for _ in range(self.steps):
                loss = self._loss(score.detach(), target, w)
                self.optimizer.zero_grad()
                loss.backward()
                self.optimizer.step()
        return weighted_bce(logit, labels, weights) - self.lam * self._loss(score, target, w)


class _Mode:
    # background efficiencies of the working points that are kept flat in mass
    EFFICIENCIES = (0.5, 0.2, 0.1, 0.05)

    def __init__(self, lam, edges):
        self.lam = lam
        self.edges = torch.as_tensor(edges, dtype=torch.float32)

    def __call__(self, module, inputs, labels, weights, mass):
        logit = module(inputs)
        background = labels == 0
        return weighted_bce(logit, labels, weights) + self.lam * self.penalty(logit[background], mass[background], weights[background])

    def penalty(self, logit, mass, weights):
        if len(logit) < 2:
            return 0.0
        detached = logit.detach()
        cuts = torch.quantile(detached, 1 - torch.tensor(self.EFFICIENCIES, device=logit.device))
        # the step's width follows the spread of the logits but never falls below 0.1: at the
        # start the logits barely spread and a narrower step would let the penalty swamp the BCE
        width = 0.1 * torch.clamp(detached.std(), min=1.0)
        passing = torch.sigmoid((logit[:, None] - cuts[None, :]) / width)  # (jets, working points)
        in_bin = nn.functional.one_hot(torch.bucketize(mass, self.edges.to(mass.device)), len(self.edges) + 1).to(logit.dtype)
        in_bin = in_bin * weights[:, None]
        bin_weight = in_bin.sum(0)
        filled = bin_weight > 0
        efficiency = (in_bin.T @ passing)[filled] / bin_weight[filled, None]
        overall = (weights @ passing) / weights.sum()
        spread = ((efficiency / overall - 1) ** 2).mean(1)
        return (spread * bin_weight[filled]).sum() / bin_weight.sum()


def classification_loss(decorrelation=None, background_mass=None):
    """The loss of a classifier: weighted BCE, plus the mass-decorrelation penalty described by
    ``decorrelation`` ({"method": one of METHODS, "lam": float, options}) when given.

    ``background_mass`` (the training background's jet masses) sets the equally populated mass
    bins of the adversary and of MoDE (option ``mass_bins``, 10 by default).
    """
    if decorrelation is None:
        return lambda module, inputs, labels, weights, mass: weighted_bce(module(inputs), labels, weights)
    options = dict(decorrelation)
    method, lam, n_bins = options.pop("method"), options.pop("lam"), options.pop("mass_bins", 10)
    if method == "disco":
        return _Disco(lam, **options)
    edges = mass_bin_edges(background_mass, n_bins)
    if method == "adversarial":
        return _Adversary(lam, edges, **options)
    if method == "mode":
        return _Mode(lam, edges, **options)
    raise ValueError(f"unknown decorrelation method {method!r}; choose from {METHODS}")
