"""The smooth dijet mass function of resonance searches, fitted unbinned to weighted events.

f(x) = (1 - x)^p1 / x^(p2 + p3 ln x), x = mjj / sqrt(s) (CMS, arXiv:1911.03947; ATLAS,
arXiv:1910.08447). Normalized on a mass window, it smooths a background template made from
a limited simulated sample: the fit's parameter uncertainties become a few shape nuisance
parameters (its covariance eigenvectors) instead of one statistical parameter per bin.
"""

from dataclasses import dataclass

import numpy as np
from iminuit import Minuit

from mlhep.errors import EmptySelection

__all__ = ["DijetFit", "dijet_shape", "fit_dijet_function"]

SQRT_S = 13000.0
_NODES, _NODE_WEIGHTS = np.polynomial.legendre.leggauss(16)


def dijet_shape(mjj, params, sqrt_s=SQRT_S):
    """The unnormalized dijet function at ``mjj`` for parameters (p1, p2, p3)."""
    x = np.asarray(mjj, dtype=np.float64) / sqrt_s
    p1, p2, p3 = params
    return np.exp(p1 * np.log1p(-x) - (p2 + p3 * np.log(x)) * np.log(x))


def _integrals(edges, params, sqrt_s):
    """Integral of the dijet function over each bin of ``edges`` (16-point Gauss-Legendre per bin)."""
    low, high = np.asarray(edges[:-1]), np.asarray(edges[1:])
    half = (high - low) / 2
    points = (low + high)[:, None] / 2 + half[:, None] * _NODES[None, :]
    return (dijet_shape(points, params, sqrt_s) * _NODE_WEIGHTS).sum(axis=1) * half


@dataclass
class DijetFit:
    """A fitted dijet function: ``total`` events between ``start`` and ``stop``."""

    params: np.ndarray
    covariance: np.ndarray
    total: float
    start: float
    stop: float
    sqrt_s: float = SQRT_S

    def yields(self, edges, params=None):
        """Expected events per bin of ``edges`` (inside the fitted window)."""
        params = self.params if params is None else params
        fine = np.linspace(self.start, self.stop, 65)
        norm = _integrals(fine, params, self.sqrt_s).sum()
        return self.total * _integrals(edges, params, self.sqrt_s) / norm

    def eigen_variations(self, edges):
        """``[(up, down), ...]``: the yields with the parameters moved by +-1 sigma along each
        eigenvector of their covariance (uncorrelated shape variations)."""
        values, vectors = np.linalg.eigh(self.covariance)
        shifts = (vectors * np.sqrt(np.clip(values, 0.0, None))).T[values > 0]
        return [(self.yields(edges, self.params + shift), self.yields(edges, self.params - shift)) for shift in shifts]


def fit_dijet_function(mjj, weights, start, stop, sqrt_s=SQRT_S, what="events", free_p3=False):
    """Unbinned weighted maximum-likelihood fit of the dijet function to ``mjj`` in [start, stop].

    The weights are rescaled to the effective number of events, sum(w)^2 / sum(w^2), so that
    the Hesse covariance reflects the statistical power of the sample, and the fit's
    normalization (``total``) is the sum of the original weights in the window.
    ``free_p3``: fit p3 too; over a window of a few TeV p3 is nearly degenerate with p1 and p2
    unless the sample is large, so by default p3 = 0 (the three-parameter form with the
    normalization). A fixed parameter has zero variance.
    """
    mjj, weights = np.asarray(mjj, dtype=np.float64), np.asarray(weights, dtype=np.float64)
    inside = (mjj >= start) & (mjj < stop)
    mjj, weights = mjj[inside], weights[inside]
    if len(mjj) < 10 or weights.sum() <= 0:
        raise EmptySelection(f"dijet function fit of {what}: {len(mjj)} events in {start:g}-{stop:g} GeV, at least 10 are needed")
    effective = weights * weights.sum() / np.sum(weights**2)
    fine = np.linspace(start, stop, 65)

    def nll(p1, p2, p3):
        params = (p1, p2, p3)
        norm = _integrals(fine, params, sqrt_s).sum()
        return -np.sum(effective * np.log(dijet_shape(mjj, params, sqrt_s) / norm))

    minuit = Minuit(nll, p1=10.0, p2=5.0, p3=0.0)
    minuit.errordef = Minuit.LIKELIHOOD
    minuit.fixed["p3"] = not free_p3
    minuit.migrad()
    minuit.hesse()
    if not minuit.valid:
        raise EmptySelection(f"dijet function fit of {what}: no valid minimum ({len(mjj)} events in {start:g}-{stop:g} GeV)")
    return DijetFit(np.array(minuit.values), np.array(minuit.covariance), float(weights.sum()), start, stop, sqrt_s)
