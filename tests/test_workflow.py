"""The whole Snakemake DAG on config/mini.yaml (through SLURM where a cluster answers; run beside
the other tests, see conftest.py): outputs, nothing left to do, targeted reruns, every stage
rebuilt locally identical to the run, the report, the reference checks. Jobs run in folders of
their own are in test_workflow_jobs.py."""

import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import awkward as ak
import numpy as np
import pandas as pd
import pyhf
import pytest
import uproot
from snakemake.utils import validate

from conftest import ROOT, load_config, snakemake_mini
from mlhep.manifest import NOT_BIT_IDENTICAL, compare_manifests, content_sha256
from mlhep.report import CHROMIUM, check_report
from mlhep.unfold.stage import load_events, run_unfolding
from test_slurm import check_slurm_run, needs_slurm

pytestmark = pytest.mark.slow


def _planned_jobs(output):
    """{rule: count} from the 'Job stats' table of a dry run."""
    table = output.split("Job stats:")[-1] if "Job stats:" in output else ""
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)\s*$", table, re.MULTILINE) if m.group(1) != "total"}


def test_final_outputs_exist_and_are_well_formed(workflow_run):
    summary = json.loads((workflow_run / "results/generation/summary.json").read_text())
    assert set(summary) == {"qcd_dijet", "wprime_xy", "wprime_3000", "wprime_4000", "wprime_4500", "zjets_nominal", "zjets_alt", "zjets_model"}
    for sample in summary.values():
        cutflow = list(sample["cutflow"].values())
        assert cutflow[0] >= cutflow[1] > 0
        assert 0 < sample["filter_efficiency"] <= 1
    assert 3000 < summary["wprime_xy"]["medians"]["mjj"] < 3700
    assert 86 < summary["zjets_nominal"]["medians"]["mumu"] < 96
    plots = {p.name for p in (workflow_run / "results/plots/generation").iterdir()}
    assert {"mjj.png", "mjj.pdf", "mumu.png", "fatjet_msoftdrop.png", "tau21.pdf"} <= plots
    for sample in summary:
        cutflow = json.loads((workflow_run / f"results/cutflow/{sample}.json").read_text())["cutflow"]
        columns = ak.from_parquet(workflow_run / f"results/columns/{sample}.parquet")
        counts = list(cutflow.values())
        assert counts == sorted(counts, reverse=True) and counts[-1] > 0
        region, observable = ("reco", "mass") if sample.startswith("zjets") else ("inclusive", "mjj")
        with uproot.open(workflow_run / f"results/hists/{sample}.root") as hists:
            for variation in ("nominal", "jes_up", "jes_down", "jer"):
                assert hists[f"{region}/{observable}/{variation}"].to_hist().sum().value > 0
            assert hists[f"{region}/{observable}/nominal"].to_hist().sum(flow=True).value == counts[-1]
        assert len(columns) >= counts[-1]
    taggers = json.loads((workflow_run / "results/taggers/summary.json").read_text())
    scanned = {"disco_lambda_0", "disco_lambda_30", "adversarial_lambda_10", "mode_lambda_10"}  # mini.yaml's lambdas
    assert set(taggers) == {"bdt", "mlp", "pfn", "efn"} | scanned
    for metrics in taggers.values():
        assert 0 <= metrics["auc"] <= 1 and metrics["r50"] >= 1 and metrics["train_s"] > 0
    assert taggers["bdt"]["auc"] > 0.5 and taggers["mlp"]["auc"] > 0.5
    plots = {p.name for p in (workflow_run / "results/plots/taggers").iterdir()}
    assert {"roc.png", "r50_vs_inv_jsd.pdf", *(f"background_mass_{name}.png" for name in taggers)} <= plots
    fit = json.loads((workflow_run / "results/fits/tagged_search/results.json").read_text())
    assert {"mu_hat", "mu_unc", "cls_obs", "cls_exp", "significance", "fit_s"} <= set(fit) and len(fit["cls_exp"]) == 5
    assert fit["mu_hat"] == pytest.approx(1.0, abs=1e-3)  # Asimov pseudo-data at injected_mu = 1
    workspace = json.loads((workflow_run / "results/fits/tagged_search/workspace.json").read_text())
    pyhf.schema.validate(workspace, "workspace.json")
    modifiers = {m["type"] for channel in workspace["channels"] for sample in channel["samples"] for m in sample["modifiers"]}
    assert {"normfactor", "staterror", "histosys", "normsys"} <= modifiers
    parameters = {m["name"] for channel in workspace["channels"] for sample in channel["samples"] for m in sample["modifiers"]}
    assert {"dijet_fit_0", "dijet_fit_1", "jes", "jer"} <= parameters  # the smoothed QCD template's shape uncertainties
    limits = json.loads((workflow_run / "results/fits/tagged_search/limits.json").read_text())
    assert [point["mass"] for point in limits] == [3000, 3500, 4000, 4500]
    assert all(0 < point["upper_limit_exp"][0] < point["upper_limit_exp"][2] < point["upper_limit_exp"][4] for point in limits)
    ranked = json.loads((workflow_run / "results/fits/tagged_search/ranking.json").read_text())
    assert {row["parameter"] for row in ranked} >= {"jes", "jer", "dijet_fit_0"}
    plots = {p.name for p in (workflow_run / "results/plots/fits/tagged_search").iterdir()}
    assert {"prefit_tagged_mjj.png", "postfit_tagged_mjj.pdf", "pulls.png", "ranking.png", "limit_vs_mass.png"} <= plots
    tables = {p.name for p in (workflow_run / "results/tables").iterdir()}
    assert tables == {"cutflow.html", "taggers.html", "fit_tagged_search.html", "limits_tagged_search.html", "generation.html", "unfolding.html", "nsbi.html", "anomaly.html"}
    assert "disco_lambda_30" in (workflow_run / "results/tables/taggers.html").read_text()
    unfolding = json.loads((workflow_run / "results/unfolding/metrics.json").read_text())
    observables = ["mass", "multiplicity", "width", "tau21", "zg", "lnrho"]
    assert list(unfolding["observables"]) == observables and unfolding["iterations"] == 2
    assert all(set(metrics) == {"omnifold", "ibu", "prior"} and all(v >= 0 for v in metrics.values()) for metrics in unfolding["observables"].values())
    weights = pd.read_parquet(workflow_run / "results/unfolding/weights.parquet")
    assert list(weights.columns) == ["event", "generator_weight", "pass_truth", *(f"truth_{o}" for o in observables), "nominal", "bootstrap_0", "bootstrap_1", "jes_up"]
    assert np.all(np.isfinite(weights.nominal)) and weights.nominal[weights.pass_truth].mean() == pytest.approx(1.0, abs=0.3)
    # the data unfolded with the alternative simulation too: its per-event weights, and a modelling shift
    model = pd.read_parquet(workflow_run / "results/unfolding/model_weights.parquet")
    assert list(model.columns)[:3] == ["event", "generator_weight", "pass_truth"] and list(model.columns)[-1] == "model" and np.all(np.isfinite(model.model))
    assert list(unfolding["uncertainties"]) == observables
    assert all(sizes["model"] > 0 and sizes["detector"] >= 0 and sizes["statistical"] > 0 for sizes in unfolding["uncertainties"].values())
    assert unfolding["omnifold_runs"] == 5  # nominal, 2 bootstrap replicas, jes_up, the alternative simulation
    assert {f"{o}.png" for o in observables} <= {p.name for p in (workflow_run / "results/plots/unfolding").iterdir()}
    nsbi = json.loads((workflow_run / "results/nsbi/metrics.json").read_text())
    assert {"nsbi", "binned_mjj", "binned_score", "coverage68", "n_toys", "toy_exact"} <= set(nsbi) and nsbi["n_toys"] == 5
    for method in ("nsbi", "binned_mjj", "binned_score"):
        low, high = nsbi[method]["interval68"]
        assert low <= nsbi[method]["mu_hat"] <= high and nsbi[method]["width68"] == pytest.approx(high - low)
    injected = load_config("config.yaml", "mini.yaml")["nsbi"]["injected_mu"]
    for method in ("binned_mjj", "binned_score"):  # pyhf fits to Asimov data at the injected mu
        assert nsbi[method]["mu_hat"] == pytest.approx(injected, abs=0.01), (method, nsbi[method])
    assert {"width68_exact", "width68_nsbi", "logratio_rms"} == set(nsbi["toy_exact"])
    assert {"scan.png", "calibration.png", "toy_log_ratio.png"} <= {p.name for p in (workflow_run / "results/plots/nsbi").iterdir()}
    anomaly = json.loads((workflow_run / "results/anomaly/summary.json").read_text())
    assert list(anomaly["injections"]) == ["0", "2.14"] and anomaly["headline"] == "2.14" and anomaly["seeds"] == 1
    for entry in anomaly["injections"].values():
        assert {"cathode", "cwola", "idealized", "supervised"} <= set(entry) and entry["supervised"]["auc"] > 0.5
    assert anomaly["sr_background_events"] > 30 and anomaly["closure_chi2_ndf"] >= 0
    assert [w["signal_region"] for w in anomaly["windows"]] == [[3500.0, 3900.0]]
    assert {"sic_curves.png", "max_sic_vs_injection.png", "flow_samples.png", "mjj_cathode_injection_2.14.png"} <= {p.name for p in (workflow_run / "results/plots/anomaly").iterdir()}
    table = (workflow_run / "results/cutflow/cutflow.csv").read_text().splitlines()
    assert table[0].startswith("sample,channel,step,events") and len(table) > 16
    logs = {p.relative_to(workflow_run / "logs").parts[0].removesuffix(".log") for p in (workflow_run / "logs").rglob("*.log")}
    assert logs == {"generate", "validate_generation", "process", "cutflow_table", "train_tagger", "summarize_taggers", "fit_search", "metrics_table", "unfold", "nsbi", "anomaly", "anomaly_window", "anomaly_summary", "hepdata", "manifest"}
    assert len(list((workflow_run / "benchmarks").rglob("*.tsv"))) == len(list((workflow_run / "logs").rglob("*.log")))


