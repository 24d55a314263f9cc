"""Zero-shot learning: classify into classes never seen in training.

Each class, seen or unseen, is described by a row of a table (attributes or
word embeddings); the estimators learn from the seen classes how inputs
relate to descriptions, then predict among the unseen classes
(``mode="zsl"``) or among all classes (``mode="gzsl"``, with calibrated
stacking).
"""

from ._attribute import AttributeZeroShotClassifier
from ._conse import ConSEClassifier
from ._embedding import EmbeddingZeroShotClassifier
from ._metrics import harmonic_mean_accuracy, harmonic_mean_scorer, per_class_accuracy
from ._model_selection import UnseenClassSplit
from ._text import TextEmbedder

__all__ = [
    "AttributeZeroShotClassifier",
    "ConSEClassifier",
    "EmbeddingZeroShotClassifier",
    "TextEmbedder",
    "UnseenClassSplit",
    "harmonic_mean_accuracy",
    "harmonic_mean_scorer",
    "per_class_accuracy",
]
