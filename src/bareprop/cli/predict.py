"""``bareprop predict MODEL IMAGE...``: the digit in each image, with the probabilities.

Every image is reported, in order. One that cannot be read, or that holds no digit (too
small, blank, or almost without ink: the rule is in :mod:`bareprop.show.images`), gets an
error line instead of a guess; the exit status is then 2, after all the others.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from bareprop.errors import DataError


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "predict",
        help="classify image files (any format) with a saved model",
        description="Print the digit in each image and the ten probabilities. An image is "
        "turned into an MNIST-like one (grey, inverted if the digit is dark on light, fitted "
        "into 20x20 and centred in 28x28). An image that cannot be read, or holds no digit "
        "(smaller than 8x8 pixels, blank, or with almost no ink), is reported as such, not "
        "guessed at. Exit status 0 if every image was classified, 2 if any was not.",
    )
    p.add_argument("model", help="a model.npz written by bareprop train")
    p.add_argument(
        "images", nargs="+", metavar="IMAGE", help="image files; converted to 28x28 grey like MNIST"
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from bareprop.data.mnist import inputs_for, model_input_shape
    from bareprop.files.model_file import load
    from bareprop.show.images import load_digit
    from bareprop.train.fit import predict_proba

    model = load(args.model)
    side = model.metadata.get("preprocessing", {}).get("image_shape", [28, 28])[0]
    try:
        model_input_shape(model, (side, side))
    except ValueError as e:  # an MLP for other images than these
        raise ValueError(f"{args.model}: {e}") from None
    names = model.metadata.get("classes")
    failed = 0
    for path in args.images:
        try:
            image = load_digit(path, size=side)
        except DataError as e:
            print(f"bareprop predict: error: {e}", file=sys.stderr, flush=True)
            failed += 1
            continue
        x = inputs_for(model, image[None])
        p = predict_proba(model, x)[0]
        best, classes = int(p.argmax()), names or [str(c) for c in range(len(p))]
        print(f"{path}: {classes[best]}  ({100 * p[best]:.1f}%)")
        print("  " + "  ".join(f"{classes[c]}:{p[c]:.3f}" for c in range(len(p))), flush=True)
    return 2 if failed else 0
