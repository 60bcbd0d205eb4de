"""Dijet processor: two fat jets, features of the LHC Olympics set-up, m_jj histograms."""

import awkward as ak
import numpy as np
from coffea import processor
from coffea.analysis_tools import PackedSelection

from mlhep.process.common import columns_table, cutflow, event_weights, fill, ratio
from mlhep.process.systematics import VARIATIONS, scale_factors

__all__ = ["DijetProcessor"]

HISTOGRAMS = {
    "mjj": (60, 0.0, 6000.0),
    "mj1": (50, 0.0, 1000.0),
    "mj2": (50, 0.0, 1000.0),
    "delta_mj": (50, 0.0, 1000.0),
    "tau21_j1": (40, 0.0, 1.0),
    "tau21_j2": (40, 0.0, 1.0),
}
CUTS = ("two_fatjets", "leading_pt", "both_eta")
_JET_FIELDS = ("pt", "eta", "phi", "mass", "msoftdrop", "tau1", "tau2", "tau3")


class DijetProcessor(processor.ProcessorABC):
    """Selects events with two fat jets (leading pT and |eta| cuts) and computes features.

    Jets 1 and 2 are the two leading fat jets ordered by mass, j1 the lighter
    (LHC Olympics convention): mj1, delta_mj = mj2 - mj1, tau21 and tau32, pt, eta, phi,
    soft-drop masses and, with PFNano links, their constituents relative to the jet axis.
    Histograms are filled per variation (VARIATIONS), each with its own selection.
    The arithmetic runs on flat numpy views of the jet and candidate buffers.
    """

    def __init__(self, leading_pt=1200.0, max_abseta=2.5, max_constituents=100, jes_uncertainty=0.02, jer_extra=0.05, seed=0):
        self.leading_pt = leading_pt
        self.max_abseta = max_abseta
        self.max_constituents = max_constituents
        self.jes_uncertainty = jes_uncertainty
        self.jer_extra = jer_extra
        self.seed = seed

    def process(self, events):
        weights = event_weights(events)
        fat = events.FatJet
        counts = ak.to_numpy(ak.num(fat))
        jets = {f: ak.to_numpy(ak.flatten(fat[f])).astype(np.float64) for f in _JET_FIELDS}
        if "nConstituents" in fat.fields:
            jets["nConstituents"] = ak.to_numpy(ak.flatten(fat["nConstituents"]))
        event = ak.to_numpy(events.event)
        hists, out = {}, {}
        for variation in VARIATIONS:
            factor = scale_factors(counts, event, variation, self.jes_uncertainty, self.jer_extra, self.seed)
            varied = {**jets, **{f: jets[f] * factor for f in ("pt", "mass", "msoftdrop")}}
            pair = _two_leading(varied["pt"], counts)  # flat indices, -1 where absent
            selection = self._select(varied, pair)
            mask = selection.all(*CUTS)
            features = _features(varied, pair[mask])
            for name, spec in HISTOGRAMS.items():
                fill(hists, ("inclusive", name, variation), spec, features[name], weights[mask])
            if variation == "nominal":
                out["cutflow"] = cutflow(selection, CUTS, len(events))
                if "FatJetPFCands" in events.fields:
                    features.update(self._constituents(events, counts, varied, pair, mask))
                features["event"] = event[mask].astype(np.uint64)
                features["weight"] = weights[mask]
                out["columns"] = [columns_table(features)]
        out["hists"] = hists
        return out

    def _select(self, jets, pair):
        exists = pair >= 0
        safe = np.where(exists, pair, 0)
        selection = PackedSelection()
        selection.add("two_fatjets", exists[:, 1])
        selection.add("leading_pt", exists[:, 0] & (jets["pt"][safe[:, 0]] > self.leading_pt))
        selection.add("both_eta", exists[:, 1] & np.all(np.abs(jets["eta"][safe]) < self.max_abseta, axis=1))
        return selection

    def _constituents(self, events, counts, jets, pair, mask):
        """Constituents of j1 and j2 (mass-ordered), hardest first, relative to the jet axis."""
        links, cands = events.FatJetPFCands, events.PFCands
        link_counts = ak.to_numpy(ak.num(links))
        link_event = np.repeat(np.arange(len(events)), link_counts)
        link_jet = ak.to_numpy(ak.flatten(links.jetIdx))
        cand_counts = ak.to_numpy(ak.num(cands))
        cand_index = np.repeat(np.cumsum(cand_counts) - cand_counts, link_counts) + ak.to_numpy(ak.flatten(links.pFCandsIdx))
        cand = {f: ak.to_numpy(ak.flatten(cands[f])) for f in ("pt", "eta", "phi")}
        jet_starts = np.cumsum(counts) - counts
        out = {}
        for tag, jet in zip(("j1", "j2"), _by_mass(jets, pair[mask]).T):
            target = np.full(len(events), -1)
            target[mask] = jet - jet_starts[mask]  # index within the event, as jetIdx counts
            keep = np.flatnonzero(link_jet == target[link_event])
            per_event = np.bincount(link_event[keep], minlength=len(events))[mask]
            picked = cand_index[keep]
            pt = cand["pt"][picked].astype(np.float64)
            deta = cand["eta"][picked] - np.repeat(jets["eta"][jet], per_event)
            dphi = (cand["phi"][picked] - np.repeat(jets["phi"][jet], per_event) + np.pi) % (2 * np.pi) - np.pi
            order = _hardest_first(pt, per_event)
            hardest = {"pt": pt, "deta": deta, "dphi": dphi}
            for name, values in hardest.items():
                lists = ak.unflatten(values if order is None else values[order], per_event)
                out[f"const_{name}_{tag}"] = lists[:, : self.max_constituents]
        return out


