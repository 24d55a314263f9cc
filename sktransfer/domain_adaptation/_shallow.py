"""Shallow domain adaptation transformers: CORAL, linear OT, subspace alignment, GFK, TCA.

They go in a :class:`~sklearn.pipeline.Pipeline` before a classifier and are
fit on the rows of both domains, target rows marked by ``y == -1`` (or by
negative ``sample_domain`` ids). The classifier after them must skip the
``y == -1`` rows, e.g. :class:`~sktransfer.LabelledOnly`.

How rows are mapped, in one rule shared by every class here:

- ``fit_transform(X, y, sample_domain=None)`` maps every training row by its
  own domain (source rows by the source map, target rows by the target map):
  the classifier after it learns from the *adapted source rows*.
- ``transform(X)`` has no domain to go by, so it maps every row as a *target*
  row: at prediction time the rows come from the target domain.
  ``transform_source(X)`` maps rows by the source map, e.g. to plot both
  domains in the adapted space.
- ``transform(X, sample_domain=d)``, as skada's adapters are called, maps
  each row by the sign of its id, as ``fit_transform`` does.

``transform``'s signature has no ``sample_domain`` (it is a keyword taken by
``**params``): metadata routing does not see it, so a pipeline step
requested with ``set_fit_request(sample_domain=True)`` receives it in
``fit_transform`` with nothing else to request, and a pipeline's
``predict`` maps its rows as target rows.

For :class:`GeodesicFlowKernel` and :class:`TransferComponentAnalysis` both
maps are the same (one shared embedding), so the rule changes nothing there.
"""

from __future__ import annotations

import numbers
import warnings

import numpy as np
from scipy import linalg
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    OneToOneFeatureMixin,
    TransformerMixin,
)
from sklearn.covariance import ledoit_wolf
from sklearn.decomposition import PCA
from sklearn.metrics.pairwise import pairwise_kernels
from sklearn.utils.validation import check_is_fitted, validate_data

from ..base import (
    _caller_stacklevel,
    _check_sample_domain,
    _domain_masks,
    _is_finite_real,
    _unfitted_if_refused,
    _warn_if_every_target_row_labelled,
    _warn_if_large_matrix,
)

__all__ = [
    "CORAL",
    "GeodesicFlowKernel",
    "LinearOTMapping",
    "SubspaceAlignment",
    "TransferComponentAnalysis",
]

_SINGLE_DOMAIN = ("raise", "fit")


# ----------------------------------------------------------------------
# shared numerics
# ----------------------------------------------------------------------
def _in_dtype_of(X, X_new: np.ndarray) -> np.ndarray:
    """``X_new`` in float32 when ``X`` is float32 (an array, or a DataFrame of
    float32 columns), as scikit-learn's PCA.

    The maps are computed in float64 (covariances, eigenproblems); only their
    output goes back to the input's precision, halving its memory.
    """
    dtypes = getattr(X, "dtypes", [getattr(X, "dtype", None)])  # a DataFrame: per column
    if len(dtypes) and all(dtype == np.float32 for dtype in dtypes):
        return X_new.astype(np.float32)
    return X_new


def _top_eigenvectors(A: np.ndarray, B: np.ndarray, k: int, *, owner: str, ridge: str) -> np.ndarray:
    """The ``k`` eigenvectors of ``A v = nu B v`` with the largest ``nu``, largest first.

    LAPACK's subset solver may return fewer than ``k`` vectors when eigenvalues
    repeat (a kernel matrix close to the identity): the full solve is used then.
    ``B`` not positive definite (a ridge ``ridge`` too small for the scale of
    the features) gets an error that says so.
    """
    n = A.shape[0]
    try:
        _, vectors = linalg.eigh(A, B, subset_by_index=[n - k, n - 1])
        if vectors.shape[1] < k:
            _, vectors = linalg.eigh(A, B)
            vectors = vectors[:, n - k:]
    except linalg.LinAlgError as exc:
        raise ValueError(
            f"{owner}: the regularised matrix of its eigenproblem is not positive definite "
            f"({exc}). Its ridge {ridge} is too small for the scale of the features: "
            f"standardise them (sklearn.preprocessing.StandardScaler), or raise {ridge}."
        ) from exc
    return vectors[:, ::-1]


# ----------------------------------------------------------------------
# geodesic flow kernel
# ----------------------------------------------------------------------
def _subspace_limit(name: str, n_features: int, n_source: int, n_target: int) -> int:
    """Most PCA components each domain's centred rows can give: min(d, n_s - 1, n_t - 1)."""
    smallest = min(int(n_source), int(n_target))
    if smallest < 2:
        which = "source" if n_source <= n_target else "target"
        raise ValueError(
            f"{name} fits a PCA subspace to each domain, which needs at least 2 rows per "
            f"domain: the {which} domain has {smallest} (n_samples = {smallest})"
        )
    return min(int(n_features), smallest - 1)


