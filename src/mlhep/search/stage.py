"""The tagged-search stage: mjj templates of the test events after a tagger cut, with JES/JER
variations, fitted with pyhf on pseudo-data, for the signal sample and every mass point."""

import logging
from dataclasses import dataclass

import awkward as ak
import numpy as np

from mlhep.columns import JET_FEATURES, dijet_columns, padded_constituents, read_columns, split
from mlhep.errors import EmptySelection
from mlhep.io import write_json
from mlhep.ml.models import load_model
from mlhep.process.systematics import VARIATIONS, vary_columns
from mlhep.stats.fit import fit_workspace, limit_vs_mass, ranking
from mlhep.stats.plots import plot_brazil, plot_pulls, plot_ranking, plot_stack
from mlhep.stats.templates import dijet_fit_template, mc_template
from mlhep.stats.workspace import build_workspace, patchset

__all__ = ["SearchSettings", "run_search", "scored_events", "tagged_events"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SearchSettings:
    """One entry of ``fits`` in the config, with the run's systematics and seed."""

    tagger: str
    signal: str
    background: str
    signal_efficiency: float
    signal_events: float
    background_events: float
    injected_mu: float
    bins: dict
    jes_uncertainty: float
    jer_extra: float
    seed: int
    background_model: str = "dijet_fit"
    mass_points: dict | None = None
    norm_uncertainties: dict | None = None
    inspire: str = "ins0000000"

    @classmethod
    def from_config(cls, analysis, systematics, seed):
        fields = set(cls.__dataclass_fields__)
        return cls(**{key: value for key, value in analysis.items() if key in fields}, jes_uncertainty=systematics["jes_uncertainty"], jer_extra=systematics["jer_extra"], seed=seed)


def scored_events(columns_path, tagger, settings):
    """The test events of one sample, read once: their weights and, per variation, their mjj and
    event score (the smaller of the two jets' tagger scores: an event passes a cut when both
    jets do). The taggers never saw the test split, so templates from it are unbiased. Only
    the test split's rows and the columns the tagger needs are read."""
    columns = read_columns(columns_path, dijet_columns(tagger.needs_constituents), rows=lambda event: split(event, settings.seed)[2])
    constituents = [padded_constituents(columns, f"j{jet}", tagger.max_particles, columns_path) for jet in (1, 2)] if tagger.needs_constituents else [None, None]
    scored = {}
    for variation in VARIATIONS:
        jets, mjj = vary_columns(columns, variation, settings.jes_uncertainty, settings.jer_extra, settings.seed)
        scores = []
        for values, particles in zip(jets, constituents):
            data = {"X": np.stack([values[f] for f in JET_FEATURES], axis=1)}
            if particles is not None:
                data["constituents"] = particles
            scores.append(tagger.predict(data))
        scored[variation] = (mjj, np.minimum(*scores))
    return ak.to_numpy(columns.weight).astype(np.float64), scored


def tagged_events(weight, scored, threshold, expected_events):
    """``{variation: (mjj, weight)}`` of the scored test events that pass the tagger cut, weighted
    to ``expected_events`` selected events before the cut (the nominal): histograms of them hold
    expected yields."""
    weight = weight * expected_events / weight.sum()
    return {variation: (mjj[score > threshold], weight[score > threshold]) for variation, (mjj, score) in scored.items()}


def _background(settings, path, tagger, threshold):
    weight, scored = scored_events(path, tagger, settings)
    events = tagged_events(weight, scored, threshold, settings.background_events)
    if events["nominal"][1].sum() <= 0:
        raise EmptySelection(f"{path}: no background test event passes the {settings.tagger} cut; loosen signal_efficiency")
    if settings.background_model == "dijet_fit":
        return dijet_fit_template(events, settings.bins, f"{path} after the {settings.tagger} cut")
    return mc_template(events, settings.bins)


def _fit_mass_points(settings, signal_columns, tagger, background_path):
    """{sample: (workspace, fit results)} of the signal sample and every mass point, with the cut
    that keeps ``signal_efficiency`` of the nominal signal test events."""
    samples = list(dict.fromkeys([settings.signal, *(settings.mass_points or {})]))
    scored = {sample: scored_events(signal_columns[sample], tagger, settings) for sample in samples}
    threshold = float(np.quantile(scored[settings.signal][1]["nominal"][1], 1.0 - settings.signal_efficiency))
    background = _background(settings, background_path, tagger, threshold)
    points = {}
    for sample in samples:
        signal = mc_template(tagged_events(*scored[sample], threshold, settings.signal_events), settings.bins, signal=True)
        spec = build_workspace({"tagged_mjj": {settings.signal: signal, settings.background: background}}, norm_uncertainties=settings.norm_uncertainties, asimov_mu=settings.injected_mu)
        points[sample] = (spec, fit_workspace(spec))
    selection = {"tagger": settings.tagger, "threshold": threshold, "background": float(background.nominal.sum())}
    return points, selection


def _plot(settings, spec, results, impacts, scanned, plot_dir):
    """Pre- and post-fit mjj, pulls, ranking and, with two or more mass points, the limit against mass."""
    bins = settings.bins
    edges = np.linspace(bins["start"], bins["stop"], bins["count"] + 1)
    for stage in ("prefit", "postfit"):
        plot_stack(spec, f"{plot_dir}/{stage}", postfit=stage == "postfit", edges={"tagged_mjj": edges}, xlabel=r"$m_{jj}$ [GeV]")
    plot_pulls(results["pulls"], f"{plot_dir}/pulls")
    plot_ranking(impacts, f"{plot_dir}/ranking")
    if len(scanned) >= 2:
        plot_brazil(*limit_vs_mass(scanned), f"{plot_dir}/limit_vs_mass")


def run_search(settings, signal_columns, background_columns, tagger_folder, fit_dir, plot_dir):
    """One tagged search (``settings``: SearchSettings): templates, workspace and fit of the signal
    sample and of every mass point.

    Args:
        signal_columns: ``{sample: columns path}`` of the signal sample and the mass points.

    Writes to ``fit_dir``: workspace.json and results.json (the signal sample), ranking.json,
    limits.json (every mass point), and the likelihoods of every mass point as pyhf publishes
    them: bkgonly.json, the background-only workspace, and patchset.json, a patch per mass point
    (its signal and its Asimov data) whose refit gives the point's limits; to ``plot_dir`` the
    plots. Returns the signal sample's results.
    """
    log.info("tagged search: %s over %s with %s at %g signal efficiency, mass points %s", settings.signal, settings.background, settings.tagger, settings.signal_efficiency, settings.mass_points)
    points, selection = _fit_mass_points(settings, signal_columns, load_model(tagger_folder), background_columns)
    masses = settings.mass_points or {}
    spec, results = points[settings.signal]
    results["selection"] = selection
    write_json(spec, f"{fit_dir}/workspace.json")
    write_json(results, f"{fit_dir}/results.json")
    limits = [
        {"sample": sample, "mass": masses.get(sample), **{key: fitted[key] for key in ("mu_hat", "upper_limit_obs", "upper_limit_exp", "significance")}}
        for sample, (_, fitted) in sorted(points.items(), key=lambda item: masses.get(item[0]) or 0)
    ]
    write_json(limits, f"{fit_dir}/limits.json")
    # a patch per mass point, looked up by its mass; by the sample's name when the scan has no masses
    by_mass = all(point["mass"] is not None for point in limits)
    labelled = [(point["sample"], point["mass"] if by_mass else point["sample"], points[point["sample"]][0]) for point in limits]
    description = f"tagged m_jj search ({settings.tagger} at {settings.signal_efficiency:g} signal efficiency) for {settings.signal}-like resonances over {settings.background}; one patch per " + ("mass point (GeV)" if by_mass else "signal sample")
    background_only, patches = patchset(labelled, label="mass" if by_mass else "sample", description=description, inspire=settings.inspire)
    write_json(background_only, f"{fit_dir}/bkgonly.json")
    write_json(patches, f"{fit_dir}/patchset.json")
    impacts = ranking(spec)
    write_json(impacts, f"{fit_dir}/ranking.json")
    scanned = [(point["mass"], points[point["sample"]][1]) for point in limits if point["mass"] is not None]
    _plot(settings, spec, results, impacts, scanned, plot_dir)
    for point in limits:
        log.info("%s: mu_hat %.3f, 95%% CL upper limit %.3f observed, %.3f expected", point["sample"], point["mu_hat"], point["upper_limit_obs"], point["upper_limit_exp"][2])
    return results
