"""Fine-tuning a pretrained network: layer transfer and conservative training."""

from __future__ import annotations

import copy
import math
import numbers

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.base import RegressorMixin, clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import (
    _check_sample_weight,
    check_is_fitted,
    validate_data,
)
from skorch import NeuralNet
from skorch.utils import to_tensor
from torch import nn

from ..base import (
    UNLABELLED,
    TransferNetBase,
    _check_sample_domain,
    _clone_keeping_fitted_input,
    _LabelledRowsClassifierMixin,
    _one_class_error,
    _unfitted_if_refused,
)
from ._network import (
    _check_head_is_output,
    _find_head,
    _FineTuneModule,
    _first,
    _head_input_width,
    _layer_groups,
    _replace_submodule,
    _resolve_freeze,
    _source_network_of,
    _under,
)
from ._schedules import _GradualUnfreezing, _LRSchedule

__all__ = ["FineTuneClassifier", "FineTuneRegressor"]


class _FineTuneNet(NeuralNet):
    """skorch net whose loss is the task loss plus the L2-SP and distillation terms.

    ``y`` is a float32 array: ``n_targets`` columns of targets (the class index
    for classification), then, when ``weighted``, a column of sample weights
    (the task loss is the mean of the rows' losses times their weights), then,
    when distilling, the source network's outputs recorded before training. ``layer_groups`` (parameter names of
    ``module_`` and lr factors, head first) become the optimiser's groups.
    The parts of the loss are recorded per epoch in the history:
    ``task_loss``, ``l2sp_loss``, ``distillation_loss``.
    """

    def __init__(
        self,
        module,
        *,
        task="classification",
        n_targets=1,
        weighted=False,
        layer_groups=None,
        l2sp_alpha=0.0,
        l2sp_reference=None,
        distillation_weight=0.0,
        distillation_temperature=2.0,
        **kwargs,
    ):
        super().__init__(module, **kwargs)
        self.task = task
        self.n_targets = n_targets
        self.weighted = weighted
        self.layer_groups = layer_groups
        self.l2sp_alpha = l2sp_alpha
        self.l2sp_reference = l2sp_reference
        self.distillation_weight = distillation_weight
        self.distillation_temperature = distillation_temperature

    def get_params_for_optimizer(self, prefix, named_parameters):
        named_parameters = list(named_parameters)
        args, kwargs = super().get_params_for_optimizer(prefix, named_parameters)
        if prefix != "optimizer" or self.layer_groups is None:
            return args, kwargs
        params = dict(named_parameters)
        lr = kwargs["lr"]
        groups = [
            {"params": [params[name] for name in names], "lr": lr * factor}
            for names, factor in self.layer_groups
            if names
        ]
        return (groups,), kwargs

    def on_train_begin(self, net, **kwargs):
        super().on_train_begin(net, **kwargs)
        params = dict(self.module_.named_parameters())
        reference = self.l2sp_reference or {}
        self._anchors = [(params[name], w.to(params[name].device)) for name, w in reference.items()]

    def on_train_end(self, net, **kwargs):
        super().on_train_end(net, **kwargs)
        self._anchors = []

    def on_epoch_begin(self, net, **kwargs):
        super().on_epoch_begin(net, **kwargs)
        self._parts = []

    def on_epoch_end(self, net, **kwargs):
        super().on_epoch_end(net, **kwargs)
        if self._parts:
            for key, values in zip(("task_loss", "l2sp_loss", "distillation_loss"), zip(*self._parts)):
                if values[0] is not None:
                    self.history.record(key, torch.stack(values).mean().item())

    def get_loss(self, y_pred, y_true, X=None, training=False):
        outputs, source_outputs = y_pred if isinstance(y_pred, tuple) else (y_pred, None)
        y_true = to_tensor(y_true, device=self.device)
        targets = y_true[:, : self.n_targets]
        if self.weighted:
            # the criterion's loss row by row (CrossEntropyLoss, MSELoss), weighted
            if self.task == "classification":
                rows = F.cross_entropy(outputs, targets[:, 0].long(), reduction="none")
            else:
                rows = F.mse_loss(outputs, targets.to(outputs.dtype), reduction="none")
                rows = rows.reshape(len(rows), -1).mean(dim=1)
            loss = (rows * y_true[:, self.n_targets].to(rows.dtype)).mean()
        elif self.task == "classification":
            loss = self.criterion_(outputs, targets[:, 0].long())
        else:
            loss = self.criterion_(outputs, targets.to(outputs.dtype))
        parts = [loss.detach(), None, None]
        if self.l2sp_alpha and training:
            distances = [((p - w) ** 2).sum() for p, w in self._anchors if p.requires_grad]
            if distances:
                penalty = self.l2sp_alpha * torch.stack(distances).sum()
                loss = loss + penalty
                parts[1] = penalty.detach()
            else:  # no transferred layer trains yet (gradual unfreezing): no penalty
                parts[1] = torch.zeros((), device=loss.device)
        if source_outputs is not None and self.distillation_weight:
            t = self.distillation_temperature
            teacher = y_true[:, self.n_targets + self.weighted :].to(source_outputs.dtype)
            kl = F.kl_div(
                F.log_softmax(source_outputs / t, dim=1),
                F.log_softmax(teacher / t, dim=1),
                log_target=True,
                reduction="batchmean",
            ) * (t * t)
            loss = loss + self.distillation_weight * kl
            parts[2] = kl.detach()
        if training:
            self._parts.append(tuple(parts))
        return loss


