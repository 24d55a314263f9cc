"""The machinery every sktransfer estimator shares.

:class:`TransferNetBase` is a plain scikit-learn estimator that validates the
data, then builds and trains a skorch net (``net_``) by composition. It holds,
in one place:

- ``<name>__*`` keyword parameters for modules, the optimiser and the
  iterators (skorch's convention), visible to ``get_params``/``set_params`` so
  that ``clone`` and ``GridSearchCV`` see them;
- the ``y == -1`` convention for unlabelled rows and the optional,
  skada-compatible ``sample_domain`` (positive ids: source domains, negative
  ids: target domains);
- building a module from a class plus parameters, or deep-copying an instance;
- seeding from ``random_state`` without touching the global torch RNG;
- checking ``device`` before any training starts;
- stopping a fit whose training loss stops being finite (it diverged);
- running a fitted network over data in batches.
"""

from __future__ import annotations

import copy
import functools
import inspect
import math
import numbers
import warnings
from collections import Counter
from collections.abc import Callable
from typing import ClassVar

import numpy as np
import scipy.sparse as sp
import torch
from sklearn import get_config
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import _safe_indexing, check_random_state
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    _num_samples,
    check_consistent_length,
    check_is_fitted,
    column_or_1d,
    validate_data,
)
from skorch.callbacks import (
    BatchScoring,
    Callback,
    EpochScoring,
    LRScheduler,
    ProgressBar,
)
from torch import nn

from ._batching import BatchIterator

__all__ = ["TransferNetBase", "UNLABELLED"]

#: The label that marks an unlabelled row (scikit-learn's semi-supervised convention).
UNLABELLED = -1


