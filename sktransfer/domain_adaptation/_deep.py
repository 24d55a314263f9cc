"""Deep CORAL, DAN, CDAN and MCC: deep domain adaptation classifiers beside DANN.

All share :class:`~sktransfer.domain_adaptation._deep_base._DeepDABase` with
:class:`~sktransfer.DANNClassifier`: the same network (feature extractor and
label predictor), paired source/target batches, schedules and history. Each
defines only its alignment loss and the modules that loss needs.
"""

from __future__ import annotations

import math
import numbers

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted
from skorch.callbacks import Callback
from torch import nn

from ..base import _is_finite_real
from ._deep_base import (
    _MCC_BATCH_REASON,
    _MCC_ONE_ROW_WHY,
    _AdversarialModule,
    _DeepDABase,
    _DeepDAModule,
    _DiscrepancyModule,
    _with_mcc_params_doc,
)
from ._losses import (
    DEFAULT_KERNEL_SCALES,
    _kernel_tensors,
    _mk_mmd_losses,
    coral_loss,
    entropy,
    mcc_loss,
    mk_mmd_kernel_weights,
)

__all__ = ["DeepCORALClassifier", "DANClassifier", "CDANClassifier", "MCCClassifier"]

#: Above this many entries of the full multilinear map (features x classes),
#: ``multilinear_map="auto"`` switches to the randomised map (CDAN paper, 4096).
_MAX_FULL_MULTILINEAR = 4096
#: Rows of each domain drawn to estimate DAN's kernel weights before an epoch.
_KERNEL_WEIGHT_ROWS = 1024


# ----------------------------------------------------------------------
# modules
# ----------------------------------------------------------------------
class _CORALModule(_DiscrepancyModule):
    name = "coral_loss"

    def discrepancy(self, source, target):
        return coral_loss(source, target)


class _MMDModule(_DeepDAModule):
    """MK-MMD between the source and target features, and optionally the logits.

    ``kernel_weights`` holds one entry per aligned layer (the features, then
    the logits): None averages the kernels; a tuple of plain floats (set
    before every epoch with ``kernel_weights="test_power"``) weighs them. The
    kernels' tensors are built on the device once per change of weights, so
    no batch copies anything to the device. ``mmd_loss`` is the sum over the
    layers, ``logit_mmd_loss`` the logits' part.
    """

    name = "mmd_loss"

    def __init__(
        self, feature_extractor, label_predictor, kernel_scales, align_logits=False, adapt=True
    ):
        super().__init__(feature_extractor, label_predictor, adapt)
        self.kernel_scales = tuple(float(s) for s in kernel_scales)
        self.align_logits = align_logits
        self.kernel_weights = [None, None] if align_logits else [None]

    def aligned_layers(self, features, label_logits):
        return (features, label_logits) if self.align_logits else (features,)

    def _kernels(self, device, dtype):
        key = (device, dtype, tuple(self.kernel_weights))
        if self.__dict__.get("_kernels_key") != key:
            self._kernels_cache = _kernel_tensors(
                self.kernel_scales, self.kernel_weights, device, dtype
            )
            self._kernels_key = key
        return self._kernels_cache

    def alignment_loss(self, features, label_logits, domains):
        is_target = domains == 1
        layers = [
            (x[~is_target], x[is_target]) for x in self.aligned_layers(features, label_logits)
        ]
        values = _mk_mmd_losses(layers, *self._kernels(features.device, features.dtype))
        value = values.sum()
        parts = {self.name: value.detach()}
        if self.align_logits:
            parts["logit_mmd_loss"] = values[1].detach()
        return self.coef * value, parts


class _MCCModule(_DeepDAModule):
    """The minimum class confusion loss of the target rows' logits."""

    name = "mcc_loss"

    def __init__(self, feature_extractor, label_predictor, temperature, adapt=True):
        super().__init__(feature_extractor, label_predictor, adapt)
        self.temperature = float(temperature)

    def alignment_loss(self, features, label_logits, domains):
        value = mcc_loss(label_logits[domains == 1], self.temperature)
        return self.coef * value, {self.name: value.detach()}

    def extra_repr(self):
        return f"temperature={self.temperature}"


