"""The Animals-with-Attributes class-attribute table (zero-shot learning)."""

from __future__ import annotations

import os

import numpy as np
from sklearn.utils import Bunch

from ._base import _check_file, get_data_home

_AWA_FOLDER = ("zsl", "awa_class_attributes")
_AWA_SOURCE = "the Animals with Attributes 2 release (https://cvml.ista.ac.at/AwA2/)"


def load_awa_attributes(
    *, data_home: str | os.PathLike | None = None, kind: str = "binary", as_frame: bool = False
) -> Bunch:
    """Load the class-attribute table of Animals with Attributes (AwA).

    50 animal classes described by 85 attributes (*black*, *stripes*,
    *hooves*, *swims*...), with the proposed split into 40 classes seen in
    training and 10 unseen ones (Lampert et al.). The images are not part of
    it: the table is the class description a zero-shot classifier needs
    (``class_attributes`` of :class:`~sktransfer.AttributeZeroShotClassifier`).
    Read from ``<data_home>/zsl/awa_class_attributes``; nothing is downloaded.

    Parameters
    ----------
    data_home : str or path-like, default=None
        The data folder (see :func:`get_data_home`).
    kind : {"binary", "continuous"}, default="binary"
        The 0/1 predicate matrix, or the continuous one (association
        strengths from 0 to 100).
    as_frame : bool, default=False
        Return ``table`` as a pandas DataFrame indexed by class name, with a
        column per attribute.

    Returns
    -------
    data : Bunch
        ``table`` (ndarray of shape (50, 85), or DataFrame), ``class_names``
        and ``attribute_names`` (ndarrays of str), ``seen_classes`` (40
        names) and ``unseen_classes`` (10 names).

    Raises
    ------
    FileNotFoundError
        If a file of the table is missing, naming it and its public source.

    References
    ----------
    C. H. Lampert, H. Nickisch and S. Harmeling. Attribute-Based
    Classification for Zero-Shot Visual Object Categorization. IEEE TPAMI
    36(3), 2014.

    Examples
    --------
    >>> from sktransfer.datasets import load_awa_attributes
    >>> awa = load_awa_attributes(data_home="../shared/data")  # doctest: +SKIP
    >>> awa.table.shape, len(awa.seen_classes), len(awa.unseen_classes)  # doctest: +SKIP
    ((50, 85), 40, 10)
    """
    if kind not in ("binary", "continuous"):
        raise ValueError(f"kind must be 'binary' or 'continuous', got {kind!r}")
    home = get_data_home(data_home)
    folder = home.joinpath(*_AWA_FOLDER)
    files = {
        "classes": "classes.txt",
        "predicates": "predicates.txt",
        "matrix": f"predicate-matrix-{kind}.txt",
        "seen": "trainvalclasses.txt",
        "unseen": "testclasses.txt",
    }
    for name in files.values():
        _check_file(folder / name, what="AwA class attributes", source=_AWA_SOURCE, data_home=home)

    def names(file):
        # "classes.txt" and "predicates.txt" are "<index>\t<name>" lines.
        lines = (folder / file).read_text().split("\n")
        return np.array([line.split()[-1] for line in lines if line.strip()])

    class_names = names(files["classes"])
    attribute_names = names(files["predicates"])
    table = np.loadtxt(folder / files["matrix"])
    if table.shape != (len(class_names), len(attribute_names)):
        raise ValueError(
            f"AwA class attributes: {files['matrix']} has shape {table.shape}, expected "
            f"({len(class_names)}, {len(attribute_names)}) (classes x attributes)"
        )
    seen, unseen = names(files["seen"]), names(files["unseen"])
    unknown = sorted(str(n) for n in (set(seen) | set(unseen)) - set(class_names))
    if unknown:
        raise ValueError(f"AwA class attributes: split names not in classes.txt: {unknown}")
    if as_frame:
        import pandas as pd

        table = pd.DataFrame(table, index=class_names, columns=attribute_names)
    return Bunch(
        table=table,
        class_names=class_names,
        attribute_names=attribute_names,
        seen_classes=seen,
        unseen_classes=unseen,
    )
