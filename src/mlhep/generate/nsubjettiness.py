"""Fast N-subjettiness (arXiv:1011.2268, arXiv:1108.2701) of many jets, as fastjet-contrib's Nsubjettiness computes it.

Reproduces ``fastjet.ClusterSequence(jets, JetDefinition(cambridge_algorithm, R >> 1)).njettiness(njets=[1..n],
R0=radius, beta=1.0, axes_definition=axes)`` (NormalizedMeasure) step by step, in the same floating-point operations:

* the contrib sees the constituents of the C/A jet in fastjet's ``jet.constituents()`` order (a depth-first walk
  of the C/A tree, the parent with the lower history index first); we recluster with C/A to get that order, since
  the order of every sum below follows it;
* seed axes (``KT_Axes``): ``exclusive_jets_up_to(N)`` of a kt clustering (R = JetDefinition::max_allowable_R =
  1000, E-scheme) of those constituents, in fastjet's history order; one kt clustering serves every N;
* ``OnePass_KT_Axes``: DefaultMeasure::get_one_pass_axes (pt_R measure), i.e. iterated UpdateAxes
  (pT / sqrt(dR^2 + 1e-8) weighted means of rapidity and azimuth of the particles closest to each axis) until the
  mean axis displacement is <= 1e-4 or after 1000 iterations, then LightLikeAxis::ConvertToPseudoJet;
* tau_N = sum_i pT_i min_k dR_ik / sum_i pT_i R0, with rapidity (not pseudo-rapidity) distances throughout,
  summed axis after axis as MeasureDefinition::component_result_from_partition does;
* jets with at most N constituents have tau_N = 0 (Njettiness::getTauComponents).
"""

import numba
import numpy as np

from mlhep.generate.softdrop import _cluster, _dist2, _rap_phi

__all__ = ["nsubjettiness"]

_TWOPI = 2.0 * np.pi
_PI = np.pi
_DBL_MAX = np.finfo(np.float64).max
_N_ATTEMPTS = 1000  # AxesDefinition::setNPass defaults used by OnePass_* axes
_ACCURACY = 0.0001
_AXES = {"KT_Axes": 0, "OnePass_KT_Axes": 1}


@numba.njit(cache=True)
def _kt_cluster(n, px, py, pz, e, rap, phi, pt2, parent1, parent2, slot_node, srap, sphi, nn_node, nn_dist, dnew):
    """kT-merge nodes 0..n-1 (R large enough that nothing reaches the beam); nodes n..2n-2 are the merges.

    parent1/parent2 of merge node k get the lower/higher node id (node ids are fastjet's history indices).
    Same bookkeeping as softdrop._cluster: slots cache their geometric nearest neighbour, and the merged pair is
    the slot minimising d_iJ = dR^2_iNN * min(kt2_i, kt2_NN) (fastjet's _bj_diJ).
    """
    for i in range(n):
        slot_node[i] = i
        srap[i] = rap[i]
        sphi[i] = phi[i]
    for i in range(n):
        best_d = np.inf
        best_t = -1
        for t in range(n):
            if t != i:
                d = _dist2(srap[i], sphi[i], srap[t], sphi[t])
                if d < best_d:
                    best_d = d
                    best_t = t
        nn_dist[i] = best_d
        nn_node[i] = best_t
    active = n
    new = n
    while active > 1:
        sa = -1
        best = np.inf
        for s in range(active):
            b = nn_node[s]
            if b < 0:
                continue
            kt2 = pt2[slot_node[s]]
            if pt2[b] < kt2:
                kt2 = pt2[b]
            dij = nn_dist[s] * kt2
            if sa < 0 or dij < best:
                best = dij
                sa = s
        if sa < 0:  # no finite distance left (non-finite input): merge the first two slots
            sa = 0
            b = slot_node[1]
        else:
            b = nn_node[sa]
        a = slot_node[sa]
        sb = 0
        while slot_node[sb] != b:
            sb += 1
        px[new] = px[a] + px[b]
        py[new] = py[a] + py[b]
        pz[new] = pz[a] + pz[b]
        e[new] = e[a] + e[b]
        pt2[new] = px[new] * px[new] + py[new] * py[new]
        rap[new], phi[new] = _rap_phi(px[new], py[new], pz[new], e[new])
        parent1[new] = min(a, b)
        parent2[new] = max(a, b)
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
            if nn_node[s] == a or nn_node[s] == b:
                best_d = np.inf
                best_t = -1
                for t in range(active):
                    if t != s:
                        d = _dist2(srap[s], sphi[s], srap[t], sphi[t])
                        if d < best_d:
                            best_d = d
                            best_t = t
                nn_dist[s] = best_d
                nn_node[s] = slot_node[best_t] if best_t >= 0 else -1
            elif dnew[s] < nn_dist[s]:
                nn_dist[s] = dnew[s]
                nn_node[s] = new
        new += 1