class _TestPowerKernelWeights(Callback):
    """Before every epoch, set DAN's kernel weights to those of highest test power.

    The weights of each aligned layer are estimated by
    :func:`mk_mmd_kernel_weights` on that layer's outputs for up to
    ``max_rows`` rows of each domain drawn at random from the training data,
    and recorded per epoch as ``kernel_weights``. The outputs are computed as
    the loss sees them, in training mode (dropout on: it changes the
    bandwidth), without gradients; the module's buffers (batch-norm
    statistics) and the global torch RNG are left as they were, so that the
    training batches and dropout masks are those of ``kernel_weights="uniform"``
    at the same seed. The draws come from ``seed``. The training data is held
    only while training.
    """

    def __init__(self, seed, max_rows=_KERNEL_WEIGHT_ROWS):
        self.seed = seed
        self.max_rows = max_rows

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        domains = np.asarray(y)[:, 1]
        self.X_ = X
        self.rows_ = (np.flatnonzero(domains == 0), np.flatnonzero(domains == 1))
        self.rng_ = np.random.default_rng(self.seed)

    def _layers(self, net, rows):
        """The aligned layers' outputs for up to ``max_rows`` random rows of ``rows``."""
        rows = self.rng_.permutation(rows)[: self.max_rows]
        module = net.module_
        outputs = []
        for i in range(0, len(rows), 256):
            features = module.feature_extractor(
                torch.as_tensor(self.X_[rows[i : i + 256]]).to(net.device)
            )
            outputs.append(module.aligned_layers(features, module.label_predictor(features)))
        return [torch.cat(layer) for layer in zip(*outputs)]

    def on_epoch_begin(self, net, **kwargs):
        module = net.module_
        was_training = module.training
        buffers = {name: b.clone() for name, b in module.named_buffers()}
        device = torch.device(net.device)
        devices = [device.index or 0] if device.type == "cuda" else []
        try:
            with torch.random.fork_rng(devices=devices), torch.no_grad():
                torch.manual_seed(int(self.rng_.integers(np.iinfo(np.int32).max)))
                module.train()
                source, target = (self._layers(net, rows) for rows in self.rows_)
        finally:
            module.train(was_training)
            with torch.no_grad():
                for name, b in module.named_buffers():
                    b.copy_(buffers[name])
        module.kernel_weights = [
            tuple(float(w) for w in mk_mmd_kernel_weights(s, t, module.kernel_scales))
            for s, t in zip(source, target)
        ]

    def on_epoch_end(self, net, **kwargs):
        net.history.record("kernel_weights", [list(w) for w in net.module_.kernel_weights])

    def on_train_end(self, net, **kwargs):
        self.forget_training_data()

    def forget_training_data(self):
        """Drop the training data (the net, and so this callback, is pickled)."""
        for name in ("X_", "rows_", "rng_"):
            self.__dict__.pop(name, None)


class _MultilinearMap(nn.Module):
    """``f ⊗ g`` flattened, or its randomised form ``(R_f f) ⊙ (R_g g) / sqrt(d)``.

    The random matrices (standard normal, fixed) are buffers: saved and moved
    with the module, never trained.
    """

    def __init__(self, n_features, n_classes, random_dim=None):
        super().__init__()
        self.random_dim = random_dim
        if random_dim is not None:
            self.register_buffer("random_features", torch.randn(n_features, random_dim))
            self.register_buffer("random_classes", torch.randn(n_classes, random_dim))

    def forward(self, features, proba):
        if self.random_dim is None:
            return (proba.unsqueeze(2) * features.unsqueeze(1)).flatten(1)
        return (features @ self.random_features) * (proba @ self.random_classes) / math.sqrt(
            self.random_dim
        )

    def extra_repr(self):
        return "full" if self.random_dim is None else f"random_dim={self.random_dim}"


class _CDANModule(_AdversarialModule):
    """The domain classifier sees the multilinear map of features and predictions.

    The predictions are not differentiated through (as in the authors' code);
    with entropy conditioning each row of the domain loss is weighted by
    ``1 + exp(-H(p))``, normalised to mean 1 within each domain of the batch.
    """

    def __init__(
        self, feature_extractor, label_predictor, domain_classifier, multilinear_map,
        entropy_conditioning=True, adapt=True,
    ):
        super().__init__(feature_extractor, label_predictor, domain_classifier, adapt)
        self.multilinear_map = multilinear_map
        self.entropy_conditioning = entropy_conditioning

    def discriminator_input(self, features, label_logits):
        return self.multilinear_map(features, torch.softmax(label_logits.detach(), dim=1))

    def row_weights(self, label_logits, domains):
        if not self.entropy_conditioning:
            return None
        weights = 1.0 + torch.exp(-entropy(torch.softmax(label_logits.detach(), dim=1)))
        is_target = (domains == 1).float()
        target_mean = (weights * is_target).sum() / is_target.sum().clamp_min(1.0)
        source_mean = (weights * (1 - is_target)).sum() / (1 - is_target).sum().clamp_min(1.0)
        return weights / (is_target * target_mean + (1 - is_target) * source_mean)


