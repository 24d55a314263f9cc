"""Importance weighting: fit on source rows weighted by p_target(x) / p_source(x)."""

from __future__ import annotations

import inspect
import numbers
import warnings

import numpy as np
import scipy.sparse as sp
from scipy.optimize import minimize
from sklearn import get_config
from sklearn.base import BaseEstimator, MetaEstimatorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics.pairwise import rbf_kernel
from sklearn.model_selection import KFold, StratifiedKFold, cross_val_predict
from sklearn.pipeline import Pipeline
from sklearn.utils import check_random_state, get_tags
from sklearn.utils.validation import check_is_fitted, has_fit_parameter, validate_data

from ..base import (
    _as_vectors,
    _caller_stacklevel,
    _clone_seeded,
    _float_unless_nd,
    _is_finite_real,
    _labels_of,
    _unfitted_if_refused,
    _validate_domain_fit,
    _warn_if_large_matrix,
    _WrappedClassifierMixin,
)

__all__ = ["ImportanceWeightCollapseWarning", "ImportanceWeightedClassifier"]

#: Effective sample size, as a share of the source rows, below which weights "collapse".
_MIN_ESS_FRACTION = 0.05
#: KLIEP's default candidate widths: the default RBF width times these factors.
_KLIEP_GAMMA_FACTORS = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0)
#: Floor of an importance weight before its logarithm (KLIEP's weights average 1 on the source).
_TINY = 1e-10


class ImportanceWeightCollapseWarning(UserWarning):
    """Importance weights concentrate on a few rows (tiny effective sample size).

    Raised when ``(sum w)^2 / sum w^2`` falls below 5% of the weighted rows:
    the source and target domains barely overlap, so a model fit (or a score
    computed) with these weights rests on a handful of rows.
    :func:`~sktransfer.model_selection.deep_embedded_validation_scorer` also
    raises it when the weights of its domain classifier average under 1/2 or
    over 2 on the source rows, where a calibrated one gives about 1: it
    separates the domains too confidently (over-fit, or domains that barely
    overlap), and DEV's control variate, which assumes a mean of 1, makes
    its estimate unreliable.
    """


# ----------------------------------------------------------------------
# density ratio estimation
# ----------------------------------------------------------------------
def _effective_sample_size(weights: np.ndarray) -> float:
    """Kish's effective sample size ``(sum w)^2 / sum w^2``.

    Computed on ``w / max(w)``: the same ratio, without the squares of tiny
    weights underflowing to zero.
    """
    largest = float(np.max(weights)) if len(weights) else 0.0
    if not largest > 0:
        return 0.0
    scaled = np.asarray(weights, dtype=np.float64) / largest
    return float(np.sum(scaled)) ** 2 / float(np.sum(scaled**2))


def _warn_if_collapsed(weights: np.ndarray, where: str) -> float:
    ess = _effective_sample_size(weights)
    if ess < _MIN_ESS_FRACTION * len(weights):
        warnings.warn(
            f"{where}: the importance weights collapsed onto a few rows (effective "
            f"sample size {ess:.1f} of {len(weights)} rows, under "
            f"{_MIN_ESS_FRACTION:.0%}); source and target barely overlap, so the "
            "result rests on very few rows",
            ImportanceWeightCollapseWarning,
            stacklevel=_caller_stacklevel(),
        )
    return ess


def _warn_if_miscalibrated(weights: np.ndarray, where: str) -> None:
    """Warn when a domain classifier's weights average far from 1 on the source rows."""
    mean = float(np.mean(weights))
    if not 0.5 <= mean <= 2.0:
        warnings.warn(
            f"{where}: the importance weights average {mean:.2g} on the source rows, where "
            "a calibrated domain classifier gives about 1: it separates the source rows "
            "from the target rows too confidently (over-fit, or domains that barely "
            "overlap), so the weighted estimate is unreliable. A more regularised "
            "domain_classifier (a smaller C), or fewer features, may help.",
            ImportanceWeightCollapseWarning,
            stacklevel=_caller_stacklevel(),
        )


