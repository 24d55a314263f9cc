"""Scorers that select domain-adaptation models without target labels.

Each is a scikit-learn scorer callable, ``scorer(estimator, X, y)``, for
``GridSearchCV(scoring=...)`` or ``cross_validate``; greater is better. The
target rows of ``X`` are those with ``y == -1`` (or negative ``sample_domain``
ids when given); the source validation rows are the labelled rows of source
domains. Use :class:`SourceKFold` as ``cv`` so that every validation fold
holds the target rows. Options are keyword-only: bind them with
:func:`functools.partial`.
"""

from __future__ import annotations

import numbers
import warnings

import numpy as np
import scipy.sparse as sp
from scipy.special import logsumexp
from scipy.stats import entropy
from sklearn.base import clone
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression, LogisticRegressionCV
from sklearn.metrics import adjusted_mutual_info_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils import check_random_state
from sklearn.utils.validation import _num_samples, check_array, column_or_1d

from ..base import (
    _as_vectors,
    _domain_masks,
    _is_finite_real,
    _refuse_mark_class,
    _take_rows,
)
from ..domain_adaptation._reweight import (
    _discriminator_weights,
    _domain_folds,
    _warn_if_collapsed,
    _warn_if_miscalibrated,
)

__all__ = [
    "average_thresholded_confidence_scorer",
    "batch_nuclear_norm_scorer",
    "circular_validation_scorer",
    "class_cluster_ami_scorer",
    "deep_embedded_validation_scorer",
    "importance_weighted_scorer",
    "information_maximization_scorer",
    "matrix_norm_scorer",
    "mixed_sample_scorer",
    "prediction_entropy_scorer",
    "soft_neighborhood_density_scorer",
]


def _rows(name, X, y, sample_domain, *, estimator=None, need_source=True, min_target=1, why=""):
    """Indices of the source validation rows and of the target rows, and y.

    A scorer that needs more than one target row gives ``min_target`` and
    ``why`` (the reason, for the error message). ``estimator``, the model
    scored, must not have learnt ``-1`` as a class.
    """
    if estimator is not None:
        _refuse_mark_class(name, estimator)
    if y is None:
        raise ValueError(f"{name} needs y: labels of the source rows, -1 on target rows")
    y = column_or_1d(np.asarray(y))
    labelled, is_target = _domain_masks(y, sample_domain, _num_samples(X))
    target = np.flatnonzero(is_target)
    source = np.flatnonzero(labelled & ~is_target)
    if not len(target):
        hint = (
            " Every row of y here is labelled: a search hands its scorers no "
            "sample_domain, so target rows must carry y == -1 (e.g. "
            "sktransfer.datasets.mask_target_labels(y, sample_domain))."
            if sample_domain is None and labelled.all() else ""
        )
        raise ValueError(
            f"{name} found no target rows (y == -1 or sample_domain < 0) in the data it "
            "scores: it estimates the target performance from them. Use "
            "sktransfer.model_selection.SourceKFold as cv, which puts every target row "
            "in every validation fold." + hint
        )
    if len(target) < min_target:
        raise ValueError(f"{name} needs at least {min_target} target rows: {why}")
    if need_source and not len(source):
        raise ValueError(
            f"{name} found no labelled source rows in the data it scores: it "
            "measures accuracy on them"
        )
    return source, target, y


def _target_output(name, estimator, X, y, sample_domain, method, **rows_options):
    """``estimator.<method>`` on the target rows of ``X`` as a float array (no source row needed)."""
    _, target, _ = _rows(
        name, X, y, sample_domain, estimator=estimator, need_source=False, **rows_options
    )
    return _finite_output(name, estimator, _take_rows(X, target), method)


def _finite_output(name, estimator, rows, method):
    """``estimator.<method>`` on ``rows`` as a float array, refused if not finite."""
    if not hasattr(estimator, method):
        raise TypeError(f"{name} needs an estimator with {method}, got {type(estimator).__name__}")
    # a copy: the scorers may work in place, the model's own array stays as it is
    out = np.array(getattr(estimator, method)(rows), dtype=np.float64)
    if not np.isfinite(out).all():
        what = "class probabilities" if method == "predict_proba" else f"class scores ({method})"
        raise ValueError(
            f"{name} got non-finite {what} (NaN or inf) from {type(estimator).__name__}: the "
            "model has probably diverged (for a network, a smaller learning rate may help)"
        )
    return out


def _target_proba(name, estimator, X, y, sample_domain, **rows_options):
    """``predict_proba`` of ``estimator`` on the target rows of ``X``."""
    return _target_output(name, estimator, X, y, sample_domain, "predict_proba", **rows_options)


def _default_domain_classifier(n_smaller=3):
    """Scaling, then a logistic regression whose C minimises its own held-out log-loss.

    A domain classifier that separates the rows it is fit on (learnt features
    are wide: 256 for DANN's default) drags the weights towards 0; C chosen
    by the log-loss of telling the domains apart on held-out rows (3 folds,
    C in 1e-4..1e2) keeps its probabilities calibrated, with no target label
    involved. Rows are scaled without centring, dense or sparse alike (the
    unpenalised intercept absorbs the centring; centring would densify sparse
    rows), and lbfgs stops at ``tol=1e-6`` so that fits reach that optimum.
    ``n_smaller`` is the number of rows of the smaller domain it will be fit
    on: with 2, 2 folds; with 1, no choice (``C=1``).
    """
    if n_smaller < 2:
        classifier = LogisticRegression(max_iter=1000, tol=1e-6)
    else:
        classifier = LogisticRegressionCV(
            Cs=np.logspace(-4, 2, 7), cv=min(3, n_smaller), scoring="neg_log_loss",
            max_iter=1000, tol=1e-6, l1_ratios=(0.0,), use_legacy_attributes=False,
        )
    return make_pipeline(StandardScaler(with_mean=False), classifier)


