"""The full-scale plan (issue 21): jobs read from a dry run, costs fitted per kind of job from
benchmark files, and the DAG scheduled on a number of cores, checked on cases worked by hand."""

import json

import pytest
import yaml

from conftest import ROOT
from mlhep.bench.plan import dry_run_jobs, fit_line, job_events, parse_jobs, plan, schedule, sliced
from mlhep.errors import InvalidInput

DRY_RUN = """
[Wed Dec  2 13:10:10 2026]
rule generate:
    output: data/generated/qcd/0.root
    log: logs/generate/qcd/0.log
    jobid: 1
    benchmark: benchmarks/generate/qcd/0.tsv
    wildcards: sample=qcd, shard=0
    resources: tmpdir=/tmp, mem_mb=3000, runtime=120

rule generate:
    output: data/generated/qcd/1.root
    benchmark: benchmarks/generate/qcd/1.tsv
    wildcards: sample=qcd, shard=1

rule generate:
    output: data/generated/sig/0.root
    benchmark: benchmarks/generate/sig/0.tsv
    wildcards: sample=sig, shard=0

rule process:
    input: data/generated/qcd/0.root, data/generated/qcd/1.root
    output: results/columns/qcd.parquet, results/hists/qcd.root
    benchmark: benchmarks/process/qcd.tsv
    wildcards: sample=qcd
    threads: 2

rule process:
    input: data/generated/sig/0.root
    output: results/columns/sig.parquet, results/hists/sig.root
    benchmark: benchmarks/process/sig.tsv
    wildcards: sample=sig
    threads: 2

rule train:
    input: results/columns/sig.parquet, results/columns/qcd.parquet
    output: results/train/model.json
    benchmark: benchmarks/train.tsv
    resources: tmpdir=/tmp, mem_mb=3000, mem=3 GB, slurm_account=, runtime=5

localrule summary:
    input: results/train/model.json
    output: results/summary.json
    benchmark: benchmarks/summary.tsv
    resources: mem_mb=2000, runtime=60

localrule all:
    input: results/summary.json
    jobid: 0
"""
CONFIG = {"samples": {"qcd": {"process": "qcd", "channel": "dijet", "shards": 2, "events_per_shard": 100}, "sig": {"process": "sig", "channel": "dijet", "shards": 1, "events_per_shard": 50}}}


def test_dry_run_jobs_and_the_events_each_handles():
    jobs = parse_jobs(DRY_RUN)
    assert [job["rule"] for job in jobs] == ["generate"] * 3 + ["process"] * 2 + ["train", "summary", "all"]
    assert jobs[0]["wildcards"] == {"sample": "qcd", "shard": "0"} and jobs[0]["threads"] == 1 and jobs[3]["threads"] == 2
    assert jobs[3]["input"] == ["data/generated/qcd/0.root", "data/generated/qcd/1.root"] and jobs[7]["benchmark"] is None
    assert jobs[5]["resources"] == {"tmpdir": "/tmp", "mem_mb": "3000", "mem": "3 GB", "slurm_account": "", "runtime": "5"}
    # a shard its own events; processing its sample's; training and what follows it both samples'
    assert job_events(jobs, CONFIG) == [100, 100, 50, 200, 50, 250, 250, 250]


def test_fit_line_is_least_squares_with_a_slope_never_negative():
    assert fit_line([(1, 3.0), (3, 7.0)]) == pytest.approx((1.0, 2.0))
    assert fit_line([(0, 1.0), (1, 2.0), (2, 4.0)]) == pytest.approx((5 / 6, 1.5))  # by hand
    assert fit_line([(1, 5.0), (3, 2.0)]) == (5.0, 0.0)  # falling: the largest measured, flat
    assert fit_line([(4, 2.0), (4, 4.0)]) == (0.0, 0.75)  # one size: in proportion to events
    assert fit_line([(0, 2.0)]) == (2.0, 0.0)
    assert fit_line([(4, 2.0), (4, 4.0)], proportional=False) == (3.0, 0.0)


