"""Matplotlib with the mplhep style; every figure saved as PDF and PNG."""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import mplhep

__all__ = ["figure", "save"]


def figure(**kwargs):
    """A new figure and axes in the CMS-like mplhep style."""
    plt.style.use(mplhep.style.CMS)
    return plt.subplots(**kwargs)


def save(fig, stem):
    """Write ``stem``.pdf and ``stem``.png and close the figure."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    # names may hold dots (lambda_0.5); no creation date, so that a rerun writes the same bytes
    fig.savefig(stem.parent / f"{stem.name}.pdf", dpi=100, metadata={"CreationDate": None})
    fig.savefig(stem.parent / f"{stem.name}.png", dpi=100)
    plt.close(fig)
