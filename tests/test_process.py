"""coffea processing on generated and real CMS NanoAOD: cutflows, features, histograms, bad input."""

import json

import awkward as ak
import numpy as np
import pyarrow.parquet as pq
import pytest
import uproot
import vector

from conftest import nanoaod_branches, write_events
from mlhep.columns import read_columns
from mlhep.errors import EmptySelection, InvalidInput, OptionalBranchWarning
from mlhep.ml.data import jet_table
from mlhep.process import configured_executor, cutflow_table, make_executor, make_processor, run_processor
from mlhep.process.stage import process_sample

EXECUTOR = make_executor("iterative", status=False)


def _run(files, channel, chunksize=60, **options):
    return run_processor("test", [str(f) for f in files], make_processor(channel, options, seed=3), EXECUTOR, chunksize)


def _assert_cutflow_never_increases(cutflow):
    counts = list(cutflow.values())
    assert all(a >= b for a, b in zip(counts, counts[1:])), cutflow


@pytest.fixture(scope="module")
def dijet(generated):
    return _run([generated["wprime_xy"], generated["qcd_dijet"]], "dijet")


@pytest.fixture(scope="module")
def zjets(generated):
    return _run([generated["zjets_nominal"]], "zjets")


def test_dijet_cutflow_features_and_histograms(dijet, generated):
    _assert_cutflow_never_increases(dijet["cutflow"])
    columns = dijet["columns"]
    assert dijet["cutflow"]["both_softdrop"] == len(columns) > 250
    # rows in file order, each file's events in order: one step down, where the second file's events start
    assert np.sum(np.diff(ak.to_numpy(columns.event).astype(np.int64)) < 0) == 1
    assert np.all(columns.mj1 <= columns.mj2)
    np.testing.assert_allclose(ak.to_numpy(columns.delta_mj), ak.to_numpy(columns.mj2 - columns.mj1), rtol=1e-6)
    assert np.all((columns.tau21_j1 >= 0) & (columns.tau21_j1 <= 1.2))
    assert ak.all(ak.num(columns.const_pt_j1) <= 100) and ak.all(ak.num(columns.const_pt_j1) > 0)
    # constituents are hardest first and near the axis (anti-kT: within R of the hard core)
    assert ak.all(columns.const_pt_j1[:, :-1] >= columns.const_pt_j1[:, 1:])
    distance = ak.flatten(np.hypot(columns.const_deta_j1, columns.const_dphi_j1))
    assert ak.mean(distance < 0.8) > 0.95
    pt = columns.const_pt_j1
    for offset in (columns.const_deta_j1, columns.const_dphi_j1):
        centroid = ak.to_numpy(ak.sum(pt * offset, axis=1) / ak.sum(pt, axis=1))
        assert np.percentile(np.abs(centroid), 90) < 0.02
    for variation in ("nominal", "jes_up", "jes_down", "jer"):
        assert dijet["hists"][("inclusive", "mjj", variation)].sum().value > 0
    assert dijet["hists"][("inclusive", "mjj", "nominal")].sum().value == ak.sum(columns.weight)


def test_jes_up_moves_mjj_up(dijet):
    means = {}
    for variation in ("jes_down", "nominal", "jes_up"):
        h = dijet["hists"][("inclusive", "mjj", variation)]
        means[variation] = np.average(h.axes[0].centers, weights=h.values())
    assert means["jes_down"] < means["nominal"] < means["jes_up"]
    assert means["jes_up"] / means["nominal"] == pytest.approx(1.02, abs=0.01)


def test_results_do_not_depend_on_chunking(generated):
    small, large = (_run([generated["qcd_dijet"]], "dijet", chunksize=c) for c in (17, 1000))
    assert ak.all(small["columns"].mjj == large["columns"].mjj)
    for key in small["hists"]:
        np.testing.assert_allclose(small["hists"][key].values(), large["hists"][key].values())


def test_dask_local_cluster_gives_the_iterative_result(generated, dijet):
    settings = {"executor": "dask", "retries": 1, "dask": {"scheduler": None}}
    files = [str(generated["wprime_xy"]), str(generated["qcd_dijet"])]
    with configured_executor(settings, workers=2) as executor:
        out = run_processor("test", files, make_processor("dijet", {}, seed=3), executor, chunksize=60)
    assert len(out["columns"]) == len(dijet["columns"]) > 0
    assert ak.all(out["columns"].mjj == dijet["columns"].mjj) and out["cutflow"] == dijet["cutflow"]
    for key in dijet["hists"]:
        np.testing.assert_allclose(out["hists"][key].values(), dijet["hists"][key].values())