def test_schedule_of_a_small_dag_by_hand():
    durations, threads = [3.0, 2.0, 4.0, 1.0], [1, 1, 1, 1]
    needs = [[], [], [0, 1], []]
    # two cores, longest remaining path first: A and B at 0, D at 2 (after B), C at 3 (after A): 7
    assert schedule(durations, threads, needs, 2) == 7.0
    assert schedule(durations, threads, needs, 1) == 10.0
    assert schedule(durations, threads, needs, 10) == 7.0  # the critical path
    # a two-thread job waits for both cores: A (1 core, 3 s) then C (2 cores): 3 + 4, B and D beside A
    assert schedule(durations, [1, 1, 2, 1], needs, 2) == 7.0
    assert schedule([5.0, 1.0], [2, 1], [[], []], 2) == 6.0
    # a job reading two files of one job waits for the other one too
    assert schedule([1.0, 10.0, 1.0], [1, 1, 1], [[], [], [0, 0, 1]], 2) == 11.0


def _write_benchmarks(folder, costs):
    for path, (cpu, wall, rss) in costs.items():
        target = folder / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(f"s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n{wall}\t0:00:01\t{rss}\t1\t1\t1\t0\t0\t0\t{cpu}\n")


def test_plan_extrapolates_each_kind_of_job_and_checks_the_profile(tmp_path):
    jobs = parse_jobs(DRY_RUN)
    small, large = tmp_path / "small", tmp_path / "large"
    # the measured runs: qcd shards of 100 events (generation 10 s each) with one of sig (5 s);
    # processing 1 s + 0.01 s per event; training 2 s + 0.1 s per event, memory 100 MB + 1 MB per event
    for folder, scale in ((small, 1), (large, 2)):
        events = 250 * scale
        _write_benchmarks(folder, {
            "benchmarks/generate/qcd/0.tsv": (10, 10, 50), "benchmarks/generate/qcd/1.tsv": (10, 10, 50), "benchmarks/generate/sig/0.tsv": (5, 5, 40),
            "benchmarks/process/qcd.tsv": (1 + 2 * scale, 1 + 2 * scale, 200 + 100 * scale), "benchmarks/process/sig.tsv": (1 + 0.5 * scale, 1 + 0.5 * scale, 300),
            # the summary ended before Snakemake's first memory sample in the small run (5 MB)
            "benchmarks/train.tsv": (2 + 0.1 * events, 2 + 0.1 * events, 100 + events), "benchmarks/summary.tsv": (1, 1, 5 if scale == 1 else 60),
        })
    configs = {}
    for name, scale in (("small", 1), ("large", 2), ("target", 10)):
        config = json.loads(json.dumps(CONFIG))
        for sample in config["samples"].values():
            sample["shards"] *= scale
        configs[name] = tmp_path / f"{name}.yaml"
        configs[name].write_text(yaml.safe_dump(config))

    def scaled_jobs(scale):
        text = DRY_RUN.replace("    input: data/generated/qcd/0.root, data/generated/qcd/1.root", "    input: " + ", ".join(f"data/generated/qcd/{i}.root" for i in range(2 * scale)))
        text = text.replace("    input: data/generated/sig/0.root", "    input: " + ", ".join(f"data/generated/sig/{i}.root" for i in range(scale)))
        block = "\nrule generate:\n    output: data/generated/{0}/{1}.root\n    benchmark: benchmarks/generate/{0}/{1}.tsv\n    wildcards: sample={0}, shard={1}\n"
        extra = "".join(block.format("qcd", i) for i in range(2, 2 * scale)) + "".join(block.format("sig", i) for i in range(1, scale))
        return parse_jobs(extra + text)

    runs = [(small, [configs["small"]], jobs), (large, [configs["large"]], scaled_jobs(2))]
    result = plan(runs, [configs["target"]], scaled_jobs(10), 4)
    rules = result["rules"]
    # 20 qcd shards at 10 s and 10 sig shards at 5 s; processing 1 + 0.01 x 2000 and 1 + 0.01 x 500 s
    assert rules["generate"]["jobs"] == 30 and rules["generate"]["cpu_h"] == pytest.approx(250 / 3600, abs=1e-3)
    assert rules["process"]["cpu_h"] == pytest.approx(27 / 3600, abs=1e-3) and rules["process"]["max_job_wall_min"] == pytest.approx(21 / 60, abs=0.01)
    # training on 2500 events: 252 s, 2600 MB; asked 3000 MB (< 1.2 x 2600) and 5 min (< 4.2 min is fine)
    assert rules["train"]["max_job_wall_min"] == pytest.approx(4.2) and rules["train"]["peak_rss_mb"] == 2600
    # processing streams: its largest measured peak, not a line; the summary's one real sample, flat
    assert rules["process"]["peak_rss_mb"] == 400 and rules["summary"]["peak_rss_mb"] == 60
    assert rules["train"]["profile_ok"] is False and rules["summary"]["profile_ok"] is True and not result["all_profile_ok"]
    assert result["jobs"] == 34 and result["cpu_h"] == pytest.approx((250 + 27 + 252 + 1) / 3600, abs=0.01)
    # 4 cores, by hand: the 20 qcd shards (the longer path) first, 0-50 s; qcd processing on 2 cores
    # 50-71 s beside the 10 sig shards on the other 2, 50-75 s; sig processing 75-81 s, then
    # training to 333 s and the summary to 334 s
    assert result["wall_h"] * 3600 == pytest.approx(334, abs=0.5)
    assert result["critical_path_h"] == pytest.approx((10 + 21 + 252 + 1) / 3600, abs=0.01)

    # no cost is negative, and no rule's CPU exceeds its wall time on its threads
    assert all(rule["cpu_h"] >= 0 and rule["core_h"] >= rule["cpu_h"] / rule["threads"] - 1e-9 for rule in rules.values())

    with pytest.raises(InvalidInput, match="train"):
        plan([(small, [configs["small"]], [job for job in jobs if job["rule"] != "train"])], [configs["target"]], scaled_jobs(10), 4)


