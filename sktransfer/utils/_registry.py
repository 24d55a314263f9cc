"""Discovery of sktransfer's public estimators."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

from sklearn.base import BaseEstimator


def all_estimators() -> list[tuple[str, type]]:
    """All public estimators of sktransfer, sorted by name.

    Every public module of the package is imported and searched for public
    classes derived from ``sklearn.base.BaseEstimator``, so no estimator can be
    left out of the conformance tests by forgetting to list it.

    Returns
    -------
    estimators : list of (name, class) tuples
        Each public estimator class with its name.

    Examples
    --------
    >>> from sktransfer.utils import all_estimators
    >>> "DANNClassifier" in dict(all_estimators())
    True
    """
    import sktransfer

    found: dict[str, type] = {}
    modules = [sktransfer] + [
        importlib.import_module(info.name)
        for info in pkgutil.walk_packages(sktransfer.__path__, prefix="sktransfer.")
        if not any(part.startswith("_") for part in info.name.split(".")[1:])
        and not info.name.endswith(".tour")
    ]
    for module in modules:
        for name, obj in inspect.getmembers(module, inspect.isclass):
            if (
                issubclass(obj, BaseEstimator)
                and not name.startswith("_")
                and obj.__module__.startswith("sktransfer.")
                and not inspect.isabstract(obj)
                and name not in ("TransferNetBase",)
            ):
                found[name] = obj
    return sorted(found.items())
