"""Optimisers with the update rules of ``torch.optim``: they know parameters, never layers.

Imports :mod:`bareprop.nn` (for ``Parameter``) and NumPy only.
"""

from bareprop.optim.adam import Adam, AdamW
from bareprop.optim.optimizer import Optimizer
from bareprop.optim.rmsprop import RMSprop
from bareprop.optim.sgd import SGD

OPTIMIZERS: dict[str, type[Optimizer]] = {
    "sgd": SGD,
    "adam": Adam,
    "adamw": AdamW,
    "rmsprop": RMSprop,
}

__all__ = ["OPTIMIZERS", "SGD", "Adam", "AdamW", "Optimizer", "RMSprop"]
