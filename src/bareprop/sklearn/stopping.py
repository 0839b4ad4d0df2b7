"""When ``BarepropClassifier.fit`` stops: MLPClassifier's two rules, one epoch at a time.

Each runs ``est._epoch`` (one epoch of :func:`bareprop.fit`) up to ``est.max_iter`` times and
returns whether its rule fired (False: ``max_iter`` was reached first). An epoch that does not
improve on the best value so far by at least ``tol`` counts as stalled; more than
``n_iter_no_change`` stalled epochs in a row stop the run.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def on_loss(est: Any, X: np.ndarray, codes: np.ndarray) -> bool:
    """Stop when the training loss stalls; the last weights are kept."""
    est.validation_scores_ = est.best_validation_score_ = None
    best_loss, stalled = np.inf, 0
    for _ in range(est.max_iter):
        loss = est._epoch(X, codes, None)["loss"]
        stalled = 0 if loss <= best_loss - est.tol else stalled + 1
        best_loss = min(best_loss, loss)
        est.best_loss_ = best_loss
        if stalled > est.n_iter_no_change:
            return True
    return False


def on_validation(
    est: Any, X: np.ndarray, codes: np.ndarray, validation: tuple[np.ndarray, np.ndarray]
) -> bool:
    """Stop when the accuracy on ``validation`` stalls; the best epoch's weights are put back."""
    scores: list[float] = []
    est.validation_scores_, est.best_loss_ = scores, None
    best_score, stalled, converged = -np.inf, 0, False
    params = est.model_.parameters()
    best = [p.data.copy() for p in params]
    for _ in range(est.max_iter):
        score = est._epoch(X, codes, validation)["val_accuracy"]
        scores.append(score)
        stalled = 0 if score >= best_score + est.tol else stalled + 1
        if score > best_score:  # strictly better: a later tie does not replace the best
            best_score = score
            best = [p.data.copy() for p in params]
        if stalled > est.n_iter_no_change:
            converged = True
            break
    est.best_validation_score_ = best_score
    for p, data in zip(params, best, strict=True):
        p.data[...] = data  # in place: the optimiser packs the parameters into one buffer
    return converged
