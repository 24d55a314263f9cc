"""Model selection for domain adaptation, without target labels.

:class:`SourceKFold` folds the labelled source rows and keeps every target
row in every fold; the scorers estimate how well a model does on the target
domain from labelled source rows and unlabelled target rows, for
``GridSearchCV(cv=SourceKFold(), scoring=...)``. :class:`EnsembleValidationSearch`
is a search of its own: it needs the predictions of every candidate at once.
"""

from ._scorers import (
    average_thresholded_confidence_scorer,
    batch_nuclear_norm_scorer,
    circular_validation_scorer,
    class_cluster_ami_scorer,
    deep_embedded_validation_scorer,
    importance_weighted_scorer,
    information_maximization_scorer,
    matrix_norm_scorer,
    mixed_sample_scorer,
    prediction_entropy_scorer,
    soft_neighborhood_density_scorer,
)
from ._search import EnsembleValidationSearch
from ._split import SourceKFold

__all__ = [
    "EnsembleValidationSearch",
    "SourceKFold",
    "average_thresholded_confidence_scorer",
    "batch_nuclear_norm_scorer",
    "circular_validation_scorer",
    "class_cluster_ami_scorer",
    "deep_embedded_validation_scorer",
    "importance_weighted_scorer",
    "information_maximization_scorer",
    "matrix_norm_scorer",
    "mixed_sample_scorer",
    "prediction_entropy_scorer",
    "soft_neighborhood_density_scorer",
]
