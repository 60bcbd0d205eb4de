"""Publication (issue 25): the covariances of unfolded histograms by hand, HEPData tables read
back after hepdata-validator accepted them, and what is refused."""

import numpy as np
import pytest
import yaml

from mlhep.errors import BadInputFile, InvalidInput
from mlhep.publish.hepdata import covariance_table, cutflow_table, limits_table, write_submission
from mlhep.unfold.covariance import source_covariances


def test_source_covariances_against_a_hand_computed_case():
    """Bootstrap replicas +-0.02 in opposite bins, a JES up/down pair whose larger shift changes
    sign from bin to bin, and an alternative simulation: each covariance as worked by hand."""
    nominal = [0.5, 0.3, 0.2]
    covariances = source_covariances(nominal, bootstrap=[[0.52, 0.28, 0.2], [0.48, 0.32, 0.2]], systematics=[[0.55, 0.3, 0.15], [0.47, 0.34, 0.19]], alternative=[0.4, 0.35, 0.25])
    np.testing.assert_allclose(covariances["statistical"], [[4e-4, -4e-4, 0], [-4e-4, 4e-4, 0], [0, 0, 0]], atol=1e-15)
    largest = np.array([0.05, 0.04, -0.05])  # up in bins 0 and 2, down in bin 1
    np.testing.assert_allclose(covariances["detector"], np.outer(largest, largest), atol=1e-15)
    model = np.array([-0.1, 0.05, 0.05])
    np.testing.assert_allclose(covariances["model"], np.outer(model, model), atol=1e-15)
    np.testing.assert_allclose(covariances["total"], covariances["statistical"] + np.outer(largest, largest) + np.outer(model, model), atol=1e-15)
    alone = source_covariances(nominal)
    assert all(not alone[source].any() for source in alone)
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
    with pytest.raises(BadInputFile, match="weights.parquet: not an mlhep weights file"):
        unfolded_histograms(tmp_path / "weights.parquet", {})
    with pytest.raises(BadInputFile, match="missing.parquet: not an mlhep weights file"):
        unfolded_histograms(tmp_path / "missing.parquet", {})