class TransferNetBase(BaseEstimator):
    """Base class of the sktransfer estimators that train a network with skorch.

    Subclasses define an explicit ``__init__`` that stores every parameter
    untouched and passes ``**kwargs`` to :meth:`_store_kwargs`; they name the
    parameters that hold modules in ``_module_params``. Keyword parameters
    ``<prefix>__<name>`` are accepted for those modules and for
    ``_net_prefixes`` (handed to the skorch net: ``optimizer__momentum``,
    ``iterator_train__drop_last`` and so on).
    """

    #: Parameters holding a module class or instance (each takes ``<name>__*``).
    _module_params: tuple[str, ...] = ("module",)
    #: Prefixes of ``<prefix>__*`` parameters handed on to the skorch net.
    _net_prefixes: tuple[str, ...] = (
        "optimizer",
        "iterator_train",
        "iterator_valid",
        "callbacks",
    )
    #: History keys the per-epoch log leaves out (with verbose > 0), e.g. lists.
    _history_keys_not_printed: tuple[str, ...] = ()
    #: The net's training and prediction batch iterators (None: skorch's DataLoader).
    _iterator_train_class: type | None = BatchIterator
    _iterator_valid_class: type | None = BatchIterator

    # ------------------------------------------------------------------
    # parameters
    # ------------------------------------------------------------------
    def _store_kwargs(self, kwargs: dict) -> None:
        """Store extra keyword parameters; :meth:`_check_prefixed_params` vets them in fit.

        (Not here: scikit-learn's conventions keep ``__init__`` and
        ``set_params`` free of validation, and ``check_estimator`` checks it.)
        """
        names = set(self.__dict__.get("_kwarg_names", ()))
        for key, value in kwargs.items():
            setattr(self, key, value)
            names.add(key)
        self._kwarg_names = tuple(sorted(names))

    def _prefixed_param_names(self) -> tuple[str, ...]:
        return self.__dict__.get("_kwarg_names", ())

    def _known_prefixes(self) -> tuple[str, ...]:
        return self._module_params + self._net_prefixes

    def get_params(self, deep: bool = True) -> dict:
        params = super().get_params(deep=deep)
        for key in self._prefixed_param_names():
            params[key] = getattr(self, key)
        return params

    def set_params(self, **params):
        # Named parameters (and nested parameters of named estimators) go through
        # scikit-learn; ``<prefix>__*`` and any other key is stored as a keyword
        # parameter, exactly as __init__ does, and checked by fit.
        named = set(super().get_params(deep=False))
        nested = named - set(self._known_prefixes())

        def goes_to_sklearn(key):
            return key in named if "__" not in key else key.split("__", 1)[0] in nested

        extra = {k: params.pop(k) for k in list(params) if not goes_to_sklearn(k)}
        super().set_params(**params)
        self._store_kwargs(extra)
        return self

    def _check_prefixed_params(self) -> None:
        for key in self._prefixed_param_names():
            if "__" not in key or key.split("__", 1)[0] not in self._known_prefixes():
                raise TypeError(
                    f"{type(self).__name__} got an unexpected keyword argument "
                    f"{key!r}; keyword parameters must start with one of "
                    f"{', '.join(p + '__' for p in self._known_prefixes())}"
                )

    def _params_for(self, prefix: str) -> dict:
        start = prefix + "__"
        return {
            k[len(start) :]: getattr(self, k)
            for k in self._prefixed_param_names()
            if k.startswith(start)
        }

    def _train_batch_size(self) -> tuple[str, int]:
        """The training batch size in use and the parameter that sets it.

        ``iterator_train__batch_size``, when given, overrides ``batch_size``
        (as in skorch).
        """
        override = self._params_for("iterator_train")
        if "batch_size" in override:
            return "iterator_train__batch_size", override["batch_size"]
        return "batch_size", self.batch_size

    def _batches_per_epoch(self, n_rows: int) -> int:
        """Training batches per epoch of :class:`~sktransfer._batching.BatchIterator`."""
        _, batch_size = self._train_batch_size()
        if self._params_for("iterator_train").get("drop_last", False):
            return n_rows // batch_size
        return math.ceil(n_rows / batch_size)

    # ------------------------------------------------------------------
    # validation
    # ------------------------------------------------------------------
    def _check_common_params(self) -> None:
        """Validate the parameters every net estimator has, before training."""
        self._check_prefixed_params()
        batch_overrides = [
            name
            for name in self._prefixed_param_names()
            if name in ("iterator_train__batch_size", "iterator_valid__batch_size")
        ]
        _check_positive_ints(self, ("max_epochs", "batch_size", *batch_overrides))
        valid = self._params_for("iterator_valid")
        for option, what in (("drop_last", "drop rows from"), ("shuffle", "reorder the rows of")):
            if valid.get(option, False):
                raise ValueError(
                    f"iterator_valid__{option} would {what} predictions; {option} is for "
                    f"training batches (iterator_train__{option})"
                )
        for prefix in ("iterator_train", "iterator_valid"):
            iterator = getattr(self, f"_{prefix}_class")
            if iterator is not None:
                iterator.check_options(self._params_for(prefix), prefix)
        if not (_is_finite_real(self.lr) and self.lr > 0):
            raise ValueError(f"lr must be a positive finite number, got {self.lr!r}")
        if not (isinstance(self.optimizer, type) and issubclass(self.optimizer, torch.optim.Optimizer)):
            raise TypeError(
                f"optimizer must be a torch.optim.Optimizer class, got {self.optimizer!r}"
            )
        self._device()

    def _device(self) -> torch.device:
        """The requested device; a clear error if it does not exist here."""
        return _check_device(self.device)

    def _validate_X(self, X, *, reset: bool):
        return validate_data(
            self,
            X,
            reset=reset,
            dtype=np.float32,
            allow_nd=True,
            ensure_min_samples=1 if not reset else 2,
            force_writeable=True,
        )

    def _validate_training_data(self, X, y, sample_domain=None):
        """Validate ``X, y, sample_domain`` for a semi-supervised transfer fit.

        Sets ``classes_`` and ``n_features_in_``.

        Returns
        -------
        X : ndarray of float32
        y_encoded : ndarray of int64
            Class indices into ``classes_``; ``-1`` for unlabelled rows.
        is_target : ndarray of bool
            True for rows of target domains.
        """
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is None"
            )
        _reject_nan_labels(y)
        X, y = validate_data(
            self,
            X,
            y,
            dtype=np.float32,
            allow_nd=True,
            ensure_min_samples=2,
            y_numeric=False,
            force_writeable=True,
        )
        y = column_or_1d(y, warn=True)
        labelled = _labelled_mask(y)
        if not labelled.any():
            raise ValueError(
                "y has no labelled rows: every row is -1 (unlabelled). At least "
                "some rows need a class label to train a classifier."
            )
        y_labelled = _labels_of(y[labelled])
        check_classification_targets(y_labelled)
        encoder = LabelEncoder().fit(y_labelled)
        self.classes_ = encoder.classes_
        if len(self.classes_) < 2:
            raise _one_class_error(
                f"{type(self).__name__} needs at least two classes in the labelled rows of y",
                self.classes_[0], marked=not labelled.all(),
            )
        y_encoded = np.full(len(y), UNLABELLED, dtype=np.int64)
        y_encoded[labelled] = encoder.transform(y_labelled)

        if sample_domain is None:
            is_target = ~labelled
        else:
            sample_domain = _check_sample_domain(sample_domain, len(y))
            is_target = sample_domain < 0
            _refuse_unlabelled_source_rows(labelled, is_target)
        return X, y_encoded, is_target

    # ------------------------------------------------------------------
    # modules, seeding, prediction
    # ------------------------------------------------------------------
    def _build_module(
        self,
        name: str,
        default: type | None = None,
        default_params: dict | None = None,
        **injected,
    ) -> nn.Module:
        """Instantiate parameter ``name``: a module class (with ``name__*``
        parameters) or an ``nn.Module`` instance, deep-copied.

        If the parameter is None, ``default`` is built with ``default_params``
        under the user's ``name__*`` parameters. ``injected`` values taken from
        the data (e.g. ``n_features_in``) are passed to a class only when its
        signature accepts them and the user did not set them.
        """
        spec = getattr(self, name)
        kwargs = self._params_for(name)
        if spec is None:
            spec = default
            kwargs = {**(default_params or {}), **kwargs}
        return _build_from_spec(spec, name, kwargs, **injected)

    def _seed(self) -> int:
        """A torch seed drawn from ``random_state`` (fresh each call if None)."""
        return int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))

    def __sklearn_is_fitted__(self) -> bool:
        # Fitted means trained: a fit refused after validating the data leaves
        # no net behind, even though it may have set classes_ on the way.
        return hasattr(self, "net_")

    def _rng_context(self):
        """A context that seeds torch and restores the global RNG on exit."""
        devices = []
        if self._device().type == "cuda":
            devices = [self._device().index or 0]
        return _SeededRNG(self._seed(), devices)

    def _lr_schedule_in_use(self) -> str | None:
        """The built-in schedule that sets the learning rate every batch, if any."""
        return None

    def _user_callbacks(self, own_names=()) -> list:
        """Copies of the user's callbacks, refused where they could not work here.

        ``own_names`` are the names of the estimator's own callbacks.
        """
        # skorch initialises (mutates) callbacks: give it copies, as clone would.
        callbacks = copy.deepcopy(list(self.callbacks or []))
        overrides = self._params_for("callbacks")
        schedule = self._lr_schedule_in_use()
        for name, callback in _named_callbacks(callbacks):
            kind = _callback_class(callback)
            if name in own_names:
                raise ValueError(
                    f"the callback name {name!r} is taken by {type(self).__name__}'s own "
                    "callback; give yours another name, e.g. callbacks=[('my_name', cb)]"
                )
            monitor = overrides.get(f"{name}__monitor", _callback_param(callback, "monitor"))
            if isinstance(monitor, str) and monitor in _VALIDATION_KEYS:
                raise ValueError(
                    f"{kind.__name__}(monitor={monitor!r}) watches a validation "
                    f"score, but {type(self).__name__} trains on all the rows it is given "
                    "(no validation split), so there is none. Monitor the training loss "
                    "(monitor='train_loss'), or hold rows out yourself and compare fits "
                    "with scikit-learn's tools (GridSearchCV, cross_validate)."
                )
            if issubclass(kind, (EpochScoring, BatchScoring)):
                raise TypeError(
                    f"{kind.__name__} scores the inner skorch net, whose outputs (class "
                    f"scores) and targets are not {type(self).__name__}'s predictions and "
                    "labels, and with no validation split it has nothing to score at "
                    "validation time. The training loss is recorded every epoch "
                    "(net_.history[:, 'train_loss']); score the fitted estimator with "
                    "scikit-learn's tools (cross_validate, GridSearchCV)."
                )
            if issubclass(kind, LRScheduler) and schedule is not None:
                raise ValueError(
                    f"{schedule} sets the learning rate at every batch and would undo "
                    f"{kind.__name__}'s changes; use one or the other (lr_schedule="
                    "'constant' with your own LRScheduler)"
                )
        return callbacks

    def _net_params(
        self, callbacks=(), optimizer_defaults: dict | None = None, batches_per_epoch=None
    ) -> dict:
        """Keyword arguments for a skorch net, common to every estimator.

        The estimator's own callbacks come first, then copies of the user's;
        ``<prefix>__*`` parameters are passed on (``optimizer_defaults`` fill
        ``optimizer__*`` values the user did not set). Training batches are
        shuffled (from the seeded torch RNG). No validation split, so no
        ``valid_loss``; when silent, no ``PrintLog`` (it formats a table every
        epoch even when it prints nothing), else one that leaves out
        ``_history_keys_not_printed``. ``batches_per_epoch`` (when the
        training iterator's count differs from skorch's ``len(X) /
        batch_size``) is given to the user's ``ProgressBar`` left at "auto".
        """
        params = {
            f"{prefix}__{key}": value
            for prefix in self._net_prefixes
            for key, value in self._params_for(prefix).items()
        }
        for key, value in (optimizer_defaults or {}).items():
            params.setdefault(f"optimizer__{key}", value)
        params.setdefault("iterator_train__shuffle", True)
        params.setdefault("callbacks__valid_loss", None)
        if not self.verbose:
            params.setdefault("callbacks__print_log", None)
        elif self._history_keys_not_printed:
            params.setdefault(
                "callbacks__print_log__keys_ignored", list(self._history_keys_not_printed)
            )
        own = [("finite_loss", _RaiseOnNonFiniteLoss(type(self).__name__)), *callbacks]
        user = self._user_callbacks(own_names={name for name, _ in own})
        for name, callback in _named_callbacks(user):
            if (
                batches_per_epoch is not None
                and issubclass(_callback_class(callback), ProgressBar)
                and _callback_param(callback, "batches_per_epoch") == "auto"
            ):
                params.setdefault(f"callbacks__{name}__batches_per_epoch", batches_per_epoch)
        iterators = {
            prefix: getattr(self, f"_{prefix}_class")
            for prefix in ("iterator_train", "iterator_valid")
            if getattr(self, f"_{prefix}_class") is not None
        }
        return {
            **iterators,
            "optimizer": self.optimizer,
            "lr": self.lr,
            "max_epochs": self.max_epochs,
            "batch_size": self.batch_size,
            "train_split": None,
            "callbacks": [*own, *user],
            "device": self.device,
            "verbose": self.verbose,
            **params,
        }

    def _run_batches(self, fn: Callable[[torch.Tensor], torch.Tensor], X) -> np.ndarray:
        """Apply ``fn`` to ``X`` in batches on the net's device, in eval mode."""
        check_is_fitted(self)
        return self._run_validated_batches(fn, self._validate_X(X, reset=False))

    def _run_validated_batches(self, fn: Callable[[torch.Tensor], torch.Tensor], X) -> np.ndarray:
        """:meth:`_run_batches` on an ``X`` already validated (e.g. image patches
        whose width is not ``n_features_in_``)."""
        net = self.net_
        net.module_.eval()
        iterator = net.get_iterator(net.get_dataset(X), training=False)
        outputs = []
        # fork_rng: a torch DataLoader draws a seed from the global RNG on every
        # pass, even unshuffled; inference must leave that RNG as it was.
        with torch.random.fork_rng(devices=[]), torch.inference_mode():
            for Xi, _ in iterator:
                try:
                    outputs.append(fn(Xi.to(net.device)).float().cpu())
                except RuntimeError as exc:
                    if not any(word in str(exc) for word in ("shape", "size")):
                        raise
                    shape = tuple(Xi.shape) if isinstance(Xi, torch.Tensor) else "?"
                    raise ValueError(
                        f"{type(self).__name__}'s network failed on a batch of shape "
                        f"{shape}: the rows (or images) have another shape than the "
                        f"network was built for in fit. torch said: {exc}"
                    ) from exc
        out = torch.cat(outputs).numpy()
        finite = np.isfinite(out).reshape(len(out), -1).all(axis=1)
        if not finite.all():
            # A loss can stay finite while some outputs overflow (float32 logits of
            # 1e38 and more); NaN probabilities would turn into class 0 in argmax.
            raise FloatingPointError(
                f"{type(self).__name__}'s network gives non-finite outputs (NaN or inf) on "
                f"{int((~finite).sum())} of {len(out)} rows: its training diverged, or these "
                "rows lie far outside the range of the training rows. Standardise the "
                "features, lower lr, or lower the weight of the loss terms."
            )
        return out


