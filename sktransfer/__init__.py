"""sktransfer: transfer learning as scikit-learn estimators.

Trained with PyTorch and skorch underneath; every estimator goes in a
``Pipeline``, tunes with ``GridSearchCV`` and passes ``check_estimator``.
Unlabelled rows are ``y == -1``; domains are an optional, skada-compatible
``sample_domain`` (positive ids source, negative ids target).
"""

from .domain_adaptation import (
    CORAL,
    CDANClassifier,
    DANClassifier,
    DANNClassifier,
    DeepCORALClassifier,
    EntropicOTMapping,
    GeodesicFlowKernel,
    ImportanceWeightedClassifier,
    JDAClassifier,
    LinearOTMapping,
    MCCClassifier,
    MDDClassifier,
    MEDAClassifier,
    SubspaceAlignment,
    TransferComponentAnalysis,
)
from .feature_extraction import CNNFeatureExtractor
from .fine_tuning import FineTuneClassifier, FineTuneRegressor
from .model_selection import EnsembleValidationSearch
from .multitask import MultiTaskClassifier, ProgressiveNetClassifier
from .self_taught import LabelledOnly, SelfTaughtClustering, SelfTaughtTransformer
from .zero_shot import (
    AttributeZeroShotClassifier,
    ConSEClassifier,
    EmbeddingZeroShotClassifier,
    TextEmbedder,
)

__version__ = "0.1.0.dev0"

__all__ = [
    "AttributeZeroShotClassifier",
    "CDANClassifier",
    "CNNFeatureExtractor",
    "CORAL",
    "ConSEClassifier",
    "DANClassifier",
    "DANNClassifier",
    "DeepCORALClassifier",
    "EmbeddingZeroShotClassifier",
    "EnsembleValidationSearch",
    "EntropicOTMapping",
    "FineTuneClassifier",
    "FineTuneRegressor",
    "GeodesicFlowKernel",
    "ImportanceWeightedClassifier",
    "JDAClassifier",
    "LabelledOnly",
    "LinearOTMapping",
    "MCCClassifier",
    "MDDClassifier",
    "MEDAClassifier",
    "MultiTaskClassifier",
    "ProgressiveNetClassifier",
    "SelfTaughtClustering",
    "SelfTaughtTransformer",
    "SubspaceAlignment",
    "TextEmbedder",
    "TransferComponentAnalysis",
    "__version__",
]