# ----------------------------------------------------------------------
# estimators
# ----------------------------------------------------------------------
@_with_mcc_params_doc("Deep CORAL")
class DeepCORALClassifier(_DeepDABase):
    """Deep CORAL classifier: align the covariances of source and target features.

    A feature extractor feeds a label predictor trained on the labelled rows;
    the CORAL loss, the squared Frobenius distance between the covariance
    matrices of the source and the target features divided by ``4 d**2``
    (``d`` the feature width), is added to the class loss with weight
    ``coral_weight`` (Sun & Saenko, ECCV-W 2016). Matching these second-order
    statistics makes the features, and so the label predictor, carry over
    from the source to the target domain.

    Fit on the rows of both domains with ``y == -1`` on the unlabelled target
    rows; every training batch holds half source rows, half target rows.

    Parameters
    ----------
    module : nn.Module class or instance, default=None
        The feature extractor. A class is built with ``module__*`` parameters
        (and ``n_features_in`` from the data if it accepts one); an instance is
        deep-copied. None means :class:`sktransfer.nn.MLP` with one hidden
        layer of 256 units and dropout 0.5 (``module__*`` parameters override
        these). Its output must be 2-D: ``(n_samples, n_features)``.
    label_predictor : nn.Module class or instance, default=None
        Maps features to class logits ``(n_samples, n_classes)``. A class gets
        ``n_features_in`` and ``n_outputs`` if it accepts them. None means
        :class:`sktransfer.nn.MLP` with no hidden layer (a linear layer).
    coral_weight : float, default=1.0
        Final weight of the CORAL loss. With 0 (and ``mcc_weight=0``) the
        features are trained for the labels alone: the same network and
        training without adaptation, a source-only baseline. Too large a
        weight can collapse the features; 1 is also skada's default.
    weight_schedule : {"dann", "constant"}, default="dann"
        ``"dann"`` grows the weight as ``coral_weight * (2 / (1 + exp(-10 p)) - 1)``
        with training progress ``p`` in [0, 1] (the schedule of DANN's
        adaptation factor); ``"constant"`` uses ``coral_weight`` throughout, as
        in the paper.
    {mcc_params}
    lr_schedule : {"constant", "dann"}, default="constant"
        ``"dann"`` anneals the learning rate as ``lr / (1 + 10 p) ** 0.75``.
    no_target : {"raise", "source_only"}, default="raise"
        What to do when the training data has no target row: raise a
        ``ValueError``, or train the label predictor alone.
    max_epochs : int, default=200
        Passes over the larger domain.
    batch_size : int, default=64
        Rows per training batch (half source, half target); at least 4, for a
        covariance of each domain.
    lr : float, default=0.01
        Initial learning rate.
    optimizer : torch.optim.Optimizer class, default=torch.optim.SGD
        The optimiser; ``optimizer__*`` parameters are passed to it. With SGD,
        the momentum defaults to 0.9 unless ``optimizer__momentum`` is given.
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
        ``module__*``, ``label_predictor__*``, ``optimizer__*``,
        ``iterator_train__*``, ``iterator_valid__*`` and ``callbacks__*``
        parameters, as in skorch.

    Attributes
    ----------
    net_ : skorch.NeuralNet
        The trained net. ``net_.history`` holds, per epoch, ``train_loss``,
        ``class_loss``, ``coral_loss``, ``coral_weight`` (the scheduled
        weight) and ``lr``; with ``mcc_weight`` above 0 and target rows to fit,
        also ``mcc_loss`` and ``mcc_weight`` (the scheduled weight).
    classes_ : ndarray of shape (n_classes,)
        The class labels.
    n_features_in_ : int
        Number of input features.
    feature_names_in_ : ndarray of shape (n_features,)
        Names of the features seen in ``fit``, when ``X`` has string column names.

    See Also
    --------
    DANNClassifier : Adversarial alignment of the features.
    DANClassifier : Alignment by multi-kernel MMD.
    MCCClassifier : The MCC loss alone.

    References
    ----------
    B. Sun and K. Saenko. Deep CORAL: Correlation Alignment for Deep Domain
    Adaptation. ECCV 2016 Workshops (TASK-CV).

    Y. Jin, X. Wang, M. Long and J. Wang. Minimum Class Confusion for
    Versatile Domain Adaptation. ECCV 2020 (``mcc_weight``).

    Examples
    --------
    >>> from sktransfer import DeepCORALClassifier
    >>> from sktransfer.datasets import make_rotated_moons, mask_target_labels
    >>> X, y, domain = make_rotated_moons(angle=35, random_state=0)
    >>> clf = DeepCORALClassifier(max_epochs=5, random_state=0)
    >>> clf.fit(X, mask_target_labels(y, domain))
    DeepCORALClassifier(max_epochs=5, random_state=0)
    >>> clf.predict(X[domain < 0]).shape
    (500,)
    """

    _weight_param = "coral_weight"
    _schedule_param = "weight_schedule"
    _weight_key = "coral_weight"
    _min_batch_size = 4
    _min_batch_reason = "; CORAL needs two rows of each domain for a covariance"
    _min_domain_rows = (2, 2)
    _min_domain_rows_why = (
        "a covariance of one row is zero, and CORAL would pull the other domain's "
        "feature covariance to it"
    )
    _batch_statistic = "covariance"
    _mcc_regulariser = True

    def __init__(
        self,
        module=None,
        *,
        label_predictor=None,
        coral_weight: float = 1.0,
        weight_schedule: str = "dann",
        mcc_weight: float = 0.0,
        mcc_temperature: float = 2.5,
        mcc_schedule: str | None = None,
        lr_schedule: str = "constant",
        no_target: str = "raise",
        max_epochs: int = 200,
        batch_size: int = 64,
        lr: float = 0.01,
        optimizer=torch.optim.SGD,
        callbacks=None,
        device="cpu",
        random_state=None,
        verbose: int = 0,
        **kwargs,
    ):
        self.module = module
        self.label_predictor = label_predictor
        self.coral_weight = coral_weight
        self.weight_schedule = weight_schedule
        self.mcc_weight = mcc_weight
        self.mcc_temperature = mcc_temperature
        self.mcc_schedule = mcc_schedule
        self.lr_schedule = lr_schedule
        self.no_target = no_target
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.optimizer = optimizer
        self.callbacks = callbacks
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
        self._store_kwargs(kwargs)

    def _build_alignment(self, feature_extractor, label_predictor, features, logits, adapt):
        return _CORALModule(feature_extractor, label_predictor, adapt)


