"""Selection of parameters by agreement with the ensemble of all candidates (EnsV)."""

from __future__ import annotations

import numbers
import time
import warnings
from typing import ClassVar

import numpy as np
from scipy.sparse import issparse
from scipy.stats import rankdata
from sklearn import get_config
from sklearn.base import BaseEstimator, MetaEstimatorMixin, clone, is_classifier
from sklearn.exceptions import FitFailedWarning
from sklearn.model_selection import ParameterGrid
from sklearn.utils import _safe_indexing
from sklearn.utils.metadata_routing import (
    MetadataRouter,
    MethodMapping,
    process_routing,
)
from sklearn.utils.parallel import Parallel, delayed
from sklearn.utils.validation import _num_samples, check_is_fitted

from ..base import (
    _domain_masks,
    _LabelledTargetWarning,
    _refuse_mark_class,
    _warn_if_every_target_row_labelled,
    _WrappedClassifierMixin,
)

__all__ = ["EnsembleValidationSearch"]


def _fit_and_predict(estimator, params, X, y, rows, fit_params, error_score):
    """Fit one candidate on all rows; its class probabilities on ``rows`` (None: all).

    Returns ``(estimator, classes, proba, fit_time, error)``. A fit that raises,
    or probabilities that are not finite, make a failed candidate: ``error`` is
    the exception and the other items are None, unless ``error_score="raise"``.
    """
    start = time.perf_counter()
    try:
        with warnings.catch_warnings():
            # The search has said it once for all its candidates.
            warnings.simplefilter("ignore", _LabelledTargetWarning)
            estimator = clone(estimator).set_params(**params).fit(X, y, **fit_params)
        fit_time = time.perf_counter() - start
        if rows is None:
            X_rows = X
        else:  # coo, dia, ... matrices cannot be indexed by row
            X_rows = _safe_indexing(X.tocsr() if issparse(X) else X, rows)
        classes = np.asarray(estimator.classes_)
        if hasattr(estimator, "predict_proba"):
            proba = np.asarray(estimator.predict_proba(X_rows), dtype=np.float64)
            if not np.isfinite(proba).all():
                raise ValueError(
                    f"the candidate {params} gives class probabilities that are not finite "
                    "(nan or inf) on the scored rows"
                )
        else:  # a vote: one-hot of the predicted label
            proba = (np.asarray(estimator.predict(X_rows))[:, None] == classes[None, :]).astype(np.float64)
    except Exception as exc:
        if error_score == "raise":
            raise
        return None, None, None, time.perf_counter() - start, exc
    return estimator, classes, proba, fit_time, None


def _param_columns(candidates: list[dict]) -> dict:
    """``param_<name>`` columns as ``GridSearchCV.cv_results_`` has them.

    Masked arrays, masked where a candidate does not set the parameter; a
    numeric dtype when the values have one, else object.
    """
    names = sorted({name for candidate in candidates for name in candidate})
    columns = {}
    for name in names:
        values = [candidate[name] for candidate in candidates if name in candidate]
        try:
            array = np.array(values)
        except ValueError:  # ragged values (tuples of several lengths, ...)
            array = np.empty(0, dtype=object)
        # GridSearchCV's rule: the values' own dtype, unless text or not one per candidate
        dtype = object if array.dtype.kind == "U" or array.ndim != 1 else array.dtype
        column = np.ma.MaskedArray(np.empty(len(candidates), dtype=dtype), mask=True)
        for i, candidate in enumerate(candidates):
            if name in candidate:
                column[i] = candidate[name]
        columns[f"param_{name}"] = column
    return columns


