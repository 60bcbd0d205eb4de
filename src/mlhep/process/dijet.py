"""Dijet processor: two fat jets, features of the LHC Olympics set-up, m_jj histograms."""

import awkward as ak
import numpy as np
from coffea import processor
from coffea.analysis_tools import PackedSelection

from mlhep.process.common import columns_table, cutflow, event_weights, fill, pair_mass, ratio
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
CUTS = ("two_fatjets", "leading_pt", "both_eta", "both_softdrop")
_JET_FIELDS = ("pt", "eta", "phi", "mass", "msoftdrop", "tau1", "tau2", "tau3")


class DijetProcessor(processor.ProcessorABC):
    """Selects events with two fat jets (leading pT and |eta| cuts, both with a soft-drop mass)
    and computes features.

    Jets 1 and 2 are the two leading fat jets ordered by mass, j1 the lighter
    (LHC Olympics convention): mj1, delta_mj = mj2 - mj1, tau21 and tau32, pt, eta, phi,
    soft-drop masses and, with PFNano links, their constituents relative to the jet axis.
    Histograms are filled per variation (VARIATIONS), each with its own selection.
    A negative soft-drop mass (NanoAOD's -1: soft drop failed) is missing (NaN), and the
    event fails the cut ``both_softdrop``. Chunks without fat jets are normal input.
    The arithmetic runs on flat numpy views of the jet and candidate buffers.
    """

    def __init__(self, leading_pt=1200.0, max_abseta=2.5, max_constituents=100, jes_uncertainty=0.02, jer_extra=0.05, seed=0):
        self.leading_pt = leading_pt
        self.max_abseta = max_abseta
        self.max_constituents = max_constituents
        self.jes_uncertainty = jes_uncertainty
        self.jer_extra = jer_extra
        self.seed = seed

    cuts = CUTS

    def selection(self, events):
        """The nominal selection of ``events`` (a PackedSelection of CUTS) and their weights."""
        counts, jets = _jets(events.FatJet)
        return self._select(jets, _two_leading(jets["pt"], counts)), event_weights(events)

    def process(self, events):
        weights = event_weights(events)
        fat = events.FatJet
        counts, jets = _jets(fat)
        event = ak.to_numpy(events.event)
        hists, out = {}, {}
        for variation in VARIATIONS:
            factor = scale_factors(counts, event, variation, self.jes_uncertainty, self.jer_extra, self.seed)
            varied = {**jets, **{f: jets[f] * factor for f in ("pt", "mass", "msoftdrop")}}
            pair = _two_leading(varied["pt"], counts)  # flat indices, -1 where absent
            selection = self._select(varied, pair)
            mask = selection.all(*CUTS)
            features = _features(varied, pair[mask], table=variation == "nominal")
            for name, spec in HISTOGRAMS.items():
                fill(hists, ("inclusive", name, variation), spec, features[name], weights[mask])
            if variation == "nominal":
                out["cutflow"] = cutflow(events, selection, CUTS, weights)
                if "FatJetPFCands" in events.fields:
                    features.update(self._constituents(events, counts, varied, pair, mask))
                features["event"] = event[mask].astype(np.uint64)
                features["weight"] = weights[mask]
                out["columns"] = columns_table(events, features)
        out["hists"] = hists
        return out

    def _select(self, jets, pair):
        # values of the pair's jets; an absent jet (index -1) picks the NaN appended, failing every cut
        pt, eta, msd = (np.append(jets[f], np.nan)[pair] for f in ("pt", "eta", "msoftdrop"))
        selection = PackedSelection()
        selection.add("two_fatjets", pair[:, 1] >= 0)
        selection.add("leading_pt", pt[:, 0] > self.leading_pt)
        selection.add("both_eta", np.all(np.abs(eta) < self.max_abseta, axis=1))
        selection.add("both_softdrop", np.all(msd >= 0, axis=1))
        return selection

    def _constituents(self, events, counts, jets, pair, mask):
        """Constituents of j1 and j2 (mass-ordered), hardest first, relative to the jet axis.

        The links are put in (event, jet, hardest first) order (sorted only when the file
        does not store them so already): each jet's constituents are then one contiguous
        range, of which the first max_constituents are kept.
        """
        links, cands = events.FatJetPFCands, events.PFCands
        link_counts = ak.to_numpy(ak.num(links))
        link_jet = ak.to_numpy(ak.flatten(links.jetIdx))
        cand_counts = ak.to_numpy(ak.num(cands))
        cand_index = np.repeat(np.cumsum(cand_counts) - cand_counts, link_counts) + ak.to_numpy(ak.flatten(links.pFCandsIdx))
        cand = {f: ak.to_numpy(ak.flatten(cands[f])) for f in ("pt", "eta", "phi")}
        # key = event * stride + jet index; links to no jet (index < 0) get a slot no jet has
        stride = int(max(counts.max(initial=0), link_jet.max(initial=0))) + 2
        if link_jet.min(initial=0) < 0:
            link_jet = np.where(link_jet >= 0, link_jet, stride - 1)
        key = np.repeat(np.arange(0, len(events) * stride, stride), link_counts) + link_jet
        pt = cand["pt"][cand_index]
        next_key, softer = np.diff(key), np.diff(pt) <= 0
        if not np.all((next_key > 0) | ((next_key == 0) & softer)):
            order = np.lexsort((-pt, key))
            key, cand_index, pt = key[order], cand_index[order], pt[order]
        selected = np.flatnonzero(mask)
        jet_starts = (np.cumsum(counts) - counts)[selected]
        out = {}
        for tag, jet in zip(("j1", "j2"), _by_mass(jets, pair[mask]).T):
            wanted = selected * stride + (jet - jet_starts)
            first = np.searchsorted(key, wanted, "left")
            n_kept = np.minimum(np.searchsorted(key, wanted, "right") - first, self.max_constituents)
            kept = _ranges(first, first + n_kept)
            picked = cand_index[kept]
            hardest = {
                "pt": pt[kept].astype(np.float64),
                "deta": cand["eta"][picked] - np.repeat(jets["eta"][jet], n_kept),
                "dphi": _wrap_phi(cand["phi"][picked] - np.repeat(jets["phi"][jet], n_kept)),
            }
            for name, values in hardest.items():
                out[f"const_{name}_{tag}"] = _lists(values, n_kept)
        return out


