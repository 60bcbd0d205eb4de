"""The smooth dijet mass function of resonance searches, fitted unbinned to weighted events.

f(x) = (1 - x)^p1 / x^(p2 + p3 ln x), x = mjj / sqrt(s) (CMS, arXiv:1911.03947; ATLAS,
arXiv:1910.08447). Normalized on a mass window, it smooths a background template made from
a limited simulated sample: the fit's parameter uncertainties become a few shape nuisance
parameters (its covariance eigenvectors) instead of one statistical parameter per bin.
"""

from dataclasses import dataclass

import numpy as np
from iminuit import Minuit

from mlhep.errors import EmptySelection, InvalidConfig

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


def _region_integral(params, start, stop, exclude, sqrt_s):
    """Integral of the dijet function over [start, stop] without the ``exclude`` interval."""
    full = _integrals(np.linspace(start, stop, 65), params, sqrt_s).sum()
    if exclude is None:
        return full
    return full - _integrals(np.linspace(*exclude, 17), params, sqrt_s).sum()


@dataclass
class DijetFit:
    """A fitted dijet function: ``total`` events between ``start`` and ``stop``, outside the
    ``exclude`` interval when one was left out of the fit (a signal region between sidebands)."""

    params: np.ndarray
    covariance: np.ndarray
    total: float
    start: float
    stop: float
    sqrt_s: float = SQRT_S
    exclude: tuple | None = None

    def yields(self, edges, params=None):
        """Expected events per bin of ``edges``, anywhere in the window (inside ``exclude`` too:
        the interpolation of a sideband fit into the signal region)."""
        params = self.params if params is None else params
        norm = _region_integral(params, self.start, self.stop, self.exclude, self.sqrt_s)
        return self.total * _integrals(edges, params, self.sqrt_s) / norm

    def eigen_variations(self, edges):
        """``[(up, down), ...]``: the yields with the parameters moved by +-1 sigma along each
        eigenvector of their covariance (uncorrelated shape variations)."""
        values, vectors = np.linalg.eigh(self.covariance)
        shifts = (vectors * np.sqrt(np.clip(values, 0.0, None))).T[values > 0]
        return [(self.yields(edges, self.params + shift), self.yields(edges, self.params - shift)) for shift in shifts]


def fit_dijet_function(mjj, weights, start, stop, sqrt_s=SQRT_S, what="events", free_p3=False, exclude=None):
    """Unbinned weighted maximum-likelihood fit of the dijet function to ``mjj`` in [start, stop],
    leaving out the events in ``exclude`` = (low, high) when given (a sideband fit).

    The weights are rescaled to the effective number of events, sum(w)^2 / sum(w^2), so that
    the Hesse covariance reflects the statistical power of the sample, and the fit's
    normalization (``total``) is the sum of the original weights in the window.
    ``free_p3``: fit p3 too; over a window of a few TeV p3 is nearly degenerate with p1 and p2
    unless the sample is large, so by default p3 = 0 (the three-parameter form with the
    normalization). A fixed parameter has zero variance.
    """
    mjj, weights = np.asarray(mjj, dtype=np.float64), np.asarray(weights, dtype=np.float64)
    inside = (mjj >= start) & (mjj < stop)
    region = f"{start:g}-{stop:g} GeV"
    if exclude is not None:
        exclude = (float(exclude[0]), float(exclude[1]))
        if not start <= exclude[0] < exclude[1] <= stop:
            raise InvalidConfig(f"dijet function fit of {what}: the excluded interval {exclude} is not inside {region}")
        inside &= (mjj < exclude[0]) | (mjj >= exclude[1])
        region += f" without {exclude[0]:g}-{exclude[1]:g} GeV"
    mjj, weights = mjj[inside], weights[inside]
    if len(mjj) < 10 or weights.sum() <= 0:
        raise EmptySelection(f"dijet function fit of {what}: {len(mjj)} events in {region}, at least 10 are needed")
    effective = weights * weights.sum() / np.sum(weights**2)

    def nll(p1, p2, p3):
        params = (p1, p2, p3)
        with np.errstate(all="ignore"):  # far from the minimum the function under- or overflows: migrad steps back
            norm = _region_integral(params, start, stop, exclude, sqrt_s)
            return -np.sum(effective * np.log(dijet_shape(mjj, params, sqrt_s) / norm))

    minuit = Minuit(nll, p1=10.0, p2=5.0, p3=0.0)
    minuit.errordef = Minuit.LIKELIHOOD
    minuit.fixed["p3"] = not free_p3
    minuit.migrad()
    minuit.hesse()
    if not minuit.valid:
        raise EmptySelection(f"dijet function fit of {what}: no valid minimum ({len(mjj)} events in {region})")
    return DijetFit(np.array(minuit.values), np.array(minuit.covariance), float(weights.sum()), start, stop, sqrt_s, exclude)