@numba.njit(cache=True)
def _tau(n, prap, pphi, ppt, n_axes, arap, aphi, r0, half_beta, assign, dist):
    """NormalizedMeasure tau_N of particles 0..n-1 for the given axes (MeasureDefinition::component_result)."""
    for i in range(n):
        best = _DBL_MAX
        k_min = -1
        for k in range(n_axes):
            d = _dist2(prap[i], pphi[i], arap[k], aphi[k])
            if d < best:
                best = d
                k_min = k
        assign[i] = k_min
        dist[i] = best
    numerator = 0.0
    denominator = 0.0
    for k in range(n_axes):
        piece = 0.0
        for i in range(n):
            if assign[i] == k:
                if dist[i] > 0.0:
                    piece += ppt[i] * dist[i] ** half_beta
                denominator += ppt[i] * r0
        numerator += piece
    return numerator / denominator


@numba.njit(cache=True)
def _one_pass(n, prap, pphi, ppt, ppx, ppy, ppz, pe, n_axes, arap, aphi, amom, assign, wrap, wphi, wsum, jpx, jpy, jpz,
              jpe, nrap, nphi, nmom):
    """DefaultMeasure::get_one_pass_axes (beta = 1, pt_R); arap, aphi, amom are updated in place."""
    prec2 = _ACCURACY * _ACCURACY
    cmp = _DBL_MAX
    h = 0
    while cmp > _ACCURACY and h < _N_ATTEMPTS:
        h += 1
        # assignment step
        k_assign = -1
        for i in range(n):
            smallest = _DBL_MAX
            for k in range(n_axes):
                d = _dist2(arap[k], aphi[k], prap[i], pphi[i])
                if d < smallest:
                    smallest = d
                    k_assign = k
            assign[i] = k_assign
        # update step
        for k in range(n_axes):
            wrap[k] = 0.0
            wphi[k] = 0.0
            wsum[k] = 0.0
            jpx[k] = 0.0
            jpy[k] = 0.0
            jpz[k] = 0.0
            jpe[k] = 0.0
        for i in range(n):
            k = assign[i]
            if k == -1:
                continue
            old_dist = 1.0 / np.sqrt(prec2 + _dist2(arap[k], aphi[k], prap[i], pphi[i]))
            wrap[k] = wrap[k] + ppt[i] * prap[i] * old_dist
            dphi = pphi[i] - aphi[k]
            if abs(dphi) <= _PI:
                wphi[k] = wphi[k] + ppt[i] * pphi[i] * old_dist
            elif dphi > _PI:
                wphi[k] = wphi[k] + ppt[i] * (-_TWOPI + pphi[i]) * old_dist
            elif dphi < -_PI:
                wphi[k] = wphi[k] + ppt[i] * (_TWOPI + pphi[i]) * old_dist
            wsum[k] = wsum[k] + ppt[i] * old_dist
            jpx[k] += ppx[i]
            jpy[k] += ppy[i]
            jpz[k] += ppz[i]
            jpe[k] += pe[i]
        cmp = 0.0
        for k in range(n_axes):
            if wsum[k] == 0.0:
                nrap[k] = arap[k]
                nphi[k] = aphi[k]
                nmom[k] = amom[k]
            else:
                nrap[k] = wrap[k] / wsum[k]
                nphi[k] = np.fmod(wphi[k] / wsum[k] + _TWOPI, _TWOPI)
                nmom[k] = np.sqrt((jpx[k] * jpx[k] + jpy[k] * jpy[k]) + jpz[k] * jpz[k])
            cmp += np.sqrt(_dist2(arap[k], aphi[k], nrap[k], nphi[k]))
        cmp = cmp / n_axes
        for k in range(n_axes):
            arap[k] = nrap[k]
            aphi[k] = nphi[k]
            amom[k] = nmom[k]
    # LightLikeAxis::ConvertToPseudoJet, then the PseudoJet's own rapidity and azimuth
    for k in range(n_axes):
        energy = amom[k]
        e2r = np.exp(2.0 * arap[k])
        pz = (e2r - 1.0) / (e2r + 1.0) * energy
        pt = np.sqrt(energy * energy - pz * pz)
        px = np.cos(aphi[k]) * pt
        py = np.sin(aphi[k]) * pt
        arap[k], aphi[k] = _rap_phi(px, py, pz, energy)


