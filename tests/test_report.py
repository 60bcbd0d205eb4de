"""Metrics tables of the report (the headless-Chromium check runs in test_workflow)."""

import json

import pytest

from mlhep.errors import BadInputFile
from mlhep.report import metrics_frame, write_metrics_table


def test_a_dict_of_records_gives_one_row_per_record_with_nested_keys_flattened():
    frame = metrics_frame({"bdt": {"auc": 0.94512, "r50": 500.25}, "mlp": {"auc": 0.93, "r50": 117.7, "cutflow": {"all": 10}}})
    assert list(frame.index) == ["bdt", "mlp"]
    assert frame.loc["bdt", "auc"] == "0.9451" and frame.loc["mlp", "cutflow.all"] == 10


def test_a_list_of_records_and_a_flat_dict():
    limits = metrics_frame([{"mass": 3000, "upper_limit_exp": [0.5, 1.0]}, {"mass": 3500, "upper_limit_exp": [0.25, 0.5]}])
    assert list(limits["mass"]) == [3000, 3500] and limits["upper_limit_exp"][1] == "0.25, 0.5"
    flat = metrics_frame({"mu_hat": 1.0, "pulls": {"jes": [0.0, 0.3]}})
    assert flat.loc["pulls.jes", "value"] == "0, 0.3"
    windows = metrics_frame({"windows": [{"signal_region": [3100, 3500], "cathode": 3.777}, {"signal_region": [3300, 3700], "cathode": None}]})
    assert windows.loc["windows", "value"] == "(signal_region 3100, 3500; cathode 3.777), (signal_region 3300, 3700; cathode None)"


def test_tables_are_written_from_json_and_csv(tmp_path):
    (tmp_path / "results.json").write_text(json.dumps({"mu_hat": 0.98, "significance": 2.5}))
    (tmp_path / "cutflow.csv").write_text("sample,step,events\nqcd,all,100\n")
    write_metrics_table(tmp_path / "results.json", tmp_path / "fit.html")
    write_metrics_table(tmp_path / "cutflow.csv", tmp_path / "cutflow.html")
    assert "<td>0.98</td>" in (tmp_path / "fit.html").read_text()
    assert "<td>qcd</td>" in (tmp_path / "cutflow.html").read_text()


def test_an_unreadable_metrics_file_is_named_and_leaves_no_table(tmp_path):
    (tmp_path / "broken.json").write_text("{not json")
    with pytest.raises(BadInputFile, match="broken.json: cannot read the metrics"):
        write_metrics_table(tmp_path / "broken.json", tmp_path / "table.html")
    assert not (tmp_path / "table.html").exists()
