"""The small ConvNet for 16 x 16 digit images shared by the fine-tuning benchmarks.

Layer groups ``conv1``, ``conv2``, ``conv3``, ``fc1``, ``fc2`` and ``head``, so
that ``FineTuneClassifier`` can freeze or copy them by name. Imported by
``bench_fine_tune_usps.py`` and ``bench_fine_tune_yosinski.py`` (run from any
folder: a script's own folder is on ``sys.path``).
"""

from collections import OrderedDict

import torch
from torch import nn


def conv_net(seed: int, n_outputs: int = 10) -> nn.Sequential:
    """A freshly initialised network, its weights drawn from ``torch.manual_seed(seed)``."""
    torch.manual_seed(seed)
    return nn.Sequential(OrderedDict(
        unflatten=nn.Unflatten(1, (1, 16, 16)),
        conv1=nn.Sequential(nn.Conv2d(1, 16, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2)),
        conv2=nn.Sequential(nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)),
        conv3=nn.Sequential(nn.Conv2d(32, 32, 3, padding=1), nn.ReLU()),
        fc1=nn.Sequential(nn.Flatten(), nn.Linear(512, 128), nn.ReLU()),
        fc2=nn.Sequential(nn.Linear(128, 64), nn.ReLU()),
        head=nn.Linear(64, n_outputs),
    ))
