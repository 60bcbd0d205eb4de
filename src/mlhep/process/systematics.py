"""Jet energy scale and resolution variations, applied at processing time."""

import awkward as ak
import numpy as np

__all__ = ["VARIATIONS", "per_jet_normal", "scale_factors", "vary_jets"]

VARIATIONS = ("nominal", "jes_up", "jes_down", "jer")

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def _splitmix64(x):
    x = (x + _GOLDEN).astype(np.uint64)
    x = ((x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)).astype(np.uint64)
    x = ((x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)).astype(np.uint64)
    return x ^ (x >> np.uint64(31))


def per_jet_normal(event, jet_index, seed):
    """Standard normal numbers that depend only on (event number, jet index, seed).

    Counter-based, so a jet gets the same smearing whatever the chunking or the executor.
    """
    with np.errstate(over="ignore"):
        key = _splitmix64(np.asarray(event, np.uint64) * np.uint64(1024) + np.asarray(jet_index, np.uint64) + _splitmix64(np.full(1, seed, np.uint64)))
        u1 = (_splitmix64(key) >> np.uint64(11)).astype(np.float64) / 2.0**53
        u2 = (_splitmix64(key ^ _GOLDEN) >> np.uint64(11)).astype(np.float64) / 2.0**53
    return np.sqrt(-2.0 * np.log1p(-u1)) * np.cos(2.0 * np.pi * u2)


def scale_factors(counts, event, variation, jes_uncertainty, jer_extra, seed):
    """Per-jet factors on pt, mass and soft-drop mass (flat, jets of all events in order).

    Args:
        counts: jets per event.
        event: event numbers (one per event).
        variation: one of VARIATIONS. jes_up/jes_down scale by 1 +- jes_uncertainty; jer
            smears each jet by an extra Gaussian of relative width jer_extra.
    """
    n_jets = int(np.sum(counts))
    if variation == "nominal":
        return np.ones(n_jets)
    if variation in ("jes_up", "jes_down"):
        return np.full(n_jets, 1.0 + (jes_uncertainty if variation == "jes_up" else -jes_uncertainty))
    if variation == "jer":
        flat_event = np.repeat(np.asarray(event).astype(np.uint64), counts)
        starts = np.repeat(np.cumsum(counts) - counts, counts)
        flat_index = (np.arange(n_jets) - starts).astype(np.uint64)
        return np.maximum(1.0 + jer_extra * per_jet_normal(flat_event, flat_index, seed), 0.0)
    raise ValueError(f"unknown variation '{variation}' (known: {', '.join(VARIATIONS)})")


def vary_jets(jets, event, variation, jes_uncertainty, jer_extra, seed):
    """Jets (events x jets records) with pt, mass and msoftdrop scaled for one variation."""
    if variation == "nominal":
        return jets
    counts = ak.to_numpy(ak.num(jets))
    factor = ak.unflatten(scale_factors(counts, ak.to_numpy(event), variation, jes_uncertainty, jer_extra, seed), counts)
    for field in ("pt", "mass", "msoftdrop"):
        if field in jets.fields:
            jets = ak.with_field(jets, jets[field] * factor, field)
    return jets