def _pca_basis(X: np.ndarray, n_components: int) -> np.ndarray:
    """Orthonormal basis (n_features, n_components) of X's leading principal directions."""
    _, _, vt = np.linalg.svd(X - X.mean(axis=0), full_matrices=False)
    return vt[:n_components].T


def _gfk_factor(Xs: np.ndarray, Xt: np.ndarray, n_components: int) -> np.ndarray:
    """A factor ``F`` (n_features, 2 n_components) of the geodesic flow kernel, ``G = F F^T``.

    ``G = int_0^1 Phi(t) Phi(t)^T dt`` along the geodesic from the source
    subspace ``Ps`` to the target subspace ``Pt`` on the Grassmann manifold,
    in closed form from the principal angles ``theta`` between them (Gong et
    al. 2012, eq. 7): ``G = O B O^T`` with
    ``O = [Ps U1, U2]`` and ``B`` made of three diagonal blocks.
    ``(I - Ps Ps^T) Pt`` gives ``U2``, the directions leaving ``Ps``, without
    forming the orthogonal complement of ``Ps``. Rows mapped by ``F`` have the
    inner products (hence distances and kernels) of rows mapped by ``sqrt(G)``,
    in ``2 n_components`` columns instead of ``n_features``.
    """
    ps = _pca_basis(Xs, n_components)
    pt = _pca_basis(Xt, n_components)
    cross = ps.T @ pt
    u1, cos_theta, vt = np.linalg.svd(cross)
    theta = np.arccos(np.clip(cos_theta, -1.0, 1.0))
    u2 = -((pt - ps @ cross) @ vt.T) / np.maximum(np.sin(theta), 1e-12)
    sinc = np.sinc(2.0 * theta / np.pi)  # sin(2 theta) / (2 theta), 1 at theta = 0
    lam1 = 0.5 * (1.0 + sinc)
    lam2 = 0.5 * (np.cos(2.0 * theta) - 1.0) / np.maximum(2.0 * theta, 1e-20)
    lam3 = 0.5 * (1.0 - sinc)
    blocks = np.block([[np.diag(lam1), np.diag(lam2)], [np.diag(lam2), np.diag(lam3)]])
    eigval, eigvec = np.linalg.eigh(blocks)
    return np.hstack([ps @ u1, u2]) @ (eigvec * np.sqrt(np.clip(eigval, 0.0, None)))


class _DomainTransformerMixin(TransformerMixin):
    """Shared fit-time domain handling of the shallow transformers."""

    def _check_single_domain_param(self):
        if self.single_domain not in _SINGLE_DOMAIN:
            raise ValueError(
                f"single_domain must be one of {_SINGLE_DOMAIN}, got {self.single_domain!r}"
            )

    def _validate_fit(self, X, y, sample_domain):
        """Validate ``X`` and return it with the source and target masks."""
        self._check_single_domain_param()
        X = validate_data(self, X, dtype=np.float64, ensure_min_samples=2)
        labelled, is_target = _domain_masks(y, sample_domain, len(X))
        _warn_if_every_target_row_labelled(
            labelled, is_target, sample_domain, type(self).__name__,
            uses_labels=False,
        )
        is_source = ~is_target
        missing = "target" if not is_target.any() else "source" if not is_source.any() else None
        if missing is not None:
            if self.single_domain == "raise":
                if sample_domain is not None:
                    sign = "negative" if missing == "target" else "positive"
                    how = f"The sample_domain given has no {sign} id ({missing} domains have {sign} ids)."
                elif missing == "target":
                    how = (
                        "Mark the target rows with y == -1, or pass sample_domain "
                        "(positive ids: source, negative ids: target)."
                    )
                else:
                    how = (
                        "Pass y with class labels on the source rows, or pass "
                        "sample_domain (positive ids: source, negative ids: target)."
                    )
                raise ValueError(
                    f"{type(self).__name__} found no {missing} rows: it learns a map "
                    f"between two domains. {how} To fit on one domain as both source "
                    "and target (no adaptation), set single_domain='fit'."
                )
            is_source = is_target = np.ones(len(X), dtype=bool)
        return X, is_source, is_target

    def _subspace_dimension(self, X, is_source, is_target) -> int:
        """``n_components`` checked against the features and rows of each domain (None: all).

        Centred, ``n`` rows span at most ``n - 1`` directions: a component past
        them would be an arbitrary direction, not one of the domain's.
        """
        limit = _subspace_limit(type(self).__name__, X.shape[1], is_source.sum(), is_target.sum())
        k = self.n_components
        if k is None:
            return limit
        if isinstance(k, bool) or not isinstance(k, numbers.Integral) or not 1 <= k <= limit:
            raise ValueError(
                f"n_components must be an integer in [1, {limit}] (the number of features, "
                f"and of rows of each domain minus one: centred rows span no more), got {k!r}"
            )
        return int(k)

    def fit_transform(self, X, y=None, sample_domain=None):
        """Fit, then map each training row by its domain.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Rows of both domains.
        y : array-like of shape (n_samples,), default=None
            Labels; ``-1`` marks target rows when ``sample_domain`` is None.
        sample_domain : array-like of int of shape (n_samples,), default=None
            Domain of each row: positive ids for source domains, negative ids
            for target domains; several source (or target) domains are
            pooled into one.

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_components)
            Source rows mapped by the source map, target rows by the target map;
            float32 for a float32 ``X``, else float64.
        """
        self.fit(X, y, sample_domain=sample_domain)
        return _in_dtype_of(X, self._map(self._validated(X), self._fit_is_source_))

    def transform(self, X, **params):
        """Map rows into the adapted space as *target* rows (rows without a domain).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Rows to map, e.g. target rows at prediction time.
        **params : dict
            ``sample_domain`` (array-like of int of shape (n_samples,)) only,
            as skada's adapters take it: rows with a positive id are then
            mapped by the source map, those with a negative id by the target
            map. Not a named parameter, so that metadata routing never asks
            for it.

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_components)
            Rows mapped by the target map (by their domain's map, given
            ``sample_domain``).
        """
        sample_domain = params.pop("sample_domain", None)
        if params:
            raise TypeError(
                f"{type(self).__name__}.transform takes X and, optionally, sample_domain; "
                f"got {sorted(params)}"
            )
        check_is_fitted(self)
        X_new = self._validated(X)
        if sample_domain is None:
            is_source = np.zeros(len(X_new), dtype=bool)
        else:
            is_source = _check_sample_domain(sample_domain, len(X_new), require_source=False) > 0
        return _in_dtype_of(X, self._map(X_new, is_source))

    def transform_source(self, X):
        """Map rows into the adapted space as *source* rows.

        What ``fit_transform`` does to the source rows, for new rows (e.g. to
        plot both domains in the adapted space).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Source rows to map.

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_components)
            Rows mapped by the source map. A NumPy array whatever
            ``set_output`` says: as in scikit-learn, ``set_output`` applies to
            ``transform`` and ``fit_transform`` only.
        """
        check_is_fitted(self)
        X_new = self._validated(X)
        return _in_dtype_of(X, self._map(X_new, np.ones(len(X_new), dtype=bool)))

    def _validated(self, X):
        return validate_data(self, X, reset=False, dtype=np.float64)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags


class _LinearMapMixin(_DomainTransformerMixin):
    """Shared machinery of the maps that move the source rows' first two moments
    onto the target's (:class:`CORAL`, :class:`LinearOTMapping`): the
    regularised covariances and the affine map of the source rows. A subclass
    gives the matrix, ``_linear_map()``, and ``_aligns_means()``."""

    def _fit_moments(self, X, y, sample_domain):
        if not (
            self.reg == "auto"
            or (_is_finite_real(self.reg) and self.reg >= 0)
        ):
            raise ValueError(f"reg must be 'auto' or a non-negative finite number, got {self.reg!r}")
        X, is_source, is_target = self._validate_fit(X, y, sample_domain)
        Xs, Xt = X[is_source], X[is_target]
        self.mean_source_, self.mean_target_ = Xs.mean(axis=0), Xt.mean(axis=0)
        self.covariance_source_ = self._regularised_covariance(Xs)
        self.covariance_target_ = self._regularised_covariance(Xt)
        self._fit_is_source_ = is_source & ~is_target
        if self.reg == 0:
            vals = linalg.eigvalsh(self.covariance_source_)
            if vals[0] <= np.finfo(float).eps * max(vals[-1], 1.0) * 10:
                warnings.warn(
                    f"{type(self).__name__}(reg=0): the source covariance is singular "
                    f"({len(Xs)} source rows, {X.shape[1]} features, or a feature constant "
                    "on the source): its inverse square root blows up the directions the "
                    "source rows do not span, and a row off them is mapped far away. Use "
                    "reg='auto' (Ledoit-Wolf shrinkage) or a positive reg.",
                    UserWarning,
                    stacklevel=_caller_stacklevel(),
                )

    def _regularised_covariance(self, X):
        if self.reg == "auto":
            if len(X) < 2:
                raise ValueError(
                    f"{type(self).__name__}(reg='auto') estimates each domain's covariance "
                    f"(Ledoit-Wolf), which needs at least 2 rows per domain: a domain has "
                    f"{len(X)} (n_samples = {len(X)}). Pass a number as reg to use reg * I "
                    "as that domain's covariance."
                )
            # Shrink the correlation matrix, then scale back: shrinking towards
            # a multiple of the identity only makes sense on comparable scales.
            scale = X.std(axis=0)
            scale[scale == 0] = 1.0
            return ledoit_wolf(X / scale)[0] * np.outer(scale, scale)
        return _covariance(X) + self.reg * np.eye(X.shape[1])

    def _map(self, X, is_source):
        X = X.copy()
        if is_source.any():
            Xs = X[is_source]
            if self._aligns_means():
                X[is_source] = (Xs - self.mean_source_) @ self._linear_map() + self.mean_target_
            else:
                X[is_source] = Xs @ self._linear_map()
        return X