@_with_mcc_params_doc("DAN")
class DANClassifier(_DeepDABase):
    """Deep adaptation network (DAN): align features and class logits by multi-kernel MMD.

    A feature extractor feeds a label predictor trained on the labelled rows;
    the multi-kernel maximum mean discrepancy (MK-MMD) between the source and
    the target features is added to the class loss with weight ``mmd_weight``
    (Long et al., ICML 2015). The kernel is a convex combination of Gaussian
    kernels ``exp(-||a - b||**2 / (s * sigma**2))`` over the scales ``s`` in
    ``kernel_scales``, ``sigma**2`` being the mean squared distance between
    the rows of the batch; the squared MMD is the biased (V-statistic)
    quadratic-time estimate, never negative. The kernels are averaged, or,
    with ``kernel_weights="test_power"``, weighted as in the paper: before
    every epoch, the convex combination that maximises the power of a
    two-sample test between the current source and target features (the
    paper's quadratic programme, after Gretton et al., NeurIPS 2012). As the
    paper aligns every task-specific layer up to the class scores, the
    MK-MMD of the label predictor's outputs (the logits) is added to that of
    the features (``align_logits=True``).

    Fit on the rows of both domains with ``y == -1`` on the unlabelled target
    rows; every training batch holds half source rows, half target rows.

    Parameters
    ----------
    module : nn.Module class or instance, default=None
        The feature extractor. A class is built with ``module__*`` parameters
        (and ``n_features_in`` from the data if it accepts one); an instance is
        deep-copied. None means :class:`sktransfer.nn.MLP` with one hidden
        layer of 256 units and dropout 0.5 (``module__*`` parameters override
        these). Its output must be 2-D: ``(n_samples, n_features)``.
    label_predictor : nn.Module class or instance, default=None
        Maps features to class logits ``(n_samples, n_classes)``. A class gets
        ``n_features_in`` and ``n_outputs`` if it accepts them. None means
        :class:`sktransfer.nn.MLP` with no hidden layer (a linear layer).
    mmd_weight : float, default=1.0
        Final weight of the MK-MMD loss. With 0 (and ``mcc_weight=0``) the
        features are trained for the labels alone: a source-only baseline.
    weight_schedule : {"dann", "constant"}, default="dann"
        ``"dann"`` grows the weight as ``mmd_weight * (2 / (1 + exp(-10 p)) - 1)``
        with training progress ``p`` in [0, 1] (the schedule of DANN's
        adaptation factor); ``"constant"`` uses ``mmd_weight`` throughout.
    kernel_scales : sequence of float, default=2**-8 to 2**8 by factors of 2**0.5
        Multipliers of the base bandwidth, one Gaussian kernel each (33 by
        default: the family of the DAN paper).
    align_logits : bool, default=True
        Also align the outputs of the label predictor (the class logits) by
        MK-MMD, the two terms summed, as the paper adapts every task-specific
        layer up to the class scores. False aligns the features only (as
        skada's ``DAN`` does with its one ``layer_name``). Aligning the logits
        too scored higher on Office-Caltech, the Amazon reviews and both digit
        tasks, over two sets of three seeds (see the user guide).
    kernel_weights : {"uniform", "test_power"}, default="uniform"
        How the kernels are combined. ``"uniform"`` averages them.
        ``"test_power"`` re-estimates, before every epoch, the weights that
        maximise the test power of the MMD between the source and target
        features (the paper's quadratic programme), from up to 1024 rows of
        each domain, for each aligned layer; the network then minimises the
        MMD under the kernels that tell the domains apart best. The weights are
        recorded per epoch in the history and the last ones in
        ``kernel_weights_``.
    {mcc_params}
    lr_schedule : {"constant", "dann"}, default="constant"
        ``"dann"`` anneals the learning rate as ``lr / (1 + 10 p) ** 0.75``.
    no_target : {"raise", "source_only"}, default="raise"
        What to do when the training data has no target row: raise a
        ``ValueError``, or train the label predictor alone.
    max_epochs : int, default=200
        Passes over the larger domain.
    batch_size : int, default=64
        Rows per training batch (half source, half target).
    lr : float, default=0.01
        Initial learning rate.
    optimizer : torch.optim.Optimizer class, default=torch.optim.SGD
        The optimiser; ``optimizer__*`` parameters are passed to it. With SGD,
        the momentum defaults to 0.9 unless ``optimizer__momentum`` is given.
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
        ``module__*``, ``label_predictor__*``, ``optimizer__*``,
        ``iterator_train__*``, ``iterator_valid__*`` and ``callbacks__*``
        parameters, as in skorch.

    Attributes
    ----------
    net_ : skorch.NeuralNet
        The trained net. ``net_.history`` holds, per epoch, ``train_loss``,
        ``class_loss``, ``mmd_loss``, ``mmd_weight`` (the scheduled weight)
        and ``lr`` (``mmd_loss`` sums the aligned layers' terms); with
        ``align_logits=True``, ``logit_mmd_loss`` (the logits' term); with
        ``kernel_weights="test_power"``, ``kernel_weights``; with
        ``mcc_weight`` above 0 and target rows to fit, ``mcc_loss`` and
        ``mcc_weight`` (the scheduled weight).
    kernel_weights_ : ndarray of shape (n_aligned_layers, n_kernels)
        The weights of the kernels at the end of training, one row per aligned
        layer (the features, then the logits with ``align_logits=True``); equal
        weights with ``kernel_weights="uniform"`` or without target rows.
    classes_ : ndarray of shape (n_classes,)
        The class labels.
    n_features_in_ : int
        Number of input features.
    feature_names_in_ : ndarray of shape (n_features,)
        Names of the features seen in ``fit``, when ``X`` has string column names.

    See Also
    --------
    DeepCORALClassifier : Alignment of second-order statistics.
    DANNClassifier : Adversarial alignment of the features.
    MCCClassifier : The MCC loss alone.

    References
    ----------
    M. Long, Y. Cao, J. Wang and M. I. Jordan. Learning Transferable Features
    with Deep Adaptation Networks. ICML 2015.

    Y. Jin, X. Wang, M. Long and J. Wang. Minimum Class Confusion for
    Versatile Domain Adaptation. ECCV 2020 (``mcc_weight``).

    Examples
    --------
    >>> from sktransfer import DANClassifier
    >>> from sktransfer.datasets import make_rotated_moons, mask_target_labels
    >>> X, y, domain = make_rotated_moons(angle=35, random_state=0)
    >>> clf = DANClassifier(max_epochs=5, random_state=0)
    >>> clf.fit(X, mask_target_labels(y, domain))
    DANClassifier(max_epochs=5, random_state=0)
    >>> clf.predict(X[domain < 0]).shape
    (500,)
    """

    _weight_param = "mmd_weight"
    _schedule_param = "weight_schedule"
    _weight_key = "mmd_weight"
    _batch_statistic = "MMD"
    _history_keys_not_printed = ("kernel_weights",)
    _mcc_regulariser = True

    def __init__(
        self,
        module=None,
        *,
        label_predictor=None,
        mmd_weight: float = 1.0,
        weight_schedule: str = "dann",
        kernel_scales=DEFAULT_KERNEL_SCALES,
        align_logits: bool = True,
        kernel_weights: str = "uniform",
        mcc_weight: float = 0.0,
        mcc_temperature: float = 2.5,
        mcc_schedule: str | None = None,
        lr_schedule: str = "constant",
        no_target: str = "raise",
        max_epochs: int = 200,
        batch_size: int = 64,
        lr: float = 0.01,
        optimizer=torch.optim.SGD,
        callbacks=None,
        device="cpu",
        random_state=None,
        verbose: int = 0,
        **kwargs,
    ):
        self.module = module
        self.label_predictor = label_predictor
        self.mmd_weight = mmd_weight
        self.weight_schedule = weight_schedule
        self.kernel_scales = kernel_scales
        self.align_logits = align_logits
        self.kernel_weights = kernel_weights
        self.mcc_weight = mcc_weight
        self.mcc_temperature = mcc_temperature
        self.mcc_schedule = mcc_schedule
        self.lr_schedule = lr_schedule
        self.no_target = no_target
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.optimizer = optimizer
        self.callbacks = callbacks
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
        self._store_kwargs(kwargs)

    def _check_alignment_params(self):
        scales = self.kernel_scales
        valid = (
            not isinstance(scales, (str, bytes))
            and hasattr(scales, "__len__")
            and len(scales) > 0
            and all(
                isinstance(s, numbers.Real) and not isinstance(s, bool) and 0 < s < math.inf
                for s in scales
            )
        )
        if not valid:
            raise ValueError(
                "kernel_scales must be a non-empty sequence of positive numbers "
                f"(bandwidth multipliers), got {scales!r}"
            )
        if not isinstance(self.align_logits, (bool, np.bool_)):
            raise ValueError(f"align_logits must be True or False, got {self.align_logits!r}")
        if self.kernel_weights not in ("uniform", "test_power"):
            raise ValueError(
                "kernel_weights must be one of ('uniform', 'test_power'), got "
                f"{self.kernel_weights!r}"
            )

    def _alignment_callbacks(self, adapt):
        if adapt and self.kernel_weights == "test_power":
            return [("kernel_weights", _TestPowerKernelWeights(self._seed()))]
        return []

    def _build_alignment(self, feature_extractor, label_predictor, features, logits, adapt):
        return _MMDModule(
            feature_extractor, label_predictor, self.kernel_scales, self.align_logits, adapt
        )

    @property
    def kernel_weights_(self) -> np.ndarray:
        check_is_fitted(self)
        module = self.net_.module_
        n_kernels = len(module.kernel_scales)
        uniform = (1.0 / n_kernels,) * n_kernels
        return np.array([uniform if w is None else w for w in module.kernel_weights])


