"""The run manifest: hashes that see every change of content and none of write times."""

import json
import time

import hist
import uproot

from mlhep.io import file_sha256, json_sha256
from mlhep.manifest import compare_manifests, config_seeds, content_sha256, main, output_hashes


def _write_histogram(path, values):
    histogram = hist.Hist.new.Regular(3, 0, 3).Weight()
    histogram.fill(values)
    with uproot.recreate(path) as out:
        out["region/mjj/nominal"] = histogram


def test_root_files_written_twice_differ_in_bytes_not_in_content(tmp_path):
    _write_histogram(tmp_path / "a.root", [0.5, 1.5])
    time.sleep(1.1)  # ROOT's time stamps count seconds
    _write_histogram(tmp_path / "b.root", [0.5, 1.5])
    _write_histogram(tmp_path / "c.root", [0.5, 2.5])
    assert file_sha256(tmp_path / "a.root") != file_sha256(tmp_path / "b.root")
    assert content_sha256(tmp_path / "a.root") == content_sha256(tmp_path / "b.root") != content_sha256(tmp_path / "c.root")


def test_json_content_leaves_out_wall_clock_times_only(tmp_path):
    for name, auc, seconds in (("a", 0.9, 1.0), ("b", 0.9, 2.5), ("c", 0.8, 1.0)):
        (tmp_path / f"{name}.json").write_text(json.dumps({"auc": auc, "train_s": seconds, "seconds": {"flow": seconds}}))
    a, b, c = (content_sha256(tmp_path / f"{name}.json") for name in "abc")
    assert a == b != c


def test_compare_names_changed_and_missing_outputs(tmp_path):
    (tmp_path / "plots").mkdir()
    for name in ("plots/x.png", "plots/y.png", "t.parquet"):
        (tmp_path / name).write_bytes(name.encode())
    first = {"outputs": output_hashes([tmp_path / "plots", tmp_path / "t.parquet"])}
    assert len(first["outputs"]) == 3
    (tmp_path / "plots/y.png").write_bytes(b"changed")
    second = {"outputs": output_hashes([tmp_path / "plots"])}
    assert compare_manifests(first, second) == {str(tmp_path / "plots/y.png"): "bytes differ", str(tmp_path / "t.parquet"): "missing in the second run"}
    assert compare_manifests(first, first) == {}


def test_config_hash_and_seeds():
    config = {"seed": 7, "anomaly": {"seeds": 5, "flow": {"train": {"seed": 3}}}, "taggers": {"models": {"mlp": {"hidden": [8]}}}}
    assert json_sha256(config) == json_sha256(json.loads(json.dumps(config)))
    assert json_sha256(config) != json_sha256({**config, "seed": 8})
    assert config_seeds(config) == {"seed": 7, "anomaly.seeds": 5, "anomaly.flow.train.seed": 3}
    assert len(json_sha256(config)) == 64


def test_verify_lists_the_outputs_missing_or_changed_on_disk(tmp_path, capsys):
    (tmp_path / "plots").mkdir()
    for name, text in (("plots/x.png", "x"), ("plots/y.png", "y"), ("t.parquet", "t"), ("m.json", '{"auc": 0.9, "train_s": 1.0}')):
        (tmp_path / name).write_text(text)
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({"outputs": output_hashes([tmp_path / "plots", tmp_path / "t.parquet", tmp_path / "m.json"])}))
    assert main(["--verify", str(manifest)]) == 0
    assert capsys.readouterr().out.endswith("4 outputs, 0 missing or changed\n")
    (tmp_path / "plots/y.png").unlink()
    (tmp_path / "t.parquet").write_text("changed")
    (tmp_path / "m.json").write_text('{"auc": 0.9, "train_s": 2.0}')  # a wall-clock time: the same result
    assert main(["--verify", str(manifest)]) == 1
    assert capsys.readouterr().out.splitlines() == [f"{tmp_path / 'plots/y.png'}: missing", f"{tmp_path / 't.parquet'}: bytes differ", "4 outputs, 2 missing or changed"]
