"""Event generation: physics of the samples, file format, reproducibility, bad files."""


import awkward as ak
import numpy as np
import pytest
import uproot
import vector
from coffea.nanoevents import NanoEventsFactory, PFNanoAODSchema

from conftest import generate
from mlhep.errors import BadInputFile, InvalidConfig
from mlhep.generate import Detector, SampleSpec, open_events, read_branches, write_nanoaod
from mlhep.generate.pythia import shard_seed
from mlhep.generate.stage import generate_shard


class _Schema(PFNanoAODSchema):
    warn_missing_crossrefs = False


def _events(path):
    return NanoEventsFactory.from_root({str(path): "Events"}, schemaclass=_Schema, mode="eager").events()


def _leading_pair(events):
    two = events[ak.num(events.FatJet) >= 2]
    return two.FatJet[:, 0], two.FatJet[:, 1]


def test_files_open_with_coffea_and_jets_are_lorentz_vectors(generated):
    events = _events(generated["wprime_xy"])
    j1, j2 = _leading_pair(events)
    mjj = ak.to_numpy((j1 + j2).mass)
    raw = uproot.open(generated["wprime_xy"])["Events"].arrays(["FatJet_pt", "FatJet_eta", "FatJet_phi", "FatJet_mass"])
    jets = vector.zip({k.split("_")[1]: raw[k] for k in raw.fields})
    jets = jets[ak.num(jets) >= 2]
    np.testing.assert_allclose(mjj, ak.to_numpy((jets[:, 0] + jets[:, 1]).mass), rtol=1e-5)
    # PFNano links: every fat jet's constituents are reachable and match its count
    assert ak.all(ak.num(events.FatJet.constituents.pf, axis=2) == events.FatJet.nConstituents)
    assert ak.all(events.FatJet.matched_gen.pt > 0)


def test_wprime_fatjets_peak_at_x_and_y_masses_and_mjj_at_wprime(generated):
    events = _events(generated["wprime_xy"])
    j1, j2 = _leading_pair(events)
    msd = np.concatenate([ak.to_numpy(j1.msoftdrop), ak.to_numpy(j2.msoftdrop)])
    near_y = np.mean((msd > 80) & (msd < 120))
    near_x = np.mean((msd > 450) & (msd < 550))
    assert near_y > 0.3 and near_x > 0.3, (near_y, near_x)
    for low, high, mass in ((0, 300, 100), (300, 700, 500)):
        counts, edges = np.histogram(msd, bins=np.arange(low, high + 1, 20))
        peak = edges[np.argmax(counts)] + 10
        assert abs(peak - mass) <= 0.1 * mass, (mass, peak)
    mjj = ak.to_numpy((j1 + j2).mass)
    assert 3100 < np.median(mjj) < 3600
    # two-prong jets: tau21 well below QCD's
    tau21 = ak.to_numpy(j1["tau2"] / j1["tau1"])
    assert np.median(tau21) < 0.4


def test_qcd_passes_the_filter_and_has_no_resonance(generated):
    events = _events(generated["qcd_dijet"])
    leading = events.FatJet[:, 0]
    assert ak.all(leading.pt > 1200) and ak.all(abs(leading.eta) < 2.5)
    j1, j2 = _leading_pair(events)
    msd = np.concatenate([ak.to_numpy(j1.msoftdrop), ak.to_numpy(j2.msoftdrop)])
    assert np.mean((msd > 450) & (msd < 550)) < 0.05
    assert np.median(ak.to_numpy(j1["tau2"] / j1["tau1"])) > 0.45


def test_z_to_mumu_peaks_at_91_gev(generated):
    events = _events(generated["zjets_nominal"])
    muons = events.Muon[ak.num(events.Muon) >= 2]
    mass = ak.to_numpy((muons[:, 0] + muons[:, 1]).mass)
    assert len(mass) > 100
    assert 89 < np.median(mass) < 93
    assert np.mean(np.abs(mass - 91.2) < 6) > 0.7
    opposite = ak.to_numpy(muons[:, 0].charge * muons[:, 1].charge) < 0
    assert opposite.mean() > 0.95
    dressed = events.GenDressedLepton[ak.num(events.GenDressedLepton) >= 2]
    gen_mass = ak.to_numpy((dressed[:, 0] + dressed[:, 1]).mass)
    assert 90 < np.median(gen_mass) < 92.5


