"""Multitask learning and progressive neural networks.

Both use labelled data of several related tasks. :class:`MultiTaskClassifier`
trains shared layers and one head per task on all tasks at once;
:class:`ProgressiveNetClassifier` learns tasks one after the other, adding a
column per task and freezing the earlier ones.
"""

from ._multitask import MultiTaskClassifier
from ._progressive import ProgressiveNetClassifier

__all__ = ["MultiTaskClassifier", "ProgressiveNetClassifier"]