def _scorer_weights(name, X_source, X_target, domain_classifier, cv):
    """Density-ratio weights of the source rows for IWV and DEV.

    The default domain classifier is sized for the rows each fit of it sees
    (the training folds when cross-fitted: a splitter's folds are drawn once
    and used for the sizing and the fit alike). Its search over C fits large
    C values that lbfgs may not converge on (domains separable in many
    dimensions); their ConvergenceWarnings are silenced, since the held-out
    log-loss ranks those fits too.
    """
    n_source, n_target = X_source.shape[0], X_target.shape[0]
    if domain_classifier is not None:
        return _discriminator_weights(
            X_source, X_target, domain_classifier, cv=cv, owner=name
        )[0]
    folds = _domain_folds(cv, n_source, n_target)
    if folds is None:
        n_smaller = min(n_source, n_target)
    else:  # the rows of each domain in the smallest training fold
        n_smaller = min(
            min(np.sum(train < n_source), np.sum(train >= n_source)) for train, _ in folds
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return _discriminator_weights(
            X_source, X_target, _default_domain_classifier(n_smaller), cv=folds, owner=name
        )[0]


def _check_cv(name, cv):
    """``cv`` of the domain classifier: None, an int of at least 2, or a splitter object."""
    if cv is None or (hasattr(cv, "split") and hasattr(cv, "get_n_splits")):
        return
    if isinstance(cv, numbers.Integral) and not isinstance(cv, bool) and cv >= 2:
        return
    raise ValueError(
        f"{name}: cv must be an int of at least 2 (folds for the domain classifier), a "
        f"cross-validation splitter, or None (no cross-fitting), got {cv!r}"
    )


def _as_float(name, X, what="features"):
    """``X`` as a finite float64 array (sparse stays sparse, as CSR), or an error naming the scorer.

    Rows of more than two dimensions (images) keep their shape.
    """
    try:
        X = check_array(
            X, dtype=np.float64, ensure_all_finite=False, accept_sparse="csr", allow_nd=True
        )
    except (TypeError, ValueError) as exc:
        if what != "rows" or sp.issparse(X) or np.asarray(X).dtype.kind not in "OSU":
            raise
        raise ValueError(
            f"{name} needs numeric rows, since it compares the source and target rows "
            "themselves; with raw text, vectorise it (e.g. TfidfVectorizer) before the "
            "search and pass the sparse matrix"
        ) from exc
    if not np.isfinite(X.data if sp.issparse(X) else X).all():
        raise ValueError(
            f"{name} got non-finite {what} (NaN or inf); if they come from the model, "
            "it has probably diverged"
        )
    return X


def _ratio_rows(name, X, domain_classifier, what="features"):
    """What the density ratio is estimated on, checked finite: for a given domain
    classifier the rows as they are (images keep their dtype: uint8 pixels stay
    uint8), for the default one float64 vectors (images flattened)."""
    checked = _as_float(name, X, what)
    if domain_classifier is not None:
        return np.asarray(X) if checked.ndim > 2 else checked
    return _as_vectors(checked)


def _embed(estimator, X):
    """Features of ``X``: ``estimator.transform``, or all but the last step of a pipeline."""
    if hasattr(estimator, "transform"):
        return estimator.transform(X)
    if isinstance(estimator, Pipeline) and len(estimator) > 1:
        return estimator[:-1].transform(X)
    return X


def importance_weighted_scorer(
    estimator, X, y, *, sample_domain=None, domain_classifier=None, cv=None
) -> float:
    """Importance-weighted validation (IWV): source accuracy weighted towards the target.

    Accuracy of ``estimator`` on the labelled source rows of ``X``, each row
    weighted by the density ratio ``p_target(x) / p_source(x)`` estimated
    from the rows of ``X`` by a domain classifier (Sugiyama et al., 2007).
    The average is self-normalised, ``sum(w * correct) / sum(w)``, where
    Sugiyama et al.'s importance-weighted cross-validation takes the plain
    mean of ``w * correct``: under covariate shift it is then a consistent
    estimate of the target accuracy rather than an unbiased one, with less
    variance, and it stays in [0, 1] whatever the weights' scale.

    Parameters
    ----------
    estimator : fitted classifier
        The model to score.
    X : {array-like, sparse matrix} of shape (n_samples, n_features) or (n_samples, ...)
        Labelled source validation rows and target rows (numeric). Sparse rows
        (e.g. TF-IDF) stay sparse. Rows of more dimensions (images) reach
        ``domain_classifier`` as they are, and the default one flattened.
    y : array-like of shape (n_samples,)
        Labels of the source rows; ``-1`` on target rows.
    sample_domain : array-like of int of shape (n_samples,), default=None
        Domain of each row (positive: source, negative: target); None means
        the unlabelled rows are the target rows.
    domain_classifier : classifier with predict_proba, default=None
        Tells the domains apart; None means scaling to unit variance
        (without centring, dense or sparse rows alike) followed by
        :class:`~sklearn.linear_model.LogisticRegressionCV` choosing ``C``
        in ``np.logspace(-4, 2, 7)`` by its held-out log-loss (3 folds, fewer
        when a domain has fewer rows; ``C=1`` with one row): calibrated
        probabilities, which the density ratio needs (on
        ``benchmarks/bench_da_model_selection.py`` it picked better
        parameters than a logistic regression with ``C=1``).
    cv : int, cross-validation splitter or None, default=None
        None fits the domain classifier on the rows of ``X`` and weighs the
        same rows. Otherwise it is cross-fitted: each row's weight comes from
        a classifier fit on the other folds (an int: that many shuffled folds
        stratified by domain, fewer when a domain has fewer rows; a splitter
        gets the source rows stacked above the target rows and the domain, 0
        or 1, as ``y``, and each training fold must hold both domains). A
        classifier that separates the rows it was fit on drags their weights
        towards 0; held-out rows instead get noisier, heavy-tailed weights.
        On ``benchmarks/bench_da_model_selection.py``, with the earlier
        default domain classifier (``C=1``), ``cv=5`` picked worse
        parameters than None (mean gap to the best grid point over 17 grids:
        IWV 4.0 against 3.1, DEV 4.0 against 3.4; over 31 grids: IWV 3.4
        against 2.3, DEV 3.0 against 2.3).

    Returns
    -------
    score : float
        Weighted accuracy, in [0, 1]. Warns with
        :class:`~sktransfer.domain_adaptation.ImportanceWeightCollapseWarning`
        when the weights rest on a few rows.

    Raises
    ------
    ValueError
        If ``X`` has no target row or no labelled source row, or ``X`` is not
        finite.

    References
    ----------
    M. Sugiyama, M. Krauledat and K.-R. Müller. Covariate Shift Adaptation by
    Importance Weighted Cross Validation. JMLR 8, 2007.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sktransfer.model_selection import importance_weighted_scorer
    >>> rng = np.random.RandomState(0)
    >>> X = np.r_[rng.normal(0, 1, (100, 1)), rng.normal(1, 1, (100, 1))]
    >>> y = np.r_[(X[:100, 0] > 0).astype(int), -np.ones(100, dtype=int)]
    >>> clf = LogisticRegression().fit(X[:100], y[:100])
    >>> 0 <= importance_weighted_scorer(clf, X, y) <= 1
    True
    """
    source, target, y = _rows(
        "importance_weighted_scorer", X, y, sample_domain, estimator=estimator
    )
    _check_cv("importance_weighted_scorer", cv)
    Xf = _ratio_rows("importance_weighted_scorer", X, domain_classifier, "rows")
    weights = _scorer_weights(
        "importance_weighted_scorer", Xf[source], Xf[target], domain_classifier, cv
    )
    _warn_if_collapsed(weights, "importance_weighted_scorer")
    # (a common scale of the weights does not move this self-normalised average)
    correct = estimator.predict(_take_rows(X, source)) == y[source]
    return float(np.average(correct, weights=weights))


def deep_embedded_validation_scorer(
    estimator,
    X,
    y,
    *,
    sample_domain=None,
    domain_classifier=None,
    cv=None,
    normalization: str | None = None,
) -> float:
    """Deep embedded validation (DEV): importance weighting with a control variate.

    Like :func:`importance_weighted_scorer`, with these changes (You et al.,
    2019): the density ratio is estimated on the estimator's *features*
    (``estimator.transform(X)``; for a :class:`~sklearn.pipeline.Pipeline`
    the output of all steps but the last; else the raw ``X``), where the
    domains overlap more; and the weighted accuracy ``A = w * correct`` is
    averaged as a plain mean (not self-normalised) with the control variate
    ``w`` (whose mean is 1), which lowers its variance:
    ``mean(A) + eta * (mean(w) - 1)`` with ``eta = -Cov(A, w) / Var(w)``.
    The paper fits the domain classifier on the training source features
    and weighs held-out validation rows; with ``cv=None`` (the default) it is
    fitted on the scored rows themselves, and ``cv`` cross-fits it, closer to
    the paper (see ``cv`` for what each gave on the benchmark).

    Parameters
    ----------
    estimator : fitted classifier
        The model to score.
    X : {array-like, sparse matrix} of shape (n_samples, n_features) or (n_samples, ...)
        Labelled source validation rows and target rows. Features of more
        dimensions (a model without ``transform`` on images) reach
        ``domain_classifier`` as they are, and the default one flattened.
    y : array-like of shape (n_samples,)
        Labels of the source rows; ``-1`` on target rows.
    sample_domain : array-like of int of shape (n_samples,), default=None
        Domain of each row (positive: source, negative: target).
    domain_classifier : classifier with predict_proba, default=None
        Tells the domains apart in feature space; None means the default of
        :func:`importance_weighted_scorer` (``C`` chosen by held-out
        log-loss).
    cv : int, cross-validation splitter or None, default=None
        Cross-fitting of the domain classifier, on the features, as in
        :func:`importance_weighted_scorer` (None: fit on the scored rows).
    normalization : {None, "max"}, default=None
        ``"max"`` divides the weights by their largest, then shifts them back
        to mean 1: DEVN (Musgrave et al., 2022, as their pytorch-adapt
        library computes it). Each weight becomes
        ``1 + (w - mean(w)) / max(w)``: its spread about 1 shrinks as the
        largest weight grows, so a few huge weights no longer dominate, and
        the control variate's term vanishes (the weights average exactly 1).
        The loss stays the 0-1 loss. On ``benchmarks/bench_da_model_selection.py``
        it picked nearly what plain source accuracy picks (mean gap to the
        best grid point 2.9 over 17 grids and 2.3 over 31; DEV 2.4 and 2.3).

    Returns
    -------
    score : float
        Estimated target accuracy (``1 -`` the DEV risk of the 0-1 loss); it
        can leave [0, 1] through the control variate.

    Raises
    ------
    ValueError
        If ``X`` has no target row or no labelled source row, or the features
        are not finite.

    References
    ----------
    K. You, X. Wang, M. Long and M. I. Jordan. Towards Accurate Model
    Selection in Deep Unsupervised Domain Adaptation. ICML 2019.

    K. Musgrave, S. Belongie and S.-N. Lim. Three New Validators and a
    Large-Scale Benchmark Ranking for Unsupervised Domain Adaptation. 2022,
    arXiv:2208.07360.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sktransfer.model_selection import deep_embedded_validation_scorer
    >>> rng = np.random.RandomState(0)
    >>> X = np.r_[rng.normal(0, 1, (100, 1)), rng.normal(1, 1, (100, 1))]
    >>> y = np.r_[(X[:100, 0] > 0).astype(int), -np.ones(100, dtype=int)]
    >>> clf = LogisticRegression().fit(X[:100], y[:100])
    >>> deep_embedded_validation_scorer(clf, X, y) > 0.9
    True

    DEVN, and the scorer in a search (``functools.partial`` sets its options):

    >>> from functools import partial
    >>> devn = partial(deep_embedded_validation_scorer, normalization="max")
    >>> devn(clf, X, y) > 0.9
    True
    """
    source, target, y = _rows(
        "deep_embedded_validation_scorer", X, y, sample_domain, estimator=estimator
    )
    _check_cv("deep_embedded_validation_scorer", cv)
    if normalization not in (None, "max"):
        raise ValueError(
            "deep_embedded_validation_scorer: normalization must be None or 'max', "
            f"got {normalization!r}"
        )
    features = _ratio_rows("deep_embedded_validation_scorer", _embed(estimator, X), domain_classifier)
    weights = _scorer_weights(
        "deep_embedded_validation_scorer", features[source], features[target],
        domain_classifier, cv,
    )
    _warn_if_collapsed(weights, "deep_embedded_validation_scorer")
    _warn_if_miscalibrated(weights, "deep_embedded_validation_scorer")
    if normalization == "max":  # DEVN: into (0, 1], then shifted back to mean 1
        weights = weights / weights.max()
        weights = weights - weights.mean() + 1.0
    correct = (estimator.predict(_take_rows(X, source)) == y[source]).astype(float)
    weighted = weights * correct
    var = np.var(weights, ddof=1) if len(weights) > 1 else 0.0
    eta = -np.cov(weighted, weights, ddof=1)[0, 1] / var if var > 0 else 0.0
    return float(weighted.mean() + eta * (weights.mean() - 1.0))


def prediction_entropy_scorer(estimator, X, y, *, sample_domain=None) -> float:
    """Negative mean entropy of the predicted class probabilities on the target rows.

    Confident predictions on the target domain (low entropy) go with
    decision boundaries that avoid the dense regions of the target data
    (Morerio et al., 2018; the "entropy" criterion of Saito et al., 2021).
    Needs no source label; a model can be confidently wrong, so compare it
    with the other scorers.

    Parameters
    ----------
    estimator : fitted classifier with predict_proba
        The model to score.
    X : array-like of shape (n_samples, n_features)
        Rows; only the target rows are used.
    y : array-like of shape (n_samples,)
        ``-1`` marks the target rows (other labels are ignored).
    sample_domain : array-like of int of shape (n_samples,), default=None
        Domain of each row (positive: source, negative: target).

    Returns
    -------
    score : float
        ``-mean(entropy)``, in nats, at most 0.

    Raises
    ------
    ValueError
        If ``X`` has no target row, or the predicted probabilities are not finite.
    TypeError
        If ``estimator`` has no ``predict_proba``.

    References
    ----------
    P. Morerio, J. Cavazza and V. Murino. Minimal-Entropy Correlation
    Alignment for Unsupervised Deep Domain Adaptation. ICLR 2018.

    K. Saito, D. Kim, P. Teterwak, S. Sclaroff, T. Darrell and K. Saenko.
    Tune it the Right Way: Unsupervised Validation of Domain Adaptation via
    Soft Neighborhood Density. ICCV 2021.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sktransfer.model_selection import prediction_entropy_scorer
    >>> X = np.array([[0.0], [1.0], [5.0], [-5.0]])
    >>> clf = LogisticRegression().fit(X[:2], [0, 1])
    >>> float(prediction_entropy_scorer(clf, X, [0, 1, -1, -1])) < 0
    True
    """
    proba = _target_proba("prediction_entropy_scorer", estimator, X, y, sample_domain)
    return float(-np.mean(entropy(proba, axis=-1)))


def _confidence(proba, kind):
    """Each row's confidence: its negative entropy (nats) or its largest probability."""
    if kind == "negative_entropy":
        return -entropy(proba, axis=-1)
    return proba.max(axis=1)


def _thresholded_share(source_scores, correct, target_scores):
    """The share of target rows above the source threshold (ties split).

    The threshold ``t`` is the source score below which the share of source
    rows equals the source error rate; rows scoring exactly ``t`` count
    below it in the proportion that makes the source share exact, and the
    target rows at ``t`` count the same way, so that target rows distributed
    as the source rows get the source accuracy back (saturated probabilities
    tie often).
    """
    # in counts of rows, not shares: a rounded share could move t by one row
    wrong = int(np.count_nonzero(~np.asarray(correct, dtype=bool)))
    t = np.sort(source_scores)[max(wrong - 1, 0)]
    below = np.count_nonzero(source_scores < t)  # at most wrong - 1 rows
    at = np.count_nonzero(source_scores == t)  # at least one: t is a source score
    part = max(wrong - below, 0) / at  # in [0, 1]: below + at >= wrong
    return 1.0 - (np.mean(target_scores < t) + part * np.mean(target_scores == t))


def average_thresholded_confidence_scorer(
    estimator, X, y, *, sample_domain=None, confidence="negative_entropy"
) -> float:
    """Average thresholded confidence (ATC): the target accuracy estimated from confidences.

    Garg et al. (ICLR 2022) learn a threshold ``t`` on the confidence of the
    labelled source rows such that the share of source rows below it equals
    the model's source error, and estimate the target accuracy as the share
    of target rows above it. The estimate assumes the model is as calibrated,
    in rank, on the target as on the source; like every confidence-based
    estimate it is too high for a model that is confidently wrong on the
    target. Rows exactly at ``t`` (saturated probabilities tie) count below
    it in the proportion that makes the source share exact, on both domains,
    so that target rows distributed as the source rows get the source
    accuracy back. On ``benchmarks/bench_da_model_selection.py`` it picked
    parameters 3.6 points (17 grids) and 3.2 (31 grids) below the best grid
    point on average, where plain source accuracy lands 2.9 and 2.3 below:
    worse on the DANN and CORAL grids, better on TCA's.

    Parameters
    ----------
    estimator : fitted classifier with predict_proba
        The model to score.
    X : array-like of shape (n_samples, n_features)
        Labelled source validation rows and target rows.
    y : array-like of shape (n_samples,)
        Labels of the source rows; ``-1`` on target rows.
    sample_domain : array-like of int of shape (n_samples,), default=None
        Domain of each row (positive: source, negative: target); None means
        the unlabelled rows are the target rows.
    confidence : {"negative_entropy", "max_proba"}, default="negative_entropy"
        The confidence of a row: the negative entropy of its predicted
        probabilities (the paper's ATC-NE, its better variant) or their
        maximum (ATC-MC). The source error is that of ``predict``.

    Returns
    -------
    estimate : float
        The estimated target accuracy, in [0, 1].

    Raises
    ------
    ValueError
        If ``X`` has no target row or no labelled source row, ``confidence``
        is unknown, the confidences are not finite (probabilities that are not
        finite, or a row of zeros), or ``estimator`` has learnt ``-1`` as a
        class.
    TypeError
        If ``estimator`` has no ``predict_proba``.

    References
    ----------
    S. Garg, S. Balakrishnan, Z. C. Lipton, B. Neyshabur and H. Sedghi.
    Leveraging Unlabeled Data to Predict Out-of-Distribution Performance.
    ICLR 2022.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sktransfer.model_selection import average_thresholded_confidence_scorer
    >>> rng = np.random.RandomState(0)
    >>> X = np.r_[rng.normal(0, 1, (100, 1)), rng.normal(1, 1, (100, 1))]
    >>> y = np.r_[(X[:100, 0] > 0).astype(int), -np.ones(100, dtype=int)]
    >>> clf = LogisticRegression().fit(X[:100], y[:100])
    >>> 0 <= average_thresholded_confidence_scorer(clf, X, y) <= 1
    True
    """
    name = "average_thresholded_confidence_scorer"
    if not isinstance(confidence, str) or confidence not in ("negative_entropy", "max_proba"):
        raise ValueError(
            f"confidence must be 'negative_entropy' or 'max_proba', got {confidence!r}"
        )
    source, _, y = _rows(name, X, y, sample_domain, estimator=estimator)
    target_proba = _target_proba(name, estimator, X, y, sample_domain)
    source_X = _take_rows(X, source)
    source_proba = _finite_output(name, estimator, source_X, "predict_proba")
    correct = estimator.predict(source_X) == y[source]
    source_scores = _confidence(source_proba, confidence)
    target_scores = _confidence(target_proba, confidence)
    if not (np.isfinite(source_scores).all() and np.isfinite(target_scores).all()):
        raise ValueError(
            f"{name} got confidences that are not finite from {type(estimator).__name__}'s "
            "predict_proba (a row of zeros has no entropy)"
        )
    return float(_thresholded_share(source_scores, correct, target_scores))


def information_maximization_scorer(estimator, X, y, *, sample_domain=None) -> float:
    """Information maximisation (IM): confident target predictions, spread over the classes.

    The entropy of the mean predicted distribution on the target rows minus
    the mean entropy of each row's prediction: the mutual information
    between a target row and its predicted class (Krause et al., 2010). The
    second term rewards confident predictions, as
    :func:`prediction_entropy_scorer` does; the first term, the diversity,
    penalises a model that puts most target rows in one class, which the
    entropy alone rewards. SHOT (Liang et al., 2020) trains with it; Musgrave
    et al. (2022) compare it as a validator. Needs no source label.

    Parameters
    ----------
    estimator : fitted classifier with predict_proba
        The model to score.
    X : array-like of shape (n_samples, n_features)
        Rows; only the target rows are used.
    y : array-like of shape (n_samples,)
        ``-1`` marks the target rows (other labels are ignored).
    sample_domain : array-like of int of shape (n_samples,), default=None
        Domain of each row (positive: source, negative: target).

    Returns
    -------
    score : float
        ``H(mean(p)) - mean(H(p))`` in nats, in ``[0, log(n_classes)]``;
        greater is better.

    Raises
    ------
    ValueError
        If ``X`` has no target row, or the predicted probabilities are not finite.
    TypeError
        If ``estimator`` has no ``predict_proba``.

    References
    ----------
    A. Krause, P. Perona and R. Gomes. Discriminative Clustering by
    Regularized Information Maximization. NeurIPS 2010.

    J. Liang, D. Hu and J. Feng. Do We Really Need to Access the Source Data?
    Source Hypothesis Transfer for Unsupervised Domain Adaptation. ICML 2020.

    K. Musgrave, S. Belongie and S.-N. Lim. Three New Validators and a
    Large-Scale Benchmark Ranking for Unsupervised Domain Adaptation. 2022
    (arXiv:2208.07360).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sktransfer.model_selection import information_maximization_scorer
    >>> X = np.array([[0.0], [1.0], [5.0], [-5.0]])
    >>> clf = LogisticRegression().fit(X[:2], [0, 1])
    >>> y = [0, 1, -1, -1]
    >>> round(information_maximization_scorer(clf, X, y), 2)  # target rows in both classes
    0.37
    >>> X_one_class = np.array([[0.0], [1.0], [5.0], [6.0]])
    >>> round(information_maximization_scorer(clf, X_one_class, y), 2)  # all in class 1
    0.0
    """
    proba = _target_proba("information_maximization_scorer", estimator, X, y, sample_domain)
    return float(entropy(proba.mean(axis=0)) - np.mean(entropy(proba, axis=-1)))


#: Entries of the similarity block SND holds at once (2**22 float64: 32 MiB, twice
#: over with its softmax), so that its memory stays linear in the target rows.
_SND_BLOCK_ENTRIES = 2**22


def soft_neighborhood_density_scorer(
    estimator, X, y, *, sample_domain=None, temperature: float = 0.05
) -> float:
    """Soft neighborhood density (SND): how tightly target predictions cluster.

    Each target row's predicted class probabilities, scaled to unit length,
    are compared with those of every other target row (cosine similarity);
    a softmax over those similarities at ``temperature`` gives each row a
    distribution over its neighbours, and the score is the mean entropy of
    these distributions (Saito et al., 2021). A model whose target
    predictions form dense groups, with many close neighbours per row,
    scores high; one that scatters them scores low. Collapse is rewarded:
    the fewer groups the predictions form, the higher the score, and a model
    giving every target row the same probabilities reaches the maximum,
    ``log(n_target - 1)``; pair SND with a scorer that penalises it
    (:func:`information_maximization_scorer`, :func:`batch_nuclear_norm_scorer`),
    or compare only models that predict every class. Needs no source label;
    time is quadratic in the number of target rows, memory linear (the
    similarities are computed a block of rows at a time).

    Parameters
    ----------
    estimator : fitted classifier with predict_proba
        The model to score.
    X : array-like of shape (n_samples, n_features)
        Rows; only the target rows are used (at least two).
    y : array-like of shape (n_samples,)
        ``-1`` marks the target rows (other labels are ignored).
    sample_domain : array-like of int of shape (n_samples,), default=None
        Domain of each row (positive: source, negative: target).
    temperature : float, default=0.05
        Temperature of the softmax over similarities (the paper's value).

    Returns
    -------
    score : float
        Mean entropy (nats) of the neighbour distributions, in
        ``[0, log(n_target - 1)]``; greater is better.

    Raises
    ------
    ValueError
        If ``X`` has fewer than two target rows, ``temperature`` is not
        positive, or the predicted probabilities are not finite.
    TypeError
        If ``estimator`` has no ``predict_proba``.

    References
    ----------
    K. Saito, D. Kim, P. Teterwak, S. Sclaroff, T. Darrell and K. Saenko.
    Tune it the Right Way: Unsupervised Validation of Domain Adaptation via
    Soft Neighborhood Density. ICCV 2021.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sktransfer.model_selection import soft_neighborhood_density_scorer
    >>> X = np.array([[0.0], [1.0], [5.0], [-5.0], [4.0], [-4.0]])
    >>> clf = LogisticRegression().fit(X[:2], [0, 1])
    >>> score = soft_neighborhood_density_scorer(clf, X, [0, 1, -1, -1, -1, -1])
    >>> bool(0 <= score <= np.log(3))
    True
    """
    if not (_is_finite_real(temperature) and temperature > 0):
        raise ValueError(f"temperature must be a positive number, got {temperature!r}")
    proba = _target_proba(
        "soft_neighborhood_density_scorer", estimator, X, y, sample_domain,
        min_target=2, why="it compares each target prediction with the others",
    )
    proba /= np.maximum(np.linalg.norm(proba, axis=1, keepdims=True), 1e-12)
    n_rows = len(proba)
    block = max(1, _SND_BLOCK_ENTRIES // n_rows)
    total = 0.0
    for start in range(0, n_rows, block):
        # the rows of the block against every target row: block x n_rows entries
        logits = proba[start:start + block] @ proba.T / temperature
        rows = np.arange(len(logits))
        logits[rows, start + rows] = -np.inf  # a row is not its own neighbour
        logits -= logits.max(axis=1, keepdims=True)
        neighbours = np.exp(logits)
        neighbours /= neighbours.sum(axis=1, keepdims=True)
        total += float(np.sum(entropy(neighbours, axis=-1)))
    return total / n_rows


def batch_nuclear_norm_scorer(estimator, X, y, *, sample_domain=None) -> float:
    """BNM: nuclear norm of the target predictions, confident and diverse at once.

    The class probabilities predicted on the target rows form a matrix
    ``P`` of shape ``(n_target, n_classes)``; the score is its nuclear norm
    (the sum of its singular values) divided by ``n_target``. Its Frobenius
    norm grows as the predictions get confident, and its rank as they spread
    over the classes, so the nuclear norm rewards both, unlike the entropy,
    which a model that puts every target row in one class maximises (Cui et
    al., 2020, as a training loss; Musgrave et al., 2022, as a validator).
    Needs no source label.

    Parameters
    ----------
    estimator : fitted classifier with predict_proba
        The model to score.
    X : array-like of shape (n_samples, n_features)
        Rows; only the target rows are used.
    y : array-like of shape (n_samples,)
        ``-1`` marks the target rows (other labels are ignored).
    sample_domain : array-like of int of shape (n_samples,), default=None
        Domain of each row (positive: source, negative: target).

    Returns
    -------
    score : float
        ``||P||_* / n_target``, in ``(0, sqrt(min(n_target, n_classes) / n_target)]``;
        greater is better.

    Raises
    ------
    ValueError
        If ``X`` has no target row, or the predicted probabilities are not finite.
    TypeError
        If ``estimator`` has no ``predict_proba``.

    References
    ----------
    S. Cui, S. Wang, J. Zhuo, L. Li, Q. Huang and Q. Tian. Towards
    Discriminability and Diversity: Batch Nuclear-norm Maximization under
    Label Insufficient Situations. CVPR 2020.

    K. Musgrave, S. Belongie and S.-N. Lim. Three New Validators and a
    Large-Scale Benchmark Ranking for Unsupervised Domain Adaptation. 2022
    (arXiv:2208.07360).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sktransfer.model_selection import batch_nuclear_norm_scorer
    >>> X = np.array([[0.0], [1.0], [5.0], [-5.0]])
    >>> clf = LogisticRegression().fit(X[:2], [0, 1])
    >>> y = [0, 1, -1, -1]
    >>> round(batch_nuclear_norm_scorer(clf, X, y), 2)  # target rows in both classes
    0.9
    >>> X_one_class = np.array([[0.0], [1.0], [5.0], [6.0]])
    >>> round(batch_nuclear_norm_scorer(clf, X_one_class, y), 2)  # all in class 1
    0.66
    """
    proba = _target_proba("batch_nuclear_norm_scorer", estimator, X, y, sample_domain)
    return float(np.linalg.norm(proba, "nuc") / len(proba))


def _target_logits(name, estimator, X, y, sample_domain):
    """Class scores of ``estimator`` on the target rows: ``decision_function`` as
    ``(n_target, n_classes)`` logits, or ``None`` when it has none."""
    if not hasattr(estimator, "decision_function"):
        return None
    logits = _target_output(name, estimator, X, y, sample_domain, "decision_function")
    if logits.ndim == 1:
        # two classes: the score of classes_[1] against classes_[0]; the pair
        # (0, d) has the softmax of the model's probabilities
        logits = np.column_stack([np.zeros_like(logits), logits])
    return logits


def _softrun(logits, threshold, normalization):
    """MaNo's normalisation of logits into rows that sum to one (Xie et al., 2024)."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    if normalization == "auto":
        # The authors' criterion: the mean cross-entropy between the uniform
        # distribution and the softmax; large when the softmax is confident.
        # Two classes always take the softmax: there, the Taylor rows below
        # are one-hot whatever the logits, and the score would be constant.
        uniform_ce = -np.mean(shifted - logsumexp(shifted, axis=1, keepdims=True))
        normalization = "softmax" if logits.shape[1] == 2 or uniform_ce > threshold else "taylor"
    if normalization == "softmax":
        proba = np.exp(shifted)
        return proba / proba.sum(axis=1, keepdims=True)
    # second-order Taylor expansion of exp, less confident than the softmax on
    # large logits; each row's minimum is subtracted, as in the authors' code
    rows = 1.0 + logits + logits**2 / 2
    rows -= rows.min(axis=1, keepdims=True)
    total = rows.sum(axis=1, keepdims=True)
    # a row of equal logits has nothing left: it predicts the uniform distribution
    return np.divide(rows, total, out=np.full_like(rows, 1 / rows.shape[1]), where=total > 0)


def matrix_norm_scorer(
    estimator,
    X,
    y,
    *,
    sample_domain=None,
    p: float = 4,
    threshold: float = 5.0,
    normalization: str = "auto",
) -> float:
    """MaNo: the entry-wise p-norm of the normalised target logits.

    The model's class scores on the target rows (``decision_function``:
    logits for a network or a logistic regression) are normalised into rows
    that sum to one, and the score is their entry-wise p-norm, scaled to
    ``[0, 1]``: ``mean(P ** p) ** (1 / p)`` over the ``n_target * n_classes``
    entries of the normalised matrix ``P``. Logits far from the decision
    boundaries give large entries, so the score grows with the margins of
    the target rows (low-density separation); the p-norm with ``p > 1``
    weighs the confident rows most (Xie et al., 2024). Needs no source label.

    The normalisation is the softmax when the model is confident (the mean
    cross-entropy between the uniform distribution and its softmax above
    ``threshold``), else, for a model of low confidence, a second-order
    Taylor expansion of the exponential, ``1 + q + q**2 / 2``, normalised;
    as in the authors' code, each row's minimum is subtracted after the
    expansion. Unlike the softmax, the Taylor rows depend on the logits'
    offset: adding a constant to a row's logits changes them (a network's
    logits have no fixed offset), and below -1 the expansion grows again, so
    a very negative logit can get much of a row's mass. With
    two classes that leaves every row one-hot, whatever the logits, so
    ``normalization="auto"`` then takes the softmax (a departure from the
    paper, which has no two-class example). An estimator without
    ``decision_function`` (k-nearest neighbours) is scored on its
    ``predict_proba`` as they are, as skada's ``MaNoScorer`` does for
    non-network models.

    Parameters
    ----------
    estimator : fitted classifier with decision_function or predict_proba
        The model to score.
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        Rows; only the target rows are used.
    y : array-like of shape (n_samples,)
        ``-1`` marks the target rows (other labels are ignored).
    sample_domain : array-like of int of shape (n_samples,), default=None
        Domain of each row (positive: source, negative: target).
    p : float, default=4
        Order of the entry-wise norm (the paper's default), positive.
    threshold : float, default=5.0
        The criterion's threshold between the softmax and the Taylor
        normalisation (the paper's default).
    normalization : {"auto", "softmax", "taylor"}, default="auto"
        ``"auto"`` picks by ``threshold`` (the softmax for two classes);
        the others force one normalisation.

    Returns
    -------
    score : float
        In ``[0, 1]``; greater is better.

    Raises
    ------
    ValueError
        If ``X`` has no target row, the model's scores or probabilities are
        not finite, or ``p``, ``threshold`` or ``normalization`` is invalid.
    TypeError
        If ``estimator`` has neither ``decision_function`` nor ``predict_proba``.

    References
    ----------
    R. Xie, A. Odonnat, V. Feofanov, W. Deng, J. Zhang and B. An. MaNo:
    Exploiting Matrix Norm for Unsupervised Accuracy Estimation Under
    Distribution Shifts. NeurIPS 2024.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sktransfer.model_selection import matrix_norm_scorer
    >>> X = np.array([[-1.0], [1.0], [-4.0], [4.0], [0.5], [-0.5]])
    >>> y = [0, 1, -1, -1, -1, -1]
    >>> clf = LogisticRegression().fit(X[:2], y[:2])
    >>> far = matrix_norm_scorer(clf, X[:4], y[:4])  # target rows far from the boundary
    >>> near = matrix_norm_scorer(clf, np.r_[X[:2], X[4:]], y[:4])
    >>> bool(far > near)
    True
    """
    name = "matrix_norm_scorer"
    if not (_is_finite_real(p) and p > 0):
        raise ValueError(f"{name}: p must be a positive finite number, got {p!r}")
    if not _is_finite_real(threshold):
        raise ValueError(f"{name}: threshold must be a finite number, got {threshold!r}")
    if normalization not in ("auto", "softmax", "taylor"):
        raise ValueError(
            f"{name}: normalization must be 'auto', 'softmax' or 'taylor', got {normalization!r}"
        )
    logits = _target_logits(name, estimator, X, y, sample_domain)
    if logits is None:
        rows = _target_proba(name, estimator, X, y, sample_domain)
    else:
        rows = _softrun(logits, threshold, normalization)
    return float(np.mean(rows**p) ** (1 / p))


def class_cluster_ami_scorer(
    estimator, X, y, *, sample_domain=None, n_components: int = 64, random_state=0
) -> float:
    """ClassAMI: do the target predictions follow the clusters of the target features?

    The target rows' features (``estimator.transform(X)``; for a
    :class:`~sklearn.pipeline.Pipeline` the output of all steps but the last;
    else the raw ``X``) are reduced by PCA to at most ``n_components``
    dimensions and clustered by k-means (the best of 10 starts, as in the
    reference implementation) into as many clusters as the model has
    classes; the score is the adjusted mutual information between these
    clusters and the predicted labels (Musgrave et al., 2022). A model whose
    decision boundaries run between the target clusters scores high; one
    that cuts through them, or that puts most rows in one class, scores low.
    Needs no source label. It assumes that each class forms one compact group
    of the features, as k-means does; where classes do not (two interleaved
    half-moons), it rewards the wrong boundaries.

    Parameters
    ----------
    estimator : fitted classifier
        The model to score; its ``classes_`` give the number of clusters
        (the number of distinct predicted labels if it has none).
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        Rows; only the target rows are used (at least as many as clusters).
        Sparse features go to PCA's sparse solvers (at most
        ``min(n_rows, n_features) - 1`` components) and stay sparse.
    y : array-like of shape (n_samples,)
        ``-1`` marks the target rows (other labels are ignored).
    sample_domain : array-like of int of shape (n_samples,), default=None
        Domain of each row (positive: source, negative: target).
    n_components : int, default=64
        Dimensions kept by the PCA before clustering (the reference
        implementation's value); features with no more dimensions than this
        are clustered as they are.
    random_state : int, RandomState instance or None, default=0
        Seeds the PCA and k-means, so that every model of a search is scored
        with the same draws.

    Returns
    -------
    score : float
        Adjusted mutual information, at most 1 (about 0 for a labelling that
        has nothing to do with the clusters); greater is better.

    Raises
    ------
    ValueError
        If the model has fewer than two classes, ``X`` has fewer target rows
        than clusters, the features are not finite, or ``n_components`` is
        not a positive integer.

    References
    ----------
    K. Musgrave, S. Belongie and S.-N. Lim. Three New Validators and a
    Large-Scale Benchmark Ranking for Unsupervised Domain Adaptation. 2022
    (arXiv:2208.07360).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sktransfer.model_selection import class_cluster_ami_scorer
    >>> rng = np.random.RandomState(0)
    >>> X = np.r_[[[-3.0], [3.0]], rng.normal(-2, 0.3, (50, 1)), rng.normal(2, 0.3, (50, 1))]
    >>> y = np.r_[[0, 1], -np.ones(100, dtype=int)]
    >>> clf = LogisticRegression().fit(X[:2], y[:2])
    >>> class_cluster_ami_scorer(clf, X, y)
    1.0
    """
    if not (isinstance(n_components, numbers.Integral) and not isinstance(n_components, bool)
            and n_components > 0):
        raise ValueError(f"n_components must be a positive integer, got {n_components!r}")
    _, target, _ = _rows(
        "class_cluster_ami_scorer", X, y, sample_domain, estimator=estimator, need_source=False,
        min_target=2, why="it clusters them",
    )
    Xt = _take_rows(X, target)
    labels = np.asarray(estimator.predict(Xt))
    n_clusters = len(getattr(estimator, "classes_", np.unique(labels)))
    if n_clusters < 2:
        raise ValueError(
            "class_cluster_ami_scorer needs a model with at least two classes: with one "
            "class, the predicted labels and the one cluster agree trivially"
        )
    if len(target) < n_clusters:
        raise ValueError(
            f"class_cluster_ami_scorer needs at least as many target rows as the model has "
            f"classes ({n_clusters}), to cluster them into that many groups; got {len(target)}"
        )
    features = _as_vectors(_as_float("class_cluster_ami_scorer", _embed(estimator, Xt)))
    if features.shape[1] > n_components:
        # sparse features go to PCA's sparse solvers; arpack keeps fewer than min(shape)
        most = min(features.shape) - 1 if sp.issparse(features) else features.shape[0]
        features = PCA(
            min(n_components, most), random_state=random_state
        ).fit_transform(features)
    clusters = KMeans(n_clusters, n_init=10, random_state=random_state).fit_predict(features)
    return float(adjusted_mutual_info_score(labels, clusters))


#: The pairs ``mixed_sample_scorer`` can mix.
_MIXVAL_PROBES = ("inter", "intra", "both")


def mixed_sample_scorer(
    estimator, X, y, *, sample_domain=None, mix: float = 0.55, probes: str = "inter",
    random_state=0,
) -> float:
    """MixVal: does the model keep its own target labels on mixed target rows?

    Target rows are paired at random; each pair whose two predicted labels
    differ is mixed, ``mix * x_a + (1 - mix) * x_b``, and the score is the
    share of these mixed rows that the model labels as it labelled ``x_a``,
    the larger part of the mix (inter-cluster mixup, Hu et al., 2023). A
    model whose decision boundaries run between the target clusters keeps
    that label; one whose boundaries cut through them, or that is unsure
    near them, does not. Needs no source label; the rows must be numeric, as
    they are mixed in the input space.

    ``probes="intra"`` scores the pairs of one predicted label instead (the
    paper's intra-cluster probe: a mix of two rows of a class should stay in
    it, which rewards dense classes), and ``probes="both"`` the mean of the
    two shares, as skada's ``MixValScorer`` does by default. The paper itself
    compares the two probes' rankings over the candidates, which a scorer of
    one model cannot do.

    Parameters
    ----------
    estimator : fitted classifier
        The model to score.
    X : {array-like, sparse matrix} of shape (n_samples, n_features) or (n_samples, ...)
        Rows; only the target rows are used (at least two). Sparse rows are
        mixed as sparse rows, images pixel by pixel.
    y : array-like of shape (n_samples,)
        ``-1`` marks the target rows (other labels are ignored).
    sample_domain : array-like of int of shape (n_samples,), default=None
        Domain of each row (positive: source, negative: target).
    mix : float, default=0.55
        Weight of the first row of each pair, in (0.5, 1) (the paper's 0.55).
    probes : {"inter", "intra", "both"}, default="inter"
        Which pairs are mixed: of two predicted labels (inter-cluster), of one
        (intra-cluster), or both, the score being then the mean of the two
        shares.
    random_state : int, RandomState instance or None, default=0
        Seeds the pairing, so that every model of a search is probed with the
        same mixed rows.

    Returns
    -------
    score : float
        Share of the mixed rows that keep the label of their larger part, in
        [0, 1]. A probe for which the random pairing forms no pair (none of
        two labels, for the inter-cluster probe; none of one label, for the
        intra-cluster one, where a row drawn as its own partner is no pair)
        scores 1.0; ``"both"`` then averages the probe that has pairs.

    Raises
    ------
    ValueError
        If ``X`` has fewer than two target rows, ``mix`` is not in (0.5, 1),
        ``probes`` is not one of its values, or the target rows are not
        finite.

    References
    ----------
    D. Hu, J. Liang, J. H. Liew, C. Xue, S. Bai and X. Wang. Mixed Samples as
    Probes for Unsupervised Model Selection in Domain Adaptation. NeurIPS 2023.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sktransfer.model_selection import mixed_sample_scorer
    >>> X = np.array([[0.0], [1.0], [5.0], [-5.0], [4.0], [-4.0]])
    >>> clf = LogisticRegression().fit(X[:2], [0, 1])
    >>> 0.0 <= mixed_sample_scorer(clf, X, [0, 1, -1, -1, -1, -1]) <= 1.0
    True
    """
    if not (_is_finite_real(mix) and 0.5 < mix < 1.0):
        raise ValueError(f"mix must be a number in (0.5, 1), got {mix!r}")
    if not (isinstance(probes, str) and probes in _MIXVAL_PROBES):
        raise ValueError(f"probes must be one of {_MIXVAL_PROBES}, got {probes!r}")
    _, target, _ = _rows(
        "mixed_sample_scorer", X, y, sample_domain, estimator=estimator,
        need_source=False, min_target=2, why="it mixes pairs of them",
    )
    rows = _take_rows(X, target)
    Xt = _as_float("mixed_sample_scorer", rows, "rows")
    labels = estimator.predict(rows)
    partner = check_random_state(random_state).permutation(Xt.shape[0])
    differ = labels != labels[partner]
    agree = ~differ & (partner != np.arange(len(partner)))  # a row with itself is no pair
    kept = []
    for probe, pairs in (("inter", differ), ("intra", agree)):
        if probes not in (probe, "both") or not pairs.any():
            continue
        first = np.flatnonzero(pairs)
        mixed = mix * Xt[first] + (1.0 - mix) * Xt[partner[first]]
        if hasattr(rows, "columns"):  # a DataFrame: the model may pick its columns by name
            mixed = type(rows)(mixed, columns=rows.columns)
        kept.append(float(np.mean(estimator.predict(mixed) == labels[first])))
    return float(np.mean(kept)) if kept else 1.0


def circular_validation_scorer(estimator, X, y, *, sample_domain=None) -> float:
    """Circular (reverse) validation: adapt back from the pseudo-labelled target.

    ``estimator`` labels the target rows; a clone of it is then fit the other
    way round, with the pseudo-labelled target rows as the labelled domain
    and the source validation rows as the unlabelled one (``y == -1``), and
    scored by its accuracy on the source validation rows (Zhong et al.,
    2010; Bruzzone and Marconcini, 2010). A model that labels the target
    well leads back to the source labels.

    The estimator must accept ``y == -1`` rows in ``fit`` (a
    domain-adaptation estimator or pipeline, e.g. ending in
    :class:`~sktransfer.LabelledOnly`).
    If the pseudo-labels hold one class only, the reverse model can only
    predict it: the score is the share of that class in the source rows.

    Parameters
    ----------
    estimator : fitted classifier
        The model to score (cloned for the reverse fit).
    X : array-like of shape (n_samples, n_features)
        Labelled source validation rows and target rows.
    y : array-like of shape (n_samples,)
        Labels of the source rows; ``-1`` on target rows.
    sample_domain : array-like of int of shape (n_samples,), default=None
        Domain of each row (positive: source, negative: target).

    Returns
    -------
    score : float
        Accuracy of the reverse model on the source validation rows.

    Raises
    ------
    ValueError
        If ``X`` has no target row or no labelled source row.

    References
    ----------
    E. Zhong, W. Fan, Q. Yang, O. Verscheure and J. Ren. Cross Validation
    Framework to Choose amongst Models and Datasets for Transfer Learning.
    ECML PKDD 2010.

    L. Bruzzone and M. Marconcini. Domain Adaptation Problems: A DASVM
    Classification Technique and a Circular Validation Strategy. IEEE TPAMI
    32(5), 2010.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sktransfer import LabelledOnly
    >>> from sktransfer.model_selection import circular_validation_scorer
    >>> rng = np.random.RandomState(0)
    >>> X = np.r_[rng.normal(0, 1, (100, 1)), rng.normal(0.5, 1, (100, 1))]
    >>> y = np.r_[(X[:100, 0] > 0).astype(int), -np.ones(100, dtype=int)]
    >>> clf = LabelledOnly(LogisticRegression()).fit(X, y)
    >>> circular_validation_scorer(clf, X, y) > 0.9
    True
    """
    source, target, y = _rows(
        "circular_validation_scorer", X, y, sample_domain, estimator=estimator
    )
    pseudo = np.asarray(estimator.predict(_take_rows(X, target)))
    y_source = y[source]
    if len(np.unique(pseudo)) < 2:
        return float(np.mean(y_source == pseudo[0]))
    rows = np.r_[target, source]
    # The mark -1 beside the pseudo-labels: in their dtype if it holds -1 (signed
    # integers, floats), in int64 for unsigned ones, else in an object array (text
    # would store "-1", and a bool array True).
    dtype = {"i": pseudo.dtype, "f": pseudo.dtype, "u": np.int64}.get(pseudo.dtype.kind, object)
    y_reverse = np.r_[pseudo.astype(dtype), np.full(len(source), -1, dtype=dtype)]
    try:
        reverse = clone(estimator).fit(_take_rows(X, rows), y_reverse)
    except ValueError as exc:
        raise ValueError(
            "circular_validation_scorer could not fit the reverse model (trained on the "
            f"{len(target)} pseudo-labelled target rows, with the {len(source)} held-out "
            "source rows as its target domain); parameters tied to a domain's size, such "
            f"as n_components, must fit the smaller fold: {exc}"
        ) from exc
    _refuse_mark_class(
        "circular_validation_scorer", reverse,
        how="its reverse fit was given the held-out source rows as unlabelled rows",
    )
    return float(np.mean(reverse.predict(_take_rows(X, source)) == y_source))
