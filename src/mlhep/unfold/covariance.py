"""Bin-to-bin covariances of an unfolded histogram, one per uncertainty source."""

import numpy as np

from mlhep.checks import check_bins

__all__ = ["SOURCES", "nuisance_shifts", "source_covariances"]

SOURCES = ("statistical", "detector", "model")


def nuisance_shifts(nominal, systematics):
    """One signed shift of the histogram per nuisance parameter: {nuisance: shift}. A pair of
    variations ``{x}_up`` and ``{x}_down`` is one nuisance ``x`` with the symmetrized shift
    (up - down) / 2; any other variation ``v`` (one-sided, as the JER smearing) is its own
    nuisance with the shift v - nominal."""
    nominal = np.asarray(nominal, dtype=np.float64)
    shifts = {}
    for name, values in systematics.items():
        stem, _, side = name.rpartition("_")
        pair = {"up": f"{stem}_down", "down": f"{stem}_up"}.get(side)
        if pair in systematics:
            if side == "up":
                shifts[stem] = (np.asarray(values, dtype=np.float64) - np.asarray(systematics[pair], dtype=np.float64)) / 2
        else:
            shifts[name] = np.asarray(values, dtype=np.float64) - nominal
    return shifts


def source_covariances(nominal, bootstrap=(), systematics=None, alternative=None):
    """The covariance of the unfolded histogram ``nominal`` from each source, and their sum.

    - statistical: the sample covariance of the ``bootstrap`` replicas' histograms (the data's
      Poisson replicas unfolded again; at least two);
    - detector: the sum over nuisances of s s^T, s each nuisance's shift (nuisance_shifts of
      the ``systematics`` histograms, {variation name: histogram}): each nuisance fully
      correlated across bins, the nuisances independent of each other;
    - model: m m^T, m the ``alternative`` simulation's result minus the nominal one.
    A source without inputs is absent from the result (not evaluated, which is not zero).
    The square roots of the diagonals are the per-bin uncertainties the unfold stage reports.
    Returns {source: (bins, bins)} with "total", the sum of those present.
    """
    nominal = check_bins(nominal, "source_covariances: nominal")
    out = {}
    if len(bootstrap) > 1:
        out["statistical"] = np.atleast_2d(np.cov(np.asarray(bootstrap, dtype=np.float64), rowvar=False))
    if systematics:
        out["detector"] = sum(np.outer(shift, shift) for shift in nuisance_shifts(nominal, systematics).values())
    if alternative is not None:
        shift = np.asarray(alternative, dtype=np.float64) - nominal
        out["model"] = np.outer(shift, shift)
    out["total"] = sum(out.values(), np.zeros((len(nominal), len(nominal))))
    return out
