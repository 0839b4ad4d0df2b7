"""The maths of a network: Parameter, the Layer contract, layers, Sequential, losses, init.

NumPy only. Imports nothing from bareprop but :mod:`bareprop.validation`, :mod:`bareprop.errors`
and the compiled loops of :mod:`bareprop.fast.kernels`.
"""

from bareprop.nn.activations import ACTIVATIONS, LeakyReLU, ReLU, Sigmoid, Tanh
from bareprop.nn.dropout import Dropout
from bareprop.nn.graph import Add, Mul
from bareprop.nn.layer import LAYERS, Layer, Parameter, layer_from_config, register_layer
from bareprop.nn.linear import Linear
from bareprop.nn.losses import LOSSES, Loss, MSELoss, SoftmaxCrossEntropy
from bareprop.nn.sequential import Sequential, build_mlp

__all__ = [
    "ACTIVATIONS",
    "LAYERS",
    "LOSSES",
    "Add",
    "Dropout",
    "Layer",
    "LeakyReLU",
    "Linear",
    "Loss",
    "MSELoss",
    "Mul",
    "Parameter",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "SoftmaxCrossEntropy",
    "Tanh",
    "build_mlp",
    "layer_from_config",
    "register_layer",
]
