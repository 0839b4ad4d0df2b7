"""``bareprop.gradcheck``, importable as before; it lives in :mod:`bareprop.check.gradcheck`."""

from bareprop.check.gradcheck import *  # noqa: F403
from bareprop.check.gradcheck import __all__ as __all__
