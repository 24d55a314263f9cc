"""Loaders of the real transfer-learning benchmarks.

The files are read from a local data folder (see :func:`get_data_home`);
nothing is downloaded.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.preprocessing import StandardScaler, normalize

from ._base import _read_mat, get_data_home

OFFICE_CALTECH_DOMAINS = ("amazon", "caltech", "dslr", "webcam")
MNIST_USPS_DOMAINS = ("mnist", "usps")
AMAZON_REVIEWS_DOMAINS = ("books", "dvd", "elec", "kitchen")

_PREPROCESSING = (None, "l1_zscore", "l2", "zscore")


@dataclass(frozen=True)
class _DatasetSpec:
    title: str
    folder: str
    files: dict[str, str]  # canonical domain name -> file name
    aliases: dict[str, str]  # lower-case accepted name -> canonical name
    label_offset: int  # subtracted from the stored labels
    n_classes: int
    source: str  # public origin of the files, for error messages


_DATASETS = {
    "office_caltech": _DatasetSpec(
        title="Office-Caltech10 SURF",
        folder="office_caltech10_surf",
        files={
            "amazon": "amazon_SURF_L10.mat",
            "caltech": "Caltech10_SURF_L10.mat",
            "dslr": "dslr_SURF_L10.mat",
            "webcam": "webcam_SURF_L10.mat",
        },
        aliases={
            "amazon": "amazon",
            "a": "amazon",
            "caltech": "caltech",
            "caltech10": "caltech",
            "c": "caltech",
            "dslr": "dslr",
            "d": "dslr",
            "webcam": "webcam",
            "w": "webcam",
        },
        label_offset=1,
        n_classes=10,
        source=(
            "the GFK data package (Gong et al., CVPR 2012), e.g. as bundled in "
            "https://github.com/VisionLearningGroup/CORAL "
            "(code/CORAL_Source_Code.zip)"
        ),
    ),
    "mnist_usps": _DatasetSpec(
        title="MNIST/USPS",
        folder="mnist_usps",
        files={"mnist": "MNIST.mat", "usps": "USPS.mat"},
        aliases={"mnist": "mnist", "usps": "usps"},
        # The stored labels 1..10 are the digits 0..9 plus one.
        label_offset=1,
        n_classes=10,
        source=(
            "the JDA benchmark files (Long et al., ICCV 2013), e.g. "
            "https://github.com/quanxl97/MDTL (data/MNIST_USPS/)"
        ),
    ),
    "amazon_reviews": _DatasetSpec(
        title="Amazon reviews (400-d)",
        folder="amazon_review_400",
        files={
            "books": "books_400.mat",
            "dvd": "dvd_400.mat",
            "elec": "elec_400.mat",
            "kitchen": "kitchen_400.mat",
        },
        aliases={
            "books": "books",
            "dvd": "dvd",
            "elec": "elec",
            "electronics": "elec",
            "kitchen": "kitchen",
        },
        label_offset=0,
        n_classes=2,
        source=(
            "the mSDA features (Chen et al., ICML 2012) as used by skada-bench, "
            "https://github.com/scikit-adaptation/skada-bench "
            "(data/amazon_review/)"
        ),
    ),
}


def _get_spec(dataset: str) -> _DatasetSpec:
    if not isinstance(dataset, str) or dataset not in _DATASETS:
        raise ValueError(
            f"Unknown dataset {dataset!r}; valid datasets are {sorted(_DATASETS)}."
        )
    return _DATASETS[dataset]


def _canonical_domain(spec: _DatasetSpec, domain: str) -> str:
    if isinstance(domain, str):
        name = spec.aliases.get(domain.strip().lower())
        if name is not None:
            return name
    raise ValueError(
        f"Unknown {spec.title} domain {domain!r}; valid domains are "
        f"{list(spec.files)} (case-insensitive, aliases: {sorted(spec.aliases)})."
    )


def _domain_list(spec: _DatasetSpec, domains, name: str) -> list[str]:
    if isinstance(domains, str):
        domains = [domains]
    elif not isinstance(domains, (Sequence, np.ndarray)):
        raise TypeError(
            f"{name} must be a domain name or a list of domain names, got {domains!r}."
        )
    if len(domains) == 0:
        raise ValueError(f"{name} must name at least one domain, got an empty list.")
    return [_canonical_domain(spec, domain) for domain in list(domains)]


def _check_preprocessing(preprocessing) -> None:
    if preprocessing not in _PREPROCESSING:
        raise ValueError(
            f"Unknown preprocessing {preprocessing!r}; valid choices are "
            f"{list(_PREPROCESSING)}."
        )


def _preprocess(X: np.ndarray, preprocessing: str | None) -> np.ndarray:
    """Preprocess the rows ``X`` of one domain."""
    if preprocessing == "l1_zscore":
        X = normalize(X, norm="l1")
    elif preprocessing == "l2":
        X = normalize(X, norm="l2")
    if preprocessing in ("l1_zscore", "zscore"):
        # Population std (ddof=0), like MATLAB's zscore(X, 1) used by the GFK
        # package; constant features are centred to 0 and not scaled.
        X = StandardScaler().fit_transform(X)
    return X


def load_domain(
    dataset: str, domain: str, *, data_home: str | os.PathLike | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Load the raw features and labels of one domain of a benchmark.

    Parameters
    ----------
    dataset : {"office_caltech", "mnist_usps", "amazon_reviews"}
        The benchmark.
    domain : str
        Name of the domain, e.g. ``"amazon"`` or ``"A"`` for Office-Caltech
        (see :func:`load_office_caltech`, :func:`load_mnist_usps` and
        :func:`load_amazon_reviews` for the names).
    data_home : str or path-like, default=None
        Data folder, see :func:`get_data_home`.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
        The stored features, unprocessed, as float64.
    y : ndarray of shape (n_samples,)
        Labels as int64 in ``0 .. n_classes - 1``: the stored labels minus one
        for Office-Caltech (1..10) and MNIST/USPS (stored 1..10 for the digits
        0..9, so that ``y`` is the digit), unchanged for Amazon reviews (0/1).

    Raises
    ------
    FileNotFoundError
        If the file of the domain is not in the data folder.
    ValueError
        If ``dataset`` or ``domain`` is unknown.

    Examples
    --------
    >>> from sktransfer.datasets import load_domain
    >>> X, y = load_domain("office_caltech", "dslr")  # doctest: +SKIP
    >>> X.shape, y.min(), y.max()  # doctest: +SKIP
    ((157, 800), 0, 9)
    """
    spec = _get_spec(dataset)
    domain = _canonical_domain(spec, domain)
    home = get_data_home(data_home)
    path = home / spec.folder / spec.files[domain]
    content = _read_mat(
        path,
        ("fts", "labels"),
        what=f"{spec.title} dataset, domain {domain!r}",
        source=spec.source,
        data_home=home,
    )
    X = np.asarray(content["fts"], dtype=np.float64)
    y = np.asarray(content["labels"]).ravel().astype(np.int64) - spec.label_offset
    if X.ndim != 2 or X.shape[0] != y.shape[0]:
        raise ValueError(
            f"{path}: fts of shape {X.shape} does not match {y.shape[0]} labels."
        )
    if y.size and (y.min() < 0 or y.max() >= spec.n_classes):
        raise ValueError(
            f"{path}: labels outside the expected range of {spec.title} "
            f"({spec.label_offset}..{spec.label_offset + spec.n_classes - 1})."
        )
    return X, y


