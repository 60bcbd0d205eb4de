"""Publication (issue 25): the covariances of unfolded histograms by hand, HEPData tables read
back after hepdata-validator accepted them, and what is refused."""

import numpy as np
import pytest
import yaml

from mlhep.errors import BadInputFile, InvalidInput
from mlhep.publish.hepdata import covariance_table, cutflow_table, limits_table, write_submission
from mlhep.unfold.covariance import source_covariances


def test_source_covariances_against_a_hand_computed_case():
    """Bootstrap replicas +-0.02 in opposite bins; a JES up/down pair that anti-correlates bins
    0 and 1 in both variations is one nuisance whose shift (up - down) / 2 keeps that sign (and
    sums to 0, as any shift of a unit-sum histogram), a one-sided JER variation another; an
    alternative simulation: each covariance as worked by hand. Sources without inputs are
    absent, not zero."""
    nominal = [0.5, 0.3, 0.2]
    systematics = {"jes_up": [0.52, 0.28, 0.2], "jes_down": [0.49, 0.31, 0.2], "jer": [0.5, 0.29, 0.21]}
    covariances = source_covariances(nominal, bootstrap=[[0.52, 0.28, 0.2], [0.48, 0.32, 0.2]], systematics=systematics, alternative=[0.4, 0.35, 0.25])
    np.testing.assert_allclose(covariances["statistical"], [[8e-4, -8e-4, 0], [-8e-4, 8e-4, 0], [0, 0, 0]], atol=1e-15)  # sample covariance of two replicas
    jes, jer = np.array([0.015, -0.015, 0.0]), np.array([0.0, -0.01, 0.01])
    np.testing.assert_allclose(covariances["detector"], np.outer(jes, jes) + np.outer(jer, jer), atol=1e-15)
    assert covariances["detector"][0, 1] < 0 and covariances["detector"].sum() == pytest.approx(0.0, abs=1e-15)
    model = np.array([-0.1, 0.05, 0.05])
    np.testing.assert_allclose(covariances["model"], np.outer(model, model), atol=1e-15)
    np.testing.assert_allclose(covariances["total"], covariances["statistical"] + covariances["detector"] + np.outer(model, model), atol=1e-15)
    alone = source_covariances(nominal, bootstrap=[nominal])
    assert set(alone) == {"total"} and not alone["total"].any()
    with pytest.raises(InvalidInput, match="nominal: NaN"):
        source_covariances([0.5, np.nan])


def test_tables_validate_and_read_back_as_written(tmp_path):
    """A limits, a covariance and a cutflow table pass hepdata-validator and read back: the
    expected band as asymmetric errors around the median, the covariance per unit bin width
    row by row, the cutflow's steps in order."""
    points = [{"mass": 4000, "upper_limit_exp": [0.2, 0.3, 0.5, 0.9, 2.0], "upper_limit_obs": 0.7}, {"mass": 3000, "upper_limit_exp": [0.4, 0.6, 1.0, 1.7, 2.6], "upper_limit_obs": 2.1}]
    edges = [0.0, 1.0, 3.0]
    covariance = np.array([[1.0, 2.0], [2.0, 5.0]])
    tables = [
        limits_table("Limits", points),
        covariance_table("Covariance", "x", edges, {source: covariance for source in ("total", "statistical", "detector", "model")}),
        cutflow_table("Cutflow", "dijet", {"a": {"all": 10.0, "cut": 4.0}, "b": {"all": 8.0, "cut": 1.0}}),
    ]
    folder = write_submission(tables, tmp_path / "hepdata", "test")
    read = lambda name: yaml.safe_load((folder / f"{name}.yaml").read_text())
    limits = read("limits")
    assert [v["value"] for v in limits["independent_variables"][0]["values"]] == [3000, 4000]
    expected, observed = limits["dependent_variables"]
    assert [v["value"] for v in observed["values"]] == [2.1, 0.7]
    first = expected["values"][0]
    assert first["value"] == 1.0 and first["errors"][0]["asymerror"] == {"minus": pytest.approx(-0.4), "plus": pytest.approx(0.7)}
    assert first["errors"][1]["asymerror"] == {"minus": pytest.approx(-0.6), "plus": pytest.approx(1.6)}
    cov = read("covariance")
    assert [v["low"] for v in cov["independent_variables"][0]["values"]] == [0.0, 0.0, 1.0, 1.0]
    assert [v["low"] for v in cov["independent_variables"][1]["values"]] == [0.0, 1.0, 0.0, 1.0]
    assert [v["value"] for v in cov["dependent_variables"][0]["values"]] == [1.0, 1.0, 1.0, 1.25]
    cutflow = read("cutflow")
    assert [v["value"] for v in cutflow["independent_variables"][0]["values"]] == ["all", "cut"]
    assert [v["value"] for v in cutflow["dependent_variables"][1]["values"]] == [8.0, 1.0]
    assert not list(tmp_path.glob("*.tar.gz")) and not list(tmp_path.glob(".*parts"))