class CORAL(OneToOneFeatureMixin, _LinearMapMixin, BaseEstimator):
    """CORrelation ALignment: re-colour the source rows with the target covariance.

    Whitens the source rows with their covariance ``C_s + reg I`` and
    re-colours them with the target covariance ``C_t + reg I`` (Sun, Feng and
    Saenko, 2016): ``x_s A`` with ``A = (C_s + reg I)^(-1/2) (C_t + reg I)^(1/2)``.
    A classifier fit on the re-coloured source rows then predicts on the raw
    target rows. Standardise the features first (the paper does, and ``reg``
    is relative to unit variances).

    Within a :class:`~sklearn.pipeline.Pipeline` the final classifier must
    skip the ``y == -1`` rows, e.g. :class:`~sktransfer.LabelledOnly`.
    ``fit_transform`` re-colours the source rows and leaves target rows as
    they are; ``transform(X)`` leaves every row as it is (rows without a
    domain are target rows); ``transform_source(X)`` re-colours every row.

    Parameters
    ----------
    reg : float or "auto", default="auto"
        Regularisation of both covariances: a number is added to their
        diagonal (``lambda`` of the paper, which uses 1 on standardised
        features); ``"auto"`` shrinks each domain's correlation matrix towards
        the identity by the Ledoit-Wolf estimate of the best amount (adapting
        to the number of rows per feature of the domain), then restores the
        features' variances. ``0`` with a singular source covariance (fewer
        source rows than features, or a constant feature) warns: the
        whitening then magnifies the directions the source rows do not span.
    align_means : bool, default=True
        Also move the source mean onto the target mean:
        ``(x_s - mean_s) A + mean_t``. The paper aligns second moments only,
        on features standardised per domain (whose means are then equal);
        with False, source rows map to ``x_s A``.
    single_domain : {"raise", "fit"}, default="raise"
        What to do when fit sees one domain only (no target rows, or no
        source rows): raise a ``ValueError``, or use those rows as both source
        and target (the map is then the identity).

    Attributes
    ----------
    coral_matrix_ : ndarray of shape (n_features, n_features)
        The map ``A`` applied to source rows.
    mean_source_, mean_target_ : ndarray of shape (n_features,)
        Means of the source and target rows.
    covariance_source_, covariance_target_ : ndarray of shape (n_features, n_features)
        Covariances of the source and target rows, regularised as ``reg`` says.
    n_features_in_ : int
        Number of features seen in ``fit``.

    See Also
    --------
    SubspaceAlignment : aligns PCA subspaces instead of covariances.

    References
    ----------
    B. Sun, J. Feng and K. Saenko. Return of Frustratingly Easy Domain
    Adaptation. AAAI 2016.

    Examples
    --------
    >>> import numpy as np
    >>> from sktransfer import CORAL
    >>> rng = np.random.RandomState(0)
    >>> X = np.r_[rng.normal(size=(200, 2)), rng.normal(size=(200, 2)) * [3.0, 0.5]]
    >>> y = np.r_[rng.randint(2, size=200), -np.ones(200, dtype=int)]
    >>> Xs_new = CORAL(reg=1e-6).fit_transform(X, y)[:200]
    >>> bool(np.allclose(np.cov(Xs_new.T), np.cov(X[200:].T)))
    True
    """

    def __init__(self, reg: float | str = "auto", *, align_means: bool = True, single_domain: str = "raise"):
        self.reg = reg
        self.align_means = align_means
        self.single_domain = single_domain

    @_unfitted_if_refused
    def fit(self, X, y=None, sample_domain=None) -> CORAL:
        """Learn the source-to-target map from rows of both domains.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Rows of both domains.
        y : array-like of shape (n_samples,), default=None
            Labels; ``-1`` marks target rows when ``sample_domain`` is None
            (only that mark is used).
        sample_domain : array-like of int of shape (n_samples,), default=None
            Domain of each row: positive ids for source domains, negative ids
            for target domains; several source (or target) domains are
            pooled into one.

        Returns
        -------
        self : CORAL
            The fitted transformer.
        """
        self._fit_moments(X, y, sample_domain)
        whiten = _sym_power(self.covariance_source_, -0.5)
        colour = _sym_power(self.covariance_target_, 0.5)
        self.coral_matrix_ = whiten @ colour
        return self

    def _linear_map(self):
        return self.coral_matrix_

    def _aligns_means(self):
        return self.align_means


