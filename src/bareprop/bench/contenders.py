"""What one benchmark process runs: a contender trains (or predicts) and reports its time.

Each function here runs in its own process (see :mod:`bareprop.bench.worker`), because two
BLAS thread pools in one process (NumPy's OpenBLAS beside PyTorch's MKL, or SciPy's own
OpenBLAS) fight over the cores and spoil both figures. torch and scikit-learn are imported
inside the function that needs them.

Every contender does the same work per step: take a shuffled batch, forward, softmax
cross-entropy, backward, optimiser step, and keep the running loss and the count of correct
predictions, as ``bareprop.fit`` does.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from bareprop.bench.cnn import cnn_gemms, torch_cnn

WARMUP_STEPS = 20
EPOCH_SAMPLES = 60_000  # an epoch of MNIST: every s/epoch figure is for this many samples


@dataclass(frozen=True)
class BenchConfig:
    """One reference configuration: the network, the optimiser and the batch size."""

    name: str
    optimizer: str  # "sgd" or "adam"
    lr: float
    batch_size: int
    hidden: tuple[int, ...] = (500, 250, 100)
    model: str = "mlp"  # or "cnn": the reference CNN of bareprop.build_cnn

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


REFERENCE = (
    BenchConfig("sgd-b64", "sgd", 0.01, 64),
    BenchConfig("adam-b128", "adam", 1e-3, 128),
)
CNN = BenchConfig("cnn-adam-b128", "adam", 1e-3, 128, model="cnn")
CONFIGS = {cfg.name: cfg for cfg in (*REFERENCE, CNN)}


def images(cfg: BenchConfig, x: np.ndarray) -> np.ndarray:
    """``x`` as ``cfg``'s network takes it: flat pixels, or ``(N, 1, 28, 28)`` for the CNN."""
    return x.reshape(len(x), 1, 28, 28) if cfg.model == "cnn" else x