def test_an_invalid_record_is_refused_and_leaves_no_folder(tmp_path):
    """A table whose columns differ in length fails hepdata-validator: InvalidInput naming the
    record and the table, and no folder; cutflows of one channel with different steps and a
    weights file that is not one are refused by name."""
    from mlhep.publish.hepdata import _table, _variable
    from mlhep.publish.stage import unfolded_histograms

    bad = _table("Bad", "columns of different lengths", {}, [_variable("x", [1, 2, 3], independent=True), _variable("y", [1, 2], independent=False)])
    with pytest.raises(InvalidInput, match=r"hepdata is not valid: bad.yaml: .*Inconsistent length"):
        write_submission([bad], tmp_path / "hepdata", "test")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(InvalidInput, match="cutflow of b: steps"):
        cutflow_table("Cutflow", "dijet", {"a": {"all": 1.0, "cut": 1.0}, "b": {"all": 1.0}})
    (tmp_path / "weights.parquet").write_text("not parquet")
    with pytest.raises(BadInputFile, match="weights.parquet: not a valid mlhep weights file"):
        unfolded_histograms(tmp_path / "weights.parquet", {})
    with pytest.raises(BadInputFile, match="missing.parquet: missing"):
        unfolded_histograms(tmp_path / "missing.parquet", {})


def test_a_record_of_cutflows_and_limits_without_masses_and_what_it_refuses(tmp_path):
    """build_hepdata on a run without unfolding or taggers, whose search has no mass points: the
    limits are published against the signal sample, the files are record_files' and validate;
    an empty limits.json, a NaN or repeated cutflow step and a tagger without scores are each
    refused naming the file, and no record is written."""
    from mlhep.publish.hepdata import validate_submission
    from mlhep.publish.stage import build_hepdata, record_files

    cutflow = tmp_path / "cutflow.csv"
    cutflow.write_text("sample,channel,step,events,weighted,skipped_files\nqcd,dijet,all,10,10.0,0\nqcd,dijet,cut,4,4.0,0\nz,zjets,all,5,5.0,0\n")
    limits = tmp_path / "search" / "limits.json"
    limits.parent.mkdir()
    limits.write_text('[{"sample": "wprime", "mass": null, "mu_hat": 1.0, "upper_limit_obs": 2.0, "upper_limit_exp": [0.5, 0.7, 1.0, 1.4, 2.0], "significance": 1.0}]')
    out = build_hepdata(tmp_path / "hepdata", limits=[limits], cutflow=cutflow)
    assert sorted(p.name for p in out.iterdir()) == sorted(record_files(analyses=["search"], channels=["dijet", "zjets"]))
    validate_submission(out)
    table = yaml.safe_load((out / "limits_search.yaml").read_text())
    assert table["independent_variables"][0]["header"]["name"] == "signal sample" and table["independent_variables"][0]["values"] == [{"value": "wprime"}]
    bad_limits = tmp_path / "bad" / "limits.json"
    bad_limits.parent.mkdir()
    bad_limits.write_text("[]")
    nan_cutflow, twice = tmp_path / "nan.csv", tmp_path / "twice.csv"
    nan_cutflow.write_text(cutflow.read_text().replace("4,4.0", "4,nan"))
    twice.write_text(cutflow.read_text() + "qcd,dijet,cut,4,4.0,0\n")
    (tmp_path / "tagger").mkdir()
    for inputs, message in (
        ({"limits": [bad_limits]}, "bad/limits.json: not a valid limits.json of a fit: expected a list"),
        ({"cutflow": nan_cutflow}, "nan.csv: not a valid cutflow table: sample qcd, step cut: weighted events nan"),
        ({"cutflow": twice}, "twice.csv: not a valid cutflow table: sample qcd has step cut twice"),
        ({"taggers": [tmp_path / "tagger"]}, "tagger/scores.parquet: missing"),
    ):
        with pytest.raises(BadInputFile, match=message):
            build_hepdata(tmp_path / "refused", **inputs)
        assert not (tmp_path / "refused").exists()


def test_atomic_folder_replaces_a_folder_only_when_the_new_one_is_complete(tmp_path):
    """A failure while the new folder is filled leaves the old one as it was, and no scratch
    folder; success replaces it whole (no stale file of the old one stays)."""
    from mlhep.io import atomic_folder

    folder = tmp_path / "record"
    folder.mkdir()
    (folder / "old.yaml").write_text("old")
    with pytest.raises(RuntimeError), atomic_folder(folder) as built:
        (built / "new.yaml").write_text("new")
        raise RuntimeError("killed")
    assert [p.name for p in folder.iterdir()] == ["old.yaml"] and sorted(p.name for p in tmp_path.iterdir()) == ["record"]
    with atomic_folder(folder) as built:
        (built / "new.yaml").write_text("new")
    assert [p.name for p in folder.iterdir()] == ["new.yaml"] and sorted(p.name for p in tmp_path.iterdir()) == ["record"]
