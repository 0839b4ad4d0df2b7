"""The numba loops behind :mod:`bareprop.fast.kernels` (imported only when numba is installed).

Each loop repeats, element by element and in the same order, the NumPy operations it
replaces: the matching ``step`` in :mod:`bareprop.optim` (and its flat NumPy form in
:mod:`bareprop.fast.flat`), or the NumPy fallback of its wrapper in
:mod:`bareprop.fast.kernels`; see there for why the results are bit-identical. Arrays
are C-contiguous (1-D for the optimiser steps, ReLU and the finite check; (N, K) for the
rest); scalars have the arrays' dtype.
"""

from __future__ import annotations

import numba
import numpy as np

_jit = numba.njit(cache=True, nogil=True, error_model="numpy", boundscheck=False)


@_jit
def sgd(p, g, b, lr, momentum, weight_decay, nesterov, first):
    """SGD: g += wd p; b = g (first step) or momentum b + g; g = g + momentum b or b; p -= lr g.

    The flags are the same for every element, so LLVM hoists the branches out of the loop.
    """
    for i in range(p.size):
        gi = g[i]
        if weight_decay != 0:
            gi = gi + p[i] * weight_decay
        if momentum != 0:
            bi = gi if first else b[i] * momentum + gi
            b[i] = bi
            gi = gi + bi * momentum if nesterov else bi
        p[i] = p[i] - gi * lr


@_jit
def adam(p, g, m, v, beta1, one_minus_beta1, beta2, one_minus_beta2, bias2_sqrt, eps, step_size,
         weight_decay, decay, decoupled):  # fmt: skip
    """Adam: m = beta1 m + (1 - beta1) g; v = beta2 v + (1 - beta2) g^2;
    p -= step_size m / (sqrt(v) / bias2_sqrt + eps). AdamW first scales p by ``decay``.
    """
    for i in range(p.size):
        gi = g[i]
        if weight_decay != 0:
            if decoupled:
                p[i] = p[i] * decay
            else:
                gi = gi + p[i] * weight_decay
        mi = m[i] * beta1 + gi * one_minus_beta1
        vi = v[i] * beta2 + (gi * gi) * one_minus_beta2
        m[i] = mi
        v[i] = vi
        p[i] = p[i] - (mi / (np.sqrt(vi) / bias2_sqrt + eps)) * step_size


@_jit
def relu(x, y, zero):
    """``y = max(x, 0)`` as ``np.maximum``: NaN passes through, -0.0 becomes +0.0."""
    for i in range(x.size):
        xi = x[i]
        y[i] = xi if (xi > 0 or xi != xi) else zero


@_jit
def relu_backward(dy, y, dx, zero, one):
    """``dx = dy * [y > 0]``, the multiplication kept so that signs and NaNs match NumPy's."""
    for i in range(dy.size):
        dx[i] = dy[i] * (one if y[i] > 0 else zero)


@_jit
def bias_relu(y, b, zero):
    """``y = max(y + b, 0)`` in place, ``y`` (N, K) and ``b`` (K,): a Linear's bias and its ReLU."""
    n, k = y.shape
    for i in range(n):
        for j in range(k):
            yi = y[i, j] + b[j]
            y[i, j] = yi if (yi > 0 or yi != yi) else zero


@_jit
def relu_bias_backward(dy, y, dz, bias_grad, zero, one):
    """``dz = dy * [y > 0]`` and ``bias_grad = dz`` summed over rows, in one pass.

    The sum starts at zero and adds the rows in order, as NumPy's ``sum(axis=0)`` of a
    C-contiguous array does (so ``-0.0`` columns sum to ``+0.0`` there and here).
    """
    n, k = dy.shape
    for j in range(k):
        bias_grad[j] = zero
    for i in range(n):
        for j in range(k):
            d = dy[i, j] * (one if y[i, j] > 0 else zero)
            dz[i, j] = d
            bias_grad[j] += d


@_jit
def column_sums(dy, out, zero):
    """``out = dy.sum(axis=0)``, rows added in order from zero, as NumPy does."""
    n, k = dy.shape
    for j in range(k):
        out[j] = zero
    for i in range(n):
        for j in range(k):
            out[j] += dy[i, j]


@_jit
def shift_rows(z, labels, shifted, picked):
    """``shifted = z - max(z, axis=1)`` (a NaN in a row makes its max NaN, as in NumPy) and
    ``picked[i] = shifted[i, labels[i]]``.
    """
    n, c = z.shape
    for i in range(n):
        m = z[i, 0]
        for j in range(1, c):
            v = z[i, j]
            if v > m or v != v:
                m = v
        for j in range(c):
            shifted[i, j] = z[i, j] - m
        picked[i] = shifted[i, labels[i]]


@_jit
def softmax_ce_grad(e, sums, labels, scale, grad):
    """``grad = e * (scale / sums)``, then ``scale`` taken from each row's label entry."""
    n, c = e.shape
    for i in range(n):
        q = scale / sums[i, 0]
        for j in range(c):
            grad[i, j] = e[i, j] * q
        grad[i, labels[i]] -= scale


@_jit
def all_finite(a):
    """``np.isfinite(a).all()`` for a 1-D array, without the boolean copy."""
    for i in range(a.size):
        if not np.isfinite(a[i]):
            return False
    return True