def _discriminator_weights(
    X_source, X_target, classifier=None, random_state=None, cv=None, owner="the domain classifier"
):
    """Density ratio ``p_t(x) / p_s(x)`` on ``X_source`` from a domain classifier.

    The odds ``P(target | x) / P(source | x)`` of a probabilistic classifier
    fit to tell the domains apart, times ``n_source / n_target``. With ``cv``
    (an int, a splitter or its list of (train, test) index pairs over the
    stacked rows), each row's odds come from a classifier fit on the
    other folds (cross-fitting: a classifier that saw the row tends to
    separate it); an int means that many domain-stratified shuffled folds,
    fewer when a domain has fewer rows, and none (an in-sample fit) below
    two. Returns the weights (mean about 1 on the source rows) and the
    classifier fit on all rows (None when cross-fitted).
    """
    classifier = _clone_seeded(
        LogisticRegression() if classifier is None else classifier, random_state
    )
    if not hasattr(classifier, "predict_proba"):
        raise TypeError(
            f"domain_classifier must have predict_proba, got {type(classifier).__name__}"
        )
    X = _stack_rows(X_source, X_target)
    n_s, n_t = X_source.shape[0], X_target.shape[0]
    d = _domain_labels(n_s, n_t)
    folds = _domain_folds(cv, n_s, n_t)
    if folds is None:
        classifier.fit(X, d)
        column = list(classifier.classes_).index(1)
        p = classifier.predict_proba(X_source)[:, column]
    else:
        for train, _ in folds:
            if len(np.unique(d[train])) < 2:
                raise ValueError(
                    f"{owner}: the cv splitter left a training fold with rows of one domain only; "
                    "it splits the source rows stacked above the target rows, with the "
                    "domain (0 source, 1 target) as y: stratify by it (StratifiedKFold) "
                    "or shuffle"
                )
        # the two domains are in every training fold, so the columns are [source, target]
        p = cross_val_predict(classifier, X, d, cv=folds, method="predict_proba")[:n_s, 1]
        classifier = None
    p = np.clip(p, 1e-6, 1 - 1e-6)
    weights = p / (1 - p) * (n_s / n_t)
    return weights, classifier


def _domain_labels(n_source, n_target):
    """0 for the source rows, 1 for the target rows stacked below them."""
    return np.r_[np.zeros(n_source, dtype=int), np.ones(n_target, dtype=int)]


def _domain_folds(cv, n_source, n_target):
    """``cv`` as (train, test) index pairs over the stacked rows, or None (no cross-fitting).

    An int means that many domain-stratified shuffled folds (seeded), fewer
    when a domain has fewer rows, and none below two; a splitter's folds are
    drawn once, so that every use of them sees the same ones.
    """
    if cv is None:
        return None
    d = _domain_labels(n_source, n_target)
    if isinstance(cv, numbers.Integral):
        n_splits = min(int(cv), n_source, n_target)
        if n_splits < 2:
            return None
        cv = StratifiedKFold(n_splits, shuffle=True, random_state=0)
    if hasattr(cv, "split"):
        return list(cv.split(np.zeros((len(d), 1)), d))
    return list(cv)


def _stack_rows(X_source, X_target):
    """The rows of both domains in one array (CSR when they are sparse)."""
    if sp.issparse(X_source):
        return sp.vstack([X_source, X_target], format="csr")
    return np.concatenate([X_source, X_target])


def _entry_variance(X) -> float:
    """Variance of all the entries of ``X``, dense or sparse (the zeros count)."""
    if not sp.issparse(X):
        return float(X.var())
    n_entries = X.shape[0] * X.shape[1]
    mean = X.sum() / n_entries
    return max(float(X.multiply(X).sum() / n_entries - mean**2), 0.0)


def _default_gamma(X_source, X_target) -> float:
    """RBF width ``1 / (n_features * X.var())`` over the rows of both domains."""
    var = _entry_variance(_stack_rows(X_source, X_target))
    return 1.0 / (X_source.shape[1] * var) if var > 0 else 1.0


