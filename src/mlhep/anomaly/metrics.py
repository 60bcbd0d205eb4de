"""Anomaly-detection figures of merit: significance improvement (SIC) curves."""

import numpy as np

from mlhep.ml.metrics import roc_curve

__all__ = ["max_sic", "sic_curve"]


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
    eps_b, eps_s = roc_curve(labels, scores, weights)
    keep = eps_b > eps_b_floor
    return eps_s[keep], eps_s[keep] / np.sqrt(eps_b[keep])


def max_sic(labels, scores, weights=None, eps_b_floor=1e-4):
    """Largest SIC over the thresholds of sic_curve (nan when the floor excludes them all)."""
    sic = sic_curve(labels, scores, weights, eps_b_floor)[1]
    return float(sic.max()) if len(sic) else float("nan")
