"""Validators of the arrays handed to mlhep's methods: each returns the array in the form the
method uses, or raises InvalidInput naming the array and what is wrong with it. Configuration
errors are InvalidConfig (mlhep.config); these are errors of the data."""

import numpy as np

from mlhep.errors import InvalidInput

__all__ = ["check_bins", "check_features", "check_jagged", "check_labels", "check_scores", "check_weights", "require_finite"]


def require_finite(values, names, where):
    """Raise InvalidInput naming ``where`` and the columns of ``values`` (events x len(names))
    that hold NaN or infinite values."""
    bad = ~np.isfinite(np.asarray(values, dtype=np.float64))
    if bad.any():
        columns = ", ".join(name for name, column in zip(names, bad.T) if column.any())
        raise InvalidInput(f"{where}: {int(bad.any(axis=1).sum())} events with NaN or infinite values (columns: {columns})")


def check_features(X, name="X", constituents=False):
    """``X`` as a float64 (events, features) array, a 1-d array being one feature, or with
    ``constituents`` an (events, particles, features) array; InvalidInput when it has another
    shape, no events, or a NaN or infinite value."""
    X = np.asarray(X, dtype=np.float64)
    if X.ndim == 1 and not constituents:
        X = X[:, None]
    expected = "(events, particles, features)" if constituents else "(events, features)"
    if X.ndim != (3 if constituents else 2) or len(X) == 0:
        raise InvalidInput(f"{name}: expected a non-empty {expected} array, got shape {X.shape}")
    bad = ~np.isfinite(X)
    if bad.any():
        raise InvalidInput(f"{name}: {bad.reshape(len(X), -1).any(axis=1).sum()} events with NaN or infinite features")
    return X


def check_weights(w, n, name="weights"):
    """Per-event weights as float64, ones when ``w`` is None; InvalidInput unless there is one
    finite, non-negative weight per event and not all are zero."""
    if w is None:
        return np.ones(n)
    w = np.asarray(w, dtype=np.float64)
    if w.shape != (n,):
        raise InvalidInput(f"{name}: expected shape ({n},), one weight per event, got {w.shape}")
    if not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
        raise InvalidInput(f"{name}: weights must be finite, non-negative and not all zero")
    return w


def check_labels(y, n, name):
    """Class labels as float64: one 0 or 1 for each of ``n`` events, and both classes present."""
    y = np.asarray(y, dtype=np.float64)
    if y.shape != (n,) or not np.all(np.isin(y, (0, 1))):
        raise InvalidInput(f"{name} labels: expected one 0 or 1 per event, got shape {y.shape}")
    for cls in (0, 1):
        if not np.any(y == cls):
            raise InvalidInput(f"{name} events: no events of class {cls}")
    return y


def check_scores(labels, scores, weights=None):
    """(labels, scores, weights) as arrays, or InvalidInput: one label (0 or 1), one finite score
    and one finite non-negative weight per event, and both classes with a positive weight sum."""
    labels, scores = np.asarray(labels), np.asarray(scores, dtype=np.float64)
    if labels.ndim != 1 or scores.shape != labels.shape:
        raise InvalidInput(f"labels {labels.shape} and scores {scores.shape}: expected two (events,) arrays of one length")
    if not np.all(np.isin(labels, (0, 1))):
        raise InvalidInput("labels: expected 1 (signal) or 0 (background) only")
    if not np.all(np.isfinite(scores)):
        raise InvalidInput(f"scores: {np.sum(~np.isfinite(scores))} NaN or infinite values")
    weights = np.ones(len(scores)) if weights is None else np.asarray(weights, dtype=np.float64)
    if weights.shape != scores.shape or not np.all(np.isfinite(weights)) or np.any(weights < 0):
        raise InvalidInput(f"weights: expected {len(scores)} finite non-negative values")
    for cls, name in ((1, "signal"), (0, "background")):
        if not weights[labels == cls].sum() > 0:
            raise InvalidInput(f"labels: no {name} events (or all their weights are zero)")
    return labels, scores, weights


def check_jagged(px, py, pz, energy, offsets):
    """Constituent four-momenta of jets, flat, with jet ``i`` at ``offsets[i]:offsets[i + 1]``:
    (four contiguous float64 arrays, int64 offsets), or InvalidInput."""
    arrays = [np.ascontiguousarray(a, dtype=np.float64) for a in (px, py, pz, energy)]
    offsets = np.ascontiguousarray(offsets, dtype=np.int64)
    if offsets.ndim != 1 or len(offsets) < 1:
        raise InvalidInput("offsets must be a 1-d array of length n_jets + 1")
    if any(a.shape != arrays[0].shape for a in arrays) or arrays[0].ndim != 1:
        raise InvalidInput("px, py, pz, energy must be 1-d arrays of equal length")
    if len(offsets) > 1 and (offsets[0] < 0 or offsets[-1] > len(arrays[0]) or np.any(np.diff(offsets) < 0)):
        raise InvalidInput("offsets must be non-decreasing and within the constituent arrays")
    return arrays, offsets


def check_bins(values, what, expected_shape=None, allow_negative=True):
    """Per-bin ``values`` as a float array, or InvalidInput on NaN, infinity, a bad shape or,
    unless allowed, negative values."""
    array = np.asarray(values, dtype=np.float64)
    if expected_shape is not None and array.shape != expected_shape:
        raise InvalidInput(f"{what}: {array.shape[0] if array.ndim else 'scalar'} bins where {expected_shape[0]} are expected")
    if not np.all(np.isfinite(array)):
        raise InvalidInput(f"{what}: NaN or infinite values in bins {np.flatnonzero(~np.isfinite(array)).tolist()}")
    if not allow_negative and np.any(array < 0):
        raise InvalidInput(f"{what}: negative values in bins {np.flatnonzero(array < 0).tolist()}")
    return array