def load_data(
    n_train: int | None = None, *, synthetic: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """MNIST as float32 in [0, 1]: ``x_train (N, 784), y_train, x_test (10000, 784), y_test``.

    ``synthetic``: random data of the same shapes instead (``n_train`` samples, 256 test),
    for checking the machinery without reading MNIST.
    """
    if synthetic:
        rng = np.random.default_rng(0)
        n = n_train or 1024
        x = rng.random((n + 256, 784), dtype=np.float32)
        y = rng.integers(0, 10, n + 256)
        return x[:n], y[:n], x[n:], y[n:]
    from bareprop.data.mnist import load_mnist, preprocess

    (xtr, ytr), (xte, yte) = load_mnist()
    if n_train is not None:
        xtr, ytr = xtr[:n_train], ytr[:n_train]
    return (
        preprocess(xtr, np.float32), ytr.astype(np.int64),
        preprocess(xte, np.float32), yte.astype(np.int64),
    )  # fmt: skip


def _timed(run_steps: Any, steps: int) -> dict[str, float]:
    """Run ``WARMUP_STEPS`` untimed, then ``steps`` timed; seconds and steps done."""
    run_steps(min(WARMUP_STEPS, steps))
    start = time.perf_counter()
    run_steps(steps)
    return {"seconds": time.perf_counter() - start, "steps": steps}


def seconds_per_epoch(run_steps: Any, steps: int, batch_size: int) -> float:
    """``run_steps(k)`` timed as every contender is (see :func:`_timed`), in s/epoch."""
    return _timed(run_steps, steps)["seconds"] / steps * math.ceil(EPOCH_SAMPLES / batch_size)


@contextlib.contextmanager
def without_fusion() -> Iterator[None]:
    """Within the block ``fit`` runs each Linear and ReLU on its own (the plan's ``fuse``
    option, see :func:`bareprop.fast.plan.use_fusion`): the baseline for measuring what the
    fusion buys."""
    from bareprop.fast import plan

    plan.use_fusion(False)
    try:
        yield
    finally:
        plan.use_fusion(True)


# -- training ---------------------------------------------------------------------------------
def bareprop_train(cfg: BenchConfig, x: np.ndarray, y: np.ndarray, steps: int) -> dict[str, float]:
    """``bareprop.fit`` for ``steps`` steps (whole epochs where ``steps`` allows)."""
    import bareprop as bp

    rng = np.random.default_rng(0)
    if cfg.model == "cnn":
        model, x = bp.build_cnn(rng=rng), images(cfg, x)
    else:
        model = bp.build_mlp(x.shape[1], list(cfg.hidden), 10, rng=rng)
    opt = (
        bp.SGD(model.parameters(), cfg.lr)
        if cfg.optimizer == "sgd"
        else bp.Adam(model.parameters(), cfg.lr)
    )
    loss = bp.SoftmaxCrossEntropy()
    per_epoch = math.ceil(len(x) / cfg.batch_size)

    def run_steps(k: int) -> None:
        epochs, rest = divmod(k, per_epoch)
        if epochs:
            bp.fit(
                model,
                x,
                y,
                loss=loss,
                optimizer=opt,
                epochs=epochs,
                batch_size=cfg.batch_size,
                rng=rng,
                verbose=0,
            )
        if rest:
            n = rest * cfg.batch_size
            bp.fit(
                model,
                x[:n],
                y[:n],
                loss=loss,
                optimizer=opt,
                batch_size=cfg.batch_size,
                rng=rng,
                verbose=0,
            )

    return _timed(run_steps, steps)


def _torch_mlp(n_in: int, hidden: tuple[int, ...]) -> Any:
    import torch

    sizes = [n_in, *hidden]
    layers: list[Any] = []
    for a, b in itertools.pairwise(sizes):
        layers += [torch.nn.Linear(a, b), torch.nn.ReLU()]
    return torch.nn.Sequential(*layers, torch.nn.Linear(sizes[-1], 10))


def torch_train(
    cfg: BenchConfig, x: np.ndarray, y: np.ndarray, steps: int, *, fused: bool = False
) -> dict[str, Any]:
    """PyTorch eager, the usual loop; ``fused`` uses ``Adam(fused=True)`` (else foreach)."""
    import torch

    torch.manual_seed(0)
    model = torch_cnn() if cfg.model == "cnn" else _torch_mlp(x.shape[1], cfg.hidden)
    x = images(cfg, x)
    variant = "default"
    if cfg.optimizer == "sgd":
        opt: Any = torch.optim.SGD(model.parameters(), lr=cfg.lr)
    elif fused:
        try:
            opt, variant = torch.optim.Adam(model.parameters(), lr=cfg.lr, fused=True), "fused"
        except (RuntimeError, TypeError):
            opt, variant = torch.optim.Adam(model.parameters(), lr=cfg.lr, foreach=True), "foreach"
    else:
        opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    loss_fn = torch.nn.CrossEntropyLoss()
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    n, bs = len(x), cfg.batch_size
    position: dict[str, Any] = {"order": torch.randperm(n), "start": 0}

    def run_steps(k: int) -> None:
        loss_sum, correct = 0.0, 0
        for _ in range(k):
            if position["start"] >= n:  # a new epoch: a new order
                position["order"], position["start"] = torch.randperm(n), 0
            start = position["start"]
            idx = position["order"][start : start + bs]
            position["start"] = start + bs
            xb, yb = xt[idx], yt[idx]
            opt.zero_grad()
            out = model(xb)
            loss = loss_fn(out, yb)
            loss.backward()
            opt.step()
            loss_sum += loss.item() * len(idx)
            correct += int((out.argmax(1) == yb).sum())

    result: dict[str, Any] = _timed(run_steps, steps)
    result["variant"] = variant
    return result


def sklearn_train(cfg: BenchConfig, x: np.ndarray, y: np.ndarray, steps: int) -> dict[str, float]:
    """scikit-learn ``MLPClassifier.partial_fit`` (one pass per call), float32, no L2."""
    import warnings

    from sklearn.neural_network import MLPClassifier

    clf = MLPClassifier(
        hidden_layer_sizes=cfg.hidden, solver=cfg.optimizer, learning_rate_init=cfg.lr,
        batch_size=cfg.batch_size, alpha=0.0, momentum=0.0, nesterovs_momentum=False,
        shuffle=True, random_state=0,
    )  # fmt: skip
    classes = np.arange(10)
    bs = cfg.batch_size

    def run_steps(k: int) -> None:
        n = k * bs
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for start in range(0, n, len(x)):  # whole passes, then the rest
                part = min(len(x), n - start)
                clf.partial_fit(x[:part], y[:part], classes=classes)

    return _timed(run_steps, steps)


def gemms_alone(cfg: BenchConfig, x: np.ndarray, y: np.ndarray, steps: int) -> dict[str, float]:
    """Only the matrix products of a step, in NumPy: the bound no NumPy loop can beat.

    Per step: the forward product of each layer, the weight gradient of each layer and the
    input gradient of every layer but the first (11 GEMMs for the reference MLP).
    """
    if cfg.model == "cnn":
        return cnn_gemms(cfg.batch_size, steps, _timed)
    rng = np.random.default_rng(0)
    sizes = [x.shape[1], *cfg.hidden, 10]
    bs = cfg.batch_size
    ws = [
        (rng.standard_normal((a, b)) * 0.05).astype(np.float32)
        for a, b in itertools.pairwise(sizes)
    ]
    grads = [np.empty_like(w) for w in ws]
    acts = [x[:bs].copy()] + [np.empty((bs, w.shape[1]), np.float32) for w in ws]
    deltas = [rng.standard_normal((bs, w.shape[1])).astype(np.float32) for w in ws]
    dxs = [np.empty((bs, w.shape[0]), np.float32) for w in ws]  # never fed back: no denormals

    def run_steps(k: int) -> None:
        for _ in range(k):
            for i, w in enumerate(ws):
                np.matmul(acts[i], w, out=acts[i + 1])
            for i in reversed(range(len(ws))):
                np.matmul(acts[i].T, deltas[i], out=grads[i])
                if i:
                    np.matmul(deltas[i], ws[i].T, out=dxs[i])

    return _timed(run_steps, steps)


# -- prediction -------------------------------------------------------------------------------
def bareprop_predict(cfg: BenchConfig, x: np.ndarray, repeats: int) -> dict[str, float]:
    """``bareprop.predict`` on all of ``x``, ``repeats`` times: ``cfg``'s network."""
    import bareprop as bp

    rng = np.random.default_rng(0)
    if cfg.model == "cnn":
        model, x = bp.build_cnn(rng=rng), images(cfg, x)
    else:
        model = bp.build_mlp(x.shape[1], list(cfg.hidden), 10, rng=rng)
    return _timed(lambda k: [bp.predict(model, x) for _ in range(k)], repeats)


def torch_predict(cfg: BenchConfig, x: np.ndarray, repeats: int) -> dict[str, float]:
    """PyTorch eager inference (``inference_mode``, batches of 2048) and argmax."""
    import torch

    model = (torch_cnn() if cfg.model == "cnn" else _torch_mlp(x.shape[1], cfg.hidden)).eval()
    xt = torch.from_numpy(images(cfg, x))

    def run(k: int) -> None:
        with torch.inference_mode():
            for _ in range(k):
                torch.cat([model(xt[i : i + 2048]).argmax(1) for i in range(0, len(xt), 2048)])

    return _timed(run, repeats)
