"""Classifier metrics: ROC AUC, background rejection at fixed signal efficiency, mass sculpting (1/JSD).

Tied scores form one threshold everywhere, so no figure depends on the order of the rows.
"""

import numpy as np

from mlhep.checks import check_scores
from mlhep.errors import InvalidInput

__all__ = ["JSD_MASS_BINS", "inverse_jsd", "rejection", "roc_auc", "roc_curve", "score_threshold"]

# Fixed binning of the jet-mass JSD: 30 bins of 20 GeV from 0 to 600 GeV, larger masses in the last bin.
JSD_MASS_BINS = np.linspace(0.0, 600.0, 31)


def roc_curve(labels, scores, weights=None):
    """(background efficiency, signal efficiency) of the cut score >= t for every distinct score t,
    from the highest down, starting at (0, 0): the points of scikit-learn's roc_curve with
    ``drop_intermediate=False``."""
    labels, scores, weights = check_scores(labels, scores, weights)
    order = np.argsort(-scores, kind="stable")
    ordered = scores[order]
    signal = np.cumsum(np.where(labels[order] == 1, weights[order], 0.0))
    background = np.cumsum(np.where(labels[order] == 0, weights[order], 0.0))
    last_of_tie = np.append(ordered[1:] != ordered[:-1], True)
    return np.concatenate([[0.0], background[last_of_tie] / background[-1]]), np.concatenate([[0.0], signal[last_of_tie] / signal[-1]])


def roc_auc(labels, scores, weights=None):
    """Area under the ROC curve (1 is perfect, 0.5 is random); ties count one half."""
    background, signal = roc_curve(labels, scores, weights)
    return float(np.trapezoid(signal, background))


def rejection(labels, scores, signal_efficiency=0.5, weights=None):
    """Background rejection 1/eps_B at ``signal_efficiency`` (R50 at 0.5), eps_B interpolated
    linearly on the ROC curve between the two thresholds around that efficiency, as is usual
    (arXiv:1902.09914); within a group of tied scores that is the expected rejection of a cut
    that keeps a random part of the group. inf when no background passes."""
    if not 0 < signal_efficiency <= 1:
        raise InvalidInput(f"signal_efficiency {signal_efficiency}: must lie in (0, 1]")
    eps_b, eps_s = roc_curve(labels, scores, weights)
    above = int(np.searchsorted(eps_s, signal_efficiency, side="left"))  # first point reaching it
    below = above - 1
    fraction = (signal_efficiency - eps_s[below]) / (eps_s[above] - eps_s[below])
    passing = eps_b[below] + fraction * (eps_b[above] - eps_b[below])
    return float(1.0 / passing) if passing > 0 else float("inf")


def score_threshold(scores, efficiency, weights=None):
    """Score above which a fraction ``efficiency`` of the (weighted) ``scores`` lies."""
    scores = np.asarray(scores)
    weights = np.ones(len(scores)) if weights is None else np.asarray(weights, dtype=np.float64)
    order = np.argsort(scores)
    above = 1.0 - np.cumsum(weights[order]) / weights.sum()
    return float(scores[order][np.searchsorted(-above, -efficiency)])


def inverse_jsd(mass, passing, bins=JSD_MASS_BINS, weights=None):
    """1 / Jensen-Shannon divergence (natural log) between the mass distributions of the
    background jets that pass and that fail a cut; large means little sculpting.

    Args:
        mass: background jet masses (GeV).
        passing: boolean mask of the jets that pass the tagger cut.
        bins: fixed bin edges (JSD_MASS_BINS by default); overflow goes to the last bin.

    Returns:
        1/JSD; nan when every jet is on one side of the cut (no two distributions to compare),
        inf when the two distributions are identical.
    """
    mass = np.clip(np.asarray(mass, dtype=np.float64), bins[0], bins[-1] - 1e-9)
    weights = np.ones(len(mass)) if weights is None else np.asarray(weights, dtype=np.float64)
    p = np.histogram(mass[passing], bins=bins, weights=weights[passing])[0]
    q = np.histogram(mass[~passing], bins=bins, weights=weights[~passing])[0]
    if p.sum() == 0 or q.sum() == 0:
        return float("nan")
    p, q = p / p.sum(), q / q.sum()
    m = 0.5 * (p + q)
    jsd = 0.5 * (_kl(p, m) + _kl(q, m))
    return float(1.0 / jsd) if jsd > 0 else float("inf")


def _kl(p, q):
    nonzero = p > 0
    return np.sum(p[nonzero] * np.log(p[nonzero] / q[nonzero]))
