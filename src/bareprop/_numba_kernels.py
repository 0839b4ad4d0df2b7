"""The numba loops behind :mod:`bareprop._kernels` (imported only when numba is installed).

Each loop repeats, element by element and in the same order, the NumPy operations of the
matching ``step`` in :mod:`bareprop.optimizers`; see :mod:`bareprop._kernels` for why the
results are bit-identical. Arrays are 1-D and contiguous; scalars have the arrays' dtype.
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
