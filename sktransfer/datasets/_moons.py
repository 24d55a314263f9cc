"""The rotated two-moons toy problem of domain adaptation."""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.datasets import make_moons
from sklearn.utils import check_random_state

# Mean of the combined, noise-free two moons of ``sklearn.datasets.make_moons``
# (exact for an even number of points), which is also their centre of symmetry.
_MOONS_CENTER = np.array([0.5, 0.25])


def _check_positive_int(value, name: str) -> int:
    if (
        isinstance(value, (bool, np.bool_))
        or not isinstance(value, numbers.Integral)
        or value < 1
    ):
        raise ValueError(f"{name} must be a positive integer, got {value!r}.")
    return int(value)


def _rotation_matrix(angle: float) -> np.ndarray:
    theta = np.deg2rad(angle)
    cos, sin = np.cos(theta), np.sin(theta)
    return np.array([[cos, -sin], [sin, cos]])


def make_rotated_moons(
    n_source: int = 500,
    n_target: int = 500,
    *,
    angle: float = 35.0,
    noise: float = 0.1,
    random_state: int | np.random.RandomState | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Make the rotated two-moons domain-adaptation problem.

    The toy problem of the DANN paper (Ganin et al., JMLR 2016, section
    5.1.1). The source domain is a draw of :func:`sklearn.datasets.make_moons`
    (two interleaving half circles, classes 0 and 1). The target domain is a
    second, independent draw of the same moons rotated counter-clockwise by
    ``angle`` degrees about the point ``(0.5, 0.25)``: the mean of the
    combined noise-free moons, i.e. the centre of the source distribution
    (fixed, so that it does not depend on the draw).

    Parameters
    ----------
    n_source : int, default=500
        Number of source rows.
    n_target : int, default=500
        Number of target rows.
    angle : float, default=35.0
        Rotation of the target domain, in degrees, counter-clockwise.
    noise : float, default=0.1
        Standard deviation of the Gaussian noise added to both domains
        (``noise`` of :func:`~sklearn.datasets.make_moons`).
    random_state : int, RandomState instance or None, default=None
        Seed of the draws, for reproducible output.

    Returns
    -------
    X : ndarray of shape (n_source + n_target, 2)
        Coordinates, float64; source rows first.
    y : ndarray of shape (n_source + n_target,)
        True labels (0 or 1) of all rows, target rows included: hide the
        target ones with :func:`mask_target_labels` before fitting.
    sample_domain : ndarray of shape (n_source + n_target,)
        ``1`` for source rows, ``-1`` for target rows.

    Raises
    ------
    ValueError
        If ``n_source`` or ``n_target`` is not a positive integer, or if
        ``noise`` is negative.

    References
    ----------
    Y. Ganin et al., "Domain-Adversarial Training of Neural Networks",
    JMLR 17(59), 2016.

    Examples
    --------
    >>> from sktransfer.datasets import make_rotated_moons, mask_target_labels
    >>> X, y, sample_domain = make_rotated_moons(100, 50, random_state=0)
    >>> X.shape
    (150, 2)
    >>> sorted(set(sample_domain.tolist()))
    [-1, 1]
    >>> y_train = mask_target_labels(y, sample_domain)
    >>> int((y_train == -1).sum())
    50
    """
    n_source = _check_positive_int(n_source, "n_source")
    n_target = _check_positive_int(n_target, "n_target")
    if not isinstance(angle, numbers.Real) or not np.isfinite(angle):
        raise ValueError(f"angle must be a finite number of degrees, got {angle!r}.")
    if not isinstance(noise, numbers.Real) or not noise >= 0:
        raise ValueError(f"noise must be a number >= 0, got {noise!r}.")

    rng = check_random_state(random_state)
    X_source, y_source = make_moons(n_source, noise=noise, random_state=rng)
    X_target, y_target = make_moons(n_target, noise=noise, random_state=rng)
    rotation = _rotation_matrix(float(angle))
    X_target = (X_target - _MOONS_CENTER) @ rotation.T + _MOONS_CENTER

    X = np.vstack([X_source, X_target]).astype(np.float64, copy=False)
    y = np.concatenate([y_source, y_target]).astype(np.int64)
    sample_domain = np.concatenate(
        [np.ones(n_source, dtype=np.int64), -np.ones(n_target, dtype=np.int64)]
    )
    return X, y, sample_domain
