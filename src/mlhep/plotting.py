"""Matplotlib with the mplhep style; every figure saved as PDF and PNG."""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import mplhep  # noqa: E402

__all__ = ["figure", "save"]


def figure(**kwargs):
    """A new figure and axes in the CMS-like mplhep style."""
    plt.style.use(mplhep.style.CMS)
    return plt.subplots(**kwargs)


def save(fig, stem):
    """Write ``stem``.pdf and ``stem``.png and close the figure."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    for suffix in (".pdf", ".png"):
        fig.savefig(stem.parent / f"{stem.name}{suffix}", dpi=100)  # names may hold dots (lambda_0.5)
    plt.close(fig)
