"""Jet energy scale and resolution variations, applied at processing time."""

import awkward as ak
import numpy as np

__all__ = ["VARIATIONS", "per_jet_normal", "vary_jets"]

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


def vary_jets(jets, event, variation, jes_uncertainty, jer_extra, seed):
    """Jets with pt and mass scaled for one variation (events x jets, any jet record).

    pt, mass and msoftdrop move together. jes_up/jes_down scale by 1 +- jes_uncertainty;
    jer smears each jet by an extra
    Gaussian of relative width jer_extra (the resolution worsened in quadrature).
    """
    if variation == "nominal":
        return jets
    if variation in ("jes_up", "jes_down"):
        factor = 1.0 + (jes_uncertainty if variation == "jes_up" else -jes_uncertainty)
        factor = ak.ones_like(jets.pt) * factor
    elif variation == "jer":
        counts = ak.to_numpy(ak.num(jets))
        flat_event = np.repeat(ak.to_numpy(event).astype(np.uint64), counts)
        flat_index = ak.to_numpy(ak.flatten(ak.local_index(jets.pt))).astype(np.uint64)
        factor = ak.unflatten(np.maximum(1.0 + jer_extra * per_jet_normal(flat_event, flat_index, seed), 0.0), counts)
    else:
        raise ValueError(f"unknown variation '{variation}' (known: {', '.join(VARIATIONS)})")
    for field in ("pt", "mass", "msoftdrop"):
        if field in jets.fields:
            jets = ak.with_field(jets, jets[field] * factor, field)
    return jets
