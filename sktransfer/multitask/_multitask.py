"""Multitask learning: shared layers, one head per task (optionally one input layer per task)."""

from __future__ import annotations

import numbers
from collections.abc import Mapping

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.base import ClassifierMixin
from sklearn.preprocessing import LabelEncoder
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    _check_sample_weight,
    _num_samples,
    check_consistent_length,
    check_is_fitted,
    validate_data,
)
from skorch import NeuralNet
from skorch.utils import to_tensor
from torch import nn

from ..base import (
    UNLABELLED,
    TransferNetBase,
    _build_from_spec,
    _check_int_ids,
    _labelled_mask,
    _one_class_error,
    _probe_module,
    _reject_nan_labels,
)
from ..nn import MLP

__all__ = ["MultiTaskClassifier"]

# The shared layers: one hidden layer of 256 units with dropout, as DANN's
# default feature extractor.
_DEFAULT_TRUNK = {"hidden_layer_sizes": (256,), "dropout": 0.5}


class _MultiTaskModule(nn.Module):
    """Optional per-task input layers, a shared trunk and one head per task.

    ``forward(x, task=None)`` returns a tuple of logits, one tensor per task.
    ``task`` selects the input layer: an int for all rows, or a tensor of task
    ids, one per row (rows of different tasks may share a batch).
    """

    def __init__(self, input_layers, trunk, heads):
        super().__init__()
        self.input_layers = input_layers
        self.trunk = trunk
        self.heads = heads

    def encode(self, x, task=None):
        if self.input_layers is None:
            return self.trunk(x)
        if isinstance(task, numbers.Integral):
            return self.trunk(self.input_layers[int(task)](x))
        task = task.to(x.device)
        out = None
        for t in torch.unique(task).tolist():
            idx = torch.nonzero(task == t).flatten()
            features = self.input_layers[t](x[idx])
            if out is None:
                out = features.new_zeros((len(x), *features.shape[1:]))
            out = out.index_copy(0, idx, features)
        return self.trunk(out)

    def forward(self, x, task=None):
        shared = self.encode(x, task)
        return tuple(head(shared) for head in self.heads)