class EnsembleValidationSearch(MetaEstimatorMixin, _WrappedClassifierMixin, BaseEstimator):
    """Pick the parameters whose target predictions agree most with the ensemble of all candidates.

    Ensemble-based validation (EnsV, Hu et al., 2024) selects among
    domain-adaptation models without target labels. Every candidate of
    ``param_grid`` is fitted on all the rows (labelled source rows and
    unlabelled target rows), their class probabilities on the target rows are
    averaged, and the argmax of that average serves as pseudo-labels. Each
    candidate is scored by its accuracy against them (its *agreement*); the
    candidate that agrees most is kept, already fitted, as
    ``best_estimator_``. In log-loss the averaged probabilities are at least
    as good as the average candidate (Jensen's inequality; not so in
    accuracy, where the argmax of an average can be wrong where most
    candidates are right), and the candidate that agrees most with them is
    not the one that agrees least: EnsV avoids the worst pick of the grid
    rather than chasing the best one.

    Unlike the scorers of :mod:`sktransfer.model_selection`, which score one
    model at a time in :class:`~sklearn.model_selection.GridSearchCV`, EnsV
    needs every candidate's predictions at once, so it is a search of its own
    with the interface of ``GridSearchCV`` (``fit``, ``best_params_``,
    ``best_estimator_``, ``predict``). There is no cross-validation: each
    candidate is fitted once, on all rows.

    Parameters
    ----------
    estimator : classifier
        The model to tune (cloned for each candidate). It must accept the
        unlabelled target rows in ``fit`` (``y == -1``), as the
        domain-adaptation estimators and pipelines ending in
        :class:`~sktransfer.LabelledOnly` do. Its ``predict_proba`` is
        averaged; without one, its predicted labels vote.
    param_grid : dict or list of dicts
        The candidates, as for :class:`~sklearn.model_selection.GridSearchCV`.
    no_target : {"raise", "all_rows"}, default="raise"
        What to do when the training data has no target row (``y == -1`` or
        ``sample_domain < 0``): raise a ``ValueError``, or measure the
        agreement on all the rows.
    error_score : "raise" or float, default=np.nan
        What to do with a failed candidate: one whose fit raises (a network
        whose training diverged raises ``FloatingPointError``) or whose class
        probabilities on the scored rows are not finite. ``"raise"`` raises;
        a number leaves the candidate out of the ensemble, records that number
        as its agreement and warns with
        :class:`~sklearn.exceptions.FitFailedWarning`, as ``GridSearchCV``
        does. A failed candidate is never picked and ranks last, whatever
        number it records. When every candidate fails, ``fit`` warns with the list of the
        failures and raises the first one's error.
    n_jobs : int, default=None
        Candidates fitted in parallel (joblib); None means 1.
    verbose : int, default=0
        As in ``GridSearchCV``: 1 says how many candidates are fitted and
        which one is kept, 2 adds each candidate's agreement and fit time,
        and above that joblib's progress messages too.

    Attributes
    ----------
    best_estimator_ : classifier
        The candidate with the highest agreement, fitted on all rows.
    estimator_ : classifier
        The same object as ``best_estimator_`` (used for prediction).
    best_params_ : dict
        Its parameters.
    best_index_ : int
        Its index in ``results_["params"]``.
    best_score_ : float
        Its agreement with the ensemble, in [0, 1].
    results_ : dict of lists and arrays
        ``"params"`` (each candidate's parameters), ``"agreement"`` (its
        accuracy against the ensemble's labels; ``error_score`` for a failed
        candidate), ``"rank"`` (1 is the best; ties share the better rank;
        failed candidates rank last, whatever their ``error_score``) and
        ``"fit_time"`` (seconds), one entry per candidate, in the order of
        ``ParameterGrid(param_grid)``; and, as in ``GridSearchCV.cv_results_``,
        a ``"param_<name>"`` masked array per parameter searched (masked where
        a candidate of a list of grids does not set it).
        ``pandas.DataFrame(results_)`` makes a table of it.
    ensemble_proba_ : ndarray of shape (n_scored_rows, n_classes)
        The candidates' average class probabilities on the scored rows (the
        target rows, or every row with ``no_target="all_rows"``); failed
        candidates are left out.
    classes_ : ndarray of shape (n_classes,)
        The class labels.
    n_features_in_ : int
        Number of features seen in ``fit`` (when the estimator records it).

    See Also
    --------
    sklearn.model_selection.GridSearchCV : the search to use with the
        per-model scorers of this module and :class:`SourceKFold`.
    soft_neighborhood_density_scorer : a per-model scorer (SND).

    Notes
    -----
    On the selection benchmark of the package (17 grids of DANN, CORAL,
    Subspace Alignment and TCA on rotated moons, Office-Caltech and Amazon
    reviews), EnsV's picks are 2.0 points of target accuracy below the best
    candidate's on average, and 0.4 on the DANN grids; see
    ``benchmarks/bench_da_model_selection.py``.

    References
    ----------
    D. Hu, M. Luo, J. Liang and C.-S. Foo. Towards Reliable Model Selection
    for Unsupervised Domain Adaptation: An Empirical Study and A Certified
    Baseline. NeurIPS 2024 Datasets and Benchmarks Track.

    Examples
    --------
    >>> from sktransfer import DANNClassifier
    >>> from sktransfer.datasets import make_rotated_moons, mask_target_labels
    >>> from sktransfer.model_selection import EnsembleValidationSearch
    >>> X, y, domain = make_rotated_moons(angle=35, random_state=0)
    >>> search = EnsembleValidationSearch(
    ...     DANNClassifier(max_epochs=5, random_state=0),
    ...     {"lambda_max": [0.0, 1.0]},
    ... ).fit(X, mask_target_labels(y, domain))
    >>> sorted(search.results_)
    ['agreement', 'fit_time', 'param_lambda_max', 'params', 'rank']
    >>> search.predict(X[:3]).shape
    (3,)
    """

    # fit reads sample_domain itself (it marks the target rows the candidates are scored on)
    __metadata_request__fit: ClassVar[dict] = {"sample_domain": True}

    def __init__(
        self,
        estimator,
        param_grid,
        *,
        no_target: str = "raise",
        error_score: str | float = np.nan,
        n_jobs: int | None = None,
        verbose: int = 0,
    ):
        self.estimator = estimator
        self.param_grid = param_grid
        self.no_target = no_target
        self.error_score = error_score
        self.n_jobs = n_jobs
        self.verbose = verbose

    def fit(self, X, y, **fit_params) -> EnsembleValidationSearch:
        """Fit every candidate on all rows and keep the one closest to their ensemble.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Rows of all domains, in the form the estimator takes.
        y : array-like of shape (n_samples,)
            Class labels; ``-1`` marks the unlabelled (target) rows.
        **fit_params : dict
            Passed to each candidate's ``fit``. A ``sample_domain`` among them
            (negative ids for target domains) also decides which rows are
            target rows. A :class:`~sklearn.pipeline.Pipeline` refuses a bare
            ``sample_domain``: with a pipeline as the estimator, enable
            metadata routing (``sklearn.set_config(enable_metadata_routing=True)``)
            and request it from the steps that take it (e.g.
            ``CORAL().set_fit_request(sample_domain=True)``); a step-prefixed
            ``coral__sample_domain`` reaches the step but does not mark the
            target rows here (only ``y == -1`` does).

        Returns
        -------
        self : EnsembleValidationSearch
            The fitted search.
        """
        if not is_classifier(self.estimator):
            raise TypeError(
                "EnsembleValidationSearch needs a classifier: it scores candidates by "
                f"the agreement of their predicted labels, got {type(self.estimator).__name__}"
            )
        if self.no_target not in ("raise", "all_rows"):
            raise ValueError(f"no_target must be one of ('raise', 'all_rows'), got {self.no_target!r}")
        if not (
            (isinstance(self.error_score, str) and self.error_score == "raise")
            or (isinstance(self.error_score, numbers.Real) and not isinstance(self.error_score, bool))
        ):
            raise ValueError(f"error_score must be 'raise' or a number, got {self.error_score!r}")
        if not isinstance(self.verbose, numbers.Integral) or self.verbose < 0:
            raise ValueError(f"verbose must be a non-negative integer, got {self.verbose!r}")
        candidates = list(ParameterGrid(self.param_grid))
        if not candidates:
            raise ValueError("param_grid gives no candidate")
        if y is None:
            raise ValueError(
                "EnsembleValidationSearch requires y to be passed, but the target y is None "
                "(labels of the source rows, -1 on the target rows)"
            )
        n_samples = _num_samples(X)
        labelled, is_target = _domain_masks(y, fit_params.get("sample_domain"), n_samples)
        _warn_if_every_target_row_labelled(
            labelled, is_target, fit_params.get("sample_domain"), type(self).__name__
        )
        if is_target.all():
            raise ValueError(
                "EnsembleValidationSearch found no labelled source rows: the candidates "
                "are classifiers fitted on labelled rows (y != -1)"
            )
        if is_target.any():
            rows = np.flatnonzero(is_target)
        elif self.no_target == "all_rows":
            rows = None
        else:
            raise ValueError(
                "EnsembleValidationSearch found no target rows to score the candidates on: "
                "mark them with y == -1, or pass sample_domain with negative ids for target "
                "domains. To measure the agreement on all rows, set no_target='all_rows'."
            )
        if get_config()["enable_metadata_routing"]:
            # each candidate gets what it requested (sample_domain still marks the target rows)
            candidate_params = process_routing(self, "fit", **fit_params).estimator.fit
        else:
            candidate_params = fit_params
        if self.verbose > 0:
            n = len(candidates)
            print(f"Fitting {n} candidate{'' if n == 1 else 's'} on all rows")
        out = Parallel(n_jobs=self.n_jobs, verbose=max(self.verbose - 2, 0))(
            delayed(_fit_and_predict)(
                self.estimator, params, X, y, rows, candidate_params, self.error_score
            )
            for params in candidates
        )
        ok = np.array([error is None for *_, error in out])
        errors = [(params, error) for params, (*_, error) in zip(candidates, out) if error is not None]
        if errors:
            failures = "\n".join(
                f"{params}: {type(error).__name__}: {error}" for params, error in errors
            )
            if not ok.any():  # nothing to compare: each failure said, the first one raised
                warnings.warn(
                    f"All {len(candidates)} candidates failed; the first one's error follows. "
                    f"The failures:\n{failures}",
                    FitFailedWarning,
                    stacklevel=2,
                )
                raise errors[0][1]
            warnings.warn(
                f"Candidates that failed ({len(errors)} of {len(candidates)}) are left out of "
                f"the ensemble, with agreement {self.error_score}:\n{failures}",
                FitFailedWarning,
                stacklevel=2,
            )
        fitted = [item for item, good in zip(out, ok) if good]
        _refuse_mark_class("EnsembleValidationSearch", fitted[0][0])
        classes = fitted[0][1]
        if not all(np.array_equal(c, classes) for _, c, *_ in fitted):
            raise ValueError("the candidates were fitted with different classes_; they cannot be compared")
        probas = np.stack([proba for _, _, proba, *_ in fitted])
        self.ensemble_proba_ = probas.mean(axis=0)
        pseudo_labels = self.ensemble_proba_.argmax(axis=1)
        failed_score = np.nan if isinstance(self.error_score, str) else float(self.error_score)
        agreement = np.full(len(candidates), failed_score)
        agreement[ok] = (probas.argmax(axis=2) == pseudo_labels).mean(axis=1)
        # As GridSearchCV ranks (ties share the better rank), with every failed
        # candidate last, whatever error_score records for it: it is never picked.
        ranked = np.where(ok, agreement, -np.inf)
        rank = rankdata(-ranked, method="min").astype(int)
        self.best_index_ = int(np.flatnonzero(ok)[np.argmax(agreement[ok])])
        self.best_score_ = float(agreement[self.best_index_])
        self.best_params_ = candidates[self.best_index_]
        self.best_estimator_ = self.estimator_ = out[self.best_index_][0]
        self.results_ = {
            "params": candidates,
            **_param_columns(candidates),
            "agreement": agreement,
            "rank": rank,
            "fit_time": np.array([item[3] for item in out]),
        }
        self.classes_ = classes
        if self.verbose > 1:
            for params, score, fit_time in zip(candidates, agreement, self.results_["fit_time"]):
                print(f"[EnsV] {params}: agreement {score:.3f}, fit {fit_time:.1f} s")
        if self.verbose > 0:
            print(f"[EnsV] kept {self.best_params_} (agreement {self.best_score_:.3f})")
        for name in ("n_features_in_", "feature_names_in_"):
            if hasattr(self.best_estimator_, name):
                setattr(self, name, getattr(self.best_estimator_, name))
        return self

    def _transform_input(self, X):
        check_is_fitted(self, "best_estimator_")
        return X  # validated by the fitted candidate

    def get_metadata_routing(self) -> MetadataRouter:
        """How ``fit``'s parameters reach the candidates, for metadata routing.

        With :func:`sklearn.set_config` ``(enable_metadata_routing=True)``,
        ``fit`` routes to each candidate's ``fit`` what the estimator requests
        (``sample_domain`` for the domain-adaptation estimators), so that the
        search can sit in a :class:`~sklearn.pipeline.Pipeline` or another
        meta-estimator that routes it.

        Returns
        -------
        routing : MetadataRouter
            The routing of ``estimator``'s ``fit``.
        """
        return (
            MetadataRouter(owner=type(self).__name__)
            .add_self_request(self)
            .add(estimator=self.estimator, method_mapping=MethodMapping().add(caller="fit", callee="fit"))
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        inner = self.estimator.__sklearn_tags__()
        tags.input_tags = inner.input_tags
        tags.target_tags.required = True
        return tags
