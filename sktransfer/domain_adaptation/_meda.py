"""MEDA: manifold embedded distribution alignment (Wang et al., ACM MM 2018).

Three steps, all closed form:

1. **Manifold embedding**: the geodesic flow kernel (GFK, Gong et al., CVPR
   2012) between the source and target PCA subspaces; rows are mapped by a
   factor of it (``G = F F^T``) and scaled to unit length.
2. **Dynamic distribution alignment**: an MMD matrix mixing the marginal
   term and the class-conditional terms (target classes from pseudo-labels),
   weighted by an adaptive factor ``mu`` estimated from proxy A-distances.
3. **Structural risk minimisation** in a kernel space: regularised least
   squares on the labelled rows, plus the MMD term and a graph-Laplacian
   (manifold) term over all rows. The pseudo-labels are refreshed and the
   problem solved again, ``max_iter`` times.
"""

from __future__ import annotations

import numbers

import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator
from sklearn.neighbors import KNeighborsClassifier, kneighbors_graph
from sklearn.svm import LinearSVC
from sklearn.utils import check_random_state
from sklearn.utils.validation import validate_data

from ..base import (
    _check_positive_ints,
    _ignore_prediction_domain,
    _is_finite_real,
    _LabelledRowsClassifierMixin,
    _labels_of,
    _PredictionDomainMixin,
    _unfitted_if_refused,
    _validate_domain_fit,
    _warn_if_large_matrix,
)
from ._shallow import _gfk_factor, _subspace_limit

__all__ = ["MEDAClassifier"]


