"""Z(-> mu mu) + jet processor: the six jet observables of the OmniFold Z+jets study,
at detector and particle level, with explicit efficiency and fakes (pass_reco, pass_truth)."""

import awkward as ak
import numpy as np
from coffea import processor
from coffea.analysis_tools import PackedSelection

from mlhep.process.common import columns_table, cutflow, event_weights, fill, ratio
from mlhep.process.systematics import VARIATIONS, vary_jets

__all__ = ["OBSERVABLES", "ZJetsProcessor"]

# name: histogram binning (bins, low, high); arXiv:1911.09107 observables
OBSERVABLES = {
    "mass": (40, 0.0, 80.0),
    "multiplicity": (40, 0.0, 80.0),
    "width": (40, 0.0, 0.6),
    "tau21": (40, 0.0, 1.2),
    "zg": (40, 0.0, 0.5),
    "lnrho": (40, -14.0, -2.0),
}
CUTS = ("two_muons", "opposite_charge", "z_mass", "z_pt", "jet")
LEPTON_CLEANING_DR = 0.4  # jets this close to one of the two leading muons are the muons themselves


class ZJetsProcessor(processor.ProcessorABC):
    """Z+jet selection and jet substructure at reco and truth level.

    The jets are AK4 jets, as in CMS: ``Jet`` with constituents in ``JetPFCands`` (PFNano) at
    reco level, ``GenJet`` and ``GenJetCands`` at truth level; jets within
    LEPTON_CLEANING_DR of one of the two leading muons are left out (real NanoAOD clusters
    the muons into jets).
    Reco: the two leading muons, opposite charge, 81 < m_mumu < 101 GeV, Z pT above
    ``z_min_pt``, and a leading jet with pT above ``jet_min_pt`` recoiling against the Z
    (delta-phi > ``min_dphi``). Truth: the same on generator-level dressed muons and jets.
    Observables of the leading jet: mass, constituent multiplicity, width
    (sum pT dR / sum pT), tau21, soft-drop z_g and ln rho = ln(m_SD^2 / pT^2). With PFNano
    links, also the jet's constituents at both levels, hardest first (const_{pt,deta,dphi}_reco
    of the nominal reco jet and _truth), for OmniFold on constituents. Columns only, for checking
    what the unfolding never saw: the jet's pT and eta, and with links its hardest constituent's
    momentum fraction (jet_pt, jet_eta, jet_zlead).
    An observable whose branches a file lacks is NaN, and so are ln rho and z_g of a jet whose
    soft drop failed (negative soft-drop mass, NanoAOD's -1).
    """

    def __init__(self, z_min_pt=200.0, jet_min_pt=100.0, min_dphi=2.0, jes_uncertainty=0.02, jer_extra=0.05, seed=0):
        self.z_min_pt = z_min_pt
        self.jet_min_pt = jet_min_pt
        self.min_dphi = min_dphi
        self.jes_uncertainty = jes_uncertainty
        self.jer_extra = jer_extra
        self.seed = seed

    def _select(self, muons, jets):
        """The selection on ``muons`` and ``jets`` (cleaned, hardest first), and the leading jet."""
        padded = ak.pad_none(muons, 2, axis=1)
        mu1, mu2 = padded[:, 0], padded[:, 1]
        z = mu1 + mu2
        jet = ak.firsts(jets)
        selection = PackedSelection()
        selection.add("two_muons", ak.to_numpy(ak.num(muons) >= 2))
        charge = mu1.charge * mu2.charge if "charge" in muons.fields else -np.abs(mu1.pdgId * mu2.pdgId)
        selection.add("opposite_charge", ak.to_numpy(ak.fill_none(charge < 0, False)))
        selection.add("z_mass", ak.to_numpy(ak.fill_none((z.mass > 81) & (z.mass < 101), False)))
        selection.add("z_pt", ak.to_numpy(ak.fill_none(z.pt > self.z_min_pt, False)))
        recoil = (jet.pt > self.jet_min_pt) & (abs(jet.delta_phi(z)) > self.min_dphi)
        selection.add("jet", ak.to_numpy(ak.fill_none(recoil, False)))
        return selection, jet

    cuts = CUTS

    def selection(self, events):
        """The nominal reco selection of ``events`` (a PackedSelection of CUTS) and their weights."""
        return self._select(events.Muon, self._reco_jets(events, _clean(events.Jet, events.Muon), "nominal"))[0], event_weights(events)

    def _reco_jets(self, events, clean, variation):
        """The reco jets of ``variation`` that pass the muon cleaning ``clean``, hardest first."""
        jets = vary_jets(_indexed(events.Jet), events.event, variation, self.jes_uncertainty, self.jer_extra, self.seed)[clean]
        return jets[ak.argsort(jets.pt, axis=1, ascending=False)]

    def process(self, events):
        weights = event_weights(events)
        hists, out = {}, {}
        has_truth = "GenDressedLepton" in events.fields and "GenJet" in events.fields
        if has_truth:
            gen_muons = events.GenDressedLepton[abs(events.GenDressedLepton.pdgId) == 13]
            gen_jets = _indexed(events.GenJet)[_clean(events.GenJet, gen_muons)]
            truth_selection, truth_jet = self._select(gen_muons, gen_jets[ak.argsort(gen_jets.pt, axis=1, ascending=False)])
            pass_truth = truth_selection.all(*CUTS)
            truth, truth_constituents = self._observables(events, truth_jet, "GenJetCands")
        else:
            pass_truth = np.zeros(len(events), dtype=bool)
        reco_columns, passing = {}, {}
        clean = _clean(events.Jet, events.Muon)
        for variation in VARIATIONS:
            selection, jet = self._select(events.Muon, self._reco_jets(events, clean, variation))
            pass_reco = passing[variation] = selection.all(*CUTS)
            reco, reco_constituents = self._observables(events, jet, "JetPFCands")
            for name, spec in OBSERVABLES.items():
                fill(hists, ("reco", name, variation), spec, reco[name][pass_reco], weights[pass_reco])
            # the reco observables of every variation, for unfolding with varied response
            suffix = "" if variation == "nominal" else f"_{variation}"
            reco_columns.update({f"{k}_reco{suffix}": np.where(pass_reco, v, np.nan) for k, v in reco.items()})
            reco_columns[f"pass_reco{suffix}"] = pass_reco
            if variation == "nominal":
                out["cutflow"] = cutflow(events, selection, CUTS, weights)
                reco_columns.update(_constituent_columns(reco_constituents, jet, "reco"))
        keep = np.logical_or.reduce([*passing.values(), pass_truth])
        columns = {name: values[keep] for name, values in reco_columns.items()}
        if has_truth:
            columns.update({f"{k}_truth": np.where(pass_truth, v, np.nan)[keep] for k, v in truth.items()})
            columns.update({name: values[keep] for name, values in _constituent_columns(truth_constituents, truth_jet, "truth").items()})
            out["cutflow_truth"] = cutflow(events, truth_selection, CUTS, weights)
            for name, spec in OBSERVABLES.items():
                fill(hists, ("truth", name, "nominal"), spec, truth[name][pass_truth], weights[pass_truth])
        columns.update(pass_truth=pass_truth[keep], weight=weights[keep])
        columns["event"] = ak.to_numpy(events.event[keep]).astype(np.uint64)
        out["columns"] = columns_table(events, columns)
        out["hists"] = hists
        return out

    def _observables(self, events, jet, links_name):
        """The six observables of ``jet`` (one per event, None where absent), NaN if not
        computable, and the jet's constituents (None when the file has no links)."""
        n = len(events)
        nan = np.full(n, np.nan)
        pt = ak.to_numpy(ak.fill_none(jet.pt, np.nan))
        fields = jet.fields if n else []
        get = lambda f: ak.to_numpy(ak.fill_none(jet[f], np.nan)) if f in fields else nan
        failed = get("msoftdrop") < 0  # soft drop failed (NanoAOD's -1): no soft-drop mass, z_g or ln rho
        msd = np.where(failed, np.nan, get("msoftdrop"))
        values = {
            "mass": ak.to_numpy(ak.fill_none(jet.mass, np.nan)),
            "multiplicity": get("nConstituents"),
            "width": nan,
            "tau21": ratio(get("tau2"), get("tau1")) if "tau1" in fields else nan,
            "zg": np.where(failed, np.nan, get("softdropZg")),
            "lnrho": np.log(np.where(msd > 0, msd**2 / pt**2, np.nan)),
            # never unfolded: to check that the unfolding weights get them right too
            "jet_pt": pt,
            "jet_eta": ak.to_numpy(ak.fill_none(jet.eta, np.nan)),
            "jet_zlead": nan,
        }
        cands = None
        if links_name in events.fields:
            links = events[links_name]
            cands = links.pf[links.jetIdx == ak.fill_none(jet.index, -1)]
            dr = cands.delta_r(jet)
            values["width"] = ak.to_numpy(ak.fill_none(ak.sum(cands.pt * dr, axis=1) / ak.sum(cands.pt, axis=1), np.nan))
            values["jet_zlead"] = ak.to_numpy(ak.fill_none(ak.max(cands.pt, axis=1) / jet.pt, np.nan))
            if "nConstituents" not in fields:
                values["multiplicity"] = ak.to_numpy(ak.num(cands)).astype(np.float64)
        return values, cands


def _clean(jets, muons):
    """Per jet: farther than LEPTON_CLEANING_DR from both leading muons."""
    return ak.all(jets.metric_table(muons[:, :2]) > LEPTON_CLEANING_DR, axis=2)


def _indexed(jets):
    """Jets with their position in the file's collection (field ``index``, which the
    constituent links refer to), kept through sorting and cleaning."""
    return ak.with_field(jets, ak.local_index(jets, axis=1), "index")


def _constituent_columns(cands, jet, level):
    """Constituents of the leading jet, hardest first: pT, and eta and phi relative to the jet
    axis (columns const_{pt,deta,dphi}_{level}; empty lists without a jet); none without links."""
    if cands is None:
        return {}
    cands = cands[ak.argsort(cands.pt, axis=1, ascending=False)]
    # one type in every chunk (lists of float32, whatever a chunk holds), as the chunks are written
    # one by one as row groups of one file: the jet's option type does not reach the lists
    fixed = lambda values: ak.values_astype(ak.fill_none(values, np.nan), np.float32)
    return {f"const_pt_{level}": fixed(cands.pt), f"const_deta_{level}": fixed(cands.eta - jet.eta), f"const_dphi_{level}": fixed(cands.delta_phi(jet))}
