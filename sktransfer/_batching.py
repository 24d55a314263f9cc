"""Batch iterators handed to skorch (``iterator_train`` / ``iterator_valid``).

Both index tensors directly instead of collating rows one by one, which keeps
skorch's per-batch overhead close to a hand-written loop's.
"""

from __future__ import annotations

import math

import numpy as np
import torch


def _as_tensor(data):
    if isinstance(data, torch.Tensor):
        return data
    return torch.as_tensor(np.ascontiguousarray(data))


def _refuse_unknown_options(options, prefix: str = "iterator") -> None:
    """A clear error for ``iterator_*__`` options these iterators do not have."""
    if options:
        raise TypeError(
            f"{prefix} options {sorted(options)} are not taken: sktransfer's batch "
            "iterators index tensors directly (no DataLoader, so no workers, samplers "
            "or collate functions); they take batch_size, shuffle and, for plain "
            "batches, drop_last"
        )


class BatchIterator:
    """Batches ``(X[idx], y[idx])`` of a skorch ``Dataset``.

    ``X`` may be an array or a dict of arrays (skorch passes a dict to the
    module as keyword arguments, e.g. ``{"x": X, "task": sample_task}``).
    In order by default (for inference); shuffled from torch's global RNG,
    which the estimators seed, when ``shuffle`` is true (for training).
    """

    #: The ``iterator_*__`` options it takes.
    options = ("batch_size", "shuffle", "drop_last")

    @classmethod
    def check_options(cls, options: dict, prefix: str) -> None:
        """Refuse, before training, ``prefix__*`` options it would fail on or ignore."""
        _refuse_unknown_options(set(options) - set(cls.options), prefix)

    def __init__(
        self, dataset, batch_size: int = 128, shuffle: bool = False, drop_last: bool = False,
        **unknown,
    ):
        _refuse_unknown_options(unknown)
        X = dataset.X
        self.X = {k: _as_tensor(v) for k, v in X.items()} if isinstance(X, dict) else _as_tensor(X)
        self.y = None if dataset.y is None else _as_tensor(dataset.y)
        first = next(iter(self.X.values())) if isinstance(self.X, dict) else self.X
        self.n = len(first)
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = bool(drop_last)

    def __len__(self) -> int:
        if self.drop_last:
            return self.n // self.batch_size
        return math.ceil(self.n / self.batch_size)

    def _take(self, idx):
        Xi = {k: v[idx] for k, v in self.X.items()} if isinstance(self.X, dict) else self.X[idx]
        return Xi, None if self.y is None else self.y[idx]

    def __iter__(self):
        order = torch.randperm(self.n) if self.shuffle else None
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            stop = start + self.batch_size
            yield self._take(slice(start, stop) if order is None else order[start:stop])


def n_domain_batches(n_source: int, n_target: int, batch_size: int) -> int:
    """Batches per epoch of :class:`DomainBatchIterator`."""
    if n_target == 0:
        return math.ceil(n_source / batch_size)
    half = max(batch_size // 2, 1)
    return math.ceil(max(n_source, n_target) / half)


class DomainBatchIterator:
    """Shuffled training batches that hold both source and target rows.

    ``dataset.y`` has two columns: the class index (``-1`` if unlabelled) and
    the domain flag (0 source, 1 target), and a third of sample weights when
    the fit has some (the array is then float32; the flag is read by value).
    Each batch holds ``batch_size // 2``
    source rows and as many target rows; an epoch is one pass over the larger
    domain, the smaller one being cycled through in fresh random orders. With
    no target rows, batches are plain shuffled batches of the source rows.
    Shuffling draws from torch's global RNG, which the estimators seed.
    """

    options = ("batch_size", "shuffle")

    @classmethod
    def check_options(cls, options: dict, prefix: str) -> None:
        """Refuse unknown options, and ``shuffle=False``, which it could not honour."""
        _refuse_unknown_options(set(options) - set(cls.options), prefix)
        if not options.get("shuffle", True):
            raise ValueError(
                f"{prefix}__shuffle=False is not possible: each training batch draws "
                "source and target rows at random (half of each), so the batches are "
                "always shuffled"
            )

    def __init__(self, dataset, batch_size: int = 64, shuffle: bool = True, **unknown):
        # batches are always shuffled; with target rows, always full
        _refuse_unknown_options(unknown)
        self.X = _as_tensor(dataset.X)
        self.y = _as_tensor(dataset.y)
        is_target = self.y[:, 1] == 1
        self.source = torch.nonzero(~is_target).flatten()
        self.target = torch.nonzero(is_target).flatten()
        self.batch_size = batch_size
        self.n_batches = n_domain_batches(len(self.source), len(self.target), batch_size)

    def __len__(self) -> int:
        return self.n_batches

    @staticmethod
    def _cycled_permutation(index: torch.Tensor, length: int) -> torch.Tensor:
        reps = math.ceil(length / len(index))
        return torch.cat([index[torch.randperm(len(index))] for _ in range(reps)])[:length]

    def __iter__(self):
        if len(self.target) == 0:
            order = self.source[torch.randperm(len(self.source))]
            for start in range(0, len(order), self.batch_size):
                idx = order[start : start + self.batch_size]
                yield self.X[idx], self.y[idx]
            return
        half = max(self.batch_size // 2, 1)
        length = self.n_batches * half
        src = self._cycled_permutation(self.source, length).view(self.n_batches, half)
        tgt = self._cycled_permutation(self.target, length).view(self.n_batches, half)
        for b in range(self.n_batches):
            idx = torch.cat([src[b], tgt[b]])
            yield self.X[idx], self.y[idx]
