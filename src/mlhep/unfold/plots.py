"""Unfolded distributions against the truth, with uncertainty bands and a ratio panel."""

import mplhep
import numpy as np

from mlhep.plotting import COLORS, figure, save

__all__ = ["plot_unfolded"]

_LABELS = {
    "mass": "jet mass [GeV]",
    "multiplicity": "constituent multiplicity",
    "width": "jet width",
    "tau21": r"$\tau_{21}$",
    "zg": r"soft-drop $z_g$",
    "lnrho": r"$\ln\rho = \ln(m_{SD}^2 / p_T^2)$",
}

_STYLES = {
    "truth": {"color": "black", "label": "truth (data sample)"},
    "prior": {"color": "grey", "linestyle": "--", "label": "prior (simulation)"},
    "omnifold": {"color": COLORS[0], "label": "OmniFold"},
    "ibu": {"color": COLORS[1], "label": "IBU"},
}


def plot_unfolded(edges, results, observable, path):
    """``results`` = {name: (unit-sum histogram, uncertainty per bin)} for truth, prior, omnifold
    and ibu; the lower panel divides by the truth."""
    fig, (top, bottom) = figure(nrows=2, sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    truth = results["truth"][0]
    with np.errstate(divide="ignore", invalid="ignore"):
        for name, (values, uncertainty) in results.items():
            style = _STYLES[name]
            mplhep.histplot(values, edges, ax=top, **style)
            bottom.stairs(np.where(truth > 0, values / truth, np.nan), edges, color=style["color"], linestyle=style.get("linestyle", "-"))
            band = np.broadcast_to(uncertainty, values.shape)
            if np.any(band > 0):
                top.stairs(values + band, edges, baseline=values - band, fill=True, alpha=0.3, color=style["color"])
                bottom.stairs(np.where(truth > 0, (values + band) / truth, np.nan), edges, baseline=np.where(truth > 0, (values - band) / truth, np.nan), fill=True, alpha=0.3, color=style["color"])
    top.set_ylabel("fraction of events")
    top.legend(fontsize="small")
    bottom.axhline(1.0, color="black", linewidth=1)
    bottom.set_ylim(0.5, 1.5)
    bottom.set_ylabel("/ truth")
    bottom.set_xlabel(_LABELS.get(observable, observable))
    save(fig, path)
