"""Anomaly-detection figures of merit: significance improvement (SIC) curves and rejections."""

import numpy as np

from mlhep.errors import InvalidInput
from mlhep.ml.metrics import rejection, roc_curve
from mlhep.ml.ratio import check_weights

__all__ = ["max_sic", "rejection_at", "sic_curve"]


def _check(labels, scores, weights):
    labels, scores = np.asarray(labels), np.asarray(scores, dtype=np.float64)
    if labels.ndim != 1 or scores.shape != labels.shape:
        raise InvalidInput(f"labels {labels.shape} and scores {scores.shape}: expected two (events,) arrays of one length")
    if not np.all(np.isin(labels, (0, 1))):
        raise InvalidInput("labels: expected 1 (signal) or 0 (background) only")
    if not np.all(np.isfinite(scores)):
        raise InvalidInput(f"scores: {np.sum(~np.isfinite(scores))} NaN or infinite values")
    weights = check_weights(weights, len(scores))
    for cls, name in ((1, "signal"), (0, "background")):
        if weights[labels == cls].sum() <= 0:
            raise InvalidInput(f"labels: no {name} events (or all their weights are zero)")
    return labels, scores, weights


def sic_curve(labels, scores, weights=None, eps_b_floor=1e-4):
    """Significance improvement eps_S / sqrt(eps_B) of a cut on ``scores``, per threshold.

    The SIC is the factor by which the cut multiplies S / sqrt(B) (CWoLa hunting, Collins,
    Howe, Nachman, arXiv:1902.02634; CATHODE, arXiv:2109.00546). Only thresholds that leave a
    background efficiency above ``eps_b_floor`` are kept: below it eps_B rests on a handful of
    background events and the ratio is noise. Tied scores form one threshold.

    Args:
        labels: (n,) 1 for signal, 0 for background; scores: (n,) larger is more signal-like.
        weights: optional (n,) non-negative event weights.
        eps_b_floor: smallest background efficiency kept (exclusive).

    Returns:
        (eps_s, sic): arrays over the kept thresholds, from the tightest cut to the loosest.
    """
    labels, scores, weights = _check(labels, scores, weights)
    eps_b, eps_s = roc_curve(labels, scores, weights)
    ordered = -np.sort(-scores, kind="stable")
    # a point of the curve is a threshold where the next score down is different (or none is left)
    last_of_tie = np.concatenate([[False], np.append(ordered[1:] != ordered[:-1], True)])
    keep = last_of_tie & (eps_b > eps_b_floor)
    return eps_s[keep], eps_s[keep] / np.sqrt(eps_b[keep])


def max_sic(labels, scores, weights=None, eps_b_floor=1e-4):
    """Largest SIC over the thresholds of sic_curve (nan when the floor excludes them all)."""
    sic = sic_curve(labels, scores, weights, eps_b_floor)[1]
    return float(sic.max()) if len(sic) else float("nan")


def rejection_at(labels, scores, signal_efficiency=0.2, weights=None):
    """Background rejection 1 / eps_B at the cut keeping ``signal_efficiency`` of the signal
    (mlhep.ml.metrics.rejection with checked input); inf when no background passes."""
    if not 0 < signal_efficiency <= 1:
        raise InvalidInput(f"signal_efficiency {signal_efficiency}: must lie in (0, 1]")
    labels, scores, weights = _check(labels, scores, weights)
    return rejection(labels, scores, signal_efficiency, weights)