def test_zjets_flags_make_efficiency_and_fakes_explicit(zjets):
    _assert_cutflow_never_increases(zjets["cutflow"])
    _assert_cutflow_never_increases(zjets["cutflow_truth"])
    columns = zjets["columns"]
    assert ak.all(columns.pass_reco | columns.pass_truth | columns.pass_reco_jes_up | columns.pass_reco_jes_down | columns.pass_reco_jer)
    assert ak.sum(columns.pass_reco) == zjets["cutflow"]["jet"]
    assert ak.sum(columns.pass_truth) == zjets["cutflow_truth"]["jet"]
    for name in ("mass", "multiplicity", "width", "tau21", "zg", "lnrho"):
        reco, truth = ak.to_numpy(columns[f"{name}_reco"]), ak.to_numpy(columns[f"{name}_truth"])
        assert np.all(np.isfinite(reco[ak.to_numpy(columns.pass_reco)])), name
        assert np.all(np.isnan(reco[~ak.to_numpy(columns.pass_reco)])), name
        assert np.all(np.isfinite(truth[ak.to_numpy(columns.pass_truth)])), name
        assert zjets["hists"][("reco", name, "nominal")].sum().value == ak.sum(columns.pass_reco)
    both = ak.to_numpy(columns.pass_reco & columns.pass_truth)
    mass_response = ak.to_numpy(columns.mass_reco)[both] / ak.to_numpy(columns.mass_truth)[both]
    assert 0.85 < np.median(mass_response) < 1.1
    assert 0 < np.median(ak.to_numpy(columns.width_reco)[both]) < 0.3
    # the JES-varied reco columns: the jet mass scales with the energy scale, the width does not
    up = ak.to_numpy(columns.pass_reco & columns.pass_reco_jes_up)
    np.testing.assert_allclose(ak.to_numpy(columns.mass_reco_jes_up)[up], 1.02 * ak.to_numpy(columns.mass_reco)[up], rtol=1e-5)
    np.testing.assert_allclose(ak.to_numpy(columns.width_reco_jes_up)[up], ak.to_numpy(columns.width_reco)[up], rtol=1e-5)
    # the leading jet's constituents at both levels (for OmniFold on constituents): hardest
    # first, as many as the jet's multiplicity, within the jet's radius of its axis
    for level, passing in (("reco", columns.pass_reco), ("truth", columns.pass_truth)):
        pt = columns[f"const_pt_{level}"][passing]
        assert ak.all(ak.num(pt) == ak.values_astype(columns[f"multiplicity_{level}"][passing], np.int64)), level
        assert ak.all(pt[:, :-1] >= pt[:, 1:]), level
        distance = ak.to_numpy(ak.flatten(np.hypot(columns[f"const_deta_{level}"][passing], columns[f"const_dphi_{level}"][passing]), axis=None))
        assert np.median(distance) < 0.2 and np.mean(distance < 0.5) > 0.99, level


def test_real_pfnano_dijet_with_constituents(cms_nanoaod):
    with pytest.warns(OptionalBranchWarning, match="FatJet_nConstituents"):
        out = _run([cms_nanoaod["pfnano.root"]], "dijet")
    _assert_cutflow_never_increases(out["cutflow"])
    assert out["cutflow"]["all"] == 10 and len(out["columns"]) == out["cutflow"]["both_softdrop"] > 0
    assert out["hists"][("inclusive", "mjj", "nominal")].sum().value == pytest.approx(ak.sum(out["columns"].weight))
    assert ak.all(ak.num(out["columns"].const_pt_j1) > 0)


def test_real_nanoaod_v12_dijet(cms_nanoaod):
    with pytest.warns(OptionalBranchWarning, match="PFCands_pt"):
        out = _run([cms_nanoaod["nano_tt_v12.root"]], "dijet", leading_pt=200.0)
    _assert_cutflow_never_increases(out["cutflow"])
    assert out["cutflow"]["all"] == 200 and len(out["columns"]) == out["cutflow"]["both_softdrop"] > 10
    assert "const_pt_j1" not in out["columns"].fields
    assert np.all(out["columns"].n_constituents_j1 > 0)