class LinearOTMapping(OneToOneFeatureMixin, _LinearMapMixin, BaseEstimator):
    """Linear optimal transport: the Monge map between the domains' Gaussian approximations.

    Among the maps that carry a Gaussian with the source rows' mean and
    covariance onto one with the target rows' (the affine ones), the one
    that moves the rows least in mean squared distance (Knott and Smith,
    1984; for domain adaptation, Flamary, Lounici and Ferrari, 2019): source
    rows map to ``(x_s - mean_s) A + mean_t`` with the symmetric positive
    definite ``A = C_s^(-1/2) (C_s^(1/2) C_t C_s^(1/2))^(1/2) C_s^(-1/2)``.
    :class:`CORAL`'s whitening-then-recolouring ``C_s^(-1/2) C_t^(1/2)``
    reaches the same target covariance, but rotates the rows on the way
    whenever the two covariances have different principal axes; this map
    does not, so each source row stays as close to where it was as the
    target moments allow. Standardise the features first.

    Within a :class:`~sklearn.pipeline.Pipeline` the final classifier must
    skip the ``y == -1`` rows, e.g. :class:`~sktransfer.LabelledOnly`.
    ``fit_transform`` maps the source rows and leaves target rows as they
    are; ``transform(X)`` leaves every row as it is (rows without a domain
    are target rows); ``transform_source(X)`` maps every row.

    Parameters
    ----------
    reg : float or "auto", default="auto"
        Regularisation of both covariances, as :class:`CORAL`'s: a number is
        added to their diagonal; ``"auto"`` shrinks each domain's correlation
        matrix towards the identity by the Ledoit-Wolf estimate, then restores
        the features' variances. ``0`` with a singular source covariance warns,
        as :class:`CORAL` does.
    single_domain : {"raise", "fit"}, default="raise"
        What to do when fit sees one domain only: raise a ``ValueError``, or
        use those rows as both source and target (the map is then the
        identity).

    Attributes
    ----------
    mapping_matrix_ : ndarray of shape (n_features, n_features)
        The symmetric matrix ``A`` applied to centred source rows.
    mean_source_, mean_target_ : ndarray of shape (n_features,)
        Means of the source and target rows.
    covariance_source_, covariance_target_ : ndarray of shape (n_features, n_features)
        Covariances of the source and target rows, regularised as ``reg`` says.
    n_features_in_ : int
        Number of features seen in ``fit``.

    See Also
    --------
    CORAL : the same moments matched by whitening and recolouring.

    References
    ----------
    M. Knott and C. S. Smith. On the optimal mapping of distributions.
    Journal of Optimization Theory and Applications, 1984.

    R. Flamary, K. Lounici and A. Ferrari. Concentration bounds for linear
    Monge mapping estimation and optimal transport domain adaptation.
    arXiv:1905.10155, 2019.

    Examples
    --------
    >>> import numpy as np
    >>> from sktransfer import LinearOTMapping
    >>> rng = np.random.RandomState(0)
    >>> X = np.r_[rng.normal(size=(200, 2)), rng.normal(size=(200, 2)) * [3.0, 0.5] + 1]
    >>> y = np.r_[rng.randint(2, size=200), -np.ones(200, dtype=int)]
    >>> Xs_new = LinearOTMapping(reg=1e-6).fit_transform(X, y)[:200]
    >>> bool(np.allclose(np.cov(Xs_new.T), np.cov(X[200:].T)))
    True
    >>> bool(np.allclose(Xs_new.mean(axis=0), X[200:].mean(axis=0)))
    True
    """

    def __init__(self, reg: float | str = "auto", *, single_domain: str = "raise"):
        self.reg = reg
        self.single_domain = single_domain

    @_unfitted_if_refused
    def fit(self, X, y=None, sample_domain=None) -> LinearOTMapping:
        """Learn the source-to-target map from rows of both domains.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Rows of both domains.
        y : array-like of shape (n_samples,), default=None
            Labels; ``-1`` marks target rows when ``sample_domain`` is None
            (only that mark is used).
        sample_domain : array-like of int of shape (n_samples,), default=None
            Domain of each row: positive ids for source domains, negative ids
            for target domains; several source (or target) domains are
            pooled into one.

        Returns
        -------
        self : LinearOTMapping
            The fitted transformer.
        """
        self._fit_moments(X, y, sample_domain)
        root = _sym_power(self.covariance_source_, 0.5)
        inverse_root = _sym_power(self.covariance_source_, -0.5)
        middle = _sym_power(root @ self.covariance_target_ @ root, 0.5)
        mapping = inverse_root @ middle @ inverse_root
        self.mapping_matrix_ = (mapping + mapping.T) / 2  # symmetric up to rounding
        return self

    def _linear_map(self):
        return self.mapping_matrix_

    def _aligns_means(self):
        return True


class SubspaceAlignment(ClassNamePrefixFeaturesOutMixin, _DomainTransformerMixin, BaseEstimator):
    """Subspace alignment: align the source PCA basis onto the target PCA basis.

    Each domain is centred on its own mean and projected on its own
    ``n_components`` principal axes (``P_s``, ``P_t``); the source
    coordinates are then aligned with ``M = P_s' P_t`` (Fernando et al.,
    2013): source rows map to ``(x - mean_s) P_s M``, target rows to
    ``(x - mean_t) P_t``.

    Within a :class:`~sklearn.pipeline.Pipeline` the final classifier must
    skip the ``y == -1`` rows, e.g. :class:`~sktransfer.LabelledOnly`.
    ``fit_transform`` maps each training row by its domain; ``transform(X)``
    maps every row as a target row (rows without a domain are target rows);
    ``transform_source(X)`` maps every row as a source row.

    Parameters
    ----------
    n_components : int or None, default=None
        Dimension of the subspaces; at most the number of features and, for
        each domain, its number of rows minus one (centred rows span no
        more). None means that maximum
        (``min(n_features, n_source - 1, n_target - 1)``); SA adapts only when
        the subspaces are smaller than the input space.
    single_domain : {"raise", "fit"}, default="raise"
        What to do when fit sees one domain only: raise a ``ValueError``, or
        use those rows as both source and target (plain PCA).

    Attributes
    ----------
    components_source_, components_target_ : ndarray of shape (n_features, n_components)
        The principal axes ``P_s`` and ``P_t``, as columns.
    alignment_ : ndarray of shape (n_components, n_components)
        ``M = P_s' P_t``.
    mean_source_, mean_target_ : ndarray of shape (n_features,)
        Means of the source and target rows.
    n_components_ : int
        The dimension used.
    n_features_in_ : int
        Number of features seen in ``fit``.

    See Also
    --------
    CORAL : aligns covariances instead of subspaces.

    References
    ----------
    B. Fernando, A. Habrard, M. Sebban and T. Tuytelaars. Unsupervised Visual
    Domain Adaptation Using Subspace Alignment. ICCV 2013.

    Examples
    --------
    >>> import numpy as np
    >>> from sktransfer import SubspaceAlignment
    >>> rng = np.random.RandomState(0)
    >>> X = np.r_[rng.normal(size=(100, 5)), rng.normal(size=(100, 5)) + 2]
    >>> y = np.r_[rng.randint(2, size=100), -np.ones(100, dtype=int)]
    >>> sa = SubspaceAlignment(n_components=2).fit(X, y)
    >>> sa.fit_transform(X, y).shape, sa.alignment_.shape
    ((200, 2), (2, 2))
    """

    def __init__(self, n_components: int | None = None, *, single_domain: str = "raise"):
        self.n_components = n_components
        self.single_domain = single_domain

    @_unfitted_if_refused
    def fit(self, X, y=None, sample_domain=None) -> SubspaceAlignment:
        """Learn both subspaces and their alignment.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Rows of both domains.
        y : array-like of shape (n_samples,), default=None
            Labels; ``-1`` marks target rows when ``sample_domain`` is None.
        sample_domain : array-like of int of shape (n_samples,), default=None
            Domain of each row: positive ids for source domains, negative ids
            for target domains; several source (or target) domains are
            pooled into one.

        Returns
        -------
        self : SubspaceAlignment
            The fitted transformer.
        """
        X, is_source, is_target = self._validate_fit(X, y, sample_domain)
        Xs, Xt = X[is_source], X[is_target]
        self.n_components_ = self._subspace_dimension(X, is_source, is_target)
        pca_s = PCA(self.n_components_, svd_solver="full").fit(Xs)
        pca_t = PCA(self.n_components_, svd_solver="full").fit(Xt)
        self.mean_source_, self.mean_target_ = pca_s.mean_, pca_t.mean_
        self.components_source_ = pca_s.components_.T
        self.components_target_ = pca_t.components_.T
        self.alignment_ = self.components_source_.T @ self.components_target_
        self._fit_is_source_ = is_source & ~is_target
        return self

    @property
    def _n_features_out(self):
        return self.n_components_

    def _map(self, X, is_source):
        out = (X - self.mean_target_) @ self.components_target_
        if is_source.any():
            out[is_source] = (
                (X[is_source] - self.mean_source_) @ self.components_source_ @ self.alignment_
            )
        return out


class GeodesicFlowKernel(ClassNamePrefixFeaturesOutMixin, _DomainTransformerMixin, BaseEstimator):
    """Geodesic flow kernel (GFK): integrate over the subspaces between the source and target.

    The source and target PCA subspaces (``n_components`` dimensions each,
    both centred on their own mean) are two points of a Grassmann manifold.
    GFK projects a row onto every subspace along the geodesic between them
    and integrates the inner products, which has a closed form in the
    principal angles between the two subspaces (Gong et al., 2012):
    ``<x, x'>_G = x G x'^T`` with ``G = F F^T``. This transformer maps each
    row to ``x F`` (``2 n_components`` columns), so any estimator after it
    works with the GFK inner products and distances; with
    ``KNeighborsClassifier(1)`` it is the GFK + 1-NN of the paper.

    Both domains are mapped by the same ``F`` (no centring at transform
    time, as in the paper). Within a :class:`~sklearn.pipeline.Pipeline` the
    final classifier must skip the ``y == -1`` rows, e.g.
    :class:`~sktransfer.LabelledOnly`.

    Parameters
    ----------
    n_components : int or None, default=20
        Dimension of the source and target subspaces; at most the number of
        features and, for each domain, its number of rows minus one (centred
        rows span no more; None means that maximum). The output has twice as
        many columns.
    single_domain : {"raise", "fit"}, default="raise"
        What to do when fit sees one domain only: raise a ``ValueError``, or
        use those rows as both source and target (then ``G`` is the
        projection on their PCA subspace).

    Attributes
    ----------
    embedding_ : ndarray of shape (n_features, 2 * n_components)
        The factor ``F`` of the kernel, ``G = F F^T``.
    n_components_ : int
        The subspace dimension used.
    n_features_in_ : int
        Number of features seen in ``fit``.

    See Also
    --------
    SubspaceAlignment : aligns the source subspace onto the target one
        instead of integrating between them.
    MEDAClassifier : GFK followed by distribution alignment and a kernel
        classifier.

    References
    ----------
    B. Gong, Y. Shi, F. Sha and K. Grauman. Geodesic Flow Kernel for
    Unsupervised Domain Adaptation. CVPR 2012.

    Examples
    --------
    >>> import numpy as np
    >>> from sktransfer.domain_adaptation import GeodesicFlowKernel
    >>> rng = np.random.RandomState(0)
    >>> X = np.r_[rng.normal(size=(100, 5)), rng.normal(size=(100, 5)) + 2]
    >>> y = np.r_[rng.randint(2, size=100), -np.ones(100, dtype=int)]
    >>> gfk = GeodesicFlowKernel(n_components=2).fit(X, y)
    >>> gfk.transform(X).shape, gfk.embedding_.shape
    ((200, 4), (5, 4))
    """

    def __init__(self, n_components: int | None = 20, *, single_domain: str = "raise"):
        self.n_components = n_components
        self.single_domain = single_domain

    @_unfitted_if_refused
    def fit(self, X, y=None, sample_domain=None) -> GeodesicFlowKernel:
        """Learn the kernel from the subspaces of the two domains.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Rows of both domains.
        y : array-like of shape (n_samples,), default=None
            Labels; ``-1`` marks target rows when ``sample_domain`` is None.
        sample_domain : array-like of int of shape (n_samples,), default=None
            Domain of each row: positive ids for source domains, negative ids
            for target domains; several source (or target) domains are
            pooled into one.

        Returns
        -------
        self : GeodesicFlowKernel
            The fitted transformer.
        """
        X, is_source, is_target = self._validate_fit(X, y, sample_domain)
        self.n_components_ = self._subspace_dimension(X, is_source, is_target)
        self.embedding_ = _gfk_factor(X[is_source], X[is_target], self.n_components_)
        self._fit_is_source_ = is_source & ~is_target
        return self

    @property
    def _n_features_out(self):
        return 2 * self.n_components_

    def _map(self, X, is_source):
        return X @ self.embedding_


