"""The numba soft-drop groomer against fastjet contrib's SoftDrop and hand-made jets."""

import awkward as ak
import fastjet
import numpy as np
import pytest
import vector

from mlhep.generate.softdrop import softdrop

vector.register_awkward()

RADIUS = 0.8
ZCUT = 0.1


def _massless(pt, eta, phi):
    pt, eta, phi = (np.asarray(x, dtype=np.float64) for x in (pt, eta, phi))
    return pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta), pt * np.cosh(eta)


@pytest.mark.parametrize("beta", [0.0, 1.0])
def test_matches_fastjet(qcd_jets, beta):
    reference = fastjet.ClusterSequence(
        qcd_jets, fastjet.JetDefinition(fastjet.cambridge_algorithm, 10.0)
    ).exclusive_jets_softdrop_grooming(njets=1, beta=beta, symmetry_cut=ZCUT, R0=RADIUS)
    flat = ak.flatten(qcd_jets)
    counts = ak.to_numpy(ak.num(qcd_jets))
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    ours = softdrop(*(ak.to_numpy(flat[f]).astype(np.float64) for f in ("px", "py", "pz", "E")), offsets, RADIUS, ZCUT, beta)

    for name, field in (
        ("msoftdrop", "msoftdrop"),
        ("ptsoftdrop", "ptsoftdrop"),
        ("softdropZg", "symmetrysoftdrop"),
        ("softdropRg", "deltaRsoftdrop"),
    ):
        expected = ak.to_numpy(reference[field]).astype(np.float64)
        # fastjet reports -1 for zg and rg when grooming reached a single particle; we report 0
        expected = np.where(expected == -1.0, 0.0, expected)
        assert ours[name].shape == (len(qcd_jets),)
        np.testing.assert_allclose(ours[name], expected, rtol=1e-6, atol=1e-6, err_msg=name)
    passed = ours["softdropZg"] > 0
    assert passed.any()
    assert np.all(ours["softdropZg"][passed] > ZCUT * (ours["softdropRg"][passed] / RADIUS) ** beta)


def test_soft_branch_groomed_away():
    # hard (pT 100) and a close companion (pT 20, dphi 0.1), plus a soft particle (pT 5) far away
    px, py, pz, e = _massless([100.0, 20.0, 5.0], [0.0, 0.0, 0.5], [1.0, 1.1, 1.4])
    out = softdrop(px, py, pz, e, np.array([0, 3]), RADIUS, ZCUT, 0.0)
    pair_mass = np.sqrt(max((e[0] + e[1]) ** 2 - (px[0] + px[1]) ** 2 - (py[0] + py[1]) ** 2 - (pz[0] + pz[1]) ** 2, 0.0))
    np.testing.assert_allclose(out["msoftdrop"], [pair_mass], rtol=1e-9)
    np.testing.assert_allclose(out["msoftdrop"], [np.sqrt(2 * 100 * 20 * (1 - np.cos(0.1)))], rtol=1e-9)
    np.testing.assert_allclose(out["ptsoftdrop"], [np.hypot(px[0] + px[1], py[0] + py[1])], rtol=1e-12)
    np.testing.assert_allclose(out["softdropZg"], [20.0 / 120.0], rtol=1e-12)
    np.testing.assert_allclose(out["softdropRg"], [0.1], rtol=1e-9)
    # without the soft particle nothing changes; without the companion the soft one alone fails
    alone = softdrop(px[[0, 2]], py[[0, 2]], pz[[0, 2]], e[[0, 2]], np.array([0, 2]), RADIUS, ZCUT, 0.0)
    assert alone["msoftdrop"][0] == pytest.approx(0.0, abs=1e-6)
    assert alone["softdropZg"][0] == 0.0 and alone["softdropRg"][0] == 0.0
    np.testing.assert_allclose(alone["ptsoftdrop"], [100.0], rtol=1e-12)


def test_single_constituent_and_empty():
    mass = 0.13957
    px, py, pz = np.array([3.0]), np.array([4.0]), np.array([12.0])
    e = np.sqrt(px**2 + py**2 + pz**2 + mass**2)
    out = softdrop(px, py, pz, e, np.array([0, 1]), RADIUS)
    np.testing.assert_allclose(out["msoftdrop"], [mass], rtol=1e-9)
    np.testing.assert_allclose(out["ptsoftdrop"], [5.0], rtol=1e-12)
    assert out["softdropZg"][0] == 0.0 and out["softdropRg"][0] == 0.0

    none = softdrop(np.empty(0), np.empty(0), np.empty(0), np.empty(0), np.array([0]), RADIUS)
    assert all(v.shape == (0,) and v.dtype == np.float64 for v in none.values())
