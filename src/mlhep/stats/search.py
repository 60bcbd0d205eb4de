"""A tagged dijet resonance search: mjj templates after a tagger cut, with JES/JER variations,
fitted with pyhf on pseudo-data."""

import awkward as ak
import hist
import numpy as np

from mlhep.errors import EmptySelection
from mlhep.ml.data import JET_FEATURES, jet_column, padded_constituents, split
from mlhep.ml.taggers import MODELS
from mlhep.process.common import pair_mass
from mlhep.process.systematics import VARIATIONS, scale_factors

__all__ = ["load_tagger", "mjj_templates", "tag_threshold"]

_SCALED = ("mass", "msd", "pt")  # what the jet energy scale and resolution act on


def load_tagger(kind, folder):
    """A trained tagger of ``kind`` (a key of taggers.models, e.g. disco) from its results folder."""
    return MODELS[kind][0].load(folder)


def _test_events(columns_path, seed):
    columns = ak.from_parquet(columns_path)
    if len(columns) == 0:
        raise EmptySelection(f"{columns_path}: no selected events")
    # the taggers never saw the test split: templates from it are unbiased by the training
    return columns[split(ak.to_numpy(columns.event), seed)[2]]


def _varied(columns, variation, jes_uncertainty, jer_extra, seed):
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
    jets, _ = _varied(columns, "nominal", 0.0, 0.0, seed)
    return float(np.quantile(_event_scores(tagger, columns, jets), 1.0 - efficiency))


def mjj_templates(columns_path, tagger, threshold, bins, expected_events, seed, jes_uncertainty, jer_extra):
    """{variation: hist.Hist} of mjj for the test events of one sample that pass the tagger cut.

    The weights scale the sample to ``expected_events`` selected events before the tagger cut
    (the nominal), so the histograms hold expected yields.
    """
    columns = _test_events(columns_path, seed)
    weight = ak.to_numpy(columns.weight).astype(np.float64)
    weight = weight * expected_events / weight.sum()
    templates = {}
    for variation in VARIATIONS:
        jets, mjj = _varied(columns, variation, jes_uncertainty, jer_extra, seed)
        passing = _event_scores(tagger, columns, jets) > threshold
        histogram = hist.Hist.new.Reg(bins["count"], bins["start"], bins["stop"], name="mjj", label="m_jj [GeV]").Weight()
        histogram.fill(mjj=mjj[passing], weight=weight[passing])
        templates[variation] = histogram
    return templates


def run_search(analysis, signal_columns, background_columns, tagger_kind, tagger_folder, systematics, seed, fit_dir, plot_dir):
    """Templates, workspace and fit of one tagged search; writes ``fit_dir``/workspace.json and
    results.json, and the pre-/post-fit and pull plots to ``plot_dir``. Returns the results."""
    from mlhep.io import write_json
    from mlhep.stats.fit import fit_workspace
    from mlhep.stats.plots import plot_pulls, plot_stack
    from mlhep.stats.workspace import build_workspace, sample_from_hists

    tagger = load_tagger(tagger_kind, tagger_folder)
    threshold = tag_threshold(tagger, signal_columns, seed, analysis["signal_efficiency"])
    options = {"seed": seed, "jes_uncertainty": systematics["jes_uncertainty"], "jer_extra": systematics["jer_extra"]}
    templates = {
        analysis["signal"]: mjj_templates(signal_columns, tagger, threshold, analysis["bins"], analysis["signal_events"], **options),
        analysis["background"]: mjj_templates(background_columns, tagger, threshold, analysis["bins"], analysis["background_events"], **options),
    }
    if templates[analysis["background"]]["nominal"].sum().value <= 0:
        raise EmptySelection(f"{background_columns}: no background test event passes the {analysis['tagger']} cut; loosen signal_efficiency")
    samples = {name: sample_from_hists(histograms, signal=name == analysis["signal"]) for name, histograms in templates.items()}
    spec = build_workspace({"tagged_mjj": samples}, norm_uncertainties=analysis.get("norm_uncertainties"), asimov_mu=analysis["injected_mu"])
    results = fit_workspace(spec)
    results["selection"] = {
        "tagger": analysis["tagger"],
        "threshold": threshold,
        "signal": templates[analysis["signal"]]["nominal"].sum().value,
        "background": templates[analysis["background"]]["nominal"].sum().value,
    }
    write_json(spec, f"{fit_dir}/workspace.json")
    write_json(results, f"{fit_dir}/results.json")
    edges = templates[analysis["background"]]["nominal"].axes[0].edges
    for stage in ("prefit", "postfit"):
        plot_stack(spec, results, f"{plot_dir}/{stage}", postfit=stage == "postfit", edges={"tagged_mjj": edges}, xlabel="m_jj [GeV]")
    plot_pulls(results["pulls"], f"{plot_dir}/pulls")
    return results
