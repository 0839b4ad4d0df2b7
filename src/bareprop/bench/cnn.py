"""The reference CNN in ``bareprop bench``: PyTorch's twin of it, and the matrix products of
one of its training steps alone (the floor under any im2col implementation, "GEMMs alone")."""

from __future__ import annotations

from typing import Any

import numpy as np

# (rows of the im2col matrix per image, its columns, output channels) for the two convolutions
# of the reference CNN on 28x28 images (a bias column included), then the two Linear layers.
CONVS = ((26 * 26, 1 * 9 + 1, 32), (11 * 11, 32 * 9 + 1, 64))
DENSE = ((1600, 128), (128, 10))


def cnn_gemms(batch_size: int, steps: int, timed: Any) -> dict[str, float]:
    """Per step: each conv's forward GEMM and weight-gradient GEMM, the second conv's input-
    gradient GEMM (one per kernel offset, batched), and each Linear's three GEMMs but the
    first dx. Arrays are allocated once; ``timed(run_steps, steps)`` times them."""
    rng = np.random.default_rng(0)
    n = batch_size

    def rand(*shape: int) -> np.ndarray:
        return (rng.standard_normal(shape) * 0.05).astype(np.float32)

    convs = [(rand(n * m, k), rand(k, o), rand(n * m, o)) for m, k, o in CONVS]
    conv_out = [np.empty((n * m, o), np.float32) for m, _, o in CONVS]
    conv_grad = [np.empty((k, o), np.float32) for _, k, o in CONVS]
    _, k2, o2 = CONVS[1]
    w_offsets = rand(9, o2, (k2 - 1) // 9)
    dcol = np.empty((9, n * CONVS[1][0], (k2 - 1) // 9), np.float32)
    dense = [(rand(n, a), rand(a, b), rand(n, b)) for a, b in DENSE]
    dense_out = [np.empty((n, b), np.float32) for _, b in DENSE]
    dense_grad = [np.empty((a, b), np.float32) for a, b in DENSE]
    dense_dx = [np.empty((n, a), np.float32) for a, _ in DENSE]

    def run_steps(k: int) -> None:
        for _ in range(k):
            for (col, w, dy), out, grad in zip(convs, conv_out, conv_grad, strict=True):
                np.matmul(col, w, out=out)
                np.matmul(col.T, dy, out=grad)
            np.matmul(convs[1][2], w_offsets, out=dcol)
            for i, ((x, w, dy), out, grad) in enumerate(
                zip(dense, dense_out, dense_grad, strict=True)
            ):
                np.matmul(x, w, out=out)
                np.matmul(x.T, dy, out=grad)
                np.matmul(dy, w.T, out=dense_dx[i])

    return dict(timed(run_steps, steps))


def torch_cnn() -> Any:
    """``bareprop.build_cnn()`` in torch.nn."""
    import torch

    nn = torch.nn
    return nn.Sequential(
        nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3), nn.ReLU(),
        nn.MaxPool2d(2), nn.Flatten(), nn.Linear(1600, 128), nn.ReLU(), nn.Linear(128, 10),
    )  # fmt: skip
