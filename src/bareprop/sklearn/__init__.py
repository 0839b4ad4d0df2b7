"""scikit-learn estimators over bareprop's networks (``pip install bareprop[sklearn]``).

Nothing in ``bareprop`` imports this package: ``import bareprop`` never loads scikit-learn.
Inside it, ``import sklearn`` is absolute and means the real scikit-learn.
"""

try:
    import sklearn  # noqa: F401
except ImportError as e:  # pragma: no cover - depends on what is installed
    raise ImportError("bareprop.sklearn needs scikit-learn: pip install 'bareprop[sklearn]'") from e

from bareprop.sklearn.estimator import EXPECTED_FAILED_CHECKS, BarepropClassifier

__all__ = ["EXPECTED_FAILED_CHECKS", "BarepropClassifier"]
