"""Zero-shot metrics: per-class mean accuracy and the GZSL harmonic mean."""

from __future__ import annotations

import numpy as np
from sklearn.utils.validation import column_or_1d

__all__ = ["harmonic_mean_accuracy", "harmonic_mean_scorer", "per_class_accuracy"]


def per_class_accuracy(y_true, y_pred, *, labels=None) -> float:
    """Mean over classes of the accuracy within each class (the standard ZSL metric).

    Unlike plain accuracy, each class counts the same however many rows it
    has.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True classes.
    y_pred : array-like of shape (n_samples,)
        Predicted classes.
    labels : array-like, default=None
        The classes to average over; None means the classes of ``y_true``.
        Classes of ``labels`` absent from ``y_true`` are an error.

    Returns
    -------
    accuracy : float
        Mean per-class accuracy in [0, 1].

    Examples
    --------
    >>> from sktransfer.zero_shot import per_class_accuracy
    >>> per_class_accuracy(["a", "a", "a", "b"], ["a", "a", "a", "a"])
    0.5
    """
    y_true = column_or_1d(np.asarray(y_true))
    y_pred = column_or_1d(np.asarray(y_pred))
    if len(y_true) != len(y_pred):
        raise ValueError(
            f"y_true and y_pred have different lengths: {len(y_true)} and {len(y_pred)}"
        )
    if len(y_true) == 0:
        raise ValueError("y_true is empty")
    labels = np.unique(y_true) if labels is None else np.asarray(labels)
    scores = []
    for label in labels:
        rows = y_true == label
        if not rows.any():
            raise ValueError(f"class {label!r} of labels has no row in y_true")
        scores.append(np.mean(y_pred[rows] == label))
    return float(np.mean(scores))


def harmonic_mean_accuracy(y_true, y_pred, *, seen_classes) -> float:
    """Harmonic mean of the seen- and unseen-class accuracies (the GZSL metric).

    Each of the two accuracies is a per-class mean accuracy
    (:func:`per_class_accuracy`) over the rows whose true class is seen
    (resp. unseen); predictions range over all classes.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True classes; both seen and unseen classes must occur.
    y_pred : array-like of shape (n_samples,)
        Predicted classes.
    seen_classes : array-like
        The classes seen in training (e.g. ``clf.seen_classes_``).

    Returns
    -------
    h : float
        ``2 * acc_seen * acc_unseen / (acc_seen + acc_unseen)`` (0 if both are 0).

    Examples
    --------
    >>> from sktransfer.zero_shot import harmonic_mean_accuracy
    >>> harmonic_mean_accuracy([0, 0, 1, 1], [0, 0, 1, 0], seen_classes=[0])
    0.6666666666666666
    """
    y_true = column_or_1d(np.asarray(y_true))
    y_pred = column_or_1d(np.asarray(y_pred))
    seen = np.isin(y_true, np.asarray(seen_classes))
    if seen.all() or not seen.any():
        raise ValueError(
            "harmonic_mean_accuracy needs rows of both seen and unseen classes in "
            f"y_true; got {int(seen.sum())} seen and {int((~seen).sum())} unseen rows"
        )
    acc_s = per_class_accuracy(y_true[seen], y_pred[seen])
    acc_u = per_class_accuracy(y_true[~seen], y_pred[~seen])
    return 0.0 if acc_s + acc_u == 0 else float(2 * acc_s * acc_u / (acc_s + acc_u))


def harmonic_mean_scorer(estimator, X, y) -> float:
    """Scorer (``scoring=`` in ``GridSearchCV``) for the GZSL harmonic mean.

    Reads the seen classes from the fitted estimator (the last step of a
    ``Pipeline``), so that each cross-validation fold uses its own.

    Parameters
    ----------
    estimator : fitted zero-shot classifier or Pipeline ending in one
        Must have ``seen_classes_`` (``mode="gzsl"`` to predict seen classes).
    X : array-like of shape (n_samples, n_features)
        Validation rows, of seen and unseen classes.
    y : array-like of shape (n_samples,)
        Their classes.

    Returns
    -------
    h : float
        :func:`harmonic_mean_accuracy` of the predictions.

    Examples
    --------
    >>> import numpy as np
    >>> from sktransfer import EmbeddingZeroShotClassifier
    >>> from sktransfer.zero_shot import harmonic_mean_scorer
    >>> emb = np.eye(3)
    >>> clf = EmbeddingZeroShotClassifier(emb, method="eszsl", mode="gzsl")
    >>> clf = clf.fit(np.eye(3)[[0, 0, 1, 1]], [0, 0, 1, 1])
    >>> harmonic_mean_scorer(clf, np.eye(3), [0, 1, 2]) <= 1.0
    True
    """
    final = estimator[-1] if hasattr(estimator, "steps") else estimator
    return harmonic_mean_accuracy(y, estimator.predict(X), seen_classes=final.seen_classes_)
