"""Zero-shot classification through a joint embedding of inputs and classes."""

from __future__ import annotations

import numbers

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.base import ClassifierMixin
from sklearn.utils.validation import check_is_fitted, validate_data
from skorch import NeuralNet
from torch import nn

from ..base import TransferNetBase, _is_finite_real, _probe_module
from ..nn import MLP
from ._common import _validate_fit_data, _ZeroShotMixin

__all__ = ["EmbeddingZeroShotClassifier"]

_METHODS = ("eszsl", "ranking")


class _JointEmbedding(nn.Module):
    """``f`` embeds inputs, ``g`` class descriptions; scores are cosine similarities.

    ``forward(x)`` scores ``x`` against the classes of the buffer ``classes``
    (the seen classes while training).
    """

    def __init__(self, input_module, class_module, classes):
        super().__init__()
        self.input_module = input_module
        self.class_module = class_module
        self.register_buffer("classes", torch.as_tensor(classes, dtype=torch.float32))

    def embed_inputs(self, x):
        return F.normalize(self.input_module(x), dim=1)

    def embed_classes(self, s):
        return F.normalize(self.class_module(s), dim=1)

    def forward(self, x):
        return self.embed_inputs(x) @ self.embed_classes(self.classes).T


class _RankingLoss(nn.Module):
    """``mean_n max(0, margin - s(x_n, y_n) + max_{m != y_n} s(x_n, m))``."""

    def __init__(self, margin: float = 0.2):
        super().__init__()
        self.margin = margin

    def forward(self, scores, y):
        y = y.long()
        positive = scores.gather(1, y[:, None]).squeeze(1)
        own = F.one_hot(y, scores.shape[1]).bool()
        hardest = scores.masked_fill(own, float("-inf")).max(dim=1).values
        return F.relu(self.margin - positive + hardest).mean()