_PARAMS_DOC = """\
    Parameters
    ----------
    module : nn.Module instance or class, fitted estimator, fitted skorch net or None, default=None
        The pretrained network. An instance is deep-copied at fit (the original
        is never changed); a class is built with ``module__*`` parameters (and
        ``n_features_in`` from the data if it accepts one). A fitted sktransfer
        estimator gives its trained network (``net_.module_``; for a
        :class:`~sktransfer.DANNClassifier` its feature extractor followed by
        its label predictor; for a fine-tuned estimator its fine-tuned
        network), a fitted skorch net its ``module_``; both are copied, and
        cloning this estimator keeps them as they are (fitted inputs, like
        pretrained weights). None means the bundled ImageNet CNN
        ``sktransfer.nn.EfficientNetLite0(pretrained=True)`` (images
        ``(n, 3, 224, 224)``, see its preprocessing). A network whose forward
        returns a tuple is read through its first element.
    head : str or None, default=None
        Name (as in ``named_modules()``) of the submodule to replace by the new
        head. None picks the last ``nn.Linear`` in ``named_modules()`` order.
    head_module : nn.Module instance or class or None, default=None
        The new head. None means ``nn.Linear(in_features, {n_out})``, with
        ``in_features`` the width of the old head's input. A class is built
        with ``head_module__*`` parameters (and ``n_features_in``,
        ``n_outputs`` if it accepts them).
    freeze : None, "all_but_head", list of str or int, default=None
        Parameters kept as they are (layer transfer, ``requires_grad=False``):
        none; every parameter but the head's; those whose names (as in the
        source's ``named_parameters()``) match one of the ``fnmatch`` patterns;
        the first ``n`` layer groups (images usually transfer the first
        layers) or, for ``-n``, the last ``n`` (as for speech). Frozen
        parameters end bit-identical, and BatchNorm layers whose parameters
        are all frozen stay in eval mode, so their running statistics do not
        change either.
    l2sp_alpha : float, default=0.0
        Strength of the L2-SP penalty ``alpha * ||w - w_source||^2`` over the
        trainable transferred parameters (not the head): keeps them close to
        the source weights rather than to zero (parameter-close regularisation).
    distillation_weight : float, default=0.0
        Weight of the learning-without-forgetting term (output-close
        regularisation). The old head is kept alongside the new one (fed the
        same features) and its softened outputs are kept close, by
        ``T**2 * KL``, to those the source network gave on the same training
        rows before fine-tuning (recorded once, in eval mode). The source
        outputs are read as logits.
    distillation_temperature : float, default=2.0
        Temperature ``T`` of the softened outputs (2 as in LwF).
    unfreeze : {None, "gradual"}, default=None
        ``"gradual"``: train the head alone during the first ``unfreeze_every``
        epochs, then unfreeze one more layer group from the top every
        ``unfreeze_every`` epochs (parameters frozen by ``freeze`` stay frozen).
    unfreeze_every : int, default=1
        Epochs between two unfreezing steps.
    lr_decay : float or None, default=None
        Discriminative learning rates: the head trains at ``lr``, the layer
        group ``d`` groups below the head at ``lr * lr_decay ** d`` (one
        optimiser parameter group each). ULMFiT uses ``1 / 2.6``. None: one rate.
    lr_schedule : {"constant", "slanted_triangular"}, default="constant"
        ``"slanted_triangular"`` changes every group's rate per batch by the
        factor of :func:`~sktransfer.fine_tuning.slanted_triangular`.
    stlr_cut_frac : float, default=0.1
        Fraction of the batches of the slanted triangular schedule that
        increase the rate.
    stlr_ratio : float, default=32
        Ratio of the highest to the lowest rate of that schedule.
    source_epochs : int or None, default=None
        With ``sample_domain``, epochs of the source stage (None: ``max_epochs``;
        0: no source stage, source rows unused).
    max_epochs : int, default=10
        Passes over the target rows.
    batch_size : int, default=32
        Rows per training batch.
    lr : float, default=0.001
        Learning rate (of the head; see ``lr_decay``). For a large pretrained
        network fine-tuned as a whole, lower it (e.g. 1e-4).
    optimizer : torch.optim.Optimizer class, default=torch.optim.Adam
        The optimiser; ``optimizer__*`` parameters are passed to it (but not
        ``optimizer__param_groups``: the groups are the layer groups).
    callbacks : list of skorch callbacks or (name, callback) tuples, default=None
        Extra skorch callbacks (copied at fit time; they run in both stages).
    device : str or torch.device, default="cpu"
        Where to train and predict, e.g. ``"cuda"``.
    random_state : int, RandomState instance or None, default=None
        Seeds the new head, the network built from a class and batch shuffling.
        The global torch RNG is left as it was.
    verbose : int, default=0
        If positive, print one line of losses per epoch.
    **kwargs
        ``module__*``, ``head_module__*``, ``optimizer__*``,
        ``iterator_train__*``, ``iterator_valid__*`` and ``callbacks__*``
        parameters, as in skorch.

    Notes
    -----
    *Layer groups* (for an int ``freeze``, ``unfreeze`` and ``lr_decay``):
    descend from the network through every module that has exactly one child
    holding parameters (a wrapper such as :class:`sktransfer.nn.MLP`'s
    ``layers``); the children of the first module with several such children
    are the layer groups, in order, bottom first, less the head (a group
    left with no parameter outside the head is dropped); a child that is an
    ``nn.Sequential`` or ``nn.ModuleList`` of composite blocks (modules with
    children, such as EfficientNet's ``blocks`` or a ResNet stage) gives one
    group per block: the default EfficientNet-Lite0 has 18 groups (``stem``,
    ``blocks.0`` to ``blocks.15``, ``head``). Parameters held
    directly by that module or the wrappers above it join the first group.
    For a flat ``nn.Sequential`` every parameterised layer (``Linear``,
    ``BatchNorm``...) is a group of its own: nest ``nn.Sequential`` blocks for
    coarser groups. ``n_layer_groups_`` and ``layer_groups_`` show them.

    Without ``sample_domain``, every labelled row is a target row (rows with
    ``y == -1`` are ignored by the classifier). With ``sample_domain``
    (positive: source, negative: target), one fit has two stages: first a
    *source stage* that trains every layer with a head of its own on the
    source rows for ``source_epochs`` (kept as ``source_net_``), then the
    fine-tuning described above on the target rows, starting from the
    source-trained network (the source head being the source stage's).
"""


