"""Fast N-subjettiness (arXiv:1011.2268, arXiv:1108.2701) of many jets, bit-exact with fastjet-contrib's Nsubjettiness.

Reproduces ``fastjet.ClusterSequence(jets, JetDefinition(cambridge_algorithm, R)).njettiness(njets=[1, ..., n],
R0=radius, beta=1.0, axes_definition=axes)`` (NormalizedMeasure) with the same floating-point operations in the same
order (fastjet's awkward interface hands the contrib the constituents in input order):

* seed axes (``KT_Axes``): ``exclusive_jets_up_to(N)`` of a kt clustering of the constituents with
  R = JetDefinition::max_allowable_R = 1000 (nothing reaches the beam) and E-scheme recombination, in fastjet's
  history order; one kt clustering serves every N (the contrib reclusters once per N);
* ``OnePass_KT_Axes``: DefaultMeasure::get_one_pass_axes for the pt_R measure: UpdateAxes (each axis moves to the
  pT / sqrt(dR^2 + 1e-8) weighted mean rapidity and azimuth of the particles closest to it) repeated until the mean
  axis displacement is <= 1e-4 (at most 1000 times), then LightLikeAxis::ConvertToPseudoJet;
* tau_N = sum_i pT_i min_k dR_ik / sum_i pT_i R0, with rapidity (not pseudo-rapidity) and azimuth distances
  throughout, summed axis after axis as MeasureDefinition::component_result_from_partition does, dR = pow(dR^2, 0.5);
* jets with at most N constituents have tau_N = 0 (Njettiness::getTauComponents).

Checked bit for bit against fastjet 3.5.2 on ~8000 Pythia jets (R = 0.4 and 0.8, 1 to 200 constituents); this relies
on numba and fastjet calling the same libm (pow, log, atan2, exp, sin, cos): note that pow(x, 0.5) differs from
sqrt(x) in the last bit for ~1e-3 of arguments, hence the pow. About 6x (OnePass_KT_Axes) and 7.5x (KT_Axes) faster
than fastjet's njettiness on C/A-reclustered jets of ~70 constituents.
"""

import numba
import numpy as np

from mlhep.checks import check_jagged
from mlhep.generate.softdrop import _rap_phi

__all__ = ["nsubjettiness"]

_TWOPI = 2.0 * np.pi
_PI = np.pi
_DBL_MAX = np.finfo(np.float64).max
_N_ATTEMPTS = 1000  # AxesDefinition::setNPass defaults, used by the OnePass_* axes
_ACCURACY = 0.0001
_AXES = {"KT_Axes": 0, "OnePass_KT_Axes": 1}


@numba.njit(cache=True, error_model="numpy", inline="always")
def _d2(rap1, phi1, rap2, phi2):
    """Squared rapidity-azimuth distance, as PseudoJet::plain_distance (branch-free, so loops of it vectorise)."""
    dphi = abs(phi1 - phi2)
    dphi = _TWOPI - dphi if dphi > _PI else dphi
    drap = rap1 - rap2
    return dphi * dphi + drap * drap


@numba.njit(cache=True, error_model="numpy", inline="always")
def _min(buf, m):
    """Smallest of buf[0:m] (inf if none), in four independent running minima (a min involves no rounding)."""
    m0 = np.inf
    m1 = np.inf
    m2 = np.inf
    m3 = np.inf
    m4 = m - m % 4
    for t in range(0, m4, 4):
        m0 = buf[t] if buf[t] < m0 else m0
        m1 = buf[t + 1] if buf[t + 1] < m1 else m1
        m2 = buf[t + 2] if buf[t + 2] < m2 else m2
        m3 = buf[t + 3] if buf[t + 3] < m3 else m3
    for t in range(m4, m):
        m0 = buf[t] if buf[t] < m0 else m0
    m0 = m1 if m1 < m0 else m0
    m2 = m3 if m3 < m2 else m2
    return m2 if m2 < m0 else m0


@numba.njit(cache=True, error_model="numpy", inline="always")
def _argmin(buf, m):
    """Smallest of buf[0:m] and the first index holding it (-1 if none is below inf)."""
    best = _min(buf, m)
    if best < np.inf:
        for t in range(m):
            if buf[t] == best:
                return best, t
    return np.inf, -1