class EmbeddingZeroShotClassifier(_ZeroShotMixin, ClassifierMixin, TransferNetBase):
    """Zero-shot classification by a compatibility between inputs and class descriptions.

    Inputs and class descriptions (attributes or word embeddings) are mapped
    into one space, ``f(x)`` and ``g(s)``; an input gets the candidate class
    whose description is the most compatible. Two ways to learn the maps:

    - ``method="ranking"``: ``f`` and ``g`` are torch modules trained with
      skorch on the seen classes to minimise the ranking (hinge) loss
      ``sum_n max(0, margin - f(x_n).g(y_n) + max_{m != y_n} f(x_n).g(y_m))``,
      on L2-normalised embeddings (cosine scores, so the margin has a fixed
      scale);
    - ``method="eszsl"``: the closed-form bilinear compatibility
      ``x^T V s`` of ESZSL (Romera-Paredes & Torr, 2015),
      ``V = (X^T X + alpha I)^{-1} X^T Y S (S^T S + beta I)^{-1}``, fast and
      a strong baseline; the network parameters are then unused.

    Parameters
    ----------
    class_embeddings : DataFrame, dict or array-like of shape (n_classes, n_dims)
        One description per class, seen and unseen (see
        :class:`AttributeZeroShotClassifier` for the accepted forms).
    method : {"ranking", "eszsl"}, default="ranking"
        How the compatibility is learnt.
    mode : {"zsl", "gzsl"}, default="zsl"
        Predict among the unseen classes only, or among all classes.
    calibration : float, default=0.0
        Subtracted from the scores of the seen classes with ``mode="gzsl"``
        (calibrated stacking, Chao et al., 2016).
    alpha : float, default=1.0
        ESZSL ridge penalty on the input side (``gamma`` in the paper).
    beta : float, default=1.0
        ESZSL ridge penalty on the class side (``lambda`` in the paper).
    margin : float, default=0.2
        Margin ``k`` of the ranking loss (cosine scores lie in [-1, 1]).
    embedding_dim : int, default=64
        Width of the joint space of the default ``f`` and ``g``.
    module : nn.Module class or instance, default=None
        ``f``, the input embedding. None means a linear map
        (:class:`sktransfer.nn.MLP` with no hidden layer) to
        ``embedding_dim``; ``module__*`` parameters override it.
    class_module : nn.Module class or instance, default=None
        ``g``, the class embedding: maps ``(n_classes, n_dims)`` to the
        joint space. None means a linear map to ``embedding_dim``.
    max_epochs : int, default=50
        Passes over the training data (ranking).
    batch_size : int, default=64
        Rows per batch (ranking).
    lr : float, default=0.001
        Learning rate (ranking).
    optimizer : torch.optim.Optimizer class, default=torch.optim.Adam
        The optimiser; ``optimizer__*`` parameters are passed to it.
    callbacks : list of skorch callbacks, default=None
        Extra skorch callbacks (copied at fit time).
    device : str or torch.device, default="cpu"
        Where to train and predict.
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation and batch shuffling.
    verbose : int, default=0
        If positive, print the loss of every epoch.
    **kwargs
        ``module__*``, ``class_module__*``, ``optimizer__*``,
        ``iterator_train__*``, ``iterator_valid__*`` and ``callbacks__*``.

    Attributes
    ----------
    net_ : skorch.NeuralNet
        The trained net (``method="ranking"``); ``net_.history`` holds the
        ``train_loss`` of every epoch.
    coef_ : ndarray of shape (n_features, n_dims)
        The ESZSL matrix ``V`` (``method="eszsl"``).
    classes_ : ndarray of shape (n_classes,)
        The classes ``predict`` can return (the candidates).
    seen_classes_, unseen_classes_, table_classes_ : ndarray
        Classes of ``y``, rows of the table absent from ``y``, and all rows.
    n_features_in_ : int
        Number of input features.
    feature_names_in_ : ndarray of shape (n_features,)
        Names of the features seen in ``fit``, when ``X`` has string column names.

    See Also
    --------
    AttributeZeroShotClassifier : direct attribute prediction.
    ConSEClassifier : convex combination of seen-class embeddings.

    References
    ----------
    B. Romera-Paredes and P. H. S. Torr. An embarrassingly simple approach
    to zero-shot learning. ICML 2015.

    A. Frome, G. S. Corrado, J. Shlens, S. Bengio, J. Dean, M. Ranzato and
    T. Mikolov. DeViSE: A Deep Visual-Semantic Embedding Model. NIPS 2013.

    Examples
    --------
    >>> import numpy as np
    >>> from sktransfer import EmbeddingZeroShotClassifier
    >>> emb = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0], [0, 1, 1]], dtype=float)
    >>> rng = np.random.RandomState(0)
    >>> y = np.repeat([0, 1, 2], 30)
    >>> X = emb[y] + 0.1 * rng.randn(90, 3)
    >>> clf = EmbeddingZeroShotClassifier(emb, method="eszsl").fit(X, y)
    >>> clf.classes_
    array([3, 4])
    >>> clf.predict([[1, 1, 0], [0, 1, 1]])
    array([3, 4])
    """

    _module_params = ("module", "class_module")
    _table_param = "class_embeddings"

    # skorch's DataLoader for both
    _iterator_train_class = None
    _iterator_valid_class = None

    def __init__(
        self,
        class_embeddings=None,
        *,
        method: str = "ranking",
        mode: str = "zsl",
        calibration: float = 0.0,
        alpha: float = 1.0,
        beta: float = 1.0,
        margin: float = 0.2,
        embedding_dim: int = 64,
        module=None,
        class_module=None,
        max_epochs: int = 50,
        batch_size: int = 64,
        lr: float = 0.001,
        optimizer=torch.optim.Adam,
        callbacks=None,
        device="cpu",
        random_state=None,
        verbose: int = 0,
        **kwargs,
    ):
        self.class_embeddings = class_embeddings
        self.method = method
        self.mode = mode
        self.calibration = calibration
        self.alpha = alpha
        self.beta = beta
        self.margin = margin
        self.embedding_dim = embedding_dim
        self.module = module
        self.class_module = class_module
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.optimizer = optimizer
        self.callbacks = callbacks
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
        self._store_kwargs(kwargs)

    def _check_params(self):
        if self.method not in _METHODS:
            raise ValueError(f"method must be one of {_METHODS}, got {self.method!r}")
        for name in ("alpha", "beta", "margin"):
            value = getattr(self, name)
            if not (_is_finite_real(value) and value >= 0):
                raise ValueError(f"{name} must be a non-negative finite number, got {value!r}")
        if (
            not isinstance(self.embedding_dim, numbers.Integral)
            or isinstance(self.embedding_dim, bool)
            or self.embedding_dim < 1
        ):
            raise ValueError(f"embedding_dim must be a positive integer, got {self.embedding_dim!r}")
        if self.method == "ranking":
            self._check_common_params()
        else:
            self._check_prefixed_params()

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "net_") or hasattr(self, "coef_")

    def fit(self, X, y) -> EmbeddingZeroShotClassifier:
        """Learn the compatibility from the seen classes.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Rows of the seen classes.
        y : array-like of shape (n_samples,)
            Their classes; each must have a row in ``class_embeddings``.
            Rows with ``y == -1`` (unlabelled) are skipped.

        Returns
        -------
        self : EmbeddingZeroShotClassifier
            The fitted estimator.
        """
        for name in ("net_", "coef_"):
            self.__dict__.pop(name, None)
        self._check_params()
        X, y = _validate_fit_data(self, X, y)
        seen_table = self._setup_classes(y)
        _, y_idx = np.unique(y, return_inverse=True)
        if self.method == "eszsl":
            self.coef_ = _eszsl(X, y_idx, seen_table, self.alpha, self.beta)
            return self
        X32 = X.astype(np.float32)
        with self._rng_context():
            f = self._build_module(
                "module",
                MLP,
                {"hidden_layer_sizes": (), "n_outputs": self.embedding_dim},
                n_features_in=self.n_features_in_,
            )
            fx = _probe_module(f, torch.as_tensor(X32[: min(len(X32), 4)]), "module")
            g = self._build_module(
                "class_module",
                MLP,
                {"hidden_layer_sizes": (), "n_outputs": self.embedding_dim},
                n_features_in=seen_table.shape[1],
            )
            gs = _probe_module(
                g, torch.as_tensor(seen_table[:2], dtype=torch.float32), "class_module"
            )
            if fx.dim() != 2 or gs.dim() != 2 or fx.shape[1] != gs.shape[1]:
                raise ValueError(
                    "module and class_module must map into one space: module gave "
                    f"shape {tuple(fx.shape)}, class_module gave {tuple(gs.shape)} for "
                    f"class_embeddings of width {seen_table.shape[1]}"
                )
            params = self._net_params()
            self.net_ = NeuralNet(
                module=_JointEmbedding(f, g, seen_table),
                criterion=_RankingLoss,
                criterion__margin=float(self.margin),
                predict_nonlinearity=None,
                **params,
            )
            self.net_.fit(X32, y_idx.astype(np.int64))
        return self

    def transform_semantic(self, X) -> np.ndarray:
        """Embed inputs into the joint space (``f(x)``; ``x^T V`` for ESZSL).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Rows to embed.

        Returns
        -------
        embedding : ndarray of shape (n_samples, n_joint_dims)
            The input embeddings.
        """
        check_is_fitted(self)
        if hasattr(self, "coef_"):  # fitted by ESZSL (whatever method says since set_params)
            X = validate_data(self, X, reset=False, dtype=np.float64)
            return X @ self.coef_
        return self._run_batches(self.net_.module_.embed_inputs, X)

    def _raw_scores(self, X) -> np.ndarray:
        emb = self.transform_semantic(X)
        if hasattr(self, "coef_"):
            return emb @ self._table_values.T
        module = self.net_.module_
        with torch.inference_mode():
            table = torch.as_tensor(self._table_values, dtype=torch.float32, device=self.net_.device)
            classes = module.embed_classes(table).float().cpu().numpy()
        return emb @ classes.T