def _dimuon(arrays):
    """Mass of the two leading muons, and the muons (vector), of raw NanoAOD branches."""
    muons = vector.zip({"pt": arrays.Muon_pt, "eta": arrays.Muon_eta, "phi": arrays.Muon_phi, "mass": arrays.Muon_mass})
    return (muons[:, 0] + muons[:, 1]).mass, muons


def test_real_drell_yan_selects_z_to_mumu_plus_jet(cms_nanoaod):
    """Real CMS NanoAOD (Drell-Yan) through the Z+jets channel, selection loosened: AK4 jets from
    ``Jet`` (no FatJet in this file), cleaned of the muons that NanoAOD clusters into jets."""
    path = cms_nanoaod["nano_dy.root"]
    with pytest.warns(OptionalBranchWarning, match="JetPFCands_jetIdx"):
        out = _run([path], "zjets", z_min_pt=0.0, jet_min_pt=20.0, min_dphi=0.0)
    _assert_cutflow_never_increases(out["cutflow"])
    columns = out["columns"]
    selected = ak.to_numpy(columns.event[columns.pass_reco])
    assert out["cutflow"]["all"] == 40 and out["cutflow"]["jet"] == len(selected) >= 4
    # the same events selected by hand from the raw branches, and their dimuon mass
    raw = uproot.open(path)["Events"].arrays(["event", "Muon_pt", "Muon_eta", "Muon_phi", "Muon_mass", "Muon_charge", "Jet_pt", "Jet_eta", "Jet_phi"])
    raw = raw[ak.num(raw.Muon_pt) >= 2]
    mass, muons = _dimuon(raw)
    jets = vector.zip({"pt": raw.Jet_pt, "eta": raw.Jet_eta, "phi": raw.Jet_phi})
    clean = ak.all(jets[:, :, None].deltaR(muons[:, None, :2]) > 0.4, axis=2) & (raw.Jet_pt > 20)
    by_hand = (raw.Muon_charge[:, 0] * raw.Muon_charge[:, 1] < 0) & (mass > 81) & (mass < 101) & ak.any(clean, axis=1)
    np.testing.assert_array_equal(np.sort(selected), np.sort(ak.to_numpy(raw.event[by_hand])))
    assert 86 < np.median(ak.to_numpy(mass[by_hand])) < 96  # the Z peak
    # without the cleaning, most of these events' leading "jet" would be one of the muons
    nearest = ak.to_numpy(ak.firsts(ak.min(jets[:, :, None].deltaR(muons[:, None, :2]), axis=2))[by_hand])
    assert np.mean(nearest < 0.4) >= 0.5
    # observables of the AK4 jet: mass and multiplicity (Jet_nConstituents); no PFNano links or
    # substructure branches in this file, so width, tau21, z_g and ln rho are NaN
    passing = ak.to_numpy(columns.pass_reco)
    assert np.all(ak.to_numpy(columns.mass_reco)[passing] > 0) and np.all(ak.to_numpy(columns.multiplicity_reco)[passing] >= 1)
    assert np.all(np.isnan(ak.to_numpy(columns.width_reco))) and np.all(np.isnan(ak.to_numpy(columns.lnrho_reco)))
    weights = ak.to_numpy(columns.weight)[passing]
    assert out["hists"][("reco", "mass", "nominal")].sum(flow=True).value == pytest.approx(weights.sum())


@pytest.mark.filterwarnings("ignore::mlhep.errors.OptionalBranchWarning")
@pytest.mark.parametrize("channel", ["dijet", "zjets"])
def test_every_channel_gives_the_same_outputs_for_every_chunk_size(generated, cms_nanoaod, tmp_path, channel):
    """Chunks of 1, 10, 100 events and whole files give identical columns, histograms and
    cutflows; the real Drell-Yan file has no fat jet in any event (the dijet channel selects
    none of it) and lacks the optional branches (its chunks that select nothing do not matter).
    20 generated events keep the one-event chunks affordable."""
    events = nanoaod_branches(generated["qcd_dijet" if channel == "dijet" else "zjets_nominal"])
    files = [cms_nanoaod["nano_dy.root"], write_events(tmp_path / "generated.root", {name: values[:20] for name, values in events.items()})]
    whole = max(uproot.open(f)["Events"].num_entries for f in files)
    reference = _run(files, channel, chunksize=whole)
    assert len(reference["columns"]) >= 15
    for chunksize in (1, 10, 100):
        out = _run(files, channel, chunksize=chunksize)
        assert out["cutflow"] == reference["cutflow"] and out.get("cutflow_truth") == reference.get("cutflow_truth"), chunksize
        assert ak.array_equal(out["columns"], reference["columns"], equal_nan=True), chunksize
        assert out["hists"].keys() == reference["hists"].keys(), chunksize
        for key, histogram in reference["hists"].items():
            assert np.array_equal(out["hists"][key].view(flow=True), histogram.view(flow=True)), (chunksize, key)


