"""Dijet processor: two fat jets, features of the LHC Olympics set-up, m_jj histograms."""

import awkward as ak
import numpy as np
from coffea import processor
from coffea.analysis_tools import PackedSelection

from mlhep.process.common import columns_table, constituent_lists, cutflow, event_weights, fill, ratio
from mlhep.process.systematics import VARIATIONS, vary_jets

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


class DijetProcessor(processor.ProcessorABC):
    """Selects events with two fat jets (leading pT and |eta| cuts) and computes features.

    Jets 1 and 2 are the two leading fat jets ordered by mass, j1 the lighter
    (LHC Olympics convention): mj1, delta_mj = mj2 - mj1, tau21 and tau32, pt, eta,
    soft-drop masses and, with PFNano links, their constituents relative to the jet axis.
    Histograms are filled per variation (VARIATIONS), each with its own selection.
    """

    def __init__(self, leading_pt=1200.0, max_abseta=2.5, max_constituents=100, jes_uncertainty=0.02, jer_extra=0.05, seed=0):
        self.leading_pt = leading_pt
        self.max_abseta = max_abseta
        self.max_constituents = max_constituents
        self.jes_uncertainty = jes_uncertainty
        self.jer_extra = jer_extra
        self.seed = seed

    def _select(self, jets):
        padded = ak.pad_none(jets, 2, axis=1)
        selection = PackedSelection()
        selection.add("two_fatjets", ak.to_numpy(ak.num(jets) >= 2))
        selection.add("leading_pt", ak.to_numpy(ak.fill_none(padded[:, 0].pt > self.leading_pt, False)))
        both = (abs(padded[:, 0].eta) < self.max_abseta) & (abs(padded[:, 1].eta) < self.max_abseta)
        selection.add("both_eta", ak.to_numpy(ak.fill_none(both, False)))
        return selection

    def process(self, events):
        weights = event_weights(events)
        hists, out = {}, {}
        for variation in VARIATIONS:
            jets = vary_jets(events.FatJet, events.event, variation, self.jes_uncertainty, self.jer_extra, self.seed)
            order = ak.argsort(jets.pt, axis=1, ascending=False)  # positions in events.FatJet
            jets = jets[order]
            selection = self._select(jets)
            mask = selection.all(*CUTS)
            features = self._features(events[mask], jets[mask], order[mask], with_constituents=variation == "nominal")
            for name, spec in HISTOGRAMS.items():
                fill(hists, ("inclusive", name, variation), spec, features[name], weights[mask])
            if variation == "nominal":
                out["cutflow"] = cutflow(selection, CUTS, len(events))
                features["event"] = ak.to_numpy(events.event[mask]).astype(np.uint64)
                features["weight"] = weights[mask]
                out["columns"] = [columns_table(features)]
        out["hists"] = hists
        return out

    def _features(self, events, jets, original_index, with_constituents):
        index = original_index[:, :2]
        leading = jets[:, :2]
        by_mass = ak.argsort(leading.mass, axis=1)
        leading, index = leading[by_mass], index[by_mass]
        j1, j2 = leading[:, 0], leading[:, 1]
        features = {
            "mjj": ak.to_numpy((j1 + j2).mass),
            "mj1": ak.to_numpy(j1.mass),
            "mj2": ak.to_numpy(j2.mass),
        }
        features["delta_mj"] = features["mj2"] - features["mj1"]
        for tag, jet in (("j1", j1), ("j2", j2)):
            features[f"tau21_{tag}"] = ratio(jet["tau2"], jet["tau1"])
            features[f"tau32_{tag}"] = ratio(jet["tau3"], jet["tau2"])
            for field, name in (("pt", "pt"), ("eta", "eta"), ("phi", "phi"), ("msoftdrop", "msd")):
                features[f"{name}_{tag}"] = ak.to_numpy(jet[field])
            if "nConstituents" in jet.fields:
                features[f"n_constituents_{tag}"] = ak.to_numpy(jet["nConstituents"]).astype(np.int32)
        if with_constituents:
            for tag, i in (("j1", 0), ("j2", 1)):
                lists = constituent_lists(events, "FatJetPFCands", leading[:, i], index[:, i], self.max_constituents)
                if lists is not None:
                    features.update({f"const_{k}_{tag}": v for k, v in lists.items()})
        return features