@numba.njit(cache=True)
def _nsubjettiness_kernel(in_px, in_py, in_pz, in_e, offsets, radius, n_max, one_pass, half_beta, out):
    """Fill out[j, N-1] with tau_N of every jet j."""
    n_jets = offsets.size - 1
    max_n = 1
    for j in range(n_jets):
        max_n = max(max_n, offsets[j + 1] - offsets[j])
    size = 2 * max_n - 1
    # C/A reclustering (constituent order) and kt clustering (seed axes) work space
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
    stack = np.empty(size, np.int64)
    order = np.empty(max_n, np.int64)
    # constituents in fastjet's order
    ppx = np.empty(max_n)
    ppy = np.empty(max_n)
    ppz = np.empty(max_n)
    pe = np.empty(max_n)
    prap = np.empty(max_n)
    pphi = np.empty(max_n)
    ppt = np.empty(max_n)
    assign = np.empty(max_n, np.int64)
    dist = np.empty(max_n)
    # axes
    arap = np.empty(n_max)
    aphi = np.empty(n_max)
    amom = np.empty(n_max)
    axis_node = np.empty(n_max, np.int64)
    work = np.empty((10, n_max))
    for j in range(n_jets):
        start = offsets[j]
        n = offsets[j + 1] - start
        for m in range(n_max):
            out[j, m] = 0.0
        if n <= 1:
            continue
        # 1. C/A tree of the jet; its depth-first walk (lower history index first) is jet.constituents()
        for i in range(n):
            px[i] = in_px[start + i]
            py[i] = in_py[start + i]
            pz[i] = in_pz[start + i]
            e[i] = in_e[start + i]
            pt2[i] = px[i] * px[i] + py[i] * py[i]
            rap[i], phi[i] = _rap_phi(px[i], py[i], pz[i], e[i])
            parent1[i] = -1
            parent2[i] = -1
        root = _cluster(n, px, py, pz, e, rap, phi, pt2, parent1, parent2, slot_node, srap, sphi, nn_node, nn_dist, dnew)
        top = 0
        stack[0] = root
        count = 0
        while top >= 0:
            node = stack[top]
            top -= 1
            if node < n:
                order[count] = node
                count += 1
            else:
                stack[top + 1] = max(parent1[node], parent2[node])
                stack[top + 2] = min(parent1[node], parent2[node])
                top += 2
        for i in range(n):
            s = start + order[i]
            ppx[i] = in_px[s]
            ppy[i] = in_py[s]
            ppz[i] = in_pz[s]
            pe[i] = in_e[s]
            pt2_i = ppx[i] * ppx[i] + ppy[i] * ppy[i]
            ppt[i] = np.sqrt(pt2_i)
            prap[i], pphi[i] = _rap_phi(ppx[i], ppy[i], ppz[i], pe[i])
        # 2. kt clustering of the ordered constituents
        for i in range(n):
            px[i] = ppx[i]
            py[i] = ppy[i]
            pz[i] = ppz[i]
            e[i] = pe[i]
            pt2[i] = ppx[i] * ppx[i] + ppy[i] * ppy[i]
            rap[i] = prap[i]
            phi[i] = pphi[i]
            parent1[i] = -1
            parent2[i] = -1
        _kt_cluster(n, px, py, pz, e, rap, phi, pt2, parent1, parent2, slot_node, srap, sphi, nn_node, nn_dist, dnew)
        # 3. tau_N for every N < n
        for n_axes in range(1, min(n_max, n - 1) + 1):
            # ClusterSequence::exclusive_jets_up_to(N): history steps from 2n - N on (the last is the beam step)
            stop = 2 * n - n_axes
            count = 0
            for step in range(stop, 2 * n - 1):
                if parent1[step] < stop:
                    axis_node[count] = parent1[step]
                    count += 1
                if parent2[step] < stop:
                    axis_node[count] = parent2[step]
                    count += 1
            if 2 * n - 2 < stop:
                axis_node[count] = 2 * n - 2
                count += 1
            for k in range(n_axes):
                node = axis_node[k]
                arap[k] = rap[node]
                aphi[k] = phi[node]
                amom[k] = np.sqrt(pt2[node] + pz[node] * pz[node])
            if one_pass:
                _one_pass(n, prap, pphi, ppt, ppx, ppy, ppz, pe, n_axes, arap, aphi, amom, assign,
                          work[0], work[1], work[2], work[3], work[4], work[5], work[6], work[7], work[8], work[9])
            out[j, n_axes - 1] = _tau(n, prap, pphi, ppt, n_axes, arap, aphi, radius, half_beta, assign, dist)


