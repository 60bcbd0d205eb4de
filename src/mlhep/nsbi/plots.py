"""NSBI plots: profile-likelihood scans, reliability curves of the ratio classifiers, and learned
against exact log-ratios on the toy."""

import mplhep
import numpy as np

from mlhep.plotting import figure, save

__all__ = ["plot_calibration", "plot_scans", "plot_toy_ratio"]


def plot_scans(curves, path):
    """-2 Delta lnL against mu, one line per method (``curves`` = {label: (mu, q)})."""
    fig, ax = figure()
    for label, (mu, q) in curves.items():
        ax.plot(mu, q, label=label)
    for level in (1.0, 3.84):
        ax.axhline(level, color="grey", linestyle=":", linewidth=1)
    ax.set_ylim(0, 6)
    ax.set_xlabel(r"$\mu$")
    ax.set_ylabel(r"$-2\Delta\ln L$")
    ax.legend()
    save(fig, path)


def plot_toy_ratio(exact, learned, path):
    """Learned against exact log p_S / p_B on held-out toy events, with the diagonal."""
    fig, ax = figure()
    counts, x_edges, y_edges = np.histogram2d(exact, learned, bins=60, range=[[-8, 6], [-8, 6]])
    mplhep.hist2dplot(np.where(counts > 0, counts, np.nan), x_edges, y_edges, ax=ax, cbarextend=False)
    ax.plot([-8, 6], [-8, 6], color="red", linewidth=1)
    ax.set_xlabel(r"exact $\ln p_S / p_B$")
    ax.set_ylabel(r"learned $\ln p_S / p_B$")
    save(fig, path)


def plot_calibration(curves, stem):
    """Reliability curves ``{label: (predicted, observed)}`` against the diagonal, saved as
    ``stem``.pdf/png."""
    fig, ax = figure()
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", label="perfectly calibrated")
    for name, (predicted, observed) in curves.items():
        ax.plot(predicted, observed, marker="o", label=name)
    ax.set(xlabel="mean predicted probability", ylabel="observed fraction", xlim=(0, 1), ylim=(0, 1))
    ax.legend()
    save(fig, stem)
