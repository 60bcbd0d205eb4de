"""Pieces both processors share: weights, constituents, histograms, cutflows."""

import awkward as ak
import hist
import numpy as np

__all__ = ["columns_table", "constituent_lists", "cutflow", "event_weights", "fill", "new_hist", "ratio"]


def event_weights(events):
    """Generator weights, or ones for files without them (data)."""
    return ak.to_numpy(events.genWeight) if "genWeight" in events.fields else np.ones(len(events))


def ratio(numerator, denominator):
    """numerator / denominator with 0 where the denominator is 0 (one-particle jets)."""
    numerator, denominator = ak.to_numpy(numerator), ak.to_numpy(denominator)
    return np.divide(numerator, denominator, out=np.zeros(len(numerator)), where=denominator > 0)


def constituent_lists(events, links_name, jets, jet_index, max_constituents):
    """Constituents of one jet per event, hardest first, relative to the jet axis.

    Args:
        events: NanoEvents with the PFNano link collection ``links_name``
            (FatJetPFCands or GenFatJetCands, each with ``pf`` and ``jetIdx``).
        jets: one jet per event (the jet axis).
        jet_index: that jet's index in its collection, per event.
        max_constituents: keep at most this many.

    Returns:
        dict of events x constituents arrays: pt, deta, dphi; None without the links.
    """
    if links_name not in events.fields:
        return None
    links = events[links_name]
    cands = links.pf[links.jetIdx == jet_index]
    cands = cands[ak.argsort(cands.pt, axis=1, ascending=False)][:, :max_constituents]
    dphi = (cands.phi - jets.phi + np.pi) % (2 * np.pi) - np.pi
    return {"pt": cands.pt, "deta": cands.eta - jets.eta, "dphi": dphi}


def new_hist(name, bins, low, high):
    return hist.Hist.new.Reg(bins, low, high, name=name).Weight()


def fill(hists, key, spec, values, weights):
    """Fill (creating if needed) the histogram ``key`` = (region, observable, variation)."""
    if key not in hists:
        hists[key] = new_hist(key[1], *spec)
    hists[key].fill(np.asarray(values, dtype=np.float64), weight=np.asarray(weights, dtype=np.float64))


def cutflow(selection, names, n_events):
    """Events passing each cut and all cuts before it, in order, starting from all events."""
    flow = {"all": int(n_events)}
    for i, name in enumerate(names):
        flow[name] = int(np.sum(selection.all(*names[: i + 1])))
    return flow


def columns_table(columns):
    """One record array of plain columns: behaviors dropped so that it pickles across processes."""
    return ak.zip({name: ak.Array(value.layout) if isinstance(value, ak.Array) else value for name, value in columns.items()}, depth_limit=1)
