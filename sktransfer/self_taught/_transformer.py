"""Self-taught learning: a representation learnt from unlabelled data."""

from __future__ import annotations

import numbers

import numpy as np
import torch
from numpy.lib.stride_tricks import sliding_window_view
from sklearn.base import ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.decomposition import MiniBatchDictionaryLearning, sparse_encode
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data
from skorch import NeuralNet
from skorch.utils import to_tensor
from torch import nn

from ..base import TransferNetBase, _check_positive_ints, _labelled_mask, _probe_module
from ..nn import MLP

__all__ = ["SelfTaughtTransformer"]

_METHODS = ("sparse_coding", "autoencoder")
_FIT_ON = ("unlabelled", "all")
_TRANSFORM_ALGORITHMS = ("lasso_lars", "lasso_cd", "omp", "threshold")


class _Autoencoder(nn.Module):
    """An encoder and a decoder; the forward pass returns ``(reconstruction, code)``."""

    def __init__(self, encoder: nn.Module, decoder: nn.Module):
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder

    def forward(self, x):
        code = self.encoder(x)
        return self.decoder(code), code


class _AutoencoderNet(NeuralNet):
    """skorch net whose loss is the sparse-coding objective of an autoencoder.

    Per row, ``0.5 * ||x - decoder(h)||^2 + alpha * ||h||_1`` with
    ``h = encoder(x)`` (the objective of sparse coding, with the codes given
    by the encoder), averaged over the rows of a batch. No targets: ``y`` is None.
    """

    def __init__(self, *args, alpha=0.0, **kwargs):
        super().__init__(*args, **kwargs)
        self.alpha = alpha

    def get_loss(self, y_pred, y_true, X=None, training=False):
        reconstruction, code = y_pred
        X = to_tensor(X, device=self.device)
        error = 0.5 * (reconstruction - X).pow(2).sum(dim=1).mean()
        if self.alpha:
            return error + self.alpha * code.abs().sum(dim=1).mean()
        return error