def _kmm_weights(X_source, X_target, *, gamma=None, bound=1000.0, eps=None):
    """Kernel mean matching (Huang et al., NIPS 2006) with an RBF kernel.

    Minimises ``0.5 b' K b - kappa' b`` over ``0 <= b <= bound`` with
    ``|sum(b) - n_s| <= n_s * eps`` (a squared-hinge penalty), by L-BFGS-B.
    """
    n_s, n_t = X_source.shape[0], X_target.shape[0]
    if gamma is None:
        gamma = _default_gamma(X_source, X_target)
    if eps is None:
        eps = (np.sqrt(n_s) - 1) / np.sqrt(n_s)
    if bound < 1 - eps:
        # Every weight at most ``bound`` cannot average within eps of 1: the fit would
        # only minimise the penalty, with weights far below 1 (a near-zero total weight).
        raise ValueError(
            f"kmm_bound={bound!r} is below 1 - kmm_eps = {1 - eps:.3g}: no weights under "
            "that bound average within kmm_eps of 1 (KMM's constraint). Raise kmm_bound "
            "(the default is 1000) or kmm_eps."
        )
    K = rbf_kernel(X_source, X_source, gamma=gamma)
    kappa = (n_s / n_t) * rbf_kernel(X_source, X_target, gamma=gamma).sum(axis=1)
    penalty = float(n_s)

    def objective(b):
        Kb = K @ b
        excess = abs(b.sum() - n_s) - n_s * eps
        value = 0.5 * b @ Kb - kappa @ b
        grad = Kb - kappa
        if excess > 0:
            value += 0.5 * penalty * excess**2
            grad = grad + penalty * excess * np.sign(b.sum() - n_s)
        return value, grad

    # scipy's default tolerances: tighter ones (ftol 1e-15, gtol 1e-12) make the
    # weights from dense and from sparse rows agree more closely (to 1e-5), but
    # they follow the true density ratio less well (Spearman 0.93 -> 0.62 in
    # test_importance_weights_follow_true_density_ratio): stopping early regularises.
    result = minimize(
        objective, np.ones(n_s), jac=True, method="L-BFGS-B",
        bounds=[(0.0, bound)] * n_s, options={"maxiter": 1000},
    )
    return np.maximum(result.x, 0.0)


def _kliep_alpha(K_target, source_mean, final=False):
    """KLIEP's coefficients: maximise ``mean log(K_target @ a)`` s.t. ``source_mean @ a == 1``, ``a >= 0``.

    Solved for the mixture weights ``c = a * source_mean`` on the simplex: the
    likelihood of a mixture of the densities ``K_target[:, l] /
    source_mean[l]`` (well scaled, unlike ``a``), by scipy's SLSQP. On flat
    problems (many close centres) SLSQP went further than L-BFGS-B in a
    scale-free form and than the EM update of mixture weights.
    """
    scale = np.maximum(source_mean, _TINY)
    F = K_target / scale
    n_target, n_centres = F.shape

    def objective(c):
        w = np.maximum(F @ c, _TINY)
        return -np.mean(np.log(w)), -(F.T @ (1.0 / w)) / n_target

    result = minimize(
        objective, np.full(n_centres, 1.0 / n_centres), jac=True, method="SLSQP",
        bounds=[(0.0, None)] * n_centres,
        constraints=[{"type": "eq", "fun": lambda c: c.sum() - 1.0, "jac": lambda c: np.ones_like(c)}],
        options={"maxiter": 1000, "ftol": 1e-12},
    )
    if final and not result.success:
        warnings.warn(
            f"weighting='kliep': the solver stopped before converging ({result.message}); "
            "the weights may be less accurate",
            ConvergenceWarning,
            stacklevel=_caller_stacklevel(),
        )
    a = np.maximum(result.x, 0.0) / scale
    return a / max(float(source_mean @ a), _TINY)