def _ranges(starts, stops):
    """Flat indices of the ranges [starts[i], stops[i]), one after the other."""
    lengths = stops - starts
    return np.arange(lengths.sum()) + np.repeat(starts - (np.cumsum(lengths) - lengths), lengths)


def _wrap_phi(dphi):
    """Differences of two angles in [-pi, pi] brought into [-pi, pi] (in place)."""
    dphi[dphi > np.pi] -= 2 * np.pi
    dphi[dphi < -np.pi] += 2 * np.pi
    return dphi


def _lists(values, counts):
    """An awkward array of variable-length lists from flat values and list lengths."""
    offsets = np.zeros(len(counts) + 1, np.int64)
    np.cumsum(counts, out=offsets[1:])
    return ak.Array(ak.contents.ListOffsetArray(ak.index.Index64(offsets), ak.contents.NumpyArray(values)))


def _jets(fat):
    """Fat jets per event and their fields as flat float arrays; a negative soft-drop mass
    (soft drop failed) is NaN."""
    jets = {f: ak.to_numpy(ak.flatten(fat[f])).astype(np.float64) for f in _JET_FIELDS}
    jets["msoftdrop"][jets["msoftdrop"] < 0] = np.nan
    if "nConstituents" in fat.fields:
        jets["nConstituents"] = ak.to_numpy(ak.flatten(fat["nConstituents"]))
    return ak.to_numpy(ak.num(fat)), jets


def _two_leading(pt, counts):
    """Flat indices of the two highest-pt jets of each event, -1 where there are fewer."""
    starts = np.cumsum(counts) - counts
    minus_pt = np.full((len(counts), max(int(counts.max(initial=0)), 2)), np.inf)  # events x jets, padded
    minus_pt[np.repeat(np.arange(len(counts)), counts), np.arange(len(pt)) - np.repeat(starts, counts)] = -pt
    leading = np.argsort(minus_pt, axis=1, kind="stable")[:, :2] + starts[:, None]
    return np.where(np.arange(2) < counts[:, None], leading, -1)


def _by_mass(jets, pair):
    """The pair reordered so that the lighter jet comes first."""
    lighter_first = jets["mass"][pair[:, 0]] <= jets["mass"][pair[:, 1]]
    return np.where(lighter_first[:, None], pair, pair[:, ::-1])


def _features(jets, pair, table=True):
    """Features of the selected events' jet pairs (flat indices, two per event).

    Without ``table``, only those the histograms need.
    """
    j1, j2 = _by_mass(jets, pair).T
    kinematics = [tuple(jets[f][jet] for f in ("pt", "eta", "phi", "mass")) for jet in (j1, j2)]
    features = {"mjj": pair_mass(*kinematics), "mj1": jets["mass"][j1], "mj2": jets["mass"][j2]}
    features["delta_mj"] = features["mj2"] - features["mj1"]
    for tag, jet in (("j1", j1), ("j2", j2)):
        features[f"tau21_{tag}"] = ratio(jets["tau2"][jet], jets["tau1"][jet])
        if not table:
            continue
        features[f"tau32_{tag}"] = ratio(jets["tau3"][jet], jets["tau2"][jet])
        for field, name in (("pt", "pt"), ("eta", "eta"), ("phi", "phi"), ("msoftdrop", "msd")):
            features[f"{name}_{tag}"] = jets[field][jet]
        if "nConstituents" in jets:
            features[f"n_constituents_{tag}"] = jets["nConstituents"][jet].astype(np.int32)
    return features
