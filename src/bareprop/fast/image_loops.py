"""The numba loops behind the fast convolution and max-pool (:mod:`bareprop.fast.conv`,
:mod:`bareprop.fast.pool`); imported only when numba is installed, like
:mod:`bareprop.fast.numba_loops`.

Arrays are channels-last ``(N, H, W, C)`` and C-contiguous; ``col``/``dcol`` are the im2col
matrices ``(N * Ho * Wo, >= kH * kW * C)``, rows ``(n, p, q)`` and columns ``(i, j, c)``;
scalars have the arrays' dtype. Each loop does what its NumPy version in those modules does,
in one pass: the copies exactly, the comparisons by the same rule, the sums in the same order,
so that both give the same floats (``tests/test_fast_images.py`` checks it, NaN included).
"""

from __future__ import annotations

import numba

_jit = numba.njit(cache=True, nogil=True, error_model="numpy", boundscheck=False)


@_jit
def im2col(xp, col, kh, kw, sh, sw, ho, wo):
    """``col[(n, p, q), (i, j, c)] = xp[n, sh p + i, sw q + j, c]`` (``xp`` padded already).

    A window at a time, its ``kH * kW`` runs of ``C`` values side by side in ``col``; for one
    channel, runs over ``q`` instead (3x faster there than a window at a time).
    """
    n, _, _, c = xp.shape
    for s in range(n):
        for p in range(ho):
            row0 = (s * ho + p) * wo
            if c == 1:
                for i in range(kh):
                    for j in range(kw):
                        for q in range(wo):
                            col[row0 + q, i * kw + j] = xp[s, sh * p + i, sw * q + j, 0]
                continue
            for q in range(wo):
                for i in range(kh):
                    for j in range(kw):
                        base = (i * kw + j) * c
                        for k in range(c):
                            col[row0 + q, base + k] = xp[s, sh * p + i, sw * q + j, k]


@_jit
def col2im(dcol, dxp, kh, kw, sh, sw, ho, wo, zero):
    """``dxp[n, sh p + i, sw q + j, c] += dcol[(n, p, q), (i, j, c)]``, from ``dxp = 0``.

    One image at a time (its ``dxp`` stays in cache), offsets ``(i, j)`` outermost: each pixel
    sums its terms in the order of the NumPy version, one offset's slab after another.
    """
    n, _, _, c = dxp.shape
    for s in range(n):
        dxp[s] = zero
        for i in range(kh):
            for j in range(kw):
                base = (i * kw + j) * c
                for p in range(ho):
                    row0 = (s * ho + p) * wo
                    for q in range(wo):
                        for k in range(c):
                            dxp[s, sh * p + i, sw * q + j, k] += dcol[row0 + q, base + k]


@_jit
def max_pool(x, y, arg, kh, kw, sh, sw, relu, zero):
    """``y`` = each window's maximum, ``arg`` = its offset ``i kW + j``; then ``max(y, 0)``
    if ``relu`` (a ReLU before the pool: the maximum commutes with it).

    torch's rule: the first maximum in row-major order wins a tie, and a NaN wins (the last).
    """
    n, _, _, c = x.shape
    _, ho, wo, _ = y.shape
    for s in range(n):
        for p in range(ho):
            for q in range(wo):
                for k in range(c):
                    y[s, p, q, k] = x[s, sh * p, sw * q, k]
                    arg[s, p, q, k] = 0
                for i in range(kh):
                    for j in range(kw):
                        if i == 0 and j == 0:
                            continue
                        off = i * kw + j
                        for k in range(c):
                            v = x[s, sh * p + i, sw * q + j, k]
                            if v > y[s, p, q, k] or v != v:
                                y[s, p, q, k] = v
                                arg[s, p, q, k] = off
                if relu:
                    for k in range(c):
                        v = y[s, p, q, k]
                        y[s, p, q, k] = v if (v > 0 or v != v) else zero


@_jit
def max_pool_backward(dy, y, arg, dx, kh, kw, sh, sw, relu, zero, one):
    """``dx`` = each window's ``dy`` at its ``arg`` (times ``[y > 0]`` if ``relu``), else 0.

    Windows that do not overlap write their pixels once, with no zeroing pass (unless some
    pixels are in no window: then the image is zeroed first). Overlapping ones add into a
    zeroed ``dx``, windows taken last to first, so that each pixel sums its terms in the NumPy
    version's order.
    """
    n, ho, wo, c = dy.shape
    _, h, w, _ = dx.shape
    disjoint = sh >= kh and sw >= kw
    for s in range(n):
        if not disjoint or sh > kh or sw > kw or sh * ho < h or sw * wo < w:
            dx[s] = zero
        for p in range(ho - 1, -1, -1):
            for q in range(wo - 1, -1, -1):
                for i in range(kh):
                    for j in range(kw):
                        off = i * kw + j
                        for k in range(c):
                            g = dy[s, p, q, k]
                            if relu:
                                g = g * (one if y[s, p, q, k] > 0 else zero)
                            hit = arg[s, p, q, k] == off
                            if disjoint:
                                dx[s, sh * p + i, sw * q + j, k] = g if hit else zero
                            elif hit:
                                dx[s, sh * p + i, sw * q + j, k] += g
