"""What the zero-shot estimators share: class tables, candidates, scores."""

from __future__ import annotations

import numbers
from collections import Counter

import numpy as np
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from ..base import _is_mark, _is_text_mark, _labelled_mask, _labelled_rows, _labels_of

_MODES = ("zsl", "gzsl")


def _check_class_table(table, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Split a class table into ``(class names, float64 matrix)``.

    ``table`` is a pandas DataFrame (index = class names), a dict mapping each
    class name to a vector, or a 2-D array whose row ``i`` describes class
    ``i``. Rows must be finite and of one width.
    """
    if table is None:
        raise ValueError(
            f"{name} is required: a table with one row per class (seen and unseen), "
            "as a pandas DataFrame indexed by class name, a dict {class: vector} or "
            "a 2-D array whose row i describes class i"
        )
    if hasattr(table, "index") and hasattr(table, "to_numpy"):  # pandas
        names = np.asarray(list(table.index), dtype=object)
        try:
            # a copy: pandas may hand out a read-only view, which torch warns about
            values = np.array(table.to_numpy(), dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{name} must hold numbers only: {exc}") from exc
    elif isinstance(table, dict):
        names = np.asarray(list(table), dtype=object)
        rows = []
        for key, row in table.items():
            try:
                row = np.asarray(row, dtype=np.float64)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"{name}[{key!r}] must be a vector of numbers: {exc}") from exc
            if row.ndim != 1:
                raise ValueError(
                    f"{name}[{key!r}] must be a 1-D vector, got shape {row.shape}"
                )
            rows.append(row)
        widths = sorted({len(row) for row in rows})
        if len(widths) > 1:
            raise ValueError(
                f"the rows of {name} have the wrong width: they must all have the "
                f"same length, got lengths {widths}"
            )
        values = np.vstack(rows) if rows else np.empty((0, 0))
    else:
        try:
            values = np.array(table, dtype=np.float64)  # a writable copy
        except (TypeError, ValueError) as exc:
            raise TypeError(
                f"{name} must be a pandas DataFrame, a dict or a 2-D array of numbers, "
                f"got {type(table).__name__}"
            ) from exc
        names = np.arange(len(values)) if values.ndim == 2 else None
    if values.ndim != 2 or values.shape[1] < 1:
        raise ValueError(
            f"{name} must be 2-D with one row per class and at least one column, "
            f"got shape {values.shape}"
        )
    if len(values) < 2:
        raise ValueError(f"{name} must describe at least two classes, got {len(values)}")
    if any(_is_mark(n) or _is_text_mark(n) for n in names):
        raise ValueError(
            f"{name} names a class -1 (or '-1'), sktransfer's mark for unlabelled rows: "
            "its rows could not be told from unlabelled ones; rename that class"
        )
    bad = ~np.isfinite(values).all(axis=1)
    if bad.any():
        raise ValueError(
            f"{name} has NaN or infinite values in the rows of classes "
            f"{[_plain(n) for n in names[bad]]}; fill or drop them first"
        )
    plain = [_plain(n) for n in names]
    if len(set(plain)) != len(plain):
        repeated = [n for n, count in Counter(plain).items() if count > 1]
        raise ValueError(f"{name} has duplicate class names: {repeated}")
    return np.asarray(plain) if _sortable(plain) else np.asarray(plain, dtype=object), values


def _plain(value):
    """A numpy scalar as the Python value (so ``np.int64(3)`` and ``3`` match)."""
    return value.item() if isinstance(value, np.generic) else value


def _sortable(values) -> bool:
    return all(isinstance(v, numbers.Number) for v in values) or all(
        isinstance(v, str) for v in values
    )


def _validate_fit_data(estimator, X, y):
    """Validate ``X, y``; return ``X`` (float64) and ``y`` without ``-1`` rows."""
    if y is None:
        raise ValueError(
            f"{type(estimator).__name__} requires y to be passed, but the target y is None"
        )
    X, y = validate_data(estimator, X, y, dtype=np.float64, y_numeric=False)
    y = column_or_1d(y, warn=True)
    # class names mixed with the integer mark -1 are taken: the marked rows are
    # dropped before anything reads the labels
    labelled = _labelled_mask(y)
    if not labelled.any():
        raise ValueError("y has no labelled rows: every row is -1 (unlabelled)")
    y = _labels_of(y[labelled])
    check_classification_targets(y)  # on the labels themselves, the mark left out
    return X[labelled], y


class _ZeroShotMixin:
    """Seen and candidate classes, calibrated stacking and the predict methods.

    A subclass sets ``_table_param`` (the name of its class-table parameter),
    calls :meth:`_setup_classes` in ``fit`` and implements ``_raw_scores(X)``:
    a score per row and class of ``table_classes_`` (higher is more likely).
    """

    _table_param = "class_attributes"

    def _check_mode(self):
        if self.mode not in _MODES:
            raise ValueError(f"mode must be one of {_MODES}, got {self.mode!r}")
        if not isinstance(self.calibration, numbers.Real) or isinstance(self.calibration, bool):
            raise TypeError(f"calibration must be a number, got {self.calibration!r}")
        if not np.isfinite(self.calibration):
            raise ValueError(f"calibration must be finite, got {self.calibration!r}")

    def _setup_classes(self, y) -> np.ndarray:
        """Set the class attributes from the table and the training labels.

        Returns the table's rows of the seen classes, in ``seen_classes_`` order.
        """
        self._check_mode()
        names, values = _check_class_table(getattr(self, self._table_param), self._table_param)
        index = {name: i for i, name in enumerate(names.tolist())}
        seen = np.unique(y)
        missing = [_plain(c) for c in seen if _plain(c) not in index]
        if missing:
            raise ValueError(
                f"the training labels {missing} are missing from {self._table_param}: "
                f"every class in y needs a row (its table has the classes "
                f"{names.tolist()[:20]}{' ...' if len(names) > 20 else ''})"
            )
        if len(seen) < 2:
            raise ValueError(
                f"{type(self).__name__} needs at least two classes in y to learn from; "
                f"got only one class: {_plain(seen[0])!r}"
            )
        seen_idx = np.array([index[_plain(c)] for c in seen])
        is_seen = np.zeros(len(names), dtype=bool)
        is_seen[seen_idx] = True
        candidates = ~is_seen if self.mode == "zsl" else np.ones(len(names), dtype=bool)
        if candidates.sum() < 2:
            raise ValueError(
                f"fewer than two candidate classes to predict: mode={self.mode!r} "
                f"chooses among {'the unseen classes (rows of ' + self._table_param + ' absent from y)' if self.mode == 'zsl' else 'all classes'}, "
                f"and there are {int(candidates.sum())}. Add the unseen classes to "
                f"{self._table_param}, or use mode='gzsl'."
            )
        order = np.argsort(names[candidates], kind="stable") if _sortable(names.tolist()) else None
        cand_idx = np.flatnonzero(candidates)
        if order is not None:
            cand_idx = cand_idx[order]
        self.table_classes_ = names
        self.seen_classes_ = names[seen_idx]
        self.unseen_classes_ = names[~is_seen]
        self.classes_ = names[cand_idx]
        self._candidate_idx = cand_idx
        self._seen_mask = is_seen
        self._table_values = values
        return values[seen_idx]

    def _candidate_scores(self, X) -> np.ndarray:
        check_is_fitted(self)
        scores = self._raw_scores(X)[:, self._candidate_idx]
        if self.mode == "gzsl" and self.calibration:
            # Calibrated stacking (Chao et al., 2016): penalise the seen classes.
            scores = scores - self.calibration * self._seen_mask[self._candidate_idx]
        return scores

    def score(self, X, y, sample_weight=None) -> float:
        """Per-class mean accuracy, the standard zero-shot metric.

        Each class of ``y`` counts the same however many rows it has (see
        :func:`sktransfer.zero_shot.per_class_accuracy`); rows with
        ``y == -1`` are ignored. ``GridSearchCV`` uses it when no
        ``scoring`` is given.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Test rows.
        y : array-like of shape (n_samples,)
            Their true classes.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the rows within each class.

        Returns
        -------
        score : float
            Mean over the classes of ``y`` of the (weighted) accuracy of
            ``predict(X)`` on the rows of that class.
        """
        X, y, sample_weight = _labelled_rows(X, y, sample_weight)
        correct = self.predict(X) == y
        weights = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, float)
        return float(np.mean([
            np.average(correct[y == c], weights=weights[y == c]) for c in np.unique(y)
        ]))

    def decision_function(self, X) -> np.ndarray:
        """Scores of the candidate classes (calibrated stacking applied).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Rows to classify.

        Returns
        -------
        scores : ndarray of shape (n_samples, n_classes) or (n_samples,)
            One column per class of ``classes_``, higher meaning more likely;
            for two candidate classes, the score of the second minus that of
            the first (scikit-learn's binary convention).
        """
        scores = self._candidate_scores(X)
        if scores.shape[1] == 2:
            return scores[:, 1] - scores[:, 0]
        return scores

    def predict(self, X) -> np.ndarray:
        """Predict the most similar candidate class.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Rows to classify.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            Labels from ``classes_``: unseen classes only with ``mode="zsl"``,
            any class of the table with ``mode="gzsl"``.
        """
        scores = self._candidate_scores(X)
        return self.classes_[np.argmax(scores, axis=1)]


def _l2_normalize(a: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(a, axis=-1, keepdims=True)
    return a / np.maximum(norms, 1e-12)
