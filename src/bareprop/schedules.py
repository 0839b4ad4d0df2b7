"""``bareprop.schedules``, importable as before; it lives in :mod:`bareprop.optim.schedules`."""

from bareprop.optim.schedules import *  # noqa: F403
from bareprop.optim.schedules import __all__ as __all__
