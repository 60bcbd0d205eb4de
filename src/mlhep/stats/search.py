"""A tagged dijet resonance search: mjj templates after a tagger cut, with JES/JER variations,
fitted with pyhf on pseudo-data."""

import awkward as ak
import hist
import numpy as np

from mlhep.columns import read_columns
from mlhep.errors import EmptySelection
from mlhep.io import write_json
from mlhep.ml.data import JET_FEATURES, jet_column, padded_constituents, split
from mlhep.ml.taggers import MODELS
from mlhep.process.common import pair_mass
from mlhep.process.systematics import VARIATIONS, scale_factors
from mlhep.stats.dijet_function import fit_dijet_function
from mlhep.stats.fit import fit_workspace, limit_vs_mass, ranking
from mlhep.stats.plots import plot_brazil, plot_pulls, plot_ranking, plot_stack
from mlhep.stats.workspace import build_workspace, sample_from_hists

__all__ = ["dijet_fit_template", "load_tagger", "mc_template", "run_search", "tag_threshold", "tagged_events", "varied_jets"]

_SCALED = ("mass", "msd", "pt")  # what the jet energy scale and resolution act on


def load_tagger(kind, folder):
    """A trained tagger of ``kind`` (a key of taggers.models, e.g. disco) from its results folder."""
    return MODELS[kind][0].load(folder)


def _test_events(columns_path, seed):
    columns = read_columns(columns_path)
    # the taggers never saw the test split: templates from it are unbiased by the training
    return columns[split(ak.to_numpy(columns.event), seed)[2]]


def varied_jets(columns, variation, jes_uncertainty, jer_extra, seed):
    """Per-jet features (two data dicts, j1 and j2) and mjj after one variation."""
    n = len(columns)
    factors = scale_factors(np.full(n, 2), ak.to_numpy(columns.event), variation, jes_uncertainty, jer_extra, seed).reshape(n, 2)
    jets, kinematics = [], []
    for jet in (1, 2):
        values = {f: ak.to_numpy(columns[jet_column(f, jet)]).astype(np.float64) for f in JET_FEATURES}
        for f in _SCALED:
            values[f] = values[f] * factors[:, jet - 1]
        jets.append(values)
        kinematics.append((values["pt"], values["eta"], ak.to_numpy(columns[f"phi_j{jet}"]), values["mass"]))
    return jets, pair_mass(*kinematics)


def _event_scores(tagger, columns, jets):
    """The smaller of the two jets' scores: an event passes a cut when both jets do."""
    scores = []
    for jet, values in zip((1, 2), jets):
        data = {"X": np.stack([values[f] for f in JET_FEATURES], axis=1)}
        if tagger.needs_constituents:
            data["constituents"] = padded_constituents(columns, f"j{jet}", tagger.max_particles, "feature table")
        scores.append(tagger.predict(data))
    return np.minimum(*scores)


def tag_threshold(tagger, signal_columns, seed, efficiency):
    """Cut on the event score that keeps ``efficiency`` of the nominal signal test events."""
    columns = _test_events(signal_columns, seed)
    jets, _ = varied_jets(columns, "nominal", 0.0, 0.0, seed)
    return float(np.quantile(_event_scores(tagger, columns, jets), 1.0 - efficiency))


def tagged_events(columns_path, tagger, threshold, expected_events, seed, jes_uncertainty, jer_extra):
    """``{variation: (mjj, weight)}`` of the test events of one sample that pass the tagger cut.

    The weights scale the sample to ``expected_events`` selected events before the tagger cut
    (the nominal), so that histograms of them hold expected yields.
    """
    columns = _test_events(columns_path, seed)
    weight = ak.to_numpy(columns.weight).astype(np.float64)
    weight = weight * expected_events / weight.sum()
    events = {}
    for variation in VARIATIONS:
        jets, mjj = varied_jets(columns, variation, jes_uncertainty, jer_extra, seed)
        passing = _event_scores(tagger, columns, jets) > threshold
        events[variation] = (mjj[passing], weight[passing])
    return events


def _histogram(bins, mjj=(), weight=(), yields=None):
    histogram = hist.Hist.new.Reg(bins["count"], bins["start"], bins["stop"], name="mjj", label="m_jj [GeV]").Weight()
    if yields is None:
        histogram.fill(mjj=mjj, weight=weight)
    else:
        histogram.view().value = yields
    return histogram


def mc_template(events, bins, signal=False):
    """A SampleInput of the simulated mjj histograms, with their statistical uncertainty."""
    return sample_from_hists({variation: _histogram(bins, *values) for variation, values in events.items()}, signal=signal)


