"""``bareprop.datasets``, importable as before: the data sets now live in :mod:`bareprop.data`."""

from bareprop.data import *  # noqa: F403
from bareprop.data import __all__ as __all__
