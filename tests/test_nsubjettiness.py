"""The numba N-subjettiness against fastjet's njettiness (fastjet-contrib Nsubjettiness) and hand-made jets."""

import awkward as ak
import fastjet
import numpy as np
import pytest
import vector

from mlhep.errors import InvalidInput
from mlhep.generate.nsubjettiness import nsubjettiness

vector.register_awkward()

RADIUS = 0.8
AXES = ["KT_Axes", "OnePass_KT_Axes"]


def _massless(pt, eta, phi):
    pt, eta, phi = (np.asarray(x, dtype=np.float64) for x in (pt, eta, phi))
    return pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta), pt * np.cosh(eta)


def _flat(jets):
    """jets x particles Momentum4D -> px, py, pz, E arrays and offsets."""
    flat = ak.flatten(jets)
    offsets = np.concatenate([[0], np.cumsum(ak.to_numpy(ak.num(jets)))]).astype(np.int64)
    return [ak.to_numpy(flat[f]).astype(np.float64) for f in ("px", "py", "pz", "E")], offsets


def _fastjet_taus(jets, axes):
    sequence = fastjet.ClusterSequence(jets, fastjet.JetDefinition(fastjet.cambridge_algorithm, 10.0))
    taus = sequence.njettiness(njets=[1, 2, 3, 4], R0=RADIUS, beta=1.0, axes_definition=axes)
    return ak.to_numpy(taus).astype(np.float64)


def _jets(*particle_lists):
    """Momentum4D jets x particles from (px, py, pz, E) tuples of arrays."""
    records = [[{"px": a, "py": b, "pz": c, "E": d} for a, b, c, d in zip(*p)] for p in particle_lists]
    return ak.Array(records, with_name="Momentum4D")


@pytest.mark.parametrize("axes", AXES)
def test_matches_fastjet(qcd_jets, axes):
    reference = _fastjet_taus(qcd_jets, axes)
    arrays, offsets = _flat(qcd_jets)
    ours = nsubjettiness(*arrays, offsets, RADIUS, axes=axes)
    assert ours.shape == (len(qcd_jets), 4) and ours.dtype == np.float64
    # same operations in the same order as the contrib: in practice bit for bit
    np.testing.assert_allclose(ours, reference, rtol=1e-6, atol=1e-12)
    assert np.all(reference > 0)
    for num, den in ((1, 0), (2, 1)):  # tau21 and tau32, jet by jet
        np.testing.assert_allclose(ours[:, num] / ours[:, den], reference[:, num] / reference[:, den], rtol=1e-6)


def test_one_pass_lowers_tau(qcd_jets):
    arrays, offsets = _flat(qcd_jets)
    kt = nsubjettiness(*arrays, offsets, RADIUS, axes="KT_Axes")
    one_pass = nsubjettiness(*arrays, offsets, RADIUS, axes="OnePass_KT_Axes")
    # the minimization is not guaranteed to lower tau_N, but it does on (nearly) every jet
    assert np.mean(one_pass < kt) > 0.95


def test_n_max_and_radius(qcd_jets):
    arrays, offsets = _flat(qcd_jets)
    four = nsubjettiness(*arrays, offsets, RADIUS)
    np.testing.assert_array_equal(nsubjettiness(*arrays, offsets, RADIUS, n_max=2), four[:, :2])
    # R0 only normalises
    np.testing.assert_allclose(nsubjettiness(*arrays, offsets, 2 * RADIUS), four / 2, rtol=1e-12)


