"""Figures of the bump hunt: SIC curves, the injection scan, mjj spectra with the background
estimate, and the flow's samples against the data."""

from pathlib import Path

import mplhep
import numpy as np

from mlhep.plotting import data_points, figure, save

__all__ = ["plot_summary"]

LABELS = {"cathode": "CATHODE", "cwola": "CWoLa hunting", "idealized": "idealized AD", "supervised": "supervised"}


def _sic_curves(runs, settings, path):
    """Median SIC against signal efficiency over the seeds, with the 16-84 % band."""
    fig, ax = figure()
    grid = np.asarray(runs[0]["eps_s_grid"])
    for method, label in LABELS.items():
        curves = np.array([r["methods"][method]["sic"] for r in runs if r["methods"][method]["sic"]], dtype=np.float64)  # None: nan
        if not len(curves):
            continue
        defined = np.isfinite(curves).any(axis=0)  # the SIC floor ends the curves at low eps_S
        ax.plot(grid[defined], np.nanmedian(curves[:, defined], axis=0), label=label)
        ax.fill_between(grid[defined], *np.nanpercentile(curves[:, defined], [16, 84], axis=0), alpha=0.25)
    ax.plot(grid, np.sqrt(grid), color="grey", linestyle=":", label="random")
    ax.set(xlabel=r"signal efficiency $\varepsilon_S$", ylabel=r"SIC = $\varepsilon_S$ / √$\varepsilon_B$", xlim=(0, 1))
    ax.legend(title=f"S/√B = {runs[0]['injection']}, {len(runs)} seeds")
    save(fig, path)


def _injection_scan(summary, path):
    """Median max SIC (16-84 % band as error bars) against the injected S/sqrt(B)."""
    fig, ax = figure()
    keys = list(summary["injections"])
    x = np.array([float(k) for k in keys])
    for offset, (method, label) in enumerate(LABELS.items()):
        values = [summary["injections"][k][method] for k in keys]
        median, low, high = (np.array([v[f"max_sic_{q}"] for v in values], dtype=np.float64) for q in ("median", "16", "84"))
        errors = [median - low, high - median]
        ax.errorbar(x + 0.03 * (offset - 1.5), median, yerr=errors, marker="o", capsize=3, label=label)
    ax.axhline(1.0, color="grey", linestyle=":", linewidth=1)
    ax.set(xlabel="injected S/√B in the signal region", ylabel="max SIC")
    ax.legend()
    save(fig, path)


def _spectrum(run, method, efficiency, settings, path):
    """mjj before and after the cut, the sideband fit and its signal-region prediction."""
    hunt = next(h for h in run["methods"][method]["bump_hunt"] if np.isclose(h["efficiency"], efficiency))
    if "fit" not in hunt:  # the sideband fit failed (too few events after the cut)
        return
    edges = np.asarray(run["mjj_edges"])
    fig, (ax, ratio) = figure(nrows=2, sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    mplhep.histplot(np.asarray(run["spectrum"]), edges, color="grey", label="data, no cut", ax=ax)
    mplhep.histplot(np.asarray(hunt["spectrum_background"]), edges, label="true background after the cut", ax=ax)
    counts = np.asarray(hunt["spectrum"], dtype=np.float64)
    data_points(ax, edges, counts, label=f"data after the cut ({efficiency:g} of the SR)")
    mplhep.histplot(np.asarray(hunt["fit"]), edges, label="sideband fit", ax=ax)
    sr_edges = np.linspace(*run["signal_region"], settings["sr_bins"] + 1)
    if "samples_prediction" in hunt:
        mplhep.histplot(np.asarray(hunt["samples_prediction"]), sr_edges, linestyle="--", label="CATHODE samples", ax=ax)
    for boundary in run["signal_region"]:
        for axis in (ax, ratio):
            axis.axvline(boundary, color="grey", linestyle=":", linewidth=1)
    ax.set_yscale("log")
    ax.set_ylabel("events / bin")
    ax.legend(fontsize="x-small", title=f"{LABELS[method]}, S/√B = {run['injection']}, Z = {hunt['significance']:.1f}", title_fontsize="x-small")
    fit = np.asarray(hunt["fit"])
    data_points(ratio, edges, counts, scale=fit)
    ratio.axhline(1.0, color="grey", linewidth=1)
    ratio.set(xlabel=r"$m_{jj}$ [GeV]", ylabel="data / fit", ylim=(0, 2.5))
    save(fig, path)


def _flow_samples(run, path):
    """Per feature: flow samples against the sideband data, and CATHODE's SR samples against
    the true SR background."""
    features = list(run["flow"]["sidebands"])
    fig, axes = figure(nrows=2, ncols=len(features), figsize=(5 * len(features), 9))
    for row, (region, names) in enumerate((("sidebands", ("SB data", "flow")), ("signal_region", ("true SR background", "CATHODE samples")))):
        for ax, feature in zip(axes[row], features):
            entry = run["flow"][region][feature]
            edges = np.asarray(entry["edges"])
            for key, name in zip(("reference", "generated"), names):
                counts = np.asarray(entry[key], dtype=np.float64)
                mplhep.histplot(counts / max(counts.sum(), 1.0), edges, label=name, ax=ax)
            ax.set_xlabel(feature)
            ax.legend(fontsize="x-small")
    save(fig, path)


def _window_scan(summary, path):
    """Bump-hunt significance of each sliding signal region, at the centre of the region."""
    fig, ax = figure()
    centers = [sum(w["signal_region"]) / 2 for w in summary["windows"]]
    for method, label in LABELS.items():
        ax.plot(centers, [np.nan if w[method] is None else w[method] for w in summary["windows"]], marker="o", label=label)
    ax.set(xlabel=r"centre of the signal region, $m_{jj}$ [GeV]", ylabel=r"significance of the excess [$\sigma$]")
    ax.legend(title=f"S/√B = {summary['headline']} in {summary['signal_region'][0]:g}-{summary['signal_region'][1]:g} GeV", fontsize="small", loc="upper right")
    save(fig, path)


def plot_summary(runs, summary, settings, plot_dir):
    """Every figure of the stage into ``plot_dir`` (PNG and PDF)."""
    plot_dir = Path(plot_dir)
    headline = [r for r in runs if r["injection"] == summary["headline"]] or runs
    headline.sort(key=lambda r: r["seed"])
    _sic_curves(headline, settings, plot_dir / "sic_curves")
    _injection_scan(summary, plot_dir / "max_sic_vs_injection")
    _flow_samples(headline[0], plot_dir / "flow_samples")
    if summary["windows"]:
        _window_scan(summary, plot_dir / "significance_vs_window")
    for injection in {summary["headline"], "0"}:
        first = sorted((r for r in runs if r["injection"] == injection), key=lambda r: r["seed"])
        for method in LABELS:
            if first:
                _spectrum(first[0], method, settings["significance_efficiency"], settings, plot_dir / f"mjj_{method}_injection_{injection}")
