"""Jet clustering (FastJet's awkward interface) and substructure (numba kernels) on whole batches."""

import awkward as ak
import fastjet
import numpy as np
import vector

from mlhep.generate.nsubjettiness import nsubjettiness
from mlhep.generate.softdrop import softdrop

vector.register_awkward()

__all__ = ["cluster", "delta_r", "eta_phi", "gather", "match", "momenta", "same_event_pairs", "substructure"]


def momenta(particles):
    """Momentum4D view (px, py, pz, E) of records that carry those fields."""
    return ak.zip({f: particles[f] for f in ("px", "py", "pz", "E")}, with_name="Momentum4D")


def cluster(particles, radius, min_pt, sort_constituents=True):
    """Anti-kT jets of each event, hardest first, and per jet the indices of its particles.

    Args:
        particles: events x particles records with px, py, pz, E.
        radius: jet radius R.
        min_pt: minimum jet pT in GeV.
        sort_constituents: order each jet's constituents hardest first (else as FastJet gives them).

    Returns:
        (jets, index): Momentum4D jets (events x jets) and int64 indices into
        ``particles`` (events x jets x constituents).
    """
    sequence = fastjet.ClusterSequence(momenta(particles), fastjet.JetDefinition(fastjet.antikt_algorithm, radius))
    jets = momenta(sequence.inclusive_jets(min_pt))
    index = sequence.constituent_index(min_pt)
    order = ak.argsort(np.hypot(jets.px, jets.py), axis=1, ascending=False)
    jets, index = jets[order], index[order]
    if not sort_constituents:
        return jets, index
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
        axes: N-subjettiness axes, "OnePass_KT_Axes" (as CMS) or "KT_Axes".
        zcut, beta: soft-drop parameters (arXiv:1402.2657); beta = 0 is mMDT.

    Returns:
        dict of numpy arrays, one value per jet: tau1..tau4 (normalized measure,
        beta = 1, arXiv:1011.2268), msoftdrop, softdropZg, softdropRg. Both are numba
        kernels that reproduce FastJet (contrib) exactly; see tests/test_nsubjettiness.py
        and tests/test_softdrop.py.
    """
    names = ("tau1", "tau2", "tau3", "tau4", "msoftdrop", "softdropZg", "softdropRg")
    if len(constituents) == 0:
        return {name: np.zeros(0) for name in names}
    flat = ak.flatten(constituents)
    kinematics = [ak.to_numpy(flat[f]).astype(np.float64) for f in ("px", "py", "pz", "E")]
    offsets = np.concatenate([[0], np.cumsum(ak.to_numpy(ak.num(constituents)))]).astype(np.int64)
    taus = nsubjettiness(*kinematics, offsets, radius, n_max=4, axes=axes)
    out = {f"tau{n}": taus[:, n - 1] for n in (1, 2, 3, 4)}
    groomed = softdrop(*kinematics, offsets, radius, zcut, beta)
    out.update({name: groomed[name] for name in ("msoftdrop", "softdropZg", "softdropRg")})
    return out


def same_event_pairs(counts_a, counts_b):
    """Flat indices (a, b) of every pair of an ``a`` and a ``b`` object in the same event,
    ``a``-major: the pairs of the first ``a`` object come first."""
    per_a = np.repeat(counts_b, counts_a)
    a = np.repeat(np.arange(len(per_a)), per_a)
    first_b = np.repeat(np.repeat(np.cumsum(counts_b) - counts_b, counts_a), per_a)
    b = first_b + np.arange(per_a.sum()) - np.repeat(np.cumsum(per_a) - per_a, per_a)
    return a, b, per_a


def eta_phi(px, py, pz):
    """Pseudorapidity and azimuth of flat momentum components."""
    pt = np.hypot(px, py)
    return np.arcsinh(pz / np.maximum(pt, 1e-12)), np.arctan2(py, px)


def delta_r(eta1, phi1, eta2, phi2):
    dphi = (phi1 - phi2 + np.pi) % (2 * np.pi) - np.pi
    return np.hypot(eta1 - eta2, dphi)


def match(jets, targets, max_dr):
    """Index of the nearest ``targets`` entry within ``max_dr`` of each jet, -1 when none."""
    counts, target_counts = ak.to_numpy(ak.num(jets)), ak.to_numpy(ak.num(targets))
    jet_eta, jet_phi = eta_phi(*(ak.to_numpy(ak.flatten(jets[f])) for f in ("px", "py", "pz")))
    target_eta, target_phi = eta_phi(*(ak.to_numpy(ak.flatten(targets[f])) for f in ("px", "py", "pz")))
    a, b, per_jet = same_event_pairs(counts, target_counts)
    dr = ak.unflatten(delta_r(jet_eta[a], jet_phi[a], target_eta[b], target_phi[b]), per_jet)
    nearest = ak.to_numpy(ak.fill_none(ak.argmin(dr, axis=1), -1))
    closest = ak.to_numpy(ak.fill_none(ak.min(dr, axis=1), np.inf))
    return ak.unflatten(np.where(closest < max_dr, nearest, -1).astype(np.int32), counts)
