"""Layers for images: convolution, pooling, normalisation, flatten (torch.nn names, NCHW).

One module per concept; each imports NumPy and :mod:`bareprop.layers` only. The readable
``forward``/``backward`` live here; the fast versions are in :mod:`bareprop.fast.conv`.
"""

from bareprop.nn.conv import Conv2d
from bareprop.nn.norm import BatchNorm1d, BatchNorm2d, LayerNorm
from bareprop.nn.pool import AvgPool2d, MaxPool2d
from bareprop.nn.shape import Flatten

__all__ = ["AvgPool2d", "BatchNorm1d", "BatchNorm2d", "Conv2d", "Flatten", "LayerNorm", "MaxPool2d"]