def test_streamed_columns_equal_a_one_chunk_run(generated, tmp_path):
    """process_sample writes the columns chunk by chunk as parquet row groups: with chunks of 9
    events the file has one row group per selecting chunk and the same columns as a run in one
    chunk; a scratch folder left by a killed job is cleared and none remains."""
    files = [str(generated["zjets_nominal"])]
    tables = {}
    for chunksize in (9, uproot.open(files[0])["Events"].num_entries):
        folder = tmp_path / str(chunksize)
        outputs = {"columns": folder / "c.parquet", "hists": folder / "h.root", "cutflow": folder / "c.json"}
        (folder / ".c.parquet.parts" / "attempt0").mkdir(parents=True)  # left by a killed job
        (folder / ".c.parquet.parts" / "attempt0" / "stale.parquet").write_bytes(b"not parquet")
        process_sample("z", files, "zjets", {}, 1, EXECUTOR, chunksize, False, outputs)
        assert sorted(path.name for path in folder.iterdir()) == ["c.json", "c.parquet", "h.root"]
        tables[chunksize] = (ak.from_parquet(outputs["columns"]), pq.ParquetFile(outputs["columns"]).metadata.num_row_groups)
    (small, small_groups), (whole, whole_groups) = tables.values()
    assert whole_groups == 1 and small_groups > 10
    assert len(small) == len(whole) > 50 and small.fields == whole.fields and str(small.type) == str(whole.type)
    assert str(small.const_pt_truth.type) == f"{len(small)} * var * float32"  # no option or union from a chunk
    assert ak.array_equal(small, whole, equal_nan=True)
    # a split read row group by row group: the rows of a whole read that it keeps, in order
    odd = read_columns(tmp_path / "9" / "c.parquet", ["event", "mass_reco"], rows=lambda event: event % 2 == 1)
    expected = whole[ak.to_numpy(whole.event) % 2 == 1]
    assert 0 < len(odd) < len(whole) and ak.array_equal(odd.mass_reco, expected.mass_reco, equal_nan=True)
    assert sorted(odd.fields) == ["event", "mass_reco"] and ak.all(odd.event == expected.event)
    with pytest.raises(InvalidInput, match=r"c.parquet\): rows must give a boolean mask of shape"):
        read_columns(tmp_path / "9" / "c.parquet", ["event"], rows=lambda event: (event % 2).astype(int))


def test_real_drell_yan_through_the_dijet_channel_is_an_empty_selection(cms_nanoaod, tmp_path):
    outputs = {"columns": tmp_path / "c.parquet", "hists": tmp_path / "h.root", "cutflow": tmp_path / "c.json"}
    with pytest.warns(OptionalBranchWarning), pytest.raises(EmptySelection, match=r"sample dy: no event passes the dijet selection \(cutflow: \{'all': 40, 'two_fatjets': 0"):
        process_sample("dy", [str(cms_nanoaod["nano_dy.root"])], "dijet", {}, 1, EXECUTOR, 7, False, outputs)
    assert not any(tmp_path.iterdir())


def _failed_soft_drop(source, path, collection, entries):
    """A copy of ``source`` where the soft drop of the ``collection`` jets of ``entries`` failed
    (msoftdrop = -1, as in NanoAOD)."""
    events = nanoaod_branches(source)
    msd = events[collection].msoftdrop
    failed = np.isin(np.arange(len(msd)), entries)
    events[collection] = ak.with_field(events[collection], ak.where(failed, ak.full_like(msd, -1), msd), "msoftdrop")
    return write_events(path, events)