def _hardest_first(pt, counts):
    """Flat order putting each event's entries hardest first; None when they already are."""
    decreasing = np.diff(pt) <= 0
    boundaries = np.cumsum(counts)[:-1] - 1  # a new event may start higher
    decreasing[boundaries[(boundaries >= 0) & (boundaries < len(decreasing))]] = True
    if decreasing.all():
        return None
    event = np.repeat(np.arange(len(counts)), counts)
    return np.lexsort((-pt, event))


def _two_leading(pt, counts):
    """Flat indices of the two highest-pt jets of each event, -1 where there are fewer."""
    order = ak.argsort(ak.unflatten(pt, counts), axis=1, ascending=False)
    local = ak.to_numpy(ak.fill_none(ak.pad_none(order, 2, axis=1, clip=True), -1))
    starts = (np.cumsum(counts) - counts)[:, None]
    return np.where(local >= 0, local + starts, -1)


def _by_mass(jets, pair):
    """The pair reordered so that the lighter jet comes first."""
    lighter_first = jets["mass"][pair[:, 0]] <= jets["mass"][pair[:, 1]]
    return np.where(lighter_first[:, None], pair, pair[:, ::-1])


def _four_momentum(jets, index):
    pt, eta, phi, mass = (jets[f][index] for f in ("pt", "eta", "phi", "mass"))
    px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
    return px, py, pz, np.sqrt(px**2 + py**2 + pz**2 + mass**2)


def _features(jets, pair):
    """Features of the selected events' jet pairs (flat indices, two per event)."""
    j1, j2 = _by_mass(jets, pair).T
    p1, p2 = _four_momentum(jets, j1), _four_momentum(jets, j2)
    px, py, pz, energy = (a + b for a, b in zip(p1, p2))
    features = {"mjj": np.sqrt(np.maximum(energy**2 - px**2 - py**2 - pz**2, 0.0)), "mj1": jets["mass"][j1], "mj2": jets["mass"][j2]}
    features["delta_mj"] = features["mj2"] - features["mj1"]
    for tag, jet in (("j1", j1), ("j2", j2)):
        features[f"tau21_{tag}"] = ratio(jets["tau2"][jet], jets["tau1"][jet])
        features[f"tau32_{tag}"] = ratio(jets["tau3"][jet], jets["tau2"][jet])
        for field, name in (("pt", "pt"), ("eta", "eta"), ("phi", "phi"), ("msoftdrop", "msd")):
            features[f"{name}_{tag}"] = jets[field][jet]
        if "nConstituents" in jets:
            features[f"n_constituents_{tag}"] = jets["nConstituents"][jet].astype(np.int32)
    return features
