"""JDA: joint distribution adaptation (Long et al., ICCV 2013)."""

from __future__ import annotations

import numpy as np
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    MetaEstimatorMixin,
    TransformerMixin,
    clone,
)
from sklearn.neighbors import KNeighborsClassifier
from sklearn.utils.validation import check_is_fitted, validate_data

from ..base import (
    _check_positive_ints,
    _is_finite_real,
    _labels_of,
    _unfitted_if_refused,
    _validate_domain_fit,
    _warn_if_large_matrix,
    _WrappedClassifierMixin,
)
from ._meda import _kernel, _mmd_factors, _unit_rows
from ._shallow import _in_dtype_of, _top_eigenvectors

__all__ = ["JDAClassifier"]


class JDAClassifier(
    ClassNamePrefixFeaturesOutMixin, MetaEstimatorMixin, _WrappedClassifierMixin, TransformerMixin,
    BaseEstimator,
):
    """Joint distribution adaptation (JDA): a projection that aligns the marginal and class distributions.

    JDA (Long et al., ICCV 2013) extends transfer component analysis with
    the class-conditional distributions. It learns a projection ``A`` of
    ``n_components`` directions that keeps the variance of all rows while
    shrinking the maximum mean discrepancy (MMD) between the domains, both
    overall and within each class, by solving the generalised eigenproblem
    ``(X' M X + reg I) A = X' H X A Phi`` (``M``: the MMD matrix, ``H``:
    the centring matrix). The target classes come from pseudo-labels: the
    first round aligns the marginal distributions only (TCA), then
    ``estimator``, fitted on the projected labelled rows, labels the target
    rows, and the projection is learnt again with their classes, for
    ``max_iter`` rounds. ``predict`` projects rows and hands them to the
    fitted ``estimator``.

    Each row is scaled to unit length before the projection, and each
    projected row again after it, as the authors' reference code does; with
    the default 1-NN the classifier is the paper's. Fit on the rows of both domains, target
    rows with ``y == -1`` (or domains given by ``sample_domain``); labelled
    target rows, when a few exist, keep their labels. Several source domains
    are pooled into one.

    Parameters
    ----------
    estimator : classifier, default=None
        Fitted (as a clone) on the projected labelled rows, to pseudo-label
        the target rows and to predict. None means
        ``KNeighborsClassifier(n_neighbors=1)``, whose ``predict_proba`` is
        one-hot: the unsupervised scorers that read probabilities (e.g.
        :func:`~sktransfer.model_selection.prediction_entropy_scorer`) then
        see the labels only. To tune JDA with them, pass a classifier with
        graded probabilities, such as ``LogisticRegression()``.
    n_components : int, default=30
        Number of projection directions; at most the number of features
        (``kernel="linear"``) or of training rows (``kernel="rbf"``). The
        defaults of ``n_components``, ``reg`` and ``max_iter`` are those of
        the widely used reference implementation.
    reg : float, default=1.0
        Weight of the ``||A||^2`` regulariser (the paper's lambda).
    kernel : {"linear", "rbf"}, default="linear"
        ``"linear"`` projects the features (the paper's primal problem,
        ``n_features`` square); ``"rbf"`` projects the kernel features
        ``k(x, X_fit)`` (memory and time quadratic and cubic in the number
        of training rows).
    gamma : float, default=1.0
        RBF coefficient, ``exp(-gamma ||a - b||^2)`` on unit-length rows.
    max_iter : int, default=10
        Rounds of pseudo-labelling (the first one aligns the marginals only).
    no_target : {"raise", "source_only"}, default="raise"
        What to do when the training data has no target row: raise a
        ``ValueError``, or learn the projection without the MMD term.

    Attributes
    ----------
    components_ : ndarray of shape (n_features or n_fit_rows, n_components)
        The projection ``A``.
    X_fit_ : ndarray of shape (n_fit_rows, n_features)
        The unit-length training rows (``kernel="rbf"`` only, else None).
    estimator_ : classifier
        The clone of ``estimator`` fitted on the projected labelled rows.
    transduction_ : ndarray of shape (n_samples,)
        Labels of the training rows: given ones, pseudo-labels of the last
        round elsewhere.
    classes_ : ndarray of shape (n_classes,)
        The class labels.
    n_iter_ : int
        Rounds run.
    n_features_in_ : int
        Number of features seen in ``fit``.
    feature_names_in_ : ndarray of shape (n_features,)
        Names of the features seen in ``fit``, when ``X`` has string column names.

    See Also
    --------
    TransferComponentAnalysis : the marginal term alone, no pseudo-labels.
    MEDAClassifier : class-conditional MMD too, in a kernel classifier on
        GFK-embedded rows.

    References
    ----------
    M. Long, J. Wang, G. Ding, J. Sun and P. S. Yu. Transfer Feature
    Learning with Joint Distribution Adaptation. ICCV 2013.

    Examples
    --------
    >>> import numpy as np
    >>> from sktransfer import JDAClassifier
    >>> rng = np.random.RandomState(0)
    >>> X = np.r_[rng.normal(size=(60, 5)), rng.normal(size=(60, 5)) + 1]
    >>> y = np.r_[(X[:60, 0] > 0).astype(int), -np.ones(60, dtype=int)]
    >>> clf = JDAClassifier(n_components=3).fit(X, y)
    >>> clf.transform(X).shape, clf.predict(X[:2]).shape
    ((120, 3), (2,))
    """

    def __init__(
        self,
        estimator=None,
        *,
        n_components: int = 30,
        reg: float = 1.0,
        kernel: str = "linear",
        gamma: float = 1.0,
        max_iter: int = 10,
        no_target: str = "raise",
    ):
        self.estimator = estimator
        self.n_components = n_components
        self.reg = reg
        self.kernel = kernel
        self.gamma = gamma
        self.max_iter = max_iter
        self.no_target = no_target

    def _get_estimator(self):
        return KNeighborsClassifier(n_neighbors=1) if self.estimator is None else self.estimator

    def _check_params(self):
        for name, allowed in (("kernel", ("linear", "rbf")), ("no_target", ("raise", "source_only"))):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {getattr(self, name)!r}")
        for name in ("reg", "gamma"):
            value = getattr(self, name)
            if not (_is_finite_real(value) and value > 0):
                raise ValueError(f"{name} must be a positive finite number, got {value!r}")
        _check_positive_ints(self, ("n_components", "max_iter"))

    @_unfitted_if_refused
    def fit(self, X, y, sample_domain=None) -> JDAClassifier:
        """Alternate learning the projection and pseudo-labelling the target rows.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Rows of all domains.
        y : array-like of shape (n_samples,)
            Class labels; ``-1`` marks unlabelled rows.
        sample_domain : array-like of int of shape (n_samples,), default=None
            Domain of each row: positive ids for source domains, negative ids
            for target domains; several source (or target) domains are
            pooled into one. If None, labelled rows are source and
            unlabelled rows are target.

        Returns
        -------
        self : JDAClassifier
            The fitted estimator.
        """
        self._check_params()
        X, y, labelled, is_target = _validate_domain_fit(
            self, X, y, sample_domain, allowed="source_only",
            how="To fit without adaptation, set no_target='source_only'.",
        )
        U = _unit_rows(X)
        self.X_fit_ = U if self.kernel == "rbf" else None
        if self.kernel == "rbf":
            _warn_if_large_matrix(
                type(self).__name__, len(U), len(U),
                "kernel matrix of all rows (kernel='rbf'; 'linear' needs none)",
            )
        features = _kernel(U, U, "rbf", self.gamma) if self.kernel == "rbf" else U
        limit = features.shape[1]
        if self.n_components > limit:
            what = "training rows (n_samples" if self.kernel == "rbf" else "features (n_features"
            raise ValueError(
                f"n_components={self.n_components} is more than the number of {what}={limit})"
            )
        self.classes_, codes = np.unique(_labels_of(y[labelled]), return_inverse=True)
        n_classes = len(self.classes_)
        all_codes = np.full(len(y), -1)
        all_codes[labelled] = codes
        unlabelled = ~labelled
        centred = features - features.mean(axis=0)
        spread = centred.T @ centred  # X' H X
        for iteration in range(self.max_iter):
            # Round 1: the marginal term only (no pseudo-labels yet), as TCA.
            R, w = _mmd_factors(all_codes, is_target, n_classes, 0.0 if iteration == 0 else 0.5)
            FR = features.T @ R
            system = (FR * w) @ FR.T
            system[np.diag_indices_from(system)] += self.reg
            # The smallest phi of system A = spread A phi are the largest nu = 1 / phi of
            # spread v = nu system v. Columns of unit length, as the eigensolvers of the
            # reference code return them (rescaling them to A' X' H X A = I would weight
            # the low-variance directions up, and the 1-NN distances with them).
            vectors = _top_eigenvectors(
                spread, system, self.n_components, owner=type(self).__name__, ridge="reg"
            )
            self.components_ = vectors / np.linalg.norm(vectors, axis=0)
            Z = _unit_rows(features @ self.components_)
            self.estimator_ = clone(self._get_estimator()).fit(Z[labelled], self.classes_[codes])
            if not unlabelled.any():
                break
            predicted = self.estimator_.predict(Z[unlabelled])
            all_codes[unlabelled] = np.searchsorted(self.classes_, predicted)
        self.n_iter_ = iteration + 1
        self.transduction_ = self.classes_[all_codes]
        return self

    def transform(self, X) -> np.ndarray:
        """Project rows (of either domain) and scale them to unit length.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Rows to project.

        Returns
        -------
        Z : ndarray of shape (n_samples, n_components)
            The projected rows, the input of ``estimator_`` (computed in
            float64; float32 for a float32 ``X``).
        """
        return _in_dtype_of(X, self._transform_input(X))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags

    def _transform_input(self, X):
        # the projection itself: ``transform`` is wrapped by set_output (a DataFrame
        # under transform="pandas"), while ``estimator_`` was fit on an array
        check_is_fitted(self)
        U = _unit_rows(validate_data(self, X, dtype=np.float64, reset=False))
        features = _kernel(U, self.X_fit_, "rbf", self.gamma) if self.kernel == "rbf" else U
        return _unit_rows(features @ self.components_)

    @property
    def _n_features_out(self):
        return self.components_.shape[1]