@_with_mcc_params_doc("CDAN")
class CDANClassifier(_DeepDABase):
    """Conditional domain adversarial network (CDAN, CDAN+E).

    As in DANN, a domain classifier is trained through a gradient reversal
    layer to tell source rows from target rows, and the feature extractor to
    fool it; but the domain classifier sees the multilinear map ``f ⊗ p`` of
    the features ``f`` and the predicted class probabilities ``p`` (Long et
    al., NeurIPS 2018), so that the features are aligned class by class
    rather than as a whole. When ``n_features * n_classes`` exceeds 4096, the
    randomised multilinear map ``(R_f f) ⊙ (R_p p) / sqrt(random_dim)`` (fixed
    Gaussian matrices) keeps the input of the domain classifier small. With
    entropy conditioning (CDAN+E), confident predictions weigh more in the
    domain loss: each row by ``1 + exp(-H(p))``, normalised to mean 1 within
    each domain of the batch. ``p`` is not differentiated through, in the map
    or the weights.

    Fit on the rows of both domains with ``y == -1`` on the unlabelled target
    rows; every training batch holds half source rows, half target rows.

    Parameters
    ----------
    module : nn.Module class or instance, default=None
        The feature extractor. A class is built with ``module__*`` parameters
        (and ``n_features_in`` from the data if it accepts one); an instance is
        deep-copied. None means :class:`sktransfer.nn.MLP` with one hidden
        layer of 256 units and dropout 0.5 (``module__*`` parameters override
        these). Its output must be 2-D: ``(n_samples, n_features)``.
    label_predictor : nn.Module class or instance, default=None
        Maps features to class logits ``(n_samples, n_classes)``. A class gets
        ``n_features_in`` and ``n_outputs`` if it accepts them. None means
        :class:`sktransfer.nn.MLP` with no hidden layer (a linear layer).
    domain_classifier : nn.Module class or instance, default=None
        Maps the multilinear map (width ``n_features * n_classes``, or
        ``random_dim`` when randomised) to one domain logit per row. A class
        gets ``n_features_in`` and ``n_outputs=1`` if it accepts them. None
        means :class:`sktransfer.nn.MLP` with one hidden layer of 64 units.
    lambda_max : float, default=1.0
        Final strength of the gradient reversal (the adaptation factor). With
        0 the domain loss never reaches the features: a source-only baseline.
    lambda_schedule : {"dann", "constant"}, default="dann"
        ``"dann"`` grows the adaptation factor as
        ``lambda_max * (2 / (1 + exp(-10 p)) - 1)`` with training progress
        ``p`` in [0, 1], as in the paper.
    entropy : bool, default=True
        Entropy conditioning (CDAN+E); False gives plain CDAN.
    multilinear_map : {"auto", "full", "randomized"}, default="auto"
        ``"auto"`` uses the full map up to 4096 entries
        (``n_features * n_classes``) and the randomised map beyond.
    random_dim : int, default=1024
        Width of the randomised multilinear map.
    {mcc_params}
    lr_schedule : {"constant", "dann"}, default="constant"
        ``"dann"`` anneals the learning rate as ``lr / (1 + 10 p) ** 0.75``.
    no_target : {"raise", "source_only"}, default="raise"
        What to do when the training data has no target row: raise a
        ``ValueError``, or train the label predictor alone.
    max_epochs : int, default=200
        Passes over the larger domain.
    batch_size : int, default=64
        Rows per training batch (half source, half target).
    lr : float, default=0.01
        Initial learning rate.
    optimizer : torch.optim.Optimizer class, default=torch.optim.SGD
        The optimiser; ``optimizer__*`` parameters are passed to it. With SGD,
        the momentum defaults to 0.9 unless ``optimizer__momentum`` is given.
    callbacks : list of skorch callbacks or (name, callback) tuples, default=None
        Extra skorch callbacks (copied at fit time).
    device : str or torch.device, default="cpu"
        Where to train and predict, e.g. ``"cuda"``.
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, the random multilinear map and batch
        shuffling. The global torch RNG is left as it was.
    verbose : int, default=0
        If positive, print one line of losses per epoch.
    **kwargs
        ``module__*``, ``label_predictor__*``, ``domain_classifier__*``,
        ``optimizer__*``, ``iterator_train__*``, ``iterator_valid__*`` and
        ``callbacks__*`` parameters, as in skorch.

    Attributes
    ----------
    net_ : skorch.NeuralNet
        The trained net. ``net_.history`` holds, per epoch, ``train_loss``,
        ``class_loss``, ``domain_loss``, ``domain_acc``, ``lambda`` and ``lr``;
        with ``mcc_weight`` above 0 and target rows to fit, also ``mcc_loss``
        and ``mcc_weight`` (the scheduled weight).
    classes_ : ndarray of shape (n_classes,)
        The class labels.
    n_features_in_ : int
        Number of input features.
    feature_names_in_ : ndarray of shape (n_features,)
        Names of the features seen in ``fit``, when ``X`` has string column names.

    See Also
    --------
    DANNClassifier : The domain classifier sees the features alone.
    MCCClassifier : The MCC loss alone.

    References
    ----------
    M. Long, Z. Cao, J. Wang and M. I. Jordan. Conditional Adversarial
    Domain Adaptation. NeurIPS 2018.

    Y. Jin, X. Wang, M. Long and J. Wang. Minimum Class Confusion for
    Versatile Domain Adaptation. ECCV 2020 (``mcc_weight``).

    Examples
    --------
    >>> from sktransfer import CDANClassifier
    >>> from sktransfer.datasets import make_rotated_moons, mask_target_labels
    >>> X, y, domain = make_rotated_moons(angle=35, random_state=0)
    >>> clf = CDANClassifier(max_epochs=5, random_state=0)
    >>> clf.fit(X, mask_target_labels(y, domain))
    CDANClassifier(max_epochs=5, random_state=0)
    >>> clf.predict(X[domain < 0]).shape
    (500,)
    """

    _module_params = ("module", "label_predictor", "domain_classifier")
    _mcc_regulariser = True

    def __init__(
        self,
        module=None,
        *,
        label_predictor=None,
        domain_classifier=None,
        lambda_max: float = 1.0,
        lambda_schedule: str = "dann",
        entropy: bool = True,
        multilinear_map: str = "auto",
        random_dim: int = 1024,
        mcc_weight: float = 0.0,
        mcc_temperature: float = 2.5,
        mcc_schedule: str | None = None,
        lr_schedule: str = "constant",
        no_target: str = "raise",
        max_epochs: int = 200,
        batch_size: int = 64,
        lr: float = 0.01,
        optimizer=torch.optim.SGD,
        callbacks=None,
        device="cpu",
        random_state=None,
        verbose: int = 0,
        **kwargs,
    ):
        self.module = module
        self.label_predictor = label_predictor
        self.domain_classifier = domain_classifier
        self.lambda_max = lambda_max
        self.lambda_schedule = lambda_schedule
        self.entropy = entropy
        self.multilinear_map = multilinear_map
        self.random_dim = random_dim
        self.mcc_weight = mcc_weight
        self.mcc_temperature = mcc_temperature
        self.mcc_schedule = mcc_schedule
        self.lr_schedule = lr_schedule
        self.no_target = no_target
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.optimizer = optimizer
        self.callbacks = callbacks
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
        self._store_kwargs(kwargs)

    def _check_alignment_params(self):
        if not isinstance(self.entropy, (bool, np.bool_)):
            raise ValueError(f"entropy must be True or False, got {self.entropy!r}")
        allowed = ("auto", "full", "randomized")
        if self.multilinear_map not in allowed:
            raise ValueError(
                f"multilinear_map must be one of {allowed}, got {self.multilinear_map!r}"
            )
        dim = self.random_dim
        if not isinstance(dim, numbers.Integral) or isinstance(dim, bool) or dim < 1:
            raise ValueError(f"random_dim must be a positive integer, got {dim!r}")

    def _build_alignment(self, feature_extractor, label_predictor, features, logits, adapt):
        n_features, n_classes = features.shape[1], logits.shape[1]
        randomized = self.multilinear_map == "randomized" or (
            self.multilinear_map == "auto" and n_features * n_classes > _MAX_FULL_MULTILINEAR
        )
        multilinear_map = _MultilinearMap(
            n_features, n_classes, int(self.random_dim) if randomized else None
        )
        probe = multilinear_map(features, torch.softmax(logits, dim=1))
        domain_classifier = self._build_domain_classifier(probe.shape[1], probe, adapt)
        return _CDANModule(
            feature_extractor, label_predictor, domain_classifier, multilinear_map,
            bool(self.entropy), adapt,
        )