def _doc(cls):
    params = _PARAMS_DOC.replace("{n_out}", cls._n_out_doc).rstrip("\n") + "\n\n"
    cls.__doc__ = cls.__doc__.replace("{params}\n", params)
    return cls


class _FineTuneBase(TransferNetBase):
    """What the fine-tuning classifier and regressor share."""

    _module_params = ("module", "head_module")
    _task = "classification"
    _n_out_doc = "n_outputs"

    def __init__(
        self,
        module=None,
        *,
        head=None,
        head_module=None,
        freeze=None,
        l2sp_alpha: float = 0.0,
        distillation_weight: float = 0.0,
        distillation_temperature: float = 2.0,
        unfreeze=None,
        unfreeze_every: int = 1,
        lr_decay=None,
        lr_schedule: str = "constant",
        stlr_cut_frac: float = 0.1,
        stlr_ratio: float = 32,
        source_epochs=None,
        max_epochs: int = 10,
        batch_size: int = 32,
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
        self.head_module = head_module
        self.freeze = freeze
        self.l2sp_alpha = l2sp_alpha
        self.distillation_weight = distillation_weight
        self.distillation_temperature = distillation_temperature
        self.unfreeze = unfreeze
        self.unfreeze_every = unfreeze_every
        self.lr_decay = lr_decay
        self.lr_schedule = lr_schedule
        self.stlr_cut_frac = stlr_cut_frac
        self.stlr_ratio = stlr_ratio
        self.source_epochs = source_epochs
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
    # parameters
    # ------------------------------------------------------------------
    def get_params(self, deep: bool = True) -> dict:
        # ``module`` may be a fitted estimator: its own parameters are not ours
        # (``module__*`` are the module's build parameters).
        return super().get_params(deep=False)

    def __sklearn_clone__(self):
        # A fitted estimator or skorch net given as ``module`` is an input, like
        # pretrained weights: a clone keeps it, where sklearn.base.clone would
        # replace it by an unfitted copy.
        new = _clone_keeping_fitted_input(self, "module")
        if not _is_fitted_source(self.module):
            new.module = clone(self.module, safe=False)
        return new

    def _check_params(self):
        self._check_common_params()

        def number(name, low, *, strict=False, integer=False, high=None):
            value = getattr(self, name)
            kind = numbers.Integral if integer else numbers.Real
            ok = isinstance(value, kind) and not isinstance(value, bool) and (
                value > low if strict else value >= low
            ) and (high is None or value < high) and math.isfinite(value)
            if not ok:
                bound = f"> {low}" if strict else f">= {low}"
                bound += f" and < {high}" if high is not None else ""
                what = "an integer" if integer else "a finite number"
                raise ValueError(f"{name} must be {what} {bound}, got {value!r}")

        number("l2sp_alpha", 0)
        number("distillation_weight", 0)
        number("distillation_temperature", 0, strict=True)
        number("unfreeze_every", 0, strict=True, integer=True)
        number("stlr_cut_frac", 0, strict=True, high=1)
        number("stlr_ratio", 1)
        if self.lr_decay is not None:
            number("lr_decay", 0, strict=True)
        if self.source_epochs is not None:
            number("source_epochs", 0, integer=True)
        if self.unfreeze not in (None, "gradual"):
            raise ValueError(f"unfreeze must be None or 'gradual', got {self.unfreeze!r}")
        if self.lr_schedule not in ("constant", "slanted_triangular"):
            raise ValueError(
                "lr_schedule must be 'constant' or 'slanted_triangular', got "
                f"{self.lr_schedule!r}"
            )
        if "param_groups" in self._params_for("optimizer"):
            raise ValueError(
                "optimizer__param_groups is not supported: the optimiser's groups are "
                "the layer groups (see lr_decay)"
            )
        if self.head_module is not None and not (
            isinstance(self.head_module, nn.Module) or callable(self.head_module)
        ):
            raise TypeError(
                f"head_module must be a torch.nn.Module class or instance, got {self.head_module!r}"
            )

    # ------------------------------------------------------------------
    # the source network
    # ------------------------------------------------------------------
    def _source_network(self, probe: torch.Tensor) -> nn.Module:
        """A copy of the pretrained network, checked on a few rows of X."""
        spec = self.module
        if spec is None:
            try:
                from ..nn import EfficientNetLite0
            except ImportError as exc:  # pragma: no cover - depends on the install
                raise ImportError(
                    "module=None needs sktransfer.nn.EfficientNetLite0 (the bundled "
                    "ImageNet CNN); pass a pretrained torch.nn.Module instead"
                ) from exc
            network = self._build_module(
                "module", EfficientNetLite0, {"pretrained": True}, n_features_in=self.n_features_in_
            )
        elif isinstance(spec, nn.Module) or (callable(spec) and not hasattr(spec, "fit")):
            network = self._build_module("module", n_features_in=self.n_features_in_)
        elif hasattr(spec, "fit") or hasattr(spec, "module_"):
            network = _source_network_of(spec)
            if network is None:
                try:
                    check_is_fitted(spec)
                    fitted = True
                except (NotFittedError, TypeError):
                    fitted = False
                raise ValueError(
                    f"module is a fitted {type(spec).__name__} with no network to fine-tune "
                    "(fine-tuning starts from a trained torch network: a fitted sktransfer "
                    "estimator or skorch net)"
                    if fitted
                    else f"module is a {type(spec).__name__} that is not fitted; fit it first "
                    "(fine-tuning starts from its trained network)"
                )
            if self._params_for("module"):
                raise ValueError(
                    f"module is a fitted {type(spec).__name__}, so module__* parameters "
                    f"({', '.join(sorted(self._params_for('module')))}) cannot apply"
                )
            n_in = getattr(spec, "n_features_in_", None)
            if isinstance(n_in, numbers.Integral) and n_in != self.n_features_in_:
                raise ValueError(
                    f"X has {self.n_features_in_} features, but module (a fitted "
                    f"{type(spec).__name__}) was fitted on {n_in}"
                )
        else:
            raise TypeError(
                "module must be a torch.nn.Module class or instance, a fitted sktransfer "
                f"estimator or skorch net, or None; got {spec!r}"
            )
        network = network.cpu()
        _probe(network, probe, "module")
        return network

    def _head_of(self, network, probe):
        """The name of the head to replace: ``head``, or the last Linear if it is the output."""
        head_name = _find_head(network, self.head)
        if self.head is None:  # a named head may sit mid-network, by design
            _check_head_is_output(network, head_name, probe)
        return head_name

    def _new_head(self, network, head_name, probe, n_outputs):
        try:
            width = _head_input_width(network, head_name, probe)
        except ValueError:
            if self.head_module is None:
                raise
            width = None
        if self.head_module is None:
            return nn.Linear(width, n_outputs)
        injected = {"n_outputs": n_outputs}
        if width is not None:
            injected["n_features_in"] = width
        return self._build_module("head_module", **injected)

    # ------------------------------------------------------------------
    # fit
    # ------------------------------------------------------------------
    def _lr_schedule_in_use(self):
        return None if self.lr_schedule == "constant" else f"lr_schedule={self.lr_schedule!r}"

    def _net(self, module, callbacks, max_epochs, n_rows, **extra):
        params = self._net_params(callbacks, batches_per_epoch=self._batches_per_epoch(n_rows))
        params["max_epochs"] = max_epochs
        if self.verbose:
            params.setdefault("callbacks__print_log__keys_ignored", ["group_lrs"])
        criterion = nn.CrossEntropyLoss if self._task == "classification" else nn.MSELoss
        return _FineTuneNet(
            module,
            task=self._task,
            criterion=criterion,
            predict_nonlinearity=None,
            **extra,
            **params,
        )

    def _train_source_stage(self, network, X, targets, n_outputs, weighted=False):
        """Train every layer of ``network`` with a new head on the source rows.

        ``targets`` ends with a column of sample weights when ``weighted``.
        """
        self._refuse_zero_weights(targets, weighted)
        probe = torch.as_tensor(X[: min(len(X), 4)])
        head_name = self._head_of(network, probe)
        head = self._new_head(network, head_name, probe, n_outputs)
        _replace_submodule(network, head_name, head)
        module = _FineTuneModule(network, head_name, None, distill=False)
        _check_output(module, probe, n_outputs)
        self.source_net_ = self._net(
            module, [("lr_schedule", _LRSchedule())], self._n_source_epochs(), len(X),
            n_targets=targets.shape[1] - weighted, weighted=weighted,
        )
        self.source_net_.fit(X, targets)
        # the source head is the module just put in (not the last Linear inside it)
        return copy.deepcopy(self.source_net_.module_.network), head_name

    def _n_source_epochs(self):
        return self.max_epochs if self.source_epochs is None else self.source_epochs

    def _fit(self, X, targets, n_outputs, source=None, weighted=False):
        """Fine-tune on ``X, targets``; ``source`` is ``(X, targets, n_outputs)`` or None.

        ``targets`` (and the source's) end with a column of sample weights when
        ``weighted``.
        """
        self._refuse_zero_weights(targets, weighted)
        probe = torch.as_tensor(X[: min(len(X), 4)])
        network = self._source_network(probe)
        if source is not None:
            network, head_name = self._train_source_stage(network, *source, weighted=weighted)
        else:
            head_name = self._head_of(network, probe)
        new_head = self._new_head(network, head_name, probe, n_outputs)
        source_head = copy.deepcopy(network.get_submodule(head_name))
        distill = self.distillation_weight > 0
        if distill:
            teacher = _outputs(network, X, self._device(), self.batch_size)
            targets = np.column_stack([targets, teacher]).astype(np.float32)

        names = [name for name, _ in network.named_parameters()]
        groups = _layer_groups(network, head_name)
        frozen = _resolve_freeze(self.freeze, names, groups, head_name)
        reference = None
        if self.l2sp_alpha > 0:
            reference = {
                "network." + name: p.detach().clone()
                for name, p in network.named_parameters()
                if not _under(name, head_name)
            }
        _replace_submodule(network, head_name, new_head)
        module = _FineTuneModule(network, head_name, source_head, distill)
        _check_output(module, probe, n_outputs)
        for name in frozen:
            network.get_parameter(name).requires_grad_(False)

        full = [["network." + n for n in g] for g in groups]
        in_groups = {n for g in full for n in g}
        head_params = [n for n, _ in module.named_parameters() if n not in in_groups]
        # One optimiser parameter group per layer group only for discriminative
        # rates: with a single rate one group is faster (Adam steps group by group).
        layer_groups = None
        if self.lr_decay is not None:
            decay = float(self.lr_decay)
            layer_groups = [(head_params, 1.0)] + [
                (g, decay ** depth) for depth, g in enumerate(reversed(full), start=1)
            ]
        n_steps = self.max_epochs * self._batches_per_epoch(len(X))
        callbacks = [
            ("lr_schedule", _LRSchedule(self.lr_schedule, n_steps, self.stlr_cut_frac, self.stlr_ratio))
        ]
        if self.unfreeze == "gradual":
            callbacks.append((
                "gradual_unfreezing",
                _GradualUnfreezing(full, ["network." + n for n in frozen], self.unfreeze_every),
            ))
        net = self._net(
            module,
            callbacks,
            self.max_epochs,
            len(X),
            n_targets=1 if self._task == "classification" else n_outputs,
            weighted=weighted,
            layer_groups=layer_groups,
            l2sp_alpha=float(self.l2sp_alpha),
            l2sp_reference=reference,
            distillation_weight=float(self.distillation_weight),
            distillation_temperature=float(self.distillation_temperature),
        )
        net.fit(X, targets)
        net.l2sp_reference = None  # only needed while training
        self.net_ = net
        self.head_ = head_name
        self.layer_groups_ = groups
        self.n_layer_groups_ = len(groups)
        self.frozen_params_ = frozen

    @_unfitted_if_refused
    def fit(self, X, y, sample_domain=None, sample_weight=None):
        """Fine-tune the pretrained network on ``X, y``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, ...)
            Training rows (e.g. images ``(n, C, H, W)``), as the network takes them.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Targets of the rows.
        sample_domain : array-like of int of shape (n_samples,), default=None
            Domain of each row: positive ids for source rows, negative ids for
            target rows (skada's convention). If given, the network is first
            trained on the source rows, then fine-tuned on the target rows.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weight of each row in the task loss, e.g. the
            importance weights of
            :class:`~sktransfer.ImportanceWeightedClassifier`: the loss of a
            batch is the mean over its rows of each row's loss times its
            weight (so that weights all 1 train as no weights). Only the task
            loss is weighted: weights whose mean is not 1 change its balance
            with the ``l2sp_alpha`` and ``distillation_weight`` terms. Batches
            are drawn as without weights: a row
            of weight 0 still fills a place in its batch, so the fit is not
            the fit without that row. Both stages of a ``sample_domain`` fit
            use the weights of their rows; unlabelled rows are left out with
            their weights.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        for attr in ("net_", "source_net_", "source_classes_"):
            self.__dict__.pop(attr, None)
        self._check_params()
        X, targets, n_outputs, source = self._prepare_data(X, y, sample_domain, sample_weight)
        if source is not None and self._n_source_epochs() == 0:
            source = None
            self.__dict__.pop("source_classes_", None)  # no source stage
        with self._rng_context():
            self._fit(X, targets, n_outputs, source, weighted=sample_weight is not None)
        return self

    @staticmethod
    def _weights_of(sample_weight, X):
        """``sample_weight`` checked against ``X`` (None stays None)."""
        if sample_weight is None:
            return None
        return _check_sample_weight(sample_weight, X, dtype=np.float32, ensure_non_negative=True)

    @staticmethod
    def _with_weights(targets, weights, rows):
        """``targets`` with the weights of ``rows`` (a mask or slice) as a last column."""
        if weights is None:
            return targets
        return np.column_stack([targets, weights[rows]]).astype(np.float32)

    @staticmethod
    def _refuse_zero_weights(targets, weighted):
        """Refuse a training stage whose rows all weigh 0 (its weights: last column)."""
        if weighted and not targets[:, -1].any():
            raise ValueError(
                "sample_weight is zero on every row a training stage fits: nothing "
                "to learn from"
            )

    def _source_rows(self, sample_domain, n_samples):
        if sample_domain is None:
            if self.source_epochs:
                raise ValueError(
                    "source_epochs > 0 needs sample_domain to mark the source rows "
                    "(positive ids) and the target rows (negative ids)"
                )
            return None
        return _check_sample_domain(sample_domain, n_samples) > 0

    def source_output(self, X) -> np.ndarray:
        """Outputs of the retained source head (the network's original head).

        It is kept alongside the new head, fed the same features, and trained
        only by the distillation term: with ``distillation_weight=0`` it shows
        how much the source task was forgotten.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, ...)
            Input rows.

        Returns
        -------
        outputs : ndarray of shape (n_samples, n_source_outputs)
            Raw outputs (logits for a classifier source) of the source head.
        """
        check_is_fitted(self)
        return self._run_batches(self.net_.module_.source_forward, X)


def _is_fitted_source(module) -> bool:
    return not isinstance(module, (nn.Module, type)) and (
        hasattr(module, "get_params") or hasattr(module, "module_")
    )


def _probe(network, x, name):
    was_training = network.training
    network.eval()
    try:
        with torch.no_grad():
            out = _first(network(x))
    except Exception as exc:  # a torch shape error, most often
        raise ValueError(f"{name} failed on input of shape {tuple(x.shape)}: {exc}") from exc
    finally:
        network.train(was_training)
    if not isinstance(out, torch.Tensor):
        raise TypeError(f"{name} must return a tensor, got {type(out).__name__}")
    return out


def _check_output(module, probe, n_outputs):
    out = _probe(module, probe, "module (with its new head)")
    if out.dim() != 2 or out.shape[1] != n_outputs:
        raise ValueError(
            f"the network with its new head must output (n_samples, {n_outputs}); it "
            f"gave shape {tuple(out.shape)}. Does the head end the network? Choose "
            "it with head=, or give head_module="
        )


def _outputs(network, X, device, batch_size):
    """Outputs of ``network`` on ``X`` in eval mode, recorded before fine-tuning."""
    was_training = network.training
    network.eval().to(device)
    outputs = []
    try:
        with torch.no_grad():
            for start in range(0, len(X), batch_size):
                x = torch.as_tensor(X[start : start + batch_size]).to(device)
                outputs.append(_first(network(x)).float().reshape(len(x), -1).cpu())
    finally:
        network.train(was_training).cpu()
    return torch.cat(outputs).numpy()


@_doc
class FineTuneClassifier(_LabelledRowsClassifierMixin, _FineTuneBase):
    """Fine-tune a pretrained network for a classification task.

    The network's head is replaced by a new one with a logit per class;
    then the network trains on the target rows, possibly with some layers
    frozen (layer transfer), close to its source weights (L2-SP) or to its
    source outputs (learning without forgetting), with gradual unfreezing,
    discriminative and slanted triangular learning rates (ULMFiT).

{params}
    Attributes
    ----------
    net_ : skorch.NeuralNet
        The trained net. ``net_.module_.network`` is the fine-tuned network,
        ``net_.module_.source_head`` the retained source head.
        ``net_.history`` holds, per epoch, ``train_loss``, ``task_loss``,
        ``l2sp_loss``, ``distillation_loss``, ``lr`` (the head's),
        ``group_lrs`` and, when unfreezing gradually, ``unfrozen_groups``.
    source_net_ : skorch.NeuralNet
        The net of the source stage (only with ``sample_domain``).
    classes_ : ndarray of shape (n_classes,)
        The class labels of the target rows.
    source_classes_ : ndarray
        The class labels of the source rows (only with a source stage).
    head_ : str
        Name of the replaced head.
    layer_groups_ : list of list of str
        Parameter names of each layer group, bottom first.
    n_layer_groups_ : int
        Number of layer groups.
    frozen_params_ : list of str
        Names of the parameters frozen by ``freeze``.
    n_features_in_ : int
        Number of input features (of ``X.shape[1]``).
    feature_names_in_ : ndarray of shape (n_features,)
        Names of the features seen in ``fit``, when ``X`` has string column names.

    See Also
    --------
    FineTuneRegressor : The same for regression.

    References
    ----------
    X. Li, Y. Grandvalet and F. Davoine. Explicit Inductive Bias for Transfer
    Learning with Convolutional Networks. ICML 2018.

    Z. Li and D. Hoiem. Learning without Forgetting. ECCV 2016; IEEE TPAMI
    40(12), 2018.

    J. Howard and S. Ruder. Universal Language Model Fine-tuning for Text
    Classification. ACL 2018.

    J. Yosinski, J. Clune, Y. Bengio and H. Lipson. How transferable are
    features in deep neural networks? NeurIPS 2014.

    Examples
    --------
    Fine-tune, on 100 images of the digits 5 to 9, a network trained on the
    digits 0 to 4 (here a skorch net; a fitted sktransfer estimator or any
    ``torch.nn.Module`` works the same), keeping its first layer as it is:

    >>> import torch
    >>> from sklearn.datasets import load_digits
    >>> from skorch import NeuralNetClassifier
    >>> from sktransfer.fine_tuning import FineTuneClassifier
    >>> from sktransfer.nn import MLP
    >>> X, y = load_digits(return_X_y=True)
    >>> X = (X / 16).astype("float32")
    >>> source = NeuralNetClassifier(
    ...     MLP, module__n_features_in=64, module__n_outputs=5,
    ...     criterion=torch.nn.CrossEntropyLoss, optimizer=torch.optim.Adam,
    ...     lr=0.01, max_epochs=5, train_split=None, verbose=0,
    ... ).fit(X[y < 5], y[y < 5])
    >>> clf = FineTuneClassifier(source, freeze=["layers.0.*"], max_epochs=5, random_state=0)
    >>> clf.fit(X[y >= 5][:100], y[y >= 5][:100]).classes_
    array([5, 6, 7, 8, 9])
    >>> clf.head_, clf.n_layer_groups_
    ('layers.4', 2)
    """

    _task = "classification"
    _n_out_doc = "n_classes"

    def _prepare_data(self, X, y, sample_domain, sample_weight=None):
        X, y_encoded, is_target = self._validate_training_data(X, y, sample_domain)
        weights = self._weights_of(sample_weight, X)
        is_source = self._source_rows(sample_domain, len(X))
        labelled = y_encoded != UNLABELLED
        if is_source is None:
            keep = labelled
            targets = self._with_weights(y_encoded[keep, None].astype(np.float32), weights, keep)
            return X[keep], targets, len(self.classes_), None
        labels = self.classes_[np.where(labelled, y_encoded, 0)]
        target = is_target & labelled
        if not target.any():
            raise ValueError(
                "no labelled target rows to fine-tune on: target rows (sample_domain < 0) "
                "all have y == -1"
            )
        classes = np.unique(labels[target])
        if len(classes) < 2:
            raise _one_class_error(
                "FineTuneClassifier needs at least two classes in the labelled target "
                "rows (sample_domain < 0)", classes[0], marked=bool((is_target & ~labelled).any()),
            )
        source_classes = np.unique(labels[is_source])
        self.classes_ = classes
        self.source_classes_ = source_classes
        y_target = np.searchsorted(classes, labels[target])[:, None].astype(np.float32)
        y_source = np.searchsorted(source_classes, labels[is_source])[:, None].astype(np.float32)
        y_target = self._with_weights(y_target, weights, target)
        y_source = self._with_weights(y_source, weights, is_source)
        return (
            X[target],
            y_target,
            len(classes),
            (X[is_source], y_source, len(source_classes)),
        )

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, ...)
            Input rows.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Probability of each class, columns ordered as ``classes_``.
        """
        check_is_fitted(self)
        return self._run_batches(lambda x: torch.softmax(self.net_.module_(x), dim=1), X)


@_doc
class FineTuneRegressor(RegressorMixin, _FineTuneBase):
    """Fine-tune a pretrained network for a regression task.

    The network's head is replaced by a new one with an output per target;
    then the network trains on the rows (mean squared error), possibly with
    some layers frozen (layer transfer), close to its source weights (L2-SP)
    or to its source outputs (learning without forgetting), with gradual
    unfreezing, discriminative and slanted triangular learning rates (ULMFiT).

{params}
    Attributes
    ----------
    net_ : skorch.NeuralNet
        The trained net (see :class:`FineTuneClassifier`).
    source_net_ : skorch.NeuralNet
        The net of the source stage (only with ``sample_domain``).
    n_outputs_ : int
        Number of targets.
    head_ : str
        Name of the replaced head.
    layer_groups_ : list of list of str
        Parameter names of each layer group, bottom first.
    n_layer_groups_ : int
        Number of layer groups.
    frozen_params_ : list of str
        Names of the parameters frozen by ``freeze``.
    n_features_in_ : int
        Number of input features (of ``X.shape[1]``).
    feature_names_in_ : ndarray of shape (n_features,)
        Names of the features seen in ``fit``, when ``X`` has string column names.

    See Also
    --------
    FineTuneClassifier : The same for classification.

    References
    ----------
    X. Li, Y. Grandvalet and F. Davoine. Explicit Inductive Bias for Transfer
    Learning with Convolutional Networks. ICML 2018.

    Z. Li and D. Hoiem. Learning without Forgetting. ECCV 2016.

    J. Howard and S. Ruder. Universal Language Model Fine-tuning for Text
    Classification. ACL 2018.

    Examples
    --------
    >>> import numpy as np
    >>> from sktransfer.fine_tuning import FineTuneRegressor
    >>> from sktransfer.nn import MLP
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(60, 4))
    >>> pretrained = MLP(n_features_in=4, hidden_layer_sizes=(8,), n_outputs=3)
    >>> reg = FineTuneRegressor(pretrained, freeze="all_but_head", max_epochs=3, random_state=0)
    >>> reg.fit(X, X[:, 0]).predict(X[:2]).shape
    (2,)
    >>> reg.frozen_params_
    ['layers.0.weight', 'layers.0.bias']
    """

    _task = "regression"
    _n_out_doc = "n_outputs"

    def _prepare_data(self, X, y, sample_domain, sample_weight=None):
        if y is None:
            raise ValueError("FineTuneRegressor requires y to be passed, but the target y is None")
        y_array = y if hasattr(y, "dtype") else np.asarray(y)
        if getattr(y_array, "dtype", None) is not None and np.dtype(y_array.dtype).kind in "OUS":
            raise ValueError(
                f"FineTuneRegressor got class labels: y of dtype {y_array.dtype} (Unknown "
                "label type for a regressor, which predicts numbers). Use "
                "FineTuneClassifier for classes, or convert y to floats."
            )
        X, y = validate_data(
            self, X, y, dtype=np.float32, allow_nd=True, ensure_min_samples=2,
            multi_output=True, y_numeric=True, force_writeable=True,
        )
        self._y_1d = y.ndim == 1
        targets = (y.reshape(-1, 1) if y.ndim == 1 else y).astype(np.float32)
        self.n_outputs_ = targets.shape[1]
        weights = self._weights_of(sample_weight, X)
        is_source = self._source_rows(sample_domain, len(X))
        if is_source is None:
            return X, self._with_weights(targets, weights, slice(None)), self.n_outputs_, None
        if is_source.all():
            raise ValueError("sample_domain has no target row (no negative id) to fine-tune on")
        return (
            X[~is_source],
            self._with_weights(targets[~is_source], weights, ~is_source),
            self.n_outputs_,
            (X[is_source], self._with_weights(targets[is_source], weights, is_source), self.n_outputs_),
        )

    def predict(self, X) -> np.ndarray:
        """Predicted targets.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, ...)
            Input rows.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            Predictions, 1-D if ``y`` was 1-D at fit.
        """
        check_is_fitted(self)
        out = self._run_batches(self.net_.module_, X).astype(np.float64)
        return out[:, 0] if self._y_1d else out

    def score(self, X, y, sample_weight=None) -> float:
        """Coefficient of determination R² of the predictions.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, ...)
            Input rows.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            True targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the rows.

        Returns
        -------
        score : float
            R² of ``predict(X)`` against ``y`` (as ``sklearn.metrics.r2_score``).
        """
        return super().score(X, y, sample_weight=sample_weight)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags
