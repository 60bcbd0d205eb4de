"""Jet energy scale and resolution variations, applied at processing time."""

import awkward as ak
import numpy as np

from mlhep import seeds
from mlhep.columns import JET_FEATURES, jet_column
from mlhep.process.common import pair_mass

__all__ = ["VARIATIONS", "scale_factors", "vary_columns", "vary_jets"]

VARIATIONS = ("nominal", "jes_up", "jes_down", "jer")
_SCALED = ("mass", "msd", "pt")  # the feature-table names of what vary_jets scales (mass, msoftdrop, pt)


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


def vary_columns(columns, variation, jes_uncertainty, jer_extra, seed):
    """The two fat jets of processed dijet ``columns`` (vary_jets after the processing, with the
    same factors): their features (two dicts of JET_FEATURES, j1 and j2) and the dijet mass."""
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
