"""``BarepropClassifier``: bareprop's networks behind scikit-learn's estimator contract."""

from __future__ import annotations

import copy
import warnings
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

import bareprop as bp
from bareprop.sklearn import build, stopping


class BarepropClassifier(ClassifierMixin, BaseEstimator):
    """A bareprop MLP as a scikit-learn classifier: fit, predict, predict_proba, partial_fit.

    Parameters follow ``bareprop train``'s options; the early-stopping ones
    (``early_stopping``, ``validation_fraction``, ``n_iter_no_change``, ``tol``) mean what they
    mean in :class:`sklearn.neural_network.MLPClassifier`.

    The defaults are chosen for tabular data of a few hundred to a few tens of thousands of
    rows, not ``bareprop train``'s recipe (tuned for 54,000 MNIST images): one hidden layer
    of 256 ReLU units (He init), Adam at lr 1e-3 with a constant rate, batches of 32, up to
    200 epochs that stop once the training loss has not improved by ``tol`` for
    ``n_iter_no_change`` epochs (MLPClassifier's rule). On ``load_digits`` in a pipeline with
    ``MinMaxScaler`` this gives 95.4% 3-fold accuracy with ``random_state=0`` (95.3% on
    average over seeds 0-7, from 94.9% to 95.5%), where MLPClassifier's defaults (100 units,
    batches of 200) give 94.2% and ours with those sizes 94.5-95.1% (mean 94.8%): the wider
    layer and the smaller batches (more steps per epoch) are what reach 95%. On a few hundred
    rows an epoch takes about a millisecond, so the hundreds of small fits of
    ``check_estimator`` take a few seconds. ``dtype`` is float64 by
    default, as scikit-learn's estimators compute, so that predictions do not depend on how
    rows are batched (float32 matrix products may round differently for other row counts).

    Args:
        hidden: hidden layer sizes, an int or a sequence (``()``: softmax regression).
        activation: ``relu``, ``leaky_relu``, ``sigmoid`` or ``tanh``.
        loss: ``cross-entropy`` (softmax on logits) or ``mse`` (sigmoid outputs vs one-hot).
        init: an initialiser name of :mod:`bareprop.initializers`, for every Linear weight.
        optimizer: ``sgd``, ``adam``, ``adamw`` or ``rmsprop``, as in ``torch.optim``.
        lr, momentum, nesterov, weight_decay: the optimiser's, as in ``torch.optim``.
        dropout: after each hidden layer, in ``[0, 1)``.
        lr_schedule: ``constant``, ``linear`` or ``cosine`` over ``max_iter`` epochs.
        batch_size: samples per step (the whole set if it is smaller).
        max_iter: most epochs ``fit`` runs (``bareprop train --epochs``).
        early_stopping: hold out ``validation_fraction`` of the training set (stratified),
            stop when its accuracy has not improved by ``tol`` for ``n_iter_no_change``
            epochs, and keep the weights of the best epoch. Without it the training loss
            decides when to stop, and the last weights are kept.
        validation_fraction, n_iter_no_change, tol: see ``early_stopping``.
        architecture: ``"mlp"``, or a callable ``(estimator, n_features, n_classes, rngs) ->
            bareprop.Sequential`` (the hook for a conv net; see ``build.ARCHITECTURES``).
        dtype: ``"float64"`` or ``"float32"``, the weights' and computation's.
        random_state: an int, a ``numpy.random.RandomState`` or None; seeds the initial
            weights, the shuffling, dropout and the validation split.
        verbose: 1 prints the loss of every epoch.

    Attributes:
        classes_: the labels seen, sorted, shape ``(n_classes,)``; any type (strings too).
        n_features_in_: number of input features.
        model_: the trained :class:`bareprop.Sequential` (``bareprop.save`` writes it).
        loss_curve_: training loss per epoch (the average over the epoch's batches).
        validation_scores_: validation accuracy per epoch with ``early_stopping``, else None.
        best_validation_score_, best_loss_: the best of either (the other is None).
        n_iter_: epochs run; t_: optimiser steps taken.
    """

    # Set by fit / partial_fit (annotations only: an unfitted estimator has none of them).
    classes_: np.ndarray
    n_features_in_: int
    model_: bp.Sequential
    loss_curve_: list[float]
    validation_scores_: list[float] | None
    best_validation_score_: float | None
    best_loss_: float | None
    n_iter_: int
    t_: int

    def __init__(
        self,
        hidden: Any = (256,),
        activation: str = "relu",
        loss: str = "cross-entropy",
        init: str = "he_uniform",
        optimizer: str = "adam",
        lr: float = 1e-3,
        momentum: float = 0.0,
        nesterov: bool = False,
        weight_decay: float = 0.0,
        dropout: float = 0.0,
        lr_schedule: str = "constant",
        batch_size: int = 32,
        max_iter: int = 200,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        n_iter_no_change: int = 10,
        tol: float = 1e-4,
        architecture: Any = "mlp",
        dtype: str = "float64",
        random_state: Any = None,
        verbose: int = 0,
    ) -> None:
        self.hidden = hidden
        self.activation = activation
        self.loss = loss
        self.init = init
        self.optimizer = optimizer
        self.lr = lr
        self.momentum = momentum
        self.nesterov = nesterov
        self.weight_decay = weight_decay
        self.dropout = dropout
        self.lr_schedule = lr_schedule
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.architecture = architecture
        self.dtype = dtype
        self.random_state = random_state
        self.verbose = verbose

    # -- fitting ---------------------------------------------------------------------------
    def fit(self, X: Any, y: Any) -> BarepropClassifier:
        """Train from scratch on ``X`` ``(n_samples, n_features)`` and labels ``y`` ``(n,)``.

        Runs :func:`bareprop.fit` one epoch at a time until ``max_iter`` epochs or until the
        stopping rule (see ``early_stopping``) fires; warns with ``ConvergenceWarning`` if it
        never fired.
        """
        build.check_params(self)
        X, y = self._validate(X, y, reset=True)
        self.classes_ = np.unique(y)
        self._start(X.shape[1])
        codes = np.searchsorted(self.classes_, y)
        if self.early_stopping:
            x_fit, x_val, y_fit, y_val = train_test_split(
                X, codes, test_size=self.validation_fraction, stratify=codes,
                random_state=int(self._rngs["split"].integers(2**31)),
            )  # fmt: skip
            converged = stopping.on_validation(self, x_fit, y_fit, (x_val, y_val))
        else:
            converged = stopping.on_loss(self, X, codes)
        if not converged:
            warnings.warn(
                f"BarepropClassifier: max_iter={self.max_iter} epochs reached and the "
                "optimisation has not converged yet",
                ConvergenceWarning,
                stacklevel=2,
            )
        return self

    def partial_fit(self, X: Any, y: Any, classes: Any = None) -> BarepropClassifier:
        """One epoch over ``(X, y)``, continuing from the current weights and optimiser state.

        Args:
            X: features ``(n_samples, n_features)``.
            y: labels ``(n_samples,)``, all in ``classes``.
            classes: every label there will ever be; required on the first call only.
        """
        first = not hasattr(self, "classes_")
        if first:
            build.check_params(self)
            if classes is None:
                raise ValueError("classes must be passed on the first call to partial_fit")
        X, y = self._validate(X, y, reset=first)
        if classes is not None:
            classes = np.unique(np.asarray(classes))
            if not first and not np.array_equal(classes, self.classes_):
                raise ValueError(
                    f"classes={classes!r} is not the same as on the first call: {self.classes_!r}"
                )
        if first:
            self.classes_ = classes
            self._start(X.shape[1])
            self.validation_scores_ = self.best_validation_score_ = None
            self.best_loss_ = np.inf
        unknown = np.setdiff1d(y, self.classes_)
        if unknown.size:
            raise ValueError(
                f"y holds label(s) {unknown.tolist()!r} not in classes {self.classes_.tolist()!r}"
            )
        self._epoch(X, np.searchsorted(self.classes_, y), None)
        if self.best_loss_ is not None:
            self.best_loss_ = min(self.best_loss_, self.loss_curve_[-1])
        return self

    def _validate(self, X: Any, y: Any, *, reset: bool) -> tuple[np.ndarray, np.ndarray]:
        dtype = np.dtype(self.dtype)
        X, y = validate_data(self, X, y, reset=reset, dtype=dtype, order="C")
        check_classification_targets(y)
        return X, y

    def _start(self, n_features: int) -> None:
        """A fresh model, optimiser and fit state; ``self.classes_`` is set."""
        seed = check_random_state(self.random_state).randint(np.iinfo(np.int32).max)
        self._rngs = build.seeded_rngs(int(seed))
        self.model_ = build.build_model(self, n_features, len(self.classes_), self._rngs)
        self._optimizer = build.build_optimizer(self, self.model_)
        self._loss = build.LOSSES[self.loss]()
        self._state = bp.FitState()
        self.loss_curve_ = []
        self.n_iter_ = self.t_ = 0

    def _epoch(self, X: np.ndarray, codes: np.ndarray, validation: Any) -> dict[str, float]:
        """One epoch of :func:`bareprop.fit`, continuing ``self._state``; returns its logs."""
        steps_per_epoch = -(-len(X) // self.batch_size)
        schedule = build.planned_schedule(self.lr_schedule, self.max_iter * steps_per_epoch)
        history = bp.fit(
            self.model_, X, codes, loss=self._loss, optimizer=self._optimizer,
            epochs=self._state.epoch + 1, batch_size=self.batch_size, validation_data=validation,
            rng=self._rngs["shuffle"], verbose=0, lr_schedule=schedule, state=self._state,
        )  # fmt: skip
        logs = {key: values[-1] for key, values in history.items() if values}
        self.loss_curve_.append(logs["loss"])
        self.n_iter_, self.t_ = self._state.epoch, self._state.step
        if self.verbose:
            print(f"Iteration {self.n_iter_}, loss = {logs['loss']:.8f}")
        return logs

    # -- predicting ------------------------------------------------------------------------
    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities ``(n_samples, n_classes)``, columns in ``classes_`` order."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=self.model_.dtype, order="C")
        return bp.predict_proba(self.model_, X).astype(np.float64, copy=False)

    def predict_log_proba(self, X: Any) -> np.ndarray:
        """``log(predict_proba(X))`` (``-inf`` where a probability is 0)."""
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def predict(self, X: Any) -> np.ndarray:
        """The most probable label per sample, shape ``(n_samples,)``, from ``classes_``."""
        check_is_fitted(self)
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    # -- pickling --------------------------------------------------------------------------
    def __getstate__(self) -> dict[str, Any]:
        """The optimiser travels as its ``state_dict``.

        It keeps the model's parameters packed in one buffer (``p.data`` are views of it);
        a pickle would store the buffer and the views as separate copies, and a
        ``partial_fit`` after loading would then update a buffer the model no longer reads.
        """
        state = dict(super().__getstate__())
        if "_optimizer" in state:
            state["_optimizer"] = state["_optimizer"].state_dict()
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        optimizer = state.get("_optimizer")
        super().__setstate__(state)
        if isinstance(optimizer, dict):
            self._optimizer = build.build_optimizer(self, self.model_)
            self._optimizer.load_state_dict(copy.deepcopy(optimizer))

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = True
        tags.input_tags.allow_nan = False
        return tags


# Checks of sklearn.utils.estimator_checks.check_estimator this estimator is expected to fail,
# with the reason; pass it as check_estimator(..., expected_failed_checks=...).
EXPECTED_FAILED_CHECKS: dict[str, str] = {}
