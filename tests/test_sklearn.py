"""``bareprop.sklearn.BarepropClassifier`` keeps scikit-learn's estimator contract."""

from __future__ import annotations

import pickle
import warnings
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("sklearn")

from sklearn.base import clone
from sklearn.datasets import load_digits, load_iris
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler
from sklearn.utils.estimator_checks import check_estimator

import bareprop as bp
from bareprop.sklearn import EXPECTED_FAILED_CHECKS, BarepropClassifier

# Fits that end at max_iter warn, as MLPClassifier's do; scikit-learn's own test suite
# ignores ConvergenceWarning in check_estimator too.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def iris() -> tuple[np.ndarray, np.ndarray]:
    x, y = load_iris(return_X_y=True)
    return MinMaxScaler().fit_transform(x), y


def test_sklearn_is_the_real_package() -> None:
    import sklearn

    import bareprop

    package = Path(bareprop.__file__).resolve().parent  # the venv's own path may say bareprop
    assert not Path(sklearn.__file__).resolve().is_relative_to(package)
    assert BarepropClassifier.__mro__[-2].__module__.startswith("sklearn.")


def test_passes_check_estimator_with_default_parameters() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", pytest.PytestUnraisableExceptionWarning)
        results = check_estimator(
            BarepropClassifier(),
            expected_failed_checks=EXPECTED_FAILED_CHECKS,
            on_fail=None,
            on_skip=None,
        )
    failed = {r["check_name"]: repr(r["exception"]) for r in results if r["status"] == "failed"}
    assert failed == {}
    skipped = {r["check_name"] for r in results if r["status"] == "skipped"}
    allowed = {"check_array_api_input"}  # needs SCIPY_ARRAY_API=1; we claim no array API
    try:
        import pandas  # noqa: F401
    except ImportError:
        allowed |= {
            "check_classifier_data_not_an_array",
            "check_dataframe_column_names_consistency",
        }
    assert skipped <= allowed
    assert len(results) > 40


