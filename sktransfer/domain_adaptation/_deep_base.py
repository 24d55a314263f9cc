"""What the deep unsupervised domain adaptation classifiers share.

DANN, CDAN, Deep CORAL, DAN, MCC and MDD train the same network, a feature extractor
followed by a label predictor, on batches of half source and half target rows,
with one loss: the class loss on the labelled rows plus an alignment loss that
pulls the source and target features together (MCC's shapes the target
predictions instead). They differ only in that
alignment loss (and the modules it needs). :class:`_DeepDABase` holds the rest:

- building the feature extractor and label predictor and checking their
  output shapes on a few rows;
- ``y`` for skorch with two columns, class index (``-1`` unlabelled) and domain
  flag (0 source, 1 target), and a third of sample weights when ``fit`` is
  given some, served in paired batches by
  :class:`~sktransfer._batching.DomainBatchIterator`;
- the trade-off schedule (``"dann"`` ramp or constant, optional annealed
  learning rate), updated before every batch;
- the parts of the loss accumulated over an epoch and recorded in the history;
- ``no_target``, ``predict_proba``, ``transform`` and the tags;
- the optional minimum class confusion regulariser on the target rows'
  predictions (``mcc_weight``), which DANN, CDAN, MDD, Deep CORAL and DAN add
  to their loss as Jin et al. (ECCV 2020) add it to other methods'.

A subclass names its trade-off parameter and schedule parameter, checks its
own parameters and builds a :class:`_DeepDAModule` subclass whose
``alignment_loss`` is the method.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.base import ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils.validation import _check_sample_weight
from skorch import NeuralNet
from skorch.callbacks import Callback
from skorch.utils import to_tensor
from torch import nn

from .._batching import DomainBatchIterator, n_domain_batches
from ..base import (
    UNLABELLED,
    TransferNetBase,
    _caller_stacklevel,
    _forget_fitted_state,
    _ignore_prediction_domain,
    _is_finite_real,
    _LabelledRowsClassifierMixin,
    _PredictionDomainMixin,
    _probe_module,
    _warn_if_every_target_row_labelled,
)
from ..nn import MLP, GradientReversal
from ._losses import mcc_loss

# One hidden layer of 256 units with dropout: with it DANN reaches 0.98
# target accuracy on the rotated moons over 5 seeds (benchmarks/bench_dann.py).
_DEFAULT_FEATURE_EXTRACTOR = {"hidden_layer_sizes": (256,), "dropout": 0.5}
# The default domain classifier of the adversarial methods.
_DEFAULT_DOMAIN_CLASSIFIER = {"hidden_layer_sizes": (64,)}
# The default label predictor: a linear layer.
_DEFAULT_LABEL_PREDICTOR = {"hidden_layer_sizes": ()}
# Why the MCC loss needs two target rows (MCCClassifier and the MCC regulariser).
_MCC_ONE_ROW_WHY = (
    "the class confusion of one row, repeated in every batch, is the same "
    "whatever it predicts: MCC would not adapt"
)
_MCC_BATCH_REASON = "; MCC needs two target rows in a batch to see class confusion"
# The MCC regulariser's parameters in the docstring of an estimator that has them
# (``{mcc_params}``, filled by ``_with_mcc_params_doc``).
_MCC_PARAMS_DOC = """\
    mcc_weight : float, default=0.0
        Weight of the minimum class confusion loss of the target rows'
        predictions (see :class:`MCCClassifier`), added to the training loss
        (Jin et al., ECCV 2020, add it to other methods' losses; here
        {method}+MCC), scheduled by ``mcc_schedule``. 0 leaves it out: plain
        {method}. Above 0, the training batch size (``batch_size`` or
        ``iterator_train__batch_size``) must be at least 4, for two target
        rows per batch, and ``fit`` refuses a single target row (the class
        confusion of one row has no gradient); the term counts every target
        row of a batch, labelled or not.
    mcc_temperature : float, default=2.5
        Softmax temperature of the MCC loss (the paper's); used only when
        ``mcc_weight`` is above 0.
    mcc_schedule : {{"dann", "constant"}} or None, default=None
        How ``mcc_weight`` is reached: ``"dann"`` ramps it up as
        ``{schedule}``'s ``"dann"`` does, ``"constant"`` applies it at full
        weight from the first step, as the paper's code does (on a network
        pretrained on ImageNet). None follows ``{schedule}``: the ramp
        keeps the term from sharpening the early predictions of a network
        trained from scratch, as :class:`MCCClassifier`'s default schedule
        does. Used only when ``mcc_weight`` is above 0.