class TransferComponentAnalysis(ClassNamePrefixFeaturesOutMixin, _DomainTransformerMixin, BaseEstimator):
    """Transfer component analysis (TCA): a kernel embedding shared by both domains.

    Finds ``n_components`` directions ``W`` in the span of the kernel
    features of the training rows that keep their variance while shrinking
    the maximum mean discrepancy (MMD) between the domains (Pan et al.,
    2011): the leading eigenvectors of
    ``(K L K + mu I)^(-1) K H K``, with ``L`` the MMD matrix and ``H`` the
    centring matrix. Every row, of either domain, maps to ``k(x, X_fit) W``,
    so new rows are embedded through the kernel against the training rows.

    Fitting costs ``O(n^3)`` time and ``O(n^2)`` memory in the number of
    training rows; ``transform`` keeps the
    training rows.

    Within a :class:`~sklearn.pipeline.Pipeline` the final classifier must
    skip the ``y == -1`` rows, e.g. :class:`~sktransfer.LabelledOnly`.

    Parameters
    ----------
    n_components : int or None, default=None
        Dimension of the embedding; None means ``min(n_features, n_samples)``.
    kernel : {"linear", "rbf"}, default="linear"
        The kernel.
    gamma : float, default=None
        Width of the RBF kernel; None means ``1 / (n_features * X.var())``.
    mu : float, default=1.0
        Regularisation of ``W`` (trade-off against the MMD term).
    single_domain : {"raise", "fit"}, default="raise"
        What to do when fit sees one domain only: raise a ``ValueError``, or
        drop the MMD term (kernel PCA, scaled).

    Attributes
    ----------
    X_fit_ : ndarray of shape (n_samples, n_features)
        The training rows.
    dual_coef_ : ndarray of shape (n_samples, n_components)
        ``W``: the embedding of ``x`` is ``k(x, X_fit_) @ dual_coef_``.
    gamma_ : float or None
        The RBF kernel width used.
    n_components_ : int
        The dimension used.
    n_features_in_ : int
        Number of features seen in ``fit``.

    References
    ----------
    S. J. Pan, I. W. Tsang, J. T. Kwok and Q. Yang. Domain Adaptation via
    Transfer Component Analysis. IEEE Transactions on Neural Networks 22(2),
    2011.

    Examples
    --------
    >>> import numpy as np
    >>> from sktransfer import TransferComponentAnalysis
    >>> rng = np.random.RandomState(0)
    >>> X = np.r_[rng.normal(size=(50, 3)), rng.normal(size=(50, 3)) + [2, 0, 0]]
    >>> y = np.r_[rng.randint(2, size=50), -np.ones(50, dtype=int)]
    >>> tca = TransferComponentAnalysis(n_components=2).fit(X, y)
    >>> tca.transform(X).shape
    (100, 2)
    """

    def __init__(
        self,
        n_components: int | None = None,
        *,
        kernel: str = "linear",
        gamma: float | None = None,
        mu: float = 1.0,
        single_domain: str = "raise",
    ):
        self.n_components = n_components
        self.kernel = kernel
        self.gamma = gamma
        self.mu = mu
        self.single_domain = single_domain

    def _kernel(self, A, B):
        if self.kernel == "linear":
            return A @ B.T
        return pairwise_kernels(A, B, metric="rbf", gamma=self.gamma_)

    @_unfitted_if_refused
    def fit(self, X, y=None, sample_domain=None) -> TransferComponentAnalysis:
        """Learn the shared embedding from rows of both domains.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Rows of both domains.
        y : array-like of shape (n_samples,), default=None
            Labels; ``-1`` marks target rows when ``sample_domain`` is None.
        sample_domain : array-like of int of shape (n_samples,), default=None
            Domain of each row: positive ids for source domains, negative ids
            for target domains; several source (or target) domains are
            pooled into one.

        Returns
        -------
        self : TransferComponentAnalysis
            The fitted transformer.
        """
        if self.kernel not in ("linear", "rbf"):
            raise ValueError(f"kernel must be 'linear' or 'rbf', got {self.kernel!r}")
        if not (_is_finite_real(self.mu) and self.mu > 0):
            raise ValueError(f"mu must be a positive finite number, got {self.mu!r}")
        if self.gamma is not None and not (_is_finite_real(self.gamma) and self.gamma > 0):
            raise ValueError(f"gamma must be a positive finite number or None, got {self.gamma!r}")
        X, is_source, is_target = self._validate_fit(X, y, sample_domain)
        n = len(X)
        limit = min(X.shape[1], n) if self.kernel == "linear" else n
        k = min(X.shape[1], n) if self.n_components is None else self.n_components
        if isinstance(k, bool) or not isinstance(k, numbers.Integral) or not 1 <= k <= limit:
            raise ValueError(
                f"n_components must be an integer in [1, {limit}], got {self.n_components!r}"
            )
        self.n_components_ = int(k)
        self.gamma_ = None
        if self.kernel == "rbf":
            var = X.var()
            self.gamma_ = self.gamma or (1.0 / (X.shape[1] * var) if var > 0 else 1.0)
        _warn_if_large_matrix(
            type(self).__name__, n, n,
            "kernel matrix of all rows (and a generalised eigenproblem of that size)",
        )
        K = self._kernel(X, X)
        if (is_source & is_target).all():  # one domain: no MMD term
            L = np.zeros((n, n))
        else:
            e = np.where(is_source, 1.0 / is_source.sum(), -1.0 / is_target.sum())
            L = np.outer(e, e)
        KH = K - K.mean(axis=1, keepdims=True)  # K @ H
        A = KH @ K
        A = (A + A.T) / 2
        B = K @ L @ K + self.mu * np.eye(n)
        B = (B + B.T) / 2
        W = _top_eigenvectors(A, B, self.n_components_, owner=type(self).__name__, ridge="mu")
        # Deterministic signs: the largest entry of each column is positive.
        signs = np.sign(W[np.argmax(np.abs(W), axis=0), np.arange(W.shape[1])])
        signs[signs == 0] = 1
        self.dual_coef_ = W * signs
        self.X_fit_ = X
        self._fit_is_source_ = is_source & ~is_target
        return self

    @property
    def _n_features_out(self):
        return self.n_components_

    def _map(self, X, is_source):
        return self._kernel(X, self.X_fit_) @ self.dual_coef_


def _covariance(X):
    if len(X) < 2:
        return np.zeros((X.shape[1], X.shape[1]))
    return np.atleast_2d(np.cov(X, rowvar=False))


def _sym_power(C, power):
    """``C ** power`` for a symmetric positive semi-definite matrix."""
    vals, vecs = linalg.eigh(C)
    vals = np.clip(vals, np.finfo(float).eps * max(vals.max(), 1.0), None)
    return (vecs * vals**power) @ vecs.T
