"""The fault matrix (issue 19): configuration, output, input-file and processed-column faults.
Each case names the fault, the error expected, and checks that nothing was lost: a refused run
changes no file of its working directory and writes no output; a bad input file is named (with
the branch and entries) or, with ``skipbadfiles``, listed with its reason while the outputs are
exactly those of the good files alone."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import awkward as ak
import numpy as np
import pandas as pd
import pytest
import uproot

from conftest import ROOT, nanoaod_branches, write_events
from mlhep.errors import BadInputFile, MissingBranch
from mlhep.process import SkippedFileWarning, cutflow_table, make_executor
from mlhep.process.stage import process_sample

# ---- configuration and output faults

WORKFLOW = ("Snakefile", "workflow", "config", "scripts", "envs", "profiles")

# a YAML alias bomb: nine levels of ten aliases, 10**9 strings once expanded, a few hundred bytes on disk
ALIAS_BOMB = "x0: &x0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"x{level}: &x{level} [{', '.join([f'*x{level - 1}'] * 10)}]\n" for level in range(1, 9)
)
MARKUP = "</script><script>alert(1)</script>"

# (fault, the extra --configfile ({file}: its path), what the error must say, Snakemake's arguments:
# a dry run, so that a check that let the fault through would not start the whole DAG)
CONFIG_FAULTS = [
    ("nan_detector_efficiency", "detector: {tracker: {efficiency: .nan}}\n", ["{file}: detector.tracker.efficiency: nan is not a finite number"], ["-n"]),
    ("infinite_signal_efficiency", "fits: {tagged_search: {signal_efficiency: -.inf}}\n", ["{file}: fits.tagged_search.signal_efficiency: -inf is not a finite number"], ["-n"]),
    ("float_shards", "samples: {qcd_dijet: {shards: 1.0}}\n", ["samples.qcd_dijet.shards: 1.0 is not an integer"], ["-n"]),
    ("seed_beyond_63_bits", "seed: 1180591620717411303424\n", ["1180591620717411303424 is greater than the maximum of 9223372036854775807", "['seed']"], ["-n"]),
    ("billion_shards", "samples: {qcd_dijet: {shards: 1000000000}}\n", ["samples.qcd_dijet.shards: 1000000000 is above limits.shards (1000)"], ["-n"]),
    ("endless_shard", "samples: {qcd_dijet: {events_per_shard: 100000000000000000000}}\n", ["samples.qcd_dijet.events_per_shard: 100000000000000000000 is above limits.events_per_shard"], ["-n"]),
    ("alias_bomb", ALIAS_BOMB, ["{file}: more than 100000 values"], ["-n"]),
    ("lambdas_with_one_name", "taggers: {models: {disco: {lambdas: [1.0000001, 1.0000002]}}}\n", ["taggers.models.disco.lambdas: 1.0000001 and 1.0000002 are both named disco_lambda_1"], ["-n"]),
    ("duplicate_key", "seed: 1\nprocessing: {chunksize: 100}\nseed: 2\n", ["{file}, line 3: duplicate key 'seed'"], ["-n"]),
    ("yte_template", "__use_yte__: true\nseed: ?1 + 1\n", ["{file}: __use_yte__", "MLHEP_ALLOW_YTE=1"], ["-n"]),
    # the report puts the config into <script> elements: markup in a config string must never get there
    ("markup_in_device", f"taggers: {{models: {{mlp: {{train: {{device: '{MARKUP}'}}}}}}}}\n", ["does not match", "['taggers']['models']['mlp']['train']['device']"], ["--report", "report.html"]),
]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """A copy of the workflow holding the result of an earlier run."""
    workdir = tmp_path_factory.mktemp("faults")
    for item in WORKFLOW:
        source = ROOT / item
        (shutil.copytree if source.is_dir() else shutil.copy)(source, workdir / item)
    (workdir / "results").mkdir()
    (workdir / "results/earlier.json").write_text('{"earlier": "result"}\n')
    return workdir


def _workdir_files(workdir):
    """{path: bytes} of the working directory, Snakemake's own bookkeeping left out."""
    return {str(p.relative_to(workdir)): p.read_bytes() for p in workdir.rglob("*") if p.is_file() and ".snakemake" not in p.relative_to(workdir).parts}


