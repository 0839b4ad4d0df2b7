"""``bareprop export MODEL OUT.onnx``: the model and its preprocessing as one ONNX graph."""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

from bareprop.errors import BarepropError


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "export", help="write a saved model as ONNX: raw pixels in, logits and probabilities out"
    )
    p.add_argument("model", help="a model.npz written by bareprop train")
    p.add_argument("out", help="the .onnx file to write (atomically; nothing on an error)")
    p.add_argument(
        "--image-shape", type=int, nargs="+", metavar="N", default=None,
        help="one image's shape, e.g. 28 28 (default: the model file's preprocessing)",
    )  # fmt: skip
    p.add_argument(
        "--pixel-scale", type=float, default=None,
        help="what each pixel is multiplied by (default: the model file's, 1/255)",
    )  # fmt: skip
    p.add_argument(
        "--verify", action="store_true",
        help="run the graph in onnxruntime on the test images and compare with bareprop",
    )  # fmt: skip
    p.add_argument(
        "--data-dir", metavar="DIR", default=None,
        help="test images for --verify (default: $BAREPROP_DATA, else the bundled MNIST)",
    )  # fmt: skip
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from bareprop.files.model_file import load

    try:
        from bareprop.export import export_onnx
    except ImportError as e:
        raise BarepropError(f"export needs onnx ({e}): pip install 'bareprop[onnx]'") from None
    model = load(args.model)
    proto = export_onnx(model, args.out, image_shape=args.image_shape, pixel_scale=args.pixel_scale)
    dims = [d.dim_param or d.dim_value for d in proto.graph.input[0].type.tensor_type.shape.dim]
    shape = ", ".join(str(d) for d in dims)
    print(
        f"wrote {args.out}: input pixels ({shape}) float32 0..255; "
        f"outputs logits, probabilities ({dims[0]}, {model.out_features})"
    )
    if args.verify:
        verify(model, args.out, args.data_dir)
    return 0


def verify(model: Any, path: str, data_dir: str | None) -> None:
    """Print how far onnxruntime's outputs are from bareprop's on the test images."""
    try:
        import onnxruntime
    except ImportError as e:
        raise BarepropError(
            f"--verify needs onnxruntime ({e}): pip install 'bareprop[onnx]'"
        ) from None
    import bareprop as bp
    from bareprop.data import load_mnist, preprocess

    _, (images, labels) = load_mnist(data_dir)
    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    expected = session.get_inputs()[0].shape[1:]
    if list(images.shape[1:]) != expected:
        raise BarepropError(
            f"--verify: the graph takes images {expected}, the data has {images.shape[1:]}"
        )
    logits, probabilities = session.run(None, {"pixels": images.astype(np.float32)})
    x = preprocess(images, model.dtype)
    ours = model.eval().forward(x)
    diff_logits = float(np.abs(logits - ours).max())
    diff_proba = float(np.abs(probabilities - bp.predict_proba(model, x)).max())
    agree = float(np.mean(logits.argmax(axis=1) == ours.argmax(axis=1)))
    print(f"onnxruntime {onnxruntime.__version__} on {len(images)} test images:")
    print(f"  max |logits - bareprop|: {diff_logits:.2e}   max |probabilities - bareprop|: "
          f"{diff_proba:.2e}   same predictions: {100 * agree:.2f}%")  # fmt: skip
    print(f"  test accuracy: onnx {100 * np.mean(logits.argmax(axis=1) == labels):.2f}%, "
          f"bareprop {100 * np.mean(ours.argmax(axis=1) == labels):.2f}%")  # fmt: skip
