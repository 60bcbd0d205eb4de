"""Pythia8 set-up: seeded, quiet generators from config settings, and particles from batches."""

import awkward as ak
import numpy as np
import pythia8mc

from mlhep import seeds
from mlhep.errors import InvalidConfig

__all__ = ["final_state", "hard_process", "make_pythia", "shard_seed"]

_QUIET = ["Print:quiet = on", "Next:numberCount = 0"]
_MAX_PYTHIA_SEED = 900_000_000


def shard_seed(global_seed, sample, shard):
    """Seed of one shard from the "generate" stream of (global seed, sample, shard), in Pythia's range."""
    return 1 + seeds.integer("generate", global_seed, sample, shard) % _MAX_PYTHIA_SEED


def make_pythia(settings, seed):
    """An initialized Pythia8 instance; a setting Pythia rejects raises InvalidConfig naming it."""
    pythia = pythia8mc.Pythia("", False)
    for setting in [*_QUIET, *settings, "Random:setSeed = on", f"Random:seed = {seed}"]:
        if not pythia.readString(setting):
            raise InvalidConfig(f"Pythia rejected the setting '{setting}'")
    if not pythia.init():
        raise InvalidConfig(f"Pythia failed to initialize with settings {settings}")
    return pythia


def hard_process(batch):
    """The hard process and resonance decays (|status| 21-29), NanoAOD ``GenPart`` style.

    Returns events x {px, py, pz, E, pdgId, status, genPartIdxMother}, the mother index
    pointing into the same list (-1 when the mother is not kept).
    """
    prt = batch.prt
    keep = (abs(prt.status) >= 21) & (abs(prt.status) <= 29)
    counts = ak.to_numpy(ak.num(prt))
    flat_keep = ak.to_numpy(ak.flatten(keep))
    starts = np.repeat(np.cumsum(counts) - counts, counts)
    # position of each kept particle within its event's kept list
    kept_before = np.cumsum(flat_keep) - flat_keep
    event_first = np.repeat(kept_before[np.cumsum(counts) - counts] if len(kept_before) else kept_before, counts)
    new_index = np.where(flat_keep, kept_before - event_first, -1)
    mother = ak.to_numpy(ak.flatten(prt.mother1))
    mother_new = np.where(mother > 0, new_index[starts + np.maximum(mother, 0)], -1)
    mothers = ak.unflatten(mother_new.astype(np.int32), counts)[keep]
    selected = prt[keep]
    p = selected.p
    return ak.zip(
        {"px": p.px, "py": p.py, "pz": p.pz, "E": p.e, "pdgId": selected.id, "status": selected.status, "genPartIdxMother": mothers}
    )


def final_state(pythia, batch):
    """Final-state particles of a ``nextBatch`` result: events x {px, py, pz, E, pdgId, charge}."""
    final = batch.prt[batch.prt.status > 0]
    pdg_id = final.id
    ids = np.unique(ak.to_numpy(ak.flatten(pdg_id)))
    charges = np.array([pythia.particleData.charge(int(i)) for i in ids])
    flat_id = ak.to_numpy(ak.flatten(pdg_id))
    charge = ak.unflatten(charges[np.searchsorted(ids, flat_id)].astype(np.int32), ak.num(pdg_id))
    p = final.p
    return ak.zip({"px": p.px, "py": p.py, "pz": p.pz, "E": p.e, "pdgId": pdg_id, "charge": charge})
