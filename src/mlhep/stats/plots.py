"""Fit plots: stacked pre-/post-fit yields with data, Brazil band of limits, pulls and ranking."""

import mplhep
import numpy as np

from mlhep.plotting import data_points, figure, save
from mlhep.stats.fit import model_and_data, parameter_covariance

__all__ = ["plot_brazil", "plot_pulls", "plot_ranking", "plot_stack", "prediction_band"]


def prediction_band(spec, pars, covariance):
    """Per-bin one-sigma uncertainty of the total expected yield at ``pars``, propagated linearly
    from the parameters' ``covariance``: sqrt(diag(J C J^T)), J by central differences of a
    tenth of each parameter's sigma."""
    model, _ = model_and_data(spec)
    sigmas = np.sqrt(np.clip(np.diag(covariance), 0.0, None))
    jacobian = np.zeros((len(pars), model.config.nmaindata))
    for index in np.flatnonzero(sigmas > 0):
        step = np.zeros(len(pars))
        step[index] = 0.1 * sigmas[index]
        up, down = (np.asarray(model.expected_actualdata(pars + sign * step)) for sign in (1, -1))
        jacobian[index] = (up - down) / (2 * step[index])
    return np.sqrt(np.clip(np.einsum("ib,ij,jb->b", jacobian, covariance, jacobian), 0.0, None))


def plot_stack(spec, path, *, postfit=False, edges=None, xlabel="observable"):
    """Per channel, expected yields stacked by sample with their total uncertainty (hatched: the
    constraints' widths pre-fit, the fit's covariance post-fit), the data with Poisson
    intervals, and a data/expected panel.

    Writes ``path``_``channel``.pdf/png. ``edges`` = ``{channel: bin edges}`` (x axis
    ``xlabel``); without it the x axis counts bins.
    """
    model, _ = model_and_data(spec)
    pars, covariance = parameter_covariance(spec, postfit=postfit)  # post-fit: the best fit again, with its covariance
    by_sample = model.main_model.expected_data(pars, return_by_sample=True)
    band = prediction_band(spec, pars, covariance)
    observed = {entry["name"]: np.asarray(entry["data"], dtype=np.float64) for entry in spec["observations"]}
    stage = "post-fit" if postfit else "pre-fit"
    for channel in model.config.channels:
        bins = model.config.channel_slices[channel]
        yields = by_sample[:, bins]
        if edges:
            channel_edges, label = np.asarray(edges[channel], dtype=np.float64), xlabel
        else:
            channel_edges, label = np.arange(yields.shape[1] + 1, dtype=np.float64), "bin"
        _stack_figure(channel_edges, model.config.samples, yields, band[bins], observed[channel], f"{channel} ({stage})", label, f"{path}_{channel}")


def _stack_figure(edges, samples, yields, band, data, title, xlabel, stem):
    fig, (top, bottom) = figure(nrows=2, sharex=True, gridspec_kw={"height_ratios": (3, 1), "hspace": 0.05})
    present = yields.sum(axis=1) > 0
    order = np.argsort(yields.sum(axis=1)[present])  # histplot stacks the first at the bottom: the largest last on the legend
    if present.any():
        mplhep.histplot(list(yields[present][order][::-1]), edges, stack=True, histtype="fill", label=list(np.asarray(samples)[present][order][::-1]), ax=top)
    total = yields.sum(axis=0)
    step = lambda values: np.append(values, values[-1])
    top.fill_between(edges, step(total - band), step(total + band), step="post", facecolor="none", edgecolor="black", hatch="///", linewidth=0, label="total uncertainty")
    data_points(top, edges, data, label="data")
    top.set_ylabel("events")
    top.set_yscale("log")
    visible = total[total > 1e-3]  # not down to the floored empty bins
    top.set_ylim(bottom=0.5 * visible.min() if visible.size else 0.1)
    top.legend(title=title, frameon=True, facecolor="white", framealpha=0.9)
    with np.errstate(divide="ignore", invalid="ignore"):
        relative = np.where(total > 0, band / total, np.nan)
    bottom.fill_between(edges, step(1 - relative), step(1 + relative), step="post", facecolor="none", edgecolor="black", hatch="///", linewidth=0)
    data_points(bottom, edges, data, scale=np.where(total > 0, total, np.nan))
    bottom.axhline(1.0, color="grey", linestyle="--")
    bottom.set_ylabel("data / exp.")
    bottom.set_xlabel(xlabel)
    save(fig, stem)


