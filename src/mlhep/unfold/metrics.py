"""Figures of merit of unfolded distributions (triangular discriminator, classifier two-sample
test, their noise floors) and the Poisson bootstrap of their statistical uncertainty."""

import numpy as np

from mlhep import seeds
from mlhep.errors import EmptySelection, InvalidConfig, InvalidInput

__all__ = [
    "bootstrap_weights",
    "discriminator_floor",
    "normalized_histogram",
    "normalized_histogram2d",
    "triangular_discriminator",
    "two_sample_auc",
    "two_sample_auc_floor",
]

TWO_SAMPLE_BOOSTER = {"max_depth": 3, "eta": 0.1, "rounds": 400, "early_stopping": 20}


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
        raise InvalidInput(f"triangular_discriminator: histograms of different shapes {p.shape} and {q.shape}")
    if np.any(p < 0) or np.any(q < 0) or not (np.all(np.isfinite(p)) and np.all(np.isfinite(q))):
        raise InvalidInput("triangular_discriminator: histograms must be finite and non-negative")
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
        raise InvalidInput(f"normalized_histogram: {weights.shape} weights for {values.shape} values")
    counts, _ = np.histogram(values, bins=bins, weights=weights)
    if not counts.sum() > 0:
        raise EmptySelection(f"normalized_histogram: no weight inside the edges [{bins[0]}, {bins[-1]}]")
    return counts / counts.sum()


def bootstrap_weights(n, replicas, seed=0):
    """Poisson(1) weights of ``n`` events for ``replicas`` bootstrap replicas: rerunning an
    unfolding with each row as the data weights gives replicas whose spread is the statistical
    uncertainty of the data (as in the H1 OmniFold measurement, arXiv:2108.12376).

    Returns:
        (replicas, n) float array of independent Poisson(1) draws from the "bootstrap" stream of ``seed``.
    """
    if n < 1 or replicas < 1:
        raise InvalidConfig(f"bootstrap_weights: need n >= 1 and replicas >= 1, got n={n}, replicas={replicas}")
    return seeds.generator("bootstrap", seed).poisson(1.0, size=(replicas, n)).astype(np.float64)


def normalized_histogram2d(x, y, edges_x, edges_y, weights=None):
    """Weighted 2D histogram of the pairs (``x``, ``y``) in fixed edges, normalized to unit sum;
    pairs with a NaN or outside the edges are dropped. Returns a (len(edges_x) - 1,
    len(edges_y) - 1) array (``triangular_discriminator`` compares two of them bin by bin)."""
    x, y = (np.asarray(v, dtype=np.float64) for v in (x, y))
    weights = np.ones_like(x) if weights is None else np.asarray(weights, dtype=np.float64)
    if not x.shape == y.shape == weights.shape:
        raise InvalidInput(f"normalized_histogram2d: x {x.shape}, y {y.shape} and weights {weights.shape} differ")
    finite = np.isfinite(x) & np.isfinite(y)
    counts, _, _ = np.histogram2d(x[finite], y[finite], bins=(edges_x, edges_y), weights=weights[finite])
    if not counts.sum() > 0:
        raise EmptySelection("normalized_histogram2d: no weight inside the edges")
    return counts / counts.sum()


def _halves(n, seed, split):
    """A random half of n events (boolean mask) from the "toys" stream of (seed, split)."""
    return seeds.generator("toys", seed, "halves", split).permutation(n) < n // 2


def discriminator_floor(histogram, n, seed=0, splits=10):
    """Noise floor of the triangular discriminator of a sample of ``n`` events: the mean over
    ``splits`` random halves A, B of Delta(histogram(A), histogram(B)) / 2, that is what two
    independent samples of size n give by chance (Delta of two samples scales as 1/n1 + 1/n2).

    Args:
        histogram: ``histogram(mask) -> array``, the normalized histogram of the events in mask.
        n: number of events; seed: seed of the "toys" stream drawing the halves.
    """
    if n < 2 or splits < 1:
        raise InvalidConfig(f"discriminator_floor: need n >= 2 and splits >= 1, got n={n}, splits={splits}")
    values = []
    for split in range(splits):
        half = _halves(n, seed, split)
        values.append(triangular_discriminator(histogram(half), histogram(~half)) / 2)
    return float(np.mean(values))


def _balanced(first_weights, second_weights):
    return np.concatenate([w * 0.5 * (len(first_weights) + len(second_weights)) / w.sum() for w in (first_weights, second_weights)])


