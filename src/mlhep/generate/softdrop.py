"""Fast soft-drop grooming (arXiv:1402.2657) of many jets with a numba Cambridge/Aachen reclustering."""

import numba
import numpy as np

from mlhep.checks import check_jagged

__all__ = ["softdrop"]

_TWOPI = 2.0 * np.pi
_MAX_RAP = 1e5  # fastjet's rapidity for particles exactly along the beam (plus |pz|)


@numba.njit(cache=True)
def _rap_phi(px, py, pz, e):
    """Rapidity and azimuth in [0, 2pi) exactly as fastjet's PseudoJet computes them."""
    kt2 = px * px + py * py
    phi = 0.0
    if kt2 != 0.0:
        phi = np.arctan2(py, px)
        if phi < 0.0:
            phi += _TWOPI
        if phi >= _TWOPI:
            phi -= _TWOPI
    if e == abs(pz) and kt2 == 0.0:
        rap = _MAX_RAP + abs(pz)
        if pz < 0.0:
            rap = -rap
    else:
        # 0.5*log((E+pz)/(E-pz)) written as fastjet does, stable for large |y|
        m2 = max((e + pz) * (e - pz) - kt2, 0.0)
        e_plus_pz = e + abs(pz)
        rap = 0.5 * np.log((kt2 + m2) / (e_plus_pz * e_plus_pz))
        if pz > 0.0:
            rap = -rap
    return rap, phi


@numba.njit(cache=True)
def _dist2(rap1, phi1, rap2, phi2):
    """Squared rapidity-azimuth distance with azimuthal wrap-around."""
    dphi = abs(phi1 - phi2)
    dphi = min(dphi, _TWOPI - dphi)  # same value as fastjet's `if dphi > pi: dphi = 2pi - dphi`
    drap = rap1 - rap2
    return dphi * dphi + drap * drap


@numba.njit(cache=True)
def _scan(srap, sphi, s, lo, hi, best_d, best_t):
    """Nearest of slots lo..hi-1 to slot s (start from best_d, best_t)."""
    r = srap[s]
    p = sphi[s]
    for t in range(lo, hi):
        d = _dist2(r, p, srap[t], sphi[t])
        if d < best_d:
            best_d = d
            best_t = t
    return best_d, best_t


@numba.njit(cache=True)
def _cluster(n, px, py, pz, e, rap, phi, pt2, parent1, parent2, slot_node, srap, sphi, nn_node, nn_dist, dnew):
    """C/A-merge nodes 0..n-1 into one (nodes n..2n-2 are the merges); returns the root node.

    Active pseudojets live in slots 0..active-1 (slot_node, and their srap, sphi copied for
    contiguous scans); nn_node/nn_dist cache each slot's nearest neighbour (a node id, so a
    merged-away neighbour is recognised).
    """
    for i in range(n):
        slot_node[i] = i
        srap[i] = rap[i]
        sphi[i] = phi[i]
    for i in range(n):
        best_d, best_t = _scan(srap, sphi, i, 0, i, np.inf, -1)
        nn_dist[i], nn_node[i] = _scan(srap, sphi, i, i + 1, n, best_d, best_t)
    active = n
    new = n
    while active > 1:
        sa = 0
        for s in range(1, active):
            if nn_dist[s] < nn_dist[sa]:
                sa = s
        a = slot_node[sa]
        b = nn_node[sa]
        if b < 0:  # no finite distance left (non-finite input): merge with any other slot
            b = slot_node[1] if sa == 0 else slot_node[0]
        sb = 0
        while slot_node[sb] != b:
            sb += 1
        px[new] = px[a] + px[b]
        py[new] = py[a] + py[b]
        pz[new] = pz[a] + pz[b]
        e[new] = e[a] + e[b]
        pt2[new] = px[new] * px[new] + py[new] * py[new]
        rap[new], phi[new] = _rap_phi(px[new], py[new], pz[new], e[new])
        parent1[new] = a
        parent2[new] = b
        # drop b's slot (the last slot moves into it), then a's slot holds the merged node
        active -= 1
        if sb != active:
            slot_node[sb] = slot_node[active]
            srap[sb] = srap[active]
            sphi[sb] = sphi[active]
            nn_node[sb] = nn_node[active]
            nn_dist[sb] = nn_dist[active]
            if sa == active:
                sa = sb
        slot_node[sa] = new
        srap[sa] = rap[new]
        sphi[sa] = phi[new]
        nn_node[sa] = -1
        nn_dist[sa] = np.inf
        r = rap[new]
        p = phi[new]
        for s in range(active):
            dnew[s] = _dist2(r, p, srap[s], sphi[s])
        dnew[sa] = np.inf
        for s in range(active):
            if dnew[s] < nn_dist[sa]:
                nn_dist[sa] = dnew[s]
                nn_node[sa] = slot_node[s]
        for s in range(active):
            if s == sa:
                continue
            d = dnew[s]
            if nn_node[s] == a or nn_node[s] == b:
                # its neighbour is gone: rescan all slots (the merged node included)
                best_d, best_t = _scan(srap, sphi, s, 0, s, np.inf, -1)
                best_d, best_t = _scan(srap, sphi, s, s + 1, active, best_d, best_t)
                nn_dist[s] = best_d
                nn_node[s] = slot_node[best_t] if best_t >= 0 else -1
            elif d < nn_dist[s]:
                nn_dist[s] = d
                nn_node[s] = new
        new += 1
    return slot_node[0]