class _MultiTaskNet(NeuralNet):
    """skorch net whose loss is the weighted sum of the per-task losses.

    ``y`` has one column per task, ``-1`` where a row has no label for that
    task. Each task's loss is its mean cross-entropy over the rows of the batch
    labelled for it (0 when there are none), computed without a device sync.
    """

    def __init__(self, *args, task_weights=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.task_weights = task_weights

    def get_loss(self, y_pred, y_true, X=None, training=False):
        y_true = to_tensor(y_true, device=self.device)
        total = 0.0
        for t, logits in enumerate(y_pred):
            labels = y_true[:, t]
            n_labelled = (labels != UNLABELLED).sum().clamp(min=1)
            summed = F.cross_entropy(logits, labels, ignore_index=UNLABELLED, reduction="sum")
            total = total + self.task_weights[t] * summed / n_labelled
        return total




class MultiTaskClassifier(ClassifierMixin, TransferNetBase):
    """Multitask classifier: shared layers and one output head per task.

    All tasks are trained at once, so what the shared layers learn from the
    tasks with many labels helps the tasks with few (Caruana, 1997). ``y`` has
    one column per task, and ``-1`` where a row has no label for that task:
    the tasks may come from different data sets, stacked row-wise, each row
    labelled only for its own task.

    Tasks may also have inputs of different kinds (the shape of multilingual
    speech recognition with shared hidden layers, Huang et al. 2013, or of
    multilingual translation): give ``input_layers``, one input layer per task,
    and ``sample_task``, the task whose input layer each row goes through. The
    input layers feed the shared trunk, which feeds the task heads.

    With a 1-D ``y`` the estimator is an ordinary single-task classifier:
    ``classes_`` is 1-D and ``predict`` returns one label per row.

    Parameters
    ----------
    module : nn.Module class or instance, default=None
        The shared layers (the trunk). A class is built with ``module__*``
        parameters (and ``n_features_in``: the data width, or the input
        layers' output width, if it accepts one); an instance is deep-copied.
        None means :class:`sktransfer.nn.MLP` with one hidden layer of 256
        units and dropout 0.5. Its output must be 2-D.
    head : nn.Module class or instance, default=None
        The layers of each task head, one copy per task, mapping the shared
        features to the task's logits. A class gets ``n_features_in`` and
        ``n_outputs`` (the task's number of classes) if it accepts them, and
        ``head__*`` parameters. None means :class:`sktransfer.nn.MLP` with no
        hidden layer (a linear layer; ``head__*`` parameters override this).
    input_layers : None, nn.Module class or instance, list or dict, default=None
        Task-specific input layers. None: every row goes straight into the
        trunk. A module class or instance: one copy per task (a class gets
        ``n_features_in`` and ``input_layers__*`` parameters). A list (one
        entry per task column of ``y``) or a dict ``{task index: module}``
        naming every task: a different input layer per task. All must output
        the same width. With input layers, ``fit``, ``predict``,
        ``predict_proba`` and ``score`` need ``sample_task``.
    task_weights : None, array-like of shape (n_tasks,) or dict, default=None
        Weight of each task's loss (its mean cross-entropy over the labelled
        rows of a batch). None gives every task weight 1; a dict
        ``{task index: weight}`` sets some and leaves the others at 1.
    max_epochs : int, default=100
        Passes over the training rows.
    batch_size : int, default=64
        Rows per training batch, drawn from all tasks.
    lr : float, default=0.001
        Learning rate.
    optimizer : torch.optim.Optimizer class, default=torch.optim.Adam
        The optimiser; ``optimizer__*`` parameters are passed to it.
    callbacks : list of skorch callbacks or (name, callback) tuples, default=None
        Extra skorch callbacks (copied at fit time).
    device : str or torch.device, default="cpu"
        Where to train and predict, e.g. ``"cuda"``.
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation and batch shuffling. The global torch RNG
        is left as it was.
    verbose : int, default=0
        If positive, print one line of losses per epoch.
    **kwargs
        ``module__*``, ``head__*``, ``input_layers__*``, ``optimizer__*``,
        ``iterator_train__*``, ``iterator_valid__*`` and ``callbacks__*``
        parameters, as in skorch.

    Attributes
    ----------
    net_ : skorch.NeuralNet
        The trained net; ``net_.module_`` has ``input_layers`` (or None),
        ``trunk`` and ``heads``.
    classes_ : ndarray of shape (n_classes,) or list of ndarray
        The class labels; with a 2-D ``y``, a list with one array per task.
    n_tasks_ : int
        Number of tasks (columns of ``y``; 1 for a 1-D ``y``).
    task_weights_ : ndarray of shape (n_tasks,)
        The loss weight of each task.
    n_features_in_ : int
        Number of input features.
    feature_names_in_ : ndarray of shape (n_features,)
        Names of the features seen in ``fit``, when ``X`` has string column names.

    See Also
    --------
    ProgressiveNetClassifier : learns tasks one after the other instead, with
        no change to the earlier ones.

    References
    ----------
    R. Caruana. Multitask Learning. Machine Learning 28, 41-75, 1997.

    J.-T. Huang, J. Li, D. Yu, L. Deng and Y. Gong. Cross-language knowledge
    transfer using multilingual deep neural network with shared hidden layers.
    ICASSP 2013.

    Examples
    --------
    >>> import numpy as np
    >>> from sktransfer import MultiTaskClassifier
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(100, 4))
    >>> y = np.column_stack([X[:, 0] > 0, X[:, 0] + X[:, 1] > 0]).astype(int)
    >>> y[50:, 1] = -1  # task 1 is labelled on the first 50 rows only
    >>> clf = MultiTaskClassifier(max_epochs=5, random_state=0).fit(X, y)
    >>> clf.predict(X[:3]).shape
    (3, 2)
    >>> [p.shape for p in clf.predict_proba(X[:3])]
    [(3, 2), (3, 2)]
    """

    _module_params = ("module", "head", "input_layers")

    def __init__(
        self,
        module=None,
        *,
        head=None,
        input_layers=None,
        task_weights=None,
        max_epochs: int = 100,
        batch_size: int = 64,
        lr: float = 0.001,
        optimizer=torch.optim.Adam,
        callbacks=None,
        device="cpu",
        random_state=None,
        verbose: int = 0,
        **kwargs,
    ):
        self.module = module
        self.head = head
        self.input_layers = input_layers
        self.task_weights = task_weights
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.optimizer = optimizer
        self.callbacks = callbacks
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
        self._store_kwargs(kwargs)

    # ------------------------------------------------------------------
    # validation
    # ------------------------------------------------------------------
    def _validate_targets(self, y):
        """Encode each task column; set ``classes_`` and ``n_tasks_``."""
        y = np.asarray(y)
        if y.ndim == 1:
            columns, self._multi_output = [y], False
        elif y.ndim == 2:
            columns, self._multi_output = [y[:, t] for t in range(y.shape[1])], True
        else:
            raise ValueError(f"y must be 1-D or 2-D (one column per task), got shape {y.shape}")
        if not columns:
            raise ValueError("y has no task column (shape (n_samples, 0))")
        classes, encoded = [], []
        for t, column in enumerate(columns):
            where = f"task {t} (column {t} of y)" if self._multi_output else "y"
            if column.dtype == object and not any(isinstance(v, str) for v in column):
                column = np.asarray(column.tolist())
            labelled = _labelled_mask(column)
            if not labelled.any():
                raise ValueError(
                    f"{where} has no labelled rows: every entry is -1 (no label). "
                    "Every task needs some labelled rows; drop the column or label some rows."
                )
            labels = column[labelled]
            check_classification_targets(labels)
            encoder = LabelEncoder().fit(labels)
            if len(encoder.classes_) < 2:
                raise _one_class_error(
                    f"{type(self).__name__} needs at least two classes in the labelled "
                    f"rows of {where}", encoder.classes_[0], marked=not labelled.all(),
                )
            codes = np.full(len(column), UNLABELLED, dtype=np.int64)
            codes[labelled] = encoder.transform(labels)
            classes.append(encoder.classes_)
            encoded.append(codes)
        self.n_tasks_ = len(columns)
        self.classes_ = classes if self._multi_output else classes[0]
        return np.column_stack(encoded)

    def _task_weights(self) -> np.ndarray:
        n_tasks = self.n_tasks_
        spec = self.task_weights
        if spec is None:
            weights = np.ones(n_tasks)
        elif isinstance(spec, Mapping):
            weights = np.ones(n_tasks)
            for key, value in spec.items():
                if (
                    not isinstance(key, numbers.Integral)
                    or isinstance(key, bool)
                    or not 0 <= key < n_tasks
                ):
                    raise ValueError(
                        f"task_weights names task {key!r}, but y has {n_tasks} task "
                        f"column(s): keys must be task indices 0..{n_tasks - 1}"
                    )
                weights[key] = value
        else:
            weights = np.asarray(spec, dtype=float).ravel()
            if len(weights) != n_tasks:
                raise ValueError(
                    f"task_weights has {len(weights)} entries but y has {n_tasks} task column(s)"
                )
        if not np.all(np.isfinite(weights)) or np.any(weights < 0) or not np.any(weights > 0):
            raise ValueError(
                f"task_weights must be finite, non-negative and not all zero, got {weights.tolist()}"
            )
        return weights

    def _check_sample_task(self, sample_task, n_samples: int, *, required: bool):
        """Validate ``sample_task`` against the tasks seen in fit."""
        if self.input_layers is None:
            if sample_task is not None:
                raise ValueError(
                    "sample_task selects each row's input layer, but input_layers is "
                    "None; pass input_layers (one per task) or leave sample_task out"
                )
            return None
        if sample_task is None:
            if required:
                raise ValueError(
                    "input_layers is set, so sample_task is required: the task "
                    "(column of y) whose input layer each row goes through"
                )
            return None
        sample_task = _check_int_ids(
            sample_task, "sample_task", n_samples, "task id", " (column indices of y)"
        )
        unknown = np.setdiff1d(sample_task, np.arange(self.n_tasks_))
        if len(unknown):
            raise ValueError(
                f"sample_task names task(s) {unknown.tolist()} unknown to this estimator: "
                f"it has {self.n_tasks_} task(s), ids 0..{self.n_tasks_ - 1}"
            )
        return sample_task.astype(np.int64)

    def _input_layer_specs(self) -> list:
        spec, n_tasks = self.input_layers, self.n_tasks_
        if isinstance(spec, Mapping):
            unknown = [k for k in spec if not isinstance(k, numbers.Integral) or not 0 <= k < n_tasks]
            if unknown:
                raise ValueError(
                    f"input_layers names task(s) {unknown}, but y has {n_tasks} task "
                    f"column(s): keys must be task indices 0..{n_tasks - 1}"
                )
            missing = [t for t in range(n_tasks) if t not in spec]
            if missing:
                raise ValueError(f"input_layers has no input layer for task(s) {missing}")
            return [spec[t] for t in range(n_tasks)]
        if isinstance(spec, (list, tuple)):
            if len(spec) != n_tasks:
                raise ValueError(
                    f"input_layers has {len(spec)} entries but y has {n_tasks} task column(s)"
                )
            return list(spec)
        return [spec] * n_tasks

    # ------------------------------------------------------------------
    # network
    # ------------------------------------------------------------------
    def _build_network(self, X_probe, sample_task):
        if self.input_layers is None:
            input_layers, shared_in = None, X_probe
        else:
            layers = []
            kwargs = self._params_for("input_layers")
            for t, spec in enumerate(self._input_layer_specs()):
                layer = _build_from_spec(spec, f"input_layers[{t}]", kwargs, n_features_in=self.n_features_in_)
                layers.append(layer)
            outs = [_probe_module(layer, X_probe, f"input_layers[{t}]") for t, layer in enumerate(layers)]
            widths = {tuple(o.shape[1:]) for o in outs}
            if len(widths) != 1:
                raise ValueError(
                    "the input layers must all output the same shape (the trunk's input); "
                    f"got {[tuple(o.shape[1:]) for o in outs]}"
                )
            input_layers = nn.ModuleList(layers)
            shared_in = outs[0]
        trunk = self._build_module("module", MLP, _DEFAULT_TRUNK, n_features_in=shared_in.shape[1])
        shared = _probe_module(trunk, shared_in, "module")
        if shared.dim() != 2:
            raise ValueError(
                "module (the shared layers) must output a 2-D tensor (n_samples, "
                f"n_features); it gave shape {tuple(shared.shape)}"
            )
        classes = self.classes_ if self._multi_output else [self.classes_]
        heads = []
        for t, task_classes in enumerate(classes):
            n_classes = len(task_classes)
            head = _build_from_spec(
                MLP if self.head is None else self.head,
                "head",
                {**({"hidden_layer_sizes": ()} if self.head is None else {}), **self._params_for("head")},
                n_features_in=shared.shape[1],
                n_outputs=n_classes,
            )
            logits = _probe_module(head, shared, "head")
            if logits.dim() != 2 or logits.shape[1] != n_classes:
                raise ValueError(
                    f"head must output (n_samples, n_classes={n_classes}) for task {t}; "
                    f"it gave shape {tuple(logits.shape)}"
                )
            heads.append(head)
        return _MultiTaskModule(input_layers, trunk, nn.ModuleList(heads))

    def _check_params(self):
        self._check_common_params()

    # ------------------------------------------------------------------
    # fit / predict
    # ------------------------------------------------------------------
    def fit(self, X, y, sample_task=None) -> MultiTaskClassifier:
        """Train the shared layers and every task head at once.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, ...)
            Rows of all tasks.
        y : array-like of shape (n_samples,) or (n_samples, n_tasks)
            Labels, one column per task; ``-1`` where a row has no label for
            that task. A 1-D ``y`` is a single task.
        sample_task : array-like of int of shape (n_samples,), default=None
            With ``input_layers``: the task (column of ``y``) whose input layer
            each row goes through. Required then, refused otherwise.

        Returns
        -------
        self : MultiTaskClassifier
            The fitted estimator.
        """
        self.__dict__.pop("net_", None)
        self._check_params()
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is None"
            )
        _reject_nan_labels(y)
        X, y = validate_data(
            self, X, y, dtype=np.float32, allow_nd=True, ensure_min_samples=2,
            multi_output=True, y_numeric=False, force_writeable=True,
        )
        Y = self._validate_targets(y)
        self.task_weights_ = self._task_weights()
        sample_task = self._check_sample_task(sample_task, len(X), required=True)
        # Rows with no label for any task carry no loss.
        keep = (Y != UNLABELLED).any(axis=1)
        X, Y = X[keep], Y[keep]
        if sample_task is not None:
            sample_task = sample_task[keep]
            missing = np.setdiff1d(np.arange(self.n_tasks_), sample_task)
            if len(missing):
                raise ValueError(
                    f"sample_task has no row for task(s) {missing.tolist()}: their input "
                    "layers would never be trained"
                )
        with self._rng_context():
            probe = slice(0, min(len(X), 4))
            module = self._build_network(
                torch.as_tensor(X[probe]), None if sample_task is None else sample_task[probe]
            )
            X_net = X if sample_task is None else {"x": X, "task": sample_task}
            self.net_ = _MultiTaskNet(
                module=module,
                criterion=nn.CrossEntropyLoss,
                task_weights=torch.as_tensor(self.task_weights_, dtype=torch.float32),
                predict_nonlinearity=None,
                **self._net_params(batches_per_epoch=self._batches_per_epoch(len(X))),
            )
            self.net_.fit(X_net, Y)
        return self

    def _logits(self, X, sample_task):
        """Logits of every task, concatenated: (n_samples, sum of n_classes)."""
        check_is_fitted(self)
        sample_task = self._check_sample_task(sample_task, _num_samples(X), required=True)
        module = self.net_.module_
        if sample_task is None:
            return self._run_batches(lambda x: torch.cat(module(x), dim=1), X)
        tasks = torch.as_tensor(sample_task)
        start = 0

        def run(x):
            # _run_batches goes through the rows in order: follow it in sample_task.
            nonlocal start
            out = torch.cat(module(x, tasks[start : start + len(x)]), dim=1)
            start += len(x)
            return out

        return self._run_batches(run, X)

    def predict_proba(self, X, sample_task=None) -> np.ndarray | list[np.ndarray]:
        """Class probabilities of every task.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, ...)
            Rows to predict.
        sample_task : array-like of int of shape (n_samples,), default=None
            The input layer of each row; required with ``input_layers``.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes) or list of such arrays
            With a 1-D ``y`` in fit, one array; otherwise a list with one array
            per task, columns ordered as that task's ``classes_``.
        """
        logits = torch.as_tensor(self._logits(X, sample_task))
        classes = self.classes_ if self._multi_output else [self.classes_]
        sizes = [len(c) for c in classes]
        probas = [torch.softmax(part, dim=1).numpy() for part in torch.split(logits, sizes, dim=1)]
        return probas if self._multi_output else probas[0]

    def predict(self, X, sample_task=None) -> np.ndarray:
        """Predicted labels of every task.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, ...)
            Rows to predict.
        sample_task : array-like of int of shape (n_samples,), default=None
            The input layer of each row; required with ``input_layers``.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,) or (n_samples, n_tasks)
            One label per row with a 1-D ``y`` in fit; otherwise one column per task.
        """
        probas = self.predict_proba(X, sample_task)
        if not self._multi_output:
            return self.classes_[np.argmax(probas, axis=1)]
        return np.column_stack(
            [c[np.argmax(p, axis=1)] for c, p in zip(self.classes_, probas)]
        )

    def score(self, X, y, sample_weight=None, sample_task=None) -> float:
        """Mean accuracy over tasks, each on its labelled rows (``-1`` entries are ignored).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Test rows.
        y : array-like of shape (n_samples,) or (n_samples, n_tasks)
            True labels, ``-1`` where unknown; as many columns as in fit.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.
        sample_task : array-like of int of shape (n_samples,), default=None
            The input layer of each row; required with ``input_layers``.

        Returns
        -------
        score : float
            The mean, over the tasks with labelled rows, of the accuracy of
            ``predict(X)`` on the rows labelled for that task.
        """
        check_is_fitted(self)
        check_consistent_length(X, y, sample_weight, sample_task)
        y = np.asarray(y)
        if y.ndim == 2 and not self._multi_output and y.shape[1] == 1:
            y = y.ravel()
        n_columns = 1 if y.ndim == 1 else y.shape[1]
        if (y.ndim == 2) != self._multi_output or n_columns != self.n_tasks_:
            raise ValueError(
                f"y has shape {y.shape} but the estimator was fitted on "
                + (f"{self.n_tasks_} task column(s)" if self._multi_output else "a 1-D y")
            )
        y_pred = self.predict(X, sample_task)
        Y, P = (y[:, None], y_pred[:, None]) if y.ndim == 1 else (y, y_pred)
        weights = _check_sample_weight(sample_weight, Y)
        scores = []
        for t in range(Y.shape[1]):
            column = Y[:, t]
            if column.dtype == object and not any(isinstance(v, str) for v in column):
                column = np.asarray(column.tolist())
            labelled = _labelled_mask(column)
            if labelled.any():
                hit = (P[labelled, t] == column[labelled]).astype(float)
                scores.append(np.average(hit, weights=weights[labelled]))
        if not scores:
            raise ValueError("score needs labelled rows, but every entry of y is -1")
        return float(np.mean(scores))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags
