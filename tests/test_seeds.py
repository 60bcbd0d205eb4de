"""Named random streams: reproducible, uniform and normal as stated, and independent of each other,
so that the test split says nothing about a jet's resolution smearing."""

import hashlib
import itertools
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from mlhep import seeds
from mlhep.columns import split
from mlhep.generate.pythia import shard_seed
from mlhep.process.systematics import scale_factors

EVENTS = np.arange(1, 200_001, dtype=np.uint64)


def test_counter_based_draws_are_reproducible_and_distributed_as_stated():
    u = seeds.uniform("split", 5, EVENTS)
    np.testing.assert_array_equal(u, seeds.uniform("split", 5, EVENTS))
    assert 0 < u.min() and u.max() < 1
    assert stats.kstest(u, "uniform").pvalue > 1e-3
    z = seeds.normal("jer", 5, EVENTS, np.zeros_like(EVENTS))
    assert stats.kstest(z, "norm").pvalue > 1e-3
    assert not np.array_equal(z, seeds.normal("jer", 6, EVENTS, np.zeros_like(EVENTS)))  # another seed
    assert not np.array_equal(z, seeds.normal("jer", 5, EVENTS, np.ones_like(EVENTS)))  # another jet
    # one element at a time gives the same numbers as the whole array: nothing depends on chunking
    assert seeds.normal("jer", 5, EVENTS[123], 0) == z[123]
    with pytest.raises(ValueError, match="unknown random stream 'splitt'"):
        seeds.uniform("splitt", 5, EVENTS)


@pytest.mark.parametrize(("first", "second"), list(itertools.combinations(["split", "jer", "bootstrap", "toys"], 2)))
def test_two_streams_with_the_same_seed_are_uncorrelated(first, second):
    a, b = seeds.uniform(first, 7, EVENTS), seeds.uniform(second, 7, EVENTS)
    # Pearson and Spearman correlations within 5 standard errors (1/sqrt(n)) of zero
    assert abs(np.corrcoef(a, b)[0, 1]) < 5 / np.sqrt(len(EVENTS))
    assert abs(stats.spearmanr(a, b).statistic) < 5 / np.sqrt(len(EVENTS))
    x, y = seeds.generator(first, 7).random(100_000), seeds.generator(second, 7).random(100_000)
    assert abs(np.corrcoef(x, y)[0, 1]) < 5 / np.sqrt(len(x))


def test_jer_smearing_of_the_test_split_is_unbiased():
    """The defect: the split and the JER shared one random number, so every leading jet of the
    test split (the top 20 % of it) was smeared upwards (mean factor 1.070 on 200k events)."""
    jer_extra = 0.05
    test = split(EVENTS, seed=20261124)[2]
    factors = scale_factors(np.full(len(EVENTS), 2), EVENTS, "jer", 0.02, jer_extra, seed=20261124).reshape(-1, 2)
    assert test.mean() == pytest.approx(0.2, abs=0.005)
    for jet in (0, 1):
        on_test = factors[test, jet]
        assert on_test.mean() == pytest.approx(1.0, abs=5 * jer_extra / np.sqrt(len(on_test)))
        assert on_test.std() == pytest.approx(jer_extra, rel=0.03)
        # and the split's draw says nothing about the smearing
        assert abs(stats.spearmanr(seeds.uniform("split", 20261124, EVENTS), factors[:, jet]).statistic) < 5 / np.sqrt(len(EVENTS))


def test_generation_seeds_are_those_of_earlier_releases():
    """Pythia's seeds keep their derivation, so generated samples stay bit for bit the same."""
    for sample, shard in (("qcd_dijet", 0), ("zjets_alt", 3)):
        digest = hashlib.sha256(f"20261124/{sample}/{shard}".encode()).digest()
        assert shard_seed(20261124, sample, shard) == 1 + int.from_bytes(digest[:8], "little") % 900_000_000


_PROCESS = """
import sys
from mlhep.process import make_executor
from mlhep.process.stage import process_sample
path, out = sys.argv[1], sys.argv[2]
outputs = {{kind: f"{{out}}.{{kind}}" for kind in ("columns", "hists", "cutflow")}}
process_sample("zjets", [path], "zjets", {{}}, 1, make_executor("futures", 2, status=False), 50, False, outputs)
"""


def test_processed_columns_do_not_depend_on_the_hash_seed(generated, tmp_path):
    """The defect: coffea's branch parameters (a dict per column) were merged across chunks in an
    order set by Python's hash seed, so two identical runs wrote different parquet bytes."""
    columns = []
    for hash_seed in ("1", "2"):
        out = tmp_path / f"hash{hash_seed}"
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        subprocess.run([sys.executable, "-c", _PROCESS.format(), str(generated["zjets_nominal"]), str(out)], env=env, check=True, capture_output=True)
        columns.append(Path(f"{out}.columns").read_bytes())
    assert columns[0] == columns[1]


_MASK = 2**64 - 1


def _splitmix64(x):
    """SplitMix64 (Steele, Lea, Flood, OOPSLA 2014; Vigna's splitmix64.c) in Python integers."""
    x = (x + 0x9E3779B97F4A7C15) & _MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
    return x ^ (x >> 31)


def test_streams_are_the_documented_derivation_bit_for_bit():
    """Every draw against a re-implementation in plain Python integers: sha256 of 'seed/#name/keys'
    for integer and generator, SplitMix64 chained over the counters for uniform (53 bits, centred
    in their interval) and its probit for normal. A changed derivation changes every sample."""
    from scipy.stats import norm

    assert _splitmix64(0) == 0xE220A8397B1DCDAF  # the first output of splitmix64.c from state 0
    digest = hashlib.sha256(b"42/#toys/3/a").digest()
    assert seeds.integer("toys", 42, 3, "a") == int.from_bytes(digest[:8], "little")
    reference = np.random.Generator(np.random.PCG64(np.random.SeedSequence(int.from_bytes(digest[:16], "little"))))
    np.testing.assert_array_equal(seeds.generator("toys", 42, 3, "a").random(5), reference.random(5))
    assert seeds.integer("generate", 42, "qcd_dijet", 0) == int.from_bytes(hashlib.sha256(b"42/qcd_dijet/0").digest()[:8], "little")
    events, jets = np.array([0, 1, 7, 2**63 + 5], dtype=np.uint64), np.array([0, 3, 1, 2], dtype=np.uint64)
    start = seeds.integer("jer", 11)
    for event, jet, u, z in zip(events, jets, seeds.uniform("jer", 11, events, jets), seeds.normal("jer", 11, events, jets)):
        bits = _splitmix64(_splitmix64(start ^ int(event)) ^ int(jet))
        assert u == ((bits >> 11) + 0.5) / 2**53
        assert z == pytest.approx(norm.ppf(u), rel=1e-12, abs=1e-12)
    assert seeds.uniform("split", 5) == ((seeds.integer("split", 5) >> 11) + 0.5) / 2**53  # no counter: the stream's integer
    with pytest.raises(ValueError, match=r"unknown random stream 'splitt' \(known: generate, split, jer, bootstrap, "):
        seeds.integer("splitt", 5)
