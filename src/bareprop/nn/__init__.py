"""The maths of a network: Parameter, the Layer contract and registry, the layers (dense,
convolution, pooling, normalisation), Sequential, losses, initialisers, Mul/Add graph nodes.

Core, NumPy only: each layer's forward beside its backward. Imports nothing from bareprop but
:mod:`bareprop.validation` and :mod:`bareprop.errors`.
"""

from bareprop.nn.activations import ACTIVATIONS, LeakyReLU, ReLU, Sigmoid, Tanh
from bareprop.nn.conv import Conv2d
from bareprop.nn.dropout import Dropout
from bareprop.nn.graph import Add, Mul
from bareprop.nn.layer import LAYERS, Layer, Parameter, layer_from_config, register_layer
from bareprop.nn.layernorm import LayerNorm
from bareprop.nn.linear import Linear
from bareprop.nn.losses import LOSSES, Loss, MSELoss, SoftmaxCrossEntropy
from bareprop.nn.models import build_cnn, build_mlp
from bareprop.nn.norm import BatchNorm1d, BatchNorm2d
from bareprop.nn.pool import AvgPool2d, MaxPool2d
from bareprop.nn.sequential import Sequential
from bareprop.nn.shape import Flatten

__all__ = [
    "ACTIVATIONS",
    "LAYERS",
    "LOSSES",
    "Add",
    "AvgPool2d",
    "BatchNorm1d",
    "BatchNorm2d",
    "Conv2d",
    "Dropout",
    "Flatten",
    "Layer",
    "LayerNorm",
    "LeakyReLU",
    "Linear",
    "Loss",
    "MSELoss",
    "MaxPool2d",
    "Mul",
    "Parameter",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "SoftmaxCrossEntropy",
    "Tanh",
    "build_cnn",
    "build_mlp",
    "layer_from_config",
    "register_layer",
]
