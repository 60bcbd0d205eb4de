"""The run manifest: what produced the results (package versions, git commit, config and its
seeds) and the sha256 of every final output, so that two runs can be compared file by file and
a run's files on disk checked against what it wrote."""

import hashlib
import importlib.metadata
import json
import platform
import re
import subprocess
import sys
from pathlib import Path

import awkward as ak
import numpy as np
import uproot

from mlhep.io import file_sha256, json_sha256, write_json

__all__ = ["NOT_BIT_IDENTICAL", "compare_manifests", "config_seeds", "content_sha256", "output_hashes", "verify_manifest", "write_manifest"]

# outputs whose bytes differ between identical runs, by file suffix, with the reason; where a
# content_sha256 can leave the varying part out, that one must agree
NOT_BIT_IDENTICAL = {
    ".root": "uproot writes the time of writing (fDatime of the file, its directories and keys) and a random UUID into every ROOT file; content_sha256 hashes the stored objects instead",
    ".json": "results record wall-clock times (keys ending in _s or starting with seconds); content_sha256 hashes the JSON without them",
    ".html": "the report's metrics tables show a stage's metrics with its wall-clock times; they are compared through the JSON or CSV that they render",
}


# the empty file Snakemake leaves in every directory output: bookkeeping, not a result
SNAKEMAKE_MARKER = ".snakemake_timestamp"


def is_timing(key):
    """Whether a JSON key holds a wall-clock time (train_s, fit_s, seconds_per_iteration, seconds)."""
    return key.endswith("_s") or key.startswith("seconds")


def _without_timings(value):
    if isinstance(value, dict):
        return {key: _without_timings(item) for key, item in value.items() if not is_timing(key)}
    if isinstance(value, list):
        return [_without_timings(item) for item in value]
    return value


def content_sha256(path):
    """sha256 of what a file holds, leaving out what varies between identical runs (see
    NOT_BIT_IDENTICAL); None for a kind of file compared through another."""
    path = Path(path)
    if path.suffix == ".root":
        return _root_content_sha256(path)
    if path.suffix == ".json":
        return json_sha256(_without_timings(json.loads(path.read_text())))
    return None


def _root_content_sha256(path):
    """The objects of a ROOT file in key order: each TTree branch's values, each histogram's
    edges, values and variances; write times and UUIDs do not enter."""
    digest = hashlib.sha256()
    with uproot.open(path) as file:
        for key, classname in sorted(file.classnames(cycle=False).items()):
            if classname == "TDirectory":
                continue
            digest.update(f"{key}:{classname}".encode())
            item = file[key]
            if isinstance(item, uproot.TTree):
                for name in sorted(item.keys()):
                    form, length, buffers = ak.to_buffers(ak.to_packed(item[name].array(library="ak")))
                    digest.update(f"{name}:{form.to_json()}:{length}".encode())
                    for buffer_key in sorted(buffers):
                        digest.update(np.asarray(buffers[buffer_key]).tobytes())
                continue
            histogram = item.to_hist()
            for axis in histogram.axes:
                digest.update(np.asarray(axis.edges, dtype=np.float64).tobytes())
            digest.update(np.asarray(histogram.values(flow=True), dtype=np.float64).tobytes())
            variances = histogram.variances(flow=True)
            if variances is not None:
                digest.update(np.asarray(variances, dtype=np.float64).tobytes())
    return digest.hexdigest()


def output_hashes(paths):
    """{file: {"sha256", "bytes"[, "content_sha256"]}} for every file among ``paths``, directories
    walked recursively, sorted by name; content_sha256 for the kinds in NOT_BIT_IDENTICAL."""
    files = []
    for path in map(Path, paths):
        files.extend(sorted(p for p in path.rglob("*") if p.is_file() and p.name != SNAKEMAKE_MARKER) if path.is_dir() else [path])
    hashes = {}
    for path in sorted(files):
        record = {"sha256": file_sha256(path), "bytes": path.stat().st_size}
        if path.suffix in NOT_BIT_IDENTICAL:
            record["content_sha256"] = content_sha256(path)  # None: compared through its source
        hashes[str(path)] = record
    return hashes


