"""Jet clustering and substructure on whole batches with FastJet's awkward interface."""

import awkward as ak
import fastjet
import numpy as np
import vector

from mlhep.generate.softdrop import softdrop

vector.register_awkward()

__all__ = ["cluster", "gather", "match", "momenta", "substructure"]

_RECLUSTER_RADIUS = 10.0  # large enough that each jet's constituents form a single C/A tree


def momenta(particles):
    """Momentum4D view (px, py, pz, E) of records that carry those fields."""
    return ak.zip({f: particles[f] for f in ("px", "py", "pz", "E")}, with_name="Momentum4D")


def cluster(particles, radius, min_pt):
    """Anti-kT jets of each event, hardest first, and per jet the indices of its particles.

    Args:
        particles: events x particles records with px, py, pz, E.
        radius: jet radius R.
        min_pt: minimum jet pT in GeV.

    Returns:
        (jets, index): Momentum4D jets (events x jets) and int64 indices into
        ``particles`` (events x jets x constituents), constituents hardest first.
    """
    sequence = fastjet.ClusterSequence(momenta(particles), fastjet.JetDefinition(fastjet.antikt_algorithm, radius))
    jets = momenta(sequence.inclusive_jets(min_pt))
    index = sequence.constituent_index(min_pt)
    order = ak.argsort(np.hypot(jets.px, jets.py), axis=1, ascending=False)
    jets, index = jets[order], index[order]
    constituents = gather(particles, index)
    index = index[ak.argsort(np.hypot(constituents.px, constituents.py), axis=2, ascending=False)]
    return jets, index


def gather(particles, index):
    """``particles`` (events x particles) picked by ``index`` (events x jets x k), per event."""
    counts = ak.to_numpy(ak.num(particles))
    starts = np.cumsum(counts) - counts
    flat_index = ak.to_numpy(ak.flatten(index + starts, axis=None))
    picked = ak.flatten(particles)[flat_index]
    per_jet = ak.unflatten(picked, ak.to_numpy(ak.flatten(ak.num(index, axis=2))))
    return ak.unflatten(per_jet, ak.to_numpy(ak.num(index, axis=1)))


def substructure(constituents, radius, axes="OnePass_KT_Axes", zcut=0.1, beta=0.0):
    """N-subjettiness and soft-drop observables of jets given their constituents.

    Args:
        constituents: jets x particles Momentum4D (one entry per jet, events flattened).
        radius: the jet radius, used as R0 of both N-subjettiness and soft drop.
        axes: N-subjettiness axes (FastJet contrib names; CMS uses OnePass_KT_Axes).
        zcut, beta: soft-drop parameters (arXiv:1402.2657); beta = 0 is mMDT.

    Returns:
        dict of numpy arrays, one value per jet: tau1..tau4 (normalized measure,
        beta = 1, arXiv:1011.2268), msoftdrop, softdropZg, softdropRg.
    """
    names = ("tau1", "tau2", "tau3", "tau4", "msoftdrop", "softdropZg", "softdropRg")
    out = {name: np.zeros(len(constituents)) for name in names}
    # one-particle jets have no substructure: all zeros
    several = ak.to_numpy(ak.num(constituents)) > 1
    if not several.any():
        return out
    constituents = constituents[several]
    sequence = fastjet.ClusterSequence(constituents, fastjet.JetDefinition(fastjet.cambridge_algorithm, _RECLUSTER_RADIUS))
    taus = ak.to_numpy(sequence.njettiness(njets=[1, 2, 3, 4], R0=radius, beta=1.0, axes_definition=axes))
    values = {f"tau{n}": taus[:, n - 1] for n in (1, 2, 3, 4)}
    flat = ak.flatten(constituents)
    offsets = np.concatenate([[0], np.cumsum(ak.to_numpy(ak.num(constituents)))])
    groomed = softdrop(*(ak.to_numpy(flat[f]) for f in ("px", "py", "pz", "E")), offsets, radius, zcut, beta)
    values.update({k: groomed[k] for k in ("msoftdrop", "softdropZg", "softdropRg")})
    for name in names:
        out[name][several] = values[name]
    return out


def match(jets, targets, max_dr):
    """Index of the nearest ``targets`` entry within ``max_dr`` of each jet, -1 when none."""
    pairs = ak.cartesian([jets, targets], axis=1, nested=True)
    dr = pairs["0"].deltaR(pairs["1"])
    nearest = ak.argmin(dr, axis=2)
    closest = ak.min(dr, axis=2)
    return ak.values_astype(ak.fill_none(ak.where(closest < max_dr, nearest, -1), -1), np.int32)
