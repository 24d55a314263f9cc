"""Utilities: the registry of public estimators."""

from ._registry import all_estimators

__all__ = ["all_estimators"]