def _kliep_weights(X_source, X_target, *, gammas, n_centres, cv, random_state=None):
    """KLIEP (Sugiyama et al. 2008): ``w(x) = sum_l a_l k(x, c_l)`` on target centres ``c_l``.

    Maximises the target rows' log-likelihood ``sum_j log w(x_j)`` under
    ``mean_i w(source_i) = 1``, ``a >= 0``. With several widths, the one with
    the best held-out score over ``cv`` folds is kept (likelihood
    cross-validation). Unlike the paper, which holds out target rows only, a
    fold holds out source rows too and scores ``mean log w(held-out target) -
    max(0, log mean w(held-out source))``: the normalisation ``mean
    w(source) = 1`` is fitted on source rows, and a narrow kernel that fits
    their noise (too small a normalisation, so too large weights) scores high
    on held-out target rows alone; on the held-out source rows its mean
    weight exceeds 1, and the score pays for it. (On one-dimensional toy
    shifts tried while writing it, not kept as a benchmark, the paper's
    score often picked the narrowest candidate.) A mean below 1 earns nothing: in high
    dimension the narrowest kernels vanish on every held-out row, source and
    target alike, and a reward for the source side would cancel the target
    side's penalty (it picked them on Office-Caltech, collapsing the weights).
    A fold's model also keeps only the centres outside the fold (a held-out
    row that is a centre of its own model would favour the narrowest kernel).
    Returns the weights, the width and the cross-validated score of each
    width (None for one width).
    """
    rng = check_random_state(random_state)
    n_source, n_target = X_source.shape[0], X_target.shape[0]
    centre_rows = np.sort(rng.permutation(n_target)[: min(n_centres, n_target)])
    centres = X_target[centre_rows]
    scores, best_kernels = None, None
    if len(gammas) > 1:
        splits = _kliep_splits(centre_rows, n_source, n_target, cv, rng)
        scores = np.empty(len(gammas))
        for i, candidate in enumerate(gammas):
            K_target = rbf_kernel(X_target, centres, gamma=candidate)
            K_source = rbf_kernel(X_source, centres, gamma=candidate)
            if not K_source.max() > _TINY:
                # its kernels vanish on every source row: no weights can average 1
                scores[i] = -np.inf
                continue
            held_out = []
            for train, test, source_train, source_test, kept in splits:
                a = _kliep_alpha(K_target[np.ix_(train, kept)], K_source[np.ix_(source_train, kept)].mean(axis=0))
                target_loglik = np.mean(np.log(np.maximum(K_target[np.ix_(test, kept)] @ a, _TINY)))
                source_mean = max(float(K_source[np.ix_(source_test, kept)].mean(axis=0) @ a), _TINY)
                held_out.append(target_loglik - max(np.log(source_mean), 0.0))
            scores[i] = np.mean(held_out)
            if best_kernels is None or scores[i] > scores[:i].max():  # the first best: keep its kernels
                gamma, best_kernels = candidate, (K_target, K_source)
        if best_kernels is None:
            raise ValueError(
                f"weighting='kliep': at every candidate gamma ({', '.join(f'{g:.3g}' for g in gammas)}) "
                "the kernels on the target centres vanish on every source row, so no weights "
                "average 1 on the source: the domains do not overlap at these widths. Pass "
                "a smaller gamma (a wider kernel), or scale the features first."
            )
        K_target, K_source = best_kernels
    else:
        gamma = gammas[0]
        K_target = rbf_kernel(X_target, centres, gamma=gamma)
        K_source = rbf_kernel(X_source, centres, gamma=gamma)
    a = _kliep_alpha(K_target, K_source.mean(axis=0), final=True)
    weights = K_source @ a
    mean = float(weights.mean())
    if not (np.isfinite(mean) and mean > _TINY):
        raise ValueError(
            f"weighting='kliep' with gamma={gamma:.3g}"
            f"{' (picked by cross-validation)' if scores is not None else ''}: the kernels "
            "on the target centres vanish on every source row, so no weights average 1 on "
            "the source: the domains do not overlap at this width. Pass a smaller gamma "
            "(a wider kernel), or scale the features first."
        )
    return weights / mean, gamma, scores


def _kliep_splits(centre_rows, n_source, n_target, cv, rng):
    """KLIEP's cross-validation folds: ``(train, test, source_train, source_test, kept)``.

    Target and source rows are split into the same number of folds; ``kept``
    marks the centres (indices ``centre_rows`` into the target rows) outside
    the held-out target rows. A fold whose held-out rows hold every centre is
    left out.
    """
    n_folds = min(cv, n_target, n_source)
    seeds = rng.randint(2**31 - 1, size=2)
    target_folds = KFold(n_folds, shuffle=True, random_state=seeds[0])
    source_folds = KFold(n_folds, shuffle=True, random_state=seeds[1])
    splits = []
    for (train, test), (source_train, source_test) in zip(
        target_folds.split(np.zeros((n_target, 1))), source_folds.split(np.zeros((n_source, 1)))
    ):
        kept = ~np.isin(centre_rows, test)
        if kept.any():
            splits.append((train, test, source_train, source_test, kept))
    return splits