def test_two_particles():
    px, py, pz, e = _massless([100.0, 30.0], [0.0, 0.3], [1.0, 1.2])
    offsets = np.array([0, 2])
    kt = nsubjettiness(px, py, pz, e, offsets, RADIUS, axes="KT_Axes")
    # the one kT axis is the E-scheme sum; distances in rapidity (not pseudo-rapidity) and azimuth
    axis = np.array([px.sum(), py.sum(), pz.sum(), e.sum()])
    axis_rap = 0.5 * np.log((axis[3] + axis[2]) / (axis[3] - axis[2]))
    axis_phi = np.arctan2(axis[1], axis[0])
    pt = np.hypot(px, py)
    dr = np.hypot(0.5 * np.log((e + pz) / (e - pz)) - axis_rap, np.arctan2(py, px) - axis_phi)
    tau1 = np.sum(pt * dr) / (np.sum(pt) * RADIUS)
    np.testing.assert_allclose(kt, [[tau1, 0.0, 0.0, 0.0]], rtol=1e-12, atol=0)
    # one pass of minimization moves the axis towards the harder particle: a smaller tau1
    one_pass = nsubjettiness(px, py, pz, e, offsets, RADIUS)
    assert 0 < one_pass[0, 0] < tau1 and np.all(one_pass[0, 1:] == 0)
    jets = _jets((px, py, pz, e))
    for axes, ours in (("KT_Axes", kt), ("OnePass_KT_Axes", one_pass)):
        np.testing.assert_allclose(ours, _fastjet_taus(jets, axes), rtol=1e-12, atol=0)


@pytest.mark.parametrize("axes", AXES)
def test_few_constituents_match_fastjet(axes):
    """1 to 5 particles (fewer constituents than N gives tau_N = 0), one jet across phi = 0."""
    particle_lists = [
        _massless([100.0], [0.1], [1.0]),
        _massless([100.0, 30.0], [0.0, 0.3], [1.0, 1.2]),
        _massless([100.0, 30.0, 10.0], [0.0, 0.3, -0.2], [1.0, 1.2, 0.8]),
        _massless([100.0, 30.0, 10.0, 5.0], [0.0, 0.3, -0.2, 0.1], [1.0, 1.2, 0.8, 0.5]),
        _massless([50.0, 40.0, 10.0, 5.0, 3.0], [0.0, 0.3, -0.2, 0.1, 0.4], [6.2, 0.1, 6.0, 0.2, 0.05]),
    ]
    jets = _jets(*particle_lists)
    arrays, offsets = _flat(jets)
    ours = nsubjettiness(*arrays, offsets, RADIUS, axes=axes)
    np.testing.assert_allclose(ours, _fastjet_taus(jets, axes), rtol=1e-12, atol=0)
    n = np.diff(offsets)
    assert np.all(ours[np.arange(4)[None, :] + 1 >= n[:, None]] == 0)  # tau_N = 0 when N >= n
    assert np.all(ours[np.arange(4)[None, :] + 1 < n[:, None]] > 0)


def test_single_constituent_and_empty():
    mass = 0.13957
    px, py, pz = np.array([3.0]), np.array([4.0]), np.array([12.0])
    e = np.sqrt(px**2 + py**2 + pz**2 + mass**2)
    for axes in AXES:
        out = nsubjettiness(px, py, pz, e, np.array([0, 1]), RADIUS, axes=axes)
        np.testing.assert_array_equal(out, np.zeros((1, 4)))
        np.testing.assert_array_equal(out, _fastjet_taus(_jets((px, py, pz, e)), axes))
    # a jet without constituents between two others, and no jets at all
    p2 = _massless([100.0, 30.0], [0.0, 0.3], [1.0, 1.2])
    both = [np.concatenate([a, a]) for a in p2]
    out = nsubjettiness(*both, np.array([0, 2, 2, 4]), RADIUS, n_max=2)
    assert out.shape == (3, 2) and np.all(out[1] == 0) and out[0, 0] > 0
    np.testing.assert_array_equal(out[0], out[2])
    none = nsubjettiness(np.empty(0), np.empty(0), np.empty(0), np.empty(0), np.array([0]), RADIUS)
    assert none.shape == (0, 4) and none.dtype == np.float64


def test_bad_arguments():
    p = [np.ones(2)] * 4
    with pytest.raises(ValueError, match="axes"):
        nsubjettiness(*p, np.array([0, 2]), RADIUS, axes="WTA_KT_Axes")
    with pytest.raises(InvalidInput, match="offsets"):
        nsubjettiness(*p, np.array([0, 3]), RADIUS)
    with pytest.raises(ValueError, match="n_max"):
        nsubjettiness(*p, np.array([0, 2]), RADIUS, n_max=0)