def test_constituents_add_up_to_their_jet(generated):
    events = _events(generated["qcd_dijet"])
    jets = events.FatJet[events.FatJet.nConstituents < 150]
    summed = jets.constituents.pf.sum(axis=2)
    np.testing.assert_allclose(ak.to_numpy(ak.flatten(summed.pt)), ak.to_numpy(ak.flatten(jets.pt)), rtol=1e-3)


def test_zjets_samples_store_ak4_jets_with_constituents_as_pfnano(generated):
    """Z+jets: the R = 0.4 jets are AK4 jets as in CMS PFNano, Jet + JetPFCands and GenJet +
    GenJetCands, with substructure; FatJet is AK8 (no stored candidates). Dijet samples keep
    their fat-jet constituents (FatJetPFCands, GenFatJetCands) and plain AK4 jets."""
    events = _events(generated["zjets_nominal"])
    assert {"JetPFCands", "GenJetCands"} <= set(events.fields) and not {"FatJetPFCands", "GenFatJetCands"} & set(events.fields)
    for jets, links in ((events.Jet, events.JetPFCands), (events.GenJet, events.GenJetCands)):
        assert {"tau1", "tau2", "msoftdrop", "softdropZg", "nConstituents"} <= set(jets.fields)
        assert ak.all(jets.pt > 20) and ak.all((jets.msoftdrop >= 0) & (jets.msoftdrop <= jets.mass + 1e-3))
        # the links hold each jet's constituents together, as many as nConstituents
        assert ak.all(ak.run_lengths(links.jetIdx) == jets.nConstituents)
        assert ak.all(links.pf.pt > 0)
    summed = events.Jet.constituents.pf.sum(axis=2)
    np.testing.assert_allclose(ak.to_numpy(ak.flatten(summed.pt)), ak.to_numpy(ak.flatten(events.Jet.pt)), rtol=1e-3)
    assert ak.all(events.FatJet.pt > 200) and ak.all(events.Jet.matched_gen.pt > 0)
    dijet = _events(generated["qcd_dijet"])
    assert {"FatJetPFCands", "GenFatJetCands"} <= set(dijet.fields) and not {"JetPFCands", "GenJetCands"} & set(dijet.fields)
    assert "tau1" not in dijet.Jet.fields


def test_reconstructed_jets_match_truth_within_resolution(generated):
    events = _events(generated["qcd_dijet"])
    jets = events.FatJet[events.FatJet.genJetAK8Idx >= 0]
    response = ak.to_numpy(ak.drop_none(ak.flatten(jets.pt / jets.matched_gen.pt)))
    assert 0.97 < np.median(response) < 1.03
    assert 0.005 < np.std(response[np.abs(response - 1) < 0.3]) < 0.1


def test_same_seed_same_events_other_shard_other_events(config, tmp_path):
    first = generate(config, "zjets_nominal", 20, tmp_path / "a.root")
    generate(config, "zjets_nominal", 20, tmp_path / "b.root")
    generate(config, "zjets_nominal", 20, tmp_path / "c.root", shard=1)
    a, b, c = (uproot.open(tmp_path / f"{n}.root")["Events"].arrays() for n in "abc")
    assert first["events"] == 20 and len(a) == 20
    for field in a.fields:
        assert ak.all(a[field] == b[field]), field
    assert not ak.all(ak.num(a.Jet_pt) == ak.num(c.Jet_pt)) or not ak.all(a.Jet_pt == c.Jet_pt)
    assert set(ak.to_numpy(a.event)).isdisjoint(ak.to_numpy(c.event))


def test_shard_seeds_are_stable_and_distinct():
    seeds = {shard_seed(1, sample, shard) for sample in ("a", "b") for shard in range(50)}
    assert len(seeds) == 100
    assert shard_seed(1, "a", 0) == shard_seed(1, "a", 0) != shard_seed(2, "a", 0)
    assert all(1 <= s <= 900_000_000 for s in seeds)


