"""``bareprop predict MODEL IMAGE...``: the digit in each image, with the probabilities."""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np


def add_parser(sub: Any) -> None:
    p = sub.add_parser("predict", help="classify image files (any format) with a saved model")
    p.add_argument("model", help="a model.npz written by bareprop train")
    p.add_argument(
        "images", nargs="+", metavar="IMAGE", help="image files; converted to 28x28 grey like MNIST"
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from bareprop.data.mnist import inputs_for, model_input_shape
    from bareprop.files.model_file import load
    from bareprop.show.images import to_mnist
    from bareprop.train.fit import predict_proba

    model = load(args.model)
    shape = model.metadata.get("preprocessing", {}).get("image_shape", [28, 28])
    try:
        model_input_shape(model, shape)
    except ValueError as e:
        raise ValueError(f"{args.model}: {e}") from None
    images = np.stack([to_mnist(path, size=shape[0]) for path in args.images])
    probs = predict_proba(model, inputs_for(model, images))
    classes = model.metadata.get("classes") or [str(c) for c in range(probs.shape[1])]
    for path, p in zip(args.images, probs, strict=True):
        best = int(p.argmax())
        print(f"{path}: {classes[best]}  ({100 * p[best]:.1f}%)")
        print("  " + "  ".join(f"{classes[c]}:{p[c]:.3f}" for c in range(len(p))))
    return 0
