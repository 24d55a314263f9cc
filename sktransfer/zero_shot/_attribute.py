"""Direct attribute prediction (DAP) for zero-shot classification."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin
from sklearn.linear_model import LogisticRegression
from sklearn.utils.validation import check_is_fitted, validate_data

from ..base import _clone_seeded
from ._common import _validate_fit_data, _ZeroShotMixin

__all__ = ["AttributeZeroShotClassifier"]

_EPS = 1e-4


class AttributeZeroShotClassifier(_ZeroShotMixin, MetaEstimatorMixin, ClassifierMixin, BaseEstimator):
    """Zero-shot classification by direct attribute prediction (DAP).

    Each class, seen in training or not, is described by a row of attributes
    (``class_attributes``). One probabilistic classifier per attribute learns,
    from the rows of the seen classes, whether an input has the attribute; a
    new input is then given the class whose attribute signature is the most
    probable (Lampert et al., 2009/2014):
    ``log p(z | x) = sum_m [a_m^z log p_m(x) + (1 - a_m^z) log(1 - p_m(x))]
    - log prior``, with the attribute priors estimated on the seen classes.

    With ``mode="zsl"`` the prediction is one of the unseen classes (rows of
    the table absent from ``y``); with ``mode="gzsl"`` (generalised zero-shot)
    it is any class of the table, and ``calibration`` is subtracted from the
    scores of the seen classes (calibrated stacking, Chao et al., 2016) to
    counter the bias toward the classes the predictors were trained on.

    Parameters
    ----------
    estimator : classifier with ``predict_proba``, default=None
        The attribute predictor, cloned once per attribute. None means
        :class:`~sklearn.linear_model.LogisticRegression`.
    class_attributes : DataFrame, dict or array-like of shape (n_classes, n_attributes)
        One row per class, seen and unseen: a DataFrame indexed by class
        name, a dict ``{class: vector}``, or an array whose row ``i``
        describes class ``i``. Binary (0/1) or continuous; continuous columns
        are scaled to [0, 1] over the table and each predictor learns
        whether the attribute is above its mean over the seen classes.
    mode : {"zsl", "gzsl"}, default="zsl"
        Predict among the unseen classes only, or among all classes.
    calibration : float, default=0.0
        Subtracted from the log-scores of the seen classes with
        ``mode="gzsl"``; larger values move predictions toward unseen classes.
    random_state : int, RandomState instance or None, default=None
        Set on every clone of ``estimator`` that has a ``random_state``.

    Attributes
    ----------
    estimators_ : list of classifiers or None
        One fitted predictor per attribute; None where the attribute is
        constant over the seen classes (its probability is then that constant).
    classes_ : ndarray of shape (n_classes,)
        The classes ``predict`` can return (the candidates).
    seen_classes_ : ndarray
        The classes of ``y``.
    unseen_classes_ : ndarray
        The rows of the table absent from ``y``.
    table_classes_ : ndarray
        Every class of the table, in its order.
    attribute_priors_ : ndarray of shape (n_attributes,)
        Mean attribute value over the seen classes.
    n_features_in_ : int
        Number of input features.

    See Also
    --------
    EmbeddingZeroShotClassifier : a linear or learnt compatibility function.
    ConSEClassifier : convex combination of seen-class embeddings.

    References
    ----------
    C. H. Lampert, H. Nickisch and S. Harmeling. Attribute-Based
    Classification for Zero-Shot Visual Object Categorization. IEEE TPAMI
    36(3), 2014.

    W.-L. Chao, S. Changpinyo, B. Gong and F. Sha. An Empirical Study and
    Analysis of Generalized Zero-Shot Learning for Object Recognition in the
    Wild. ECCV 2016.

    Examples
    --------
    >>> import numpy as np
    >>> from sktransfer import AttributeZeroShotClassifier
    >>> attributes = {"cat": [1, 0, 1], "dog": [1, 1, 0], "fish": [0, 0, 1],
    ...               "bird": [0, 1, 0]}
    >>> rng = np.random.RandomState(0)
    >>> X = np.vstack([np.add(attributes[c], 0.1 * rng.randn(20, 3)) for c in ("cat", "dog")])
    >>> y = np.repeat(["cat", "dog"], 20)
    >>> clf = AttributeZeroShotClassifier(class_attributes=attributes).fit(X, y)
    >>> clf.classes_
    array(['bird', 'fish'], dtype='<U4')
    >>> clf.predict([[0, 0, 1], [0, 1, 0]])
    array(['fish', 'bird'], dtype='<U4')
    """

    def __init__(
        self,
        estimator=None,
        class_attributes=None,
        *,
        mode: str = "zsl",
        calibration: float = 0.0,
        random_state=None,
    ):
        self.estimator = estimator
        self.class_attributes = class_attributes
        self.mode = mode
        self.calibration = calibration
        self.random_state = random_state

    def fit(self, X, y) -> AttributeZeroShotClassifier:
        """Fit one attribute predictor per attribute on the seen classes.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Rows of the seen classes.
        y : array-like of shape (n_samples,)
            Their classes; each must have a row in ``class_attributes``.
            Rows with ``y == -1`` (unlabelled) are skipped.

        Returns
        -------
        self : AttributeZeroShotClassifier
            The fitted estimator.
        """
        X, y = _validate_fit_data(self, X, y)
        estimator = LogisticRegression() if self.estimator is None else self.estimator
        if not hasattr(estimator, "predict_proba"):
            raise TypeError(
                "estimator must be a classifier with predict_proba (one probabilistic "
                f"predictor per attribute), got {type(estimator).__name__}"
            )
        self._setup_classes(y)
        table = self._table_values
        low, high = table.min(axis=0), table.max(axis=0)
        self._signatures = (table - low) / np.where(high > low, high - low, 1.0)
        seen_rows = self._signatures[self._seen_mask]
        seen_index = {c: i for i, c in enumerate(self.table_classes_[self._seen_mask].tolist())}
        row_of = np.array([seen_index[c] for c in y.tolist()])
        binary = np.isin(table, (0.0, 1.0)).all(axis=0)
        thresholds = np.where(binary, 0.5, seen_rows.mean(axis=0))
        targets = seen_rows[row_of] > thresholds  # (n_samples, n_attributes)
        self.attribute_priors_ = np.clip(seen_rows.mean(axis=0), _EPS, 1 - _EPS)
        self.estimators_ = []
        self._constant = np.full(table.shape[1], np.nan)
        for m in range(table.shape[1]):
            t = targets[:, m]
            if t.all() or not t.any():
                self.estimators_.append(None)
                self._constant[m] = float(t[0])
                continue
            est = _clone_seeded(estimator, self.random_state)
            self.estimators_.append(est.fit(X, t.astype(int)))
        return self

    def predict_attributes(self, X) -> np.ndarray:
        """Probability of each attribute.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Rows to describe.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_attributes)
            Predicted probability that each attribute is present.
        """
        check_is_fitted(self, "estimators_")
        X = validate_data(self, X, reset=False, dtype=np.float64)
        out = np.empty((len(X), len(self.estimators_)))
        for m, est in enumerate(self.estimators_):
            if est is None:
                out[:, m] = self._constant[m]
            else:
                proba = est.predict_proba(X)
                out[:, m] = proba[:, list(est.classes_).index(1)]
        return out

    def _raw_scores(self, X) -> np.ndarray:
        p = np.clip(self.predict_attributes(X), _EPS, 1 - _EPS)
        a = self._signatures
        prior = np.clip(self.attribute_priors_, _EPS, 1 - _EPS)
        log_lik = np.log(p) @ a.T + np.log1p(-p) @ (1 - a).T
        log_prior = a @ np.log(prior) + (1 - a) @ np.log1p(-prior)
        return log_lik - log_prior

    def predict_proba(self, X) -> np.ndarray:
        """Posterior probability of each candidate class (DAP).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Rows to classify.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Columns ordered as ``classes_`` (calibration applied).
        """
        scores = self._candidate_scores(X)
        scores = scores - scores.max(axis=1, keepdims=True)
        proba = np.exp(scores)
        return proba / proba.sum(axis=1, keepdims=True)