def test_truncated_corrupted_missing_and_empty_files_raise_clear_errors(generated, tmp_path):
    truncated = tmp_path / "truncated.root"
    data = generated["zjets_nominal"].read_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(BadInputFile, match="truncated.root"):
        read_branches(truncated)
    corrupted = tmp_path / "corrupted.root"
    corrupted.write_bytes(b"not a ROOT file" * 100)
    with pytest.raises(BadInputFile, match="corrupted.root: not a readable ROOT file"):
        open_events(corrupted)
    with pytest.raises(BadInputFile, match="missing.root: file not found"):
        open_events(tmp_path / "missing.root")
    empty = tmp_path / "empty.root"
    write_nanoaod(empty, {"run": np.zeros(0, np.uint32)}, {"run": np.array([1], np.uint32)})
    with pytest.raises(BadInputFile, match="empty.root: TTree 'Events' has no entries"):
        open_events(empty)


def test_failed_write_leaves_no_file(tmp_path):
    path = tmp_path / "out.root"
    with pytest.raises(TypeError, match="cannot write NumPy dtype"):  # uproot's, while the file is being written
        write_nanoaod(path, {"x": np.zeros(3), "Jet": "not an array"}, {"run": np.array([1])})
    assert list(tmp_path.iterdir()) == []


def test_pythia_rejects_bad_settings_with_a_clear_error(config, tmp_path):
    config["processes"]["zjets"]["settings"].append("NoSuchSetting:at = all")
    with pytest.raises(InvalidConfig, match="NoSuchSetting:at = all"):
        generate_shard(SampleSpec.from_config(config, "zjets_nominal"), 0, tmp_path / "x.root", progress=False)
    assert not (tmp_path / "x.root").exists()


def test_missing_process_parameter_names_the_sample(config):
    del config["samples"]["wprime_xy"]["parameters"]["m_x"]
    with pytest.raises(InvalidConfig, match="samples.wprime_xy.parameters: no value for placeholder 'm_x'"):
        SampleSpec.from_config(config, "wprime_xy")


def _single_particles(pdg_id, charge, energy, n):
    """n events, each one particle of the given kind along eta = 0.5."""
    pz = energy * np.sinh(0.5) / np.cosh(0.5)
    pt = np.sqrt(energy**2 - pz**2)
    return ak.zip(
        {
            "px": ak.unflatten(np.full(n, pt), 1),
            "py": ak.unflatten(np.zeros(n), 1),
            "pz": ak.unflatten(np.full(n, pz), 1),
            "E": ak.unflatten(np.full(n, energy), 1),
            "pdgId": ak.unflatten(np.full(n, pdg_id, np.int32), 1),
            "charge": ak.unflatten(np.full(n, charge, np.int32), 1),
        }
    )


def test_detector_resolutions_and_efficiencies(config):
    detector = Detector.from_config(config["detector"])
    rng = np.random.default_rng(1)
    n = 20000
    photons = detector.reconstruct(_single_particles(22, 0, 100.0, n), rng)
    response = ak.to_numpy(ak.flatten(photons.E)) / 100.0
    ecal = config["detector"]["ecal"]["resolution"]
    expected = np.hypot(ecal["stochastic"] / np.sqrt(100.0), ecal["constant"])
    assert abs(np.std(response) / expected - 1) < 0.05
    assert abs(np.mean(response) - 1) < 0.002

    pions = detector.reconstruct(_single_particles(211, 1, 50.0, n), rng)
    tracked = ak.to_numpy(ak.flatten(pions.charge)) != 0
    efficiency = config["detector"]["tracker"]["efficiency"]
    assert abs(tracked.mean() - efficiency) < 0.01
    # a lost track is still seen in the calorimeter, as a neutral hadron
    assert set(ak.to_numpy(ak.flatten(pions.pdgId))[~tracked]) == {130}
    assert len(ak.flatten(pions)) > 0.99 * n

    muons = detector.reconstruct_muons(_single_particles(13, -1, 200.0, n), rng)
    assert abs(ak.count(muons.E) / n - config["detector"]["muon"]["efficiency"]) < 0.01