def plot_brazil(masses, obs, exp5, path):
    """Upper limits against mass: expected median with the +-1 (green) and +-2 sigma (yellow)
    bands, observed line; ``exp5`` has shape (n, 5), -2..+2 sigma."""
    exp5 = np.asarray(exp5, dtype=np.float64)
    fig, ax = figure()
    ax.fill_between(masses, exp5[:, 0], exp5[:, 4], color="yellow", label=r"expected $\pm 2\sigma$")
    ax.fill_between(masses, exp5[:, 1], exp5[:, 3], color="limegreen", label=r"expected $\pm 1\sigma$")
    ax.plot(masses, exp5[:, 2], "k--", label="expected")
    ax.plot(masses, obs, "ko-", label="observed")
    ax.axhline(1.0, color="red", linewidth=1)
    ax.set_xlabel(r"$m_{W'}$ [GeV]")
    ax.set_ylabel(r"95% CL upper limit on $\mu$")
    ax.legend(loc="best")
    save(fig, path)


def plot_pulls(pulls, path):
    """Post-fit nuisance parameters in units of their pre-fit width, with bands at +-1 and +-2."""
    names = list(pulls)
    values = np.array([pulls[name][0] for name in names], dtype=np.float64)
    errors = np.array([pulls[name][1] for name in names], dtype=np.float64)
    positions = np.arange(len(names))
    fig, ax = figure(figsize=(10, max(4, 0.35 * len(names) + 2)), layout="constrained")
    ax.axvspan(-2, 2, color="yellow")
    ax.axvspan(-1, 1, color="limegreen")
    ax.axvline(0, color="grey", linestyle="--")
    ax.errorbar(values, positions, xerr=errors, fmt="ko", markersize=4)
    ax.set_yticks(positions, names, fontsize="small")
    ax.set_ylim(-1, len(names))
    ax.set_xlim(-3, 3)
    ax.set_xlabel(r"$(\hat{\theta} - \theta_0) / \Delta\theta$")
    ax.set_title("nuisance-parameter pulls")
    save(fig, path)


def plot_ranking(impacts, path, top=15):
    """Impact on the POI of the ``top`` ranked nuisance parameters: post-fit (filled) and pre-fit
    (open) shifts of mu-hat when the parameter moves up (blue) or down (red) by one sigma."""
    shown = impacts[:top][::-1]
    positions = np.arange(len(shown))
    fig, ax = figure(figsize=(10, max(4, 0.4 * len(shown) + 2)), layout="constrained")
    for direction, colour in (("up", "tab:blue"), ("down", "tab:red")):
        prefit = [row[f"prefit_{direction}"] for row in shown]
        postfit = [row[f"postfit_{direction}"] for row in shown]
        ax.barh(positions, prefit, height=0.7, fill=False, edgecolor=colour)
        ax.barh(positions, postfit, height=0.7, color=colour, alpha=0.7, label=r"$+1\sigma$" if direction == "up" else r"$-1\sigma$")
    ax.axvline(0, color="grey", linewidth=1)
    ax.set_yticks(positions, [row["parameter"] for row in shown], fontsize="small")
    ax.set_xlabel(r"$\Delta\hat{\mu}$ (filled: post-fit, open: pre-fit)")
    ax.legend(loc="lower right")
    save(fig, path)
