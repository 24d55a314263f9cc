"""Batch iteration over inputs that may carry a task id per row.

skorch passes a dict ``X`` to the module as keyword arguments; these iterators
index tensors directly (no per-row collation), for plain arrays and for dicts
``{"x": X, "task": sample_task}`` alike.
"""

from __future__ import annotations

import math

import numpy as np
import torch


def _as_tensor(data):
    if isinstance(data, torch.Tensor):
        return data
    return torch.as_tensor(np.ascontiguousarray(data))


class _TaskBatchIterator:
    """Batches of a skorch ``Dataset`` whose ``X`` is an array or a dict of arrays.

    Shuffled (from torch's global RNG, which the estimators seed) when
    ``shuffle`` is true; in order otherwise.
    """

    def __init__(self, dataset, batch_size: int = 64, shuffle: bool = False, **_):
        X = dataset.X
        self.X = {k: _as_tensor(v) for k, v in X.items()} if isinstance(X, dict) else _as_tensor(X)
        self.y = None if dataset.y is None else _as_tensor(dataset.y)
        first = next(iter(self.X.values())) if isinstance(self.X, dict) else self.X
        self.n = len(first)
        self.batch_size = batch_size
        self.shuffle = shuffle

    def __len__(self) -> int:
        return math.ceil(self.n / self.batch_size)

    def _take(self, idx):
        if isinstance(self.X, dict):
            Xi = {k: v[idx] for k, v in self.X.items()}
        else:
            Xi = self.X[idx]
        return Xi, None if self.y is None else self.y[idx]

    def __iter__(self):
        if self.shuffle:
            order = torch.randperm(self.n)
            for start in range(0, self.n, self.batch_size):
                yield self._take(order[start : start + self.batch_size])
        else:
            for start in range(0, self.n, self.batch_size):
                yield self._take(slice(start, start + self.batch_size))


class _ShuffledTaskBatchIterator(_TaskBatchIterator):
    """:class:`_TaskBatchIterator` with shuffling on (for ``iterator_train``)."""

    def __init__(self, dataset, batch_size: int = 64, **kwargs):
        kwargs.pop("shuffle", None)
        super().__init__(dataset, batch_size=batch_size, shuffle=True, **kwargs)
