"""Invertible feature preprocessing for density estimation: min/max scaling, logit, standardization."""

from dataclasses import dataclass

import numpy as np

from mlhep.checks import check_features, check_weights
from mlhep.errors import InvalidConfig, InvalidInput, MlhepError

__all__ = ["LogitScaler"]


@dataclass
class LogitScaler:
    """x -> z = (logit(u) - mean) / std with u = (x - lo) / (hi - lo) clipped to [eps, 1 - eps].

    The bounded features of a bump hunt (masses, N-subjettiness ratios) have sharp edges that a
    normalizing flow models badly; the logit maps the fitted range onto the real line (CATHODE,
    Hallin et al., arXiv:2109.00546). ``lo`` and ``hi`` are the training minimum and maximum
    widened by ``margin`` times the range on each side, so that held-out events a little outside
    the training range keep a finite, smooth image; values beyond are clipped (their z stays
    finite, at about +-logit(1 - eps)).

    Attributes:
        margin: fraction of the training range added on each side.
        eps: clipping of u, which bounds |logit(u)| by log((1 - eps) / eps).
        lo, hi, mean, std: per-feature parameters, set by fit.
    """

    margin: float = 0.05
    eps: float = 1e-6
    lo: np.ndarray | None = None
    hi: np.ndarray | None = None
    mean: np.ndarray | None = None
    std: np.ndarray | None = None

    def __post_init__(self):
        if not self.margin >= 0:
            raise InvalidConfig(f"LogitScaler margin {self.margin}: must be >= 0")
        if not 0 < self.eps < 0.5:
            raise InvalidConfig(f"LogitScaler eps {self.eps}: must lie in (0, 0.5)")
        for name in ("lo", "hi", "mean", "std"):
            if getattr(self, name) is not None:
                setattr(self, name, np.asarray(getattr(self, name), dtype=np.float64))

    def fit(self, X, weights=None):
        """Fit the range on ``X`` and the (weighted) mean and std of its logits; returns self.

        Args:
            X: (events, features) training features (a 1-d array is one feature).
            weights: optional per-event non-negative weights for the standardization.
        """
        X = check_features(X, "X")
        w = check_weights(weights, len(X))
        low, high = X.min(axis=0), X.max(axis=0)
        span = np.where(high > low, high - low, np.maximum(np.abs(high), 1.0))  # a constant feature
        self.lo, self.hi = low - self.margin * span, high + self.margin * span
        self.mean, self.std = np.zeros(X.shape[1]), np.ones(X.shape[1])
        y = self._logit(X)
        self.mean = np.average(y, axis=0, weights=w)
        std = np.sqrt(np.average((y - self.mean) ** 2, axis=0, weights=w))
        self.std = np.where(std > 0, std, 1.0)
        return self

    def transform(self, X):
        """z = T(x), a float64 (events, features) array."""
        return (self._logit(self._check(X, "X")) - self.mean) / self.std

    def inverse_transform(self, Z):
        """x = T^-1(z); every x lies in [lo, hi]."""
        y = self._check(Z, "Z") * self.std + self.mean
        u = 0.5 * (1.0 + np.tanh(0.5 * y))  # the sigmoid, without overflow
        return self.lo + u * (self.hi - self.lo)

    def log_abs_det_jacobian(self, X):
        """log |det dT/dx| per event, so that log p_x(x) = log p_z(T(x)) + this.

        Beyond the clipping, the value is that at the clipped point (T is flat there).
        """
        u = self._unit(self._check(X, "X"))
        per_feature = -np.log(self.hi - self.lo) - np.log(u) - np.log1p(-u) - np.log(self.std)
        return per_feature.sum(axis=1)

    def to_dict(self):
        """JSON-ready parameters."""
        if self.lo is None:
            raise MlhepError("LogitScaler: call fit (or from_dict) first")
        return {"margin": self.margin, "eps": self.eps, **{k: getattr(self, k).tolist() for k in ("lo", "hi", "mean", "std")}}

    @classmethod
    def from_dict(cls, saved):
        return cls(**saved)

    def _check(self, X, name):
        if self.lo is None:
            raise MlhepError("LogitScaler: call fit (or from_dict) first")
        X = check_features(X, name)
        if X.shape[1] != len(self.lo):
            raise InvalidInput(f"{name}: {X.shape[1]} features, the scaler was fitted on {len(self.lo)}")
        return X

    def _unit(self, X):
        return np.clip((X - self.lo) / (self.hi - self.lo), self.eps, 1.0 - self.eps)

    def _logit(self, X):
        u = self._unit(X)
        return np.log(u) - np.log1p(-u)