def config_seeds(config, prefix=""):
    """Every ``seed``/``seeds`` value in the configuration, keyed by its dotted path."""
    seeds = {}
    items = config.items() if isinstance(config, dict) else enumerate(config) if isinstance(config, list) else []
    for key, value in items:
        path = f"{prefix}.{key}" if prefix else str(key)
        if key in ("seed", "seeds") and not isinstance(value, (dict, list)):
            seeds[path] = value
        else:
            seeds.update(config_seeds(value, path))
    return seeds


def package_versions():
    """Python, the platform, and the installed version of mlhep and of each of its requirements."""
    names = ["mlhep"] + [re.split(r"[\s;<>=!~\[]", requirement, maxsplit=1)[0] for requirement in importlib.metadata.requires("mlhep") or []]
    versions = {"python": sys.version.split()[0], "platform": platform.platform()}
    for name in dict.fromkeys(names):
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue  # an optional extra that is not installed
    return versions


def git_commit(directory="."):
    """{"commit", "dirty"} of the git checkout at ``directory``, or None outside one."""

    def git(*args):
        return subprocess.run(["git", *args], cwd=directory, capture_output=True, text=True, check=True).stdout.strip()

    try:
        return {"commit": git("rev-parse", "HEAD"), "dirty": bool(git("status", "--porcelain", "--untracked-files=no"))}
    except (OSError, subprocess.CalledProcessError):
        return None


def write_manifest(outputs, config, path, workdir="."):
    """Write the manifest of a run whose final outputs are ``outputs`` (files or directories)."""
    manifest = {
        "git": git_commit(workdir),
        "config_sha256": json_sha256(config),
        "seeds": config_seeds(config),
        "packages": package_versions(),
        "not_bit_identical": NOT_BIT_IDENTICAL,
        "outputs": output_hashes(outputs),
    }
    write_json(manifest, path)
    return manifest


def compare_manifests(first, second):
    """The outputs on which two manifests disagree: {file: reason}. A file of a kind listed in
    NOT_BIT_IDENTICAL must agree in content_sha256 (when it has one), any other in sha256."""
    differences = {}
    for name in sorted(set(first["outputs"]) | set(second["outputs"])):
        a, b = first["outputs"].get(name), second["outputs"].get(name)
        if a is None or b is None:
            differences[name] = "missing in the " + ("first" if a is None else "second") + " run"
        elif Path(name).suffix in NOT_BIT_IDENTICAL:
            if a["content_sha256"] != b["content_sha256"]:
                differences[name] = "content differs"
        elif a["sha256"] != b["sha256"]:
            differences[name] = "bytes differ"
    return differences


def verify_manifest(manifest):
    """The outputs of ``manifest`` that are missing on disk or changed since it was written:
    {file: "missing" or why it differs}, judged as ``compare_manifests`` does. Paths are those
    of the manifest, relative to the working directory of the run."""
    on_disk = output_hashes([name for name in manifest["outputs"] if Path(name).is_file()])
    differences = compare_manifests(manifest, {"outputs": on_disk})
    return {name: "missing" if name not in on_disk else reason for name, reason in differences.items()}


def main(argv=None):
    """``python -m mlhep.manifest FIRST SECOND``: list the outputs on which two runs differ;
    ``python -m mlhep.manifest --verify results/manifest.json``: list the outputs of a run that
    are missing on disk or changed since. Exit code 1 when any."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("manifests", type=Path, nargs="*", metavar="MANIFEST", help="results/manifest.json of the two runs")
    parser.add_argument("--verify", type=Path, metavar="MANIFEST", help="re-hash the outputs of this run on disk, from its working directory")
    args = parser.parse_args(argv)
    if args.verify:
        if args.manifests:
            parser.error("--verify takes one manifest and no other")
        manifest = json.loads(args.verify.read_text())
        differences = verify_manifest(manifest)
        for name, reason in differences.items():
            print(f"{name}: {reason}")
        print(f"{len(manifest['outputs'])} outputs, {len(differences)} missing or changed")
        return 1 if differences else 0
    if len(args.manifests) != 2:
        parser.error("give two manifests to compare, or --verify MANIFEST")
    first, second = (json.loads(path.read_text()) for path in args.manifests)
    if first["config_sha256"] != second["config_sha256"]:
        print("the two runs used different configurations")
    differences = compare_manifests(first, second)
    for name, reason in differences.items():
        print(f"{name}: {reason}")
    print(f"{len(first['outputs'])} outputs, {len(differences)} differ")
    return 1 if differences else 0


if __name__ == "__main__":
    raise SystemExit(main())