def _eszsl(X, y_idx, S, alpha, beta):
    """ESZSL's closed form ``(X^T X + a I)^-1 X^T Y S (S^T S + b I)^-1``.

    ``S`` is ``(n_seen, n_dims)``; ``Y`` is ``+1`` for the true class, ``-1``
    elsewhere. Solved in the dual when there are more features than rows.
    """
    n, d = X.shape
    Y = -np.ones((n, len(S)))
    Y[np.arange(n), y_idx] = 1.0
    try:
        right = np.linalg.solve(S.T @ S + beta * np.eye(S.shape[1]), (Y @ S).T).T  # (n, a)
    except np.linalg.LinAlgError:
        raise ValueError(
            f"method='eszsl' with beta={beta!r}: S^T S + beta I is singular (the "
            f"{len(S)} seen classes' descriptions do not span their {S.shape[1]} "
            "dimensions); use beta > 0"
        ) from None
    try:
        if d <= n:
            return np.linalg.solve(X.T @ X + alpha * np.eye(d), X.T @ right)
        return X.T @ np.linalg.solve(X @ X.T + alpha * np.eye(n), right)
    except np.linalg.LinAlgError:
        raise ValueError(
            f"method='eszsl' with alpha={alpha!r}: the input-side system is singular "
            f"({n} rows, {d} features, collinear or too few rows); use alpha > 0"
        ) from None
