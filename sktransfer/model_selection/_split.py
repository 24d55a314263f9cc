"""Cross-validation for domain adaptation: folds over the labelled source rows."""

from __future__ import annotations

import numbers
import warnings

import numpy as np
from sklearn.model_selection import BaseCrossValidator, KFold, StratifiedKFold
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import _num_samples

from ..base import _domain_masks, _labels_of, _refuse_unlabelled_source_rows

__all__ = ["SourceKFold"]


class SourceKFold(BaseCrossValidator):
    """K-fold over the labelled source rows; every unlabelled target row in every fold.

    Unsupervised domain adaptation has no target label to validate with, and
    a domain-adaptation estimator cannot fit without its target rows. This
    splitter partitions the labelled source rows into ``n_splits`` folds,
    stratified by class as :class:`~sklearn.model_selection.StratifiedKFold`
    does (scikit-learn's default for a classifier), and puts every unlabelled
    target row (``y == -1``) in *both* the training and the validation side
    of every fold: the estimator adapts to them, and the scorers of
    :mod:`sktransfer.model_selection` (which need target rows) see them.
    Labelled target rows (possible with ``sample_domain``) go to every
    training side only. So no labelled row is ever on both sides of a fold.

    Parameters
    ----------
    n_splits : int, default=5
        Number of folds over the labelled source rows (at least 2).
    shuffle : bool, default=False
        Shuffle the source rows before folding.
    random_state : int, RandomState instance or None, default=None
        Seeds the shuffle; a seed without ``shuffle=True`` is refused, as by
        :class:`~sklearn.model_selection.KFold`.
    stratify : bool, default=True
        Keep each class's share of the source rows in every fold (as
        ``StratifiedKFold``) when the labels are classes (binary or
        multiclass, as :func:`~sklearn.utils.multiclass.type_of_target` reads
        them); continuous targets are folded as
        :class:`~sklearn.model_selection.KFold` folds them (integer-valued
        regression targets read as classes: pass ``stratify=False``).
        Given ``sample_domain`` with several source domains, the rows are
        stratified by (source domain, class), so each source domain keeps its
        share in every fold (by class alone, rows stacked domain by domain
        would put most of a domain in one validation side). Pairs with fewer
        than ``n_splits`` rows are pooled by class; the classes alone are used
        when no pair has ``n_splits`` rows, or when the pairs would leave a
        class out of a training side that the classes alone keep.
        ``False`` folds the source rows in their order (as ``KFold``): with
        rows sorted by class (as the benchmark loaders return them) and no
        shuffle, a fold's validation side then holds classes its training
        side lacks.

    See Also
    --------
    importance_weighted_scorer, deep_embedded_validation_scorer,
    prediction_entropy_scorer, circular_validation_scorer : scorers that
        need target rows in the validation fold.

    Examples
    --------
    >>> import numpy as np
    >>> from sktransfer.model_selection import SourceKFold
    >>> y = np.array([0, 0, 0, 0, 1, 1, 1, 1, -1, -1])
    >>> for train, test in SourceKFold(n_splits=2).split(np.zeros((10, 1)), y):
    ...     print(train, test)
    [2 3 6 7 8 9] [0 1 4 5 8 9]
    [0 1 4 5 8 9] [2 3 6 7 8 9]
    """

    def __init__(
        self,
        n_splits: int = 5,
        *,
        shuffle: bool = False,
        random_state=None,
        stratify: bool = True,
    ):
        self.n_splits = n_splits
        self.shuffle = shuffle
        self.random_state = random_state
        self.stratify = stratify

    def _check_params(self):
        if (
            isinstance(self.n_splits, bool)
            or not isinstance(self.n_splits, numbers.Integral)
            or self.n_splits < 2
        ):
            raise ValueError(f"n_splits must be an integer >= 2, got {self.n_splits!r}")
        if self.stratify not in (True, False):
            raise ValueError(f"stratify must be True or False, got {self.stratify!r}")
        if not self.shuffle and self.random_state is not None:
            # As scikit-learn's KFold: a seed without shuffling is a mistake.
            raise ValueError(
                "Setting a random_state has no effect since shuffle is False. You should "
                "leave random_state to its default (None), or set shuffle=True."
            )

    def get_n_splits(self, X=None, y=None, groups=None, sample_domain=None) -> int:
        """Number of folds.

        Parameters
        ----------
        X, y, groups, sample_domain : object
            Ignored (``sample_domain`` is accepted because a search routes
            to ``get_n_splits`` what it routes to ``split``).

        Returns
        -------
        n_splits : int
            ``n_splits``.
        """
        self._check_params()
        return self.n_splits

    def split(self, X, y, groups=None, sample_domain=None):
        """Indices of the training and validation rows of each fold.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Rows (only their number is used).
        y : array-like of shape (n_samples,)
            Labels; ``-1`` marks unlabelled (target) rows.
        groups : object
            Ignored.
        sample_domain : array-like of int of shape (n_samples,), default=None
            Domain of each row (positive ids: source, negative ids: target),
            e.g. routed with ``set_split_request(sample_domain=True)``. If
            None, labelled rows are source and unlabelled rows are target.

        Yields
        ------
        train, test : ndarray of int
            Row indices of the training and validation sides of the fold.
        """
        self._check_params()
        if y is None:
            raise ValueError(
                "SourceKFold needs y to tell source rows (labelled) from target rows (-1)"
            )
        n_samples = _num_samples(X)
        labelled, is_target = _domain_masks(y, sample_domain, n_samples)
        source = np.flatnonzero(labelled & ~is_target)
        unlabelled = np.flatnonzero(~labelled)
        labelled_target = np.flatnonzero(labelled & is_target)
        _refuse_unlabelled_source_rows(labelled, is_target)
        if not len(unlabelled):
            hint = (
                " The target rows (sample_domain < 0) are all labelled: mark unlabelled "
                "those the folds should hold out of training, e.g. "
                "y = sktransfer.datasets.mask_target_labels(y, sample_domain)."
                if len(labelled_target) else ""
            )
            raise ValueError(
                "SourceKFold found no unlabelled target rows (y == -1): domain "
                "adaptation needs them in every fold." + hint
            )
        if len(source) < self.n_splits:
            raise ValueError(
                f"SourceKFold with n_splits={self.n_splits} needs at least "
                f"{self.n_splits} labelled source rows; got {len(source)}"
            )
        y_source = _labels_of(np.asarray(y)[source])
        stratified = self.stratify and type_of_target(y_source) in ("binary", "multiclass")
        folds = (StratifiedKFold if stratified else KFold)(
            self.n_splits,
            shuffle=self.shuffle,
            random_state=self.random_state if self.shuffle else None,
        )
        strata = y_source
        if stratified:
            _, class_counts = np.unique(y_source, return_counts=True)
            largest = int(class_counts.max())
            if largest < self.n_splits:
                raise ValueError(
                    f"SourceKFold(n_splits={self.n_splits}) stratifies the source rows by "
                    f"class, and no class has {self.n_splits} labelled source rows (the "
                    f"largest has {largest}): use fewer splits, or stratify=False"
                )
            if sample_domain is not None:
                strata = _domain_class_strata(
                    y_source, np.asarray(sample_domain)[source], class_counts, self.n_splits
                )
        with warnings.catch_warnings():
            if strata is not y_source:  # StratifiedKFold would speak of (domain, class) groups
                warnings.filterwarnings("ignore", "The least populated class", UserWarning)
            splits = list(folds.split(source, strata))
        for train, test in splits:
            yield (
                np.sort(np.r_[source[train], labelled_target, unlabelled]),
                np.sort(np.r_[source[test], unlabelled]),
            )


def _domain_class_strata(y_source, source_domain, class_counts, n_splits):
    """Stratum of each source row: its (source domain, class) pair, or its class.

    With several source domains, folds stratified by class alone cut each class
    in row order, so rows stacked domain by domain (as the benchmark loaders
    give them) put whole domains in one validation side. Stratifying by the
    (domain, class) pair keeps each domain's share in every fold; with one
    source domain the pairs are the classes and the folds are unchanged. The
    rows of pairs smaller than ``n_splits`` are pooled by class, and the
    classes alone are used when no pair has ``n_splits`` rows or when the pairs
    would leave a class out of a training side that the classes alone keep.
    """
    if len(np.unique(source_domain)) < 2:
        return y_source
    _, domain_codes = np.unique(source_domain, return_inverse=True)
    _, class_codes = np.unique(y_source, return_inverse=True)
    _, pairs, pair_counts = np.unique(
        np.c_[domain_codes, class_codes], axis=0, return_inverse=True, return_counts=True
    )
    pairs = pairs.ravel()
    if pair_counts.max() < n_splits:
        return y_source
    # a pair too small to reach every fold joins its class's other small pairs
    small = pair_counts[pairs] < n_splits
    strata = np.where(small, len(pair_counts) + class_codes, pairs)
    if not _keeps_classes_in_training(strata, class_codes, n_splits):
        return y_source
    if class_counts.min() < n_splits:  # what StratifiedKFold would have said of the classes
        warnings.warn(
            f"The least populated class in y has only {class_counts.min()} members, which "
            f"is less than n_splits={n_splits}.",
            UserWarning,
            stacklevel=3,
        )
    return strata


def _keeps_classes_in_training(strata, class_codes, n_splits) -> bool:
    """Whether folds stratified by ``strata`` leave each class in every training
    side where folds stratified by the classes alone do."""
    def missing(labels):
        out = set()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            for train, _ in StratifiedKFold(n_splits).split(labels, labels):
                out |= set(np.setdiff1d(class_codes, class_codes[train]).tolist())
        return out

    return missing(strata) <= missing(class_codes)