def _unit_rows(Z: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(Z, axis=1, keepdims=True)
    return Z / np.where(norms > 0, norms, 1.0)


# ----------------------------------------------------------------------
# adaptive factor mu from proxy A-distances
# ----------------------------------------------------------------------
def _proxy_a_distance(Za: np.ndarray, Zb: np.ndarray, random_state) -> float:
    """``2 (1 - 2 err)`` of a linear domain classifier, clipped to [0, 2]."""
    if len(Za) == 0 or len(Zb) == 0:
        return 0.0
    X = np.vstack([Za, Zb])
    y = np.r_[np.zeros(len(Za)), np.ones(len(Zb))]
    clf = LinearSVC(C=1.0, max_iter=5000, random_state=random_state).fit(X, y)
    err = 1.0 - clf.score(X, y)
    return float(np.clip(2.0 * (1.0 - 2.0 * err), 0.0, 2.0))


def _estimate_mu(Zs, ys, Zt, yt, classes, random_state) -> float:
    """Weight of the conditional MMD: ``d_cond / (d_cond + d_marginal)`` (MEDA, eq. 9).

    ``d_cond`` is the mean of the per-class A-distances, as the authors'
    ``estimate_mu.m`` computes it.
    """
    marginal = _proxy_a_distance(Zs, Zt, random_state)
    conditional = np.mean([
        _proxy_a_distance(Zs[ys == c], Zt[yt == c], random_state) for c in classes
    ])
    total = marginal + conditional
    return 0.5 if total == 0 else float(conditional / total)


# ----------------------------------------------------------------------
# the linear system
# ----------------------------------------------------------------------
def _kernel(A: np.ndarray, B: np.ndarray, kernel: str, gamma: float) -> np.ndarray:
    dots = A @ B.T
    if kernel == "linear":
        return dots
    sq = (A**2).sum(1)[:, None] + (B**2).sum(1)[None, :] - 2.0 * dots
    return np.exp(-gamma * np.clip(sq, 0.0, None))


def _laplacian(Z: np.ndarray, n_neighbors: int) -> sparse.csr_matrix:
    """Normalised Laplacian ``I - D^-1/2 W D^-1/2`` of a cosine k-NN graph.

    Each row is joined to its ``n_neighbors`` nearest rows and to itself
    (weight 1, its cosine with itself), as in the MEDA reference code; the
    graph is made symmetric by keeping the larger weight of each pair.
    """
    graph = kneighbors_graph(Z, n_neighbors, mode="connectivity", include_self=False).tocoo()
    self_loops = np.arange(len(Z))
    rows, cols = np.r_[graph.row, self_loops], np.r_[graph.col, self_loops]
    weights = np.clip(np.einsum("ij,ij->i", Z[rows], Z[cols]), 0.0, None)
    W = sparse.csr_matrix((weights, (rows, cols)), shape=(len(Z), len(Z)))
    W = W.maximum(W.T)
    degree = np.asarray(W.sum(axis=1)).ravel()
    inv_sqrt = 1.0 / np.sqrt(np.where(degree > 0, degree, 1.0))
    scale = sparse.diags(inv_sqrt)
    return sparse.identity(len(Z), format="csr") - scale @ W @ scale


def _mmd_factors(codes, is_target, n_classes, mu):
    """``(R, w)`` with the MMD matrix ``M = R diag(w) R^T`` (MEDA, eqs. 5-8).

    Column 0 is the marginal term (scaled by the number of classes, as in the
    paper), column ``c + 1`` the term of class ``c``; ``codes`` holds each row's
    class index (labels or pseudo-labels). Columns of empty classes are zero.
    """
    n = len(codes)
    R = np.zeros((n, n_classes + 1))
    n_s, n_t = int(np.sum(~is_target)), int(np.sum(is_target))
    if n_t == 0:
        return R, np.zeros(n_classes + 1)
    R[~is_target, 0] = 1.0 / n_s
    R[is_target, 0] = -1.0 / n_t
    for c in range(n_classes):
        src = ~is_target & (codes == c)
        tgt = is_target & (codes == c)
        if src.any():
            R[src, c + 1] = 1.0 / src.sum()
        if tgt.any():
            R[tgt, c + 1] = -1.0 / tgt.sum()
    w = np.r_[(1.0 - mu) * n_classes, np.full(n_classes, mu)]
    # ||R diag(w) R^T||_F^2 = trace((R^T R diag(w))^2): normalise M to unit Frobenius norm.
    small = (R.T @ R) * w[None, :]
    norm = np.sqrt(max(np.trace(small @ small), 0.0))
    return R, (w / norm if norm > 0 else w)


def _select_confident(codes, candidates, margin, n_classes, fraction):
    """Keep, within each predicted class, the ``fraction`` of ``candidates`` with the largest margin.

    The other candidate rows get the code -1 (left out of the class-conditional
    MMD); rows that are not candidates keep their code.
    """
    selected = codes.copy()
    for c in range(n_classes):
        rows = np.flatnonzero(candidates & (codes == c))
        keep = int(np.ceil(fraction * len(rows)))
        selected[rows[np.argsort(-margin[rows], kind="stable")[keep:]]] = -1
    return selected


class MEDAClassifier(_PredictionDomainMixin, _LabelledRowsClassifierMixin, BaseEstimator):
    """Manifold embedded distribution alignment (MEDA), a kernel classifier.

    MEDA (Wang et al., ACM MM 2018) embeds both domains with the geodesic
    flow kernel between their PCA subspaces, then learns a kernel
    least-squares classifier that fits the labelled rows while shrinking the
    MMD between the domains (marginal and per class, mixed by an adaptive
    factor ``mu``) and staying smooth on a k-nearest-neighbour graph of all
    rows. Target classes come from pseudo-labels, refreshed for
    ``max_iter`` rounds. Everything is closed form: no gradient descent,
    no random initialisation.

    Fit it on the rows of both domains, target rows with ``y == -1`` (or
    domains given by ``sample_domain``); labelled target rows, when a few
    exist, join the fit with their labels. Several source domains are
    pooled into one. ``predict`` works on any rows: a new row is embedded
    the same way and scored through the kernel against the training rows
    (the representer theorem), so it costs memory and time linear in the
    number of training rows; the fit itself solves a dense system of that
    size, which suits up to a few thousand rows.

    Parameters
    ----------
    n_components : int, default=20
        Dimension of the source and target PCA subspaces of the geodesic
        flow kernel.
    kernel : {"rbf", "linear"}, default="rbf"
        Kernel of the classifier, on the embedded unit-length rows.
    gamma : float, default=0.5
        RBF coefficient, ``exp(-gamma ||a - b||^2)`` (rows have unit length,
        so squared distances lie in [0, 4]).
    mmd_weight : float, default=10.0
        Weight of the MMD term (the paper's lambda).
    manifold_weight : float, default=1.0
        Weight of the graph-Laplacian term (the paper's rho).
    alpha : float, default=0.1
        Ridge penalty on the kernel coefficients (the paper's eta).
    n_neighbors : int, default=10
        Neighbours of each row in the graph (the paper's p).
    mu : "auto" or float in [0, 1], default="auto"
        Weight of the class-conditional MMD against the marginal one. "auto"
        estimates it at every iteration as ``d_c / (d_c + d_m)`` from proxy
        A-distances (a linear SVM's training error at telling the domains
        apart, overall for ``d_m`` and per pseudo-labelled class for ``d_c``).
    max_iter : int, default=10
        Rounds of pseudo-labelling and solving (the paper's T).
    selection : {"all", "progressive"}, default="all"
        Which target pseudo-labels enter the class-conditional MMD. "all":
        every one, at every round (MEDA). "progressive": selective
        pseudo-labelling (as in Wang & Breckon, AAAI 2020): at round ``t``
        (from 0) after the first, only the fraction ``(t + 1) / max_iter`` of
        each predicted class's target rows whose two best class scores are
        furthest apart, growing to all of them at the last round. Labelled
        target rows always enter; the marginal MMD and ``mu`` use every row.
    no_target : {"raise", "source_only"}, default="raise"
        What a fit without target rows does: raise a ``ValueError``, or fit
        the same classifier with the source subspace only and no MMD term.
    random_state : int, RandomState instance or None, default=None
        Seeds the linear SVMs of ``mu="auto"``; nothing else is random.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels of the labelled rows.
    n_features_in_ : int
        Number of features seen in ``fit``.
    feature_names_in_ : ndarray of shape (n_features,)
        Names of the features seen in ``fit``, when ``X`` has string column names.
    embedding_ : ndarray of shape (n_features, 2 * n_components)
        The map from input rows to the manifold features: a factor ``F`` of
        the geodesic flow kernel ``G = F F^T`` (rows mapped by ``F`` have the
        inner products of rows mapped by ``sqrt(G)``).
    dual_coef_ : ndarray of shape (n_samples, n_classes)
        Kernel coefficients of the training rows.
    X_fit_ : ndarray of shape (n_samples, 2 * n_components)
        The training rows on the manifold (``X @ embedding_``, each scaled to
        unit length), which predictions compare new rows with through the
        kernel.
    transduction_ : ndarray of shape (n_samples,)
        Label of every training row: the given label if labelled, the final
        prediction otherwise.
    mu_ : float
        The conditional-MMD weight of the last iteration.
    n_iter_ : int
        Iterations run.

    See Also
    --------
    TransferComponentAnalysis : marginal MMD only, as a transformer.
    SubspaceAlignment : aligns the two PCA subspaces with a linear map.

    References
    ----------
    J. Wang, W. Feng, Y. Chen, H. Yu, M. Huang, P. S. Yu. Visual domain
    adaptation with manifold embedded distribution alignment. ACM
    Multimedia, 2018.

    B. Gong, Y. Shi, F. Sha, K. Grauman. Geodesic flow kernel for
    unsupervised domain adaptation. CVPR, 2012.

    Examples
    --------
    >>> from sktransfer import MEDAClassifier
    >>> from sktransfer.datasets import make_rotated_moons, mask_target_labels
    >>> X, y, domain = make_rotated_moons(100, 100, angle=30, random_state=0)
    >>> clf = MEDAClassifier(n_components=2, random_state=0)
    >>> clf = clf.fit(X, mask_target_labels(y, domain))
    >>> clf.predict(X[domain < 0]).shape
    (100,)
    """

    def __init__(
        self,
        n_components: int = 20,
        *,
        kernel: str = "rbf",
        gamma: float = 0.5,
        mmd_weight: float = 10.0,
        manifold_weight: float = 1.0,
        alpha: float = 0.1,
        n_neighbors: int = 10,
        mu: str | float = "auto",
        max_iter: int = 10,
        selection: str = "all",
        no_target: str = "raise",
        random_state=None,
    ):
        self.n_components = n_components
        self.kernel = kernel
        self.gamma = gamma
        self.mmd_weight = mmd_weight
        self.manifold_weight = manifold_weight
        self.alpha = alpha
        self.n_neighbors = n_neighbors
        self.mu = mu
        self.max_iter = max_iter
        self.selection = selection
        self.no_target = no_target
        self.random_state = random_state

    def _check_params(self) -> None:
        def non_negative(name, strict=False):
            value = getattr(self, name)
            if not _is_finite_real(value) or value < 0 or (strict and value == 0):
                bound = "> 0" if strict else ">= 0"
                raise ValueError(f"{name} must be a finite number {bound}, got {value!r}")

        _check_positive_ints(self, ("n_components", "n_neighbors", "max_iter"))
        for name in ("mmd_weight", "manifold_weight"):
            non_negative(name)
        non_negative("alpha", strict=True)
        non_negative("gamma", strict=True)
        if self.kernel not in ("rbf", "linear"):
            raise ValueError(f"kernel must be 'rbf' or 'linear', got {self.kernel!r}")
        if not (isinstance(self.mu, str) and self.mu == "auto"):
            ok = isinstance(self.mu, numbers.Real) and not isinstance(self.mu, bool)
            if not ok or not 0.0 <= self.mu <= 1.0:
                raise ValueError(f"mu must be 'auto' or a number in [0, 1], got {self.mu!r}")
        if self.no_target not in ("raise", "source_only"):
            raise ValueError(f"no_target must be 'raise' or 'source_only', got {self.no_target!r}")
        if self.selection not in ("all", "progressive"):
            raise ValueError(f"selection must be 'all' or 'progressive', got {self.selection!r}")

    @_unfitted_if_refused
    def fit(self, X, y, sample_domain=None) -> MEDAClassifier:
        """Embed both domains, then alternate pseudo-labelling and solving.

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
        self : MEDAClassifier
            The fitted estimator.
        """
        self._check_params()
        X, y, labelled, is_target = _validate_domain_fit(
            self, X, y, sample_domain, allowed="source_only",
            how="To fit without adaptation, set no_target='source_only'.",
        )
        Xs = X[~is_target]
        Xt = X[is_target] if is_target.any() else Xs
        limit = _subspace_limit(type(self).__name__, X.shape[1], len(Xs), len(Xt))
        if self.n_components > limit:
            raise ValueError(
                f"n_components={self.n_components} is more than the subspaces can hold: "
                f"at most min(n_features={X.shape[1]}, source rows - 1={len(Xs) - 1}, "
                f"target rows - 1={len(Xt) - 1}) = {limit} (centred rows span no more)"
            )
        self.classes_, codes = np.unique(_labels_of(y[labelled]), return_inverse=True)
        n_classes = len(self.classes_)
        rng = check_random_state(self.random_state)
        seed = rng.randint(np.iinfo(np.int32).max)

        self.embedding_ = _gfk_factor(Xs, Xt, self.n_components)
        Z = _unit_rows(X @ self.embedding_)
        n = len(Z)
        all_codes = np.full(n, -1)
        all_codes[labelled] = codes
        Y = np.zeros((n, n_classes))
        Y[np.flatnonzero(labelled), codes] = 1.0
        E = labelled.astype(np.float64)

        _warn_if_large_matrix(
            type(self).__name__, n, n,
            "kernel matrix of all rows (and a linear system of that size per iteration)",
        )
        K = _kernel(Z, Z, self.kernel, self.gamma)
        n_neighbors = min(self.n_neighbors, n - 1)
        LK = _laplacian(Z, n_neighbors) @ K if self.manifold_weight > 0 else 0.0
        base = E[:, None] * K + self.manifold_weight * LK
        base[np.diag_indices(n)] += self.alpha

        unlabelled = ~labelled
        if unlabelled.any():
            knn = KNeighborsClassifier(n_neighbors=1).fit(Z[labelled], codes)
            all_codes[unlabelled] = knn.predict(Z[unlabelled])
        mu = 0.5
        margin = None
        for iteration in range(self.max_iter):
            if self.mu == "auto":
                mu = _estimate_mu(
                    Z[~is_target], all_codes[~is_target], Z[is_target], all_codes[is_target],
                    range(n_classes), seed,
                ) if is_target.any() else 0.5
            else:
                mu = float(self.mu)
            mmd_codes = all_codes
            if self.selection == "progressive" and margin is not None:
                mmd_codes = _select_confident(
                    all_codes, unlabelled, margin, n_classes, (iteration + 1) / self.max_iter
                )
            R, w = _mmd_factors(mmd_codes, is_target, n_classes, mu)
            system = base + self.mmd_weight * (R * w) @ (R.T @ K)
            dual_coef = np.linalg.solve(system, E[:, None] * Y)
            scores = K @ dual_coef
            all_codes = np.where(labelled, all_codes, scores.argmax(axis=1))
            if n_classes > 1:
                top_two = np.sort(scores, axis=1)[:, -2:]
                margin = top_two[:, 1] - top_two[:, 0]
        self.n_iter_ = self.max_iter
        self.mu_ = float(mu)
        self.dual_coef_ = dual_coef
        self.X_fit_ = Z
        self.transduction_ = self.classes_[all_codes]
        return self

    def decision_function(self, X, sample_domain=None) -> np.ndarray:
        """Kernel scores of each class (for two classes, class 1 minus class 0).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Rows of any domain.
        sample_domain : array-like of shape (n_samples,), default=None
            Ignored: prediction needs no domain. Accepted, and checked against
            ``X``, because skada's scorers pass it.

        Returns
        -------
        scores : ndarray of shape (n_samples, n_classes) or (n_samples,)
            The least-squares fit of the one-hot labels; for two classes the
            difference of the two columns, positive for ``classes_[1]``.
        """
        _ignore_prediction_domain(self, sample_domain, X)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        Z = _unit_rows(X @ self.embedding_)
        scores = _kernel(Z, self.X_fit_, self.kernel, self.gamma) @ self.dual_coef_
        if len(self.classes_) == 2:
            return scores[:, 1] - scores[:, 0]
        return scores

    def predict(self, X, sample_domain=None) -> np.ndarray:
        """Class of each row: the highest kernel score.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Rows of any domain.
        sample_domain : array-like of shape (n_samples,), default=None
            Ignored: prediction needs no domain. Accepted, and checked against
            ``X``, because skada's scorers pass it.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            Predicted class labels.
        """
        scores = self.decision_function(X, sample_domain=sample_domain)
        if scores.ndim == 1:
            return self.classes_[(scores > 0).astype(int)]
        return self.classes_[scores.argmax(axis=1)]
