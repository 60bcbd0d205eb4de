"""One shard of a sample: Pythia8 batches through the detector into a NanoAOD-like file."""

from dataclasses import dataclass

import awkward as ak
import numpy as np
from tqdm import tqdm

from mlhep.errors import InvalidConfig
from mlhep.generate.detector import INVISIBLE, MUON
from mlhep.generate.jets import cluster, delta_r, eta_phi, gather, match, momenta, same_event_pairs, substructure
from mlhep.generate.pythia import final_state, hard_process

__all__ = ["EVENT_NUMBER_STRIDE", "SampleSpec", "build_events", "generate_events"]

EVENT_NUMBER_STRIDE = 1_000_000_000  # event = shard * stride + index of the generated event
_MAX_TRIES_PER_EVENT = 1000  # give up when the filter keeps fewer than 1 in this many events
_DRESSING_RADIUS = 0.1
_LEPTON_MIN_PT = 5.0


@dataclass(frozen=True)
class SampleSpec:
    """Everything needed to generate a sample, resolved from the config.

    ``channel`` is the processing channel the sample is made for; it says which jets carry
    their constituents (PFCands, GenCands): the fat jets for "dijet" (``FatJetPFCands``,
    ``GenFatJetCands``), the AK4 jets for "zjets" (``JetPFCands``, ``GenJetCands``, as in
    PFNano; ``Jet`` and ``GenJet`` then also carry N-subjettiness and soft drop).
    """

    name: str
    settings: list
    filter: dict
    jets: dict
    detector: dict
    events_per_shard: int
    batch_size: int
    global_seed: int
    channel: str = "dijet"

    @classmethod
    def from_config(cls, config, name):
        sample = config["samples"][name]
        process = config["processes"][sample["process"]]
        try:
            settings = [s.format(**sample.get("parameters", {})) for s in process["settings"]]
        except KeyError as err:
            raise InvalidConfig(f"samples.{name}.parameters: no value for placeholder {err} of process '{sample['process']}'") from err
        return cls(
            name=name,
            settings=settings + list(sample.get("settings", [])),
            filter=dict(sample.get("filter", {})),
            jets={**config["jets"], **sample.get("jets", {})},
            detector=dict(config["detector"]),
            events_per_shard=sample["events_per_shard"],
            batch_size=config["generation"]["batch_size"],
            global_seed=config["seed"],
            channel=sample["channel"],
        )


def generate_events(pythia, spec, detector, rng, shard, progress=True):
    """The shard's ``spec.events_per_shard`` events that pass the sample filter, as NanoAOD
    branches, and the number of Pythia events generated to find them (batches overshoot)."""
    chunks, n_generated, n_kept = [], 0, 0
    with tqdm(total=spec.events_per_shard, desc=f"{spec.name}[{shard}]", disable=not progress) as bar:
        while n_kept < spec.events_per_shard:
            if n_generated > _MAX_TRIES_PER_EVENT * spec.events_per_shard:
                raise InvalidConfig(f"samples.{spec.name}.filter keeps fewer than 1 in {_MAX_TRIES_PER_EVENT} events")
            batch = pythia.nextBatch(_next_batch_size(spec, n_generated, n_kept))
            particles = final_state(pythia, batch)
            kept_index, events = build_events(particles, spec, detector, rng)
            events["GenPart"] = _gen_part_record(hard_process(batch)[kept_index])
            events["event"] = (shard * EVENT_NUMBER_STRIDE + n_generated + kept_index + 1).astype(np.uint64)
            n_generated += len(particles)
            bar.update(min(len(kept_index), spec.events_per_shard - n_kept))
            n_kept += len(kept_index)
            chunks.append(events)
    return {k: _concatenate([c[k] for c in chunks])[: spec.events_per_shard] for k in chunks[0]}, n_generated


def _next_batch_size(spec, n_generated, n_kept):
    """Full batches, then one sized from the filter efficiency so far so little is thrown away."""
    if n_kept == 0:
        return spec.batch_size
    needed = (spec.events_per_shard - n_kept) * n_generated / n_kept
    return int(min(spec.batch_size, 1.2 * needed + 10))


def _concatenate(arrays):
    return ak.concatenate(arrays) if isinstance(arrays[0], ak.Array) else np.concatenate(arrays)