def two_sample_auc(first, second, first_weights=None, second_weights=None, seed=0, folds=2):
    """Classifier two-sample test: the ROC AUC of a fresh classifier (xgboost, TWO_SAMPLE_BOOSTER)
    trained to tell the weighted events of ``first`` from those of ``second``, each event scored
    by the model of the other folds (k-fold, ``folds`` >= 2; 20 % of the training folds stop the
    boosting early). 0.5: the classifier finds no difference; in practice a little off 0.5 even
    for equal densities (see two_sample_auc_floor). Classes are balanced, and the AUC is the
    mean over the folds of the weighted AUC (mlhep.ml.metrics.roc_auc) on the held-out fold.
    (Lopez-Paz and Oquab, arXiv:1610.06545; the unfolding use: arXiv:2105.04448.)

    Args:
        first, second: (n, d) arrays of the same d, no NaN.
        first_weights, second_weights: per-event non-negative weights (default 1).
        seed: seed of the fold assignment ("holdout" stream) and of the booster.

    Returns:
        the AUC, the probability that a first-sample event scores above a second-sample one.
    """
    import xgboost

    from mlhep.ml.metrics import roc_auc

    first, second = (np.asarray(v, dtype=np.float64) for v in (first, second))
    if first.ndim != 2 or second.ndim != 2 or first.shape[1] != second.shape[1]:
        raise InvalidInput(f"two_sample_auc: samples of shapes {first.shape} and {second.shape}; expected (n, d) of one d")
    if not (np.all(np.isfinite(first)) and np.all(np.isfinite(second))):
        raise InvalidInput("two_sample_auc: the samples hold NaN or infinite values")
    if folds < 2 or min(len(first), len(second)) < 5 * folds:
        raise InvalidConfig(f"two_sample_auc: need folds >= 2 and at least {5 * folds} events per sample, got {folds} folds, {len(first)} and {len(second)} events")
    weights = [np.ones(len(v)) if w is None else np.asarray(w, dtype=np.float64) for v, w in ((first, first_weights), (second, second_weights))]
    if any(w.shape != (len(v),) or not np.all(np.isfinite(w)) or np.any(w < 0) or not w.sum() > 0 for v, w in zip((first, second), weights)):
        raise InvalidInput("two_sample_auc: weights must be finite, non-negative, not all zero, one per event")
    X, w = np.concatenate([first, second]), _balanced(*weights)
    y = np.concatenate([np.ones(len(first)), np.zeros(len(second))])
    rng = seeds.generator("holdout", seed, "two_sample")
    fold, stop = rng.integers(folds, size=len(y)), rng.random(len(y)) < 0.2
    params = {"objective": "binary:logistic", "eval_metric": "logloss", "max_depth": TWO_SAMPLE_BOOSTER["max_depth"], "eta": TWO_SAMPLE_BOOSTER["eta"], "seed": seeds.integer("training", seed, "two_sample") % 2**31, "nthread": 2}
    aucs = []
    for k in range(folds):
        fit, val, test = (fold != k) & ~stop, (fold != k) & stop, fold == k
        booster = xgboost.train(
            params,
            xgboost.DMatrix(X[fit], label=y[fit], weight=w[fit]),
            num_boost_round=TWO_SAMPLE_BOOSTER["rounds"],
            evals=[(xgboost.DMatrix(X[val], label=y[val], weight=w[val]), "val")],
            early_stopping_rounds=TWO_SAMPLE_BOOSTER["early_stopping"],
            verbose_eval=False,
        )
        score = booster.predict(xgboost.DMatrix(X[test]), iteration_range=(0, booster.best_iteration + 1), output_margin=True)
        aucs.append(roc_auc(y[test], score.astype(np.float64), w[test]))
    return float(np.mean(aucs))


def two_sample_auc_floor(values, weights=None, seed=0, splits=2):
    """Noise floor of ``two_sample_auc`` on a sample of this size: the mean AUC between two random
    halves of ``values`` (the same density by construction) over ``splits`` splits."""
    values = np.asarray(values, dtype=np.float64)
    weights = np.ones(len(values)) if weights is None else np.asarray(weights, dtype=np.float64)
    aucs = []
    for split in range(splits):
        half = _halves(len(values), seed, split)
        aucs.append(two_sample_auc(values[half], values[~half], weights[half], weights[~half], seed=seeds.integer("toys", seed, "floor", split)))
    return float(np.mean(aucs))
