"""Figures of merit of unfolded distributions and the Poisson bootstrap of their statistical uncertainty."""

import numpy as np

from mlhep.errors import EmptySelection, InvalidConfig

__all__ = ["bootstrap_weights", "normalized_histogram", "triangular_discriminator"]


def triangular_discriminator(p, q):
    """Triangular discriminator between two histograms on the same bins, as used to compare
    unfolded and true distributions (OmniFold, arXiv:1911.09107).

    Each histogram is normalized to unit sum, then
    Delta = 1/2 * sum_i (p_i - q_i)^2 / (p_i + q_i) * 1e3; bins empty in both are skipped.

    Args:
        p, q: counts or densities, same shape, non-negative.

    Returns:
        Delta in units of 1e-3: 0 for equal shapes, 1000 for disjoint ones.
    """
    p, q = (np.asarray(h, dtype=np.float64) for h in (p, q))
    if p.shape != q.shape:
        raise InvalidConfig(f"triangular_discriminator: histograms of different shapes {p.shape} and {q.shape}")
    if np.any(p < 0) or np.any(q < 0) or not (np.all(np.isfinite(p)) and np.all(np.isfinite(q))):
        raise InvalidConfig("triangular_discriminator: histograms must be finite and non-negative")
    if p.sum() <= 0 or q.sum() <= 0:
        raise EmptySelection("triangular_discriminator: an empty histogram has no shape to compare")
    p, q = p / p.sum(), q / q.sum()
    total = p + q
    filled = total > 0
    return float(0.5 * np.sum((p[filled] - q[filled]) ** 2 / total[filled]) * 1e3)


def normalized_histogram(values, bins, weights=None):
    """Weighted histogram of ``values`` in the fixed ``bins`` edges, normalized to unit sum.

    Args:
        values: 1-d array; NaN and values outside the edges are dropped.
        bins: increasing bin edges.
        weights: per-value weights (default 1).

    Returns:
        (len(bins) - 1,) array summing to 1.
    """
    values = np.asarray(values, dtype=np.float64)
    weights = np.ones_like(values) if weights is None else np.asarray(weights, dtype=np.float64)
    if weights.shape != values.shape:
        raise InvalidConfig(f"normalized_histogram: {weights.shape} weights for {values.shape} values")
    counts, _ = np.histogram(values, bins=bins, weights=weights)
    if not counts.sum() > 0:
        raise EmptySelection(f"normalized_histogram: no weight inside the edges [{bins[0]}, {bins[-1]}]")
    return counts / counts.sum()


def bootstrap_weights(n, replicas, seed=0):
    """Poisson(1) weights of ``n`` events for ``replicas`` bootstrap replicas: rerunning an
    unfolding with each row as the data weights gives replicas whose spread is the statistical
    uncertainty of the data (as in the H1 OmniFold measurement, arXiv:2108.12376).

    Returns:
        (replicas, n) float array of independent Poisson(1) draws, fixed by ``seed``.
    """
    if n < 1 or replicas < 1:
        raise InvalidConfig(f"bootstrap_weights: need n >= 1 and replicas >= 1, got n={n}, replicas={replicas}")
    return np.random.default_rng(seed).poisson(1.0, size=(replicas, n)).astype(np.float64)
