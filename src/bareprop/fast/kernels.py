"""Fused loops compiled with numba, when it is installed: one pass where NumPy makes several.

The NumPy form of an Adam step makes about a dozen passes over every weight (each ufunc reads
and writes whole arrays); its loop makes one. The same goes for the other hot spots of a
training step: the optimiser steps, ReLU, a Linear's bias with the ReLU after it (forward) and
the ReLU's mask with the bias gradient (backward), the softmax cross-entropy around NumPy's own
``exp`` and ``log``, the finite check of the gradients, and im2col, col2im and max-pooling
(:mod:`bareprop.fast.image_loops`). The NumPy code each loop replaces stays as the fallback
(in :mod:`bareprop.fast.flat` for the steps, :mod:`bareprop.fast.conv` and
:mod:`bareprop.fast.pool` for the image loops, in the wrappers below for the rest); the
textbook code in :mod:`bareprop.nn` and :mod:`bareprop.optim` is the specification both
follow. The loops do the same float operations in the same order, with every scalar in the
arrays' dtype, no ``fastmath`` (so LLVM neither fuses ``a * b + c`` into an FMA nor reorders)
and ``error_model="numpy"`` (so a division needs no zero check and the loop vectorises): both
paths give bit-identical results, and ``tests/test_speed.py`` (``tests/test_fast_images.py``
for the image loops) checks it.

numba is optional (``pip install "bareprop[fast]"``); without it, or with the environment
variable ``BAREPROP_NUMBA=0``, the NumPy code runs. Compiled code is cached on disk
(``cache=True``), so only the first run pays the compilation (one to two seconds).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from types import SimpleNamespace

import numpy as np

_compiled: SimpleNamespace | None = None
_tried = False


def kernels() -> SimpleNamespace | None:
    """The compiled kernels, or ``None`` if numba is missing or disabled."""
    global _compiled, _tried
    if not _tried:
        _tried = True
        if os.environ.get("BAREPROP_NUMBA", "1") == "0":
            return None
        try:
            with _without_scipy_blas():
                from bareprop.fast import image_loops
                from bareprop.fast import numba_loops as compiled
        except ImportError:  # numba is not installed
            return None
        _compiled = SimpleNamespace(
            sgd=compiled.sgd,
            adam=compiled.adam,
            relu=compiled.relu,
            relu_backward=compiled.relu_backward,
            bias_relu=compiled.bias_relu,
            relu_bias_backward=compiled.relu_bias_backward,
            column_sums=compiled.column_sums,
            shift_rows=compiled.shift_rows,
            softmax_ce_grad=compiled.softmax_ce_grad,
            all_finite=compiled.all_finite,
            im2col=image_loops.im2col,
            col2im=image_loops.col2im,
            max_pool=image_loops.max_pool,
            max_pool_backward=image_loops.max_pool_backward,
        )
    return _compiled


@contextmanager
def _without_scipy_blas() -> Iterator[None]:
    """Keep SciPy's BLAS out of the process while numba starts.

    When numba's CPU target starts (``numba.np.arraymath``), it imports
    ``scipy.linalg.cython_blas`` if SciPy is installed, which loads SciPy's own OpenBLAS and
    its thread pool beside NumPy's: two BLAS pools on the same cores, a step up to 10x slower.
    Our loops never call BLAS, so that import is made to fail (numba then does without).
    """
    if "scipy.linalg" in sys.modules:  # already there: nothing left to keep out
        yield
        return
    sys.modules["scipy.linalg"] = None  # type: ignore[assignment]  # import raises ImportError
    try:
        import numba.np.arraymath  # noqa: F401  # where numba looks for SciPy's BLAS

        yield
    finally:
        if sys.modules.get("scipy.linalg", 0) is None:
            del sys.modules["scipy.linalg"]


def use(on: bool) -> None:
    """Switch the compiled kernels on (if numba is installed) or off, e.g. to compare both."""
    global _compiled, _tried
    _compiled, _tried = None, not on
    if on:
        os.environ.pop("BAREPROP_NUMBA", None)


def relu(x: np.ndarray, out: np.ndarray | None) -> np.ndarray:
    """``np.maximum(x, 0, out=out)``, in one compiled pass when it can be."""
    compiled = None if out is None else compiled_for(x, out)
    if compiled is None or out is None:
        return np.maximum(x, 0, out=out)
    compiled.relu(x.reshape(-1), out.reshape(-1), x.dtype.type(0))
    return out


def relu_backward(
    dy: np.ndarray, y: np.ndarray, mask: np.ndarray | None, out: np.ndarray | None
) -> np.ndarray:
    """``dy * (y > 0)`` into ``out`` (``mask`` is scratch for the NumPy path)."""
    compiled = None if out is None else compiled_for(dy, y, out)
    if compiled is None or out is None:
        # A bool mask then one multiply: faster than ``dy * (y > 0)``'s cast of the mask.
        return np.multiply(dy, np.greater(y, 0, out=mask), out=out)
    f = dy.dtype.type
    compiled.relu_backward(dy.reshape(-1), y.reshape(-1), out.reshape(-1), f(0), f(1))
    return out


def compiled_for(*arrays: np.ndarray) -> SimpleNamespace | None:
    """The compiled kernels if they can take these arrays (one float dtype, C-contiguous), or
    None: numba is missing or switched off, or the NumPy version must run."""
    compiled = _compiled if _tried else kernels()
    if compiled is None:
        return None
    dtype = arrays[0].dtype
    if dtype.kind != "f":
        return None
    for a in arrays:  # a loop, not all(...): this runs several times per training step
        if a.dtype != dtype or not a.flags.c_contiguous:
            return None
    return compiled


def bias_relu(y: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``y = max(y + b, 0)`` in place (``y`` (N, K), ``b`` (K,)): one pass instead of two."""
    compiled = compiled_for(y, b) if y.ndim == 2 else None
    if compiled is None:
        np.add(y, b, out=y)
        return np.maximum(y, 0, out=y)
    compiled.bias_relu(y, b, y.dtype.type(0))
    return y