def test_published_likelihoods_refit_to_the_stage_limits(workflow_run):
    """bkgonly.json + patchset.json of the tagged search (issue 25): every mass point's patch,
    applied by pyhf, refits to the limits the stage wrote, to 1e-6: bit for bit on one BLAS thread,
    as the rule runs (more threads sum in another order, and the limits' root-finding, precise to
    1e-3, ends elsewhere within it)."""
    from threadpoolctl import threadpool_limits

    from mlhep.stats import fit_workspace

    folder = workflow_run / "results/fits/tagged_search"
    background_only = pyhf.Workspace(json.loads((folder / "bkgonly.json").read_text()))
    patches = pyhf.PatchSet(json.loads((folder / "patchset.json").read_text()))
    limits = json.loads((folder / "limits.json").read_text())
    assert [list(patch.values) for patch in patches] == [[point["mass"]] for point in limits]
    for point in limits:
        with threadpool_limits(1):
            refit = fit_workspace(dict(patches.apply(background_only, (point["mass"],))))
        assert refit["upper_limit_obs"] == pytest.approx(point["upper_limit_obs"], abs=1e-6)
        assert refit["upper_limit_exp"] == pytest.approx(point["upper_limit_exp"], abs=1e-6)


@pytest.mark.filterwarnings("ignore::ResourceWarning")  # hepdata-validator leaves the files it reads open
def test_the_hepdata_record_validates_and_holds_the_runs_numbers(workflow_run):
    """results/hepdata (issue 25) passes hepdata-validator, and its tables hold the run's numbers:
    the unfolded densities times the bin widths are unfolded.root's OmniFold histograms, their
    three uncertainties add in quadrature to its errors, each covariance's diagonal is that
    uncertainty squared; the limits are limits.json's; each tagger's background efficiency at
    50 % signal efficiency is scikit-learn's ROC curve interpolated there."""
    import pyarrow.parquet as pq
    import uproot
    import yaml
    from hepdata_validator.full_submission_validator import FullSubmissionValidator
    from sklearn.metrics import roc_curve

    folder = workflow_run / "results/hepdata"
    validator = FullSubmissionValidator()
    assert validator.validate(directory=str(folder)), validator.get_messages()
    read = lambda name: yaml.safe_load((folder / f"{name}.yaml").read_text())
    tables = [d["name"] for d in yaml.safe_load_all((folder / "submission.yaml").read_text()) if "name" in d]
    assert {"Unfolded mass", "Covariance of unfolded lnrho", "Limits tagged_search", "Cutflow dijet", "Cutflow zjets", "Tagger ROC curves"} <= set(tables)
    with uproot.open(workflow_run / "results/unfolding/unfolded.root") as file:
        for observable in ("mass", "multiplicity", "width", "tau21", "zg", "lnrho"):
            histogram, table = file[f"unfolded/{observable}/omnifold"], read(f"unfolded_{observable}")
            widths = np.diff(histogram.axis().edges())
            dependent = table["dependent_variables"][0]["values"]
            np.testing.assert_allclose([v["value"] for v in dependent] * widths, histogram.values(), rtol=1e-6, atol=1e-12)
            labels = ("stat", "sys,detector", "sys,modelling")  # hepdata_lib leaves out zero uncertainties
            errors = np.array([[{e["label"]: e["symerror"] for e in v.get("errors", [])}.get(label, 0.0) for label in labels] for v in dependent]) * widths[:, None]
            np.testing.assert_allclose(np.hypot.reduce(errors, axis=1), np.sqrt(histogram.variances()), rtol=1e-6, atol=1e-12)
            covariance = read(f"covariance_of_unfolded_{observable}")["dependent_variables"]
            stat = np.array([v["value"] for v in covariance[1]["values"]]).reshape(len(widths), len(widths))
            assert covariance[1]["header"]["name"] == "covariance (statistical)"
            np.testing.assert_allclose(np.sqrt(np.diag(stat)) * widths, errors[:, 0], rtol=1e-6, atol=1e-12)
    limits = sorted(json.loads((workflow_run / "results/fits/tagged_search/limits.json").read_text()), key=lambda p: p["mass"])
    table = read("limits_tagged_search")
    assert [v["value"] for v in table["independent_variables"][0]["values"]] == [p["mass"] for p in limits]
    expected, observed = table["dependent_variables"]
    np.testing.assert_allclose([v["value"] for v in observed["values"]], [p["upper_limit_obs"] for p in limits], rtol=1e-7)
    np.testing.assert_allclose([v["value"] + v["errors"][1]["asymerror"]["plus"] for v in expected["values"]], [p["upper_limit_exp"][4] for p in limits], rtol=1e-7)
    roc = read("tagger_roc_curves")
    efficiencies = [v["value"] for v in roc["independent_variables"][0]["values"]]
    for curve in roc["dependent_variables"]:
        tagger = curve["header"]["name"].split(":")[0]
        scores = pq.read_table(workflow_run / f"results/taggers/{tagger}/scores.parquet").to_pandas()
        eps_b, eps_s, _ = roc_curve(scores["label"], scores["score"], drop_intermediate=False)
        above = np.searchsorted(eps_s, efficiencies)  # the first point reaching the efficiency, and the one before
        fraction = (efficiencies - eps_s[above - 1]) / (eps_s[above] - eps_s[above - 1])
        reference = eps_b[above - 1] + fraction * (eps_b[above] - eps_b[above - 1])
        np.testing.assert_allclose([v["value"] for v in curve["values"]], reference, rtol=1e-6, atol=1e-12)


