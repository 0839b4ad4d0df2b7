"""Fused loops compiled with numba, when it is installed: one pass where NumPy makes several.

The NumPy form of an Adam step makes about a dozen passes over every weight (each ufunc
reads and writes whole arrays); these loops make one. They do the same float operations in
the same order as the NumPy code in :mod:`bareprop.optimizers`, with every scalar in the
arrays' dtype, no ``fastmath`` (so LLVM neither fuses ``a * b + c`` into an FMA nor reorders)
and ``error_model="numpy"`` (so a division needs no zero check and the loop vectorises):
both paths give bit-identical results, and ``tests/test_speed.py`` checks it.

numba is optional (``pip install "bareprop[fast]"``); without it, or with the environment
variable ``BAREPROP_NUMBA=0``, the NumPy code runs. Compiled code is cached on disk
(``cache=True``), so only the first run pays the compilation (about a second).
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


def enabled() -> bool:
    """Whether the compiled kernels will be used (numba importable, not switched off)."""
    return kernels() is not None


def kernels() -> SimpleNamespace | None:
    """The compiled kernels, or ``None`` if numba is missing or disabled."""
    global _compiled, _tried
    if not _tried:
        _tried = True
        if os.environ.get("BAREPROP_NUMBA", "1") == "0":
            return None
        try:
            with _without_scipy_blas():
                from bareprop import _numba_kernels as compiled
        except ImportError:  # numba is not installed
            return None
        _compiled = SimpleNamespace(
            sgd=compiled.sgd,
            adam=compiled.adam,
            relu=compiled.relu,
            relu_backward=compiled.relu_backward,
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


def _flat(*arrays: np.ndarray | None) -> list[np.ndarray] | None:
    """1-D views of C-contiguous float arrays of one dtype, or None if they are not all that."""
    dtype = arrays[0].dtype  # type: ignore[union-attr]
    for a in arrays:
        if a is None or not a.flags.c_contiguous or a.dtype != dtype:
            return None
    return [a.reshape(-1) for a in arrays]  # type: ignore[union-attr]


def relu(x: np.ndarray, out: np.ndarray | None) -> np.ndarray:
    """``np.maximum(x, 0, out=out)``, in one compiled pass when it can be."""
    compiled = _compiled if _tried else kernels()
    flat = _flat(x, out) if compiled is not None and x.dtype.kind == "f" else None
    if flat is None:
        return np.maximum(x, 0, out=out)
    compiled.relu(*flat, x.dtype.type(0))  # type: ignore[union-attr]
    return out  # type: ignore[return-value]


def relu_backward(
    dy: np.ndarray, y: np.ndarray, mask: np.ndarray | None, out: np.ndarray | None
) -> np.ndarray:
    """``dy * (y > 0)`` into ``out`` (``mask`` is scratch for the NumPy path)."""
    compiled = _compiled if _tried else kernels()
    flat = _flat(dy, y, out) if compiled is not None and dy.dtype.kind == "f" else None
    if flat is None:
        # A bool mask then one multiply: faster than ``dy * (y > 0)``'s cast of the mask.
        return np.multiply(dy, np.greater(y, 0, out=mask), out=out)
    compiled.relu_backward(*flat, dy.dtype.type(0), dy.dtype.type(1))  # type: ignore[union-attr]
    return out  # type: ignore[return-value]
