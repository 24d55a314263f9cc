"""Progressive neural networks (Rusu et al., 2016)."""

from __future__ import annotations

import copy
import numbers
from collections.abc import Sequence
from itertools import pairwise

import numpy as np
import torch
from skorch import NeuralNet
from torch import nn

from ..base import (
    UNLABELLED,
    TransferNetBase,
    _clone_keeping_fitted_input,
    _LabelledRowsClassifierMixin,
)

__all__ = ["ProgressiveNetClassifier"]


class _Column(nn.Module):
    """One column: an MLP whose layers also take lateral inputs from earlier columns.

    Layer ``i >= 1`` (hidden or output) computes
    ``W_i h_{i-1} + sum_j U_i^(j) h_{i-1}^(j)``: its own previous hidden layer
    plus a linear lateral connection from hidden layer ``i - 1`` of every earlier
    column ``j`` that has one (Rusu et al. 2016, eq. 1). The lateral weights
    start at zero.
    """

    def __init__(
        self,
        n_features_in: int,
        hidden_layer_sizes: Sequence[int],
        n_outputs: int,
        lateral_sizes: Sequence[Sequence[int]] = (),
        activation: type[nn.Module] = nn.ReLU,
        dropout: float = 0.0,
    ):
        super().__init__()
        self.hidden_layer_sizes = tuple(int(h) for h in hidden_layer_sizes)
        widths = [int(n_features_in), *self.hidden_layer_sizes, int(n_outputs)]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in pairwise(widths))
        self.laterals = nn.ModuleDict()
        for i in range(1, len(self.layers)):
            for j, sizes in enumerate(lateral_sizes):
                if len(sizes) >= i:
                    lateral = nn.Linear(int(sizes[i - 1]), widths[i + 1], bias=False)
                    # Zero at first: the new column starts as a column trained
                    # from scratch and learns how much to take from each earlier
                    # one (random laterals cost 2 points on MNIST -> USPS, 50 rows).
                    nn.init.zeros_(lateral.weight)
                    self.laterals[f"layer{i}_from{j}"] = lateral
        self.activation = activation()
        self.dropout = nn.Dropout(dropout)

    def forward(self, x, earlier_hiddens=()):
        hiddens = []
        h = x
        last = len(self.layers) - 1
        for i, layer in enumerate(self.layers):
            z = layer(h)
            for j, their in enumerate(earlier_hiddens):
                key = f"layer{i}_from{j}"
                if key in self.laterals:
                    z = z + self.laterals[key](their[i - 1])
            if i == last:
                return hiddens, z
            h = self.activation(z)
            hiddens.append(h)
            h = self.dropout(h)
        raise AssertionError("unreachable")  # pragma: no cover


class _ProgressiveModule(nn.Module):
    """Frozen earlier columns plus the trainable last one; returns the last column's logits."""

    def __init__(self, columns: nn.ModuleList, n_frozen: int):
        super().__init__()
        self.columns = columns
        self.n_frozen = n_frozen
        for column in list(columns)[:n_frozen]:
            column.requires_grad_(False)

    def train(self, mode: bool = True):
        super().train(mode)
        # Frozen columns always run as at prediction time (no dropout).
        for column in list(self.columns)[: self.n_frozen]:
            column.eval()
        return self

    def column_logits(self, x, k: int):
        earlier = []
        for column in list(self.columns)[: k + 1]:
            hiddens, logits = column(x, earlier)
            earlier.append(hiddens)
        return logits

    def forward(self, x):
        return self.column_logits(x, len(self.columns) - 1)


class _ProgressiveNet(NeuralNet):
    """skorch net that hands only the trainable (unfrozen) parameters to the optimiser."""

    def get_all_learnable_params(self):
        for name, param in super().get_all_learnable_params():
            if param.requires_grad:
                yield name, param


