"""Generation speed against the bare Pythia8 ``next()`` loop with the same settings."""

import platform
import tempfile
import time
from pathlib import Path

import awkward as ak

from mlhep.generate import SampleSpec
from mlhep.generate.jets import substructure
from mlhep.generate.pythia import make_pythia, shard_seed
from mlhep.generate.stage import generate_shard

__all__ = ["bench_generate"]


def bare_pythia_rate(spec, n_events):
    """Events per second of ``pythia.next()`` alone, initialization excluded."""
    pythia = make_pythia(spec.settings, shard_seed(spec.global_seed, spec.name, 0))
    start = time.perf_counter()
    for _ in range(n_events):
        pythia.next()
    return n_events / (time.perf_counter() - start)


def _load_kernels():
    """Load the compiled numba kernels once, as every generation job does before its first batch."""
    jet = ak.Array([[{"px": 1.0, "py": 0.0, "pz": 0.0, "E": 1.0}, {"px": 0.0, "py": 1.0, "pz": 0.0, "E": 1.0}]], with_name="Momentum4D")
    substructure(jet, 0.8)


def bench_generate(config, events_per_sample):
    """Events per second per core of the full generator (Pythia, detector, jets, substructure,
    writing) and of bare Pythia, per sample, in one process on one core.

    Rates count generated events (before the sample filter), the unit the bare loop runs in.
    The one-time loading of the numba kernels (well under a second per job) is left out.
    """
    _load_kernels()
    samples = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in config["samples"]:
            spec = SampleSpec.from_config(config, name)
            stats = generate_shard(spec, 0, Path(tmp) / f"{name}.root", progress=False)
            full_rate = stats["pythia_events"] / stats["seconds"]
            bare_rate = bare_pythia_rate(spec, stats["pythia_events"])
            samples[name] = {
                "events_per_s": full_rate,
                "bare_pythia_events_per_s": bare_rate,
                "ratio": full_rate / bare_rate,
                "generated_events": stats["pythia_events"],
                "kept_events": stats["events"],
                "filter_efficiency": stats["filter_efficiency"],
            }
    return {
        "samples": samples,
        "min_ratio": min(s["ratio"] for s in samples.values()),
        "events_per_sample": events_per_sample,
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "python": platform.python_version(),
    }
