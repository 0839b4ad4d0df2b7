"""The library's own exceptions.

Each is also a ``ValueError``, so code that catches the standard exception keeps working; the
CLI catches :class:`BarepropError` (and ``ValueError``) and prints one line.
"""

from __future__ import annotations


class BarepropError(ValueError):
    """Base class of every error bareprop raises on purpose."""


class DataError(BarepropError):
    """A data file is missing, truncated, corrupt, of the wrong type or inconsistent."""


class ModelFileError(BarepropError):
    """A model file is missing, truncated, tampered with or incompatible."""
