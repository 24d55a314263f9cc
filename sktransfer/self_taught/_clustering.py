"""Self-taught clustering (Dai, Yang, Xue & Yu, ICML 2008)."""

from __future__ import annotations

import numbers
import warnings

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_array, check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from ..base import _check_positive_ints, _is_finite_real

__all__ = ["SelfTaughtClustering"]

_TINY = 1e-300


class SelfTaughtClustering(ClusterMixin, BaseEstimator):
    """Self-taught clustering: co-cluster a target set with auxiliary data.

    Clusters a small *target* data set with the help of a large *auxiliary*
    unlabelled data set that may come from other classes or another
    distribution (Dai, Yang, Xue & Yu, *Self-taught clustering*, ICML 2008).
    Both are read as joint distributions of instances and features, and
    co-clustered by information-theoretic co-clustering (Dhillon et al., KDD
    2003): target instances and auxiliary instances are clustered separately,
    features are clustered *jointly* for both, so that the feature clusters
    learnt on the plentiful auxiliary data shape the target clusters. The
    objective, minimised by alternating updates, is the loss of mutual
    information

    .. math::

        I(X_T; Z) - I(\\tilde X_T; \\tilde Z)
        + \\lambda \\left( I(X_A; Z) - I(\\tilde X_A; \\tilde Z) \\right)

    where :math:`X_T, X_A` are the target and auxiliary instances, :math:`Z`
    the features and tildes the clusters.

    The auxiliary data is a constructor parameter, so the estimator keeps
    scikit-learn's ``fit(X)`` for clusterers and works in a
    :class:`~sklearn.pipeline.Pipeline` or
    :class:`~sklearn.model_selection.GridSearchCV` unchanged (the auxiliary
    set is not split by cross-validation, as it should not be). Without
    auxiliary data, this is information-theoretic co-clustering of ``X`` alone.

    Parameters
    ----------
    n_clusters : int, default=8
        Number of clusters of the target instances.
    n_feature_clusters : int, default=16
        Number of feature clusters, shared by target and auxiliary data (at
        most the number of features: ``n_feature_clusters_`` is the number used).
    auxiliary : array-like of shape (n_auxiliary, n_features) or None, default=None
        The auxiliary unlabelled data, non-negative, with the width of ``X``.
    n_auxiliary_clusters : int or None, default=None
        Number of clusters of the auxiliary instances; None means ``n_clusters``.
    auxiliary_weight : float, default=1.0
        The paper's :math:`\\lambda`: weight of the auxiliary data's loss of
        mutual information (0 ignores the auxiliary data).
    max_iter : int, default=30
        Maximum number of alternating updates per initialisation.
    n_init : int, default=5
        Number of random initialisations; the one with the lowest objective is kept.
    random_state : int, RandomState instance or None, default=None
        Seed of the initialisations.

    Attributes
    ----------
    labels_ : ndarray of shape (n_samples,)
        Cluster of each target row.
    auxiliary_labels_ : ndarray of shape (n_auxiliary,) or None
        Cluster of each auxiliary row (None without auxiliary data).
    feature_labels_ : ndarray of shape (n_features,)
        Cluster of each feature.
    n_feature_clusters_ : int
        Number of feature clusters used: ``min(n_feature_clusters, n_features)``.
    cluster_feature_distributions_ : ndarray of shape (n_clusters, n_features)
        For each target cluster, the distribution over features that its
        rows are compared with (the co-clustering's approximation); used by
        ``predict``.
    objective_ : float
        The final value of the objective (loss of mutual information, nats).
    n_iter_ : int
        Number of updates of the kept initialisation. When it reaches
        ``max_iter`` without the clusters settling, ``fit`` warns with a
        :class:`~sklearn.exceptions.ConvergenceWarning`: ``labels_`` may then
        differ from ``predict`` on the same rows.
    n_features_in_ : int
        Number of features seen in ``fit``.
    feature_names_in_ : ndarray of shape (n_features,)
        Names of the features seen in ``fit``, when ``X`` has string column names.

    See Also
    --------
    SelfTaughtTransformer : self-taught learning of a representation.
    sklearn.cluster.SpectralCoclustering : co-clustering of one data set.

    Examples
    --------
    >>> import numpy as np
    >>> from sktransfer import SelfTaughtClustering
    >>> rng = np.random.RandomState(0)
    >>> blocks = np.kron(np.eye(2), np.ones((1, 4)))          # two word groups
    >>> X = rng.poisson(3 * blocks[[0, 1] * 10] + 0.2)        # 20 target rows
    >>> aux = rng.poisson(3 * blocks[[0, 1] * 100] + 0.2)     # 200 auxiliary rows
    >>> stc = SelfTaughtClustering(n_clusters=2, n_feature_clusters=2,
    ...                            auxiliary=aux, random_state=0).fit(X)
    >>> stc.labels_[:4]
    array([0, 1, 0, 1])
    >>> stc.feature_labels_
    array([0, 0, 0, 0, 1, 1, 1, 1])
    """

    def __init__(
        self,
        n_clusters: int = 8,
        n_feature_clusters: int = 16,
        *,
        auxiliary=None,
        n_auxiliary_clusters: int | None = None,
        auxiliary_weight: float = 1.0,
        max_iter: int = 30,
        n_init: int = 5,
        random_state=None,
    ):
        self.n_clusters = n_clusters
        self.n_feature_clusters = n_feature_clusters
        self.auxiliary = auxiliary
        self.n_auxiliary_clusters = n_auxiliary_clusters
        self.auxiliary_weight = auxiliary_weight
        self.max_iter = max_iter
        self.n_init = n_init
        self.random_state = random_state

    def _check_params(self) -> None:
        _check_positive_ints(self, ("n_clusters", "n_feature_clusters", "max_iter", "n_init"))
        k_a = self.n_auxiliary_clusters
        if k_a is not None and (
            not isinstance(k_a, numbers.Integral) or isinstance(k_a, bool) or k_a < 1
        ):
            raise ValueError(f"n_auxiliary_clusters must be None or a positive integer, got {k_a!r}")
        if not (_is_finite_real(self.auxiliary_weight) and self.auxiliary_weight >= 0):
            raise ValueError(f"auxiliary_weight must be a non-negative number, got {self.auxiliary_weight!r}")

    @staticmethod
    def _check_non_negative(X, what: str) -> None:
        if X.size and X.min() < 0:
            raise ValueError(
                f"Negative values in data passed to SelfTaughtClustering: it needs "
                f"non-negative features, as {what} is read as a "
                f"joint distribution of instances and features (min={X.min():.4g}). Use counts, frequencies or intensities, "
                f"or shift/rescale the features (e.g. MinMaxScaler)."
            )
        if not X.sum() > 0:
            raise ValueError(f"{what} sums to zero: it cannot be read as a joint distribution")

    def fit(self, X, y=None) -> SelfTaughtClustering:
        """Co-cluster the target data ``X`` with the auxiliary data.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The target data, non-negative.
        y : None
            Ignored; present for API consistency.

        Returns
        -------
        self : SelfTaughtClustering
            The fitted estimator.
        """
        self._check_params()
        X = validate_data(self, X, dtype=np.float64, ensure_min_samples=2)
        self._check_non_negative(X, "X")
        if self.n_clusters > X.shape[0]:
            raise ValueError(
                f"n_clusters={self.n_clusters} is larger than the number of target rows "
                f"({X.shape[0]}); use n_clusters <= {X.shape[0]}"
            )
        # More feature clusters than features would leave some empty.
        self.n_feature_clusters_ = min(self.n_feature_clusters, X.shape[1])
        A = None
        if self.auxiliary is not None:
            columns = getattr(self.auxiliary, "columns", None)
            names_in = getattr(self, "feature_names_in_", None)
            if columns is not None and names_in is not None and list(columns) != list(names_in):
                where = next(
                    (i for i, (a, x) in enumerate(zip(columns, names_in)) if a != x),
                    min(len(columns), len(names_in)),
                )
                raise ValueError(
                    "auxiliary must have X's columns, in the same order; its column "
                    f"{where} is {_name_at(columns, where)} where X's is "
                    f"{_name_at(names_in, where)} (auxiliary[X.columns] selects them)"
                )
            A = check_array(self.auxiliary, dtype=np.float64, input_name="auxiliary")
            if A.shape[1] != X.shape[1]:
                raise ValueError(
                    f"auxiliary has {A.shape[1]} features but X has {X.shape[1]}: the "
                    "auxiliary data must have the same features (columns) as the target data"
                )
            self._check_non_negative(A, "auxiliary")
            k_a = self.n_auxiliary_clusters or self.n_clusters
            if k_a > A.shape[0]:
                raise ValueError(
                    f"{k_a} auxiliary clusters is more than the {A.shape[0]} auxiliary "
                    f"rows; set n_auxiliary_clusters <= {A.shape[0]}"
                )
        rng = check_random_state(self.random_state)
        best = None
        for _ in range(self.n_init):
            result = self._fit_once(X, A, rng)
            if best is None or result["objective"] < best["objective"] - 1e-12:
                best = result
        if not best["converged"]:
            warnings.warn(
                f"SelfTaughtClustering did not converge in max_iter={self.max_iter} "
                "updates: the row and feature clusters still changed at the last one, so "
                "labels_ (the last assignment) may differ from predict(X) on the same rows "
                "(assignment to the final cluster distributions). Increase max_iter.",
                ConvergenceWarning,
                stacklevel=2,
            )
        self.labels_ = best["rows"]
        self.auxiliary_labels_ = best["aux_rows"]
        self.feature_labels_ = best["features"]
        self.cluster_feature_distributions_ = best["prototypes"]
        self.objective_ = float(best["objective"])
        self.n_iter_ = best["n_iter"]
        return self

    # ------------------------------------------------------------------
    def _fit_once(self, X, A, rng):
        P = X / X.sum()
        k = self.n_clusters
        n_z = self.n_feature_clusters_
        rows = _random_partition(P.shape[0], k, rng)
        features = _random_partition(P.shape[1], n_z, rng)
        Q, aux_rows, lam = None, None, float(self.auxiliary_weight)
        if A is not None:
            Q = A / A.sum()
            aux_rows = _random_partition(Q.shape[0], self.n_auxiliary_clusters or k, rng)
        n_iter, converged = 0, False
        for n_iter in range(1, self.max_iter + 1):
            # Instances: each row to the cluster whose approximate p(Z | cluster)
            # is closest in Kullback-Leibler divergence; features held fixed.
            new_rows = _assign_rows(P, rows, features, k, n_z)
            new_aux = None if Q is None else _assign_rows(
                Q, aux_rows, features, self.n_auxiliary_clusters or k, n_z
            )
            # Features: jointly for the target and the auxiliary data.
            score = _feature_scores(P, new_rows, features, k, n_z)
            if Q is not None and lam:
                score = score + lam * _feature_scores(
                    Q, new_aux, features, self.n_auxiliary_clusters or k, n_z
                )
            new_features = np.argmax(score, axis=1)
            changed = (
                np.any(new_rows != rows)
                or np.any(new_features != features)
                or (Q is not None and np.any(new_aux != aux_rows))
            )
            rows, features, aux_rows = new_rows, new_features, new_aux
            if not changed:
                converged = True
                break
        objective = -_cluster_information(P, rows, features, k, n_z)
        if Q is not None:
            objective -= lam * _cluster_information(
                Q, aux_rows, features, self.n_auxiliary_clusters or k, n_z
            )
            objective += lam * _information(Q)
        objective += _information(P)
        return {
            "rows": rows,
            "aux_rows": aux_rows,
            "features": features,
            "prototypes": _row_prototypes(P, rows, features, k, n_z),
            "objective": objective,
            "n_iter": n_iter,
            "converged": converged,
        }

    def predict(self, X):
        """Assign rows to the target clusters.

        Each row, read as a distribution over the features, goes to the cluster
        whose feature distribution (``cluster_feature_distributions_``) is
        closest in Kullback-Leibler divergence. All-zero rows go to cluster 0.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Non-negative rows.

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            Cluster of each row.
        """
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=np.float64)
        if X.size and X.min() < 0:
            raise ValueError(
                "Negative values in data passed to SelfTaughtClustering.predict: it "
                f"needs non-negative features (min={X.min():.4g})"
            )
        sums = X.sum(axis=1, keepdims=True)
        conditional = np.divide(X, sums, out=np.zeros_like(X), where=sums > 0)
        return np.argmax(conditional @ np.log(self.cluster_feature_distributions_ + _TINY).T, axis=1)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.positive_only = True
        return tags