def relu_bias_backward(
    dy: np.ndarray,
    y: np.ndarray,
    mask: np.ndarray | None,
    dz: np.ndarray | None,
    bias_grad: np.ndarray,
) -> np.ndarray:
    """``dz = dy * (y > 0)`` and ``bias_grad = dz.sum(axis=0)``, in one pass when it can be.

    ``mask`` is scratch for the NumPy path. Returns ``dz``.
    """
    dz = np.empty_like(dy) if dz is None else dz
    compiled = compiled_for(dy, y, dz, bias_grad) if dy.ndim == 2 else None
    if compiled is None:
        np.multiply(dy, np.greater(y, 0, out=mask), out=dz)
        np.sum(dz, axis=0, out=bias_grad)
        return dz
    f = dy.dtype.type
    compiled.relu_bias_backward(dy, y, dz, bias_grad, f(0), f(1))
    return dz


def column_sums(dy: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``np.sum(dy, axis=0, out=out)`` for a 2-D ``dy`` (a bias gradient)."""
    compiled = compiled_for(dy, out) if dy.ndim == 2 else None
    if compiled is None:
        return np.sum(dy, axis=0, out=out)
    compiled.column_sums(dy, out, dy.dtype.type(0))
    return out


def shift_rows(z: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``z - z.max(axis=1, keepdims=True)`` and, per row, its entry at the label."""
    compiled = compiled_for(z) if z.ndim == 2 and z.shape[1] else None
    if compiled is None:
        shifted = z - z.max(axis=1, keepdims=True)
        return shifted, shifted[np.arange(len(labels)), labels]
    shifted, picked = np.empty_like(z), np.empty(len(z), z.dtype)
    compiled.shift_rows(z, labels, shifted, picked)
    return shifted, picked


def softmax_ce_grad(
    e: np.ndarray, sums: np.ndarray, labels: np.ndarray, scale: float
) -> np.ndarray:
    """``e * (scale / sums)`` with ``scale`` then subtracted at each row's label."""
    compiled = compiled_for(e, sums)
    if compiled is None:
        grad = e * (scale / sums)
        grad[np.arange(len(labels)), labels] -= scale
        return grad
    grad = np.empty_like(e)
    compiled.softmax_ce_grad(e, sums, labels, e.dtype.type(scale), grad)
    return grad


def all_finite(a: np.ndarray) -> bool:
    """``np.isfinite(a).all()`` for a 1-D float array (a bias gradient, checked every step)."""
    compiled = compiled_for(a) if a.ndim == 1 else None
    if compiled is None:
        return bool(np.isfinite(a).all())
    return bool(compiled.all_finite(a))