def test_failed_soft_drop_is_missing_not_a_mass(generated, tmp_path):
    """NanoAOD's msoftdrop = -1: in the dijet channel the event fails the counted cut
    both_softdrop (its features are then never NaN: the taggers' tables stay finite); in Z+jets
    the jet's ln rho and z_g are NaN, its other observables kept."""
    dijet = _failed_soft_drop(generated["wprime_xy"], tmp_path / "dijet.root", "FatJet", [3, 50, 51])
    outputs = {"columns": tmp_path / "c.parquet", "hists": tmp_path / "h.root", "cutflow": tmp_path / "c.json"}
    flow = process_sample("w", [str(dijet)], "dijet", {}, 1, EXECUTOR, 60, False, outputs)["cutflow"]
    reference = _run([generated["wprime_xy"]], "dijet")
    assert flow["both_eta"] == reference["cutflow"]["both_eta"] and flow["both_softdrop"] == flow["both_eta"] - 3
    columns = ak.from_parquet(outputs["columns"])
    assert set(ak.to_numpy(columns.event)) == set(ak.to_numpy(reference["columns"].event)) - set(ak.to_numpy(uproot.open(dijet)["Events"]["event"].array())[[3, 50, 51]])
    assert np.all(ak.to_numpy(columns.msd_j1) >= 0) and np.all(ak.to_numpy(columns.msd_j2) >= 0)
    assert len(jet_table(outputs["columns"], 1)["msd"]) == 2 * flow["both_softdrop"]  # require_finite passes

    zjets = _failed_soft_drop(generated["zjets_nominal"], tmp_path / "zjets.root", "Jet", np.arange(200))
    out, reference = _run([zjets], "zjets"), _run([generated["zjets_nominal"]], "zjets")
    assert out["cutflow"] == reference["cutflow"]
    for name in ("mass", "multiplicity", "width", "tau21"):
        assert ak.array_equal(out["columns"][f"{name}_reco"], reference["columns"][f"{name}_reco"], equal_nan=True), name
    assert np.all(np.isnan(ak.to_numpy(out["columns"].lnrho_reco))) and np.all(np.isnan(ak.to_numpy(out["columns"].zg_reco)))
    assert ak.array_equal(out["columns"].lnrho_truth, reference["columns"].lnrho_truth, equal_nan=True)


def test_no_selected_event_is_an_error_naming_the_sample(generated, tmp_path):
    outputs = {"columns": tmp_path / "c.parquet", "hists": tmp_path / "h.root", "cutflow": tmp_path / "c.json"}
    with pytest.warns(OptionalBranchWarning, match="FatJetPFCands"), pytest.raises(EmptySelection, match="sample zjets_as_dijet: no event passes the dijet selection"):
        process_sample("zjets_as_dijet", [str(generated["zjets_nominal"])], "dijet", {}, 1, EXECUTOR, 100, False, outputs)
    assert not any(tmp_path.iterdir())


def test_cutflow_table_keeps_the_selection_order(tmp_path):
    steps = {"all": 3, "two_fatjets": 2, "leading_pt": 1}
    cutflow = {"sample": "s", "channel": "dijet", "cutflow": steps, "cutflow_weighted": {step: 0.5 * n for step, n in steps.items()}, "skipped_files": {}}
    (tmp_path / "s.json").write_text(json.dumps(cutflow))
    cutflow_table([tmp_path / "s.json"], tmp_path / "t.csv")
    rows = (tmp_path / "t.csv").read_text().splitlines()
    assert rows == ["sample,channel,step,events,weighted,skipped_files", "s,dijet,all,3,1.5,0", "s,dijet,two_fatjets,2,1,0", "s,dijet,leading_pt,1,0.5,0"]


@pytest.mark.parametrize(("sample", "channel"), [("qcd_dijet", "dijet"), ("zjets_nominal", "zjets")])
def test_cutflows_agree_with_coffea_packed_selection(generated, tmp_path, sample, channel):
    """Our cutflow, counted chunk by chunk (chunks of 30, two worker processes) and merged,
    against coffea's PackedSelection.cutflow on the whole file, unweighted and weighted."""
    from mlhep.bench.oracles import cutflow_checks

    outputs = {kind: tmp_path / f"{sample}.{kind}" for kind in ("columns", "hists", "cutflow")}
    process_sample(sample, [str(generated[sample])], channel, {}, 1, make_executor("futures", 2, status=False), 30, False, outputs)
    flow = json.loads(outputs["cutflow"].read_text())
    assert list(flow["cutflow_weighted"]) == list(flow["cutflow"])
    for result in cutflow_checks(outputs["cutflow"], [str(generated[sample])], channel, {}, 1):
        assert result["pass"], result