def build_events(particles, spec, detector, rng):
    """Detector simulation, jets and substructure for a batch of final-state particles.

    Args:
        particles: events x {px, py, pz, E, pdgId, charge} from ``final_state``.
        spec: the SampleSpec (filter and jet definitions).
        detector: the Detector model.
        rng: numpy Generator for detector effects.

    Returns:
        (kept_index, events): indices of the events that pass the sample filter, and a
        dict of NanoAOD collections for those events (``run``, ``luminosityBlock`` and
        ``event`` are left to the caller).
    """
    kept = np.arange(len(particles))
    abs_id = abs(particles.pdgId)
    visible = particles[~_isin(abs_id, INVISIBLE)]
    gen_muons = particles[abs_id == MUON]
    jets_cfg = spec.jets

    if "gen_dimuon_min_pt" in spec.filter:
        mask = _dimuon_pt(gen_muons) > spec.filter["gen_dimuon_min_pt"]
        kept, visible, gen_muons = kept[mask], visible[mask], gen_muons[mask]

    gen_jet_inputs = visible[abs(visible.pdgId) != MUON]
    pf_cands = detector.reconstruct(gen_jet_inputs, rng)
    muons = detector.reconstruct_muons(gen_muons, rng)
    fat_jets, fat_index = cluster(pf_cands, jets_cfg["fatjet_radius"], jets_cfg["fatjet_min_pt"])

    if "fatjet_min_pt" in spec.filter:
        leading = fat_jets[:, :1]
        mask = ak.to_numpy(
            ak.any((leading.pt > spec.filter["fatjet_min_pt"]) & (abs(leading.eta) < spec.filter.get("fatjet_max_abseta", np.inf)), axis=1)
        )
        kept, visible, gen_jet_inputs, pf_cands, muons, fat_jets, fat_index = (
            x[mask] for x in (kept, visible, gen_jet_inputs, pf_cands, muons, fat_jets, fat_index)
        )

    ak4 = spec.channel == "zjets"  # the AK4 jets carry the constituents (else the fat jets)
    gen_fat_jets, gen_fat_index = cluster(gen_jet_inputs, jets_cfg["fatjet_radius"], jets_cfg["fatjet_min_pt"])
    jets, jet_index = cluster(pf_cands, jets_cfg["jet_radius"], jets_cfg["jet_min_pt"], sort_constituents=ak4)
    gen_jets, gen_jet_index = cluster(gen_jet_inputs, jets_cfg["jet_radius"], jets_cfg["jet_min_pt"], sort_constituents=ak4)

    fat_record, fat_cands, fat_links = _jet_collections(fat_jets, fat_index, pf_cands, jets_cfg["fatjet_radius"], jets_cfg)
    gen_fat_record, gen_fat_cands, gen_fat_links = _jet_collections(gen_fat_jets, gen_fat_index, gen_jet_inputs, jets_cfg["fatjet_radius"], jets_cfg)
    fat_record["genJetAK8Idx"] = match(fat_jets, gen_fat_jets, jets_cfg["fatjet_radius"] / 2)

    if ak4:
        jet_record, cands, links = _jet_collections(jets, jet_index, pf_cands, jets_cfg["jet_radius"], jets_cfg)
        gen_jet_record, gen_cands, gen_links = _jet_collections(gen_jets, gen_jet_index, gen_jet_inputs, jets_cfg["jet_radius"], jets_cfg)
    else:
        jet_record, gen_jet_record = _kinematics(jets), _kinematics(gen_jets)
        jet_record["nConstituents"] = ak.values_astype(ak.num(jet_index, axis=2), np.int32)
        cands, links, gen_cands, gen_links = fat_cands, fat_links, gen_fat_cands, gen_fat_links
    jet_record["genJetIdx"] = match(jets, gen_jets, jets_cfg["jet_radius"] / 2)
    gen_links = ak.zip({"jetIdx": gen_links.jetIdx, "pFCandsIdx": gen_links.pFCandsIdx})
    muons = muons[ak.argsort(momenta(muons).pt, axis=1, ascending=False)]
    muon_record = _kinematics(momenta(muons))
    muon_record.update(charge=ak.values_astype(muons.charge, np.int32), pdgId=ak.values_astype(muons.pdgId, np.int32))

    links_of = ("JetPFCands", "GenJetCands") if ak4 else ("FatJetPFCands", "GenFatJetCands")
    events = {
        "genWeight": np.ones(len(kept), np.float32),
        "Jet": ak.zip(jet_record),
        "GenJet": ak.zip(gen_jet_record),
        "FatJet": ak.zip(fat_record),
        "GenJetAK8": ak.zip(gen_fat_record),
        "Muon": ak.zip(muon_record),
        "GenDressedLepton": ak.zip(_dressed_leptons(visible)),
        "PFCands": ak.zip(cands),
        links_of[0]: links,
        "GenCands": ak.zip(gen_cands),
        links_of[1]: gen_links,
    }
    for name, objects in (("MET", [momenta(pf_cands), momenta(muons)]), ("GenMET", [momenta(visible)])):
        px = sum(ak.to_numpy(ak.sum(o.px, axis=1)) for o in objects)
        py = sum(ak.to_numpy(ak.sum(o.py, axis=1)) for o in objects)
        events[f"{name}_pt"] = np.hypot(px, py).astype(np.float32)
        events[f"{name}_phi"] = np.arctan2(-py, -px).astype(np.float32)
    return kept, events