def _snakemake(workdir, configfile, *args, env=None):
    command = [sys.executable, "-m", "snakemake", "--cores", "1", "--configfile", "config/mini.yaml", str(configfile), *args]
    result = subprocess.run(command, cwd=workdir, capture_output=True, text=True, timeout=120, env=env)
    return result.returncode, result.stdout + result.stderr


@pytest.mark.parametrize(("fault", "config", "expected", "args"), CONFIG_FAULTS, ids=[case[0] for case in CONFIG_FAULTS])
def test_a_config_fault_stops_the_run_naming_the_key_and_loses_nothing(workdir, tmp_path, fault, config, expected, args):
    configfile = tmp_path / f"{fault}.yaml"
    configfile.write_text(config)
    before = _workdir_files(workdir)
    returncode, output = _snakemake(workdir, configfile, *args)
    assert returncode != 0, output[-3000:]
    for text in expected:
        assert text.format(file=configfile) in output, output[-3000:]
    assert _workdir_files(workdir) == before  # nothing written, the earlier result untouched (no report either)


def test_a_yte_config_runs_when_the_user_opts_in(workdir, tmp_path):
    configfile = tmp_path / "yte.yaml"
    configfile.write_text("__use_yte__: true\nseed: ?1 + 1\n")
    returncode, output = _snakemake(workdir, configfile, "-n", env={**os.environ, "MLHEP_ALLOW_YTE": "1"})
    assert returncode == 0, output[-3000:]


def test_a_write_that_fails_names_the_output_and_keeps_the_earlier_version(tmp_path):
    """Fault: the disk fills while an output is written; here a real OSError from write(2), the
    file-size limit (EFBIG; Python ignores SIGXFSZ) standing in for ENOSPC, which needs a full
    file system. Expected: an MlhepError naming the output. Nothing lost: the earlier version of
    the output is still there, and no temporary file is left."""
    import resource

    output = tmp_path / "results/summary.json"
    output.parent.mkdir()
    output.write_text('{"earlier": "result"}\n')
    code = f"from mlhep.io import write_json; write_json({{'x': 'y' * 100000}}, {str(output)!r})"

    def small_files():
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))

    result = subprocess.run([sys.executable, "-c", code], preexec_fn=small_files, capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert f"MlhepError: could not write {output}: File too large" in result.stderr, result.stderr[-3000:]
    assert output.read_text() == '{"earlier": "result"}\n'
    assert [p.name for p in output.parent.iterdir()] == ["summary.json"]


# ---- input files of the processing

EXECUTOR = make_executor("iterative", status=False)
CHUNKSIZE = 50  # several chunks per file: a fault in a late chunk must not leave the early ones in


def _counts(source, collection):
    return uproot.open(source)["Events"][f"n{collection}"].array(library="np").astype(np.int32)


def _minus_one(counts, entry):
    counts = counts.copy()
    counts[entry] = -1
    return counts


def _shifted(counts, entry):
    """One object moved from entry + 1 to entry in the counter (the total unchanged)."""
    counts = counts.copy()
    counts[entry] += 1
    counts[entry + 1] -= 1
    return counts


def _with_field(events, collection, field, values):
    return {**events, collection: ak.with_field(events[collection], values, field)}


def _without_field(events, collection, field):
    return {**events, collection: events[collection][[f for f in events[collection].fields if f != field]]}


def _truncated(source, path):
    data = source.read_bytes()
    path.write_bytes(data[: int(0.6 * len(data))])
    return path


def _zeroed_basket(source, path, branch):
    """A copy whose first basket of ``branch`` (key and data) is overwritten with zeros: the file
    opens and its metadata are intact, the data cannot be read."""
    tree = uproot.open(source)["Events"]
    seek, size = int(tree[branch].member("fBasketSeek")[0]), int(tree[branch].member("fBasketBytes")[0])
    data = bytearray(source.read_bytes())
    data[seek : seek + size] = bytes(size)
    path.write_bytes(bytes(data))
    return path


# (fault, channel, how to build the bad file from a generated one (source, path), expected error, message)
INPUT_FAULTS = [
    ("zero_bytes", "dijet", lambda s, p: p.write_bytes(b"") or p, BadInputFile, r"{path}: not a readable ROOT file"),
    ("truncated", "dijet", _truncated, BadInputFile, r"{path}: truncated, the data of branch '\w+' end at byte \d+ of a \d+-byte file"),
    ("unreadable_basket", "dijet", lambda s, p: _zeroed_basket(s, p, "FatJet_eta"), BadInputFile, r"{path}: cannot read entries 0-49 \("),
    ("same_file_twice", "dijet", None, BadInputFile, r"{path}: a copy of {good} \(same ROOT file UUID\)"),
    ("no_entries", "dijet", lambda s, p: write_events(p, {"run": np.zeros(0, np.uint32)}), BadInputFile, r"{path}: TTree 'Events' has no entries"),
    ("no_fatjet_msoftdrop", "dijet", lambda s, p: write_events(p, _without_field(nanoaod_branches(s), "FatJet", "msoftdrop")),
     MissingBranch, r"{path}: missing required branch 'FatJet_msoftdrop'"),
    *[
        (f"no_{branch}", "dijet", lambda s, p, b=branch: write_events(p, {k: v for k, v in nanoaod_branches(s).items() if k != b}), MissingBranch, rf"{{path}}: missing required branch '{branch}'")
        for branch in ("run", "luminosityBlock", "event")
    ],
    ("integer_fatjet_pt", "dijet", lambda s, p: write_events(p, _with_field(nanoaod_branches(s), "FatJet", "pt", ak.values_astype(nanoaod_branches(s)["FatJet"].pt, np.int32))),
     BadInputFile, r"{path}: branch 'FatJet_pt' holds int32, expected a floating-point number"),
    ("boolean_fatjet_pt", "dijet", lambda s, p: write_events(p, _with_field(nanoaod_branches(s), "FatJet", "pt", nanoaod_branches(s)["FatJet"].pt > 1500)),
     BadInputFile, r"{path}: branch 'FatJet_pt' holds bool, expected a floating-point number"),
    ("float_event_number", "dijet", lambda s, p: write_events(p, {**nanoaod_branches(s), "event": ak.values_astype(nanoaod_branches(s)["event"], np.float64)}),
     BadInputFile, r"{path}: branch 'event' holds float64, expected an integer"),
    ("float_counter", "dijet", lambda s, p: write_events(p, nanoaod_branches(s), {"FatJet": _counts(s, "FatJet").astype(np.float32)}),
     BadInputFile, r"{path}: branch 'nFatJet' holds float32, expected an integer"),
    ("counter_minus_one", "dijet", lambda s, p: write_events(p, nanoaod_branches(s), {"FatJet": _minus_one(_counts(s, "FatJet"), 170)}),
     BadInputFile, r"{path}: counter 'nFatJet' disagrees with the length of 'FatJet_\w+' in 1 entries of 170-170 \(entry 170: nFatJet = -1, FatJet_\w+ has \d values\)"),
    ("counter_shifted", "dijet", lambda s, p: write_events(p, nanoaod_branches(s), {"FatJet": _shifted(_counts(s, "FatJet"), 120)}),
     BadInputFile, r"{path}: counter 'nFatJet' disagrees with the length of 'FatJet_\w+' in 2 entries of 120-121 \(entry 120: nFatJet = \d"),
    ("link_counter_shifted", "dijet", lambda s, p: write_events(p, nanoaod_branches(s), {"FatJetPFCands": _shifted(_counts(s, "FatJetPFCands"), 60)}),
     BadInputFile, r"{path}: counter 'nFatJetPFCands' disagrees with the length of 'FatJetPFCands_\w+' in 2 entries of 60-61"),
    ("muon_counter_shifted", "zjets", lambda s, p: write_events(p, nanoaod_branches(s), {"Muon": _shifted(_counts(s, "Muon"), 130)}),
     BadInputFile, r"{path}: counter 'nMuon' disagrees with the length of 'Muon_\w+' in 2 entries of 130-131"),
]


GOOD = {"dijet": "qcd_dijet", "zjets": "zjets_nominal"}


@pytest.fixture(scope="module")
def bad_source(generated):
    """The generated files the bad ones are built from (a rewritten file gets its own UUID)."""
    return {"dijet": generated["wprime_xy"], "zjets": generated["zjets_nominal"]}


@pytest.fixture(scope="module")
def good_only(generated, tmp_path_factory):
    """The outputs of each channel's good file processed alone: {channel: (cutflow, outputs)}."""
    results = {}
    for channel, sample in GOOD.items():
        outputs = _outputs(tmp_path_factory.mktemp(f"good_{channel}"))
        results[channel] = (process_sample("s", [str(generated[sample])], channel, {}, 1, EXECUTOR, CHUNKSIZE, False, outputs), outputs)
    return results


def _outputs(folder):
    return {"columns": folder / "columns.parquet", "hists": folder / "hists.root", "cutflow": folder / "cutflow.json"}


def _hists(path):
    with uproot.open(path) as file:
        return {key: file[key].values() for key, classname in file.classnames(cycle=False).items() if classname.startswith("TH1")}


@pytest.mark.parametrize(("fault", "channel", "build", "error", "message"), INPUT_FAULTS, ids=[case[0] for case in INPUT_FAULTS])
def test_a_bad_input_file_is_named_or_skipped_and_nothing_is_lost(generated, bad_source, good_only, tmp_path, fault, channel, build, error, message):
    good = str(generated[GOOD[channel]])
    bad = tmp_path / f"{fault}.root"
    if build is None:  # a copy of the good file under another name
        bad.write_bytes(generated[GOOD[channel]].read_bytes())
    else:
        build(bad_source[channel], bad)
    expected = message.format(path=re.escape(str(bad)), good=re.escape(good))
    files = [str(bad)] if fault != "same_file_twice" else [good, str(bad)]

    # strict: the error names the file (and branch, entries); no output at all
    outputs = _outputs(tmp_path / "strict")
    with pytest.raises(error, match=expected):
        process_sample("s", files, channel, {}, 1, EXECUTOR, CHUNKSIZE, False, outputs)
    assert not (tmp_path / "strict").exists()

    # skipbadfiles: listed with the reason (JSON, warning to the job log), outputs those of the good file alone
    outputs = _outputs(tmp_path / "skip")
    with pytest.warns(SkippedFileWarning, match=f"skipped input file: {expected}"):
        cutflow = process_sample("s", [good, str(bad)], channel, {}, 1, EXECUTOR, CHUNKSIZE, True, outputs)
    assert list(cutflow["skipped_files"]) == [str(bad)]
    assert json.loads(outputs["cutflow"].read_text())["skipped_files"] == cutflow["skipped_files"]
    reference, reference_outputs = good_only[channel]
    assert cutflow["cutflow"] == reference["cutflow"] and cutflow.get("cutflow_truth") == reference.get("cutflow_truth")
    columns, reference_columns = ak.from_parquet(outputs["columns"]), ak.from_parquet(reference_outputs["columns"])
    assert columns.fields == reference_columns.fields and ak.array_equal(columns, reference_columns, equal_nan=True)
    hists, reference_hists = _hists(outputs["hists"]), _hists(reference_outputs["hists"])
    assert hists.keys() == reference_hists.keys() and all(np.array_equal(hists[k], reference_hists[k]) for k in hists)
    # the report's cutflow table counts it
    cutflow_table([outputs["cutflow"]], tmp_path / "table.csv")
    rows = (tmp_path / "table.csv").read_text().splitlines()
    assert rows[0].endswith(",skipped_files") and all(row.endswith(",1") for row in rows[1:])


def test_a_skipped_file_is_reported_in_the_job_log(generated, tmp_path):
    """Fault: a truncated file in a sample processed with skipbadfiles, through the process
    rule's script (which sends stderr to the rule's log). Expected: the job succeeds, and its log
    names the file and the reason. Nothing lost: the cutflow JSON lists it too."""
    bad = _truncated(generated["wprime_xy"], tmp_path / "truncated.root")
    outputs = {name: str(path) for name, path in _outputs(tmp_path / "out").items()}
    snakemake = {
        "log": [str(tmp_path / "process.log")],
        "params": {"processing": {"executor": "iterative", "retries": 0, "chunksize": 100, "skipbadfiles": True}, "selection": {"channel": "dijet", "options": {}}, "seed": 1},
        "threads": 1,
        "wildcards": {"sample": "qcd"},
        "input": {"files": [str(generated["qcd_dijet"]), str(bad)]},
        "output": outputs,
    }
    code = (
        "import json, runpy, sys, types\n"
        "spec = json.loads(sys.argv[1])\n"
        "snakemake = types.SimpleNamespace(**{k: types.SimpleNamespace(**v) if k in ('params', 'wildcards', 'input') else v for k, v in spec.items()})\n"
        "runpy.run_path('scripts/process.py', init_globals={'snakemake': snakemake}, run_name='__main__')\n"
    )
    result = subprocess.run([sys.executable, "-c", code, json.dumps(snakemake)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    log = (tmp_path / "process.log").read_text()
    assert f"SkippedFileWarning: skipped input file: {bad}: truncated, the data of branch" in log, log[-3000:]
    assert list(json.loads(Path(outputs["cutflow"]).read_text())["skipped_files"]) == [str(bad)]


def test_an_unreadable_cutflow_is_named_and_no_table_is_written(tmp_path):
    """Fault: a cutflow JSON cut short (a killed writer of an older version). Expected:
    BadInputFile naming it. Nothing lost: no half-written table, an earlier one untouched."""
    good, bad = tmp_path / "good.json", tmp_path / "bad.json"
    good.write_text(json.dumps({"sample": "s", "channel": "dijet", "cutflow": {"all": 3}, "cutflow_weighted": {"all": 3.0}, "skipped_files": {}}))
    bad.write_text('{"sample": "t", "chan')
    table = tmp_path / "cutflow.csv"
    table.write_text("earlier\n")
    with pytest.raises(BadInputFile, match=f"{bad}: not a readable cutflow of the processing"):
        cutflow_table([good, bad], table)
    assert table.read_text() == "earlier\n" and sorted(p.name for p in tmp_path.iterdir()) == ["bad.json", "cutflow.csv", "good.json"]


# ---- processed columns read by the stages


@pytest.fixture(scope="module")
def columns_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("columns") / "sample.parquet"
    ak.to_parquet(ak.zip({"event": np.arange(1, 51, dtype=np.uint64), "mjj": np.linspace(3000, 4000, 50)}), path)
    return path


@pytest.mark.parametrize(
    ("fault", "make", "message"),
    [
        ("missing_file", lambda good, bad: None, "cannot read the processed columns"),
        ("truncated_file", lambda good, bad: bad.write_bytes(good.read_bytes()[: len(good.read_bytes()) // 2]), "cannot read the processed columns"),
        ("not_parquet", lambda good, bad: bad.write_text("event,mjj\n1,3000\n"), "cannot read the processed columns"),
        ("missing_column", lambda good, bad: bad.write_bytes(good.read_bytes()), r"missing columns \['mj1', 'msd_j1'"),
    ],
)
def test_a_bad_columns_file_is_named_by_the_stages_that_read_it(columns_file, tmp_path, fault, make, message):
    """Fault: a processed-columns file missing, cut short (a killed copy), not parquet, or from
    another channel. Expected: BadInputFile naming it, from the one reader (mlhep.columns) that
    the tagger, fit, NSBI and anomaly stages use; no raw pyarrow error."""
    from mlhep.columns import read_columns
    from mlhep.ml.data import jet_table

    bad = tmp_path / f"{fault}.parquet"
    make(columns_file, bad)
    with pytest.raises(BadInputFile, match=rf"{re.escape(str(bad))}: {message}"):
        jet_table(bad, label=1)
    with pytest.raises(BadInputFile, match=re.escape(str(bad))):
        read_columns(bad, ["mjj", "mj1"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ([] if fault == "missing_file" else [bad.name])


def test_columns_written_by_pandas_read_as_plain_arrays_and_nulls_are_named(tmp_path):
    """Fault: a columns file from another writer (pandas marks every field nullable and writes
    NaN as null). Expected: plain numeric columns, never masked arrays whose masks numpy's
    quantile and histogram ignore; a null float is NaN (for the stages' NaN checks), a null
    integer a BadInputFile naming the file and the column."""
    from mlhep.columns import read_columns

    good, bad = tmp_path / "good.parquet", tmp_path / "bad.parquet"
    pd.DataFrame({"mjj": [3000.0, np.nan], "event": [1, 2]}).to_parquet(good)
    pd.DataFrame({"mjj": [3000.0, 3100.0], "event": pd.array([1, None], dtype="Int64")}).to_parquet(bad)
    columns = read_columns(good, ["mjj", "event"])
    mjj = ak.to_numpy(columns["mjj"])
    assert not isinstance(mjj, np.ma.MaskedArray) and mjj[0] == 3000.0 and np.isnan(mjj[1])
    assert ak.to_numpy(columns["event"]).dtype == np.int64
    with pytest.raises(BadInputFile, match=rf"{re.escape(str(bad))}: column 'event' has 1 missing value"):
        read_columns(bad, ["mjj", "event"])


def test_a_null_constituent_list_reads_as_no_constituents(tmp_path):
    """Fault: the Z+jets processor writes the constituents of a level without a jet as a null
    list (an event with a reco jet and no truth jet). Expected: read as an empty list, so the
    padded constituents of that event are zeros and every other event keeps its own (before,
    the optional lists were padded out of line and 960 of 961 rows came out NaN)."""
    from mlhep.columns import padded_constituents, read_columns

    path = tmp_path / "zjets.parquet"
    pt = ak.values_astype(ak.Array([[30.0, 10.0], None, [5.0]]), np.float32)
    angle = ak.values_astype(ak.Array([[0.1, -0.2], None, [0.3]]), np.float32)
    ak.to_parquet(ak.zip({"event": np.arange(1, 4, dtype=np.uint64), "const_pt_truth": pt, "const_deta_truth": angle, "const_dphi_truth": angle}, depth_limit=1), path)
    columns = read_columns(path)
    assert columns["const_pt_truth"].tolist()[1] == [] and not columns["const_pt_truth"].layout.is_option
    padded = padded_constituents(columns, "truth", 3, path)
    np.testing.assert_allclose(padded[:, :, 0], [[0.75, 0.25, 0.0], [0.0, 0.0, 0.0], [1.0, 0.0, 0.0]])
    np.testing.assert_allclose(padded[0, :2, 1], [0.1, -0.2], rtol=1e-6)


def test_chunks_with_other_columns_or_types_are_named_and_nothing_is_written(tmp_path):
    """Fault: two input files of one sample give chunks with different columns (another NanoAOD
    version's optional branches) or one column of another type. Expected: a BadInputFile naming
    both files and the column, and no columns file."""
    from mlhep.columns import write_columns, write_piece

    pieces = {}
    for name, table in {"a": {"mjj": [1.0], "event": [1]}, "b": {"mjj": [2.0]}, "c": {"mjj": [3], "event": [3]}}.items():
        pieces[name] = tmp_path / f"{name}.arrow"
        write_piece(ak.Array({key: np.asarray(values) for key, values in table.items()}), pieces[name])
    out = tmp_path / "columns.parquet"
    with pytest.raises(BadInputFile, match=r"b.root: its columns \(mjj\) differ from those of a.root \(mjj, event\)"):
        write_columns([("a.root", pieces["a"]), ("b.root", pieces["b"])], out)
    with pytest.raises(BadInputFile, match=r"c.root: column 'mjj' has type ak:int64, in a.root ak:double"):
        write_columns([("a.root", pieces["a"]), ("c.root", pieces["c"])], out)
    assert not out.exists() and not list(tmp_path.glob(".columns*"))
    assert write_columns([("a.root", pieces["a"]), ("a2.root", pieces["a"])], out) == 2


def test_every_stage_reads_processed_columns_through_one_reader():
    """One reader, one set of errors: no stage module parses a columns parquet itself."""
    readers = re.compile(r"ak\.from_parquet|pd\.read_parquet|pq\.read_(table|schema)")
    found = [str(path.relative_to(ROOT)) for path in (ROOT / "src/mlhep").rglob("*.py") if readers.search(path.read_text())]
    assert set(found) <= {"src/mlhep/columns.py", "src/mlhep/ml/stage.py", "src/mlhep/bench/oracles.py", "src/mlhep/publish/stage.py"}, found  # the others: tagger scores and unfolding weights