def test_the_published_nsbi_models_give_back_the_stages_fit(workflow_run):
    """results/nsbi/models (issue 25), loaded as README's example loads them, on the same held-out
    events: the NSBI fit of mu and its 68 % interval are metrics.json's."""
    from mlhep.nsbi import stage

    config = load_config("config.yaml", "mini.yaml")
    settings, systematics, seed = config["nsbi"], config["processing"]["channels"]["dijet"], config["seed"]
    classifier, shapes, norms, expected = stage.load_models(workflow_run / "results/nsbi/models")
    samples = {p: stage._sample(workflow_run / f"results/columns/{settings[p]}.parquet", settings, systematics, seed) for p in ("signal", "background")}
    _, _, (low, high), scan = stage.nsbi_interval(settings, samples, expected, classifier, shapes, norms)
    published = json.loads((workflow_run / "results/nsbi/metrics.json").read_text())["nsbi"]
    assert scan.best.mu == pytest.approx(published["mu_hat"], abs=1e-9)
    assert [low, high] == pytest.approx(published["interval68"], abs=1e-9)
    assert set(json.loads((workflow_run / "results/nsbi/models/likelihood.json").read_text())) == {"features", "window", "expected", "jes_norms"}


def test_the_weights_file_alone_gives_every_unfolded_histogram(workflow_run):
    """docs/UNFOLDING.md's example (issue 25): the OmniFold histograms of unfolded.root from
    weights.parquet alone, numpy's histogram of each truth column with the weights; and the
    metadata that made them."""
    import pyarrow.parquet as pq

    path = workflow_run / "results/unfolding/weights.parquet"
    weights = pd.read_parquet(path)
    metadata = json.loads(pq.read_schema(path).metadata[b"mlhep"])
    assert metadata["iterations"] == 2 and metadata["mlhep_version"] == "0.1.0" and len(metadata["settings_sha256"]) == 64
    assert metadata["weights"] == ["nominal", "bootstrap_0", "bootstrap_1", "jes_up"] and metadata["network"]["hidden"] == [16]
    unfolded = uproot.open(workflow_run / "results/unfolding/unfolded.root")
    selected = weights[weights.pass_truth]
    assert np.all(np.isfinite(selected.filter(like="truth_"))) and weights[~weights.pass_truth].filter(like="truth_").isna().all().all()
    for observable in metadata["observables"]:
        expected = unfolded[f"unfolded/{observable}/omnifold"]
        counts, _ = np.histogram(selected[f"truth_{observable}"], expected.axis().edges(), weights=selected["nominal"])
        assert counts / counts.sum() == pytest.approx(expected.values(), abs=1e-12)
        prior, _ = np.histogram(selected[f"truth_{observable}"], expected.axis().edges(), weights=selected["generator_weight"])
        assert prior / prior.sum() == pytest.approx(unfolded[f"unfolded/{observable}/prior"].values(), abs=1e-12)