def _jet_collections(jets, index, particles, radius, jets_cfg):
    """Jet record with substructure (R0 = ``radius``), its stored constituents (hardest
    first, at most ``max_constituents``, counted by ``nConstituents``) and the
    jet-constituent links."""
    index = index[:, :, : jets_cfg["max_constituents"]]
    constituents = gather(particles, index)
    n_per_event = ak.num(jets)
    values = substructure(
        momenta(ak.flatten(constituents, axis=1)),
        radius,
        axes=jets_cfg["nsubjettiness_axes"],
        zcut=jets_cfg["softdrop"]["zcut"],
        beta=jets_cfg["softdrop"]["beta"],
    )
    record = _kinematics(jets)
    record.update({k: ak.unflatten(v.astype(np.float32), n_per_event) for k, v in values.items()})
    record["nConstituents"] = ak.values_astype(ak.num(index, axis=2), np.int32)
    cands = ak.flatten(constituents, axis=2)
    cand_record = _kinematics(momenta(cands))
    cand_record.update(charge=ak.values_astype(cands.charge, np.int32), pdgId=ak.values_astype(cands.pdgId, np.int32))
    jet_idx = ak.flatten(ak.broadcast_arrays(ak.local_index(index, axis=1), index)[0], axis=2)
    links = ak.zip(
        {
            "jetIdx": ak.values_astype(jet_idx, np.int32),
            "pFCandsIdx": ak.values_astype(ak.local_index(jet_idx, axis=1), np.int32),
        }
    )
    return record, cand_record, links


def _gen_part_record(particles):
    record = _kinematics(momenta(particles))
    record.update({f: ak.values_astype(particles[f], np.int32) for f in ("pdgId", "status", "genPartIdxMother")})
    return ak.zip(record)


def _kinematics(p4):
    """pt, eta, phi, mass (float32) of events x objects {px, py, pz, E}, computed on flat buffers."""
    counts = ak.to_numpy(ak.num(p4))
    flat = ak.flatten(p4)
    px, py, pz, energy = (ak.to_numpy(flat[f]).astype(np.float64) for f in ("px", "py", "pz", "E"))
    pt = np.hypot(px, py)
    values = {
        "pt": pt,
        "eta": np.arcsinh(pz / np.maximum(pt, 1e-12)),
        "phi": np.arctan2(py, px),
        "mass": np.sqrt(np.maximum(energy**2 - px**2 - py**2 - pz**2, 0.0)),
    }
    return {name: ak.unflatten(value.astype(np.float32), counts) for name, value in values.items()}


def _dressed_leptons(visible):
    """Generator electrons and muons with the photons within dR < 0.1 added back."""
    abs_id = abs(visible.pdgId)
    leptons = visible[(abs_id == 11) | (abs_id == MUON)]
    leptons = leptons[np.hypot(leptons.px, leptons.py) > _LEPTON_MIN_PT]
    photons = visible[visible.pdgId == 22]
    lepton_counts, photon_counts = ak.to_numpy(ak.num(leptons)), ak.to_numpy(ak.num(photons))
    lep = {f: ak.to_numpy(ak.flatten(leptons[f])).astype(np.float64) for f in ("px", "py", "pz", "E")}
    pho = {f: ak.to_numpy(ak.flatten(photons[f])).astype(np.float64) for f in ("px", "py", "pz", "E")}
    lepton, photon, _ = same_event_pairs(lepton_counts, photon_counts)
    lep_eta, lep_phi = eta_phi(lep["px"], lep["py"], lep["pz"])
    pho_eta, pho_phi = eta_phi(pho["px"], pho["py"], pho["pz"])
    near = delta_r(lep_eta[lepton], lep_phi[lepton], pho_eta[photon], pho_phi[photon]) < _DRESSING_RADIUS
    for f in lep:
        lep[f] += np.bincount(lepton[near], weights=pho[f][photon[near]], minlength=len(lep[f]))
    dressed = ak.unflatten(ak.zip(lep), lepton_counts)
    order = ak.argsort(np.hypot(dressed.px, dressed.py), axis=1, ascending=False)
    record = _kinematics(dressed[order])
    record["pdgId"] = ak.values_astype(leptons.pdgId[order], np.int32)
    return record


def _dimuon_pt(muons):
    """pT of the two hardest muons' sum; 0 for events with fewer than two muons."""
    p4 = momenta(muons)
    p4 = p4[ak.argsort(p4.pt, axis=1, ascending=False)]
    pair = ak.pad_none(p4, 2, axis=1, clip=True)
    pt = (pair[:, 0] + pair[:, 1]).pt
    return ak.to_numpy(ak.fill_none(pt, 0.0))


def _isin(values, targets):
    out = values == targets[0]
    for target in targets[1:]:
        out = out | (values == target)
    return out
