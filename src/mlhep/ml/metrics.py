"""Classifier metrics: ROC AUC, background rejection at fixed signal efficiency, mass sculpting (1/JSD)."""

import numpy as np

__all__ = ["JSD_MASS_BINS", "inverse_jsd", "rejection", "roc_auc", "roc_curve", "score_threshold"]

# Fixed binning of the jet-mass JSD: 30 bins of 20 GeV from 0 to 600 GeV, larger masses in the last bin.
JSD_MASS_BINS = np.linspace(0.0, 600.0, 31)


def roc_curve(labels, scores, weights=None):
    """(background efficiency, signal efficiency) for every threshold, from the highest score down."""
    labels, scores = np.asarray(labels), np.asarray(scores)
    weights = np.ones(len(scores)) if weights is None else np.asarray(weights, dtype=np.float64)
    order = np.argsort(-scores, kind="stable")
    signal = np.cumsum(np.where(labels[order] == 1, weights[order], 0.0))
    background = np.cumsum(np.where(labels[order] == 0, weights[order], 0.0))
    return np.concatenate([[0.0], background / background[-1]]), np.concatenate([[0.0], signal / signal[-1]])


def roc_auc(labels, scores, weights=None):
    """Area under the ROC curve (1 is perfect, 0.5 is random)."""
    background, signal = roc_curve(labels, scores, weights)
    return float(np.trapezoid(signal, background))


def score_threshold(scores, efficiency, weights=None):
    """Score above which a fraction ``efficiency`` of the (weighted) ``scores`` lies."""
    scores = np.asarray(scores)
    weights = np.ones(len(scores)) if weights is None else np.asarray(weights, dtype=np.float64)
    order = np.argsort(scores)
    above = 1.0 - np.cumsum(weights[order]) / weights.sum()
    return float(scores[order][np.searchsorted(-above, -efficiency)])


def rejection(labels, scores, signal_efficiency=0.5, weights=None):
    """Background rejection 1/eps_B at the cut that keeps ``signal_efficiency`` of the signal (R50)."""
    labels, scores = np.asarray(labels), np.asarray(scores)
    weights = np.ones(len(scores)) if weights is None else np.asarray(weights, dtype=np.float64)
    signal = labels == 1
    cut = score_threshold(scores[signal], signal_efficiency, weights[signal])
    background = ~signal
    passing = np.sum(weights[background][scores[background] > cut]) / np.sum(weights[background])
    return float(1.0 / passing) if passing > 0 else float("inf")


def inverse_jsd(mass, passing, bins=JSD_MASS_BINS, weights=None):
    """1 / Jensen-Shannon divergence (natural log) between the mass distributions of the
    background jets that pass and that fail a cut; large means little sculpting.

    Args:
        mass: background jet masses (GeV).
        passing: boolean mask of the jets that pass the tagger cut.
        bins: fixed bin edges (JSD_MASS_BINS by default); overflow goes to the last bin.
    """
    mass = np.clip(np.asarray(mass, dtype=np.float64), bins[0], bins[-1] - 1e-9)
    weights = np.ones(len(mass)) if weights is None else np.asarray(weights, dtype=np.float64)
    p = np.histogram(mass[passing], bins=bins, weights=weights[passing])[0]
    q = np.histogram(mass[~passing], bins=bins, weights=weights[~passing])[0]
    if p.sum() == 0 or q.sum() == 0:
        return float("nan")  # all jets on one side of the cut: no two distributions to compare
    p, q = p / p.sum(), q / q.sum()
    m = 0.5 * (p + q)
    jsd = 0.5 * (_kl(p, m) + _kl(q, m))
    return float(1.0 / jsd) if jsd > 0 else float("inf")


def _kl(p, q):
    nonzero = p > 0
    return np.sum(p[nonzero] * np.log(p[nonzero] / q[nonzero]))
