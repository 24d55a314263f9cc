"""Self-taught learning and self-taught clustering.

Transfer from unlabelled data that need not share the target's classes or
distribution: :class:`SelfTaughtTransformer` learns a representation (sparse
codes, or an autoencoder's hidden layer) from it, :class:`LabelledOnly` fits
the final classifier of a pipeline on the labelled rows only, and
:class:`SelfTaughtClustering` co-clusters a small target set with a large
auxiliary set through shared feature clusters.
"""

from ._clustering import SelfTaughtClustering
from ._labelled import LabelledOnly
from ._transformer import SelfTaughtTransformer

__all__ = ["LabelledOnly", "SelfTaughtClustering", "SelfTaughtTransformer"]
