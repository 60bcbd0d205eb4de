"""Matplotlib as the field draws: mplhep's CMS-like style with a colour-blind-safe cycle of ten
colours, an experiment label, Poisson (Garwood) intervals on data; every figure saved as PDF and
PNG."""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import mplhep
import numpy as np
from hist.intervals import poisson_interval

__all__ = ["COLORS", "data_points", "experiment_label", "figure", "save"]

# Petroff's ten colours (arXiv:2107.02270), chosen to stay distinct under colour-vision deficiencies
COLORS = tuple(matplotlib.style.library["petroff10"]["axes.prop_cycle"].by_key()["color"])


def figure(data=False, lumi=None, **kwargs):
    """A new figure and axes (plt.subplots' ``kwargs``) in the CMS-like mplhep style, with the
    ten-colour cycle and the experiment label (experiment_label) above the first axes."""
    plt.style.use([mplhep.style.CMS, "petroff10"])
    fig, axes = plt.subplots(**kwargs)
    experiment_label(fig.axes[0], data=data, lumi=lumi)
    return fig, axes


def experiment_label(ax, data=False, lumi=None):
    """"mlhep Simulation" (or "Private work" for real data) and sqrt(s) = 13 TeV, with the
    integrated luminosity in fb^-1 where there is one, above ``ax``."""
    return mplhep.label.exp_label(exp="mlhep", llabel="Private work" if data else "Simulation", lumi=lumi, com=13, ax=ax)


def data_points(ax, edges, counts, scale=None, **kwargs):
    """Observed ``counts`` per bin as points with their 68 % Garwood (Poisson) intervals, not
    sqrt(N): a bin with 0 events has an upper error of 1.84. ``scale`` divides values and
    intervals (a ratio panel)."""
    counts = np.asarray(counts, dtype=np.float64)
    low, high = poisson_interval(counts)
    low = np.where(counts > 0, low, 0.0)
    scale = np.ones_like(counts) if scale is None else np.asarray(scale, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        values, errors = counts / scale, np.stack([(counts - low) / scale, (high - counts) / scale])
    centres = 0.5 * (np.asarray(edges[1:]) + np.asarray(edges[:-1]))
    return ax.errorbar(centres, values, yerr=errors, fmt="o", color="black", markersize=4, **kwargs)


def save(fig, stem):
    """Write ``stem``.pdf and ``stem``.png and close the figure."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    # names may hold dots (lambda_0.5); no creation date, so that a rerun writes the same bytes
    fig.savefig(stem.parent / f"{stem.name}.pdf", dpi=100, metadata={"CreationDate": None})
    fig.savefig(stem.parent / f"{stem.name}.png", dpi=100)
    plt.close(fig)