def _random_partition(n, k, rng):
    """A random assignment of ``n`` items to ``k`` clusters, none of them empty."""
    labels = rng.randint(k, size=n)
    labels[rng.permutation(n)[:k]] = np.arange(k)
    return labels


def _one_hot(labels, k):
    out = np.zeros((len(labels), k))
    out[np.arange(len(labels)), labels] = 1.0
    return out


def _compressed(P, rows, features, k, n_z):
    """The joint distribution of row clusters and feature clusters."""
    return _one_hot(rows, k).T @ P @ _one_hot(features, n_z)


def _row_prototypes(P, rows, features, k, n_z):
    """``q(z | row cluster) = p(z | feature cluster of z) * p(feature cluster | row cluster)``."""
    C = _compressed(P, rows, features, k, n_z)
    p_z = P.sum(axis=0)
    p_zc = C.sum(axis=0)
    p_rc = C.sum(axis=1, keepdims=True)
    z_given_zc = np.divide(p_z, p_zc[features], out=np.zeros_like(p_z), where=p_zc[features] > 0)
    zc_given_rc = np.divide(C, p_rc, out=np.zeros_like(C), where=p_rc > 0)
    return zc_given_rc[:, features] * z_given_zc


def _assign_rows(P, rows, features, k, n_z):
    prototypes = _row_prototypes(P, rows, features, k, n_z)
    sums = P.sum(axis=1, keepdims=True)
    conditional = np.divide(P, sums, out=np.zeros_like(P), where=sums > 0)
    # argmin KL(p(Z|x) || q(Z|c)) = argmax sum_z p(z|x) log q(z|c).
    return np.argmax(conditional @ np.log(prototypes + _TINY).T, axis=1)


def _feature_scores(P, rows, features, k, n_z):
    """``sum_x p(x, z) log q(x | feature cluster)`` for every feature and feature cluster."""
    C = _compressed(P, rows, features, k, n_z)
    p_x = P.sum(axis=1)
    p_rc = C.sum(axis=1)
    p_zc = C.sum(axis=0, keepdims=True)
    x_given_rc = np.divide(p_x, p_rc[rows], out=np.zeros_like(p_x), where=p_rc[rows] > 0)
    rc_given_zc = np.divide(C, p_zc, out=np.zeros_like(C), where=p_zc > 0)
    q_x_given_zc = rc_given_zc[rows] * x_given_rc[:, None]  # (n_rows, n_z)
    return P.T @ np.log(q_x_given_zc + _TINY)


def _cluster_information(P, rows, features, k, n_z):
    return _information(_compressed(P, rows, features, k, n_z))


def _information(P):
    """Mutual information (nats) of the joint distribution ``P`` of rows and columns."""
    p_r = P.sum(axis=1, keepdims=True)
    p_c = P.sum(axis=0, keepdims=True)
    mask = P > 0
    return float(np.sum(P[mask] * np.log(P[mask] / (p_r @ p_c)[mask])))


def _name_at(names, i):
    """The ``i``-th column name, or a note that there is none."""
    return repr(names[i]) if i < len(names) else "missing"
