"""A measured plan for a run too large to try: every job's CPU time, wall time and peak memory
fitted, per kind of job, as a line in the number of events it handles over the jobs of runs that
were made (their Snakemake benchmark files), then applied to the jobs of the target config (its
dry run) and scheduled on a number of cluster cores."""

import csv
import graphlib
import heapq
import math
import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import yaml
from snakemake.utils import update_config

from mlhep.errors import InvalidInput

__all__ = ["dry_run_jobs", "fit_line", "job_events", "plan", "schedule", "sliced"]

MEASURES = {"cpu_s": "cpu_time", "wall_s": "s", "rss_mb": "max_rss"}
# Snakemake samples a job's memory and CPU time each second for 30 s, then every 30 s: a job
# that ended before its first sample reads as a few MB, which no Python job holds
_MIN_RSS_MB = 30
# rules that stream their events, whose memory does not grow with them: their largest measured
# peak is kept (process: 606 MB at 10^5 events, 628 MB at 10^6, `python -m mlhep.bench process`)
_FLAT_MEMORY = {"process"}
# wildcards that number repeats of the same work, not a different kind of job
_REPEATS = {"shard", "seed", "injection", "low", "high"}
_GENERATED = re.compile(r"data/generated/([^/]+)/\d+\.root$")
_COLUMNS = re.compile(r"results/columns/([^/]+)\.parquet$")


def load_configs(files):
    config = {}
    for path in files:
        update_config(config, yaml.safe_load(Path(path).read_text()))
    return config


def sliced(full, fraction):
    """The samples section of ``full`` with every generated sample's shards scaled by
    ``fraction`` (rounded up, at least one): a run small enough to make, with the same work per
    shard and the same settings everywhere else."""
    return {"samples": {name: {"shards": max(1, math.ceil(sample["shards"] * fraction))} for name, sample in full["samples"].items() if "shards" in sample}}