def dijet_fit_template(events, bins, what):
    """A SampleInput of dijet-function fits to the events of each variation (smooth templates, no
    per-bin statistical uncertainty) with the nominal fit's eigenvector variations as shape
    uncertainties ``dijet_fit_0``, ``dijet_fit_1``, ..."""
    window = (bins["start"], bins["stop"])
    edges = np.linspace(*window, bins["count"] + 1)
    fits = {variation: fit_dijet_function(*values, *window, what=f"{what} ({variation})") for variation, values in events.items()}
    sample = sample_from_hists({variation: _histogram(bins, yields=fit.yields(edges)) for variation, fit in fits.items()})
    for index, pair in enumerate(fits["nominal"].eigen_variations(edges)):
        sample.variations[f"dijet_fit_{index}"] = pair
    sample.stat_variance = None
    return sample


def _fit_mass_point(analysis, signal, background):
    """Workspace and fit results of one signal template against the background template."""
    samples = {analysis["signal"]: signal, analysis["background"]: background}
    spec = build_workspace({"tagged_mjj": samples}, norm_uncertainties=analysis.get("norm_uncertainties"), asimov_mu=analysis["injected_mu"])
    return spec, fit_workspace(spec)


def run_search(analysis, signal_columns, background_columns, tagger_kind, tagger_folder, systematics, seed, fit_dir, plot_dir):
    """One tagged search: templates, workspace and fit of the signal sample and of every mass point.

    Args:
        signal_columns: ``{sample: columns path}`` of the signal sample and the mass points.

    Writes to ``fit_dir``: workspace.json and results.json (the signal sample), ranking.json,
    limits.json (every mass point); to ``plot_dir``: pre- and
    post-fit mjj, pulls, ranking and, with two or more mass points, the limit against mass.
    Returns the signal sample's results.
    """
    tagger = load_tagger(tagger_kind, tagger_folder)
    threshold = tag_threshold(tagger, signal_columns[analysis["signal"]], seed, analysis["signal_efficiency"])
    options = {"seed": seed, "jes_uncertainty": systematics["jes_uncertainty"], "jer_extra": systematics["jer_extra"]}
    background_events = tagged_events(background_columns, tagger, threshold, analysis["background_events"], **options)
    if background_events["nominal"][1].sum() <= 0:
        raise EmptySelection(f"{background_columns}: no background test event passes the {analysis['tagger']} cut; loosen signal_efficiency")
    if analysis.get("background_model", "dijet_fit") == "dijet_fit":
        background = dijet_fit_template(background_events, analysis["bins"], f"{background_columns} after the {analysis['tagger']} cut")
    else:
        background = mc_template(background_events, analysis["bins"])
    masses = analysis.get("mass_points") or {analysis["signal"]: None}
    points = {}
    for sample in dict.fromkeys([analysis["signal"], *masses]):
        events = tagged_events(signal_columns[sample], tagger, threshold, analysis["signal_events"], **options)
        points[sample] = _fit_mass_point(analysis, mc_template(events, analysis["bins"], signal=True), background)
    spec, results = points[analysis["signal"]]
    results["selection"] = {"tagger": analysis["tagger"], "threshold": threshold, "background": float(background.nominal.sum())}
    write_json(spec, f"{fit_dir}/workspace.json")
    write_json(results, f"{fit_dir}/results.json")
    limits = [
        {"sample": sample, "mass": masses.get(sample), **{key: fitted[key] for key in ("mu_hat", "upper_limit_obs", "upper_limit_exp", "significance")}}
        for sample, (_, fitted) in sorted(points.items(), key=lambda item: masses.get(item[0]) or 0)
    ]
    write_json(limits, f"{fit_dir}/limits.json")
    impacts = ranking(spec)
    write_json(impacts, f"{fit_dir}/ranking.json")
    edges = np.linspace(analysis["bins"]["start"], analysis["bins"]["stop"], analysis["bins"]["count"] + 1)
    for stage in ("prefit", "postfit"):
        plot_stack(spec, results, f"{plot_dir}/{stage}", postfit=stage == "postfit", edges={"tagged_mjj": edges}, xlabel="m_jj [GeV]")
    plot_pulls(results["pulls"], f"{plot_dir}/pulls")
    plot_ranking(impacts, f"{plot_dir}/ranking")
    scanned = [(point["mass"], points[point["sample"]][1]) for point in limits if point["mass"] is not None]
    if len(scanned) >= 2:
        plot_brazil(*limit_vs_mass(scanned), f"{plot_dir}/limit_vs_mass")
    return results
