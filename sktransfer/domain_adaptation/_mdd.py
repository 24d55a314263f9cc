"""Margin disparity discrepancy (MDD)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..base import _build_from_spec, _is_finite_real, _probe_module
from ..nn import MLP, GradientReversal
from ._deep_base import _DeepDABase, _DeepDAModule, _with_mcc_params_doc
from ._losses import mdd_loss

__all__ = ["MDDClassifier"]

# f and f' by default: the authors' classifiers (their ``hidden_layer`` of 1024
# units on ResNet features; 256 here, the width of the default feature extractor).
_DEFAULT_HEADS = {"hidden_layer_sizes": (256,), "dropout": 0.5}


def _reinitialise(module: nn.Module) -> nn.Module:
    """``module`` with every layer that has ``reset_parameters`` drawn anew (in place)."""
    for layer in module.modules():
        reset = getattr(layer, "reset_parameters", None)
        if callable(reset):
            reset()
    return module


class _MDDModule(_DeepDAModule):
    """Feature extractor, label predictor and an auxiliary classifier behind a GRL.

    The auxiliary classifier learns at full strength to agree with the label
    predictor's predictions on the source rows and to disagree with them on
    the target rows; the features get its gradient times ``-coef``.
    """

    def __init__(self, feature_extractor, label_predictor, auxiliary_classifier, margin, adapt=True):
        super().__init__(feature_extractor, label_predictor, adapt)
        self.auxiliary_classifier = auxiliary_classifier
        self.grl = GradientReversal(0.0)
        self.margin = float(margin)

    def set_coef(self, coef: float) -> None:
        self.coef = coef
        self.grl.coef = coef

    def alignment_loss(self, features, label_logits, domains):
        auxiliary = self.auxiliary_classifier(self.grl(features))
        predictions = label_logits.detach().argmax(dim=1)
        is_target = domains == 1
        loss = mdd_loss(
            auxiliary[~is_target], predictions[~is_target],
            auxiliary[is_target], predictions[is_target], self.margin,
        )
        disagree = (auxiliary.detach()[is_target].argmax(dim=1) != predictions[is_target]).float()
        return loss, {"mdd_loss": loss.detach(), "target_disagreement": disagree}

    def extra_repr(self):
        return ", ".join(filter(None, (f"margin={self.margin}", super().extra_repr())))


@_with_mcc_params_doc("MDD")
class MDDClassifier(_DeepDABase):
    """Margin disparity discrepancy (MDD): adversarial adaptation with an auxiliary classifier.

    A feature extractor feeds a label predictor ``f`` and, through a gradient
    reversal layer, an auxiliary classifier ``f'`` of the same kind (Zhang,
    Liu, Long and Jordan, ICML 2019). ``f'`` is trained to agree with ``f``'s
    predictions on the source rows and to disagree with them on the target
    rows: how much it can is the *disparity discrepancy* between the domains,
    a bound on the target error that, unlike DANN's domain classifier, only
    counts the differences that change ``f``'s predictions. The feature
    extractor gets ``f'``'s gradient reversed, and so reduces it. The source
    term is weighted by ``margin`` (the paper's ``gamma``): the loss of
    ``f'`` is ``margin * CE(f'(x_s), f(x_s)) - mean log(1 - p'(f(x_t) | x_t))``
    (see :func:`~sktransfer.domain_adaptation._losses.mdd_loss`).

    Fit on the rows of both domains with ``y == -1`` on the unlabelled target
    rows; every training batch holds half source rows, half target rows.

    Parameters
    ----------
    module : nn.Module class or instance, default=None
        The feature extractor. A class is built with ``module__*`` parameters
        (and ``n_features_in`` from the data if it accepts one); an instance is
        deep-copied. None means :class:`sktransfer.nn.MLP` with one hidden
        layer of 256 units and dropout 0.5 (``module__*`` parameters override
        these). Its output must be 2-D: ``(n_samples, n_features)``. For
        images, use e.g. :class:`sktransfer.nn.ConvEncoder`.
    label_predictor : nn.Module class or instance, default=None
        Maps features to class logits ``(n_samples, n_classes)``. A class gets
        ``n_features_in`` and ``n_outputs`` if it accepts them. None means
        :class:`sktransfer.nn.MLP` with one hidden layer of 256 units and
        dropout 0.5 (the authors' classifiers: linear, ReLU, dropout, linear;
        ``label_predictor__*`` parameters override these, e.g.
        ``label_predictor__hidden_layer_sizes=()`` for a linear layer as the
        other deep methods' default). With linear classifiers the adversary
        won on USPS→MNIST with :class:`~sktransfer.nn.ConvEncoder` features
        (target accuracy 28.7 ± 16.1 over three seeds, 27 points below the
        same network without adaptation; 89.6 ± 3.4 with these).
    auxiliary_classifier : nn.Module class or instance, default=None
        The adversary ``f'``: maps features to class logits, as
        ``label_predictor`` does (a class gets ``n_features_in`` and
        ``n_outputs`` if it accepts them; an instance is deep-copied). None
        means a second label predictor built as ``label_predictor`` is (with
        its ``label_predictor__*`` parameters, which ``auxiliary_classifier__*``
        parameters override), with its own initial weights: when
        ``label_predictor`` is an instance, its copy's layers are drawn anew
        (``reset_parameters``). The paper's ``f'`` has ``f``'s architecture.
    margin : float, default=4.0
        The weight ``gamma`` of the source term; at least 1. The default is
        skada's and the top of the paper's range (2 to 4). A larger margin
        makes the adversary agree more with ``f`` on the source rows before it
        disagrees on the target rows.
    feature_batch_norm : bool, default=True
        Normalise the feature extractor's output with a ``BatchNorm1d`` layer
        before both classifiers (the authors' networks end their bottleneck
        with one; ``transform`` then gives the normalised features). The
        disparity rewards the features for growing: without it the default
        MLP's features grew without bound on MNIST↔USPS, and ``fit`` raised
        ``FloatingPointError`` in every fit of the benchmark (three seeds,
        both directions, the MLP and the ConvEncoder; linear classifiers, the
        default then). False leaves the
        feature extractor as given, and so does a fit without target rows
        (``no_target="source_only"``: there is no disparity, and a batch of
        one source row could not be normalised).
    lambda_max : float, default=0.1
        Final strength of the gradient reversal (the trade-off): the ceiling of
        the authors' code and library (0.1). The disparity rewards the features
        without bound for driving the two classifiers apart on the source rows,
        and at 1 training diverged on Office-Caltech (C→A, 20 epochs: ``fit``
        raises ``FloatingPointError``; linear classifiers). With 0 the
        disparity never reaches the features: the same network trained
        without adaptation, a source-only baseline (not the other deep
        methods' network at weight 0: its BatchNorm layer, its classifier's
        hidden layer and the dropout draws of the auxiliary classifier, which
        still runs, differ).
    lambda_schedule : {"dann", "constant"}, default="dann"
        ``"dann"`` grows the trade-off as
        ``lambda_max * (2 / (1 + exp(-10 p)) - 1)`` with training progress
        ``p`` in [0, 1] (DANN's ramp; the authors' code grows its reversal
        with the same curve over a fixed 1000 iterations at a tenth of the
        rate, so that it stays below its ceiling on short runs).
    {mcc_params}
    lr_schedule : {"dann", "constant"}, default="dann"
        ``"dann"`` anneals the learning rate as ``lr / (1 + 10 p) ** 0.75``
        (the authors' code anneals it as ``(1 + a t) ** -0.75`` with the
        iteration ``t``). The disparity has no bound the features or the
        classifiers could reach: at a constant rate the game ran away with the
        ConvEncoder and linear classifiers on MNIST↔USPS (USPS→MNIST, seed 0,
        30 epochs: the source
        class loss fell to 0.1 by the third epoch, then rose to 482, and the
        classifiers' weight norms to 121 and 755), where the annealed rate
        kept it bounded (0.3; norms about 10). ``"constant"`` keeps ``lr``
        throughout.
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
        ``module__*``, ``label_predictor__*``, ``auxiliary_classifier__*``,
        ``optimizer__*``, ``iterator_train__*``, ``iterator_valid__*`` and
        ``callbacks__*`` parameters, as in skorch.

    Attributes
    ----------
    net_ : skorch.NeuralNet
        The trained net. ``net_.history`` holds, per epoch, ``train_loss``,
        ``class_loss``, ``mdd_loss`` (the auxiliary classifier's loss above),
        ``target_disagreement`` (the share of target rows on which ``f'``
        predicts another class than ``f``), ``lambda`` and ``lr``; with
        ``mcc_weight`` above 0 and target rows to fit, also ``mcc_loss`` and
        ``mcc_weight`` (the scheduled weight).
    classes_ : ndarray of shape (n_classes,)
        The class labels.
    n_features_in_ : int
        Number of input features.
    feature_names_in_ : ndarray of shape (n_features,)
        Names of the features seen in ``fit``, when ``X`` has string column names.

    See Also
    --------
    DANNClassifier : The adversary is a domain classifier.
    CDANClassifier : The domain classifier sees the class predictions too.

    References
    ----------
    Y. Zhang, T. Liu, M. Long and M. I. Jordan. Bridging Theory and Algorithm
    for Domain Adaptation. ICML 2019.

    Y. Jin, X. Wang, M. Long and J. Wang. Minimum Class Confusion for
    Versatile Domain Adaptation. ECCV 2020 (``mcc_weight``).

    Examples
    --------
    >>> from sktransfer import MDDClassifier
    >>> from sktransfer.datasets import make_rotated_moons, mask_target_labels
    >>> X, y, domain = make_rotated_moons(angle=35, random_state=0)
    >>> clf = MDDClassifier(max_epochs=5, random_state=0)
    >>> clf.fit(X, mask_target_labels(y, domain))
    MDDClassifier(max_epochs=5, random_state=0)
    >>> clf.predict(X[domain < 0]).shape
    (500,)
    """

    _module_params = ("module", "label_predictor", "auxiliary_classifier")
    _mcc_regulariser = True
    _label_predictor_defaults = _DEFAULT_HEADS

    def __init__(
        self,
        module=None,
        *,
        label_predictor=None,
        auxiliary_classifier=None,
        margin: float = 4.0,
        feature_batch_norm: bool = True,
        lambda_max: float = 0.1,
        lambda_schedule: str = "dann",
        mcc_weight: float = 0.0,
        mcc_temperature: float = 2.5,
        mcc_schedule: str | None = None,
        lr_schedule: str = "dann",
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
        self.auxiliary_classifier = auxiliary_classifier
        self.margin = margin
        self.feature_batch_norm = feature_batch_norm
        self.lambda_max = lambda_max
        self.lambda_schedule = lambda_schedule
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
        if not isinstance(self.feature_batch_norm, (bool, np.bool_)):
            raise ValueError(
                f"feature_batch_norm must be True or False, got {self.feature_batch_norm!r}"
            )
        if not (_is_finite_real(self.margin) and self.margin >= 1):
            raise ValueError(f"margin must be a finite number of at least 1, got {self.margin!r}")

    def _build_alignment(self, feature_extractor, label_predictor, features, logits, adapt):
        n_classes = logits.shape[1]
        shape = {"n_features_in": features.shape[1], "n_outputs": n_classes}
        if self.auxiliary_classifier is not None:
            auxiliary = self._build_module("auxiliary_classifier", **shape)
        else:  # built as label_predictor is, auxiliary_classifier__* over label_predictor__*
            spec = MLP if self.label_predictor is None else self.label_predictor
            if isinstance(spec, nn.Module) and self._params_for("auxiliary_classifier"):
                raise ValueError(
                    "auxiliary_classifier__* parameters build the auxiliary classifier as "
                    "label_predictor is built, but label_predictor is a module instance; pass "
                    "auxiliary_classifier (a module class or instance) as well"
                )
            kwargs = {
                **(self._label_predictor_defaults if self.label_predictor is None else {}),
                **self._params_for("label_predictor"),
                **self._params_for("auxiliary_classifier"),
            }
            auxiliary = _build_from_spec(spec, "auxiliary_classifier", kwargs, **shape)
            if isinstance(spec, nn.Module):
                _reinitialise(auxiliary)  # a deep copy of the user's instance: draw f' anew
        if adapt:
            aux_logits = _probe_module(auxiliary, features, "auxiliary_classifier")
            if aux_logits.dim() != 2 or aux_logits.shape[1] != n_classes:
                raise ValueError(
                    f"auxiliary_classifier must output (n_samples, n_classes={n_classes}), as "
                    f"label_predictor does; it gave shape {tuple(aux_logits.shape)} for features "
                    f"of width {features.shape[1]}"
                )
        if self.feature_batch_norm and adapt:  # (no target row: no disparity, and a
            # source-only batch of one row could not be normalised)
            feature_extractor = nn.Sequential(feature_extractor, nn.BatchNorm1d(features.shape[1]))
        return _MDDModule(feature_extractor, label_predictor, auxiliary, self.margin, adapt)