def test_string_labels_probabilities_and_score(iris: tuple[np.ndarray, np.ndarray]) -> None:
    x, y = iris
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    clf = BarepropClassifier(hidden=(32,), random_state=0).fit(x, names)
    assert clf.classes_.tolist() == ["setosa", "versicolor", "virginica"]
    assert clf.n_features_in_ == 4
    proba = clf.predict_proba(x)
    assert proba.shape == (150, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    assert set(clf.predict(x)) <= set(clf.classes_)
    assert (clf.predict(x) == clf.classes_[proba.argmax(axis=1)]).all()
    assert clf.score(x, names) > 0.9
    assert len(clf.loss_curve_) == clf.n_iter_ and clf.validation_scores_ is None
    assert isinstance(clf.model_, bp.Sequential)


def test_same_random_state_same_model(iris: tuple[np.ndarray, np.ndarray]) -> None:
    x, y = iris
    a = BarepropClassifier(hidden=(8,), max_iter=5, dropout=0.2, random_state=3).fit(x, y)
    b = BarepropClassifier(hidden=(8,), max_iter=5, dropout=0.2, random_state=3).fit(x, y)
    np.testing.assert_array_equal(a.predict_proba(x), b.predict_proba(x))


def test_pipeline_grid_search_and_cross_val_score(iris: tuple[np.ndarray, np.ndarray]) -> None:
    x, y = iris
    pipe = make_pipeline(MinMaxScaler(), BarepropClassifier(lr=1e-2, max_iter=50, random_state=0))
    grid = GridSearchCV(pipe, {"barepropclassifier__hidden": [(8,), (32,)]}, cv=3)
    grid.fit(x, y)
    assert grid.best_params_["barepropclassifier__hidden"] in [(8,), (32,)]
    assert cross_val_score(clone(pipe), x, y, cv=3).mean() > 0.8


def test_digits_pipeline_reaches_95_percent() -> None:
    x, y = load_digits(return_X_y=True)
    pipe = make_pipeline(MinMaxScaler(), BarepropClassifier(random_state=0))
    assert cross_val_score(pipe, x, y, cv=3).mean() >= 0.95


def test_early_stopping_keeps_the_best_epoch(iris: tuple[np.ndarray, np.ndarray]) -> None:
    x, y = iris
    params = dict(hidden=(16,), early_stopping=True, validation_fraction=0.2, random_state=1)
    clf = BarepropClassifier(n_iter_no_change=3, max_iter=300, **params).fit(x, y)
    scores = clf.validation_scores_
    assert scores is not None and len(scores) == clf.n_iter_ == len(clf.loss_curve_)
    best_epoch = int(np.argmax(scores)) + 1  # the first best: later ties do not replace it
    assert clf.best_validation_score_ == max(scores)
    assert clf.n_iter_ < 300 and clf.best_loss_ is None
    # The same run cut at the best epoch has the same weights: the best were put back.
    cut = BarepropClassifier(n_iter_no_change=3, max_iter=best_epoch, **params).fit(x, y)
    for p, q in zip(clf.model_.parameters(), cut.model_.parameters(), strict=True):
        np.testing.assert_array_equal(p.data, q.data)


def test_partial_fit(iris: tuple[np.ndarray, np.ndarray]) -> None:
    x, y = iris
    clf = BarepropClassifier(hidden=(16,), lr=1e-2, random_state=0)
    with pytest.raises(ValueError, match="classes must be passed"):
        clf.partial_fit(x, y)
    clf.partial_fit(x[:50], y[:50], classes=[0, 1, 2])
    assert clf.classes_.tolist() == [0, 1, 2] and clf.n_iter_ == 1
    first = clf.score(x, y)
    for _ in range(30):
        clf.partial_fit(x, y)
    assert clf.n_iter_ == 31 and len(clf.loss_curve_) == 31
    assert clf.score(x, y) > max(first, 0.8)
    with pytest.raises(ValueError, match="not in classes"):
        clf.partial_fit(x[:3], [0, 1, 7])
    with pytest.raises(ValueError, match="same as on the first call"):
        clf.partial_fit(x, y, classes=[0, 1])


def test_partial_fit_after_pickling_trains_the_model(iris: tuple[np.ndarray, np.ndarray]) -> None:
    # The optimiser keeps the weights packed in one buffer; a pickle must not cut the link.
    x, y = iris
    clf = BarepropClassifier(hidden=(16,), random_state=0).partial_fit(x, y, classes=[0, 1, 2])
    copy = pickle.loads(pickle.dumps(clf))
    clf.partial_fit(x, y)
    copy.partial_fit(x, y)
    np.testing.assert_array_equal(copy.predict_proba(x), clf.predict_proba(x))


def test_mse_loss_and_schedules(iris: tuple[np.ndarray, np.ndarray]) -> None:
    x, y = iris
    for kwargs in ({"loss": "mse", "optimizer": "sgd", "lr": 0.5}, {"lr_schedule": "cosine"}):
        clf = BarepropClassifier(hidden=(16,), max_iter=60, random_state=0, **kwargs).fit(x, y)
        np.testing.assert_allclose(clf.predict_proba(x).sum(axis=1), 1.0, rtol=1e-12)
        assert clf.score(x, y) > 0.6, kwargs


def test_architecture_hook(iris: tuple[np.ndarray, np.ndarray]) -> None:
    x, y = iris

    def linear(est, n_features, n_classes, rngs):
        return bp.Sequential([bp.Linear(n_features, n_classes, rng=rngs["init"], dtype=est.dtype)])

    clf = BarepropClassifier(architecture=linear, max_iter=20, random_state=0).fit(x, y)
    assert len(clf.model_.layers) == 1


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"lr": -1.0}, "lr"),
        ({"hidden": (10, 0)}, "hidden"),
        ({"activation": "gelu"}, "activation"),
        ({"optimizer": "lbfgs"}, "optimizer"),
        ({"max_iter": 0}, "max_iter"),
        ({"dropout": 1.0}, "dropout"),
        ({"dtype": "float16"}, "dtype"),
        ({"architecture": "conv"}, "architecture"),
        ({"momentum": 0.9}, "momentum"),
    ],
)
def test_bad_parameters_are_named_at_fit(params: dict[str, object], name: str) -> None:
    clf = BarepropClassifier(**params)  # __init__ never checks
    with pytest.raises(ValueError, match=f"^{name}"):
        clf.fit(np.zeros((4, 2)), [0, 1, 0, 1])
