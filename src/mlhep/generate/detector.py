"""A parametric CMS-like detector acting on whole batches of generator particles.

Particles are awkward records ``{px, py, pz, E, pdgId, charge}`` (events x particles).
The model, each number a config value (``detector`` in config/config.yaml):

- charged particles inside the tracker are tracks, found with a flat efficiency and
  measured with sigma(pT)/pT = c (+) k pT; a charged particle whose track is lost still
  showers and is seen by the calorimeters, as particle flow would see it;
- photons, electrons outside the tracker and lost electron tracks go to the ECAL,
  hadrons outside the tracker, neutral hadrons and lost hadron tracks to the HCAL,
  each with sigma(E)/E = a / sqrt(E) (+) c and an energy threshold;
- muons are reconstructed separately (efficiency, pT resolution) and kept out of
  jets; neutrinos are invisible.

Smearing keeps directions exact. Tracks scale their whole four-momentum; calorimeter
candidates are massless, with |p| equal to the measured energy (as particle-flow neutral
candidates are), so their pseudorapidity equals their rapidity.
"""

from dataclasses import dataclass

import awkward as ak
import numpy as np

__all__ = ["Detector", "INVISIBLE", "MUON"]

INVISIBLE = (12, 14, 16)
MUON = 13
_ELECTRON, _PHOTON = 11, 22
_NEUTRAL_HADRON_ID, _PHOTON_ID = 130, 22  # particle-flow labels of calorimeter-only objects


@dataclass(frozen=True)
class Detector:
    """Resolution, efficiency and acceptance parameters; see the module docstring."""

    tracker: dict
    ecal: dict
    hcal: dict
    muon: dict

    @classmethod
    def from_config(cls, cfg):
        return cls(**{key: cfg[key] for key in ("tracker", "ecal", "hcal", "muon")})

    def reconstruct(self, particles, rng):
        """Particle-flow candidates from visible, non-muon generator particles (same layout)."""
        flat, counts = ak.flatten(particles), ak.num(particles)
        pid = np.abs(ak.to_numpy(flat.pdgId))
        charge = ak.to_numpy(flat.charge)
        px, py, pz, energy = (ak.to_numpy(flat[f]) for f in ("px", "py", "pz", "E"))
        pt = np.hypot(px, py)
        abseta = np.abs(np.arcsinh(pz / np.maximum(pt, 1e-12)))

        in_tracker = (charge != 0) & (abseta < self.tracker["max_abseta"])
        tracked = in_tracker & (pt > self.tracker["min_pt"]) & (rng.random(len(pt)) < self.tracker["efficiency"])
        to_ecal = ~tracked & ((pid == _PHOTON) | (pid == _ELECTRON))
        to_hcal = ~tracked & ~to_ecal

        scale = np.ones(len(pt))
        scale[tracked] = _smear(rng, _tracker_sigma(self.tracker["resolution"], pt[tracked]))
        scale[to_ecal] = _smear(rng, _calo_sigma(self.ecal["resolution"], energy[to_ecal]))
        scale[to_hcal] = _smear(rng, _calo_sigma(self.hcal["resolution"], energy[to_hcal]))

        seen_ecal = to_ecal & (abseta < self.ecal["max_abseta"]) & (energy * scale > self.ecal["min_energy"])
        seen_hcal = to_hcal & (abseta < self.hcal["max_abseta"]) & (energy * scale > self.hcal["min_energy"])
        keep = tracked | seen_ecal | seen_hcal
        out_pid = np.where(tracked, ak.to_numpy(flat.pdgId), np.where(seen_ecal, _PHOTON_ID, _NEUTRAL_HADRON_ID))
        # calorimeters measure an energy and a direction: their candidates are massless
        momentum = np.sqrt(px**2 + py**2 + pz**2)
        p_scale = np.where(tracked, scale, energy * scale / np.maximum(momentum, 1e-12))
        out = ak.zip(
            {
                "px": px * p_scale,
                "py": py * p_scale,
                "pz": pz * p_scale,
                "E": energy * scale,
                "pdgId": out_pid.astype(np.int32),
                "charge": np.where(tracked, charge, 0).astype(np.int32),
            }
        )
        return ak.unflatten(out, counts)[ak.unflatten(keep, counts)]

    def reconstruct_muons(self, muons, rng):
        """Reconstructed muons from generator muons: acceptance, efficiency, pT smearing."""
        flat, counts = ak.flatten(muons), ak.num(muons)
        px, py, pz, energy = (ak.to_numpy(flat[f]) for f in ("px", "py", "pz", "E"))
        pt = np.hypot(px, py)
        abseta = np.abs(np.arcsinh(pz / np.maximum(pt, 1e-12)))
        scale = _smear(rng, _tracker_sigma(self.muon["resolution"], pt))
        keep = (
            (abseta < self.muon["max_abseta"])
            & (pt * scale > self.muon["min_pt"])
            & (rng.random(len(pt)) < self.muon["efficiency"])
        )
        out = ak.zip(
            {
                "px": px * scale,
                "py": py * scale,
                "pz": pz * scale,
                "E": energy * scale,
                "pdgId": ak.to_numpy(flat.pdgId),
                "charge": ak.to_numpy(flat.charge),
            }
        )
        return ak.unflatten(out, counts)[ak.unflatten(keep, counts)]


def _tracker_sigma(resolution, pt):
    return np.hypot(resolution["constant"], resolution["per_gev"] * pt)


def _calo_sigma(resolution, energy):
    return np.hypot(resolution["stochastic"] / np.sqrt(np.maximum(energy, 1e-9)), resolution["constant"])


def _smear(rng, sigma):
    """Multiplicative Gaussian response, truncated at zero (no negative energies)."""
    return np.maximum(1.0 + sigma * rng.standard_normal(len(sigma)), 0.0)
