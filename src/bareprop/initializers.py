"""``bareprop.initializers``, importable as before; it lives in :mod:`bareprop.nn.init`."""

from bareprop.nn.init import *  # noqa: F403
from bareprop.nn.init import __all__ as __all__
