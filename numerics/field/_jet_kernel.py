"""The march of the jet marcher (numerics.field._jet): heap, acceptance, pushes to the nodes within the
update radius (numba)."""

import math

import numpy as np
from numba import njit

from numerics.field._jet_updates import _load, _refine, _update
from numerics.field._olim import CONSIDERED, FAR, FRONT, _decode, _flat, _in_box, _inside, _sift_down, _sift_up

REACH_A = 1.0
REACH_B = 2.0
"""A node pushes updates to the nodes within ``REACH_A / cos(theta) + REACH_B`` spacings (at most the
update radius K), theta the angle between its characteristic ``b + Sigma grad V`` and grad V: about
1 / cos(theta) spacings back along the characteristic V has dropped by one spacing's worth, so both ends
of a base there precede the node (c = 1: 4.2, c = 5: 12, gradient drift: 3)."""

ONE_POINT_FAR = False
"""One-point updates beyond the 8 (26) neighbours, where x lies within 60 degrees of z's characteristic:
off, they are upper bounds the triangles beat (measured at 257^2: 1.39M one-point updates down to 0.26M,
kernel 13 s down to 5 s)."""


@njit(cache=True)
def _jet_kernel(
    shape,
    strides,
    lo,
    h,
    V,
    G,
    status,
    fixed,
    drift,
    sigma,
    metric,
    mconst,
    far,
    far_flat,
    far_ext,
    far_cnt,
    nbrs,
    n_tri,
    refine,
    v_max,
    counts,
):
    """The march. Each new Accepted node z2 pushes to every unaccepted node x within the radius: a
    one-point update where x lies ahead of z2's characteristic, and the triangle update on [z2, z3] for
    each accepted triangle neighbour z3 whose characteristic passes x on the other side from z2's (in
    2-D; in 3-D where both characteristics point towards x), so every such triangle is tried once both
    ends are accepted. counts gets [accepted, one-point, triangle, stop code, nodes whose value is a
    one-point update]."""
    d = shape.shape[0]
    n = V.shape[0]
    tree = np.empty(n + 1, np.int64)
    pos = np.zeros(n, np.int64)
    tri = np.zeros(n, np.bool_)
    C = np.zeros((n, d))
    wi0 = np.full(n, -1, np.int64)
    wi1 = np.full(n, -1, np.int64)
    wlam = np.zeros(n)
    p0 = np.zeros(3, np.int64)
    count = 0
    for i in range(n):
        if status[i] == CONSIDERED:
            count += 1
            tree[count] = i
            pos[i] = count
            _sift_up(tree, pos, V, count)
    pn = np.zeros(3, np.int64)
    px = np.zeros(3, np.int64)
    p1 = np.zeros(3, np.int64)
    wk = np.zeros((13, d * d))
    sc = np.zeros(3)
    tmp = np.zeros((19, max(d * d, 4)))
    gout = np.zeros(d)
    dv = np.zeros(d)
    af = np.empty(nbrs.shape[0], np.int64)
    afp = np.empty((nbrs.shape[0], 3), np.int64)
    ms = 0 if mconst else 1
    nf = far.shape[0]
    n_acc = 0
    n1 = 0
    n2 = 0
    stop = 0
    while count > 0:
        inew = tree[1]
        if not math.isfinite(V[inew]):
            stop = 3
            break
        tree[1] = tree[count]
        pos[tree[1]] = 1
        count -= 1
        if count > 0:
            _sift_down(tree, pos, V, 1, count)
        pos[inew] = 0
        status[inew] = FRONT
        n_acc += 1
        if V[inew] > v_max:
            stop = 2
            break
        _decode(inew, shape, d, pn)
        if refine and wi0[inew] >= 0:
            # the value's segment again, with its end tangents optimised: grad V from a minimum
            _decode(wi0[inew], shape, d, p0)
            _decode(wi1[inew], shape, d, p1)
            _load(wk, sc, wi0[inew], wi1[inew], inew, p0, p1, pn, d, lo, h, V, G, drift, sigma, metric, mconst)
            g = _refine(wlam[inew], wk, sc, d, lo, h, shape, strides, drift, metric, mconst, tmp, gout)
            G[inew, :d] = gout
            if refine == 2 and g < V[inew]:
                V[inew] = g
        # characteristic direction b + Sigma grad V of the new node
        for a in range(d):
            s = drift[inew, a]
            for j in range(d):
                s += sigma[inew * ms, a * d + j] * G[inew, j]
            C[inew, a] = s
        # reach of this node's pushes: the minimum action path to a node x leaves the front at a base
        # whose ends both precede x, about 1 / cos(angle of the characteristic to grad V) spacings back
        cg = 0.0
        cc = 0.0
        gg = 0.0
        for a in range(d):
            cg += C[inew, a] * G[inew, a]
            cc += C[inew, a] * C[inew, a]
            gg += G[inew, a] * G[inew, a]
        nfz = nf
        if cg > 0.0:
            kz = REACH_A * math.sqrt(cc * gg) / cg + REACH_B
            if kz < far_cnt.shape[0] - 1:
                nfz = far_cnt[max(int(math.ceil(kz)), 2)]
        naf = 0
        for k in range(n_tri):
            if _in_box(pn, nbrs[k], shape, d, p1):
                i1 = _flat(p1, strides, d)
                if status[i1] >= FRONT:
                    af[naf] = i1
                    for a in range(d):
                        afp[naf, a] = p1[a]
                    naf += 1
        fast = _inside(pn, far_ext, shape, d)
        for k in range(nfz):
            if fast:
                ind = inew + far_flat[k]
                for a in range(d):
                    px[a] = pn[a] + far[k, a]
            else:
                if not _in_box(pn, far[k], shape, d, px):
                    continue
                ind = _flat(px, strides, d)
            if status[ind] >= FRONT or fixed[ind]:
                continue
            vold = V[ind]
            cd = 0.0
            cn = 0.0
            dn = 0.0
            for a in range(d):
                dv[a] = h[a] * far[k, a]
                cd += C[inew, a] * dv[a]
                cn += C[inew, a] * C[inew, a]
                dn += dv[a] * dv[a]
            near = True
            for a in range(d):
                if abs(far[k, a]) > 1:
                    near = False
            if near or (ONE_POINT_FAR and cd > 0.5 * math.sqrt(cn * dn)):
                g = _update(
                    inew,
                    inew,
                    ind,
                    pn,
                    pn,
                    px,
                    d,
                    lo,
                    h,
                    shape,
                    strides,
                    V,
                    G,
                    drift,
                    sigma,
                    metric,
                    mconst,
                    wk,
                    sc,
                    tmp,
                    gout,
                    0.0,
                    math.inf,
                )
                n1 += 1
                if g < V[ind]:
                    V[ind] = g
                    G[ind, :d] = gout
                    tri[ind] = False
                    wi0[ind] = inew
                    wi1[ind] = inew
                    wlam[ind] = 0.0
            for m in range(naf):
                i1 = af[m]
                if d == 2:
                    # x between the two characteristic rays: the crosses c x (x - z) differ in sign
                    c2 = C[inew, 0] * dv[1] - C[inew, 1] * dv[0]
                    e0 = dv[0] - h[0] * (afp[m, 0] - pn[0])
                    e1 = dv[1] - h[1] * (afp[m, 1] - pn[1])
                    c3 = C[i1, 0] * e1 - C[i1, 1] * e0
                    if c2 * c3 > 0.0:
                        continue
                    # where the ray crossing moves between the ends, linear in l (a first guess)
                    lam0 = c2 / (c2 - c3) if c2 != c3 else 0.5
                else:
                    c3 = 0.0
                    for a in range(d):
                        c3 += C[i1, a] * (dv[a] - h[a] * (afp[m, a] - pn[a]))
                    if cd <= 0.0 or c3 <= 0.0:
                        continue
                    lam0 = 0.5
                for a in range(d):
                    p1[a] = afp[m, a]
                g = _update(
                    inew,
                    i1,
                    ind,
                    pn,
                    p1,
                    px,
                    d,
                    lo,
                    h,
                    shape,
                    strides,
                    V,
                    G,
                    drift,
                    sigma,
                    metric,
                    mconst,
                    wk,
                    sc,
                    tmp,
                    gout,
                    lam0,
                    V[ind],
                )
                n2 += 1
                if g < V[ind]:
                    V[ind] = g
                    G[ind, :d] = gout
                    tri[ind] = True
                    wi0[ind] = inew
                    wi1[ind] = i1
                    wlam[ind] = sc[2]
            if V[ind] < vold:
                if status[ind] == FAR:
                    status[ind] = CONSIDERED
                    count += 1
                    tree[count] = ind
                    pos[ind] = count
                _sift_up(tree, pos, V, pos[ind])
    counts[0] = n_acc
    counts[1] = n1
    counts[2] = n2
    counts[3] = stop
    n1f = 0
    for i in range(n):
        if status[i] >= FRONT and not fixed[i] and not tri[i]:
            n1f += 1
    counts[4] = n1f


# --------------------------------------------------------------------------------------------------
# Python driver