"""


def _with_mcc_params_doc(method: str):
    """Class decorator: the MCC regulariser's parameters in place of ``{mcc_params}``."""

    def decorate(cls):
        block = _MCC_PARAMS_DOC.format(method=method, schedule=cls._schedule_param)
        cls.__doc__ = cls.__doc__.replace("    {mcc_params}\n", block)
        return cls

    return decorate


# ----------------------------------------------------------------------
# modules
# ----------------------------------------------------------------------
class _DeepDAModule(nn.Module):
    """Feature extractor and label predictor, plus a method's alignment loss.

    In training mode the forward pass returns ``(label_logits, features)``
    (``features`` is None when ``adapt`` is False); in eval mode it returns the
    label logits only. ``coef`` is the current trade-off weight, set by the
    schedule before every batch. Subclasses implement :meth:`alignment_loss`.

    ``mcc_temperature`` (None: off) turns on the minimum class confusion
    regulariser of the target rows' logits, weighted by ``mcc_coef`` (also set
    by the schedule); it is added to whatever the method's loss is.
    """

    mcc_temperature = None
    mcc_coef = 0.0

    def __init__(self, feature_extractor, label_predictor, adapt=True):
        super().__init__()
        self.feature_extractor = feature_extractor
        self.label_predictor = label_predictor
        self.adapt = adapt
        self.coef = 0.0

    def set_coef(self, coef: float) -> None:
        self.coef = coef

    def forward(self, x):
        features = self.feature_extractor(x)
        label_logits = self.label_predictor(features)
        if not self.training:
            return label_logits
        if not self.adapt:
            return label_logits, None
        return label_logits, features

    def alignment_loss(self, features, label_logits, domains):
        """The term added to the class loss, and the parts to record.

        Parameters
        ----------
        features : Tensor of shape (n_rows, n_features)
        label_logits : Tensor of shape (n_rows, n_classes)
        domains : Tensor of int64 of shape (n_rows,)
            0 for source rows, 1 for target rows.

        Returns
        -------
        loss : scalar Tensor
            Added to the class loss (weighted by ``coef`` where the method
            weights it in the loss).
        parts : dict of str to detached Tensor
            Recorded in the history as the mean over the epoch's rows or batches.
        """
        raise NotImplementedError

    def extra_repr(self):
        return "" if self.mcc_temperature is None else f"mcc_temperature={self.mcc_temperature}"

    def mcc_regulariser(self, label_logits, domains):
        """The weighted MCC loss of the target rows' logits, and its part to record."""
        value = mcc_loss(label_logits[domains == 1], self.mcc_temperature)
        return self.mcc_coef * value, {"mcc_loss": value.detach()}


class _AdversarialModule(_DeepDAModule):
    """A domain classifier trained through a gradient reversal layer.

    The reversal's coefficient is the trade-off weight: the domain classifier
    always learns at full strength, the features get its gradient times
    ``-coef``. Subclasses choose what the domain classifier sees
    (:meth:`discriminator_input`) and may weight its rows (:meth:`row_weights`).
    """

    def __init__(self, feature_extractor, label_predictor, domain_classifier, adapt=True):
        super().__init__(feature_extractor, label_predictor, adapt)
        self.domain_classifier = domain_classifier
        self.grl = GradientReversal(0.0)

    def set_coef(self, coef: float) -> None:
        self.coef = coef
        self.grl.coef = coef

    def discriminator_input(self, features, label_logits):
        return features

    def row_weights(self, label_logits, domains):
        return None

    def domain_logits(self, features, label_logits):
        inputs = self.discriminator_input(features, label_logits)
        return self.domain_classifier(self.grl(inputs)).reshape(-1)

    def alignment_loss(self, features, label_logits, domains):
        logits = self.domain_logits(features, label_logits)
        loss = F.binary_cross_entropy_with_logits(
            logits, domains.float(), weight=self.row_weights(label_logits, domains)
        )
        correct = ((logits.detach() > 0).long() == domains).float()
        return loss, {"domain_loss": loss.detach(), "domain_acc": correct}


class _DiscrepancyModule(_DeepDAModule):
    """A statistic of the difference between source and target features.

    ``discrepancy(source_features, target_features)`` is the method; the
    loss adds it times ``coef`` and records it as ``<name>``.
    """

    name = "discrepancy_loss"

    def discrepancy(self, source, target):
        raise NotImplementedError

    def alignment_loss(self, features, label_logits, domains):
        is_target = domains == 1
        value = self.discrepancy(features[~is_target], features[is_target])
        return self.coef * value, {self.name: value.detach()}


# ----------------------------------------------------------------------
# skorch net and schedule
# ----------------------------------------------------------------------
class _DeepDANet(NeuralNet):
    """skorch net whose loss is the class loss on labelled rows plus the alignment loss.

    ``y`` has two columns: class index (``-1`` unlabelled) and domain flag;
    with sample weights, a third column holds them (the array is then float32)
    and the class loss is the mean over labelled rows of each row's loss times
    its weight. The
    parts of the loss are accumulated as tensors during an epoch (no device
    sync per batch) and their means recorded in the history at its end:
    ``class_loss`` and the module's parts (``domain_loss``, ``coral_loss``, ...).
    """

    def _set_training(self, training=True):
        # skorch switches the modules' mode before every batch; walking the
        # module tree each time is a visible share of an epoch on small networks.
        if self.module_.training != training:
            super()._set_training(training)

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        super().on_train_begin(net, X=X, y=y, **kwargs)
        # The whole tree in training mode once, as skorch's own _set_training
        # would put it before each batch: a part given in eval mode (pretrained
        # weights are often loaded that way) would otherwise train with its
        # dropout off and its BatchNorm statistics frozen, the shortcut above
        # reading only the top module's flag.
        super()._set_training(True)

    def on_epoch_begin(self, net, **kwargs):
        super().on_epoch_begin(net, **kwargs)
        self._loss_parts = []

    def on_epoch_end(self, net, **kwargs):
        super().on_epoch_end(net, **kwargs)
        parts = self.__dict__.pop("_loss_parts", None)
        if not parts:
            return
        for key in parts[0]:
            values = torch.cat([p[key].reshape(-1) for p in parts])
            self.history.record(key, values.mean().item())

    def get_loss(self, y_pred, y_true, X=None, training=False):
        label_logits, features = y_pred
        y_true = to_tensor(y_true, device=self.device)
        labels, domains = y_true[:, 0], y_true[:, 1]
        # Mean over labelled rows (-1 is ignored). Every training batch holds
        # source rows, which are all labelled, so the mean is never empty.
        if y_true.shape[1] > 2:  # sample weights (float32 columns)
            labels, domains = labels.long(), domains.long()
            rows = F.cross_entropy(label_logits, labels, ignore_index=-1, reduction="none")
            weighted = rows * y_true[:, 2].to(rows.dtype)
            class_loss = weighted[labels != -1].mean()
        else:
            class_loss = self.criterion_(label_logits, labels)
        parts = {"class_loss": class_loss.detach()}
        loss = class_loss
        if features is not None:
            align_loss, align_parts = self.module_.alignment_loss(features, label_logits, domains)
            parts.update(align_parts)
            loss = class_loss + align_loss
            if self.module_.mcc_temperature is not None:
                mcc, mcc_parts = self.module_.mcc_regulariser(label_logits, domains)
                parts.update(mcc_parts)
                loss = loss + mcc
        # Kept as tensors and summarised at the end of the epoch: no device
        # sync per batch.
        self._loss_parts.append(parts)
        return loss