def dry_run_jobs(configfiles, workdir=".", profile=None):
    """Every job of the DAG (``snakemake -n --forceall``, with ``profile`` as the workflow
    profile: the resources it gives each job), each a dict of its rule, wildcards, threads,
    resources, inputs, outputs and benchmark file."""
    if not Path(workdir, "Snakefile").is_file():
        raise InvalidInput(f"{workdir}: not a checkout of the workflow (no Snakefile)")
    command = [sys.executable, "-m", "snakemake", "-n", "--forceall", "--nolock", "--cores", "64", "--configfile", *configfiles]
    done = subprocess.run(command + (["--workflow-profile", str(profile)] if profile else []), cwd=workdir, capture_output=True, text=True)
    if done.returncode:
        raise InvalidInput(f"snakemake dry run in {workdir} with {configfiles} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return parse_jobs(done.stdout)


def parse_jobs(text):
    jobs, job = [], None
    for line in text.splitlines():
        heading = re.fullmatch(r"(?:localrule|rule|checkpoint) (\w+):", line)
        if heading:
            job = {"rule": heading[1], "wildcards": {}, "threads": 1, "resources": {}, "input": [], "output": [], "benchmark": None}
            jobs.append(job)
        elif job is not None and line.startswith("    ") and ": " in line:
            key, value = line.strip().split(": ", 1)
            if key in ("input", "output"):
                job[key] = value.split(", ")
            elif key in ("wildcards", "resources"):
                job[key] = dict(item.split("=", 1) for item in value.split(", ") if "=" in item)
            elif key == "threads":
                job["threads"] = int(value)
            elif key == "benchmark":
                job["benchmark"] = value
        elif not line.strip():
            job = None
    return jobs


def _sample_events(sample):
    return sample["shards"] * sample["events_per_shard"]


def job_events(jobs, config):
    """Events each job handles: a generation job its shard's, every other job those of the
    samples whose generated files or columns are upstream of it (each sample counted once)."""
    samples = config["samples"]
    producer = {path: index for index, job in enumerate(jobs) for path in job["output"]}
    upstream = {}

    def samples_of(index):
        if index not in upstream:
            found = set()
            for path in jobs[index]["input"]:
                match = _GENERATED.search(path) or _COLUMNS.search(path)
                if match and "shards" in samples.get(match[1], {}):
                    found.add(match[1])
                if path in producer:
                    found |= samples_of(producer[path])
            upstream[index] = found
        return upstream[index]

    events = []
    for index, job in enumerate(jobs):
        if job["rule"] == "generate":
            events.append(samples[job["wildcards"]["sample"]]["events_per_shard"])
        else:
            events.append(sum(_sample_events(samples[name]) for name in samples_of(index)))
    return events


def job_kind(job, config):
    """Jobs of one kind do the same work per event: generation per process, processing per
    channel, every other rule per wildcard value except the repeats (shards, seeds, windows)."""
    wildcards = {k: v for k, v in job["wildcards"].items() if k not in _REPEATS}
    if "sample" in wildcards:
        sample = config["samples"][wildcards.pop("sample")]
        wildcards["of"] = sample.get("process") if job["rule"] == "generate" else sample["channel"]
    return "/".join([job["rule"], *(f"{k}={v}" for k, v in sorted(wildcards.items()))])


def fit_line(points, proportional=True):
    """(intercept, slope) of the least-squares line through (events, value) points, the slope
    kept at zero or above: a cost that seems to fall with events is taken as the largest one
    measured. With one distinct number of events, the value scales in proportion to events
    (``proportional``, for times) or stays as measured (for memory, mostly the interpreter's)."""
    xs = sorted({x for x, _ in points})
    if len(xs) == 1:
        mean = sum(y for _, y in points) / len(points)
        return (0.0, mean / xs[0]) if xs[0] and proportional else (mean, 0.0)
    n = len(points)
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    slope = sum((x - mean_x) * (y - mean_y) for x, y in points) / sum((x - mean_x) ** 2 for x, _ in points)
    if slope < 0:
        return max(y for _, y in points), 0.0
    return mean_y - slope * mean_x, slope


def read_benchmark(path):
    """{measure: value} of the last row of a Snakemake benchmark file; a measure Snakemake did
    not collect (NA) is left out."""
    try:
        with open(path, newline="") as handle:
            rows = list(csv.DictReader(handle, delimiter="\t"))
        row = rows[-1]
        return {name: float(row[column]) for name, column in MEASURES.items() if row[column] not in ("NA", "-", "")}
    except IndexError:
        raise InvalidInput(f"{path}: empty benchmark file") from None
    except (KeyError, TypeError, ValueError, UnicodeDecodeError) as error:
        raise InvalidInput(f"{path}: not a Snakemake benchmark file ({type(error).__name__}: {error})") from None


def measured_points(runs):
    """{kind: {measure: [(events, value)]}} over every job with a benchmark file in ``runs``,
    each (workdir, configfiles, jobs)."""
    points = defaultdict(lambda: defaultdict(list))
    for workdir, configfiles, jobs in runs:
        config = load_configs(configfiles)
        measured = 0
        for job, events in zip(jobs, job_events(jobs, config)):
            path = Path(workdir) / job["benchmark"] if job["benchmark"] else None
            if path is None or not path.exists():
                continue
            measured += 1
            for name, value in read_benchmark(path).items():
                if name != "rss_mb" or value >= _MIN_RSS_MB:
                    points[job_kind(job, config)][name].append((events, value))
        if not measured:
            raise InvalidInput(f"{workdir}: no benchmark file of any job of its config ({', '.join(map(str, configfiles))}) under {workdir}/benchmarks")
    return points


def _fit(kind, measure, points):
    if measure != "rss_mb":
        return fit_line(points)
    if kind.split("/")[0] in _FLAT_MEMORY:
        return max(y for _, y in points), 0.0
    return fit_line(points, proportional=False)


def schedule(durations, threads, needs, cores):
    """Wall time of a DAG of jobs on ``cores`` cores: list scheduling, a free job with the
    longest path to the end first, each job holding its threads' cores for its duration.
    ``needs[i]`` are the jobs that must end before job i starts."""
    n = len(durations)
    if cores < 1:
        raise InvalidInput(f"schedule: {cores} cores")
    needs = [sorted(set(before)) for before in needs]  # a job reading two files of one job waits for it once
    users = defaultdict(list)
    for index, before in enumerate(needs):
        for other in before:
            users[other].append(index)
    tail = [0.0] * n
    for index in reversed(list(graphlib.TopologicalSorter(dict(enumerate(needs))).static_order())):
        tail[index] = durations[index] + max((tail[user] for user in users[index]), default=0.0)
    waiting = [len(before) for before in needs]
    ready = [(-tail[i], i) for i in range(n) if not waiting[i]]
    heapq.heapify(ready)
    running, free, now, ended = [], cores, 0.0, 0
    while ended < n:
        while ready and min(threads[ready[0][1]], cores) <= free:
            _, index = heapq.heappop(ready)
            free -= min(threads[index], cores)
            heapq.heappush(running, (now + durations[index], index))
        now, index = heapq.heappop(running)
        free += min(threads[index], cores)
        ended += 1
        for user in users[index]:
            waiting[user] -= 1
            if not waiting[user]:
                heapq.heappush(ready, (-tail[user], user))
    return now


def plan(runs, target_files, target_jobs, cores):
    """The target config's jobs (a dry run with the cluster's workflow profile, whose resources
    each job carries) costed from the measured runs, per rule: jobs, CPU hours, the longest job
    and the largest peak memory, against the mem_mb and runtime the job asks for;
    then the run's CPU hours and its wall time on ``cores`` cores. CPU hours are Snakemake's
    samples of the jobs' CPU time (each second for 30 s, then every 30 s: a long job's last
    seconds can be missed); core hours, each job's wall time times its threads, are what a
    cluster accounts."""
    points = measured_points(runs)
    config = load_configs(target_files)
    lines = {kind: {name: _fit(kind, name, values) for name, values in measures.items()} for kind, measures in points.items()}
    producer = {path: index for index, job in enumerate(target_jobs) for path in job["output"]}
    predicted, missing = [], set()
    for job, events in zip(target_jobs, job_events(target_jobs, config)):
        kind = job_kind(job, config)
        if job["benchmark"] is None:
            predicted.append({name: 0.0 for name in MEASURES})
            continue
        if kind not in lines:
            missing.add(kind)
            predicted.append({name: 0.0 for name in MEASURES})
            continue
        # a measure no job of the kind ever had a sample of (memory of sub-second jobs) counts as
        # 0; a line with a negative intercept is 0 below its crossing; the CPU time, sampled,
        # is at most the wall time on the job's threads
        cost = {name: max(0.0, intercept + slope * events) for name, (intercept, slope) in lines[kind].items()}
        cost = {name: cost.get(name, 0.0) for name in MEASURES}
        cost["cpu_s"] = min(cost["cpu_s"], cost["wall_s"] * job["threads"])
        predicted.append(cost)
    if missing:
        raise InvalidInput(f"no measured job of the kinds {sorted(missing)}: run a config that has them")
    rules = {}
    for job, cost in zip(target_jobs, predicted):
        if job["benchmark"] is None:
            continue
        entry = rules.setdefault(job["rule"], {"jobs": 0, "cpu_h": 0.0, "core_h": 0.0, "max_job_wall_min": 0.0, "peak_rss_mb": 0.0, "threads": job["threads"], "asked_mem_mb": math.inf, "asked_runtime_min": math.inf})
        entry["jobs"] += 1
        entry["cpu_h"] += cost["cpu_s"] / 3600
        entry["core_h"] += cost["wall_s"] * job["threads"] / 3600
        entry["max_job_wall_min"] = max(entry["max_job_wall_min"], cost["wall_s"] / 60)
        entry["peak_rss_mb"] = max(entry["peak_rss_mb"], cost["rss_mb"])
        entry["asked_mem_mb"] = min(entry["asked_mem_mb"], float(job["resources"].get("mem_mb", 0)))
        entry["asked_runtime_min"] = min(entry["asked_runtime_min"], float(job["resources"].get("runtime", 0)))
    for entry in rules.values():
        # the memory asked covers the peak with a fifth to spare, the runtime the longest job
        # (its wall time measured with another job beside it on 2 cores)
        entry["profile_ok"] = bool(entry["asked_mem_mb"] >= 1.2 * entry["peak_rss_mb"] and entry["asked_runtime_min"] >= entry["max_job_wall_min"])
        entry["cpu_h"] = round(entry["cpu_h"], 3)
        entry["core_h"] = round(entry["core_h"], 3)
        entry["max_job_wall_min"] = round(entry["max_job_wall_min"], 2)
        entry["peak_rss_mb"] = round(entry["peak_rss_mb"])
    needs = [[producer[path] for path in job["input"] if path in producer] for job in target_jobs]
    wall_s = schedule([cost["wall_s"] for cost in predicted], [job["threads"] for job in target_jobs], needs, cores)
    return {
        "target": list(target_files),
        "runs": [{"workdir": str(workdir), "config": list(files), "jobs_measured": sum(1 for job in jobs if job["benchmark"] and (Path(workdir) / job["benchmark"]).exists())} for workdir, files, jobs in runs],
        "cores": cores,
        "jobs": sum(entry["jobs"] for entry in rules.values()),
        "cpu_h": round(sum(entry["cpu_h"] for entry in rules.values()), 2),
        "core_h": round(sum(entry["core_h"] for entry in rules.values()), 2),
        "wall_h": round(wall_s / 3600, 4),
        "critical_path_h": round(schedule([cost["wall_s"] for cost in predicted], [1] * len(target_jobs), needs, len(target_jobs)) / 3600, 4),
        "rules": rules,
        "all_profile_ok": all(entry["profile_ok"] for entry in rules.values()),
    }