@numba.njit(cache=True, error_model="numpy", inline="always")
def _nearest(s, active, srap, sphi, buf):
    """Slot nearest to slot s among slots 0..active-1, and its squared distance."""
    r = srap[s]
    p = sphi[s]
    for t in range(active):
        buf[t] = _d2(r, p, srap[t], sphi[t])
    buf[s] = np.inf
    return _argmin(buf, active)


@numba.njit(cache=True, error_model="numpy")
def _kt_cluster(n, px, py, pz, e, rap, phi, pt2, parent1, parent2, snode, srap, sphi, spt2, snn, sdist, sdij,
                node_slot, buf, rescan):
    """kT-merge nodes 0..n-1 (fastjet kt_algorithm, R = 1000, E-scheme); nodes n..2n-2 are the merges.

    parent1/parent2 of merge node k get the lower/higher node id; node ids are fastjet's history indices.
    Active pseudojets live in slots 0..active-1 (snode, with srap, sphi, spt2 copied for contiguous scans); each slot
    caches its geometric nearest neighbour (snn, a node id; sdist the squared distance) and
    d_iJ = sdist * min(kt2_i, kt2_NN) (fastjet's _bj_diJ); the slot of smallest d_iJ merges with its neighbour.
    """
    for i in range(n):
        snode[i] = i
        node_slot[i] = i
        srap[i] = rap[i]
        sphi[i] = phi[i]
        spt2[i] = pt2[i]
    for i in range(n):
        d, t = _nearest(i, n, srap, sphi, buf)
        sdist[i] = d
        snn[i] = t
        sdij[i] = d * min(spt2[i], spt2[t]) if t >= 0 else np.inf
    active = n
    new = n
    while active > 1:
        sa = _argmin(sdij, active)[1]
        if sa < 0:
            sa = 0
        a = snode[sa]
        b = snn[sa]
        if b < 0:  # no finite distance left (non-finite input): merge with any other slot
            b = snode[1] if sa == 0 else snode[0]
        sb = node_slot[b]
        px[new] = px[a] + px[b]
        py[new] = py[a] + py[b]
        pz[new] = pz[a] + pz[b]
        e[new] = e[a] + e[b]
        pt2[new] = px[new] * px[new] + py[new] * py[new]
        rap[new], phi[new] = _rap_phi(px[new], py[new], pz[new], e[new])
        parent1[new] = min(a, b)
        parent2[new] = max(a, b)
        # drop b's slot (the last slot moves into it), then a's slot holds the merged node
        active -= 1
        if sb != active:
            snode[sb] = snode[active]
            node_slot[snode[sb]] = sb
            srap[sb] = srap[active]
            sphi[sb] = sphi[active]
            spt2[sb] = spt2[active]
            snn[sb] = snn[active]
            sdist[sb] = sdist[active]
            sdij[sb] = sdij[active]
            if sa == active:
                sa = sb
        snode[sa] = new
        node_slot[new] = sa
        r = rap[new]
        p = phi[new]
        srap[sa] = r
        sphi[sa] = p
        spt2[sa] = pt2[new]
        for s in range(active):
            buf[s] = _d2(r, p, srap[s], sphi[s])
        buf[sa] = np.inf
        best, best_t = _argmin(buf, active)
        n_rescan = 0
        for s in range(active):
            d = buf[s]
            if snn[s] == a or snn[s] == b:
                rescan[n_rescan] = s
                n_rescan += 1
            elif d < sdist[s]:
                sdist[s] = d
                snn[s] = new
                sdij[s] = d * min(spt2[s], pt2[new])
        sdist[sa] = best
        if best_t >= 0:
            snn[sa] = snode[best_t]
            sdij[sa] = best * min(pt2[new], spt2[best_t])
        else:
            snn[sa] = -1
            sdij[sa] = np.inf
        for m in range(n_rescan):
            s = rescan[m]
            if s == sa:
                continue
            d, t = _nearest(s, active, srap, sphi, buf)
            sdist[s] = d
            if t >= 0:
                snn[s] = snode[t]
                sdij[s] = d * min(spt2[s], spt2[t])
            else:
                snn[s] = -1
                sdij[s] = np.inf
        new += 1