class ImportanceWeightedClassifier(MetaEstimatorMixin, _WrappedClassifierMixin, BaseEstimator):
    """Fit a classifier on source rows weighted by the density ratio p_target(x) / p_source(x).

    Under covariate shift (``p(y | x)`` shared, ``p(x)`` different), the
    expected loss on the target domain equals the source loss weighted by
    ``w(x) = p_t(x) / p_s(x)`` (Shimodaira, 2000). This meta-estimator
    estimates ``w`` from the rows of both domains, then fits ``estimator`` on
    the labelled source rows with ``sample_weight=w``.

    Fit on the rows of both domains with ``y == -1`` on the unlabelled target
    rows (or with ``sample_domain``). Labelled target rows, possible with
    ``sample_domain``, are fitted too, with weight 1.

    Sparse input (a TF-IDF matrix of text, say) is kept sparse: the three
    weightings and the default estimators work on it without densifying it.
    Images (rows of more than two dimensions) reach ``estimator`` as they are,
    for a network such as :class:`~sktransfer.FineTuneClassifier`; the density
    ratio is estimated on their flattened pixels, or by a given
    ``domain_classifier`` on the images.

    Parameters
    ----------
    estimator : classifier, default=None
        Fitted (as a clone) on the labelled rows with ``sample_weight``; it
        must accept ``sample_weight`` in ``fit`` (refused at the start of
        ``fit`` otherwise), and a ``fit(**params)`` (a search, a
        meta-estimator) must pass it on to the model it fits. A
        :class:`~sklearn.pipeline.Pipeline` (scaling, then a classifier, say)
        gets the weights for its final step; with scikit-learn's metadata
        routing enabled, they are routed instead to the steps that request
        them (``set_fit_request(sample_weight=True)``). None means
        :class:`~sklearn.linear_model.LogisticRegression`.
    weighting : {"discriminator", "kmm", "kliep"}, default="discriminator"
        How to estimate the density ratio. ``"discriminator"``: the odds of a
        probabilistic domain classifier, ``P(target | x) / P(source | x)``
        times ``n_source / n_target``. ``"kmm"``: kernel mean matching with an
        RBF kernel (quadratic program solved with scipy's L-BFGS-B), memory
        quadratic in the number of source rows. ``"kliep"``: the
        Kullback-Leibler importance estimation procedure, a sum of RBF kernels
        on ``kliep_n_centres`` target rows fitted by maximum likelihood on the
        target rows, its width chosen by likelihood cross-validation on
        folds of the source and target rows (no label needed; see the user
        guide); memory linear in the number of rows; by default 46 small
        programs (9 widths times 5 folds, and the final fit), about 6 s for
        the 4000 rows of an Amazon reviews pair on one core. Each program is
        dense in the centres: its time grows about as ``kliep_n_centres**3``.
    domain_classifier : classifier with predict_proba, default=None
        The domain classifier of ``weighting="discriminator"`` (cloned). None
        means :class:`~sklearn.linear_model.LogisticRegression`, whose
        odds are exact when the log density ratio is linear in ``x``.
    gamma : float, sequence of float or None, default=None
        RBF kernel width ``gamma`` of ``exp(-gamma * ||x - x'||^2)``, for
        ``weighting="kmm"`` or ``"kliep"``. None means ``1 / (n_features *
        X.var())`` for KMM, and for KLIEP that width times 0.01, 0.03, 0.1,
        0.3, 1, 3, 10, 30 and 100, one of which likelihood cross-validation
        picks (the default width scales with ``1 / n_features``, so
        low-dimensional data need the narrower candidates). A sequence of
        several widths (KLIEP only) gives the candidates to pick from.
        ``weighting="discriminator"`` ignores it.
    kmm_bound : float, default=1000.0
        Upper bound ``B`` of each KMM weight.
    kmm_eps : float, default=None
        Tolerance of KMM's constraint ``|mean(w) - 1| <= kmm_eps``, in [0, 1)
        (at 1 every weight could be 0); None means
        ``(sqrt(n_source) - 1) / sqrt(n_source)`` (Huang et al.).
    kliep_n_centres : int, default=100
        Number of target rows, drawn at random, that carry KLIEP's kernels
        (all of them when there are fewer).
    kliep_cv : int, default=5
        Number of folds in KLIEP's likelihood cross-validation of ``gamma``
        (target and source rows are both split; at most the number of rows
        of the smaller domain).
    no_target : {"raise", "uniform"}, default="raise"
        What to do when the training data has no target row: raise a
        ``ValueError`` (default: weighting without target rows would silently
        be no weighting), or fit ``estimator`` with uniform weights.
    random_state : int, RandomState instance or None, default=None
        Given to the clones of ``estimator`` and ``domain_classifier`` that
        take a ``random_state``, and draws KLIEP's centres and folds. Pass an
        int for the same weights at every fit.

    Attributes
    ----------
    estimator_ : classifier
        The fitted clone of ``estimator``.
    domain_classifier_ : classifier or None
        The fitted domain classifier (``weighting="discriminator"``).
    gamma_ : float or None
        The RBF width used by KMM or KLIEP (None for the discriminator and
        when there is no target row).
    lcv_scores_ : ndarray of shape (n_gammas,) or None
        KLIEP's likelihood cross-validation, for each candidate ``gamma`` (in
        the order of the candidates): the held-out target rows' mean log
        weight, minus the log of the held-out source rows' mean weight where
        it exceeds 1, averaged over the folds; ``gamma_`` has the largest.
        ``-inf`` for a width whose kernels vanish on every source row (it
        cannot give weights that average 1 there). None unless KLIEP had
        several candidates.
    weights_ : ndarray of shape (n_source,)
        Importance weight of each source row, in the order of ``X``.
    effective_sample_size_ : float
        ``(sum w)^2 / sum w^2`` of ``weights_``. Below 5% of the source rows,
        fit warns with :class:`~sktransfer.domain_adaptation.ImportanceWeightCollapseWarning`. When the
        domain classifier gives every source row the same weight (it cannot
        tell the domains apart: with a linear one, when both domains have the
        same mean), fit warns that the fit is the unweighted one.
    classes_ : ndarray of shape (n_classes,)
        The class labels.
    n_features_in_ : int
        Number of features seen in ``fit`` (for images, the size of their second
        dimension, as scikit-learn counts; the rest of their shape is the
        estimator's to check).
    feature_names_in_ : ndarray of shape (n_features,)
        Names of the features seen in ``fit``, when ``X`` has string column names.

    See Also
    --------
    sktransfer.model_selection.importance_weighted_scorer : the same weights
        for model selection.

    References
    ----------
    H. Shimodaira. Improving predictive inference under covariate shift by
    weighting the log-likelihood function. Journal of Statistical Planning
    and Inference 90(2), 2000.

    J. Huang, A. Gretton, K. Borgwardt, B. Schölkopf and A. Smola. Correcting
    Sample Selection Bias by Unlabeled Data. NIPS 2006.

    M. Sugiyama, S. Nakajima, H. Kashima, P. von Bünau and M. Kawanabe.
    Direct Importance Estimation with Model Selection and Its Application to
    Covariate Shift Adaptation. NIPS 2007 (extended in the Annals of the
    Institute of Statistical Mathematics 60, 2008).

    S. Bickel, M. Brückner and T. Scheffer. Discriminative Learning Under
    Covariate Shift. JMLR 10, 2009.

    Examples
    --------
    >>> import numpy as np
    >>> from sktransfer import ImportanceWeightedClassifier
    >>> rng = np.random.RandomState(0)
    >>> X = np.r_[rng.normal(0, 1, (100, 1)), rng.normal(1, 1, (100, 1))]
    >>> y = np.r_[(X[:100, 0] > 0.5).astype(int), -np.ones(100, dtype=int)]
    >>> clf = ImportanceWeightedClassifier().fit(X, y)
    >>> clf.weights_.shape
    (100,)
    >>> bool(clf.weights_[X[:100, 0] > 1].mean() > clf.weights_[X[:100, 0] < 0].mean())
    True
    """

    def __init__(
        self,
        estimator=None,
        *,
        weighting: str = "discriminator",
        domain_classifier=None,
        gamma: float | None = None,
        kmm_bound: float = 1000.0,
        kmm_eps: float | None = None,
        kliep_n_centres: int = 100,
        kliep_cv: int = 5,
        no_target: str = "raise",
        random_state=None,
    ):
        self.estimator = estimator
        self.weighting = weighting
        self.domain_classifier = domain_classifier
        self.gamma = gamma
        self.kmm_bound = kmm_bound
        self.kmm_eps = kmm_eps
        self.kliep_n_centres = kliep_n_centres
        self.kliep_cv = kliep_cv
        self.no_target = no_target
        self.random_state = random_state

    def _check_params(self):
        for name, allowed in (
            ("weighting", ("discriminator", "kmm", "kliep")), ("no_target", ("raise", "uniform"))
        ):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {getattr(self, name)!r}")
        gammas = self._gammas()
        for name, low in (("kliep_n_centres", 1), ("kliep_cv", 2)):
            value = getattr(self, name)
            if not (isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= low):
                raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
        if not (isinstance(self.kmm_bound, numbers.Real) and self.kmm_bound > 0):
            raise ValueError(f"kmm_bound must be a positive number, got {self.kmm_bound!r}")
        if self.kmm_eps is not None and not (
            isinstance(self.kmm_eps, numbers.Real) and not isinstance(self.kmm_eps, bool)
            and 0 <= self.kmm_eps < 1
        ):
            # At 1 or more, |mean(w) - 1| <= kmm_eps lets every weight go to 0.
            raise ValueError(f"kmm_eps must be a number in [0, 1) or None, got {self.kmm_eps!r}")
        return gammas

    def _gammas(self):
        """``gamma`` checked, as a tuple of candidate widths (empty for None)."""
        def positive(value):
            return _is_finite_real(value) and value > 0

        if self.gamma is None:
            return ()
        if positive(self.gamma):
            return (float(self.gamma),)
        if isinstance(self.gamma, str) or not np.iterable(self.gamma):
            raise ValueError(f"gamma must be a positive number, a sequence of them or None, got {self.gamma!r}")
        gammas = tuple(self.gamma)
        if not gammas or not all(positive(g) for g in gammas):
            raise ValueError(
                f"gamma must be a positive number, a non-empty sequence of them or None, got {self.gamma!r}"
            )
        if len(gammas) > 1 and self.weighting != "kliep":
            raise ValueError(
                "several gamma values are for weighting='kliep', which picks one by likelihood "
                f"cross-validation; weighting={self.weighting!r} takes one, got {self.gamma!r}"
            )
        return tuple(float(g) for g in gammas)

    @_unfitted_if_refused
    def fit(self, X, y, sample_domain=None) -> ImportanceWeightedClassifier:
        """Estimate the importance weights, then fit ``estimator`` with them.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features) or (n_samples, ...)
            Rows of all domains. Sparse rows (e.g. TF-IDF) stay sparse (CSR);
            then ``estimator`` and ``domain_classifier`` must accept them.
            Rows of more dimensions (images, for a network) reach
            ``estimator`` and a given ``domain_classifier`` as they are (their
            dtype too: uint8 pixels stay uint8); the default domain classifier
            and the kernels of KMM and KLIEP see them flattened, as float64.
            The default ``estimator`` refuses them.
        y : array-like of shape (n_samples,)
            Class labels; ``-1`` marks unlabelled rows.
        sample_domain : array-like of int of shape (n_samples,), default=None
            Domain of each row: positive ids for source domains, negative ids
            for target domains; several source (or target) domains are
            pooled into one. If None, labelled rows are source and
            unlabelled rows are target.

        Returns
        -------
        self : ImportanceWeightedClassifier
            The fitted estimator.
        """
        gammas = self._check_params()
        estimator = self._get_estimator()
        steps, weighted = _weighted_step(estimator)
        if not _may_take_sample_weight(weighted):
            where = (
                f"the pipeline's final step ({'__'.join(steps)}: "
                f"{weighted if isinstance(weighted, str) else type(weighted).__name__}) takes"
                if steps
                else f"{type(weighted).__name__}.fit takes"
            )
            raise ValueError(
                "ImportanceWeightedClassifier hands the importance weights to "
                f"estimator.fit as sample_weight, but {where} no sample_weight; use an "
                "estimator that does (LogisticRegression, SVC, a tree ensemble, "
                "FineTuneClassifier for a network, ...)"
            )
        X, y, labelled, is_target = _validate_domain_fit(
            self, X, y, sample_domain, allowed="uniform",
            how="To fit with uniform weights, set no_target='uniform'.", accept_sparse="csr",
            allow_nd=True,
        )
        is_source = ~is_target
        n_source = int(is_source.sum())
        self.domain_classifier_ = self.gamma_ = self.lcv_scores_ = None
        # Rows of more dimensions (images): flattened for the kernels and the default
        # domain classifier; a given domain classifier gets them as they are.
        if X.ndim > 2 and self.estimator is None:
            raise ValueError(
                f"ImportanceWeightedClassifier got rows of {X.ndim} dimensions (images?), which "
                "its default estimator, a LogisticRegression, does not take: pass an estimator "
                "that does, e.g. FineTuneClassifier with a network for images"
            )
        seen = (
            X if self.weighting == "discriminator" and self.domain_classifier is not None
            else _as_vectors(X)
        )
        X_source, X_target = seen[is_source], seen[is_target]
        if not is_target.any():
            weights = np.ones(n_source)
        elif self.weighting == "discriminator":
            weights, self.domain_classifier_ = _discriminator_weights(
                X_source, X_target, self.domain_classifier, self.random_state
            )
        elif self.weighting == "kmm":
            self.gamma_ = gammas[0] if gammas else _default_gamma(X_source, X_target)
            _warn_if_large_matrix(  # K (source x source) alive beside kappa's source x target
                f"{type(self).__name__}(weighting='kmm')", n_source,
                n_source + X_target.shape[0],
                "kernel matrix of the source rows against the source and the target rows (held "
                "together; then a quadratic programme over the source rows)",
            )
            weights = _kmm_weights(
                X_source, X_target, gamma=self.gamma_, bound=self.kmm_bound, eps=self.kmm_eps
            )
        else:
            if not gammas:
                default = _default_gamma(X_source, X_target)
                gammas = tuple(default * factor for factor in _KLIEP_GAMMA_FACTORS)
            if len(gammas) > 1 and min(X_source.shape[0], X_target.shape[0]) < 2:
                raise ValueError(
                    "weighting='kliep' picks gamma by cross-validation on the source and target "
                    "rows and needs at least 2 of each; pass one gamma to fit with fewer"
                )
            weights, self.gamma_, self.lcv_scores_ = _kliep_weights(
                X_source, X_target, gammas=gammas, n_centres=self.kliep_n_centres,
                cv=self.kliep_cv, random_state=self.random_state,
            )
        self.weights_ = weights
        self.effective_sample_size_ = _warn_if_collapsed(weights, "ImportanceWeightedClassifier")
        if is_target.any() and self.weighting == "discriminator" and n_source > 1 and (
            np.ptp(weights) <= 1e-6 * weights.mean()
        ):
            warnings.warn(
                "ImportanceWeightedClassifier: the domain classifier cannot tell the "
                "domains apart, so every importance weight is the same and the fit is the "
                "unweighted one. A linear domain classifier sees only where the domains' "
                "means differ; features standardised within each domain (as "
                "load_office_caltech's default preprocessing does) leave it nothing. Use "
                "weighting='kliep' or 'kmm', or a non-linear domain_classifier.",
                UserWarning,
                stacklevel=_caller_stacklevel(),
            )

        fit_rows = labelled
        sample_weight = np.ones(len(y))
        sample_weight[is_source] = weights
        y_fit = _labels_of(y[fit_rows])
        estimator = _clone_seeded(estimator, self.random_state)
        try:
            self.estimator_ = estimator.fit(
                X[fit_rows], y_fit, **_weight_params(estimator, sample_weight[fit_rows])
            )
        except TypeError as exc:  # a fit(**params) that does not pass it on
            if "sample_weight" not in str(exc):
                raise
            raise TypeError(
                "ImportanceWeightedClassifier hands the importance weights to "
                f"estimator.fit as sample_weight, and {type(estimator).__name__}.fit "
                f"refused it: {exc}"
            ) from exc
        self.classes_ = self.estimator_.classes_
        return self

    def _transform_input(self, X):
        check_is_fitted(self)
        return _float_unless_nd(validate_data(
            self, X, reset=False, dtype="numeric", accept_sparse="csr", allow_nd=True
        ))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # sparse rows go to the domain classifier (or KMM's or KLIEP's kernel) and to the estimator
        tags.input_tags.sparse = get_tags(self._get_estimator()).input_tags.sparse and (
            self.weighting != "discriminator" or self.domain_classifier is None
            or get_tags(self.domain_classifier).input_tags.sparse
        )
        return tags