class ProgressiveNetClassifier(_LabelledRowsClassifierMixin, TransferNetBase):
    """Progressive neural network: one column per task, earlier columns frozen.

    Each task gets a new column (an MLP). Learning a new task never changes
    the earlier ones: their columns are copied and frozen, and each of their
    hidden layers feeds the next layer of the new column through a lateral
    connection, so the new task reuses what the earlier ones learnt without
    being able to spoil it (Rusu et al. 2016).

    A task is one fitted estimator: the first task is
    ``ProgressiveNetClassifier().fit(X1, y1)``, the next one
    ``ProgressiveNetClassifier(previous=first).fit(X2, y2)``, and so on; each
    estimator predicts its own task. The ``previous`` estimator is never
    modified, so its predictions stay exactly as they were.

    Parameters
    ----------
    previous : ProgressiveNetClassifier or None, default=None
        The fitted estimator of the previous task, or None for the first task.
        Its columns (its own and those it reused) are deep-copied and frozen
        (``requires_grad=False``, not given to the optimiser, always in eval
        mode). It must have been fitted on the same number of features.
        Cloning this estimator (e.g. in ``GridSearchCV``) keeps ``previous``
        as it is, fitted: it is an input, like pretrained weights.
    hidden_layer_sizes : sequence of int, default=(256, 128)
        Width of each hidden layer of the new column. It may differ from the
        earlier columns'; lateral connections are made between layers of the
        same depth that exist in both.
    activation : type of nn.Module, default=nn.ReLU
        Activation after each hidden layer of the new column.
    dropout : float, default=0.0
        Dropout probability after each hidden activation of the new column.
    max_epochs : int, default=100
        Passes over the training rows.
    batch_size : int, default=64
        Rows per training batch.
    lr : float, default=0.001
        Learning rate.
    optimizer : torch.optim.Optimizer class, default=torch.optim.Adam
        The optimiser of the new column; ``optimizer__*`` parameters are passed to it.
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
        ``optimizer__*``, ``iterator_train__*``, ``iterator_valid__*`` and
        ``callbacks__*`` parameters, as in skorch.

    Attributes
    ----------
    net_ : skorch.NeuralNet
        The trained net; ``net_.module_.columns`` holds every column, the
        frozen ones first.
    classes_ : ndarray of shape (n_classes,)
        The class labels of this task.
    n_columns_ : int
        Number of columns (tasks so far, this one included).
    n_features_in_ : int
        Number of input features.
    feature_names_in_ : ndarray of shape (n_features,)
        Names of the features seen in ``fit``, when ``X`` has string column names.

    See Also
    --------
    MultiTaskClassifier : learns all tasks at once, with shared layers.

    References
    ----------
    A. A. Rusu, N. C. Rabinowitz, G. Desjardins, H. Soyer, J. Kirkpatrick,
    K. Kavukcuoglu, R. Pascanu and R. Hadsell. Progressive Neural Networks.
    arXiv:1606.04671, 2016.

    Examples
    --------
    >>> import numpy as np
    >>> from sktransfer import ProgressiveNetClassifier
    >>> rng = np.random.RandomState(0)
    >>> X1, X2 = rng.normal(size=(80, 5)), rng.normal(size=(40, 5))
    >>> first = ProgressiveNetClassifier(max_epochs=5, random_state=0)
    >>> first = first.fit(X1, (X1[:, 0] > 0).astype(int))
    >>> second = ProgressiveNetClassifier(previous=first, max_epochs=5, random_state=0)
    >>> second = second.fit(X2, (X2[:, 1] > 0).astype(int))
    >>> second.n_columns_
    2
    >>> second.predict(X2[:4]).shape
    (4,)
    """

    _module_params = ()
    _iterator_train_class = None  # skorch's DataLoader

    def __init__(
        self,
        previous: ProgressiveNetClassifier | None = None,
        *,
        hidden_layer_sizes: Sequence[int] = (256, 128),
        activation: type[nn.Module] = nn.ReLU,
        dropout: float = 0.0,
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
        self.previous = previous
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.dropout = dropout
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.optimizer = optimizer
        self.callbacks = callbacks
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
        self._store_kwargs(kwargs)

    def __sklearn_clone__(self):
        # ``previous`` is a fitted input (like pretrained weights): a clone keeps
        # it as it is, where sklearn.base.clone would replace it by an unfitted copy.
        return _clone_keeping_fitted_input(self, "previous")

    def _check_params(self):
        self._check_common_params()
        sizes = self.hidden_layer_sizes
        if (
            isinstance(sizes, (str, bytes))
            or not isinstance(sizes, Sequence)
            or not all(isinstance(s, numbers.Integral) and not isinstance(s, bool) and s > 0 for s in sizes)
        ):
            raise ValueError(
                f"hidden_layer_sizes must be a sequence of positive integers, got {sizes!r}"
            )
        if not isinstance(self.dropout, numbers.Real) or not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must be a number in [0, 1), got {self.dropout!r}")
        if not (isinstance(self.activation, type) and issubclass(self.activation, nn.Module)):
            raise TypeError(f"activation must be a torch.nn.Module class, got {self.activation!r}")

    def _check_previous(self):
        previous = self.previous
        if previous is None:
            return None
        if not isinstance(previous, ProgressiveNetClassifier):
            raise TypeError(
                "previous must be a fitted ProgressiveNetClassifier (the estimator of the "
                f"previous task) or None, got {type(previous).__name__}"
            )
        if not hasattr(previous, "net_"):
            raise ValueError(
                "previous is not fitted: fit the ProgressiveNetClassifier of the previous "
                "task first, then pass it as previous"
            )
        return previous

    def fit(self, X, y) -> ProgressiveNetClassifier:
        """Train a new column on this task, with the earlier columns frozen.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training rows of this task.
        y : array-like of shape (n_samples,)
            Labels; rows with ``-1`` (no label) are ignored.

        Returns
        -------
        self : ProgressiveNetClassifier
            The fitted estimator.
        """
        self.__dict__.pop("net_", None)
        self._check_params()
        previous = self._check_previous()
        X, y_encoded, _ = self._validate_training_data(X, y)
        if X.ndim != 2:
            raise ValueError(
                f"{type(self).__name__} takes 2-D X (n_samples, n_features), got shape {X.shape}"
            )
        if previous is not None and previous.n_features_in_ != self.n_features_in_:
            raise ValueError(
                f"X has {self.n_features_in_} features, but previous was fitted on "
                f"{previous.n_features_in_}: every column of a progressive network "
                "takes the same input"
            )
        old_names = getattr(previous, "feature_names_in_", None) if previous is not None else None
        new_names = getattr(self, "feature_names_in_", None)
        if old_names is not None and new_names is not None and list(old_names) != list(new_names):
            raise ValueError(
                "X's columns are not the ones previous was fitted on (every column of a "
                "progressive network reads the same features, in the same order): "
                f"{list(new_names)} against {list(old_names)}"
            )
        labelled = y_encoded != UNLABELLED
        X, y_encoded = X[labelled], y_encoded[labelled]

        if previous is None:
            frozen = []
        else:
            frozen = [copy.deepcopy(c).cpu() for c in previous.net_.module_.columns]
        with self._rng_context():
            column = _Column(
                self.n_features_in_,
                self.hidden_layer_sizes,
                len(self.classes_),
                lateral_sizes=[c.hidden_layer_sizes for c in frozen],
                activation=self.activation,
                dropout=self.dropout,
            )
            module = _ProgressiveModule(nn.ModuleList([*frozen, column]), n_frozen=len(frozen))
            self.net_ = _ProgressiveNet(
                module=module,
                criterion=nn.CrossEntropyLoss,
                predict_nonlinearity=None,
                **self._net_params(),
            )
            self.net_.fit(X, y_encoded)
        self.n_columns_ = len(frozen) + 1
        return self

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities of this task.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Rows to predict.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Probability of each class, columns ordered as ``classes_``.
        """
        return self._run_batches(lambda x: torch.softmax(self.net_.module_(x), dim=1), X)

