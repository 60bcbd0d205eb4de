"""The bump hunt after an anomaly-score cut: a sideband fit interpolated into the signal region,
its closure against the true background, and the pyhf significance of the excess."""

from dataclasses import dataclass

import numpy as np
import pyhf

from mlhep.stats.dijet_function import DijetFit, fit_dijet_function
from mlhep.stats.fit import model_and_data
from mlhep.stats.workspace import SampleInput, build_workspace

__all__ = ["SidebandEstimate", "closure_chi2", "excess_significance", "mjj_edges", "sideband_estimate"]


def mjj_edges(window, signal_region, sr_bins):
    """Bin edges over ``window`` with the signal region's bin width, aligned on its edges (the
    outermost bins are cut at the window)."""
    low, high = signal_region
    width = (high - low) / sr_bins
    below = low - width * np.arange(int(np.ceil((low - window[0]) / width - 1e-6)), 0, -1)
    above = high + width * np.arange(1, int(np.ceil((window[1] - high) / width - 1e-6)))
    inner = np.linspace(low, high, sr_bins + 1)
    return np.concatenate([[window[0]], below[below > window[0]], inner, above, [window[1]]])


@dataclass
class SidebandEstimate:
    """The background in the signal region predicted by a dijet-function fit to the sidebands.

    Attributes:
        fit: the DijetFit (its ``exclude`` is the signal region).
        prediction: expected events per signal-region bin.
        covariance: of ``prediction`` from the fit: its parameters' eigenvector variations and
            the Poisson uncertainty of the sideband count that sets its normalization.
    """

    fit: DijetFit
    prediction: np.ndarray
    covariance: np.ndarray

    @property
    def total(self):
        return float(self.prediction.sum())

    @property
    def total_uncertainty(self):
        return float(np.sqrt(self.covariance.sum()))


def sideband_estimate(mjj, window, signal_region, sr_edges, weights=None, what="events"):
    """Fit the dijet function to the events of ``window`` outside ``signal_region`` and predict
    the signal-region bins ``sr_edges``: a SidebandEstimate."""
    weights = np.ones(len(mjj)) if weights is None else weights
    fit = fit_dijet_function(mjj, weights, *window, what=what, exclude=signal_region)
    prediction = fit.yields(sr_edges)
    shifts = [(up - down) / 2 for up, down in fit.eigen_variations(sr_edges)]
    covariance = sum((np.outer(s, s) for s in shifts), np.zeros((len(prediction), len(prediction))))
    covariance += np.outer(prediction, prediction) / fit.total
    return SidebandEstimate(fit, prediction, covariance)


def closure_chi2(prediction, covariance, counts):
    """chi2 of ``counts`` against a prediction with ``covariance``, plus the Poisson variance of
    the counts (taken at the prediction); ndf is the number of bins."""
    residual = np.asarray(counts, dtype=np.float64) - prediction
    total = covariance + np.diag(np.maximum(prediction, 1.0))
    return float(residual @ np.linalg.solve(total, residual))


def excess_significance(observed, background, uncertainty):
    """Discovery significance (sigma, from pyhf's q0 in the asymptotic approximation) of
    ``observed`` events in the signal region over ``background`` +- ``uncertainty``.

    One bin: the search does not assume a signal shape. The background's uncertainty enters
    as a normsys; the signal template is sized like the excess so that mu stays near 1.
    """
    relative = min(uncertainty / background, 0.99)
    signal = max(observed - background, uncertainty, 1.0)
    channels = {"signal_region": {"signal": SampleInput(np.array([signal]), signal=True), "background": SampleInput(np.array([background]))}}
    spec = build_workspace(channels, norm_uncertainties={"background": relative}, observations={"signal_region": np.array([float(observed)])})
    model, data = model_and_data(spec)
    # Z = sqrt(q0) in the asymptotic approximation: no p-value that underflows for large excesses
    q0 = pyhf.infer.test_statistics.q0(0.0, data, model, model.config.suggested_init(), model.config.suggested_bounds(), model.config.suggested_fixed())
    return float(np.sqrt(max(float(q0), 0.0)))