@numba.njit(cache=True, error_model="numpy", inline="always")
def _assign(n, prap, pphi, n_axes, arap, aphi, assign, dist):
    """Closest axis of each particle (the first at ties; -1 if no distance is below DBL_MAX) and its distance^2."""
    for i in range(n):
        dist[i] = _DBL_MAX
        assign[i] = -1
    for k in range(n_axes):
        r = arap[k]
        p = aphi[k]
        for i in range(n):
            d = _d2(r, p, prap[i], pphi[i])
            better = d < dist[i]
            dist[i] = d if better else dist[i]
            assign[i] = k if better else assign[i]


@numba.njit(cache=True, error_model="numpy")
def _tau(n, prap, pphi, ppt, n_axes, arap, aphi, r0, half_beta, assign, dist):
    """NormalizedMeasure tau_N of particles 0..n-1 for the given axes (MeasureDefinition::component_result)."""
    _assign(n, prap, pphi, n_axes, arap, aphi, assign, dist)
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


@numba.njit(cache=True, error_model="numpy")
def _update_loop(n, prap, pphi, ppt, pt_rap, pt_phi, pt_phi_minus, pt_phi_plus, ppx, ppy, ppz, n_axes, arap, aphi,
                 amom, assign, dist, t_phi, c_rap, c_phi, c_sum, members, nrap, nphi, track_mom):
    """The UpdateAxes iterations of DefaultMeasure::get_one_pass_axes; arap, aphi (and amom) updated in place.

    The sums of each axis run over its particles in input order, as in the contrib. The axis momentum |sum p|
    (only needed at the end) is updated every iteration if track_mom, else left to the caller (from the final
    assignment). Returns whether some axis had no particle in the final iteration (it then kept its old values).
    """
    prec2 = _ACCURACY * _ACCURACY
    cmp = _DBL_MAX
    h = 0
    stale = False
    while cmp > _ACCURACY and h < _N_ATTEMPTS:
        h += 1
        # assignment step: closest axis of each particle (its distance^2 in dist), along with the pT * phi term of
        # the update (phi taken within pi of the axis); vectorised loops, the choices made by selects
        for i in range(n):
            dist[i] = _DBL_MAX
            assign[i] = -1
        for k in range(n_axes):
            axis_rap = arap[k]
            axis_phi = aphi[k]
            for i in range(n):
                d = _d2(axis_rap, axis_phi, prap[i], pphi[i])
                dphi = pphi[i] - axis_phi
                t_in = pt_phi[i]
                t_minus = pt_phi_minus[i]
                t_plus = pt_phi_plus[i]
                t = t_in if abs(dphi) <= _PI else t_minus
                t = t_plus if dphi < -_PI else t
                better = d < dist[i]
                dist[i] = d if better else dist[i]
                assign[i] = k if better else assign[i]
                t_phi[i] = t if better else t_phi[i]
        # update step: pT / dR weighted means of rapidity and azimuth, 1 / dR = 1 / sqrt(1e-8 + dR^2); the terms
        # first, then their sums over each axis' particles in input order
        for i in range(n):
            w = 1.0 / np.sqrt(prec2 + dist[i])
            c_rap[i] = pt_rap[i] * w
            c_phi[i] = t_phi[i] * w
            c_sum[i] = ppt[i] * w
        cmp = 0.0
        stale = False
        for k in range(n_axes):
            # the particles of axis k, in input order (a branch-free compress), then their sums
            count = 0
            for i in range(n):
                members[count] = i
                count += assign[i] == k
            sum_rap = 0.0
            sum_phi = 0.0
            sum_w = 0.0
            for m in range(count):
                i = members[m]
                sum_rap += c_rap[i]
                sum_phi += c_phi[i]
                sum_w += c_sum[i]
            if sum_w == 0.0:  # no particle closest to this axis: it stays
                nrap[k] = arap[k]
                nphi[k] = aphi[k]
                stale = True
            else:
                nrap[k] = sum_rap / sum_w
                nphi[k] = _fmod_twopi(sum_phi / sum_w + _TWOPI)
                if track_mom:
                    amom[k] = _sum_modp(n, k, assign, ppx, ppy, ppz)
            cmp += np.sqrt(_d2(arap[k], aphi[k], nrap[k], nphi[k]))
        cmp = cmp / n_axes
        for k in range(n_axes):
            arap[k] = nrap[k]
            aphi[k] = nphi[k]
    return stale


