"""Shared helpers of :mod:`sktransfer.datasets`.

Data-folder resolution, reading of the benchmark ``.mat`` files and
:func:`mask_target_labels`.
"""

from __future__ import annotations

import numbers
import os
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike
from scipy.io import loadmat

from ..base import _check_sample_domain, _is_mark

DATA_HOME_ENV = "SKTRANSFER_DATA"
_DEFAULT_DATA_HOME = "~/sktransfer_data"


def get_data_home(data_home: str | os.PathLike | None = None) -> Path:
    """Return the folder that holds the benchmark data files.

    The folder is, in order of precedence: the ``data_home`` argument, the
    ``SKTRANSFER_DATA`` environment variable, ``~/sktransfer_data``. A ``~``
    in the path is expanded. The folder is neither created nor checked:
    sktransfer never downloads anything, the loaders raise
    :class:`FileNotFoundError` when a file is missing.

    Parameters
    ----------
    data_home : str or path-like, default=None
        Explicit data folder. ``None`` falls back on the environment
        variable, then on ``~/sktransfer_data``.

    Returns
    -------
    data_home : pathlib.Path
        The resolved data folder.

    Examples
    --------
    >>> from sktransfer.datasets import get_data_home
    >>> get_data_home("/tmp/my_data").as_posix()
    '/tmp/my_data'
    """
    if data_home is None:
        data_home = os.environ.get(DATA_HOME_ENV) or _DEFAULT_DATA_HOME
    return Path(data_home).expanduser()


def _check_file(path: Path, *, what: str, source: str, data_home: Path) -> None:
    """Raise a :class:`FileNotFoundError` naming ``path``, the dataset ``what``,
    its public ``source`` and how to choose the data folder, if ``path`` is absent."""
    if path.is_file():
        return
    folder_note = "" if data_home.is_dir() else f" (the data folder {data_home} does not exist)"
    raise FileNotFoundError(
        f"{what}: expected the file {path}, which was not found{folder_note}. "
        f"sktransfer downloads nothing: get the files from {source}, then put "
        f"them under {path.parent}. The data folder is chosen by the "
        f"`data_home` argument, else the {DATA_HOME_ENV} environment "
        f"variable, else {_DEFAULT_DATA_HOME}."
    )


def _read_mat(
    path: Path, keys: tuple[str, ...], *, what: str, source: str, data_home: Path
) -> dict[str, np.ndarray]:
    """Read the arrays ``keys`` from the MATLAB file ``path``.

    Raises a :class:`FileNotFoundError` naming the expected path, the dataset
    ``what``, its public ``source`` and how to choose the data folder when
    the file is absent, and a :class:`ValueError` when a key is missing.
    """
    _check_file(path, what=what, source=source, data_home=data_home)
    content = loadmat(path)
    missing = [key for key in keys if key not in content]
    if missing:
        raise ValueError(
            f"{what}: the file {path} lacks the variable(s) {missing}; "
            f"found {sorted(k for k in content if not k.startswith('__'))}."
        )
    return {key: np.asarray(content[key]) for key in keys}


def mask_target_labels(y: ArrayLike, sample_domain: ArrayLike) -> np.ndarray:
    """Hide the labels of the target rows.

    Returns a copy of ``y`` where the rows of the target domains
    (``sample_domain < 0``) are set to ``-1``, the library's marker for
    unlabelled rows, ready for ``fit(X, mask_target_labels(y, sample_domain))``.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Class labels of all rows: integers, or names (strings), which are
        returned in an object array beside the integer ``-1``. Unsigned
        integer labels are returned as ``int64`` so that ``-1`` can be stored.
    sample_domain : array-like of shape (n_samples,)
        Domain of each row: positive ids for source domains, negative ids for
        target domains.

    Returns
    -------
    y_masked : ndarray of shape (n_samples,)
        Copy of ``y`` with ``-1`` on the target rows.

    Raises
    ------
    TypeError
        If ``y`` holds neither integers nor names (e.g. floats), or
        ``sample_domain`` holds other than whole numbers (e.g. 1.5, NaN).
    ValueError
        If ``y`` and ``sample_domain`` are not 1-D arrays of the same length,
        ``sample_domain`` holds a ``0`` (ids need a sign), or ``y`` holds
        ``-1`` on a source row (a class ``-1`` would become unlabelled).

    Examples
    --------
    >>> from sktransfer.datasets import mask_target_labels
    >>> mask_target_labels([0, 1, 1, 0], [1, 1, -1, -1]).tolist()
    [0, 1, -1, -1]
    """
    y = np.asarray(y)
    sample_domain = np.asarray(sample_domain)
    if y.ndim != 1 or sample_domain.ndim != 1:
        raise ValueError(
            "y and sample_domain must be 1-D arrays, got shapes "
            f"{y.shape} and {sample_domain.shape}."
        )
    if y.shape[0] != sample_domain.shape[0]:
        raise ValueError(
            f"y and sample_domain have different lengths: {y.shape[0]} and "
            f"{sample_domain.shape[0]}."
        )
    if y.dtype == object and all(_is_int(v) for v in y):
        y = y.astype(np.int64)  # integers in an object array (e.g. a pandas object Series)
    names = y.dtype.kind in "US" or (
        y.dtype == object and all(isinstance(v, (str, bytes)) or _is_int(v) for v in y)
    )
    if not (names or np.issubdtype(y.dtype, np.integer)):
        raise TypeError(
            f"y has dtype {y.dtype}, but unlabelled rows are marked with -1 and "
            "need integer labels or class names: encode the labels first, e.g. with "
            "sklearn.preprocessing.LabelEncoder."
        )
    # the checks fit makes (integer ids, no 0), so a mistake shows here, not at fit
    sample_domain = _check_sample_domain(sample_domain, len(y), require_source=False)
    is_mark = np.array([_is_mark(v) for v in y], dtype=bool) if names else y == -1
    n_marked = int(np.count_nonzero(is_mark & (sample_domain >= 0)))
    if n_marked:
        raise ValueError(
            f"y holds -1 on {n_marked} source rows: sktransfer reads -1 as 'unlabelled', "
            "so those rows would lose their class. If -1 is a class (e.g. labels -1/+1), "
            "map the labels to 0, 1, ... first (e.g. with sklearn.preprocessing."
            "LabelEncoder); if those rows are meant to be unlabelled, mark the target "
            "rows yourself: np.where(sample_domain < 0, -1, y)."
        )
    if names:
        y_masked = y.astype(object)
    elif np.issubdtype(y.dtype, np.unsignedinteger):
        y_masked = y.astype(np.int64)
    else:
        y_masked = y.copy()
    y_masked[sample_domain < 0] = -1
    return y_masked


def _is_int(value) -> bool:
    """Whether ``value`` is an integer (not a bool)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)
