"""Convex combination of semantic embeddings (ConSE)."""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin
from sklearn.linear_model import LogisticRegression
from sklearn.utils.validation import check_is_fitted, validate_data

from ..base import _clone_seeded
from ._common import _l2_normalize, _plain, _validate_fit_data, _ZeroShotMixin

__all__ = ["ConSEClassifier"]


class ConSEClassifier(_ZeroShotMixin, MetaEstimatorMixin, ClassifierMixin, BaseEstimator):
    """Zero-shot classification by a convex combination of class embeddings.

    A classifier trained on the seen classes gives, for a new input, the
    probabilities of its ``top_t`` most likely seen classes; the input is
    mapped to the average of their embeddings weighted by those
    probabilities, and labelled with the candidate class whose embedding is
    the nearest in cosine similarity (Norouzi et al., 2014). Any
    probabilistic classifier works, and the embeddings may come from words
    (see :class:`TextEmbedder`) or from attributes.

    Parameters
    ----------
    estimator : classifier with ``predict_proba``, default=None
        The seen-class classifier (cloned). None means
        :class:`~sklearn.linear_model.LogisticRegression`.
    class_embeddings : DataFrame, dict or array-like of shape (n_classes, n_dims)
        One embedding per class, seen and unseen (see
        :class:`AttributeZeroShotClassifier` for the accepted forms).
    top_t : int, default=10
        How many of the most probable seen classes are combined (fewer if
        there are fewer seen classes).
    mode : {"zsl", "gzsl"}, default="zsl"
        Predict among the unseen classes only, or among all classes.
    calibration : float, default=0.0
        Subtracted from the cosine similarity of the seen classes with
        ``mode="gzsl"`` (calibrated stacking).
    random_state : int, RandomState instance or None, default=None
        Set on the clone of ``estimator`` if it has a ``random_state``.

    Attributes
    ----------
    estimator_ : classifier
        The fitted seen-class classifier.
    classes_ : ndarray of shape (n_classes,)
        The classes ``predict`` can return (the candidates).
    seen_classes_, unseen_classes_, table_classes_ : ndarray
        Classes of ``y``, rows of the table absent from ``y``, and all rows.
    n_features_in_ : int
        Number of input features.

    See Also
    --------
    AttributeZeroShotClassifier : direct attribute prediction.
    EmbeddingZeroShotClassifier : a learnt compatibility function.

    References
    ----------
    M. Norouzi, T. Mikolov, S. Bengio, Y. Singer, J. Shlens, A. Frome,
    G. S. Corrado and J. Dean. Zero-Shot Learning by Convex Combination of
    Semantic Embeddings. ICLR 2014.

    Examples
    --------
    >>> import numpy as np
    >>> from sktransfer import ConSEClassifier
    >>> emb = np.array([[1, 0], [0, 1], [-1, 0], [1, 1], [-1, 1]], dtype=float)
    >>> rng = np.random.RandomState(0)
    >>> y = np.repeat([0, 1, 2], 20)
    >>> X = 3 * emb[y] + rng.randn(60, 2)
    >>> clf = ConSEClassifier(class_embeddings=emb, top_t=2).fit(X, y)
    >>> clf.classes_
    array([3, 4])
    >>> clf.predict([[1.5, 1.5], [-1.5, 1.5]])
    array([3, 4])
    """

    _table_param = "class_embeddings"

    def __init__(
        self,
        estimator=None,
        class_embeddings=None,
        top_t: int = 10,
        *,
        mode: str = "zsl",
        calibration: float = 0.0,
        random_state=None,
    ):
        self.estimator = estimator
        self.class_embeddings = class_embeddings
        self.top_t = top_t
        self.mode = mode
        self.calibration = calibration
        self.random_state = random_state

    def fit(self, X, y) -> ConSEClassifier:
        """Fit the seen-class classifier.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Rows of the seen classes.
        y : array-like of shape (n_samples,)
            Their classes; each must have a row in ``class_embeddings``.
            Rows with ``y == -1`` (unlabelled) are skipped.

        Returns
        -------
        self : ConSEClassifier
            The fitted estimator.
        """
        if (
            not isinstance(self.top_t, numbers.Integral)
            or isinstance(self.top_t, bool)
            or self.top_t < 1
        ):
            raise ValueError(f"top_t must be a positive integer, got {self.top_t!r}")
        X, y = _validate_fit_data(self, X, y)
        estimator = LogisticRegression() if self.estimator is None else self.estimator
        if not hasattr(estimator, "predict_proba"):
            raise TypeError(
                "estimator must be a classifier with predict_proba, got "
                f"{type(estimator).__name__}"
            )
        self._setup_classes(y)
        estimator = _clone_seeded(estimator, self.random_state)
        self.estimator_ = estimator.fit(X, y)
        index = {c: i for i, c in enumerate(self.table_classes_.tolist())}
        self._clf_rows = np.array([index[_plain(c)] for c in self.estimator_.classes_])
        self._unit_table = _l2_normalize(self._table_values)
        return self

    def transform_semantic(self, X) -> np.ndarray:
        """Map rows into the embedding space (the ConSE convex combination).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Rows to map.

        Returns
        -------
        embedding : ndarray of shape (n_samples, n_dims)
            Probability-weighted mean of the top-T seen-class embeddings.
        """
        check_is_fitted(self, "estimator_")
        X = validate_data(self, X, reset=False, dtype=np.float64)
        proba = self.estimator_.predict_proba(X)
        t = min(self.top_t, proba.shape[1])
        top = np.argsort(-proba, axis=1, kind="stable")[:, :t]
        weights = np.take_along_axis(proba, top, axis=1)
        weights = weights / np.maximum(weights.sum(axis=1, keepdims=True), 1e-12)
        emb = self._table_values[self._clf_rows]  # (n_seen, n_dims)
        return np.einsum("nt,ntd->nd", weights, emb[top])

    def _raw_scores(self, X) -> np.ndarray:
        return _l2_normalize(self.transform_semantic(X)) @ self._unit_table.T
