"""Cross-validation that holds out whole classes, as zero-shot evaluation needs."""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.model_selection import BaseCrossValidator
from sklearn.utils import check_random_state
from sklearn.utils.validation import column_or_1d

from ..base import _labelled_mask, _labels_of

__all__ = ["UnseenClassSplit"]


class UnseenClassSplit(BaseCrossValidator):
    """K-fold over classes: each validation fold holds classes absent from its training fold.

    Zero-shot models are scored on classes they never saw, so tuning them
    with an ordinary ``KFold`` (every class on both sides) measures the
    wrong thing, and with ``mode="zsl"`` gives no candidate class at all.
    This splitter partitions the *classes* of ``y`` into ``n_splits``
    groups; fold ``k`` validates on every row of group ``k`` (unseen in
    its training fold) and trains on the others, so the estimator's table
    turns the held-out classes into candidates. With ``seen_fraction > 0``
    that fraction of the rows of the training classes also goes to the
    validation fold, for generalised zero-shot scoring
    (:func:`harmonic_mean_scorer`).

    Parameters
    ----------
    n_splits : int, default=3
        Number of folds (at most the number of classes).
    seen_fraction : float, default=0.0
        Share of the rows of the training classes also held out for validation.
    random_state : int, RandomState instance or None, default=None
        Shuffles the classes (and picks the held-out seen rows).

    Examples
    --------
    >>> import numpy as np
    >>> from sktransfer.zero_shot import UnseenClassSplit
    >>> y = np.repeat([0, 1, 2, 3, 4, 5], 2)
    >>> for train, test in UnseenClassSplit(3, random_state=0).split(y, y):
    ...     assert not set(y[train]) & set(y[test])
    """

    def __init__(self, n_splits: int = 3, *, seen_fraction: float = 0.0, random_state=None):
        self.n_splits = n_splits
        self.seen_fraction = seen_fraction
        self.random_state = random_state

    def get_n_splits(self, X=None, y=None, groups=None) -> int:
        """Number of folds.

        Parameters
        ----------
        X, y, groups : object
            Ignored.

        Returns
        -------
        n_splits : int
            ``n_splits``.
        """
        return self.n_splits

    def split(self, X, y, groups=None):
        """Indices of the training and validation rows of each fold.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Rows (only their number is used).
        y : array-like of shape (n_samples,)
            Their classes: the folds partition these.
        groups : object
            Ignored.

        Yields
        ------
        train, test : ndarray of int
            Row indices of the training and validation folds.
        """
        if not isinstance(self.n_splits, numbers.Integral) or self.n_splits < 2:
            raise ValueError(f"n_splits must be an integer >= 2, got {self.n_splits!r}")
        if not 0 <= self.seen_fraction < 1:
            raise ValueError(f"seen_fraction must be in [0, 1), got {self.seen_fraction!r}")
        if y is None:
            raise ValueError("UnseenClassSplit splits by class: y is required")
        y = column_or_1d(np.asarray(y))
        # rows marked -1 are no class: always trained on
        labelled = _labelled_mask(y)
        classes = np.unique(_labels_of(y[labelled]))
        if len(classes) < 2 * self.n_splits and len(classes) < self.n_splits + 2:
            raise ValueError(
                f"UnseenClassSplit with n_splits={self.n_splits} needs at least "
                f"{self.n_splits + 2} classes (two left to train each fold); y has {len(classes)}"
            )
        rng = check_random_state(self.random_state)
        order = rng.permutation(len(classes))
        for group in np.array_split(classes[order], self.n_splits):
            held = labelled & np.isin(y, group)
            test = held.copy()
            if self.seen_fraction > 0:
                others = np.flatnonzero(labelled & ~held)
                n = round(self.seen_fraction * len(others))
                test[rng.choice(others, n, replace=False)] = True
            yield np.flatnonzero(~test), np.flatnonzero(test)