def test_unfolding_on_jet_constituents_reads_both_levels_of_the_processed_columns(workflow_run, tmp_path):
    """The unfold stage's constituent option on the mini workflow's columns: a Particle Flow
    Network unfolds the leading jets' constituents; IBU and the metrics stay on the observables."""
    config = load_config("config.yaml", "mini.yaml")
    validate(config, str(ROOT / "workflow/schemas/config.schema.yaml"))
    network = {"max_particles": 10, "phi": [8, 8], "f": [8], "energy_flow": False}
    # enough steps on 100 events for the PFN's sums to settle (3 epochs left every weight near 2)
    train = {"epochs": 20, "batch_size": 32, "early_stopping": False}
    settings = {**config["unfolding"], "constituents": network, "train": train, "bootstrap": 0, "systematics": []}
    columns = workflow_run / "results/columns"
    # each level's own constituents: as many (up to 10) as that level's multiplicity
    sim = load_events(columns / "zjets_nominal.parquet", settings["observables"], max_particles=10)
    multiplicity = settings["observables"].index("multiplicity")
    for inputs, values, passing in ((sim.reco_inputs, sim.reco, sim.pass_reco), (sim.truth_inputs, sim.truth, sim.pass_truth)):
        assert np.array_equal((inputs[passing, :, 0] > 0).sum(axis=1), np.minimum(values[passing, multiplicity], 10))
    assert not np.array_equal(sim.reco_inputs[sim.pass_reco & sim.pass_truth], sim.truth_inputs[sim.pass_reco & sim.pass_truth])
    summary = run_unfolding(settings, columns / "zjets_nominal.parquet", columns / "zjets_alt.parquet", 1, tmp_path, tmp_path / "plots")
    assert list(summary["observables"]) == settings["observables"] and summary["omnifold_runs"] == 1
    weights = pd.read_parquet(tmp_path / "weights.parquet")
    assert list(weights.columns) == ["event", "generator_weight", "pass_truth", *(f"truth_{o}" for o in settings["observables"]), "nominal"]
    assert np.all(np.isfinite(weights.nominal)) and weights.nominal[weights.pass_truth].mean() == pytest.approx(1.0, abs=0.3)


