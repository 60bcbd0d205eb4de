"""The generate stage: one shard of a sample, from Pythia8 through the parametric detector to a
NanoAOD-like ROOT file."""

import logging
import time

import numpy as np

from mlhep.generate.detector import Detector
from mlhep.generate.nanoaod import write_nanoaod
from mlhep.generate.pythia import make_pythia, shard_seed
from mlhep.generate.sample import EVENT_NUMBER_STRIDE, generate_events

__all__ = ["generate_shard"]

log = logging.getLogger(__name__)

_PB_PER_MB = 1e9


def generate_shard(spec, shard, path, progress=True):
    """Generate ``spec.events_per_shard`` events passing the sample filter and write them to ``path``.

    Returns a dict of generation statistics: events kept, generated up to the last kept one
    and generated in all (``pythia_events``, batches overshoot a little), the filtered cross
    section, Pythia's initialization time and the time of the event loop and writing.
    """
    start = time.perf_counter()
    seed = shard_seed(spec.global_seed, spec.name, shard)
    pythia = make_pythia(spec.settings, seed)
    detector = Detector.from_config(spec.detector)
    rng = np.random.default_rng(seed)  # the detector's numbers: the "generate" stream of the shard, as Pythia's
    init_seconds = time.perf_counter() - start
    start = time.perf_counter()
    events, pythia_events = generate_events(pythia, spec, detector, rng, shard, progress)
    # events beyond the last kept one were generated but are not part of the shard
    n_generated = int(events["event"][-1] - shard * EVENT_NUMBER_STRIDE)
    n_events = len(events["event"])
    events["run"] = np.ones(n_events, np.uint32)
    events["luminosityBlock"] = np.full(n_events, shard + 1, np.uint32)
    weights = events["genWeight"].astype(np.float64)
    cross_section_pb = pythia.infoPython().sigmaGen() * _PB_PER_MB * n_events / n_generated
    runs = {
        "run": np.array([1], np.uint32),
        "genEventCount": np.array([n_events], np.int64),
        "genEventSumw": np.array([weights.sum()]),
        "genEventSumw2": np.array([(weights**2).sum()]),
        "nGeneratedEvents": np.array([n_generated], np.int64),
        "crossSection_pb": np.array([cross_section_pb]),
        "seed": np.array([seed], np.int64),
    }
    write_nanoaod(path, events, runs)
    log.info("%s shard %d (seed %d): %d events kept of %d generated, cross section %.4g pb, %.1f s; settings %s", spec.name, shard, seed, n_events, n_generated, cross_section_pb, time.perf_counter() - start, list(spec.settings))
    return {
        "sample": spec.name,
        "shard": shard,
        "seed": seed,
        "events": n_events,
        "generated": n_generated,
        "pythia_events": pythia_events,
        "filter_efficiency": n_events / n_generated,
        "cross_section_pb": cross_section_pb,
        "init_seconds": init_seconds,
        "seconds": time.perf_counter() - start,
    }