@numba.njit(cache=True)
def _softdrop_kernel(in_px, in_py, in_pz, in_e, offsets, radius, zcut, beta, out_m, out_zg, out_rg, out_pt):
    """Groom every jet; fills the four output arrays."""
    n_jets = offsets.size - 1
    max_n = 1
    for j in range(n_jets):
        max_n = max(max_n, offsets[j + 1] - offsets[j])
    size = 2 * max_n - 1
    px = np.empty(size)
    py = np.empty(size)
    pz = np.empty(size)
    e = np.empty(size)
    rap = np.empty(size)
    phi = np.empty(size)
    pt2 = np.empty(size)
    parent1 = np.empty(size, np.int64)
    parent2 = np.empty(size, np.int64)
    slot_node = np.empty(max_n, np.int64)
    srap = np.empty(max_n)
    sphi = np.empty(max_n)
    dnew = np.empty(max_n)
    nn_node = np.empty(max_n, np.int64)
    nn_dist = np.empty(max_n)
    r0sq = radius * radius
    for j in range(n_jets):
        start = offsets[j]
        n = offsets[j + 1] - start
        out_m[j] = 0.0
        out_zg[j] = 0.0
        out_rg[j] = 0.0
        out_pt[j] = 0.0
        if n <= 0:
            continue
        for i in range(n):
            px[i] = in_px[start + i]
            py[i] = in_py[start + i]
            pz[i] = in_pz[start + i]
            e[i] = in_e[start + i]
            pt2[i] = px[i] * px[i] + py[i] * py[i]
            rap[i], phi[i] = _rap_phi(px[i], py[i], pz[i], e[i])
            parent1[i] = -1
            parent2[i] = -1
        node = _cluster(n, px, py, pz, e, rap, phi, pt2, parent1, parent2, slot_node, srap, sphi, nn_node, nn_dist, dnew)
        while parent1[node] >= 0:
            a = parent1[node]
            b = parent2[node]
            pta = np.sqrt(pt2[a])
            ptb = np.sqrt(pt2[b])
            d2 = _dist2(rap[a], phi[a], rap[b], phi[b])
            if pta + ptb > 0.0:
                z = min(pta, ptb) / (pta + ptb)
                if z > zcut * (d2 / r0sq) ** (0.5 * beta):
                    out_zg[j] = z
                    out_rg[j] = np.sqrt(d2)
                    break
            node = a if pt2[a] >= pt2[b] else b
        out_pt[j] = np.sqrt(pt2[node])
        m2 = (e[node] + pz[node]) * (e[node] - pz[node]) - pt2[node]
        out_m[j] = np.sqrt(max(m2, 0.0))


def softdrop(px, py, pz, energy, offsets, radius, zcut=0.1, beta=0.0):
    """Soft-drop groom every jet given its constituents (flat arrays + offsets).

    px, py, pz, energy: float64 arrays of all constituents of all jets, concatenated jet after jet.
    offsets: int64 array of length n_jets + 1 (jet i owns constituents offsets[i]:offsets[i+1]).
    Same as fastjet contrib's SoftDrop (C/A tree, cut min(pT1, pT2)/(pT1 + pT2) > zcut * (dR/radius)**beta,
    harder branch followed), except that fastjet gives zg = rg = -1 where we give 0.

    Returns dict of float64 numpy arrays, one value per jet: "msoftdrop" (groomed jet mass),
    "softdropZg" (pT fraction of the softer branch at the split that passed, 0 if none passed),
    "softdropRg" (opening angle of that split, 0 if none), "ptsoftdrop" (groomed jet pT).
    """
    arrays, offsets = check_jagged(px, py, pz, energy, offsets)
    n_jets = len(offsets) - 1
    out = {name: np.zeros(n_jets) for name in ("msoftdrop", "softdropZg", "softdropRg", "ptsoftdrop")}
    if n_jets > 0:
        _softdrop_kernel(
            *arrays, offsets, float(radius), float(zcut), float(beta),
            out["msoftdrop"], out["softdropZg"], out["softdropRg"], out["ptsoftdrop"],
        )
    return out