class SelfTaughtTransformer(ClassNamePrefixFeaturesOutMixin, TransformerMixin, TransferNetBase):
    """Self-taught learning: a representation learnt from unlabelled data.

    Learns a set of basis vectors (a dictionary) or an encoder from unlabelled
    data that need not share the classes or the distribution of the labelled
    task, then maps any data to its activations in that basis: the sparse
    codes, or the hidden layer of the autoencoder (Raina, Battle, Lee, Packer
    & Ng, *Self-taught learning: transfer learning from unlabeled data*,
    ICML 2007). A classifier trained on those activations needs fewer labels
    when the unlabelled data shows the structure of the inputs (strokes of
    handwritten characters, edges of natural images).

    With ``patch_size``, the representation is learnt, as in Raina et al.,
    on small image patches rather than on whole images: every patch of an
    image is encoded, and the codes are summed over a ``pooling_grid`` x
    ``pooling_grid`` grid of regions (Coates, Lee & Ng, AISTATS 2011), which
    makes the features tolerant to small shifts and stroke changes.

    Unlabelled rows are ``y == -1``: fitted on ``X, y``, the representation is
    learnt from the rows with ``y == -1`` (``fit_on="unlabelled"``) or from
    all rows (``fit_on="all"``); fitted with ``y=None``, from all rows. In a
    :class:`~sklearn.pipeline.Pipeline`, end with
    :class:`~sktransfer.LabelledOnly` so that the classifier is fitted on the
    labelled rows only and ``-1`` never becomes a class.

    Parameters
    ----------
    method : {"sparse_coding", "autoencoder"}, default="sparse_coding"
        ``"sparse_coding"``: learn a dictionary with scikit-learn's
        :class:`~sklearn.decomposition.MiniBatchDictionaryLearning` and
        transform with :func:`~sklearn.decomposition.sparse_encode`.
        ``"autoencoder"``: train an autoencoder with skorch (the net is
        ``net_``) and transform with its encoder.
    n_components : int, default=100
        Number of atoms of the dictionary, or width of the default encoder's
        hidden layer. At most the number of rows the representation is learnt
        from; more atoms than features (an overcomplete basis) is allowed.
    alpha : float, default=1.0
        Sparsity: the weight of the L1 penalty on the codes, in the objective
        ``0.5 * ||x - D h||^2 + alpha * ||h||_1`` per row. For the autoencoder
        the same penalty applies to the hidden activations (``0`` gives a plain
        autoencoder).
    transform_alpha : float or None, default=None
        Sparsity of the codes computed by ``transform`` (sparse coding only);
        None means ``alpha``. With ``transform_algorithm="omp"`` it is ignored.
    transform_algorithm : {"lasso_lars", "lasso_cd", "omp", "threshold"} or None, default=None
        Algorithm of :func:`~sklearn.decomposition.sparse_encode` (sparse
        coding only). None means ``"lasso_lars"`` for whole rows and
        ``"threshold"`` (soft thresholding of the atoms' responses, fast
        enough for every patch of every image) with ``patch_size``.
    fit_on : {"unlabelled", "all"}, default="unlabelled"
        Which rows the representation is learnt from when ``fit`` gets a
        ``y``: the unlabelled ones (``y == -1``, Raina et al.'s setting; an
        error if there are none) or all of them. Without ``y``, all rows.
    patch_size : int or None, default=None
        Learn the representation on ``patch_size`` x ``patch_size`` patches of
        the images instead of whole rows; needs ``image_shape``. Each patch is
        normalised (its mean removed, its contrast scaled to 1). Sparse codes
        are split into their positive and negative parts (2 features per
        atom), then pooled.
    image_shape : tuple of int or None, default=None
        ``(height, width)`` of the grey images that the rows of ``X`` flatten
        (row-major), for ``patch_size``.
    pooling_grid : int, default=2
        With ``patch_size``, the patch codes are summed over a
        ``pooling_grid`` x ``pooling_grid`` grid of image regions: the output
        has ``pooling_grid ** 2`` times the features of one patch.
    n_patches : int, default=20000
        With ``patch_size``, number of patches drawn at random from the
        unlabelled images to learn the representation from.
    max_iter : int, default=10
        Number of passes over the data of the dictionary learning.
    batch_size : int, default=256
        Rows per mini-batch, of the dictionary learning and of the autoencoder.
    module : type of nn.Module or nn.Module, default=None
        The encoder of the autoencoder (``module__*`` sets its parameters).
        None means :class:`~sktransfer.nn.MLP` with one hidden layer of
        ``n_components`` sigmoid units. The decoder is a linear layer back
        to the input width.
    max_epochs : int, default=50
        Epochs of the autoencoder.
    lr : float, default=1e-3
        Learning rate of the autoencoder.
    optimizer : type of torch.optim.Optimizer, default=torch.optim.Adam
        Optimiser of the autoencoder (``optimizer__*`` sets its parameters).
    device : str, default="cpu"
        Where to train the autoencoder.
    callbacks : list of skorch callbacks or None, default=None
        Added to the autoencoder's training loop.
    verbose : int, default=0
        ``0`` is silent; higher values print progress.
    random_state : int, RandomState instance or None, default=None
        Seed of the dictionary initialisation and of the autoencoder's weights
        and shuffling.
    **kwargs
        ``module__*``, ``optimizer__*``, ``iterator_train__*``,
        ``iterator_valid__*`` and ``callbacks__*`` parameters, as in skorch.

    Attributes
    ----------
    components_ : ndarray of shape (n_components, n_features)
        The dictionary atoms (sparse coding only); with ``patch_size``, of
        shape ``(n_components, patch_size ** 2)``.
    dictionary_learner_ : MiniBatchDictionaryLearning
        The fitted dictionary learner (sparse coding only).
    net_ : skorch.NeuralNet
        The trained autoencoder; ``net_.module_.encoder`` is the encoder
        (autoencoder only).
    n_components_ : int
        Width of the output of ``transform``.
    n_iter_ : int
        Passes over the data done: of the dictionary learning, or epochs of
        the autoencoder.
    n_features_in_ : int
        Number of features seen in ``fit``.
    feature_names_in_ : ndarray of shape (n_features,)
        Names of the features seen in ``fit``, when ``X`` has string column names.

    See Also
    --------
    LabelledOnly : fits the final classifier of a pipeline on labelled rows only.
    SelfTaughtClustering : clusters a target set with help of auxiliary data.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.svm import LinearSVC
    >>> from sktransfer import LabelledOnly, SelfTaughtTransformer
    >>> rng = np.random.RandomState(0)
    >>> X = rng.rand(60, 8)
    >>> y = np.full(60, -1)                 # 50 unlabelled rows
    >>> y[:10] = [0, 1] * 5                 # 10 labelled rows
    >>> pipe = make_pipeline(
    ...     SelfTaughtTransformer(n_components=12, alpha=0.1, random_state=0),
    ...     LabelledOnly(LinearSVC()),
    ... ).fit(X, y)
    >>> pipe.classes_
    array([0, 1])
    >>> pipe[0].transform(X).shape
    (60, 12)
    """

    # skorch's DataLoader for both
    _iterator_train_class = None
    _iterator_valid_class = None

    def __init__(
        self,
        method: str = "sparse_coding",
        n_components: int = 100,
        *,
        alpha: float = 1.0,
        transform_alpha: float | None = None,
        transform_algorithm: str | None = None,
        fit_on: str = "unlabelled",
        patch_size: int | None = None,
        image_shape: tuple[int, int] | None = None,
        pooling_grid: int = 2,
        n_patches: int = 20000,
        max_iter: int = 10,
        batch_size: int = 256,
        module=None,
        max_epochs: int = 50,
        lr: float = 1e-3,
        optimizer: type = torch.optim.Adam,
        device: str = "cpu",
        callbacks: list | None = None,
        verbose: int = 0,
        random_state=None,
        **kwargs,
    ):
        self.method = method
        self.n_components = n_components
        self.alpha = alpha
        self.transform_alpha = transform_alpha
        self.transform_algorithm = transform_algorithm
        self.fit_on = fit_on
        self.patch_size = patch_size
        self.image_shape = image_shape
        self.pooling_grid = pooling_grid
        self.n_patches = n_patches
        self.max_iter = max_iter
        self.batch_size = batch_size
        self.module = module
        self.max_epochs = max_epochs
        self.lr = lr
        self.optimizer = optimizer
        self.device = device
        self.callbacks = callbacks
        self.verbose = verbose
        self.random_state = random_state
        self._store_kwargs(kwargs)

    # ------------------------------------------------------------------
    def _check_params(self) -> None:
        if self.method not in _METHODS:
            raise ValueError(f"method must be one of {_METHODS}, got {self.method!r}")
        if self.fit_on not in _FIT_ON:
            raise ValueError(f"fit_on must be one of {_FIT_ON}, got {self.fit_on!r}")
        if self.transform_algorithm is not None and self.transform_algorithm not in _TRANSFORM_ALGORITHMS:
            raise ValueError(
                f"transform_algorithm must be one of {_TRANSFORM_ALGORITHMS}, "
                f"got {self.transform_algorithm!r}"
            )
        _check_positive_ints(self, ("n_components", "max_iter", "pooling_grid", "n_patches"))
        if not isinstance(self.alpha, numbers.Real) or not self.alpha >= 0:
            raise ValueError(f"alpha must be a non-negative number, got {self.alpha!r}")
        if self.transform_alpha is not None and (
            not isinstance(self.transform_alpha, numbers.Real) or not self.transform_alpha >= 0
        ):
            raise ValueError(
                f"transform_alpha must be None or a non-negative number, got {self.transform_alpha!r}"
            )
        if self.patch_size is not None:
            if (not isinstance(self.patch_size, numbers.Integral) or isinstance(self.patch_size, bool)
                    or self.patch_size < 1):
                raise ValueError(f"patch_size must be None or a positive integer, got {self.patch_size!r}")
            shape = self.image_shape
            if shape is None or len(tuple(shape)) != 2 or not all(
                isinstance(v, numbers.Integral) and v > 0 for v in shape
            ):
                raise ValueError(
                    "patch_size needs image_shape=(height, width) of the grey images "
                    f"that the rows of X flatten; got image_shape={shape!r}"
                )
            if self.patch_size > min(shape):
                raise ValueError(
                    f"patch_size={self.patch_size} is larger than the images {tuple(shape)}"
                )
            if self.pooling_grid > min(shape) - self.patch_size + 1:
                raise ValueError(
                    f"pooling_grid={self.pooling_grid} exceeds the grid of "
                    f"{min(shape) - self.patch_size + 1} patch positions per side"
                )
        elif self.image_shape is not None:
            raise ValueError("image_shape is only used with patch_size; set patch_size too")
        if self.method == "autoencoder":
            self._check_common_params()
        else:
            self._check_prefixed_params()
            if not isinstance(self.batch_size, numbers.Integral) or self.batch_size < 1:
                raise ValueError(f"batch_size must be a positive integer, got {self.batch_size!r}")

    def _representation_rows(self, X, y):
        """Validate ``X, y``; return the rows the representation is learnt from."""
        dtype = np.float32 if self.method == "autoencoder" else np.float64
        # the autoencoder hands the rows to torch, which needs them writable
        writeable = self.method == "autoencoder"
        if y is None:
            return validate_data(
                self, X, dtype=dtype, ensure_min_samples=2, force_writeable=writeable
            )
        X, y = validate_data(
            self, X, y, dtype=dtype, ensure_min_samples=2, y_numeric=False,
            ensure_all_finite=True, force_writeable=writeable,
        )
        if self.fit_on == "all":
            return X
        unlabelled = ~_labelled_mask(column_or_1d(y, warn=True))
        if not unlabelled.any():
            raise ValueError(
                "SelfTaughtTransformer found no unlabelled rows (y == -1) to learn the "
                "representation from (fit_on='unlabelled'). Mark the unlabelled rows "
                "with y == -1, fit with y=None to learn from all rows, or set "
                "fit_on='all'."
            )
        return X[unlabelled]

    def fit(self, X, y=None) -> SelfTaughtTransformer:
        """Learn the representation from the unlabelled rows.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Unlabelled data, possibly stacked with labelled data.
        y : array-like of shape (n_samples,) or None, default=None
            Labels, ``-1`` for unlabelled rows. None: all rows are unlabelled.

        Returns
        -------
        self : SelfTaughtTransformer
            The fitted transformer.
        """
        for name in ("net_", "components_", "dictionary_learner_"):
            self.__dict__.pop(name, None)
        self._check_params()
        U = self._representation_rows(X, y)
        if self.patch_size is not None:
            U = self._random_patches(U)
        if U.shape[0] < 2:
            raise ValueError(
                f"SelfTaughtTransformer needs at least 2 rows to learn the representation "
                f"from; got {U.shape[0]}"
            )
        if self.method == "sparse_coding" and self.n_components > U.shape[0]:
            # (an autoencoder's code width, or a custom encoder, has no such limit)
            raise ValueError(
                f"n_components={self.n_components} is larger than the number of rows "
                f"the representation is learnt from ({U.shape[0]}): at most one atom per "
                f"row is sensible, so use n_components <= {U.shape[0]} (an overcomplete "
                f"basis, wider than the {U.shape[1]} features, is fine)"
            )
        if self.method == "sparse_coding":
            self._fit_dictionary(U)
        else:
            self._fit_autoencoder(U)
        self._n_code = self.n_components_
        if self.patch_size is not None:
            polarity = 2 if self.method == "sparse_coding" else 1
            self.n_components_ = self._n_code * polarity * self.pooling_grid**2
        return self

    # ------------------------------------------------------------------
    # patches
    # ------------------------------------------------------------------
    def _check_image_width(self, X) -> None:
        height, width = self.image_shape
        if X.shape[1] != height * width:
            raise ValueError(
                f"image_shape={tuple(self.image_shape)} needs rows of {height * width} "
                f"pixels, but X has {X.shape[1]} columns"
            )

    def _patch_grid(self, X) -> np.ndarray:
        """Every patch of every image: ``(n, rows, cols, patch_size ** 2)``, normalised."""
        p = self.patch_size
        images = X.reshape(len(X), *self.image_shape)
        patches = sliding_window_view(images, (p, p), axis=(1, 2))
        patches = patches.reshape(*patches.shape[:3], p * p)
        return _normalise_patches(patches)

    def _random_patches(self, U) -> np.ndarray:
        self._check_image_width(U)
        grid = self._patch_grid(U)
        flat = grid.reshape(-1, grid.shape[-1])
        rng = check_random_state(self.random_state)
        if len(flat) > self.n_patches:
            flat = flat[rng.choice(len(flat), self.n_patches, replace=False)]
        return np.ascontiguousarray(flat, dtype=U.dtype)

    def _pooled_codes(self, X, encode) -> np.ndarray:
        """Encode every patch with ``encode`` and sum the codes over the pooling grid."""
        self._check_image_width(X)
        out = []
        for start in range(0, len(X), 256):
            grid = self._patch_grid(X[start : start + 256])
            n, rows, cols, size = grid.shape
            codes = np.asarray(encode(np.ascontiguousarray(grid.reshape(-1, size), dtype=X.dtype)))
            if self.method == "sparse_coding":
                codes = np.concatenate([np.maximum(codes, 0), np.maximum(-codes, 0)], axis=1)
            codes = codes.reshape(n, rows, cols, -1)
            g = self.pooling_grid
            row_edges = np.linspace(0, rows, g + 1).round().astype(int)
            col_edges = np.linspace(0, cols, g + 1).round().astype(int)
            pooled = [
                codes[:, row_edges[i] : row_edges[i + 1], col_edges[j] : col_edges[j + 1]].sum(axis=(1, 2))
                for i in range(g)
                for j in range(g)
            ]
            out.append(np.concatenate(pooled, axis=1))
        return np.concatenate(out)

    def _fit_dictionary(self, U):
        learner = MiniBatchDictionaryLearning(
            n_components=self.n_components,
            alpha=self.alpha,
            max_iter=self.max_iter,
            batch_size=min(self.batch_size, U.shape[0]),
            transform_algorithm=self._algorithm(),
            transform_alpha=self._transform_alpha(),
            random_state=self.random_state,
            verbose=bool(self.verbose),
        )
        self.dictionary_learner_ = learner.fit(U)
        self.components_ = learner.components_
        self.n_components_ = self.components_.shape[0]
        self.n_iter_ = int(learner.n_iter_)

    def _fit_autoencoder(self, U):
        with self._rng_context():
            encoder = self._build_module(
                "module",
                MLP,
                {"hidden_layer_sizes": (self.n_components,), "activation": nn.Sigmoid},
                n_features_in=U.shape[1],
            )
            code = _probe_module(encoder, torch.as_tensor(U[: min(len(U), 4)]), "module (the encoder)")
            if code.dim() != 2:
                raise ValueError(
                    "module (the encoder) must output a 2-D tensor (n_samples, n_components)"
                )
            self.n_components_ = int(code.shape[1])
            decoder = nn.Linear(self.n_components_, U.shape[1])
            self.net_ = _AutoencoderNet(
                module=_Autoencoder(encoder, decoder),
                criterion=nn.MSELoss,  # unused: get_loss computes the objective
                alpha=float(self.alpha),
                **self._net_params(),
            )
            self.net_.fit(U, None)
        self.n_iter_ = len(self.net_.history)

    def _transform_alpha(self) -> float:
        return self.alpha if self.transform_alpha is None else self.transform_alpha

    def transform(self, X):
        """Map ``X`` to its activations: sparse codes or hidden-layer outputs.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Rows of any domain.

        Returns
        -------
        codes : ndarray of shape (n_samples, n_features_out)
            float64 sparse codes, or float32 activations of the encoder
            (pooled over the image regions with ``patch_size``);
            ``n_features_out`` is ``n_components_``.
        """
        check_is_fitted(self)
        on_torch = hasattr(self, "net_")  # the autoencoder: torch needs writable rows
        X = validate_data(
            self, X, reset=False, dtype=np.float32 if on_torch else np.float64,
            force_writeable=on_torch,
        )
        if self.patch_size is not None:
            return self._pooled_codes(X, self._encode)
        return self._encode(X)

    def _encode(self, X):
        if hasattr(self, "net_"):
            return self._run_validated_batches(self.net_.module_.encoder, X)
        kwargs = {"alpha": self._transform_alpha()}
        if self._algorithm() == "omp":
            kwargs = {"n_nonzero_coefs": None, "alpha": None}
        return sparse_encode(
            X, self.components_, algorithm=self._algorithm(), n_jobs=None, **kwargs
        )

    def _algorithm(self) -> str:
        if self.transform_algorithm is not None:
            return self.transform_algorithm
        return "lasso_lars" if self.patch_size is None else "threshold"

    @property
    def _n_features_out(self):
        return self.n_components_

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "net_") or hasattr(self, "components_")

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        dtype = "float32" if self.method == "autoencoder" else "float64"
        tags.transformer_tags.preserves_dtype = [dtype]
        return tags


def _normalise_patches(patches: np.ndarray) -> np.ndarray:
    """Remove each patch's mean and scale its contrast (Coates et al., 2011)."""
    centred = patches - patches.mean(axis=-1, keepdims=True)
    return centred / np.sqrt(centred.var(axis=-1, keepdims=True) + 0.01)
