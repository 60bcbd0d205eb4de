"""Histogram templates of the dijet mass for pyhf workspaces: simulated histograms with their
statistical uncertainty, or smooth dijet-function fits with their eigenvector variations."""

import hist
import numpy as np

from mlhep.stats.dijet_function import fit_dijet_function
from mlhep.stats.workspace import sample_from_hists

__all__ = ["dijet_fit_template", "mc_template", "mjj_histogram"]


def mjj_histogram(bins, mjj=(), weight=(), yields=None):
    """A weighted mjj histogram of ``bins`` {count, start, stop}: filled with ``mjj`` and
    ``weight``, or holding ``yields``."""
    histogram = hist.Hist.new.Reg(bins["count"], bins["start"], bins["stop"], name="mjj", label=r"$m_{jj}$ [GeV]").Weight()
    if yields is None:
        histogram.fill(mjj=mjj, weight=weight)
    else:
        histogram.view().value = yields
    return histogram


def mc_template(events, bins, signal=False):
    """A SampleInput of the simulated mjj histograms of ``events`` {variation: (mjj, weight)},
    with their statistical uncertainty."""
    return sample_from_hists({variation: mjj_histogram(bins, *values) for variation, values in events.items()}, signal=signal)


def dijet_fit_template(events, bins, what):
    """A SampleInput of dijet-function fits to the events of each variation (smooth templates, no
    per-bin statistical uncertainty) with the nominal fit's eigenvector variations as shape
    uncertainties ``dijet_fit_0``, ``dijet_fit_1``, ..."""
    window = (bins["start"], bins["stop"])
    edges = np.linspace(*window, bins["count"] + 1)
    fits = {variation: fit_dijet_function(*values, *window, what=f"{what} ({variation})") for variation, values in events.items()}
    sample = sample_from_hists({variation: mjj_histogram(bins, yields=fit.yields(edges)) for variation, fit in fits.items()})
    for index, pair in enumerate(fits["nominal"].eigen_variations(edges)):
        sample.variations[f"dijet_fit_{index}"] = pair
    sample.stat_variance = None
    return sample
