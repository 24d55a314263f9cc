"""Domain adaptation: a labelled source domain, an unlabelled target domain.

Deep methods train a network on both domains (:class:`DANNClassifier`,
:class:`CDANClassifier`, :class:`DeepCORALClassifier`, :class:`DANClassifier`,
:class:`MCCClassifier`, :class:`MDDClassifier`);
shallow methods are transformers that align the domains before any
scikit-learn estimator (:class:`CORAL`, :class:`LinearOTMapping`, :class:`EntropicOTMapping`,
:class:`SubspaceAlignment`, :class:`GeodesicFlowKernel`, :class:`TransferComponentAnalysis`),
reweight the source rows
(:class:`ImportanceWeightedClassifier`), or learn a projection or a kernel classifier on both
domains in closed form (:class:`JDAClassifier`, :class:`MEDAClassifier`).
"""

from ._dann import DANNClassifier
from ._deep import CDANClassifier, DANClassifier, DeepCORALClassifier, MCCClassifier
from ._jda import JDAClassifier
from ._mdd import MDDClassifier
from ._meda import MEDAClassifier
from ._ot import EntropicOTMapping
from ._reweight import ImportanceWeightCollapseWarning, ImportanceWeightedClassifier
from ._shallow import (
    CORAL,
    GeodesicFlowKernel,
    LinearOTMapping,
    SubspaceAlignment,
    TransferComponentAnalysis,
)

__all__ = [
    "CORAL",
    "CDANClassifier",
    "DANClassifier",
    "DANNClassifier",
    "DeepCORALClassifier",
    "EntropicOTMapping",
    "GeodesicFlowKernel",
    "ImportanceWeightCollapseWarning",
    "ImportanceWeightedClassifier",
    "JDAClassifier",
    "LinearOTMapping",
    "MCCClassifier",
    "MDDClassifier",
    "MEDAClassifier",
    "SubspaceAlignment",
    "TransferComponentAnalysis",
]
