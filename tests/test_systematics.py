"""Jet energy scale and resolution variations: the factors by hand, per jet of each event."""

import awkward as ak
import numpy as np
import pytest

from mlhep import seeds
from mlhep.process.systematics import VARIATIONS, scale_factors, vary_jets

COUNTS = np.array([2, 0, 3, 1])
EVENTS = np.array([10, 11, 12, 2**62 + 3], dtype=np.uint64)  # event numbers use all 64 bits


def test_scale_factors_by_hand():
    assert VARIATIONS == ("nominal", "jes_up", "jes_down", "jer")
    np.testing.assert_array_equal(scale_factors(COUNTS, EVENTS, "nominal", 0.02, 0.1, 1), np.ones(6))
    np.testing.assert_array_equal(scale_factors(COUNTS, EVENTS, "jes_up", 0.02, 0.1, 1), np.full(6, 1.02))
    np.testing.assert_array_equal(scale_factors(COUNTS, EVENTS, "jes_down", 0.02, 0.1, 1), np.full(6, 0.98))
    # JER: 1 + jer_extra * a normal number of the "jer" stream by (event number, jet index in the event)
    event = np.array([10, 10, 12, 12, 12, 2**62 + 3], dtype=np.uint64)
    index = np.array([0, 1, 0, 1, 2, 0], dtype=np.uint64)
    expected = 1.0 + 0.1 * seeds.normal("jer", 7, event, index)
    np.testing.assert_array_equal(scale_factors(COUNTS, EVENTS, "jer", 0.02, 0.1, 7), expected)
    # the same jet gets the same factor in any chunk: the third event alone
    np.testing.assert_array_equal(scale_factors([3], EVENTS[2:3], "jer", 0.02, 0.1, 7), expected[2:5])
    assert not np.array_equal(scale_factors(COUNTS, EVENTS, "jer", 0.02, 0.1, 8), expected)
    # a factor never goes negative, however wide the smearing
    wide = scale_factors(np.full(1000, 1), np.arange(1000, dtype=np.uint64), "jer", 0.02, 2.0, 7)
    assert wide.min() == 0.0 and np.mean(wide == 0.0) == pytest.approx(0.31, abs=0.05)  # P(z < -1/2)
    np.testing.assert_array_equal(scale_factors(np.zeros(3, int), EVENTS[:3], "jer", 0.02, 0.1, 7), np.ones(0))
    with pytest.raises(ValueError, match=r"unknown variation 'jes' \(known: nominal, jes_up, jes_down, jer\)"):
        scale_factors(COUNTS, EVENTS, "jes", 0.02, 0.1, 1)


def test_vary_jets_scales_momentum_and_masses_only():
    jets = ak.unflatten(ak.zip({"pt": np.arange(1.0, 7.0), "eta": np.linspace(-1, 1, 6), "mass": np.full(6, 10.0), "msoftdrop": np.array([8.0, -1.0, 5.0, 4.0, 3.0, 2.0])}), COUNTS)
    assert vary_jets(jets, EVENTS, "nominal", 0.02, 0.1, 1) is jets
    up = vary_jets(jets, EVENTS, "jes_up", 0.05, 0.1, 1)
    for field in ("pt", "mass", "msoftdrop"):  # lists: an option type (None) would not compare as numbers
        assert ak.to_list(ak.flatten(up[field])) == pytest.approx([1.05 * v for v in ak.to_list(ak.flatten(jets[field]))])
    assert ak.to_list(up.eta) == ak.to_list(jets.eta)
    assert ak.num(up).tolist() == COUNTS.tolist()
    smeared = vary_jets(jets, EVENTS, "jer", 0.05, 0.1, 3)
    factor = scale_factors(COUNTS, EVENTS, "jer", 0.05, 0.1, 3)
    assert ak.to_list(ak.flatten(smeared.pt)) == pytest.approx((factor * np.arange(1.0, 7.0)).tolist())
    no_groomed = vary_jets(jets[["pt", "eta", "mass"]], EVENTS, "jes_down", 0.05, 0.1, 1)
    assert no_groomed.fields == ["pt", "eta", "mass"]
    assert ak.to_list(ak.flatten(no_groomed.mass)) == pytest.approx([9.5] * 6)