@numba.njit(cache=True, error_model="numpy", inline="always")
def _fmod_twopi(y):
    """std::fmod(y, 2 pi), exactly: for 0 <= y < 6 pi, y - 2 pi and y - 4 pi are exact (Sterbenz)."""
    if 0.0 <= y < 2.0 * _TWOPI:
        return y - _TWOPI if y >= _TWOPI else y
    if 2.0 * _TWOPI <= y < 3.0 * _TWOPI:
        return y - 2.0 * _TWOPI
    return np.fmod(y, _TWOPI)


@numba.njit(cache=True, error_model="numpy", inline="always")
def _sum_modp(n, k, assign, ppx, ppy, ppz):
    """|p| of the sum (in input order) of the particles assigned to axis k."""
    sx = 0.0
    sy = 0.0
    sz = 0.0
    for i in range(n):
        if assign[i] == k:
            sx += ppx[i]
            sy += ppy[i]
            sz += ppz[i]
    return np.sqrt((sx * sx + sy * sy) + sz * sz)


@numba.njit(cache=True, error_model="numpy")
def _one_pass(n, prap, pphi, ppt, pt_rap, pt_phi, pt_phi_minus, pt_phi_plus, ppx, ppy, ppz, n_axes, arap, aphi, amom,
              assign, dist, work, members, acc):
    """DefaultMeasure::get_one_pass_axes (beta = 1, pt_R measure): arap, aphi become the refined axes' rap, phi.

    pt_rap, pt_phi, pt_phi_minus, pt_phi_plus: pT * rap, pT * phi, pT * (-2 pi + phi), pT * (2 pi + phi).
    amom: |p| of the seed axes. Work space: work (4, >= n), members (>= n), acc (6, >= n_axes).
    """
    for k in range(n_axes):
        acc[3, k] = arap[k]
        acc[4, k] = aphi[k]
        acc[5, k] = amom[k]
    stale = _update_loop(n, prap, pphi, ppt, pt_rap, pt_phi, pt_phi_minus, pt_phi_plus, ppx, ppy, ppz, n_axes, arap,
                         aphi, amom, assign, dist, work[0], work[1], work[2], work[3], members, acc[0], acc[1], False)
    if stale:
        # an axis without particles at the end has the momentum of an earlier iteration: redo, tracking it
        for k in range(n_axes):
            arap[k] = acc[3, k]
            aphi[k] = acc[4, k]
            amom[k] = acc[5, k]
        _update_loop(n, prap, pphi, ppt, pt_rap, pt_phi, pt_phi_minus, pt_phi_plus, ppx, ppy, ppz, n_axes, arap, aphi,
                     amom, assign, dist, work[0], work[1], work[2], work[3], members, acc[0], acc[1], True)
    else:
        for k in range(n_axes):
            amom[k] = _sum_modp(n, k, assign, ppx, ppy, ppz)
    # LightLikeAxis::ConvertToPseudoJet, then that PseudoJet's rapidity and azimuth
    for k in range(n_axes):
        energy = amom[k]
        e2r = np.exp(2.0 * arap[k])
        pz = (e2r - 1.0) / (e2r + 1.0) * energy
        pt = np.sqrt(energy * energy - pz * pz)
        arap[k], aphi[k] = _rap_phi(np.cos(aphi[k]) * pt, np.sin(aphi[k]) * pt, pz, energy)


