"""A meta-estimator that fits its estimator on the labelled rows only."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from sklearn.base import BaseEstimator, MetaEstimatorMixin
from sklearn.utils import get_tags
from sklearn.utils.validation import (
    _num_samples,
    check_is_fitted,
    column_or_1d,
    validate_data,
)

from ..base import (
    _clone_seeded,
    _labelled_mask,
    _labels_of,
    _reject_nan_labels,
    _take_rows,
    _WrappedClassifierMixin,
)

__all__ = ["LabelledOnly"]



class LabelledOnly(MetaEstimatorMixin, _WrappedClassifierMixin, BaseEstimator):
    """Fit a classifier on the labelled rows only; ``y == -1`` rows are skipped.

    The last step of a semi-supervised :class:`~sklearn.pipeline.Pipeline`:
    the steps before it (e.g. :class:`~sktransfer.SelfTaughtTransformer`)
    learn from every row, unlabelled rows (``y == -1``) included, while this
    step hands only the labelled rows to ``estimator``. So ``-1`` never
    becomes a class, and ``classes_`` holds only the labels seen. A pandas
    DataFrame reaches ``estimator`` as a DataFrame (its rows selected), so a
    :class:`~sklearn.compose.ColumnTransformer` inside it can select columns
    by name.

    Parameters
    ----------
    estimator : classifier, default=None
        The classifier fitted on the labelled rows (cloned in ``fit``). None
        means :class:`~sklearn.linear_model.LogisticRegression`.
    random_state : int, RandomState instance or None, default=None
        If not None and the estimator has a ``random_state`` parameter, it is
        set to this value on the clone, so one seed controls a whole pipeline.

    Attributes
    ----------
    estimator_ : classifier
        The fitted clone of ``estimator``.
    classes_ : ndarray of shape (n_classes,)
        The class labels (never ``-1``).
    n_features_in_ : int
        Number of features seen in ``fit``.
    feature_names_in_ : ndarray of shape (n_features,)
        Names of the features seen in ``fit``, when ``X`` has string column names.

    See Also
    --------
    SelfTaughtTransformer : learns a representation from the unlabelled rows.
    sklearn.semi_supervised.SelfTrainingClassifier : labels the unlabelled rows
        with the classifier's own confident predictions instead.

    Examples
    --------
    >>> import numpy as np
    >>> from sktransfer import LabelledOnly
    >>> X = np.array([[0.0], [0.1], [0.9], [1.0], [0.5]])
    >>> y = np.array([0, 0, 1, 1, -1])
    >>> clf = LabelledOnly().fit(X, y)
    >>> clf.classes_
    array([0, 1])
    >>> clf.predict([[0.05], [0.95]])
    array([0, 1])
    """

    # Its fit takes no domains, so its prediction methods, which accept skada's
    # sample_domain, do not ask routers for it (the domain-adaptation estimators do):
    # a sample_domain meant for this fit is refused as before ("not routed to any
    # object") instead of being handed to score and dropped, and one routed to a
    # splitter beside it is not pressed on it either.
    __metadata_request__predict: ClassVar[dict] = {"sample_domain": False}
    __metadata_request__predict_proba: ClassVar[dict] = {"sample_domain": False}
    __metadata_request__predict_log_proba: ClassVar[dict] = {"sample_domain": False}
    __metadata_request__decision_function: ClassVar[dict] = {"sample_domain": False}
    __metadata_request__score: ClassVar[dict] = {"sample_domain": False}

    def __init__(self, estimator=None, random_state=None):
        self.estimator = estimator
        self.random_state = random_state

    def fit(self, X, y, sample_weight=None) -> LabelledOnly:
        """Fit ``estimator`` on the rows whose label is not ``-1``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            All rows, labelled and unlabelled.
        y : array-like of shape (n_samples,)
            Class labels; ``-1`` marks unlabelled rows, which are skipped.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the rows, passed on for the labelled rows.

        Returns
        -------
        self : LabelledOnly
            The fitted estimator.
        """
        _reject_nan_labels(y)
        X_given = X
        X, y = validate_data(
            self, X, y, accept_sparse=("csr", "csc"), dtype=None, ensure_all_finite=False,
            y_numeric=False,
        )
        X = _keep_frame(X_given, X)
        y = column_or_1d(y, warn=True)
        labelled = _labelled_mask(y)
        if not labelled.any():
            raise ValueError(
                "LabelledOnly found no labelled rows: every row of y is -1 "
                "(unlabelled); the estimator needs some labelled rows"
            )
        estimator = _clone_seeded(self._get_estimator(), self.random_state)
        fit_params = {}
        if sample_weight is not None:
            sample_weight = np.asarray(sample_weight)
            if _num_samples(sample_weight) != len(y):
                raise ValueError(
                    f"sample_weight has {_num_samples(sample_weight)} entries but X "
                    f"has {len(y)} rows"
                )
            fit_params["sample_weight"] = sample_weight[labelled]
        self.estimator_ = estimator.fit(
            _take_rows(X, labelled), _labels_of(y[labelled]), **fit_params
        )
        self.classes_ = self.estimator_.classes_
        return self

    def _transform_input(self, X):
        check_is_fitted(self)
        checked = validate_data(
            self, X, reset=False, accept_sparse=("csr", "csc"), dtype=None,
            ensure_all_finite=False,
        )
        return _keep_frame(X, checked)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        inner = get_tags(self._get_estimator())
        tags.input_tags.sparse = inner.input_tags.sparse
        tags.input_tags.allow_nan = inner.input_tags.allow_nan
        return tags


def _keep_frame(X_given, X_checked):
    """The DataFrame given, once checked (its columns may matter to the estimator)."""
    return X_given if hasattr(X_given, "iloc") else X_checked