class MCCClassifier(_DeepDABase):
    """Minimum class confusion (MCC): make the target predictions tell the classes apart.

    A feature extractor feeds a label predictor trained on the labelled rows;
    the MCC loss of the target rows' predictions is added with weight
    ``mcc_weight`` (Jin et al., ECCV 2020). From the probabilities
    ``softmax(logits / temperature)`` of a batch's target rows it builds the
    class correlation matrix, each row weighted by ``1 + exp(-entropy)`` (the
    confident rows count more), normalises each class's column to sum to one,
    and penalises the mass off its diagonal: how often the target rows are
    predicted as two classes at once. Unlike the other deep methods it aligns
    no statistic of the features between the domains; it shapes the target
    predictions alone. The paper also adds it, as a regulariser, to other
    methods' losses: ``mcc_weight`` of :class:`DANNClassifier`,
    :class:`CDANClassifier`, :class:`MDDClassifier`,
    :class:`DeepCORALClassifier` and :class:`DANClassifier` does that.

    Fit on the rows of both domains with ``y == -1`` on the unlabelled target
    rows; every training batch holds half source rows, half target rows.

    Parameters
    ----------
    module : nn.Module class or instance, default=None
        The feature extractor. A class is built with ``module__*`` parameters
        (and ``n_features_in`` from the data if it accepts one); an instance is
        deep-copied. None means :class:`sktransfer.nn.MLP` with one hidden
        layer of 256 units and dropout 0.5 (``module__*`` parameters override
        these). Its output must be 2-D: ``(n_samples, n_features)``.
    label_predictor : nn.Module class or instance, default=None
        Maps features to class logits ``(n_samples, n_classes)``. A class gets
        ``n_features_in`` and ``n_outputs`` if it accepts them. None means
        :class:`sktransfer.nn.MLP` with no hidden layer (a linear layer).
    mcc_weight : float, default=1.0
        Final weight of the MCC loss (the paper's ``mu``; 1 is also skada's
        default). With 0 the network is trained for the labels alone: the same
        network and training without adaptation, a source-only baseline.
    temperature : float, default=2.5
        Softmax temperature of the target probabilities, the paper's value
        (skada's default is 1). Above 1 it softens overconfident predictions,
        so that the confusion they hide counts.
    weight_schedule : {"dann", "constant"}, default="dann"
        ``"dann"`` grows the weight as ``mcc_weight * (2 / (1 + exp(-10 p)) - 1)``
        with training progress ``p`` in [0, 1] (the schedule of DANN's
        adaptation factor), so that the predictions of a network that has not
        learnt the classes yet are not sharpened; ``"constant"`` uses
        ``mcc_weight`` throughout, as the paper does from a pretrained network.
    lr_schedule : {"constant", "dann"}, default="constant"
        ``"dann"`` anneals the learning rate as ``lr / (1 + 10 p) ** 0.75``.
    no_target : {"raise", "source_only"}, default="raise"
        What to do when the training data has no target row: raise a
        ``ValueError``, or train the label predictor alone.
    max_epochs : int, default=200
        Passes over the larger domain.
    batch_size : int, default=64
        Rows per training batch (half source, half target); at least 4, for
        two target rows (the class confusion of one row is the same whatever
        it predicts). For the same reason ``fit`` refuses a single target row
        unless ``mcc_weight`` is 0.
    lr : float, default=0.01
        Initial learning rate.
    optimizer : torch.optim.Optimizer class, default=torch.optim.SGD
        The optimiser; ``optimizer__*`` parameters are passed to it. With SGD,
        the momentum defaults to 0.9 unless ``optimizer__momentum`` is given.
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
        ``module__*``, ``label_predictor__*``, ``optimizer__*``,
        ``iterator_train__*``, ``iterator_valid__*`` and ``callbacks__*``
        parameters, as in skorch.

    Attributes
    ----------
    net_ : skorch.NeuralNet
        The trained net. ``net_.history`` holds, per epoch, ``train_loss``,
        ``class_loss``, ``mcc_loss``, ``mcc_weight`` (the scheduled weight) and
        ``lr``.
    classes_ : ndarray of shape (n_classes,)
        The class labels.
    n_features_in_ : int
        Number of input features.
    feature_names_in_ : ndarray of shape (n_features,)
        Names of the features seen in ``fit``, when ``X`` has string column names.

    See Also
    --------
    CDANClassifier : Aligns the features class by class, adversarially.
    DeepCORALClassifier : Aligns the covariances of the features.

    References
    ----------
    Y. Jin, X. Wang, M. Long and J. Wang. Minimum Class Confusion for
    Versatile Domain Adaptation. ECCV 2020.

    Examples
    --------
    >>> from sktransfer import MCCClassifier
    >>> from sktransfer.datasets import make_rotated_moons, mask_target_labels
    >>> X, y, domain = make_rotated_moons(angle=35, random_state=0)
    >>> clf = MCCClassifier(max_epochs=5, random_state=0)
    >>> clf.fit(X, mask_target_labels(y, domain))
    MCCClassifier(max_epochs=5, random_state=0)
    >>> clf.predict(X[domain < 0]).shape
    (500,)
    """

    _weight_param = "mcc_weight"
    _schedule_param = "weight_schedule"
    _weight_key = "mcc_weight"
    # The class correlation of one target row (or of copies of it) is rank one:
    # after the column normalisation its loss is (n_classes - 1) / n_classes
    # whatever the row predicts, so it has no gradient.
    _min_batch_size = 4
    _min_batch_reason = _MCC_BATCH_REASON
    _min_domain_rows = (1, 2)
    _min_domain_rows_why = _MCC_ONE_ROW_WHY

    def __init__(
        self,
        module=None,
        *,
        label_predictor=None,
        mcc_weight: float = 1.0,
        temperature: float = 2.5,
        weight_schedule: str = "dann",
        lr_schedule: str = "constant",
        no_target: str = "raise",
        max_epochs: int = 200,
        batch_size: int = 64,
        lr: float = 0.01,
        optimizer=torch.optim.SGD,
        callbacks=None,
        device="cpu",
        random_state=None,
        verbose: int = 0,
        **kwargs,
    ):
        self.module = module
        self.label_predictor = label_predictor
        self.mcc_weight = mcc_weight
        self.temperature = temperature
        self.weight_schedule = weight_schedule
        self.lr_schedule = lr_schedule
        self.no_target = no_target
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.optimizer = optimizer
        self.callbacks = callbacks
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
        self._store_kwargs(kwargs)

    def _check_alignment_params(self):
        t = self.temperature
        if not (_is_finite_real(t) and t > 0):
            raise ValueError(f"temperature must be a positive finite number, got {t!r}")

    def _build_alignment(self, feature_extractor, label_predictor, features, logits, adapt):
        return _MCCModule(feature_extractor, label_predictor, float(self.temperature), adapt)
