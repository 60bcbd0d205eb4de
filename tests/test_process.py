"""coffea processing on generated and real CMS NanoAOD: cutflows, features, histograms, bad input."""

import json

import awkward as ak
import numpy as np
import pytest
import uproot

from mlhep.errors import BadInputFile, EmptySelection, MissingBranch, OptionalBranchWarning
from mlhep.generate import write_nanoaod
from mlhep.process import configured_executor, cutflow_table, make_executor, make_processor, process_sample, run_processor
from mlhep.process.systematics import per_jet_normal

EXECUTOR = make_executor("iterative", status=False)


def _run(files, channel, chunksize=60, **options):
    return run_processor("test", [str(f) for f in files], make_processor(channel, options, seed=3), EXECUTOR, chunksize)


def _assert_cutflow_never_increases(cutflow):
    counts = list(cutflow.values())
    assert all(a >= b for a, b in zip(counts, counts[1:])), cutflow


def _entries(hists, key):
    return hists[key].values().sum() + hists[key].values(flow=True).sum() * 0  # weights are 1 here


@pytest.fixture(scope="module")
def dijet(generated):
    return _run([generated["wprime_xy"], generated["qcd_dijet"]], "dijet")


@pytest.fixture(scope="module")
def zjets(generated):
    return _run([generated["zjets_nominal"]], "zjets")


def test_dijet_cutflow_features_and_histograms(dijet, generated):
    _assert_cutflow_never_increases(dijet["cutflow"])
    columns = dijet["columns"]
    assert dijet["cutflow"]["both_eta"] == len(columns) > 250
    assert np.all(np.diff(ak.to_numpy(columns.event).astype(np.int64)) >= 0) or len(set(ak.to_numpy(columns.event))) < len(columns)
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


def test_jer_smearing_is_reproducible_and_unit_normal():
    event = np.arange(200000, dtype=np.uint64)
    values = per_jet_normal(event, np.zeros_like(event), seed=5)
    assert abs(values.mean()) < 0.01 and abs(values.std() - 1) < 0.01
    np.testing.assert_array_equal(values, per_jet_normal(event, np.zeros_like(event), seed=5))
    assert not np.array_equal(values, per_jet_normal(event, np.ones_like(event), seed=5))


def test_results_do_not_depend_on_chunking(generated):
    small, large = (_run([generated["qcd_dijet"]], "dijet", chunksize=c) for c in (17, 1000))
    assert ak.all(small["columns"].mjj == large["columns"].mjj)
    for key in small["hists"]:
        np.testing.assert_allclose(small["hists"][key].values(), large["hists"][key].values())


def test_dask_local_cluster_gives_the_iterative_result(generated, dijet):
    pytest.importorskip("distributed")
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
    assert out["cutflow"]["all"] == 10 and len(out["columns"]) == out["cutflow"]["both_eta"] > 0
    assert out["hists"][("inclusive", "mjj", "nominal")].sum().value == pytest.approx(ak.sum(out["columns"].weight))
    assert ak.all(ak.num(out["columns"].const_pt_j1) > 0)


def test_real_nanoaod_v12_dijet(cms_nanoaod):
    with pytest.warns(OptionalBranchWarning, match="PFCands_pt"):
        out = _run([cms_nanoaod["nano_tt_v12.root"]], "dijet", leading_pt=200.0)
    _assert_cutflow_never_increases(out["cutflow"])
    assert out["cutflow"]["all"] == 200 and len(out["columns"]) == out["cutflow"]["both_eta"] > 10
    assert "const_pt_j1" not in out["columns"].fields
    assert np.all(out["columns"].n_constituents_j1 > 0)


def test_real_drell_yan_zjets(cms_nanoaod):
    with pytest.warns(OptionalBranchWarning):
        out = _run([cms_nanoaod["nano_dy.root"]], "zjets", z_min_pt=0.0, jet_min_pt=0.0, min_dphi=0.0)
    _assert_cutflow_never_increases(out["cutflow"])
    assert out["cutflow"]["all"] == 40 and out["cutflow"]["z_mass"] > 0
    assert _entries(out["hists"], ("reco", "mass", "nominal")) == out["cutflow"]["jet"]


def _without(source, path, collection, field):
    """A copy of ``source`` without the branch ``{collection}_{field}``."""
    events = uproot.open(source)["Events"].arrays(how="zip")
    events = {name: events[name] for name in events.fields}
    events[collection] = events[collection][[f for f in events[collection].fields if f != field]]
    write_nanoaod(path, events, {"run": np.array([1], np.uint32)})


def test_bad_inputs_give_clear_errors_and_no_output(generated, tmp_path):
    outputs = {"columns": tmp_path / "out/c.parquet", "hists": tmp_path / "out/h.root", "cutflow": tmp_path / "out/c.json"}
    missing = tmp_path / "missing_branch.root"
    _without(generated["qcd_dijet"], missing, "FatJet", "msoftdrop")
    corrupted = tmp_path / "corrupted.root"
    corrupted.write_bytes(b"\0" * 4096)
    empty = tmp_path / "empty.root"
    write_nanoaod(empty, {"run": np.zeros(0, np.uint32)}, {"run": np.array([1], np.uint32)})
    cases = [(missing, MissingBranch, "missing_branch.root: missing required branch 'FatJet_msoftdrop'"), (corrupted, BadInputFile, "corrupted.root"), (empty, BadInputFile, "empty.root: TTree 'Events' has no entries")]
    for path, error, message in cases:
        with pytest.raises(error, match=message):
            process_sample("bad", [str(path)], "dijet", {}, 1, EXECUTOR, 100, False, outputs)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_skipbadfiles_lists_the_skipped_files(generated, tmp_path):
    corrupted = tmp_path / "corrupted.root"
    corrupted.write_bytes(b"\0" * 4096)
    outputs = {"columns": tmp_path / "c.parquet", "hists": tmp_path / "h.root", "cutflow": tmp_path / "c.json"}
    cutflow = process_sample("qcd", [str(generated["qcd_dijet"]), str(corrupted)], "dijet", {}, 1, EXECUTOR, 100, True, outputs)
    assert list(cutflow["skipped_files"]) == [str(corrupted)]
    assert json.loads(outputs["cutflow"].read_text())["skipped_files"] == cutflow["skipped_files"]
    assert uproot.open(outputs["hists"])["inclusive/mjj/jes_up"].to_hist().sum().value > 0
    assert len(ak.from_parquet(outputs["columns"])) == cutflow["cutflow"]["both_eta"]


def test_no_selected_event_is_an_error_naming_the_sample(generated, tmp_path):
    outputs = {"columns": tmp_path / "c.parquet", "hists": tmp_path / "h.root", "cutflow": tmp_path / "c.json"}
    with pytest.raises(EmptySelection, match="sample zjets_as_dijet: no event passes the dijet selection"):
        process_sample("zjets_as_dijet", [str(generated["zjets_nominal"])], "dijet", {}, 1, EXECUTOR, 100, False, outputs)
    assert not any(tmp_path.iterdir())


def test_cutflow_table_keeps_the_selection_order(tmp_path):
    cutflow = {"sample": "s", "channel": "dijet", "cutflow": {"all": 3, "two_fatjets": 2, "leading_pt": 1}, "skipped_files": {}}
    (tmp_path / "s.json").write_text(json.dumps(cutflow))
    cutflow_table([tmp_path / "s.json"], tmp_path / "t.csv")
    rows = (tmp_path / "t.csv").read_text().splitlines()
    assert [r.split(",")[2] for r in rows[1:]] == ["all", "two_fatjets", "leading_pt"]