def nsubjettiness(px, py, pz, energy, offsets, radius, n_max=4, axes="OnePass_KT_Axes"):
    """tau_1..tau_n_max (normalized measure, beta = 1, arXiv:1011.2268 / 1108.2701) of every jet.

    px, py, pz, energy: float64 arrays of all constituents of all jets, concatenated jet after jet.
    offsets: int64 array of length n_jets + 1 (jet i owns constituents offsets[i]:offsets[i+1]), as in softdrop.py.
    radius: R0 of the normalisation sum_i pT_i * R0.
    axes: "KT_Axes" (exclusive kT axes) or "OnePass_KT_Axes" (kT axes + one pass of minimization), as in
    fastjet-contrib. Jets with at most N constituents get tau_N = 0, as in fastjet-contrib.

    Returns a float64 array of shape (n_jets, n_max), column N - 1 holding tau_N.
    """
    if axes not in _AXES:
        raise ValueError(f"axes must be one of {sorted(_AXES)}, not {axes!r}")
    n_max = int(n_max)
    if n_max < 1:
        raise ValueError("n_max must be >= 1")
    if not radius > 0:
        raise ValueError("radius must be > 0")
    arrays = [np.ascontiguousarray(a, dtype=np.float64) for a in (px, py, pz, energy)]
    offsets = np.ascontiguousarray(offsets, dtype=np.int64)
    n_jets = len(offsets) - 1
    if offsets.ndim != 1 or n_jets < 0:
        raise ValueError("offsets must be a 1-d array of length n_jets + 1")
    if any(a.shape != arrays[0].shape for a in arrays) or arrays[0].ndim != 1:
        raise ValueError("px, py, pz, energy must be 1-d arrays of equal length")
    if n_jets > 0 and (offsets[0] < 0 or offsets[-1] > len(arrays[0]) or np.any(np.diff(offsets) < 0)):
        raise ValueError("offsets must be non-decreasing and within the constituent arrays")
    out = np.zeros((n_jets, n_max))
    if n_jets > 0:
        # beta / 2 passed at run time so that |dR|^beta is libm's pow, as in the contrib
        _nsubjettiness_kernel(*arrays, offsets, float(radius), n_max, _AXES[axes] == 1, 0.5, out)
    return out