@numba.njit(cache=True, error_model="numpy")
def _nsubjettiness_kernel(in_px, in_py, in_pz, in_e, offsets, radius, n_max, one_pass, half_beta, out):
    """Fill out[j, N - 1] with tau_N of every jet j."""
    n_jets = offsets.size - 1
    max_n = 1
    for j in range(n_jets):
        max_n = max(max_n, offsets[j + 1] - offsets[j])
    size = 2 * max_n - 1
    # kt clustering: nodes (particles, then merges) and slots
    px = np.empty(size)
    py = np.empty(size)
    pz = np.empty(size)
    e = np.empty(size)
    rap = np.empty(size)
    phi = np.empty(size)
    pt2 = np.empty(size)
    parent1 = np.empty(size, np.int64)
    parent2 = np.empty(size, np.int64)
    node_slot = np.empty(size, np.int64)
    snode = np.empty(max_n, np.int64)
    srap = np.empty(max_n)
    sphi = np.empty(max_n)
    spt2 = np.empty(max_n)
    snn = np.empty(max_n, np.int64)
    sdist = np.empty(max_n)
    sdij = np.empty(max_n)
    buf = np.empty(max_n)
    rescan = np.empty(max_n, np.int64)
    # per-particle quantities
    ppt = np.empty(max_n)
    pt_rap = np.empty(max_n)
    pt_phi = np.empty(max_n)
    pt_phi_minus = np.empty(max_n)
    pt_phi_plus = np.empty(max_n)
    assign = np.empty(max_n, np.int64)
    dist = np.empty(max_n)
    work = np.empty((4, max_n))
    # axes
    arap = np.empty(n_max)
    aphi = np.empty(n_max)
    amom = np.empty(n_max)
    axis_node = np.empty(n_max, np.int64)
    acc = np.empty((6, n_max))
    members = np.empty(max_n, np.int64)
    for j in range(n_jets):
        start = offsets[j]
        n = offsets[j + 1] - start
        for m in range(n_max):
            out[j, m] = 0.0
        if n <= 1:
            continue
        for i in range(n):
            px[i] = in_px[start + i]
            py[i] = in_py[start + i]
            pz[i] = in_pz[start + i]
            e[i] = in_e[start + i]
            pt2[i] = px[i] * px[i] + py[i] * py[i]
            rap[i], phi[i] = _rap_phi(px[i], py[i], pz[i], e[i])
            ppt[i] = np.sqrt(pt2[i])
            pt_rap[i] = ppt[i] * rap[i]
            pt_phi[i] = ppt[i] * phi[i]
            pt_phi_minus[i] = ppt[i] * (-_TWOPI + phi[i])
            pt_phi_plus[i] = ppt[i] * (_TWOPI + phi[i])
        # the particles' own rap, phi, px, py, pz stay in nodes 0..n-1
        _kt_cluster(n, px, py, pz, e, rap, phi, pt2, parent1, parent2, snode, srap, sphi, spt2, snn, sdist, sdij,
                    node_slot, buf, rescan)
        for n_axes in range(1, min(n_max, n - 1) + 1):
            # ClusterSequence::exclusive_jets_up_to(N): parents created before step 2n - N of the later steps,
            # the last step being the beam recombination of the final jet (node 2n - 2)
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
                _one_pass(n, rap, phi, ppt, pt_rap, pt_phi, pt_phi_minus, pt_phi_plus, px, py, pz, n_axes,
                          arap, aphi, amom, assign, dist, work, members, acc)
            out[j, n_axes - 1] = _tau(n, rap, phi, ppt, n_axes, arap, aphi, radius, half_beta, assign, dist)


def nsubjettiness(px, py, pz, energy, offsets, radius, n_max=4, axes="OnePass_KT_Axes"):
    """tau_1..tau_n_max (normalized measure, beta = 1, arXiv:1011.2268 / 1108.2701) of every jet.

    px, py, pz, energy: float64 arrays of all constituents of all jets, concatenated jet after jet.
    offsets: int64 array of length n_jets + 1 (jet i owns constituents offsets[i]:offsets[i+1]), as in softdrop.py.
    radius: R0 of the normalisation sum_i pT_i * R0 (the jet radius).
    axes: "KT_Axes" (exclusive kT axes) or "OnePass_KT_Axes" (kT axes + one pass of minimization), as in
    fastjet-contrib. Same values as fastjet's njettiness (NormalizedMeasure, beta = 1, R0 = radius), bit for bit
    on the jets we checked; jets with at most N constituents get tau_N = 0, as there.

    Returns a float64 array of shape (n_jets, n_max), column N - 1 holding tau_N.
    """
    if axes not in _AXES:
        raise ValueError(f"axes must be one of {sorted(_AXES)}, not {axes!r}")
    n_max = int(n_max)
    if n_max < 1:
        raise ValueError("n_max must be >= 1")
    if not radius > 0:
        raise ValueError("radius must be > 0")
    arrays, offsets = check_jagged(px, py, pz, energy, offsets)
    n_jets = len(offsets) - 1
    out = np.zeros((n_jets, n_max))
    if n_jets > 0:
        # beta / 2 goes in at run time, so that dR^beta stays libm's pow as in the contrib (not a sqrt)
        _nsubjettiness_kernel(*arrays, offsets, float(radius), n_max, _AXES[axes] == 1, 0.5, out)
    return out
