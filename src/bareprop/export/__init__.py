"""Export trained models to other formats: ONNX (``pip install 'bareprop[onnx]'``).

At the edge: nothing in the core imports this package, and it imports ``onnx`` itself.
:mod:`~bareprop.export.onnx_export` builds the graph; :mod:`~bareprop.export.onnx_ops`
holds one converter per layer type.
"""

from bareprop.export.onnx_export import export_onnx, to_onnx
from bareprop.export.onnx_ops import CONVERTERS, ExportError, register

__all__ = ["CONVERTERS", "ExportError", "export_onnx", "register", "to_onnx"]
