"""Domain adaptation: a labelled source domain, an unlabelled target domain."""

from ._dann import DANNClassifier

__all__ = ["DANNClassifier"]
