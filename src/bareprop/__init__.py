"""bareprop: neural networks trained by backpropagation, from scratch in NumPy.

The core imports NumPy only; the CLI, plots and the PyTorch comparison live at the edge.
"""

from bareprop import datasets, gradcheck, initializers, schedules
from bareprop.errors import BarepropError, DataError, ModelFileError
from bareprop.files.model_file import load, save
from bareprop.nn import (
    AvgPool2d,
    BatchNorm1d,
    BatchNorm2d,
    Conv2d,
    Dropout,
    Flatten,
    Layer,
    LayerNorm,
    LeakyReLU,
    Linear,
    MaxPool2d,
    Parameter,
    ReLU,
    Sigmoid,
    Tanh,
)
from bareprop.nn.graph import Add, Mul
from bareprop.nn.init import get_initializer
from bareprop.nn.losses import Loss, MSELoss, SoftmaxCrossEntropy
from bareprop.nn.models import build_cnn, build_mlp
from bareprop.nn.sequential import Sequential
from bareprop.optim import SGD, Adam, AdamW, Optimizer, RMSprop
from bareprop.train.fit import TrainingDiverged, evaluate, fit, predict, predict_proba
from bareprop.train.state import FitState, TrainingInterrupted

__version__ = "0.1.0"

__all__ = [
    "SGD",
    "Adam",
    "AdamW",
    "Add",
    "AvgPool2d",
    "BarepropError",
    "BatchNorm1d",
    "BatchNorm2d",
    "Conv2d",
    "DataError",
    "Dropout",
    "FitState",
    "Flatten",
    "Layer",
    "LayerNorm",
    "LeakyReLU",
    "Linear",
    "Loss",
    "MSELoss",
    "MaxPool2d",
    "ModelFileError",
    "Mul",
    "Optimizer",
    "Parameter",
    "RMSprop",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "SoftmaxCrossEntropy",
    "Tanh",
    "TrainingDiverged",
    "TrainingInterrupted",
    "__version__",
    "build_cnn",
    "build_mlp",
    "datasets",
    "evaluate",
    "fit",
    "get_initializer",
    "gradcheck",
    "initializers",
    "load",
    "predict",
    "predict_proba",
    "save",
    "schedules",
]
