"""Bin-to-bin covariances of an unfolded histogram, one per uncertainty source."""

import numpy as np

from mlhep.checks import check_bins

__all__ = ["SOURCES", "source_covariances"]

SOURCES = ("statistical", "detector", "model")


def source_covariances(nominal, bootstrap=(), systematics=(), alternative=None):
    """The covariance of the unfolded histogram ``nominal`` from each source, and their sum.

    - statistical: the covariance of the ``bootstrap`` replicas' histograms (the data's Poisson
      replicas unfolded again; normalized by their number, so its diagonal is their variance);
    - detector: fully correlated, d d^T, where d holds in each bin the shift of largest size
      among the ``systematics`` histograms (the simulation's detector variations unfolded);
    - model: fully correlated, m m^T with m the ``alternative`` simulation's result minus the
      nominal one.
    A source without inputs is zero. The square roots of the diagonals are the per-bin
    uncertainties the unfold stage reports. Returns {source: (bins, bins)} with "total".
    """
    nominal = np.asarray(nominal, dtype=np.float64)
    check_bins(nominal, "source_covariances: nominal")
    zero = np.zeros((len(nominal), len(nominal)))
    out = {source: zero for source in SOURCES}
    if len(bootstrap) > 1:
        out["statistical"] = np.cov(np.asarray(bootstrap, dtype=np.float64), rowvar=False, bias=True)
    if len(systematics):
        shifts = np.asarray(systematics, dtype=np.float64) - nominal
        largest = shifts[np.argmax(np.abs(shifts), axis=0), np.arange(len(nominal))]
        out["detector"] = np.outer(largest, largest)
    if alternative is not None:
        shift = np.asarray(alternative, dtype=np.float64) - nominal
        out["model"] = np.outer(shift, shift)
    out["total"] = sum(out[source] for source in SOURCES)
    return out