def _load_pair(
    dataset: str, source, target, data_home, preprocessing
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    spec = _get_spec(dataset)
    _check_preprocessing(preprocessing)
    sources = _domain_list(spec, source, "source")
    targets = _domain_list(spec, target, "target")
    for name, domains in (("source", sources), ("target", targets)):
        repeated = sorted({d for d in domains if domains.count(d) > 1})
        if repeated:
            raise ValueError(f"Domain(s) {repeated} given more than once in {name}.")
    overlap = [d for d in sources if d in targets]
    if overlap:
        raise ValueError(
            f"Domain(s) {overlap} given both as source and as target; a domain "
            "is either a source or a target."
        )

    Xs, ys, domain_ids = [], [], []
    blocks = [(d, i + 1) for i, d in enumerate(sources)]
    blocks += [(d, -(i + 1)) for i, d in enumerate(targets)]
    for domain, domain_id in blocks:
        X, y = load_domain(dataset, domain, data_home=data_home)
        Xs.append(_preprocess(X, preprocessing))
        ys.append(y)
        domain_ids.append(np.full(y.shape[0], domain_id, dtype=np.int64))
    X = np.vstack(Xs).astype(np.float64, copy=False)
    return X, np.concatenate(ys), np.concatenate(domain_ids)


def load_office_caltech(
    source: str | Sequence[str],
    target: str | Sequence[str],
    *,
    data_home: str | os.PathLike | None = None,
    preprocessing: str | None = "l1_zscore",
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Load Office-Caltech10 (SURF features) as a domain-adaptation problem.

    The 10 classes shared by Amazon (958 images), Caltech-256 (1123), DSLR
    (157) and Webcam (295), described by 800-bin SURF bag-of-words
    histograms, as packaged with GFK (Gong et al., CVPR 2012). The files
    ``office_caltech10_surf/{amazon,Caltech10,dslr,webcam}_SURF_L10.mat``
    are expected in the data folder. Labels 1..10 become 0..9.

    With the default ``"l1_zscore"``, a 1-nearest-neighbour classifier fitted
    on the source rows reproduces the published 1NN accuracies on the
    target (e.g. 23.7% for C->A and 59.2% for W->D).

    Parameters
    ----------
    source : str or list of str
        Source domain(s) among ``"amazon"``, ``"caltech"``, ``"dslr"`` and
        ``"webcam"`` (case-insensitive; or ``"A"``, ``"C"``, ``"D"``,
        ``"W"``). Source domain ``i`` (in the order given, from 0) gets the
        id ``i + 1`` in ``sample_domain``.
    target : str or list of str
        Target domain(s), disjoint from ``source``. Target domain ``i`` gets
        the id ``-(i + 1)``.
    data_home : str or path-like, default=None
        Data folder: this argument, else the ``SKTRANSFER_DATA`` environment
        variable, else ``~/sktransfer_data`` (see :func:`get_data_home`).
    preprocessing : {None, "l1_zscore", "l2", "zscore"}, default="l1_zscore"
        ``None`` keeps the stored counts; ``"l1_zscore"`` L1-normalises each
        row, then z-scores each feature within each domain separately (the
        GFK protocol); ``"l2"`` L2-normalises each row; ``"zscore"``
        z-scores each feature within each domain. The z-score divides by the
        population standard deviation (``ddof=0``); constant features are
        only centred.

    Returns
    -------
    X : ndarray of shape (n_samples, 800)
        Features as float64: the rows of the source domains first, then
        those of the target domains, each in the order given.
    y : ndarray of shape (n_samples,)
        True int64 labels (0..9) of all rows, target rows included: hide the
        target ones with :func:`mask_target_labels` before fitting.
    sample_domain : ndarray of shape (n_samples,)
        Domain id of each row: ``1, 2, ...`` for the sources, ``-1, -2, ...``
        for the targets.

    Raises
    ------
    FileNotFoundError
        If a file is not in the data folder; the message gives the expected
        path and where the files come from.
    ValueError
        If a domain name is unknown, a domain is given twice (or both as
        source and target), a list of domains is empty, or ``preprocessing``
        is not a valid choice.

    References
    ----------
    B. Gong, Y. Shi, F. Sha and K. Grauman, "Geodesic Flow Kernel for
    Unsupervised Domain Adaptation", CVPR 2012.

    Examples
    --------
    >>> from sktransfer.datasets import load_office_caltech, mask_target_labels
    >>> X, y, sample_domain = load_office_caltech("C", "A")  # doctest: +SKIP
    >>> X.shape  # doctest: +SKIP
    (2081, 800)
    >>> y_train = mask_target_labels(y, sample_domain)  # doctest: +SKIP
    """
    return _load_pair("office_caltech", source, target, data_home, preprocessing)


def load_mnist_usps(
    source: str | Sequence[str],
    target: str | Sequence[str],
    *,
    data_home: str | os.PathLike | None = None,
    preprocessing: str | None = "l2",
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Load the MNIST/USPS digits as a domain-adaptation problem.

    2000 MNIST and 1800 USPS digits as 16x16 grey images flattened row by
    row to 256 values in [0, 1], the files used by JDA (Long et al., ICCV
    2013). The files ``mnist_usps/MNIST.mat`` and ``mnist_usps/USPS.mat`` are
    expected in the data folder. The stored labels 1..10 are the digits
    0..9 plus one; ``y`` is the digit itself.

    With the default ``"l2"``, a 1-nearest-neighbour classifier fitted on the
    source rows reproduces the published 1NN accuracies on the target
    (44.7% for USPS->MNIST, 65.9% for MNIST->USPS).

    Parameters
    ----------
    source : str or list of str
        Source domain(s) among ``"mnist"`` and ``"usps"`` (case-insensitive).
        Source domain ``i`` (in the order given, from 0) gets the id
        ``i + 1`` in ``sample_domain``.
    target : str or list of str
        Target domain(s), disjoint from ``source``. Target domain ``i`` gets
        the id ``-(i + 1)``.
    data_home : str or path-like, default=None
        Data folder: this argument, else the ``SKTRANSFER_DATA`` environment
        variable, else ``~/sktransfer_data`` (see :func:`get_data_home`).
    preprocessing : {None, "l1_zscore", "l2", "zscore"}, default="l2"
        ``None`` keeps the stored pixels; ``"l1_zscore"`` L1-normalises each
        row, then z-scores each feature within each domain separately;
        ``"l2"`` L2-normalises each row; ``"zscore"`` z-scores each feature
        within each domain. The z-score divides by the population standard
        deviation (``ddof=0``); constant features are only centred.

    Returns
    -------
    X : ndarray of shape (n_samples, 256)
        Features as float64: the rows of the source domains first, then
        those of the target domains, each in the order given.
    y : ndarray of shape (n_samples,)
        True int64 labels (the digits 0..9) of all rows, target rows
        included: hide the target ones with :func:`mask_target_labels` before
        fitting.
    sample_domain : ndarray of shape (n_samples,)
        Domain id of each row: ``1`` (``2``) for the sources, ``-1`` (``-2``)
        for the targets.

    Raises
    ------
    FileNotFoundError
        If a file is not in the data folder; the message gives the expected
        path and where the files come from.
    ValueError
        If a domain name is unknown, a domain is given twice (or both as
        source and target), a list of domains is empty, or ``preprocessing``
        is not a valid choice.

    References
    ----------
    M. Long, J. Wang, G. Ding, J. Sun and P. S. Yu, "Transfer Feature
    Learning with Joint Distribution Adaptation", ICCV 2013.

    Examples
    --------
    >>> from sktransfer.datasets import load_mnist_usps
    >>> X, y, sample_domain = load_mnist_usps("usps", "mnist")  # doctest: +SKIP
    >>> X.shape  # doctest: +SKIP
    (3800, 256)
    """
    return _load_pair("mnist_usps", source, target, data_home, preprocessing)


def load_amazon_reviews(
    source: str | Sequence[str],
    target: str | Sequence[str],
    *,
    data_home: str | os.PathLike | None = None,
    preprocessing: str | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Load the Amazon product reviews (400-d) as a domain-adaptation problem.

    Sentiment (0 negative, 1 positive) of about 2000 reviews in each of four
    product categories (Blitzer et al., 2007), as the 400-d features in
    [0, 1] of mSDA (Chen et al., ICML 2012) used by skada-bench. The files
    ``amazon_review_400/{books,dvd,elec,kitchen}_400.mat`` are expected in
    the data folder.

    Parameters
    ----------
    source : str or list of str
        Source domain(s) among ``"books"``, ``"dvd"``, ``"elec"`` (or
        ``"electronics"``) and ``"kitchen"`` (case-insensitive). Source
        domain ``i`` (in the order given, from 0) gets the id ``i + 1`` in
        ``sample_domain``.
    target : str or list of str
        Target domain(s), disjoint from ``source``. Target domain ``i`` gets
        the id ``-(i + 1)``.
    data_home : str or path-like, default=None
        Data folder: this argument, else the ``SKTRANSFER_DATA`` environment
        variable, else ``~/sktransfer_data`` (see :func:`get_data_home`).
    preprocessing : {None, "l1_zscore", "l2", "zscore"}, default=None
        ``None`` keeps the stored features; ``"l1_zscore"`` L1-normalises each
        row, then z-scores each feature within each domain separately;
        ``"l2"`` L2-normalises each row; ``"zscore"`` z-scores each feature
        within each domain. The z-score divides by the population standard
        deviation (``ddof=0``); constant features are only centred.

    Returns
    -------
    X : ndarray of shape (n_samples, 400)
        Features as float64: the rows of the source domains first, then
        those of the target domains, each in the order given.
    y : ndarray of shape (n_samples,)
        True int64 labels (0 negative, 1 positive) of all rows, target rows
        included: hide the target ones with :func:`mask_target_labels`
        before fitting.
    sample_domain : ndarray of shape (n_samples,)
        Domain id of each row: ``1, 2, ...`` for the sources, ``-1, -2, ...``
        for the targets.

    Raises
    ------
    FileNotFoundError
        If a file is not in the data folder; the message gives the expected
        path and where the files come from.
    ValueError
        If a domain name is unknown, a domain is given twice (or both as
        source and target), a list of domains is empty, or ``preprocessing``
        is not a valid choice.

    References
    ----------
    M. Chen, Z. Xu, K. Weinberger and F. Sha, "Marginalized Denoising
    Autoencoders for Domain Adaptation", ICML 2012.

    Examples
    --------
    >>> from sktransfer.datasets import load_amazon_reviews
    >>> X, y, sample_domain = load_amazon_reviews(  # doctest: +SKIP
    ...     ["books", "dvd"], ["kitchen", "elec"]
    ... )
    >>> sorted(set(sample_domain.tolist()))  # doctest: +SKIP
    [-2, -1, 1, 2]
    """
    return _load_pair("amazon_reviews", source, target, data_home, preprocessing)