def _weighted_step(estimator) -> tuple[list[str], object]:
    """The step names down to the model that takes the weights, and that model.

    Without metadata routing a ``Pipeline`` (nested ones too) takes them as
    ``<last step>__...__sample_weight``: for its final estimator, the model
    whose loss they reweight. Otherwise the estimator takes ``sample_weight``
    itself (with routing on, a pipeline routes it to the steps that request it).
    """
    steps = []
    while isinstance(estimator, Pipeline) and not get_config()["enable_metadata_routing"]:
        name, estimator = estimator.steps[-1]
        steps.append(name)
    return steps, estimator


def _weight_params(estimator, sample_weight) -> dict:
    """The keyword arguments that hand ``sample_weight`` to ``estimator.fit``."""
    steps, _ = _weighted_step(estimator)
    return {"__".join([*steps, "sample_weight"]): sample_weight}


def _may_take_sample_weight(estimator) -> bool:
    """False only where ``estimator.fit`` surely refuses ``sample_weight``.

    A ``Pipeline``: where its final estimator takes it (with metadata routing
    on, the pipeline routes it, or says why not). A ``fit(X, y, **params)``
    (a search, a meta-estimator) passes it on.
    """
    if isinstance(estimator, Pipeline):
        return True  # see _weighted_step: its final model is what gets checked
    if estimator == "passthrough" or estimator is None:
        return False
    if has_fit_parameter(estimator, "sample_weight"):
        return True
    parameters = inspect.signature(estimator.fit).parameters.values()
    return any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters)