class _RaiseOnNonFiniteLoss(Callback):
    """Stop training at the first batch whose loss is nan or infinite.

    Past that point the weights are nan and the estimator would predict
    nothing meaningful; raising lets a search (``GridSearchCV``'s
    ``error_score``, :class:`~sktransfer.model_selection.EnsembleValidationSearch`)
    record the candidate as failed instead of scoring it.
    """

    def __init__(self, estimator_name: str):
        self.estimator_name = estimator_name

    def on_batch_end(self, net, batch=None, training=None, **kwargs):
        if not training:
            return
        # The loss skorch has just recorded (already a float: no second device sync).
        batches = net.history[-1]["batches"]
        value = batches[-1]["train_loss"]
        if not math.isfinite(value):
            epoch, n_batches = len(net.history), len(batches)
            raise FloatingPointError(
                f"{self.estimator_name}: the training loss became {value} at epoch {epoch}, "
                f"batch {n_batches}; training diverged. Standardise the features (e.g. "
                "sklearn.preprocessing.StandardScaler first in a Pipeline), lower lr, or "
                "lower the weight of the loss terms added to the task's loss (the adaptation "
                "or regularisation weight)."
            )


def _named_callbacks(callbacks):
    """``(name, callback)`` pairs named as skorch names them.

    A callback given without a name is named after its class, with ``_1``,
    ``_2``... when several share that name (so ``callbacks__<name>__*``
    reaches it).
    """
    def base_name(item):
        if isinstance(item, (tuple, list)):
            return item[0]
        return item.__name__ if isinstance(item, type) else type(item).__name__

    names = [base_name(item) for item in callbacks]
    counts, seen = Counter(names), Counter()
    for item, name in zip(callbacks, names):
        if isinstance(item, (tuple, list)):
            yield tuple(item)
            continue
        if counts[name] > 1:
            seen[name] += 1
            name = f"{name}_{seen[name]}"
        yield name, item