class _TradeOffSchedule(Callback):
    """The schedules of Ganin et al. (JMLR 2016), updated before every batch.

    With training progress ``p`` going linearly from 0 to 1 over all batches:
    trade-off weight ``weight_max * (2 / (1 + exp(-10 p)) - 1)`` (or the
    constant ``weight_max``), learning rate ``lr_0 / (1 + 10 p) ** 0.75`` for
    every parameter group (or constant). Records the weight as ``key`` and the
    learning rate as ``lr`` per epoch. ``mcc_weight`` (None: no MCC
    regulariser) follows ``mcc_schedule`` (None: the trade-off weight's
    schedule), set as the module's ``mcc_coef`` and recorded as ``mcc_weight``.
    """

    def __init__(
        self, weight_max, weight_schedule, lr_schedule, n_steps, key="lambda", mcc_weight=None,
        mcc_schedule=None,
    ):
        self.weight_max = weight_max
        self.weight_schedule = weight_schedule
        self.lr_schedule = lr_schedule
        self.n_steps = n_steps
        self.key = key
        self.mcc_weight = mcc_weight
        self.mcc_schedule = weight_schedule if mcc_schedule is None else mcc_schedule

    def on_train_begin(self, net, **kwargs):
        self.step_ = 0
        self.coef_ = self.weight_max if self.weight_schedule == "constant" else 0.0
        if self.mcc_weight is not None:
            self.mcc_coef_ = self.mcc_weight if self.mcc_schedule == "constant" else 0.0
        self.base_lrs_ = [group["lr"] for group in net.optimizer_.param_groups]

    def on_batch_begin(self, net, training=False, **kwargs):
        if not training:
            return
        p = min(self.step_ / max(self.n_steps, 1), 1.0)
        ramp = 2.0 / (1.0 + math.exp(-10.0 * p)) - 1.0
        if self.weight_schedule == "dann":
            self.coef_ = self.weight_max * ramp
        if self.mcc_weight is not None and self.mcc_schedule == "dann":
            self.mcc_coef_ = self.mcc_weight * ramp
        net.module_.set_coef(self.coef_)
        if self.mcc_weight is not None:
            net.module_.mcc_coef = self.mcc_coef_
        if self.lr_schedule == "dann":
            factor = (1.0 + 10.0 * p) ** -0.75
            for group, base_lr in zip(net.optimizer_.param_groups, self.base_lrs_):
                group["lr"] = base_lr * factor
        self.step_ += 1

    def on_epoch_end(self, net, **kwargs):
        net.history.record(self.key, self.coef_)
        if self.mcc_weight is not None:
            net.history.record("mcc_weight", self.mcc_coef_)
        net.history.record("lr", net.optimizer_.param_groups[0]["lr"])