def test_manifest_records_versions_config_seeds_and_a_hash_of_every_output(workflow_run):
    manifest = json.loads((workflow_run / "results/manifest.json").read_text())
    assert manifest["packages"]["coffea"] == "2026.9.0" and manifest["packages"]["torch"].startswith("2.13.0")
    assert manifest["git"] is None  # the test's copy is not a git checkout
    assert manifest["seeds"]["seed"] > 0 and manifest["seeds"]["anomaly.seeds"] == 1
    assert len(manifest["config_sha256"]) == 64 and manifest["not_bit_identical"] == NOT_BIT_IDENTICAL
    outputs = manifest["outputs"]
    files = {str(p.relative_to(workflow_run)) for p in (workflow_run / "results").rglob("*") if p.is_file() and p.name != ".snakemake_timestamp"} - {"results/manifest.json"}
    assert set(outputs) == files
    for name, record in outputs.items():
        assert record["bytes"] == (workflow_run / name).stat().st_size and ("content_sha256" in record) == (Path(name).suffix in NOT_BIT_IDENTICAL)


@needs_slurm
def test_the_run_went_through_slurm_and_redid_a_cancelled_job(mini_run):
    workdir, outcome = mini_run
    assert outcome["slurm_error"] is None, f"the mini DAG failed on SLURM (the other tests use a local run): {outcome['slurm_error']}"
    check_slurm_run(workdir, outcome["slurm"])


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"headless check needs Debian's chromium at {CHROMIUM}")
def test_report_renders_every_figure_and_table_in_headless_chromium(workflow_run):
    snakemake_mini(workflow_run, "--report", "report.html")
    rendered = check_report(workflow_run / "report.html")
    figures = {str(p.relative_to(workflow_run)) for p in (workflow_run / "results/plots").rglob("*.png")}
    assert set(rendered["figures"]) == figures and len(figures) > 20
    assert set(rendered["tables"]) == {str(p.relative_to(workflow_run)) for p in (workflow_run / "results/tables").iterdir()}


def test_second_run_has_nothing_to_do(workflow_run):
    assert "Nothing to be done" in snakemake_mini(workflow_run, "-n")


def _planned_after_edit(workdir, old, new):
    """Jobs a dry run plans after replacing ``old`` by ``new`` in config/mini.yaml (restored after)."""
    mini = workdir / "config/mini.yaml"
    original = mini.read_text()
    assert old in original
    try:
        mini.write_text(original.replace(old, new))
        return _planned_jobs(snakemake_mini(workdir, "-n"))
    finally:
        mini.write_text(original)


def test_changing_one_sample_reruns_only_that_sample_and_its_descendants(workflow_run):
    planned = _planned_after_edit(workflow_run, "zjets_alt: {shards: 1, events_per_shard: 150}", "zjets_alt: {shards: 1, events_per_shard: 140}")
    assert planned == {"generate": 1, "validate_generation": 1, "process": 1, "cutflow_table": 1, "unfold": 1, "metrics_table": 3, "hepdata": 1, "manifest": 1, "all": 1}, planned


def test_changing_a_selection_reruns_only_the_processing_of_that_channel(workflow_run):
    planned = _planned_after_edit(workflow_run, "processing:\n", "processing:\n  channels:\n    zjets: {z_min_pt: 150.0}\n")
    assert planned == {"process": 3, "cutflow_table": 1, "unfold": 1, "metrics_table": 2, "hepdata": 1, "manifest": 1, "all": 1}, planned


def test_changing_a_tagger_retrains_only_that_tagger(workflow_run):
    planned = _planned_after_edit(workflow_run, "bdt: {n_estimators: 20}", "bdt: {n_estimators: 21}")
    assert planned == {"train_tagger": 1, "summarize_taggers": 1, "metrics_table": 1, "hepdata": 1, "manifest": 1, "all": 1}, planned


def test_adding_a_lambda_trains_only_the_new_point_of_the_scan(workflow_run):
    planned = _planned_after_edit(workflow_run, "disco: {lambdas: [0, 30]", "disco: {lambdas: [0, 30, 50]")
    assert planned == {"train_tagger": 1, "summarize_taggers": 1, "metrics_table": 1, "hepdata": 1, "manifest": 1, "all": 1}, planned


def test_invalid_config_stops_with_the_key_named(workflow_run):
    command = [sys.executable, "-m", "snakemake", "-n", "--configfile", "config/mini.yaml", "--config", "seed=-1"]
    result = subprocess.run(command, cwd=workflow_run, capture_output=True, text=True)
    assert result.returncode != 0
    assert "seed" in result.stdout + result.stderr and "minimum" in result.stdout + result.stderr


def test_lint_is_clean(workflow_run):
    """`snakemake --lint` prints its findings to stderr and exits 1: read both streams."""
    result = subprocess.run([sys.executable, "-m", "snakemake", "--lint"], cwd=workflow_run, capture_output=True, text=True)
    output = result.stdout + result.stderr
    assert result.returncode == 0 and "Lints for" not in output and "Congratulations, your workflow is in a good condition" in output, output


def test_every_output_of_the_dag_is_an_input_of_the_default_target(workflow_run):
    """Snakemake rebuilds a missing file only when a job that needs it has to run: an output that
    the target all does not list would stay missing behind an up-to-date manifest."""
    output = snakemake_mini(workflow_run, "-n", "--forceall")
    jobs = [(rule, dict(re.findall(r"^    (input|output): (.*)$", block, re.MULTILINE))) for rule, block in re.findall(r"^rule (\w+):\n((?:    .*\n)*)", output, re.MULTILINE)]
    (target,) = [fields["input"].split(", ") for rule, fields in jobs if rule == "all"]
    outputs = {path for rule, fields in jobs if rule != "all" for path in fields["output"].split(", ")}
    assert len(outputs) > 50 and set(target) == outputs, set(target) ^ outputs