def test_bad_benchmark_files_and_runs_are_named(tmp_path):
    from mlhep.bench.plan import measured_points, read_benchmark

    header = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"
    cases = {"empty.tsv": (header, "empty benchmark file"), "word.tsv": (header + "1\t0\tabc\t1\t1\t1\t0\t0\t0\t1\n", "not a Snakemake benchmark file"), "short.tsv": (header + "1\t0\n", "not a Snakemake benchmark file")}
    for name, (text, message) in cases.items():
        (tmp_path / name).write_text(text)
        with pytest.raises(InvalidInput, match=f"{name}: {message}"):
            read_benchmark(tmp_path / name)
    (tmp_path / "na.tsv").write_text(header + "2.5\t0\tNA\t1\t1\t1\t0\t0\t0\tNA\n")
    assert read_benchmark(tmp_path / "na.tsv") == {"wall_s": 2.5}
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(CONFIG))
    with pytest.raises(InvalidInput, match=f"{tmp_path}: no benchmark file of any job"):
        measured_points([(tmp_path, [config], parse_jobs(DRY_RUN))])


def test_slice_scales_the_shards_of_generated_samples_only():
    full = {"samples": {"qcd": {"shards": 200, "events_per_shard": 5000}, "sig": {"shards": 20}, "real": {"files": ["a.root"]}}}
    assert sliced(full, 0.05) == {"samples": {"qcd": {"shards": 10}, "sig": {"shards": 1}}}
    assert sliced(full, 0.001)["samples"]["qcd"]["shards"] == 1


def test_plan_of_the_mini_run_on_itself_costs_what_was_measured(workflow_run):
    """The mini run's benchmark files extrapolated to the mini config itself: every rule costed,
    and the total CPU at least what was measured (equal unless a cost fell with events). Through
    the library, not the command: the run's folder is shared, and the command writes into it."""
    files = ["config/config.yaml", "config/mini.yaml"]
    runs = [(workflow_run, [workflow_run / name for name in files], dry_run_jobs(files, workflow_run))]
    # the target's dry run under the cluster profile in the checkout, not in the run's folder, whose
    # SLURM logs the profile's executor settings may prune
    result = plan(runs, [workflow_run / name for name in files], dry_run_jobs(files, ROOT, profile="profiles/slurm"), 2)
    measured = [line.split("\t") for path in (workflow_run / "benchmarks").rglob("*.tsv") for line in path.read_text().splitlines()[1:]]
    assert result["jobs"] == len(measured) == result["runs"][0]["jobs_measured"]
    total = sum(float(row[-1]) for row in measured) / 3600
    assert total - 0.01 <= result["cpu_h"] <= 3 * total + 0.01
    logs = {p.relative_to(workflow_run / "logs").parts[0].removesuffix(".log") for p in (workflow_run / "logs").rglob("*.log")}
    assert set(result["rules"]) == {"anomaly_run" if name == "anomaly" else name for name in logs}
    assert result["critical_path_h"] <= result["wall_h"] <= result["core_h"] + 0.01
    assert result["rules"]["train_tagger"]["asked_mem_mb"] == 16000  # profiles/slurm's request
