"""bareprop: neural networks trained by backpropagation, from scratch in NumPy.

The core imports NumPy only; the CLI, plots and the PyTorch comparison live at the edge.
"""

from bareprop import datasets, gradcheck, initializers, schedules
from bareprop.errors import BarepropError, DataError, ModelFileError
from bareprop.files.model_file import load, save
from bareprop.nn import Dropout, Layer, LeakyReLU, Linear, Parameter, ReLU, Sigmoid, Tanh
from bareprop.nn.graph import Add, Mul
from bareprop.nn.init import get_initializer
from bareprop.nn.losses import Loss, MSELoss, SoftmaxCrossEntropy
from bareprop.nn.sequential import Sequential, build_mlp
from bareprop.optim import SGD, Adam, AdamW, Optimizer, RMSprop
from bareprop.train.fit import TrainingDiverged, evaluate, fit, predict, predict_proba
from bareprop.train.state import FitState, TrainingInterrupted

__version__ = "0.1.0"

__all__ = [
    "SGD",
    "Adam",
    "AdamW",
    "Add",
    "BarepropError",
    "DataError",
    "Dropout",
    "FitState",
    "Layer",
    "LeakyReLU",
    "Linear",
    "Loss",
    "MSELoss",
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
