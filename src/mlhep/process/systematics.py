"""Jet energy scale and resolution variations, applied at processing time."""

import awkward as ak
import numpy as np

from mlhep import seeds

__all__ = ["VARIATIONS", "scale_factors", "vary_jets"]

VARIATIONS = ("nominal", "jes_up", "jes_down", "jer")


def scale_factors(counts, event, variation, jes_uncertainty, jer_extra, seed):
    """Per-jet factors on pt, mass and soft-drop mass (flat, jets of all events in order).

    Args:
        counts: jets per event.
        event: event numbers (one per event).
        variation: one of VARIATIONS. jes_up/jes_down scale by 1 +- jes_uncertainty; jer
            smears each jet by an extra Gaussian of relative width jer_extra, drawn from the
            "jer" stream by (event number, jet index): the same jet gets the same factor
            whatever the chunking, and no other use of randomness shares these numbers.
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
        return np.maximum(1.0 + jer_extra * seeds.normal("jer", seed, flat_event, flat_index), 0.0)
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
