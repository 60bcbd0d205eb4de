"""Named, independent random streams: every random number of mlhep comes from one of them.

A stream is a name and the run's seed. Two names never share numbers, so the draw that puts an
event in the test split says nothing about how its jets are smeared. Per-object numbers
(``uniform``, ``normal``) are counter-based: a pure function of (name, seed, counters) such as
(event number, jet index), so they do not depend on chunking, executors or the order of
events. Sequential draws (bootstrap replicas, toys, fold assignments) use a numpy Generator
made for one (name, seed, keys); integer seeds for other engines (Pythia, torch) come from
``integer``.

    >>> from mlhep import seeds
    >>> u = seeds.uniform("split", 42, [1, 2, 3])        # one uniform number per event
    >>> rng = seeds.generator("bootstrap", 42)           # a numpy Generator
"""

import hashlib

import numpy as np
from scipy.special import ndtri

__all__ = ["STREAMS", "generator", "integer", "normal", "uniform"]

STREAMS = {
    "generate": "Pythia8 and the detector of one shard (keys: sample, shard)",
    "split": "the train / validation / test part of an event (counter: event number)",
    "jer": "the jet energy resolution smearing (counters: event number, jet index)",
    "bootstrap": "Poisson(1) weights of bootstrap replicas",
    "reference": "the bump hunt's background split into data and the idealized reference",
    "injection": "the order in which signal events are injected, and the k-fold assignment",
    "toys": "pseudo-experiments and the events they draw",
    "training": "initial network weights and the order of the batches (keys: what is trained)",
    "holdout": "the validation part that a method holds out of its own training data",
    "sampling": "draws from a fitted density (a flow, a kernel density estimate)",
}

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def _digest(name, seed, keys):
    if name not in STREAMS:
        raise ValueError(f"unknown random stream '{name}' (known: {', '.join(STREAMS)})")
    # generation seeds predate the named streams and are keyed by the sample name itself; the
    # others by '#name', which no sample name can be (letters, digits and '_' only)
    parts = [str(int(seed)), *([] if name == "generate" else [f"#{name}"]), *map(str, keys)]
    return hashlib.sha256("/".join(parts).encode()).digest()


def integer(name, seed, *keys):
    """A 64-bit unsigned integer of the stream (name, seed, keys): a seed for another engine."""
    return int.from_bytes(_digest(name, seed, keys)[:8], "little")


def generator(name, seed, *keys):
    """A numpy Generator (PCG64) of the stream (name, seed, keys)."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(int.from_bytes(_digest(name, seed, keys)[:16], "little"))))


def _splitmix64(x):
    x = x + _GOLDEN
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def _bits(name, seed, counters):
    state = np.uint64(integer(name, seed))
    with np.errstate(over="ignore"):
        for counter in counters:
            state = _splitmix64(state ^ np.asarray(counter).astype(np.uint64))
    return np.asarray(state, dtype=np.uint64)


def uniform(name, seed, *counters):
    """Uniform numbers in (0, 1), one per element of the broadcast ``counters`` (integer arrays,
    for example event numbers and jet indices): the same counters give the same numbers."""
    return ((_bits(name, seed, counters) >> np.uint64(11)).astype(np.float64) + 0.5) / 2.0**53


def normal(name, seed, *counters):
    """Standard normal numbers, one per element of the broadcast ``counters`` (see uniform)."""
    return ndtri(uniform(name, seed, *counters))
