"""Pieces both processors share: weights, ratios, histograms, cutflows, column tables."""

import awkward as ak
import hist
import numpy as np

__all__ = ["columns_table", "cutflow", "event_weights", "fill", "merge_cutflows", "new_hist", "pair_mass", "ratio"]


def event_weights(events):
    """Generator weights, or ones for files without them (data)."""
    return ak.to_numpy(events.genWeight) if "genWeight" in events.fields else np.ones(len(events))


def pair_mass(first, second):
    """Invariant mass of two objects, each given as (pt, eta, phi, mass) arrays."""
    total = 0.0
    for pt, eta, phi, mass in (first, second):
        px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
        total = total + np.stack([px, py, pz, np.sqrt(px**2 + py**2 + pz**2 + mass**2)])
    px, py, pz, energy = total
    return np.sqrt(np.maximum(energy**2 - px**2 - py**2 - pz**2, 0.0))


def ratio(numerator, denominator):
    """numerator / denominator with 0 where the denominator is 0 (one-particle jets)."""
    numerator, denominator = ak.to_numpy(numerator), ak.to_numpy(denominator)
    return np.divide(numerator, denominator, out=np.zeros(len(numerator)), where=denominator > 0)


def new_hist(name, bins, low, high):
    return hist.Hist.new.Reg(bins, low, high, name=name).Weight()


def fill(hists, key, spec, values, weights):
    """Fill (creating if needed) the histogram ``key`` = (region, observable, variation)."""
    if key not in hists:
        hists[key] = new_hist(key[1], *spec)
    hists[key].fill(np.asarray(values, dtype=np.float64), weight=np.asarray(weights, dtype=np.float64))


def cutflow(events, selection, names, weights):
    """The chunk's cutflow: events passing each cut and all cuts before it, in order, starting
    from all events, counted and summed with ``weights``: {"events": {...}, "weighted": {...}},
    keyed by (file, first entry) like columns_table, so that the chunks' weighted sums are added
    in file order (a float sum depends on its order) by ``merge_cutflows``."""
    flow = {"events": {"all": len(weights)}, "weighted": {"all": float(np.sum(weights))}}
    for i, name in enumerate(names):
        passing = selection.all(*names[: i + 1])
        flow["events"][name] = int(np.sum(passing))
        flow["weighted"][name] = float(np.sum(weights[passing]))
    return {_chunk(events): flow}


def merge_cutflows(chunks, files):
    """(events, weighted): the cutflows of ``chunks`` {(file, first entry): cutflow} summed in
    file and entry order."""
    position = {path: i for i, path in enumerate(files)}
    totals = {"events": {}, "weighted": {}}
    for key in sorted(chunks, key=lambda key: (position[key[0]], key[1])):
        for kind, flow in chunks[key].items():
            for step, value in flow.items():
                totals[kind][step] = totals[kind].get(step, 0) + value
    return totals["events"], totals["weighted"]


def _chunk(events):
    return (events.metadata["filename"], int(events.metadata["entrystart"]))


def columns_table(events, columns):
    """The chunk's columns as one record array (behaviors and branch parameters dropped: the
    array pickles across processes, and the parameters' key order, merged when chunks are
    concatenated, would depend on the hash seed), keyed by (file, first entry): the merged
    table then follows the file order, whichever order the executor finishes chunks in."""
    return {_chunk(events): ak.zip({name: ak.without_parameters(ak.Array(value.layout)) if isinstance(value, ak.Array) else value for name, value in columns.items()}, depth_limit=1)}
