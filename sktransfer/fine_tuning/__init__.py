"""Fine-tuning a pretrained network (model fine-tuning, layer transfer).

Starting from a pretrained network (the bundled ImageNet CNN, any
``torch.nn.Module``, or a fitted sktransfer estimator or skorch net),
:class:`FineTuneClassifier` and :class:`FineTuneRegressor` replace its head to
fit the target task and train it on the target data, with the tools of
transfer between labelled tasks:

- layer transfer: freeze parameters by name pattern, the first or the last
  layer groups, or everything but the head;
- conservative training: parameter-close (L2-SP) and output-close
  (learning without forgetting) regularisation;
- ULMFiT's gradual unfreezing, discriminative and slanted triangular
  learning rates (:func:`slanted_triangular`);
- optionally, a source stage on labelled source rows in the same fit.
"""

from ._fine_tune import FineTuneClassifier, FineTuneRegressor
from ._schedules import slanted_triangular

__all__ = ["FineTuneClassifier", "FineTuneRegressor", "slanted_triangular"]