def test_a_missing_output_of_each_stage_is_rebuilt_by_plain_snakemake(workflow_run):
    """Issue 19: with outputs of each stage gone from a finished run (jobs killed before they
    wrote), `--verify` lists what is missing, plain `snakemake` rebuilds it (it said "Nothing to
    be done"), identical to before, and `--verify` then finds no difference. The generation shard
    that SLURM cancelled and resubmitted, and with it the QCD processing, and every tagger, fit,
    unfolding, NSBI and bump-hunt output are rebuilt here on the local cores: re-execution is
    reproducible, and (the run went through SLURM) the same on a cluster and locally."""
    manifest = workflow_run / "results/manifest.json"
    before = json.loads(manifest.read_text())
    seed = before["seeds"]["seed"]
    started = time.time()
    deleted = [
        "data/generated/qcd_dijet/1.root",  # generate: the job cancelled on SLURM (process, validate_generation follow)
        "results/columns/wprime_4500.parquet",  # process
        *(f"results/taggers/{p.name}" for p in (workflow_run / "results/taggers").iterdir() if p.is_dir()),  # train_tagger, every one
        "results/fits/tagged_search/ranking.json",  # fit_search
        "results/unfolding/model_weights.parquet",  # unfold
        "results/nsbi/metrics.json",  # nsbi
        *(f"results/anomaly/runs/{p.name}/seed{seed}.parquet" for p in (workflow_run / "results/anomaly/runs").iterdir()),  # anomaly_run, every injection
        *(str(p.relative_to(workflow_run)) for p in (workflow_run / "results/anomaly/windows").glob("*.parquet")),  # anomaly_window
    ]
    assert len(deleted) > 12
    shard = content_sha256(workflow_run / deleted[0])  # not in the manifest (it lists results/)
    for name in deleted:
        path = workflow_run / name
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    verify = [sys.executable, "-m", "mlhep.manifest", "--verify", "results/manifest.json"]
    stale = subprocess.run(verify, cwd=workflow_run, capture_output=True, text=True)
    missing = {line.removesuffix(": missing") for line in stale.stdout.splitlines() if line.endswith(": missing")}
    assert stale.returncode == 1 and missing == {name for name in before["outputs"] if any(name == d or name.startswith(f"{d}/") for d in deleted)}, stale.stdout
    output = snakemake_mini(workflow_run)
    assert {"generate", "process", "train_tagger", "fit_search", "unfold", "nsbi", "anomaly_run", "anomaly_window", "manifest"} <= set(_planned_jobs(output)), output[-3000:]
    assert all((workflow_run / name).exists() for name in deleted) and content_sha256(workflow_run / deleted[0]) == shard
    # compared byte for byte (not by a content hash): plots, tables, models
    rebuilt = {Path(name).suffix for name in before["outputs"] if (workflow_run / name).stat().st_mtime > started}
    assert {".root", ".png", ".pdf", ".parquet", ".pt", ".csv"} <= rebuilt and {".png", ".pdf", ".parquet", ".pt", ".csv"}.isdisjoint(NOT_BIT_IDENTICAL)
    checked = subprocess.run(verify, cwd=workflow_run, capture_output=True, text=True)
    assert checked.returncode == 0 and checked.stdout.strip().endswith(f"{len(before['outputs'])} outputs, 0 missing or changed"), checked.stdout
    assert compare_manifests(before, json.loads(manifest.read_text())) == {}  # rebuilt as it was


def _refuse_constant(name):
    raise ValueError(f"{name} is not JSON")


def test_every_json_output_is_strict_json(workflow_run):
    """NaN and Infinity are not JSON: every JSON of the run loads with a parser that refuses them
    (an undefined number is null with a reason beside it)."""
    files = sorted((workflow_run / "results").rglob("*.json"))
    assert len(files) > 30
    for path in files:
        json.loads(path.read_text(), parse_constant=_refuse_constant)


def test_reference_checks_pass_on_the_run(workflow_run):
    """python -m mlhep.bench oracles on the mini run: AUCs against scikit-learn, limits against
    pyhf's root-finding, the ranking against cabinetry, code 4 against pyhf, ..."""
    command = [sys.executable, "-m", "mlhep.bench", "oracles", "--config", "config/config.yaml", "config/mini.yaml", "--omnifold-events", "20000"]
    result = subprocess.run(command, cwd=workflow_run, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    oracles = json.loads((workflow_run / "results/benchmarks/oracles.json").read_text())
    names = set(oracles["checks"])
    assert {"limit_obs", "limit_exp_median", "ranking_top", "code4", "dcor", "jer_test_split_mean", "significance", "omnifold_gaussian", "cutflow_qcd_dijet", "cutflow_weighted_zjets_alt"} <= names
    assert {f"auc_{tagger}" for tagger in ("bdt", "mlp", "pfn", "efn", "disco_lambda_30")} <= names
    failed = {name: check for name, check in oracles["checks"].items() if not check["pass"]}
    assert oracles["all_pass"] and not failed, failed
