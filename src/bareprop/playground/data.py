"""The playground's data: a toy 2-D set split in two, or MNIST, as float32 arrays."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bareprop.data.toy import TOY_SETS
from bareprop.playground.settings import Settings
from bareprop.playground.views import b64, grid_points

EVAL_SIZE = 1000  # MNIST: the curves are measured on this many training and test samples
STRIP = 16  # MNIST: test digits shown with their predictions


@dataclass
class PlayData:
    """One data set, split. ``x_*`` float32 ``(N, features)``, ``y_*`` int64 ``(N,)``.

    ``x_eval``/``y_eval`` is the part of the training set whose loss the curves show (all of
    it for a 2-D set). ``grid`` is the decision boundary's sample points (2-D sets only).
    """

    kind: str  # "2d" or "mnist"
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    n_classes: int
    x_eval: np.ndarray
    y_eval: np.ndarray
    extent: tuple[float, float, float, float] = (-1.0, 1.0, -1.0, 1.0)
    grid: np.ndarray | None = None
    strip: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # test indices

    def payload(self) -> dict[str, Any]:
        """What the page draws once per data set: the points, or the strip's digits."""
        if self.kind == "2d":
            return {"kind": "2d", "extent": list(self.extent), "classes": self.n_classes,
                    "train": points(self.x_train, self.y_train),
                    "test": points(self.x_test, self.y_test)}  # fmt: skip
        digits = np.round(self.x_test[self.strip] * 255)
        return {"kind": "mnist", "classes": self.n_classes, "strip": b64(digits),
                "strip_labels": self.y_test[self.strip].tolist(),
                "train_size": len(self.x_train), "test_size": len(self.x_test)}  # fmt: skip


def points(x: np.ndarray, y: np.ndarray) -> list[list[float]]:
    """``[[x0, x1, label], ...]`` for the page, rounded to 4 decimals."""
    return [
        [round(float(a), 4), round(float(b), 4), int(c)] for (a, b), c in zip(x, y, strict=True)
    ]


def toy(settings: Settings, rng: np.random.Generator) -> PlayData:
    """A 2-D set drawn with ``rng`` and split: the last ``test_fraction`` is the test set."""
    x, y = TOY_SETS[settings.dataset](settings.samples, settings.noise, rng)
    x = x.astype(np.float32)
    n_test = max(1, round(settings.test_fraction * len(x)))
    lo = float(min(x.min(), -1.0)) - 0.1
    hi = float(max(x.max(), 1.0)) + 0.1
    extent = (lo, hi, lo, hi)
    xtr, ytr = x[:-n_test], y[:-n_test]
    return PlayData("2d", xtr, ytr, x[-n_test:], y[-n_test:], int(y.max()) + 1, xtr, ytr,
                    extent=extent, grid=grid_points(extent).astype(np.float32))  # fmt: skip


def mnist(rng: np.random.Generator, data_dir: str | None = None) -> PlayData:
    """MNIST (bundled, ``data_dir`` or ``$BAREPROP_DATA``), pixels scaled to [0, 1]."""
    from bareprop.data.mnist import load_mnist, preprocess

    (xtr, ytr), (xte, yte) = load_mnist(data_dir)
    x_train, x_test = preprocess(xtr, np.float32), preprocess(xte, np.float32)
    y_train, y_test = ytr.astype(np.int64), yte.astype(np.int64)
    n_classes = int(max(y_train.max(), y_test.max())) + 1
    sub = rng.permutation(len(x_train))[:EVAL_SIZE]
    test_sub = rng.permutation(len(x_test))[:EVAL_SIZE]
    data = PlayData("mnist", x_train, y_train, x_test[test_sub], y_test[test_sub], n_classes,
                    x_train[sub], y_train[sub])  # fmt: skip
    data.strip = np.arange(min(STRIP, len(data.x_test)))
    return data