def _one_class_error(need: str, label, *, marked: bool) -> ValueError:
    """The error of a fit whose labelled rows hold one class (naming the -1 convention)."""
    label = label.item() if isinstance(label, np.generic) else label
    hint = (
        "; the rows with y == -1 count as unlabelled (if -1 is a class, as in labels "
        "-1/+1, map it to another value first)" if marked else ""
    )
    return ValueError(f"{need}; got only one class: {label!r}{hint}")


def _callback_class(callback) -> type:
    """The class of a callback given as an instance or as a class (skorch takes both)."""
    return callback if isinstance(callback, type) else type(callback)


def _callback_param(callback, name: str):
    """A callback's parameter: the instance's, or the default of a callback class."""
    if not isinstance(callback, type):
        return getattr(callback, name, None)
    parameter = inspect.signature(callback).parameters.get(name)
    return None if parameter is None else parameter.default


def _is_finite_real(value) -> bool:
    """Whether ``value`` is a finite real number (``True``/``False`` are not)."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


#: The history keys skorch records only with a validation split (these nets have none).
_VALIDATION_KEYS = frozenset(
    {"valid_loss", "valid_loss_best", "valid_acc", "valid_acc_best", "valid_batch_count"}
)


def _check_positive_ints(estimator, names) -> None:
    """Raise a ``ValueError`` naming the first of ``names`` that is not a positive int."""
    for name in names:
        value = getattr(estimator, name)
        if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")


def _check_device(requested) -> torch.device:
    """``requested`` as a ``torch.device``; a clear error if it does not exist here."""
    try:
        device = torch.device(requested)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(
            f"device must be a torch device such as 'cpu' or 'cuda', got {requested!r}"
        ) from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device={requested!r} was requested but CUDA is not available on "
            "this machine (torch.cuda.is_available() is False); use device='cpu'"
        )
    if device.type == "cuda" and device.index is not None:
        if device.index >= torch.cuda.device_count():
            raise ValueError(
                f"device={requested!r} was requested but only "
                f"{torch.cuda.device_count()} CUDA device(s) exist"
            )
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"device={requested!r} was requested but MPS is not available")
    return device


def _build_from_spec(spec, name: str, kwargs: dict, **injected) -> nn.Module:
    """Build a module from a class (with ``kwargs``), or deep-copy an instance.

    ``injected`` values taken from the data (e.g. ``n_features_in``) are passed
    to a class only when its signature accepts them and ``kwargs`` lacks them.
    """
    if isinstance(spec, nn.Module):
        if kwargs:
            raise ValueError(
                f"{name} is a module instance, so its parameters "
                f"({', '.join(sorted(kwargs))}) cannot be applied; pass the class instead"
            )
        return copy.deepcopy(spec)
    if not callable(spec):
        raise TypeError(f"{name} must be a torch.nn.Module class or instance, got {spec!r}")
    try:
        accepted = inspect.signature(spec).parameters
    except (TypeError, ValueError):
        accepted = {}
    takes_any = any(p.kind is p.VAR_KEYWORD for p in accepted.values())
    kwargs = dict(kwargs)
    for key, value in injected.items():
        if key not in kwargs and (key in accepted or takes_any):
            kwargs[key] = value
    try:
        module = spec(**kwargs)
    except TypeError as exc:
        raise TypeError(f"could not build {name}={spec!r} with {kwargs}: {exc}") from exc
    if not isinstance(module, nn.Module):
        raise TypeError(f"{name} must build a torch.nn.Module, got {type(module).__name__}")
    return module


def _clone_seeded(estimator, random_state):
    """A clone of a scikit-learn ``estimator``, given ``random_state`` if it takes one.

    For meta-estimators, so that one seed controls the estimators they fit.
    """
    estimator = clone(estimator)
    if random_state is not None and "random_state" in estimator.get_params():
        estimator.set_params(random_state=random_state)
    return estimator


def _probe_module(module: nn.Module, x: torch.Tensor, name: str) -> torch.Tensor:
    """Run ``module`` on a few rows in eval mode; name the parameter if it fails."""
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            out = module(x)
    except Exception as exc:  # a torch shape error, most often
        raise ValueError(f"{name} failed on input of shape {tuple(x.shape)}: {exc}") from exc
    finally:
        module.train(was_training)
    if not isinstance(out, torch.Tensor):
        raise TypeError(f"{name} must return a tensor, got {type(out).__name__}")
    return out


def _take_rows(X, rows):
    """Rows of ``X`` (array, list, DataFrame or sparse matrix), by index or mask.

    A sparse matrix in a format without row indexing (COO, DOK, ...) goes to
    CSR; CSR and CSC keep their format.
    """
    if sp.issparse(X) and X.format not in ("csr", "csc"):
        X = X.tocsr()
    return _safe_indexing(X, rows)


def _labelled_rows(X, y, sample_weight=None):
    """The rows of ``X, y`` (and ``sample_weight``) whose label is not ``-1``.

    For ``score`` methods, which measure only where the truth is known.
    """
    check_consistent_length(X, y, sample_weight)
    y = column_or_1d(y)
    labelled = _labelled_mask(y)
    if not labelled.any():
        raise ValueError("score needs labelled rows, but every row of y is -1")
    X = _take_rows(X, labelled)
    y = _labels_of(y[labelled])
    if sample_weight is not None:
        sample_weight = column_or_1d(sample_weight)[labelled]
    return X, y, sample_weight


class _LabelledRowsClassifierMixin(ClassifierMixin):
    """``predict`` as the most probable class; ``score`` on the labelled rows only."""

    def predict(self, X):
        """Predicted class labels: the most probable class of each row.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, ...)
            Input rows.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            Labels from ``classes_``.
        """
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]

    def score(self, X, y, sample_weight=None) -> float:
        """Accuracy on the labelled rows of ``X, y`` (rows with ``y == -1`` are ignored).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Test rows.
        y : array-like of shape (n_samples,)
            True labels, ``-1`` for rows to ignore.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.

        Returns
        -------
        score : float
            Mean accuracy of ``predict(X)`` on the labelled rows.
        """
        X, y, sample_weight = _labelled_rows(X, y, sample_weight)
        return super().score(X, y, sample_weight=sample_weight)


def _estimator_has(attr):
    """True if the fitted inner estimator, else the unfitted one, has ``attr``."""

    def check(self):
        if hasattr(self, "estimator_"):
            return hasattr(self.estimator_, attr)
        return hasattr(self._get_estimator(), attr)

    return check


def _ignore_prediction_domain(estimator, sample_domain, X) -> None:
    """Check a ``sample_domain`` given to a prediction method, then ignore it.

    Prediction needs no domain; the argument is accepted because skada's
    scorers pass it to ``predict`` / ``predict_proba``. An unfitted
    ``estimator`` gets its ``NotFittedError`` first.
    """
    check_is_fitted(estimator)
    if sample_domain is not None:
        _check_sample_domain(sample_domain, _num_samples(X), require_source=False)


class _PredictionDomainMixin:
    """Prediction methods that accept (and ignore) skada's ``sample_domain``.

    The methods (``predict``, ``predict_proba``, ``predict_log_proba``,
    ``decision_function``, ``score``) take ``sample_domain=None`` and pass it to
    :func:`_ignore_prediction_domain`. They request it by default, as skada's
    estimators do, so a :class:`~sklearn.pipeline.Pipeline` ending in one of
    them routes it there when metadata routing is on (skada switches it on).
    """

    __metadata_request__predict: ClassVar[dict] = {"sample_domain": True}
    __metadata_request__predict_proba: ClassVar[dict] = {"sample_domain": True}
    __metadata_request__predict_log_proba: ClassVar[dict] = {"sample_domain": True}
    __metadata_request__decision_function: ClassVar[dict] = {"sample_domain": True}
    __metadata_request__score: ClassVar[dict] = {"sample_domain": True}

    def score(self, X, y, sample_weight=None, sample_domain=None) -> float:
        """Accuracy on the labelled rows of ``X, y`` (rows with ``y == -1`` are ignored).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Test rows.
        y : array-like of shape (n_samples,)
            True labels, ``-1`` for rows to ignore.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.
        sample_domain : array-like of shape (n_samples,), default=None
            Ignored: prediction needs no domain. Accepted, and checked against
            ``X``, because skada's scorers pass it.

        Returns
        -------
        score : float
            Mean accuracy of ``predict(X)`` on the labelled rows.
        """
        _ignore_prediction_domain(self, sample_domain, X)
        return super().score(X, y, sample_weight=sample_weight)


class _WrappedClassifierMixin(_PredictionDomainMixin, _LabelledRowsClassifierMixin):
    """Prediction methods of a meta-estimator that fits one inner classifier.

    The subclass sets ``estimator_`` in ``fit`` and defines ``_transform_input``
    (validation of ``X`` at prediction time); ``estimator=None`` means a
    ``LogisticRegression``. ``score`` ignores rows with ``y == -1``.
    """

    def _get_estimator(self):
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression() if self.estimator is None else self.estimator

    def predict(self, X, sample_domain=None):
        """Predict with the fitted estimator.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Rows to classify.
        sample_domain : array-like of shape (n_samples,), default=None
            Ignored: prediction needs no domain. Accepted, and checked against
            ``X``, because skada's scorers pass it.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            Labels from ``classes_``.
        """
        _ignore_prediction_domain(self, sample_domain, X)
        X = self._transform_input(X)
        return self.estimator_.predict(X)

    @available_if(_estimator_has("predict_proba"))
    def predict_proba(self, X, sample_domain=None):
        """Class probabilities from the fitted estimator.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Rows to classify.
        sample_domain : array-like of shape (n_samples,), default=None
            Ignored: prediction needs no domain. Accepted, and checked against
            ``X``, because skada's scorers pass it.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Columns ordered as ``classes_``.
        """
        _ignore_prediction_domain(self, sample_domain, X)
        X = self._transform_input(X)
        return self.estimator_.predict_proba(X)

    @available_if(_estimator_has("predict_log_proba"))
    def predict_log_proba(self, X, sample_domain=None):
        """Log class probabilities from the fitted estimator.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Rows to classify.
        sample_domain : array-like of shape (n_samples,), default=None
            Ignored: prediction needs no domain. Accepted, and checked against
            ``X``, because skada's scorers pass it.

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
            Columns ordered as ``classes_``.
        """
        _ignore_prediction_domain(self, sample_domain, X)
        X = self._transform_input(X)
        return self.estimator_.predict_log_proba(X)

    @available_if(_estimator_has("decision_function"))
    def decision_function(self, X, sample_domain=None):
        """Decision function of the fitted estimator.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Rows to classify.
        sample_domain : array-like of shape (n_samples,), default=None
            Ignored: prediction needs no domain. Accepted, and checked against
            ``X``, because skada's scorers pass it.

        Returns
        -------
        scores : ndarray of shape (n_samples,) or (n_samples, n_classes)
            As returned by the estimator.
        """
        _ignore_prediction_domain(self, sample_domain, X)
        X = self._transform_input(X)
        return self.estimator_.decision_function(X)


class _SeededRNG:
    """``torch.random.fork_rng`` with a seed: reproducible, no global side effect."""

    def __init__(self, seed: int, devices: list):
        self.seed = seed
        self.devices = devices

    def __enter__(self):
        self._fork = torch.random.fork_rng(devices=self.devices)
        self._fork.__enter__()
        torch.manual_seed(self.seed)
        return self

    def __exit__(self, *exc):
        return self._fork.__exit__(*exc)


def _reject_nan_labels(y) -> None:
    """Raise if ``y`` marks rows with NaN: the library's mark for unlabelled rows is ``-1``.

    Called before sklearn's validation, which would only say that y holds NaN.
    """
    if y is None or sp.issparse(y):
        return
    values = np.asarray(y)
    if values.dtype.kind == "f":
        n_missing = int(np.isnan(values).sum())
        how = "y = np.where(np.isnan(y), -1, y)"
    elif values.dtype.kind == "O":  # string labels with gaps: NaN or pandas.NA
        n_missing = sum(
            (isinstance(v, numbers.Real) and math.isnan(v)) or type(v).__name__ == "NAType"
            for v in values.ravel()
        )
        how = "give the missing ones the integer -1 (the other labels may stay names)"
    else:
        return
    if n_missing:
        raise ValueError(
            f"y contains NaN ({n_missing} rows). sktransfer marks "
            f"unlabelled rows with y == -1, not NaN: replace them first: {how}"
        )


def _is_mark(label) -> bool:
    """Whether one label of an object array is the unlabelled mark, the number -1."""
    return isinstance(label, numbers.Number) and not isinstance(label, bool) and label == UNLABELLED


def _is_text_mark(label) -> bool:
    """Whether one label is the string ``'-1'``: the mark read as text, never taken."""
    return isinstance(label, (str, bytes)) and label in ("-1", b"-1")


def _refuse_mark_class(name, estimator, how="it was fit with the unlabelled target rows"):
    """A clear error if ``estimator`` learnt the unlabelled mark ``-1`` as a class.

    A plain classifier fit on rows with ``y == -1`` takes the target rows for
    a class of their own: a scorer or a search would then compare wrong models.
    """
    classes = getattr(estimator, "classes_", None)
    if classes is not None and any(_is_mark(c) for c in np.ravel(classes)):
        raise ValueError(
            f"{name}: {type(estimator).__name__} has learnt -1 as a class ({how}, "
            "y == -1, and took them for a class of their own). Wrap a plain "
            "classifier in sktransfer.LabelledOnly, which leaves those rows out of its "
            "fit, or use a domain-adaptation estimator."
        )


def _labels_of(y: np.ndarray) -> np.ndarray:
    """Labels taken out of an object array where ``-1`` sat beside them.

    Numbers get their own dtype (scikit-learn reads an object array of
    numbers as an unknown label type); names stay an object array, as
    scikit-learn keeps them.
    """
    if y.dtype != object or any(isinstance(v, (str, bytes)) for v in y):
        return y
    return np.asarray(y.tolist())


def _labelled_mask(y: np.ndarray) -> np.ndarray:
    """True where ``y`` holds a class label, False where it is ``-1``.

    In an object array the mark is the number ``-1`` beside labels of any
    kind (class names included, as scikit-learn's semi-supervised estimators
    take them); take the labels out with :func:`_labels_of`.
    """
    kind = y.dtype.kind
    if kind not in "OUS":
        return y != UNLABELLED
    if kind == "O":
        n_text_mark = sum(_is_text_mark(v) for v in y)
    else:  # text only (one comparison; no number can be the mark here)
        n_text_mark = int((y == ("-1" if kind == "U" else b"-1")).sum())
    if n_text_mark:
        raise ValueError(
            f"y holds the string '-1' ({n_text_mark} rows): sktransfer marks unlabelled "
            "rows with the integer -1 and would take '-1' for a class. If the labels "
            "are numbers read as text and '-1' means unlabelled, convert them "
            "(y = y.astype(int)); if '-1' is a class (e.g. labels -1/+1), map it to "
            "another value first, or the rows of that class become unlabelled; if "
            "the labels are names, keep them and mark the unlabelled rows with the "
            "integer -1 in an object array: a list or text array turns -1 into the "
            "string '-1', so build y with np.array(y, dtype=object)"
        )
    if kind != "O":
        return np.ones(len(y), dtype=bool)
    return ~np.array([_is_mark(v) for v in y], dtype=bool)


def _check_int_ids(ids, name: str, n_samples: int, id_name: str, meaning: str = "") -> np.ndarray:
    """Validate one integer id per row (``sample_domain``, ``sample_task``, ...).

    A column vector is flattened and whole floats are accepted; returns int64.
    """
    ids = np.asarray(ids)
    if ids.dtype == object and all(
        isinstance(i, numbers.Integral) and not isinstance(i, bool) for i in ids.flat
    ):
        ids = ids.astype(np.int64)  # e.g. a pandas object column of integers
    if ids.ndim == 2 and ids.shape[1] == 1:
        ids = ids.ravel()
    if ids.ndim != 1:
        raise ValueError(
            f"{name} must be a 1-D array with one {id_name} per row; got shape {ids.shape}"
        )
    if len(ids) != n_samples:
        raise ValueError(
            f"{name} has {len(ids)} entries but X has {n_samples} rows "
            f"(one {id_name} per row)"
        )
    if ids.dtype.kind == "f" and np.all(np.mod(ids, 1) == 0):
        ids = ids.astype(np.int64)
    if ids.dtype.kind not in "iu":
        missing = " with NaN entries" if ids.dtype.kind == "f" and np.isnan(ids).any() else ""
        raise TypeError(
            f"{name} must hold integer {id_name}s{meaning}, got dtype {ids.dtype}{missing}"
        )
    return ids.astype(np.int64)


def _check_sample_domain(sample_domain, n_samples: int, require_source: bool = True) -> np.ndarray:
    """Validate a skada-style ``sample_domain`` array (ids > 0 source, < 0 target).

    With ``require_source=False`` an array without a source domain is accepted
    (for callers that decide themselves what to do without one).
    """
    sample_domain = _check_int_ids(
        sample_domain, "sample_domain", n_samples, "domain id",
        " (positive for source domains, negative for target domains)",
    )
    if np.any(sample_domain == 0):
        raise ValueError(
            "sample_domain must not contain 0: use positive ids for source domains "
            "and negative ids for target domains (skada counts 0 as a source domain; "
            "sktransfer asks for a sign on every id)"
        )
    if require_source and not np.any(sample_domain > 0):
        raise ValueError("sample_domain has no source domain (no positive id)")
    return sample_domain.astype(np.int64)


def _caller_stacklevel() -> int:
    """The ``stacklevel`` for ``warnings.warn`` that names the user's line.

    For a warning raised some calls deep inside the package (``fit`` -> a
    validation helper -> the warning): it skips the frames of sktransfer's
    modules and of scikit-learn's ``set_output`` wrapper (around
    ``fit_transform``), as Python 3.12's ``skip_file_prefixes`` would.
    """
    frame = inspect.currentframe().f_back  # the function that calls warnings.warn
    level = 1
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        if module.partition(".")[0] != "sktransfer" and module != "sklearn.utils._set_output":
            break
        frame = frame.f_back
        level += 1
    return level


class _LabelledTargetWarning(UserWarning):
    """Every target row is labelled (see :func:`_warn_if_every_target_row_labelled`).

    Its own category, so that a caller that has warned once for many fits
    (:class:`~sktransfer.model_selection.EnsembleValidationSearch`) can silence it
    in those fits by category rather than by the wording of its message.
    """


def _warn_if_large_matrix(owner: str, n_rows: int, n_cols: int, what: str) -> None:
    """Warn before a fit builds a dense float64 matrix over scikit-learn's ``working_memory``.

    The kernel methods build matrices of (number of rows)^2 entries, and a few
    of that size; past a few ten thousand rows they run out of memory, or
    spend hours in an eigenproblem, without a word. scikit-learn's
    ``working_memory`` (1024 MiB by default) is the threshold; raise it with
    ``sklearn.config_context(working_memory=...)`` to silence the warning.
    """
    limit = get_config()["working_memory"]
    size = n_rows * n_cols * 8 / 2**20
    if size > limit:
        warnings.warn(
            f"{owner} builds a dense {n_rows} x {n_cols} {what}: {size:,.0f} MiB in "
            f"float64 for that matrix alone, more than scikit-learn's working_memory "
            f"({limit:,} MiB). Memory grows with the square of the number of rows: fit on "
            "a subsample of them, or raise working_memory with "
            "sklearn.config_context(working_memory=...) to go ahead without this warning.",
            UserWarning,
            stacklevel=_caller_stacklevel(),
        )


def _warn_if_every_target_row_labelled(
    labelled, is_target, sample_domain, owner: str, *, uses_labels: bool = True
) -> None:
    """Warn when ``sample_domain`` names target rows and every one of them is labelled.

    sktransfer trains on labelled target rows (semi-supervised adaptation);
    skada masks them itself. A skada user who passes unmasked labels with
    ``sample_domain`` would otherwise train on the target labels unawares.
    ``uses_labels=False`` (a transformer, which does not read them) words it for
    the classifier that follows in a pipeline.
    """
    if sample_domain is None or not is_target.any() or not labelled[is_target].all():
        return
    who = (
        "sktransfer trains on labelled target rows like source rows"
        if uses_labels else
        "this transformer does not use them, but a classifier after it in a pipeline "
        "(e.g. LabelledOnly) trains on labelled target rows like source rows"
    )
    warnings.warn(
        f"{owner}: every target row (sample_domain < 0) is labelled, and {who} "
        "(semi-supervised adaptation; skada masks them instead). For unsupervised "
        "adaptation, mark them unlabelled: "
        "y = sktransfer.datasets.mask_target_labels(y, sample_domain).",
        _LabelledTargetWarning,
        stacklevel=_caller_stacklevel(),
    )


def _refuse_unlabelled_source_rows(labelled, is_target) -> None:
    """Source rows must be labelled (``y == -1`` there is a mistake, not "unlabelled").

    Only ``sample_domain`` can make a row with ``y == -1`` a source row: without
    it, the unlabelled rows are the target rows.
    """
    unlabelled_source = ~labelled & ~is_target
    if unlabelled_source.any():
        raise ValueError(
            "rows of source domains (sample_domain > 0) must be labelled; "
            f"{int(unlabelled_source.sum())} of them have y == -1"
        )


def _domain_masks(y, sample_domain, n_samples: int):
    """``(labelled, is_target)`` boolean masks under the library's conventions.

    ``y is None`` means no row is labelled. ``sample_domain`` (if given) decides
    the domain: negative ids are target rows; otherwise unlabelled rows are
    the target rows. Source rows need not exist here: callers decide.
    """
    if y is None:
        labelled = np.zeros(n_samples, dtype=bool)
    else:
        _reject_nan_labels(y)
        y = column_or_1d(np.asarray(y), warn=True)
        if len(y) != n_samples:
            raise ValueError(f"y has {len(y)} entries but X has {n_samples} rows")
        labelled = _labelled_mask(y)
    if sample_domain is None:
        return labelled, ~labelled
    sample_domain = _check_sample_domain(sample_domain, n_samples, require_source=False)
    return labelled, sample_domain < 0


def _clone_keeping_fitted_input(estimator, name: str):
    """``sklearn.base.clone`` of ``estimator``, but parameter ``name`` kept as it is.

    For a parameter that is a fitted input (a fitted source estimator or
    network, like pretrained weights), which ``clone`` would replace by an
    unfitted copy. The metadata requests (``set_fit_request``, ...) and the
    ``set_output`` configuration are copied, as ``clone`` copies them.
    """
    params = estimator.get_params(deep=False)
    kept = params.pop(name)
    params = {key: clone(value, safe=False) for key, value in params.items()}
    new = type(estimator)(**{name: kept}, **params)
    for attr in ("_metadata_request", "_sklearn_output_config"):
        if hasattr(estimator, attr):
            setattr(new, attr, copy.deepcopy(getattr(estimator, attr)))
    return new


def _forget_fitted_state(estimator) -> None:
    """Drop what an earlier ``fit`` left (attributes ending in ``_``)."""
    for name in [k for k in vars(estimator) if k.endswith("_") and not k.startswith("__")]:
        delattr(estimator, name)


def _unfitted_if_refused(fit: Callable) -> Callable:
    """Decorate ``fit``: a fit that raises leaves the estimator unfitted.

    Without it, a refit refused part-way (after ``validate_data`` recorded the
    new ``n_features_in_``) left the old fit's maps beside the new input's
    width: a NotFittedError is the honest answer to what follows.
    """
    @functools.wraps(fit)
    def wrapper(self, *args, **kwargs):
        try:
            return fit(self, *args, **kwargs)
        except BaseException:
            _forget_fitted_state(self)
            raise

    return wrapper


def _validate_domain_fit(
    estimator, X, y, sample_domain, *, allowed: str, how: str, accept_sparse=False,
    allow_nd=False,
):
    """``(X, y, labelled, is_target)`` for ``fit`` of a closed-form domain-adaptation classifier.

    Validates ``X`` (float64; sparse formats as in ``accept_sparse``; more
    than two dimensions with ``allow_nd``, which keep their numeric dtype:
    uint8 pixels stay uint8) and ``y``, then the domain rows; a fit without
    target rows is refused unless ``estimator.no_target == allowed`` (``how``
    is the sentence that names that option in the error).
    """
    _reject_nan_labels(y)
    X, y = validate_data(
        estimator, X, y, dtype="numeric" if allow_nd else np.float64, y_numeric=False,
        ensure_min_samples=2, accept_sparse=accept_sparse, allow_nd=allow_nd,
    )
    X = _float_unless_nd(X)
    y = column_or_1d(y, warn=True)
    labelled, is_target = _check_domain_rows(
        y, sample_domain, len(y), type(estimator).__name__,
        no_target=None if estimator.no_target == allowed else how,
    )
    return X, y, labelled, is_target


def _float_unless_nd(X):
    """``X`` as float64, unless it has more than two dimensions (images keep their dtype)."""
    if X.ndim > 2 or X.dtype == np.float64:
        return X
    return X.astype(np.float64)


def _as_vectors(X):
    """Rows of more than two dimensions (images) flattened to float64 vectors; others as they are."""
    return X.reshape(X.shape[0], -1).astype(np.float64, copy=False) if X.ndim > 2 else X


def _check_domain_rows(y, sample_domain, n_samples: int, owner: str, *, no_target: str | None):
    """``(labelled, is_target)`` for a classifier fitted on labelled source rows and target rows.

    Checks the class labels of the labelled rows, that every source row is
    labelled and that there is a source row; with ``no_target`` (the sentence
    that names the option allowing it) a fit without target rows is refused.
    """
    labelled, is_target = _domain_masks(y, sample_domain, n_samples)
    _warn_if_every_target_row_labelled(labelled, is_target, sample_domain, owner)
    if labelled.any():
        labels = _labels_of(column_or_1d(np.asarray(y))[labelled])
        check_classification_targets(labels)
        classes = np.unique(labels)
        if len(classes) < 2:
            raise _one_class_error(
                f"{owner} needs at least two classes in the labelled rows of y",
                classes[0], marked=not labelled.all(),
            )
    _refuse_unlabelled_source_rows(labelled, is_target)
    is_source = ~is_target
    if not is_source.any():
        raise ValueError(
            f"{owner} found no source rows: it needs labelled source rows (y != -1, or "
            "sample_domain > 0) to fit the classifier"
        )
    if no_target is not None and not is_target.any():
        raise ValueError(
            f"{owner} found no target rows to adapt to: mark the target rows with y == -1, "
            f"or pass sample_domain with negative ids for target domains. {no_target}"
        )
    return labelled, is_target