# ----------------------------------------------------------------------
# estimator
# ----------------------------------------------------------------------
class _DeepDABase(
    ClassNamePrefixFeaturesOutMixin,
    _PredictionDomainMixin,
    _LabelledRowsClassifierMixin,
    TransformerMixin,
    TransferNetBase,
):
    """Base of the deep domain adaptation classifiers (not public).

    Subclasses set the class attributes below, define ``__init__`` with the
    shared parameters (``module``, ``label_predictor``, ``lr_schedule``,
    ``no_target``, ``max_epochs``, ``batch_size``, ``lr``, ``optimizer``,
    ``callbacks``, ``device``, ``random_state``, ``verbose``, ``**kwargs``)
    plus their own, and implement :meth:`_build_alignment`.
    """

    _module_params = ("module", "label_predictor")
    _iterator_train_class = DomainBatchIterator
    #: The trade-off parameter (non-negative) and its schedule parameter.
    _weight_param = "lambda_max"
    _schedule_param = "lambda_schedule"
    #: History key of the scheduled trade-off weight.
    _weight_key = "lambda"
    #: Smallest batch_size, and why (completes "half source, half target rows").
    _min_batch_size = 2
    _min_batch_reason = ""
    #: Fewest (source, target) rows the alignment can use, and why (when there are any).
    _min_domain_rows = (1, 1)
    _min_domain_rows_why = ""
    #: The statistic the alignment loss estimates on each batch ("" if none),
    #: which rows repeated within a batch bias.
    _batch_statistic = ""
    #: The :class:`~sktransfer.nn.MLP` parameters of ``label_predictor=None``.
    _label_predictor_defaults = _DEFAULT_LABEL_PREDICTOR
    #: Whether the estimator has the MCC regulariser's parameters,
    #: ``mcc_weight``, ``mcc_temperature`` and ``mcc_schedule``.
    _mcc_regulariser = False

    def _mcc_in_use(self) -> bool:
        """Whether the MCC regulariser is on (the parameters are checked)."""
        return self._mcc_regulariser and getattr(self, "mcc_weight", 0) != 0

    def _least_domain_rows(self):
        """The (source, target) row minimums of the losses that count, each with why."""
        needs = []
        if getattr(self, self._weight_param) != 0:
            needs.append((self._min_domain_rows, self._min_domain_rows_why))
        if self._mcc_in_use():
            needs.append(((1, 2), _MCC_ONE_ROW_WHY))
        return needs

    def _warn_if_batches_repeat_rows(
        self, n_source: int, n_target: int, name: str, batch_size: int
    ) -> None:
        """Warn when a domain has fewer rows than a half-batch holds.

        Each batch holds ``batch_size // 2`` rows of each domain, cycling
        through the smaller domain: with fewer rows, every batch repeats some,
        and a loss computed from a statistic of the batch (a covariance, an
        MMD) counts them twice. Adversarial losses only weight them more.
        Called only when the alignment loss counts (target rows, a non-zero
        trade-off weight); ``name`` is the parameter that set ``batch_size``.
        """
        half = max(batch_size // 2, 1)
        short = [d for d, n in (("source", n_source), ("target", n_target)) if n < half]
        if not self._batch_statistic or not short:
            return
        fewest = min(n_source, n_target)
        which = " and ".join(short)
        sizes = {"source": n_source, "target": n_target}
        counts = ", ".join(
            f"{sizes[d]} {d} row{'' if sizes[d] == 1 else 's'}" for d in short
        )
        # at least _min_domain_rows rows each: 2 * fewest is a batch size fit accepts
        advice = f"set {name} to at most {2 * fewest}, or add {which} rows"
        warnings.warn(
            f"{type(self).__name__}: each batch holds {half} rows of each domain "
            f"({name}={batch_size}) and the {which} domain{'s have' if len(short) > 1 else ' has'} "
            f"fewer ({counts}), so every batch repeats {which} rows, which biases the "
            f"batch {self._batch_statistic} of the alignment loss: {advice}.",
            UserWarning,
            stacklevel=_caller_stacklevel(),
        )

    def _check_params(self):
        self._check_common_params()
        # the method's trade-off weight, and the MCC regulariser's where it has one
        weights = (self._weight_param, "mcc_weight") if self._mcc_regulariser else (self._weight_param,)
        for name in weights:
            weight = getattr(self, name)
            if not (_is_finite_real(weight) and weight >= 0):
                raise ValueError(f"{name} must be a non-negative finite number, got {weight!r}")
        if self._mcc_regulariser and not (
            _is_finite_real(self.mcc_temperature) and self.mcc_temperature > 0
        ):
            raise ValueError(
                f"mcc_temperature must be a positive finite number, got {self.mcc_temperature!r}"
            )
        schedules = [
            (self._schedule_param, ("dann", "constant")),
            ("lr_schedule", ("dann", "constant")),
            ("no_target", ("raise", "source_only")),
        ]
        if self._mcc_regulariser:
            schedules.append(("mcc_schedule", (None, "dann", "constant")))
        for name, allowed in schedules:
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {getattr(self, name)!r}")
        name, batch_size = self._train_batch_size()
        least, reason = self._min_batch_size, self._min_batch_reason
        if self._mcc_in_use() and least < 4:
            least, reason = 4, f"{_MCC_BATCH_REASON} (mcc_weight > 0)"
        if batch_size < least:
            raise ValueError(
                f"{name} must be at least {least} (half source, half "
                f"target rows{reason}), got {batch_size}"
            )
        self._check_alignment_params()

    def _lr_schedule_in_use(self):
        return None if self.lr_schedule == "constant" else f"lr_schedule={self.lr_schedule!r}"

    def _check_alignment_params(self):
        """Check the method's own parameters (before any training)."""

    def _build_alignment(self, feature_extractor, label_predictor, features, logits, adapt):
        """Build the method's :class:`_DeepDAModule` around the two parts.

        ``features`` and ``logits`` are the outputs of the feature extractor
        and of the label predictor on a few rows, for building and checking
        the method's own modules.
        """
        raise NotImplementedError

    def _alignment_callbacks(self, adapt):
        """The method's own skorch callbacks, as ``(name, callback)`` pairs."""
        return []

    def _build_domain_classifier(self, n_inputs, probe, adapt):
        """The ``domain_classifier`` parameter built for ``n_inputs`` and checked on ``probe``."""
        domain_classifier = self._build_module(
            "domain_classifier",
            MLP,
            _DEFAULT_DOMAIN_CLASSIFIER,
            n_features_in=n_inputs,
            n_outputs=1,
        )
        if adapt:
            domain_logits = _probe_module(domain_classifier, probe, "domain_classifier")
            if domain_logits.numel() != len(probe):
                raise ValueError(
                    "domain_classifier must output one logit per row, shape (n_samples,) "
                    f"or (n_samples, 1); it gave shape {tuple(domain_logits.shape)}"
                )
        return domain_classifier

    def _build_network(self, X_probe, adapt):
        """Build the parts and check their output shapes on a few rows."""
        n_classes = len(self.classes_)
        feature_extractor = self._build_module(
            "module", MLP, _DEFAULT_FEATURE_EXTRACTOR, n_features_in=self.n_features_in_
        )
        features = _probe_module(feature_extractor, X_probe, "module")
        if features.dim() != 2:
            raise ValueError(
                "module (the feature extractor) must output a 2-D tensor "
                f"(n_samples, n_features); it gave shape {tuple(features.shape)} "
                f"for input of shape {tuple(X_probe.shape)}"
            )
        n_features = features.shape[1]
        self._n_features_out = n_features
        label_predictor = self._build_module(
            "label_predictor",
            MLP,
            self._label_predictor_defaults,
            n_features_in=n_features,
            n_outputs=n_classes,
        )
        logits = _probe_module(label_predictor, features, "label_predictor")
        if logits.dim() != 2 or logits.shape[1] != n_classes:
            raise ValueError(
                f"label_predictor must output (n_samples, n_classes={n_classes}); it "
                f"gave shape {tuple(logits.shape)} for features of width {n_features}"
            )
        return self._build_alignment(feature_extractor, label_predictor, features, logits, adapt)

    def fit(self, X, y, sample_domain=None, sample_weight=None):
        """Fit on labelled source rows and (unlabelled) target rows.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, ...)
            Rows of all domains.
        y : array-like of shape (n_samples,)
            Class labels; ``-1`` marks unlabelled rows.
        sample_domain : array-like of int of shape (n_samples,), default=None
            Domain of each row: positive ids for source domains, negative ids
            for target domains (skada's convention); several source (or
            target) domains are pooled into one: one domain classifier
            (or discrepancy) tells source from target. Target rows may be
            labelled (semi-supervised adaptation); source rows must be. If
            None, labelled rows are source and unlabelled rows are target.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weight of each row in the class loss: a batch's class
            loss is the mean over its labelled rows of each row's loss times
            its weight (weights all 1 train as no weights), e.g. to count a
            few labelled target rows more, or to balance the classes. The
            alignment loss (and the MCC regulariser) is not weighted, so
            weights whose mean over the labelled rows is not 1 change the
            class loss's balance with it; the weights of unlabelled rows are
            not used. Batches are drawn as without weights.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        self.__dict__.pop("net_", None)
        self._check_params()
        X, y_encoded, is_target = self._validate_training_data(X, y, sample_domain)
        weights = self._check_class_loss_weights(sample_weight, X, y_encoded)
        _warn_if_every_target_row_labelled(
            y_encoded != UNLABELLED, is_target, sample_domain, type(self).__name__
        )
        n_target = int(is_target.sum())
        if n_target == 0 and self.no_target == "raise":
            _forget_fitted_state(self)  # a refused fit leaves no fitted state
            raise ValueError(
                f"{type(self).__name__} found no target rows to adapt to: mark the target "
                "rows with y == -1, or pass sample_domain with negative ids for "
                "target domains. To train without adaptation, set no_target='source_only'."
            )
        n_source = len(y_encoded) - n_target
        adapt = n_target > 0
        batch_size_param, batch_size = self._train_batch_size()
        if adapt:  # the losses that count (with a non-zero weight) need rows
            for (least_source, least_target), why in self._least_domain_rows():
                for domain, n_rows, least in (
                    ("target", n_target, least_target), ("source", n_source, least_source)
                ):
                    if 0 < n_rows < least:
                        _forget_fitted_state(self)
                        raise ValueError(
                            f"{type(self).__name__} needs at least {least} {domain} "
                            f"rows ({why}); got {n_rows}"
                        )
            if getattr(self, self._weight_param) != 0:  # the alignment loss counts
                self._warn_if_batches_repeat_rows(
                    n_source, n_target, batch_size_param, batch_size
                )
        n_batches = n_domain_batches(n_source, n_target, batch_size)
        n_steps = self.max_epochs * n_batches
        if weights is None:
            y_net = np.column_stack([y_encoded, is_target.astype(np.int64)])
        else:
            y_net = np.column_stack([y_encoded, is_target, weights]).astype(np.float32)

        momentum = {"momentum": 0.9} if self.optimizer is torch.optim.SGD else None
        with self._rng_context():
            module = self._build_network(torch.as_tensor(X[: min(len(X), 4)]), adapt)
            mcc = self._mcc_in_use() and adapt
            if mcc:
                module.mcc_temperature = float(self.mcc_temperature)
            schedule = _TradeOffSchedule(
                getattr(self, self._weight_param),
                getattr(self, self._schedule_param),
                self.lr_schedule,
                n_steps,
                key=self._weight_key,
                mcc_weight=float(self.mcc_weight) if mcc else None,
                mcc_schedule=self.mcc_schedule if mcc else None,
            )
            self.net_ = _DeepDANet(
                module=module,
                criterion=nn.CrossEntropyLoss,
                criterion__ignore_index=-1,
                predict_nonlinearity=None,
                **self._net_params(
                    [("dann_schedule", schedule), *self._alignment_callbacks(adapt)],
                    optimizer_defaults=momentum,
                    batches_per_epoch=n_batches,
                ),
            )
            try:
                self.net_.fit(X, y_net)
            finally:
                # Also when training fails (skorch then skips on_train_end): the
                # fitted estimator is pickled with its callbacks.
                for _, callback in getattr(self.net_, "callbacks_", ()):
                    if hasattr(callback, "forget_training_data"):
                        callback.forget_training_data()
        return self

    def _check_class_loss_weights(self, sample_weight, X, y_encoded):
        """``sample_weight`` checked (None stays None); a refusal leaves no fitted state."""
        if sample_weight is None:
            return None
        try:
            weights = _check_sample_weight(
                sample_weight, X, dtype=np.float32, ensure_non_negative=True
            )
            if not weights[y_encoded != UNLABELLED].any():
                raise ValueError(
                    "sample_weight is zero on every labelled row: the class loss "
                    "would have nothing to learn from"
                )
        except ValueError:
            _forget_fitted_state(self)
            raise
        return weights

    def predict(self, X, sample_domain=None):
        """Predicted class labels: the most probable class of each row.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, ...)
            Rows of any domain.
        sample_domain : array-like of shape (n_samples,), default=None
            Ignored: prediction needs no domain. Accepted, and checked against
            ``X``, because skada's scorers pass it.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            Labels from ``classes_``.
        """
        _ignore_prediction_domain(self, sample_domain, X)
        return super().predict(X)

    def predict_proba(self, X, sample_domain=None):
        """Class probabilities.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, ...)
            Rows of any domain.
        sample_domain : array-like of shape (n_samples,), default=None
            Ignored: prediction needs no domain. Accepted, and checked against
            ``X``, because skada's scorers pass it.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Probability of each class, columns ordered as ``classes_``.
        """
        _ignore_prediction_domain(self, sample_domain, X)
        return self._run_batches(lambda x: torch.softmax(self.net_.module_(x), dim=1), X)

    def decision_function(self, X, sample_domain=None):
        """The network's class scores (logits), before the softmax of :meth:`predict_proba`.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, ...)
            Rows of any domain.
        sample_domain : array-like of shape (n_samples,), default=None
            Ignored: prediction needs no domain. Accepted, and checked against
            ``X``, because skada's scorers pass it.

        Returns
        -------
        scores : ndarray of shape (n_samples,) or (n_samples, n_classes)
            One logit per class, columns ordered as ``classes_``; with two
            classes, scikit-learn's convention: the logit of ``classes_[1]``
            minus that of ``classes_[0]`` (positive means ``classes_[1]``).
        """
        _ignore_prediction_domain(self, sample_domain, X)
        logits = self._run_batches(lambda x: self.net_.module_(x), X)
        if logits.shape[1] == 2:
            return logits[:, 1] - logits[:, 0]
        return logits

    def transform(self, X):
        """The learned (domain-invariant) features.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, ...)
            Rows of any domain.

        Returns
        -------
        features : ndarray of shape (n_samples, n_features_out)
            Output of the feature extractor.
        """
        return self._run_batches(lambda x: self.net_.module_.feature_extractor(x), X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags
