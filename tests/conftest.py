"""Shared fixtures of the sktransfer tests.

The data fixtures are session-scoped and return read-only arrays, so that no
test can change what another one sees.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from skorch.callbacks import Callback

from sktransfer.datasets import make_rotated_moons, mask_target_labels


def _share_the_cores_between_workers() -> None:
    """Give each pytest-xdist worker its share of the cores, not all of them.

    torch, BLAS and OpenMP start one thread per core in every process: two
    workers on two cores would otherwise run four busy threads. The docs
    build and the gallery run in a subprocess, which inherits the variables.
    """
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if workers <= 1:
        return
    # the CPUs this process may run on, as xdist's -n auto counts them without psutil
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    threads = max(1, (cpus or 1) // workers)
    for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(variable, str(threads))
    from threadpoolctl import threadpool_limits

    threadpool_limits(threads)
    torch.set_num_threads(threads)


_share_the_cores_between_workers()


def pytest_collection_modifyitems(items):
    """Start the slowest tests first, so that the workers finish together."""
    slowest_first = ("test_docs.py", "test_tour.py")
    items.sort(key=lambda item: item.path.name not in slowest_first)


#: The benchmark data (``../shared/data`` next to the repository).
DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
#: Mark of the tests that read the benchmark data: skipped where it is absent.
needs_data = pytest.mark.skipif(
    not DATA.is_dir(),
    reason=f"benchmark data folder {DATA} (../shared/data next to the repo) is absent",
)


@pytest.fixture
def torch_refuses_read_only(monkeypatch):
    """Make ``torch.as_tensor`` / ``torch.from_numpy`` fail on a read-only array.

    torch shares an array's memory, cannot mark a tensor read-only, and warns
    (once per process) that writing to it is undefined: read-only input must
    reach torch as a writable copy. Checking for the warning itself would only
    see the first case of a session.
    """

    def refusing(make_tensor):
        def checked(data, *args, **kwargs):
            if isinstance(data, np.ndarray) and not data.flags.writeable:
                raise AssertionError("a tensor was made from a read-only array")
            return make_tensor(data, *args, **kwargs)

        return checked

    monkeypatch.setattr(torch, "as_tensor", refusing(torch.as_tensor))
    monkeypatch.setattr(torch, "from_numpy", refusing(torch.from_numpy))


def _read_only(*arrays):
    for array in arrays:
        array.setflags(write=False)


@dataclass(frozen=True)
class DAProblem:
    """A small domain-adaptation problem: source rows first, then target rows."""

    X: np.ndarray  # (n, n_features) float64
    y: np.ndarray  # true labels of every row
    y_train: np.ndarray  # labels with target rows masked as -1
    sample_domain: np.ndarray  # 1 source, -1 target

    @property
    def source(self) -> np.ndarray:
        return self.sample_domain > 0

    @property
    def target(self) -> np.ndarray:
        return self.sample_domain < 0


@pytest.fixture(scope="session")
def small_moons() -> DAProblem:
    """Rotated moons, 60 source + 60 target rows (fast to fit)."""
    X, y, sample_domain = make_rotated_moons(60, 60, angle=35, random_state=0)
    y_train = mask_target_labels(y, sample_domain)
    _read_only(X, y, y_train, sample_domain)
    return DAProblem(X, y, y_train, sample_domain)


@pytest.fixture(scope="session")
def unequal_moons() -> DAProblem:
    """Rotated moons with more source than target rows: 100 source + 60 target."""
    X, y, sample_domain = make_rotated_moons(100, 60, angle=35, random_state=1)
    y_train = mask_target_labels(y, sample_domain)
    _read_only(X, y, y_train, sample_domain)
    return DAProblem(X, y, y_train, sample_domain)


#: Parameters that make a DANNClassifier fit in a few hundredths of a second
#: on ``small_moons``; tests of behaviour other than accuracy use them.
FAST = {"max_epochs": 3, "batch_size": 32, "random_state": 0}


@pytest.fixture
def fast_params() -> dict:
    return dict(FAST)


def flatten_images_only(X):
    """A domain classifier's first step that takes images only (and flattens them)."""
    if X.ndim != 4:
        raise ValueError(f"expected images, got an array of {X.ndim} dimensions")
    return X.reshape(len(X), -1)


class NoTraining(Callback):
    """A skorch callback that fails the test if training ever starts.

    Bad input must be refused *before* training: a fit that raises the
    expected error with this callback attached never reached the training loop
    (an AssertionError would surface instead of the expected exception).
    """

    def on_train_begin(self, net, **kwargs):
        raise AssertionError("training started although the input was invalid")


class BatchRecorder(Callback):
    """Records, for every training batch, the class column and domain flag of ``y``.

    The estimator copies its callbacks at fit time; read the fitted copy with
    ``dict(estimator.net_.callbacks_)[name]``.
    """

    def initialize(self):
        self.labels = []
        self.domains = []
        return self

    def on_batch_begin(self, net, batch=None, training=False, **kwargs):
        if not training:
            return
        _, yi = batch
        yi = np.asarray(yi)
        self.labels.append(yi[:, 0].copy())
        self.domains.append(yi[:, 1].copy())


@pytest.fixture
def no_training():
    return NoTraining()
