"""CS231n's relative error between analytic and numerical gradients, and its bands.

``rel = |a - n| / max(|a| + |n|, 1e-8)`` for an analytic gradient entry ``a`` and its central
difference ``n``: below 1e-7 good, up to 1e-4 acceptable where the function has kinks (ReLU,
max-pool), 1e-4 to 1e-2 uncomfortable, above 1e-2 wrong. Used by ``bareprop sanity``
(:mod:`bareprop.check.sanity`). NumPy only.
"""

from __future__ import annotations

import numpy as np

from bareprop.check.gradcheck import as_float64, central_difference, freeze_randomness
from bareprop.nn.losses import Loss
from bareprop.nn.sequential import Sequential

GOOD, ACCEPTABLE, WRONG = 1e-7, 1e-4, 1e-2  # CS231n's bands for the relative error
# A gradient is judged only if |a| + |n| >= ROUNDING * eps(float64) * max(|f|, 1) / eps: the
# numerical gradient carries a rounding error of a few eps(float64) * |f| / eps, so below that
# the relative error measures rounding (above it, rounding adds at most about 1e-5).
ROUNDING = 1e5


def band(rel: float) -> str:
    """CS231n's reading of a relative error."""
    if rel < GOOD:
        return "good"
    if rel <= ACCEPTABLE:
        return "acceptable with kinks"
    if rel <= WRONG:
        return "uncomfortable"
    return "wrong"


def _probe_entries(grad: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Half the entries of largest analytic gradient, half drawn at random from the rest (a
    bug that zeroes a gradient shows in the random half, where the numerical one is not 0)."""
    flat = np.abs(grad.reshape(-1))
    n = min(n, flat.size)
    top = np.argsort(-flat, kind="stable")[: n // 2]
    rest = np.setdiff1d(np.arange(flat.size), top)
    return np.concatenate([top, rng.choice(rest, size=n - len(top), replace=False)])


def relative_errors(
    model: Sequential,
    loss: Loss,
    x: np.ndarray,
    y: np.ndarray,
    *,
    probes: int,
    rng: np.random.Generator,
    eps: float = 1e-6,
) -> dict[str, tuple[float, int, int]]:
    """Per array (input, then each parameter): ``(largest relative error, entries judged,
    entries skipped)`` over ``probes`` entries (see :func:`_probe_entries`), on a float64 copy.

    Skipped: an entry whose central difference straddles a kink (its one-sided slopes disagree,
    e.g. a ReLU input or a max-pool tie within ``eps``), and one whose gradient
    ``|a| + |n|`` is too small to measure: float64 rounding leaves the numerical gradient an
    error of a few ``eps(float64) * |f| / eps`` (about 1e-9 for a loss of 2.3 at ``eps=1e-6``),
    so the relative error of a gradient below :data:`ROUNDING` times that measures rounding,
    not the backward pass.
    """
    net = as_float64(model)
    x64 = np.array(x, dtype=np.float64, order="C")
    restore = freeze_randomness(net)

    def f() -> float:
        restore()
        return float(loss.forward(net.forward(x64), y))

    f0 = f()
    floor = ROUNDING * np.finfo(np.float64).eps * max(abs(f0), 1.0) / eps
    dx = net.backward(np.asarray(loss.backward(), dtype=np.float64))
    arrays = [("input", x64, np.asarray(dx))]
    arrays += [(name, p.data, p.grad.copy()) for name, p in net.named_parameters()]
    result = {}
    for name, a, grad in arrays:
        flat, worst, used = a.reshape(-1), 0.0, 0
        idx = _probe_entries(grad, probes, rng)
        for i in idx:
            plus, minus = central_difference(f, flat, int(i), eps)
            n, g = (plus - minus) / (2 * eps), float(grad.reshape(-1)[i])
            kink = abs((plus - f0) - (f0 - minus)) / eps > 1e-5 + 1e-3 * abs(n)
            if kink or abs(g) + abs(n) < floor:
                continue
            worst = max(worst, abs(g - n) / max(abs(g) + abs(n), 1e-8))
            used += 1
        result[name] = (worst, used, len(idx) - used)
    return result


__all__ = ["ACCEPTABLE", "GOOD", "ROUNDING", "WRONG", "band", "relative_errors"]
