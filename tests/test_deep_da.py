"""Behavioural tests of the deep domain adaptation classifiers beside DANN:
DeepCORALClassifier, DANClassifier, CDANClassifier and MCCClassifier.

They share DANNClassifier's machinery (tested in test_dann.py); here: their
losses, that each one aligns the domains, that CDAN adapts on the rotated
moons and Deep CORAL and DAN on USPS→MNIST with a ConvNet, composition with
scikit-learn, and bad input refused before training.
"""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest
import torch
from conftest import DATA, FAST, BatchRecorder, NoTraining, needs_data
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from skorch.callbacks import Callback

from sktransfer import DANNClassifier
from sktransfer.datasets import (
    load_mnist_usps,
    load_office_caltech,
    make_rotated_moons,
    mask_target_labels,
)
from sktransfer.domain_adaptation._deep import (
    CDANClassifier,
    DANClassifier,
    DeepCORALClassifier,
    MCCClassifier,
    _CDANModule,
)
from sktransfer.domain_adaptation._losses import (
    DEFAULT_KERNEL_SCALES,
    coral_loss,
    entropy,
    mcc_loss,
    mdd_loss,
    mk_mmd_kernel_weights,
    mk_mmd_loss,
    mk_mmd_losses,
)
from sktransfer.domain_adaptation._mdd import MDDClassifier, _MDDModule
from sktransfer.model_selection import matrix_norm_scorer
from sktransfer.nn import MLP, ConvEncoder

CLASSES = [DeepCORALClassifier, DANClassifier, CDANClassifier, MCCClassifier, MDDClassifier]
#: The trade-off parameter of each class and the history key of its loss.
WEIGHT = {
    DeepCORALClassifier: ("coral_weight", "coral_loss"),
    DANClassifier: ("mmd_weight", "mmd_loss"),
    CDANClassifier: ("lambda_max", "domain_loss"),
    MCCClassifier: ("mcc_weight", "mcc_loss"),
    MDDClassifier: ("lambda_max", "mdd_loss"),
}
ids = [cls.__name__ for cls in CLASSES]


def _fit_small(cls, problem, **params):
    return cls(**{**FAST, **params}).fit(problem.X, problem.y_train)


# ----------------------------------------------------------------------
# 1. The losses
# ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def samples():
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(64, 5, generator=gen, dtype=torch.float64)
    b = torch.randn(64, 5, generator=gen, dtype=torch.float64)
    return a, b


@pytest.mark.parametrize("loss", [coral_loss, mk_mmd_loss])
def test_loss_is_zero_for_identical_samples(loss, samples):
    a, _ = samples
    assert loss(a, a.clone()).item() == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("loss", [coral_loss, mk_mmd_loss])
def test_loss_grows_with_the_shift(loss, samples):
    a, b = samples
    same = loss(a, b).item()  # two draws of one distribution: small
    scaled = loss(a, b * torch.tensor([3.0, 1, 1, 1, 0.2], dtype=b.dtype)).item()
    assert 0 <= same < scaled
    if loss is mk_mmd_loss:
        assert same < loss(a, b + 2.0).item()


def test_coral_loss_matches_a_hand_computation(samples):
    a, b = samples
    a, b = a.numpy(), b[:40].numpy()  # unequal sizes work too
    d = a.shape[1]
    expected = np.sum((np.cov(a, rowvar=False) - np.cov(b, rowvar=False)) ** 2) / (4 * d * d)
    assert coral_loss(torch.from_numpy(a), torch.from_numpy(b)).item() == pytest.approx(expected)


def test_mk_mmd_loss_is_differentiable_and_symmetric(samples):
    a, b = samples
    a = a.clone().requires_grad_(True)
    loss = mk_mmd_loss(a, b + 1.0)
    loss.backward()
    assert torch.isfinite(a.grad).all() and a.grad.abs().sum() > 0
    assert mk_mmd_loss(b, a.detach()).item() == pytest.approx(
        mk_mmd_loss(a.detach(), b).item()
    )


def test_mk_mmd_loss_matches_a_hand_computation(samples):
    a, b = samples
    a, b = a.numpy(), b[:40].numpy() * 1.5 + 0.2  # unequal sizes work too
    joint = np.r_[a, b]
    d2 = ((joint[:, None] - joint[None]) ** 2).sum(-1)
    bandwidth = d2.sum() / (len(joint) * (len(joint) - 1))
    kernel = np.mean([np.exp(-d2 / (bandwidth * s)) for s in DEFAULT_KERNEL_SCALES], axis=0)
    n = len(a)
    expected = kernel[:n, :n].mean() + kernel[n:, n:].mean() - 2 * kernel[:n, n:].mean()
    got = mk_mmd_loss(torch.from_numpy(a), torch.from_numpy(b)).item()
    assert got == pytest.approx(expected, rel=1e-9)
    # float32, as in training: within float32 rounding.
    got32 = mk_mmd_loss(torch.from_numpy(a).float(), torch.from_numpy(b).float()).item()
    assert got32 == pytest.approx(expected, rel=1e-5)


def test_mk_mmd_loss_with_weights_matches_a_hand_computation(samples):
    a, b = samples
    a, b = a.numpy(), b.numpy() * 0.7 - 0.1
    scales = (0.25, 1.0, 4.0)
    weights = (0.5, 0.0, 0.2)  # any non-negative weights, not only a convex combination
    joint = np.r_[a, b]
    d2 = ((joint[:, None] - joint[None]) ** 2).sum(-1)
    bandwidth = d2.sum() / (len(joint) * (len(joint) - 1))
    kernel = sum(w * np.exp(-d2 / (bandwidth * s)) for s, w in zip(scales, weights))
    n = len(a)
    expected = kernel[:n, :n].mean() + kernel[n:, n:].mean() - 2 * kernel[:n, n:].mean()
    got = mk_mmd_loss(torch.from_numpy(a), torch.from_numpy(b), scales, weights).item()
    assert got == pytest.approx(expected, rel=1e-9)


def test_mk_mmd_losses_of_several_layers_at_once(samples):
    a, b = samples
    layers = [(a, b + 0.5), (a[:, :2], b[:, :2] * 2.0)]
    weights = [None, (0.0,) * 16 + (1.0,) + (0.0,) * 16]
    values = mk_mmd_losses(layers, DEFAULT_KERNEL_SCALES, weights)
    assert values.shape == (2,)
    for value, (source, target), w in zip(values, layers, weights):
        assert value.item() == pytest.approx(
            mk_mmd_loss(source, target, DEFAULT_KERNEL_SCALES, w).item()
        )


def test_mk_mmd_loss_with_kernel_weights(samples):
    a, b = samples
    scales = (0.5, 1.0, 4.0)
    singles = [mk_mmd_loss(a, b + 0.5, scales, w).item() for w in np.eye(3)]
    weights = (0.2, 0.0, 0.8)
    # A convex combination of kernels gives the same combination of the MMDs.
    assert mk_mmd_loss(a, b + 0.5, scales, weights).item() == pytest.approx(
        0.2 * singles[0] + 0.8 * singles[2]
    )
    assert mk_mmd_loss(a, b + 0.5, scales).item() == pytest.approx(np.mean(singles))
    with pytest.raises(ValueError, match="kernel_weights has 2 entries for 3 kernel_scales"):
        mk_mmd_loss(a, b, scales, (0.5, 0.5))


def _test_power(h, weights):
    """Linear-time MMD over its standard deviation, for per-quadruple terms ``h``."""
    return (h.mean(axis=0) @ weights) / np.sqrt(weights @ np.cov(h, rowvar=False) @ weights)


def _linear_time_terms(source, target, scales):
    # Written out independently of the library: h(z_i) per kernel, quadruples of rows.
    joint = np.r_[source, target]
    n = len(joint)
    bandwidth = ((joint[:, None] - joint[None]) ** 2).sum(-1).sum() / (n * n - n)

    def k(x, y):
        return np.exp(-((x - y) ** 2).sum(1)[:, None] / (bandwidth * np.asarray(scales)))

    s1, s2, t1, t2 = source[0::2], source[1::2], target[0::2], target[1::2]
    return k(s1, s2) + k(t1, t2) - k(s1, t2) - k(s2, t1)


def test_mk_mmd_kernel_weights_maximise_the_test_power():
    rng = np.random.RandomState(0)
    source = rng.randn(400, 3)
    target = rng.randn(400, 3) * np.array([1.5, 1.0, 1.0]) + np.array([0.3, 0.0, 0.0])
    scales = DEFAULT_KERNEL_SCALES[::4]  # 2^-8 .. 2^8 by factors of 4: 9 kernels
    weights = mk_mmd_kernel_weights(torch.from_numpy(source), torch.from_numpy(target), scales)
    assert weights.shape == (9,) and np.all(weights >= 0)
    assert weights.sum() == pytest.approx(1.0)
    h = _linear_time_terms(source, target, scales)
    power = _test_power(h, weights)
    # Better than averaging the kernels, and than the best single kernel (up to the ridge).
    assert power > 1.05 * _test_power(h, np.full(9, 1 / 9))
    assert power >= 0.99 * max(_test_power(h, w) for w in np.eye(9))
    # Kernels that cannot tell the domains apart get nothing.
    assert np.sum(weights > 1e-6) < 9


def test_mk_mmd_kernel_weights_fall_back_to_equal_weights():
    a = torch.randn(40, 3, generator=torch.Generator().manual_seed(0))
    uniform = np.full(4, 0.25)
    scales = (0.5, 1.0, 2.0, 4.0)
    # Same rows in both domains: every kernel's estimate is exactly 0.
    assert_allclose(mk_mmd_kernel_weights(a, a.clone(), scales), uniform)
    # Fewer than two quadruples of rows.
    assert_allclose(mk_mmd_kernel_weights(a[:3], a[:3] + 1.0, scales), uniform)


def test_entropy():
    proba = torch.tensor([[1.0, 0.0], [0.5, 0.5]])
    assert_allclose(entropy(proba).numpy(), [0.0, np.log(2)], atol=1e-6)


def _mcc_by_hand(logits, temperature):
    # Jin et al. (2020), eqs. 1-6, written out in numpy.
    z = logits / temperature
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    h = -(p * np.log(p)).sum(1)
    w = len(p) * (1 + np.exp(-h)) / (1 + np.exp(-h)).sum()
    c = p.T @ np.diag(w) @ p
    c = c / c.sum(0, keepdims=True)
    return (c.sum() - np.trace(c)) / p.shape[1]


def test_mcc_loss_matches_a_hand_computation():
    logits = np.random.RandomState(0).normal(0, 3, (20, 4))
    for temperature in (1.0, 2.5):
        got = mcc_loss(torch.from_numpy(logits), temperature).item()
        assert got == pytest.approx(_mcc_by_hand(logits, temperature), rel=1e-10)


def test_mcc_loss_rewards_confident_distinct_classes():
    distinct = torch.eye(3).repeat(4, 1) * 100.0  # each row one class, every class used
    uniform = torch.zeros(12, 3)
    collapsed = torch.zeros(12, 3)
    collapsed[:, 0] = 100.0  # every row the same class
    assert mcc_loss(distinct).item() == pytest.approx(0.0, abs=1e-6)
    assert mcc_loss(uniform).item() == pytest.approx(2 / 3)
    # sharpening every row into one class does not escape the loss
    assert mcc_loss(collapsed).item() > 0.6
    # rows split between two classes confuse them: more loss than confident rows
    mixed = torch.tensor([[2.0, 2.0, -5.0]] * 6 + [[-5.0, -5.0, 5.0]] * 6)
    assert mcc_loss(mixed).item() > mcc_loss(distinct).item() + 0.2


def test_mcc_loss_gradient_and_bad_logits():
    logits = torch.randn(16, 3, generator=torch.Generator().manual_seed(0), requires_grad=True)
    mcc_loss(logits).backward()
    assert torch.isfinite(logits.grad).all() and logits.grad.abs().sum() > 0
    # the uncertainty weights are constants of the step (the authors' code): the
    # gradient is the one of the loss with those weights frozen
    with torch.no_grad():
        frozen_logits = logits.detach().clone()
    x = frozen_logits.clone().requires_grad_(True)
    p = torch.softmax(x / 2.5, dim=1)
    w = 1 + torch.exp(-entropy(p.detach()))
    w = w / w.mean()
    c = (p * w[:, None]).T @ p
    c = c / c.sum(0, keepdim=True)
    ((c.sum() - c.trace()) / 3).backward()
    assert_allclose(logits.grad.numpy(), x.grad.numpy(), rtol=1e-5, atol=1e-8)
    # overflowing logits stay finite, and a collapse onto one class whose other
    # probabilities underflow to 0 keeps its loss (the limit), not the best value 0
    assert np.isfinite(mcc_loss(torch.tensor([[1e30, -1e30], [1e30, -1e30]])).item())
    for gap in (150.0, 300.0, 1e30):
        collapsed = torch.zeros(3, 3)
        collapsed[:, 0] = gap
        assert mcc_loss(collapsed).item() == pytest.approx(2 / 3, abs=1e-6), gap
    with pytest.raises(ValueError, match="n_classes >= 2"):
        mcc_loss(torch.zeros(4, 1))


def _mdd_by_hand(source_logits, source_pred, target_logits, target_pred, margin, offset):
    def softmax(z):
        e = np.exp(z - z.max(1, keepdims=True))
        return e / e.sum(1, keepdims=True)

    p_s, p_t = softmax(source_logits), softmax(target_logits)
    agree = -np.mean(np.log(p_s[np.arange(len(p_s)), source_pred]))
    disagree = -np.mean(np.log(1 - p_t[np.arange(len(p_t)), target_pred] + offset))
    return margin * agree + disagree


def test_mdd_loss_matches_a_hand_computation():
    rng = np.random.RandomState(0)
    source, target = rng.normal(0, 2, (12, 4)), rng.normal(0, 2, (9, 4))
    source_pred, target_pred = rng.randint(0, 4, 12), rng.randint(0, 4, 9)
    for margin, offset in ((4.0, 1e-6), (2.0, 0.0), (1.0, 0.1)):
        got = mdd_loss(
            torch.from_numpy(source), torch.from_numpy(source_pred),
            torch.from_numpy(target), torch.from_numpy(target_pred), margin, offset,
        ).item()
        assert got == pytest.approx(
            _mdd_by_hand(source, source_pred, target, target_pred, margin, offset), rel=1e-10
        )


def test_mdd_loss_gradient_and_bound():
    # Minimised by the auxiliary classifier: it learns to agree with the main
    # classifier's predictions on the source rows, to disagree on the target rows.
    gen = torch.Generator().manual_seed(0)
    source = torch.randn(16, 3, generator=gen, requires_grad=True)
    target = torch.randn(16, 3, generator=gen, requires_grad=True)
    predicted = torch.arange(16) % 3
    mdd_loss(source, predicted, target, predicted).backward()
    rows = torch.arange(16)
    assert (source.grad[rows, predicted] < 0).all()  # a step raises the predicted logit
    assert (target.grad[rows, predicted] > 0).all()  # and lowers it on the target rows
    # Where the auxiliary classifier agrees with f on a target row with certainty,
    # the offset bounds the loss by -log(offset) and its gradient vanishes; without
    # the offset the loss is still finite (log-sum-exps), and unbounded.
    certain = torch.tensor([[200.0, 0.0, 0.0]], dtype=torch.float64, requires_grad=True)
    zero = torch.zeros(1, dtype=torch.int64)
    bounded = mdd_loss(certain.detach(), zero, certain, zero, margin=1.0)
    bounded.backward()
    assert bounded.item() == pytest.approx(-np.log(1e-6), rel=1e-6)
    assert certain.grad.abs().max() < 1e-60
    exact = mdd_loss(certain.detach(), zero, certain.detach(), zero, margin=1.0, offset=0.0)
    assert exact.item() == pytest.approx(200.0 - np.log(2.0), rel=1e-9)
    with pytest.raises(ValueError, match="target_logits of shape"):
        mdd_loss(source, predicted, target[:, :1], predicted)
    with pytest.raises(ValueError, match=r"target_logits of shape \(n_rows >= 1"):
        mdd_loss(source, predicted, target[:0], predicted[:0])
    with pytest.raises(ValueError, match="source_logits of shape"):
        mdd_loss(source[:0], predicted[:0], target, predicted)
    for bad in ({"margin": -1.0}, {"margin": float("nan")}, {"offset": -1e-6},
                {"offset": float("inf")}):
        with pytest.raises(ValueError, match=f"finite {next(iter(bad))} >= 0"):
            mdd_loss(source, predicted, target, predicted, **bad)


def test_mdd_module_routes_the_gradients():
    # The auxiliary classifier learns from the loss at full strength, the
    # feature extractor gets its gradient reversed and scaled by the trade-off,
    # and the label predictor f none (its predictions are constant labels).
    torch.manual_seed(0)
    extractor, predictor, auxiliary = (
        torch.nn.Linear(5, 4), torch.nn.Linear(4, 3), torch.nn.Linear(4, 3)
    )
    module = _MDDModule(extractor, predictor, auxiliary, margin=4.0).train()
    x = torch.randn(8, 5)
    domains = torch.tensor([0, 0, 0, 0, 1, 1, 1, 1])

    def reference():  # the loss without the reversal
        features = extractor(x)
        predicted = predictor(features).argmax(1)
        logits = auxiliary(features)
        source = domains == 0
        return mdd_loss(logits[source], predicted[source], logits[~source], predicted[~source], 4.0)

    reference().backward()
    expected = {"aux": auxiliary.weight.grad.clone(), "features": extractor.weight.grad.clone()}
    for coef in (0.1, 0.0):
        module.zero_grad(set_to_none=True)
        module.set_coef(coef)
        logits, features = module(x)
        loss, parts = module.alignment_loss(features, logits, domains)
        loss.backward()
        assert predictor.weight.grad is None
        torch.testing.assert_close(auxiliary.weight.grad, expected["aux"])
        torch.testing.assert_close(extractor.weight.grad, -coef * expected["features"])
        assert parts["target_disagreement"].shape == (4,)
        agree = auxiliary(features[4:]).argmax(1) == logits[4:].argmax(1)
        torch.testing.assert_close(parts["target_disagreement"], (~agree).float())


def test_cdan_entropy_weights_are_normalised_per_domain():
    module = _CDANModule(None, None, None, None, entropy_conditioning=True)
    logits = torch.tensor([[5.0, -5.0], [0.0, 0.0], [3.0, 0.0], [0.0, 0.1]])
    domains = torch.tensor([0, 0, 1, 1])
    weights = module.row_weights(logits, domains)
    assert_allclose(weights[:2].mean().item(), 1.0, rtol=1e-6)
    assert_allclose(weights[2:].mean().item(), 1.0, rtol=1e-6)
    # The confident row of each domain weighs more.
    assert weights[0] > weights[1] and weights[2] > weights[3]
    module.entropy_conditioning = False
    assert module.row_weights(logits, domains) is None


# ----------------------------------------------------------------------
# 2. The methods align the domains (MCC: makes the target classes distinct);
#    CDAN adapts on the rotated moons, MCC on Office-Caltech
# ----------------------------------------------------------------------
@pytest.mark.parametrize(
    "cls, weight",
    [
        (DeepCORALClassifier, 100.0),
        pytest.param(DANClassifier, 30.0, marks=pytest.mark.xfail(
            strict=False,
            reason="on 16 + 16 row batches the biased MK-MMD is mostly its sampling "
            "floor (from the narrow kernels of the 2^-8..2^8 family), which has no "
            "gradient: with 30 epochs at constant weights 0, 1, 3, 10, 30 and 100 the "
            "batch loss stays at 0.068-0.069 and the MMD of all 120 rows' features at "
            "0.027-0.028 (seeds 0, 1); only a far larger weight moves it, by collapsing "
            "the features (1e4: 0.0005, target accuracy 0.50). DAN does align learnt "
            "features: see the USPS->MNIST test below",
        )),
    ],
    ids=["coral", "dan"],
)
def test_alignment_loss_shrinks_with_its_weight(small_moons, cls, weight):
    def discrepancy(clf):
        # The alignment loss on the training batches, over the last epochs.
        return np.mean(clf.net_.history[-5:, WEIGHT[cls][1]])

    name = WEIGHT[cls][0]
    params = {"max_epochs": 30, name: 0.0, "weight_schedule": "constant"}
    if cls is DANClassifier:
        params["align_logits"] = False  # the features' term, as the xfail reason measured
    source_only = _fit_small(cls, small_moons, **params)
    adapted = _fit_small(cls, small_moons, **{**params, name: weight})
    assert discrepancy(adapted) < 0.5 * discrepancy(source_only), (discrepancy(adapted), discrepancy(source_only))
    # The labels are still learnt.
    source = np.asarray(small_moons.source)
    assert adapted.score(small_moons.X[source], small_moons.y[source]) > 0.85


def test_mcc_loss_shrinks_as_its_weight_grows(small_moons):
    # MCC aligns no statistic between the domains: it makes the target
    # predictions tell the classes apart, so its own loss on the target batches
    # falls as its weight grows (seed 0, 30 epochs: 0.42, 0.30, 0.25 for weights
    # 0, 1, 3), while the source labels are still learnt.
    params = {"max_epochs": 30, "weight_schedule": "constant"}
    losses = []
    for weight in (0.0, 1.0, 3.0):
        clf = _fit_small(MCCClassifier, small_moons, mcc_weight=weight, **params)
        losses.append(np.mean(clf.net_.history[-5:, "mcc_loss"]))
        source = np.asarray(small_moons.source)
        assert clf.score(small_moons.X[source], small_moons.y[source]) > 0.83
    assert losses[0] > losses[1] > losses[2] and losses[2] < 0.7 * losses[0], losses


def test_cdan_beats_source_only_on_rotated_moons():
    # Rotated moons at 50 degrees, the protocol of test_dann.py with 100 epochs.
    # Seeds 0, 1, 2 gave 0.818, 0.768, 0.736 target accuracy against 0.726,
    # 0.722, 0.708 source-only (lambda_max=0).
    X, y, domain = make_rotated_moons(angle=50, random_state=0)
    y_train = mask_target_labels(y, domain)
    target = domain < 0
    scores = {}
    for name, lambda_max in (("cdan", 1.0), ("source_only", 0.0)):
        model = make_pipeline(
            StandardScaler(),
            CDANClassifier(max_epochs=100, lambda_max=lambda_max, random_state=0),
        ).fit(X, y_train)
        assert model.score(X[~target], y[~target]) > 0.95
        scores[name] = model.score(X[target], y[target])
    assert scores["cdan"] > scores["source_only"] + 0.05, scores


@needs_data
@pytest.mark.slow
def test_deep_coral_and_dan_beat_source_only_on_usps_to_mnist():
    # A ConvNet learns the features here (on precomputed features, as Office's SURF
    # or Amazon's mSDA, they move the network less: see the benchmarks' README).
    # 800 USPS + 800 MNIST rows, 30 epochs. Seeds 0, 1, 2 gave target accuracy
    # 42.8, 46.9, 43.5 without adaptation; Deep CORAL 52.1, 56.9, 51.0; DAN 66.4,
    # 69.9, 65.1 (features and logits aligned, the default; 59.4, 64.0, 56.4 with
    # the features alone). All at their default weight 1.
    X, y, domain = load_mnist_usps("usps", "mnist", data_home=DATA)
    rng = np.random.RandomState(0)
    rows = np.r_[rng.choice(np.flatnonzero(domain > 0), 800, replace=False),
                 rng.choice(np.flatnonzero(domain < 0), 800, replace=False)]
    X, y, domain = StandardScaler().fit_transform(X[rows]).astype(np.float32), y[rows], domain[rows]
    target = domain < 0
    net = {"module": ConvEncoder, "module__input_shape": (1, 16, 16), "max_epochs": 30,
           "random_state": 0}
    scores = {}
    for name, clf in (("source_only", DANNClassifier(lambda_max=0.0, **net)),
                      ("coral", DeepCORALClassifier(**net)), ("dan", DANClassifier(**net))):
        clf.fit(X, mask_target_labels(y, domain))
        scores[name] = clf.score(X[target], y[target])
    assert scores["coral"] > scores["source_only"] + 0.05, scores
    assert scores["dan"] > scores["source_only"] + 0.10, scores


def _office_caltech_scores(cls, name, weights, target="amazon"):
    """Target accuracy on Office-Caltech C->``target`` for each of ``weights`` of
    parameter ``name``.

    The benchmark's protocol on one pair: SURF features, both domains
    standardised together, the default MLP, 20 epochs, seed 0.
    """
    X, y, domain = load_office_caltech("caltech", target, data_home=DATA)
    X = StandardScaler().fit_transform(X).astype(np.float32)
    target = domain < 0
    scores = []
    for weight in weights:
        clf = cls(**{name: weight}, max_epochs=20, random_state=0)
        clf.fit(X, mask_target_labels(y, domain))
        scores.append(clf.score(X[target], y[target]))
    return scores


@needs_data
def test_mcc_beats_source_only_on_office_caltech_to_amazon():
    # Over seeds 0-4 bench_domain_adaptation.py measured 60.9 +- 0.9 target
    # accuracy against 55.3 +- 0.5 for its NN column, DANNClassifier(lambda_max=0)
    # (the same network and training; mcc_weight=0 here, which gives the same fit
    # as Deep CORAL's weight 0 but not bit for bit DANN's).
    mcc, source_only = _office_caltech_scores(MCCClassifier, "mcc_weight", (1.0, 0.0))
    assert mcc > source_only + 0.03, (mcc, source_only)


@needs_data
def test_mdd_beats_source_only_on_office_caltech_to_webcam():
    # With the default two-layer classifiers bench_domain_adaptation.py measured
    # 50.8 +- 0.9 target accuracy on C->W over seeds 0-4 against 44.3 +- 0.9 for
    # the same network without adaptation (lambda_max=0); seed 0 here gives
    # about 52 against 45. (On C->A the gain is 2 points, 55.3 against 53.1,
    # too close to a threshold for chaotic fits on another machine.)
    mdd, source_only = _office_caltech_scores(
        MDDClassifier, "lambda_max", (0.1, 0.0), target="webcam")
    assert mdd > source_only + 0.03, (mdd, source_only)


class _FirstWeights(Callback):
    """Records the auxiliary classifier's and label predictor's weights before training."""

    def on_train_begin(self, net, **kwargs):
        module = net.module_
        self.weights_ = {
            name: [p.detach().clone() for p in getattr(module, name).parameters()]
            for name in ("label_predictor", "auxiliary_classifier")
        }


def test_mdd_default_classifiers_have_a_hidden_layer(small_moons):
    # f and f' as the authors': linear, ReLU, dropout 0.5, linear (256 hidden
    # units); label_predictor__hidden_layer_sizes=() makes both linear. The
    # other deep methods keep a linear label predictor.
    def layers(m):
        return [type(layer).__name__ for layer in m.modules() if not list(layer.children())]

    module = _fit_small(MDDClassifier, small_moons, max_epochs=1).net_.module_
    for head in (module.label_predictor, module.auxiliary_classifier):
        assert layers(head) == ["Linear", "ReLU", "Dropout", "Linear"]
        assert head.layers[0].out_features == 256 and head.layers[2].p == 0.5
    module = _fit_small(MDDClassifier, small_moons, max_epochs=1,
                        label_predictor__hidden_layer_sizes=()).net_.module_
    assert layers(module.label_predictor) == layers(module.auxiliary_classifier) == ["Linear"]
    assert layers(_fit_small(DANNClassifier, small_moons).net_.module_.label_predictor) == [
        "Linear"]


def test_mdd_auxiliary_classifier_is_a_fresh_copy_of_the_label_predictor(small_moons):
    # None: f' is built as the label predictor is (with label_predictor__*,
    # which auxiliary_classifier__* override), with its own initial weights;
    # an instance given as label_predictor is copied and drawn anew for f'.
    shapes = lambda m: [tuple(p.shape) for p in m.parameters()]
    clf = _fit_small(MDDClassifier, small_moons, max_epochs=1,
                     label_predictor__hidden_layer_sizes=(7,))
    module = clf.net_.module_
    assert shapes(module.auxiliary_classifier) == shapes(module.label_predictor) == [
        (7, 256), (7,), (2, 7), (2,)]
    clf = _fit_small(MDDClassifier, small_moons, max_epochs=1,
                     label_predictor__hidden_layer_sizes=(7,),
                     auxiliary_classifier__hidden_layer_sizes=(3,))
    assert shapes(clf.net_.module_.auxiliary_classifier)[0] == (3, 256)
    assert shapes(clf.net_.module_.label_predictor)[0] == (7, 256)
    head = torch.nn.Linear(256, 2)
    with pytest.raises(ValueError, match="label_predictor is a module instance; pass "
                                         "auxiliary_classifier"):
        _fit_refused(MDDClassifier, small_moons, label_predictor=head,
                     auxiliary_classifier__hidden_layer_sizes=(3,))
    clf = _fit_small(MDDClassifier, small_moons, max_epochs=1, label_predictor=head,
                     callbacks=[("first", _FirstWeights())])
    first = dict(clf.net_.callbacks_)["first"].weights_
    assert torch.equal(first["label_predictor"][0], head.weight)
    assert not torch.equal(first["auxiliary_classifier"][0], head.weight)
    assert [w.shape for w in first["auxiliary_classifier"]] == [head.weight.shape, head.bias.shape]
    # a given auxiliary classifier: built from its own class and parameters
    clf = _fit_small(MDDClassifier, small_moons, max_epochs=1, auxiliary_classifier=MLP,
                     auxiliary_classifier__hidden_layer_sizes=(4,))
    assert shapes(clf.net_.module_.auxiliary_classifier)[0] == (4, 256)
    history = clf.net_.history[-1]
    assert 0.0 <= history["target_disagreement"] <= 1.0 and np.isfinite(history["mdd_loss"])


def test_mdd_feature_batch_norm(small_moons):
    # On by default: both classifiers (and transform) see the features through a
    # BatchNorm layer; off, the feature extractor is as given; without target
    # rows (no disparity) it is left out, so that a one-row batch still trains.
    def last_layer(clf):
        return list(clf.net_.module_.feature_extractor.modules())[-1]

    clf = _fit_small(MDDClassifier, small_moons, max_epochs=2)
    assert isinstance(last_layer(clf), torch.nn.BatchNorm1d)
    with torch.no_grad():
        expected = clf.net_.module_.feature_extractor.eval()(
            torch.tensor(small_moons.X, dtype=torch.float32))
    assert_allclose(clf.transform(small_moons.X), expected.numpy(), rtol=1e-6)
    plain = _fit_small(MDDClassifier, small_moons, max_epochs=2, feature_batch_norm=False)
    assert not any(isinstance(m, torch.nn.BatchNorm1d) for m in plain.net_.module_.modules())
    source = np.asarray(small_moons.source)
    assert source.sum() == 60  # batches of 59 rows: the last holds one
    alone = MDDClassifier(**{**FAST, "batch_size": 59}, no_target="source_only").fit(
        small_moons.X[source], small_moons.y[source])
    assert not any(isinstance(m, torch.nn.BatchNorm1d) for m in alone.net_.module_.modules())


def test_mdd_anneals_the_learning_rate_by_default(small_moons):
    # The authors anneal it; at a constant rate the disparity game ran away
    # with the ConvEncoder (see the lr_schedule docs). The rate of the last
    # batch is lr * (1 + 10 p) ** -0.75 at its progress p.
    clf = _fit_small(MDDClassifier, small_moons, max_epochs=4)
    lrs = np.asarray(clf.net_.history[:, "lr"], dtype=float)
    n_steps = 4 * clf.net_.history[-1]["train_batch_count"]
    assert np.all(np.diff(lrs) < 0)
    assert lrs[-1] == pytest.approx(0.01 * (1 + 10 * (n_steps - 1) / n_steps) ** -0.75)
    constant = _fit_small(MDDClassifier, small_moons, max_epochs=4, lr_schedule="constant")
    assert np.all(np.asarray(constant.net_.history[:, "lr"], dtype=float) == 0.01)


# ----------------------------------------------------------------------
# 3. Training, history, outputs
# ----------------------------------------------------------------------
@pytest.mark.parametrize("cls", CLASSES, ids=ids)
def test_history_records_the_loss_parts_and_the_schedule(small_moons, cls):
    name, loss_key = WEIGHT[cls]
    clf = _fit_small(cls, small_moons, max_epochs=4, **{name: 0.5})
    history = clf.net_.history
    schedule_key = "lambda" if name == "lambda_max" else name
    for key in ("train_loss", "class_loss", loss_key, schedule_key, "lr"):
        values = np.asarray(history[:, key], dtype=float)
        assert values.shape == (4,) and np.all(np.isfinite(values)), key
    # The "dann" ramp by default: grows towards the weight.
    weights = np.asarray(history[:, schedule_key])
    assert np.all(np.diff(weights) > 0) and weights[-1] < 0.5
    constant = _fit_small(
        cls, small_moons, max_epochs=2, **{name: 0.5, clf._schedule_param: "constant"}
    )
    assert_allclose(constant.net_.history[:, schedule_key], 0.5)


@pytest.mark.parametrize("cls", CLASSES, ids=ids)
def test_outputs_and_batches(unequal_moons, cls):
    clf = cls(
        max_epochs=2, batch_size=16, random_state=0, callbacks=[("recorder", BatchRecorder())]
    ).fit(unequal_moons.X, unequal_moons.y_train)
    recorder = dict(clf.net_.callbacks_)["recorder"]
    for domains in recorder.domains:  # half source, half target
        assert np.sum(domains == 0) == 8 and np.sum(domains == 1) == 8
    proba = clf.predict_proba(unequal_moons.X)
    assert proba.shape == (160, 2)
    assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    assert_array_equal(clf.predict(unequal_moons.X), clf.classes_[proba.argmax(axis=1)])
    features = clf.transform(unequal_moons.X)
    assert features.shape == (160, 256) and features.dtype == np.float32
    assert len(clf.get_feature_names_out()) == 256


@pytest.mark.parametrize("cls", [DANNClassifier, *CLASSES], ids=["DANNClassifier", *ids])
def test_decision_function_gives_the_logits(small_moons, cls):
    # two classes: one column, the logit of classes_[1] minus that of classes_[0]
    clf = _fit_small(cls, small_moons)
    scores = clf.decision_function(small_moons.X)
    proba = clf.predict_proba(small_moons.X)
    assert scores.shape == (120,)
    assert_allclose(1 / (1 + np.exp(-scores)), proba[:, 1], rtol=1e-5, atol=1e-6)
    assert_array_equal(clf.predict(small_moons.X), clf.classes_[(scores > 0).astype(int)])
    # three classes: one logit per class, whose softmax is predict_proba
    rng = np.random.RandomState(0)
    centres = np.array([[0.0, 0.0], [3.0, 0.0], [0.0, 3.0]])
    labels = np.tile([0, 1, 2], 30)
    X = np.r_[centres[labels] + rng.normal(0, 0.5, (90, 2)),
              centres[labels] + 0.5 + rng.normal(0, 0.5, (90, 2))].astype(np.float32)
    y = np.r_[labels + 10, -np.ones(90, int)]
    clf = cls(**FAST).fit(X, y)
    logits = clf.decision_function(X)
    assert logits.shape == (180, 3)
    softmax = np.exp(logits - logits.max(1, keepdims=True))
    assert_allclose(softmax / softmax.sum(1, keepdims=True), clf.predict_proba(X), rtol=1e-5,
                    atol=1e-6)
    assert_array_equal(clf.predict(X), clf.classes_[logits.argmax(1)])
    # MaNo scores the network on these logits: under the softmax, its
    # probabilities; under the Taylor expansion, the rows made by hand
    target = logits[90:].astype(np.float64)
    mano = lambda rows: np.mean(rows**4) ** 0.25
    assert matrix_norm_scorer(clf, X, y, normalization="softmax") == pytest.approx(
        mano(clf.predict_proba(X[90:]).astype(np.float64)), rel=1e-5)
    taylor = 1 + target + target**2 / 2
    taylor -= taylor.min(1, keepdims=True)
    assert matrix_norm_scorer(clf, X, y, normalization="taylor") == pytest.approx(
        mano(taylor / taylor.sum(1, keepdims=True)), rel=1e-5)
    with pytest.raises(NotFittedError):
        cls().decision_function(X)


@pytest.mark.parametrize("cls", CLASSES, ids=ids)
def test_no_target_source_only(small_moons, cls):
    source = np.asarray(small_moons.source)
    refused = cls(**FAST, callbacks=[NoTraining()])
    with pytest.raises(ValueError, match="no target rows.*no_target='source_only'"):
        refused.fit(small_moons.X, small_moons.y)
    assert not hasattr(refused, "classes_") and not hasattr(refused, "n_features_in_")
    # (30 epochs: at 20 MDD, whose classifiers have a hidden layer, scored exactly 0.8)
    clf = cls(no_target="source_only", max_epochs=30, random_state=0).fit(
        small_moons.X[source], small_moons.y[source]
    )
    assert set(clf.net_.history[-1]) >= {"class_loss"}
    assert WEIGHT[cls][1] not in clf.net_.history[-1]
    assert clf.score(small_moons.X[source], small_moons.y[source]) > 0.8


@pytest.mark.parametrize("align_logits", [True, False], ids=["features+logits", "features"])
def test_dan_test_power_kernel_weights(small_moons, align_logits):
    n_layers = 2 if align_logits else 1
    uniform = _fit_small(DANClassifier, small_moons, align_logits=align_logits)
    assert_allclose(uniform.kernel_weights_, np.full((n_layers, 33), 1 / 33))
    assert "kernel_weights" not in uniform.net_.history[-1]
    clf = _fit_small(
        DANClassifier, small_moons, align_logits=align_logits, kernel_weights="test_power"
    )
    per_epoch = np.asarray(clf.net_.history[:, "kernel_weights"])
    assert per_epoch.shape == (FAST["max_epochs"], n_layers, 33)
    assert np.all(per_epoch >= 0)
    assert_allclose(per_epoch.sum(axis=2), 1.0)
    assert_allclose(clf.kernel_weights_, per_epoch[-1])
    # Fewer kernels than the 33 carry the loss: those that tell the domains apart
    # (an epoch where none does falls back to equal weights).
    assert np.sum(per_epoch > 0, axis=2).min() < 33
    assert np.isfinite(clf.net_.history[-1, "mmd_loss"])
    # The training data is not kept with the fitted estimator.
    callback = dict(clf.net_.callbacks_)["kernel_weights"]
    assert not hasattr(callback, "X_")
    again = _fit_small(
        DANClassifier, small_moons, align_logits=align_logits, kernel_weights="test_power"
    )
    assert_array_equal(again.predict_proba(small_moons.X), clf.predict_proba(small_moons.X))
    restored = pickle.loads(pickle.dumps(clf))
    assert_allclose(restored.kernel_weights_, clf.kernel_weights_)
    with pytest.raises(NotFittedError):
        _ = DANClassifier().kernel_weights_


def test_dan_test_power_leaves_training_as_it_was(small_moons):
    # At weight 0 the kernel weights cannot matter: the fits must be identical,
    # so estimating them (in training mode, before every epoch) disturbs neither
    # the torch RNG (batches, dropout) nor the batch-norm statistics.
    def extractor():
        torch.manual_seed(0)
        layers = [torch.nn.Linear(2, 16), torch.nn.BatchNorm1d(16), torch.nn.ReLU()]
        return torch.nn.Sequential(*layers, torch.nn.Dropout(0.5))

    params = {"module": extractor(), "mmd_weight": 0.0, "max_epochs": 4}
    uniform = _fit_small(DANClassifier, small_moons, **params)
    learnt = _fit_small(DANClassifier, small_moons, kernel_weights="test_power", **params)
    assert "kernel_weights" in learnt.net_.history[-1]
    assert_array_equal(learnt.predict_proba(small_moons.X), uniform.predict_proba(small_moons.X))
    batch_norm = learnt.net_.module_.feature_extractor[1]
    assert_array_equal(
        batch_norm.running_mean, uniform.net_.module_.feature_extractor[1].running_mean
    )


class _FailAfterOneEpoch(Callback):
    def on_epoch_end(self, net, **kwargs):
        raise RuntimeError("stop")


def test_dan_test_power_forgets_the_data_when_training_fails(small_moons):
    clf = DANClassifier(**FAST, kernel_weights="test_power", callbacks=[_FailAfterOneEpoch()])
    with pytest.raises(RuntimeError, match="stop"):
        clf.fit(small_moons.X, small_moons.y_train)
    callback = dict(clf.net_.callbacks_)["kernel_weights"]
    assert not hasattr(callback, "X_")


def test_dan_verbose_log_leaves_the_kernel_weights_out(small_moons, capsys):
    _fit_small(DANClassifier, small_moons, kernel_weights="test_power", verbose=1, max_epochs=2)
    out = capsys.readouterr().out
    assert "mmd_loss" in out and "kernel_weights" not in out


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("kernel_weights", ["uniform", "test_power"])
def test_dan_fits_on_cuda(small_moons, kernel_weights):
    clf = _fit_small(DANClassifier, small_moons, device="cuda", kernel_weights=kernel_weights)
    assert next(clf.net_.module_.parameters()).is_cuda
    assert clf.kernel_weights_.shape == (2, 33)
    proba = clf.predict_proba(small_moons.X)
    assert proba.shape == (120, 2) and np.all(np.isfinite(proba))


def test_dan_aligns_the_logits_by_default(small_moons):
    params = {"max_epochs": 20, "mmd_weight": 10.0, "weight_schedule": "constant"}
    both = _fit_small(DANClassifier, small_moons, **params)
    features_only = _fit_small(DANClassifier, small_moons, align_logits=False, **params)
    assert "logit_mmd_loss" not in features_only.net_.history[-1]
    history = both.net_.history
    # mmd_loss sums both layers' terms; the logits' term is recorded on its own.
    assert np.all(np.asarray(history[:, "logit_mmd_loss"]) > 0)
    assert np.all(np.asarray(history[:, "mmd_loss"]) > np.asarray(history[:, "logit_mmd_loss"]))

    def logit_mmd(clf):
        # MK-MMD between the source and target logits of all rows, after training.
        logits = torch.as_tensor(clf._run_batches(clf.net_.module_, small_moons.X))
        target = torch.as_tensor(np.asarray(small_moons.target))
        return mk_mmd_loss(logits[~target], logits[target]).item()

    # Aligning the logits brings the two domains' logits closer than aligning the
    # features alone (seeds 0-3: 0.022-0.032 against 0.039-0.041).
    assert logit_mmd(both) < logit_mmd(features_only), (logit_mmd(both), logit_mmd(features_only))


def test_cdan_multilinear_map_full_randomized_and_auto(small_moons):
    full = _fit_small(CDANClassifier, small_moons, max_epochs=1)
    assert full.net_.module_.domain_classifier.layers[0].in_features == 256 * 2
    randomized = _fit_small(
        CDANClassifier, small_moons, max_epochs=1, multilinear_map="randomized", random_dim=32
    )
    assert randomized.net_.module_.domain_classifier.layers[0].in_features == 32
    # "auto" switches to the randomised map above 4096 entries (3000 x 2 here).
    auto = _fit_small(
        CDANClassifier, small_moons, max_epochs=1, module__hidden_layer_sizes=(3000,),
        random_dim=64,
    )
    assert auto.net_.module_.domain_classifier.layers[0].in_features == 64
    assert "domain_acc" in auto.net_.history[-1]


# ----------------------------------------------------------------------
# 4. Composition with scikit-learn
# ----------------------------------------------------------------------
@pytest.mark.parametrize("cls", CLASSES, ids=ids)
def test_same_random_state_same_predictions(small_moons, cls):
    a = _fit_small(cls, small_moons, random_state=42).predict_proba(small_moons.X)
    b = _fit_small(cls, small_moons, random_state=42).predict_proba(small_moons.X)
    c = _fit_small(cls, small_moons, random_state=43).predict_proba(small_moons.X)
    assert_array_equal(a, b)
    assert not np.allclose(a, c)


@pytest.mark.parametrize("cls", CLASSES, ids=ids)
def test_clone_and_pickle(small_moons, cls):
    clf = _fit_small(cls, small_moons, module__hidden_layer_sizes=(8,))
    cloned = clone(clf)
    assert cloned.get_params() == clf.get_params()
    with pytest.raises(NotFittedError):
        cloned.predict(small_moons.X)
    restored = pickle.loads(pickle.dumps(clf))
    assert_array_equal(restored.predict_proba(small_moons.X), clf.predict_proba(small_moons.X))


@pytest.mark.parametrize("cls", CLASSES, ids=ids)
def test_pipeline_with_sample_domain_and_several_sources(unequal_moons, cls):
    sample_domain = np.asarray(unequal_moons.sample_domain).copy()
    sample_domain[:50] = 2  # two source domains, one target
    pipe = make_pipeline(StandardScaler(), cls(**FAST))
    step = pipe.steps[-1][0]
    pipe.fit(unequal_moons.X, unequal_moons.y_train, **{f"{step}__sample_domain": sample_domain})
    assert pipe.predict(unequal_moons.X).shape == (160,)
    # Labelled target rows are allowed (semi-supervised adaptation); all of them: warned.
    with pytest.warns(UserWarning, match="every target row"):
        pipe.fit(unequal_moons.X, unequal_moons.y, **{f"{step}__sample_domain": sample_domain})
    assert WEIGHT[cls][1] in pipe[-1].net_.history[-1]


@pytest.mark.parametrize("cls", [DANNClassifier, *CLASSES], ids=["DANNClassifier", *ids])
def test_read_only_domain_adaptation_input_reaches_torch_as_a_writable_copy(
    small_moons, cls, torch_refuses_read_only
):
    # Read-only arrays, as joblib's memory maps in GridSearchCV(n_jobs=...):
    # float32 rows (float64 ones are copied by the cast anyway), unlabelled and
    # labelled target rows, one source or several, given by sample_domain.
    X = small_moons.X.astype(np.float32)
    X.setflags(write=False)
    assert not small_moons.sample_domain.flags.writeable
    clf = cls(**FAST).fit(X, small_moons.y_train, sample_domain=small_moons.sample_domain)
    clf.predict_proba(X)
    several = np.where(np.arange(len(X)) < 30, 2, small_moons.sample_domain)
    several.setflags(write=False)
    with pytest.warns(UserWarning, match="every target row"):
        cls(**FAST).fit(X, small_moons.y, sample_domain=several).predict(X)


# ----------------------------------------------------------------------
# 5. Bad input: a clear error, before training
# ----------------------------------------------------------------------
def _fit_refused(cls, problem, **params):
    return cls(**{**FAST, **params}, callbacks=[NoTraining()]).fit(problem.X, problem.y_train)


@pytest.mark.parametrize("cls", CLASSES, ids=ids)
@pytest.mark.parametrize(
    "params, match",
    [
        ({"__weight__": -1.0}, "must be a non-negative finite number"),
        ({"__weight__": float("nan")}, "must be a non-negative finite number"),
        ({"__weight__": float("inf")}, "must be a non-negative finite number"),
        ({"__weight__": True}, "must be a non-negative finite number"),
        ({"__schedule__": "linear"}, "must be one of"),
        ({"lr_schedule": "step"}, "lr_schedule must be one of"),
        ({"no_target": "ignore"}, "no_target must be one of"),
        ({"batch_size": 1}, "batch_size must be at least"),
        ({"iterator_train__batch_size": 1}, "iterator_train__batch_size must be at least"),
        ({"iterator_train__batch_size": 0}, "iterator_train__batch_size must be a positive"),
        ({"iterator_valid__batch_size": 0}, "iterator_valid__batch_size must be a positive"),
        ({"max_epochs": 0}, "max_epochs must be a positive integer"),
        ({"lr": 0}, "lr must be a positive finite number"),
    ],
    ids=["negative-weight", "nan-weight", "inf-weight", "bool-weight", "schedule",
         "lr_schedule", "no_target", "batch-1", "train-batch-override-1",
         "train-batch-override-0", "valid-batch-override-0", "epochs-0", "lr-0"],
)
def test_bad_parameter_raises(small_moons, cls, params, match):
    params = dict(params)
    if "__weight__" in params:
        params[WEIGHT[cls][0]] = params.pop("__weight__")
    if "__schedule__" in params:
        params[cls._schedule_param] = params.pop("__schedule__")
    with pytest.raises(ValueError, match=match):
        _fit_refused(cls, small_moons, **params)


@pytest.mark.parametrize(
    "cls, params, match",
    [
        (DeepCORALClassifier, {"batch_size": 3}, "batch_size must be at least 4"),
        (DANClassifier, {"kernel_scales": ()}, "kernel_scales must be a non-empty"),
        (DANClassifier, {"kernel_scales": (1.0, -2.0)}, "kernel_scales must be"),
        (DANClassifier, {"kernel_scales": "wide"}, "kernel_scales must be"),
        (DANClassifier, {"kernel_weights": "learnt"}, "kernel_weights must be one of"),
        (DANClassifier, {"align_logits": "yes"}, "align_logits must be True or False"),
        (CDANClassifier, {"entropy": "yes"}, "entropy must be True or False"),
        (CDANClassifier, {"multilinear_map": "outer"}, "multilinear_map must be one of"),
        (CDANClassifier, {"random_dim": 0}, "random_dim must be a positive integer"),
        (CDANClassifier, {"domain_classifier": torch.nn.Linear(512, 2)},
         "domain_classifier must output one logit"),
        (CDANClassifier, {"domain_classifier": torch.nn.Linear(256, 1)},
         "domain_classifier failed on input"),
        (MCCClassifier, {"temperature": 0}, "temperature must be a positive finite"),
        (MCCClassifier, {"temperature": -1.0}, "temperature must be a positive finite"),
        (MCCClassifier, {"temperature": float("nan")}, "temperature must be a positive finite"),
        (MCCClassifier, {"temperature": "hot"}, "temperature must be a positive finite"),
        (MDDClassifier, {"margin": 0.5}, "margin must be a finite number of at least 1"),
        (MDDClassifier, {"margin": float("inf")}, "margin must be a finite number"),
        (MDDClassifier, {"margin": "wide"}, "margin must be a finite number"),
        (MDDClassifier, {"feature_batch_norm": "yes"}, "feature_batch_norm must be True or False"),
        (MDDClassifier, {"auxiliary_classifier": torch.nn.Linear(256, 3)},
         r"auxiliary_classifier must output \(n_samples, n_classes=2\)"),
        (MDDClassifier, {"auxiliary_classifier": torch.nn.Linear(5, 2)},
         "auxiliary_classifier failed on input"),
    ],
)
def test_method_specific_bad_parameter_raises(small_moons, cls, params, match):
    with pytest.raises(ValueError, match=match):
        _fit_refused(cls, small_moons, **params)


@pytest.mark.parametrize("cls", [DANNClassifier, *CLASSES], ids=["DANNClassifier", *ids])
def test_label_predictor_params_reach_the_head(small_moons, cls):
    # label_predictor__* is documented for every deep method: in the constructor,
    # through set_params (as GridSearchCV does it), and into the built head.
    est = cls(**FAST, label_predictor__hidden_layer_sizes=(7,))
    assert est.get_params()["label_predictor__hidden_layer_sizes"] == (7,)
    est = clone(est).set_params(label_predictor__hidden_layer_sizes=(5,))
    est.fit(small_moons.X, small_moons.y_train)
    widths = [m.out_features for m in est.net_.module_.label_predictor.modules()
              if isinstance(m, torch.nn.Linear)]
    assert widths == [5, 2]


@pytest.mark.parametrize("cls", CLASSES, ids=ids)
def test_unknown_kwarg_raises(small_moons, cls):
    with pytest.raises(TypeError, match="unexpected keyword argument 'foo'"):
        _fit_refused(cls, small_moons, foo=1)


def test_overflowing_outputs_raise_instead_of_predicting_class_zero():
    # lr=1e3: the loss stays finite in float32 (2.7e32) while some logits overflow;
    # their NaN probabilities would turn into class 0 in argmax, silently.
    rng = np.random.RandomState(0)
    X = np.r_[rng.normal(size=(64, 4)), rng.normal(size=(64, 4)) + 1].astype(np.float32)
    y = np.r_[(X[:64, 0] > 0).astype(int), -np.ones(64, dtype=int)]
    clf = CDANClassifier(max_epochs=2, lr=1e3, random_state=0).fit(X, y)
    for method in (clf.predict, clf.predict_proba, clf.decision_function):
        with pytest.raises(FloatingPointError, match="non-finite outputs .* on 27 of 128 rows"):
            method(X)


@pytest.mark.parametrize("cls", [DANNClassifier, *CLASSES], ids=["DANNClassifier", *ids])
def test_a_part_given_in_eval_mode_trains_in_training_mode(cls):
    # a feature extractor put in eval mode (as pretrained weights are often loaded)
    # trained with its dropout off and its BatchNorm statistics frozen
    X, y, d = make_rotated_moons(60, 60, random_state=0)
    extractor = torch.nn.Sequential(
        torch.nn.Linear(2, 8), torch.nn.BatchNorm1d(8), torch.nn.ReLU(), torch.nn.Dropout(0.5)
    ).eval()
    modes = []

    class _Modes(Callback):
        def on_batch_begin(self, net, batch=None, training=False, **kwargs):
            if training:
                modes.append({m.training for m in net.module_.modules()})

    clf = cls(module=extractor, callbacks=[_Modes()], **FAST).fit(X, mask_target_labels(y, d))
    assert modes and all(m == {True} for m in modes)
    norm = next(m for m in clf.net_.module_.modules() if isinstance(m, torch.nn.BatchNorm1d))
    assert norm.num_batches_tracked.item() == len(modes)
    assert not extractor.training  # the user's instance is left as it was
    # prediction is still in eval mode: repeated calls agree despite the dropout
    assert_array_equal(clf.predict_proba(X), clf.predict_proba(X))


def test_deep_coral_refuses_a_single_target_row():
    # the one row repeated in every batch has covariance zero: CORAL pulled the source
    # features' covariance towards it, silently
    X, y, d = make_rotated_moons(60, 60, random_state=0)
    keep = np.r_[np.flatnonzero(d > 0), np.flatnonzero(d < 0)[:1]]
    clf = DeepCORALClassifier(**FAST)
    with pytest.raises(ValueError, match="at least 2 target rows.*covariance of one row is zero"):
        clf.fit(X[keep], mask_target_labels(y, d)[keep])
    assert not hasattr(clf, "classes_")
    keep = np.r_[np.flatnonzero(d > 0), np.flatnonzero(d < 0)[:2]]
    with pytest.warns(UserWarning, match=r"\(2 target rows\).*repeats target rows"):
        DeepCORALClassifier(**FAST).fit(X[keep], mask_target_labels(y, d)[keep])
    with pytest.warns(UserWarning, match=r"\(1 target row\)"):  # MMD: one row is enough
        DANClassifier(**FAST).fit(X[keep[:-1]], mask_target_labels(y, d)[keep[:-1]])


def test_mcc_needs_two_target_rows():
    # the class confusion of one row (or of copies of it) is rank one: its loss is
    # (n_classes - 1) / n_classes whatever the row predicts, with no gradient
    one = torch.tensor([[3.0, -1.0, 0.5]], requires_grad=True)
    loss = mcc_loss(one)
    assert loss.item() == pytest.approx(2 / 3)
    loss.backward()
    assert one.grad.abs().max() < 1e-6
    assert mcc_loss(one.detach().repeat(5, 1)).item() == pytest.approx(2 / 3)
    # so a batch holds two target rows at least, and fit refuses a single target row
    X, y, d = make_rotated_moons(60, 60, random_state=0)
    y_train = mask_target_labels(y, d)
    with pytest.raises(ValueError, match="batch_size must be at least 4.*two target rows"):
        MCCClassifier(**{**FAST, "batch_size": 3}).fit(X, y_train)
    keep = np.r_[np.flatnonzero(d > 0), np.flatnonzero(d < 0)[:1]]
    clf = MCCClassifier(**FAST)
    with pytest.raises(ValueError, match="at least 2 target rows.*MCC would not adapt"):
        clf.fit(X[keep], y_train[keep])
    assert not hasattr(clf, "classes_")
    MCCClassifier(**FAST, mcc_weight=0.0).fit(X[keep], y_train[keep])  # the baseline fits


@pytest.mark.parametrize("cls", [DANNClassifier, *CLASSES], ids=["DANNClassifier", *ids])
def test_warns_when_every_batch_repeats_the_rows_of_a_small_domain(cls):
    # 5 target rows, 16 of each domain per batch: every batch holds some target rows
    # twice or more, which a batch covariance or MMD counts as extra rows
    X, y, d = make_rotated_moons(60, 60, random_state=0)
    keep = np.r_[np.flatnonzero(d > 0), np.flatnonzero(d < 0)[:5]]
    X, y = X[keep], mask_target_labels(y, d)[keep]
    params = {**FAST, "batch_size": 32}
    biased = cls in (DeepCORALClassifier, DANClassifier)  # CDAN, DANN: adversarial losses
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cls(**params).fit(X, y)
    repeats = [w for w in caught if "every batch repeats" in str(w.message)]
    assert len(repeats) == biased
    if not biased:
        return
    message = str(repeats[0].message)
    assert "(5 target rows)" in message and "set batch_size to at most 10, or add target rows" in message
    assert repeats[0].filename == __file__  # the user's line
    silent = [
        {**params, "batch_size": 10},  # half-batches no larger than the domain
        {**params, cls._weight_param: 0.0},  # no alignment loss: the source-only baseline
        {**params, "no_target": "source_only"},
    ]
    for i, quiet in enumerate(silent):
        with warnings.catch_warnings():
            warnings.filterwarnings("error", message=".*every batch repeats")
            cls(**quiet).fit(X if i < 2 else X[y != -1], y if i < 2 else y[y != -1])
    # the batch size set through the iterator is the one named
    with pytest.warns(UserWarning, match="iterator_train__batch_size=32.*set iterator_train__batch_size"):
        cls(**{**FAST, "batch_size": 8, "iterator_train__batch_size": 32}).fit(X, y)
    # a small source domain is named as such (5 source rows, 60 target rows)
    X2, y2, d2 = make_rotated_moons(60, 60, random_state=1)
    few = np.r_[np.flatnonzero((d2 > 0) & (y2 == 0))[:3], np.flatnonzero((d2 > 0) & (y2 == 1))[:2],
                np.flatnonzero(d2 < 0)]
    with pytest.warns(UserWarning, match=r"source domain has fewer \(5 source rows\).*add source rows"):
        cls(**params).fit(X2[few], mask_target_labels(y2, d2)[few])
    # both domains short: both named
    both = np.r_[few[:5], np.flatnonzero(d2 < 0)[:6]]
    with pytest.warns(UserWarning, match=r"source and target domains have fewer \(5 source rows, 6 target rows\)"):
        cls(**params).fit(X2[both], mask_target_labels(y2, d2)[both])


def test_deep_coral_refuses_a_single_source_row():
    # one source row (class 0) and labelled target rows (class 1): its covariance is
    # zero, as a single target row's is
    X, y, d = make_rotated_moons(60, 60, random_state=0)
    keep = np.r_[np.flatnonzero((d > 0) & (y == 0))[:1], np.flatnonzero(d < 0)]
    X, y, d = X[keep], y[keep].copy(), d[keep]
    y[(d < 0) & (y == 0)] = -1  # the target's class-1 rows stay labelled
    clf = DeepCORALClassifier(**FAST)
    with pytest.raises(ValueError, match="at least 2 source rows.*covariance of one row is zero"):
        clf.fit(X, y, sample_domain=d)
    assert not hasattr(clf, "classes_")
    clf.set_params(coral_weight=0).fit(X, y, sample_domain=d)  # no alignment: the baseline fits
    with pytest.warns(UserWarning, match=r"\(1 source row\)"):  # MMD: one row is enough
        DANClassifier(**FAST).fit(X, y, sample_domain=d)


# ----------------------------------------------------------------------
# 6. MCC as a regulariser of the other deep methods (mcc_weight)
# ----------------------------------------------------------------------
REGULARISED = [DANNClassifier, CDANClassifier, MDDClassifier, DeepCORALClassifier, DANClassifier]
regularised_ids = [cls.__name__ for cls in REGULARISED]


def _trade_off(cls):
    """The method's trade-off weight, its schedule and the weight's history key."""
    return cls._weight_param, cls._schedule_param, cls._weight_key


def _target_class_confusion(clf, problem):
    # the MCC loss of all the target rows' predictions (log-probabilities are the
    # logits up to a constant per row, which the softmax ignores)
    proba = clf.predict_proba(problem.X[np.asarray(problem.sample_domain) < 0])
    return mcc_loss(torch.log(torch.as_tensor(proba, dtype=torch.float64)), 2.5).item()


@pytest.mark.parametrize("cls", REGULARISED, ids=regularised_ids)
def test_mcc_regulariser_lowers_the_target_class_confusion(small_moons, cls):
    # The regulariser's promise: the target predictions confuse the classes
    # less, while the source labels are still learnt. 30 epochs, MCC loss of the
    # 60 target rows for mcc_weight 0 -> 3, seeds 0, 1, 2: DANN 0.43 -> 0.24,
    # 0.25, 0.18; CDAN 0.42-0.43 -> 0.24, 0.24, 0.19 (source accuracy 0.83-0.90);
    # MDD 0.44-0.45 -> 0.19, 0.17, 0.18 (source accuracy 0.93-0.95 -> 0.85);
    # Deep CORAL 0.42-0.43 -> 0.23, 0.24, 0.22 (source accuracy 0.87-0.90 -> 0.85-0.87);
    # DAN 0.43-0.44 -> 0.23, 0.25, 0.24 (source accuracy 0.87-0.90 -> 0.83).
    params = {"max_epochs": 30, _trade_off(cls)[1]: "constant"}
    confusion = {}
    for weight in (0.0, 3.0):
        clf = _fit_small(cls, small_moons, mcc_weight=weight, **params)
        confusion[weight] = _target_class_confusion(clf, small_moons)
        source = np.asarray(small_moons.sample_domain) > 0
        assert clf.score(small_moons.X[source], small_moons.y[source]) > 0.8
    assert confusion[3.0] < 0.7 * confusion[0.0], confusion


class _MCCWeightSeen(Callback):
    """The MCC weight the module used in the first training batch."""

    def on_batch_end(self, net, training=False, **kwargs):
        if training and not hasattr(self, "first_"):
            self.first_ = net.module_.mcc_coef


@pytest.mark.parametrize("cls", REGULARISED, ids=regularised_ids)
def test_mcc_regulariser_is_recorded_and_follows_the_schedule(small_moons, cls):
    weight, schedule, key = _trade_off(cls)
    clf = _fit_small(cls, small_moons, max_epochs=4, mcc_weight=2.0, **{weight: 0.5})
    history = clf.net_.history
    mcc = np.asarray(history[:, "mcc_loss"], dtype=float)
    assert mcc.shape == (4,) and np.all((mcc >= 0) & (mcc <= 1))
    own_loss = "domain_loss" if cls is DANNClassifier else WEIGHT[cls][1]
    assert np.all(np.isfinite(history[:, own_loss]))  # the method's own loss stays
    # the weight follows the trade-off's ramp: mcc_weight / 0.5 times the trade-off
    assert_allclose(history[:, "mcc_weight"], 4.0 * np.asarray(history[:, key]), rtol=1e-12)
    assert history[-1, "mcc_weight"] < 2.0
    constant = _fit_small(cls, small_moons, max_epochs=2, mcc_weight=2.0, **{schedule: "constant"})
    assert constant.net_.history[:, "mcc_weight"] == [2.0, 2.0]
    assert "mcc_temperature=2.5" in repr(clf.net_.module_)
    # mcc_schedule sets the term's own schedule: the paper's full weight from the
    # first step beside the ramped adversary, or a ramp beside a constant one
    full = _fit_small(cls, small_moons, max_epochs=3, mcc_weight=2.0, mcc_schedule="constant",
                      callbacks=[("seen", _MCCWeightSeen())], **{weight: 0.5})
    assert dict(full.net_.callbacks_)["seen"].first_ == 2.0
    assert full.net_.history[:, "mcc_weight"] == [2.0, 2.0, 2.0]
    trade_offs = full.net_.history[:, key]  # the method's own weight still ramps
    assert 0 < trade_offs[0] < trade_offs[1] < trade_offs[2] < 0.5
    ramped = _fit_small(cls, small_moons, max_epochs=2, mcc_weight=2.0, mcc_schedule="dann",
                        callbacks=[("seen", _MCCWeightSeen())], **{schedule: "constant"})
    assert dict(ramped.net_.callbacks_)["seen"].first_ == 0.0
    assert ramped.net_.history[:, key] == [getattr(cls(), weight)] * 2  # (MDD's is 0.1)
    assert 0 < ramped.net_.history[0, "mcc_weight"] < ramped.net_.history[1, "mcc_weight"] < 2.0
    # None follows the trade-off's schedule: the same fit as naming it
    named = _fit_small(cls, small_moons, max_epochs=4, mcc_weight=2.0, mcc_schedule="dann",
                       **{weight: 0.5})
    assert_array_equal(named.predict_proba(small_moons.X), clf.predict_proba(small_moons.X))
    # a trade-off of 0: the method's own term does not reach the features, the MCC term still counts
    mcc_only = _fit_small(cls, small_moons, max_epochs=2, mcc_weight=1.0, **{weight: 0.0})
    assert "mcc_loss" in mcc_only.net_.history[-1]
    source_only = _fit_small(cls, small_moons, max_epochs=2, **{weight: 0.0})
    assert not np.allclose(mcc_only.predict_proba(small_moons.X), source_only.predict_proba(small_moons.X))


@pytest.mark.parametrize("cls", REGULARISED, ids=regularised_ids)
def test_mcc_regulariser_off_leaves_the_method_as_it_was(small_moons, cls):
    # mcc_weight=0 (the default): no MCC term, its temperature unused
    plain = _fit_small(cls, small_moons)
    other_temperature = _fit_small(cls, small_moons, mcc_temperature=0.1)
    assert_array_equal(plain.predict_proba(small_moons.X), other_temperature.predict_proba(small_moons.X))
    assert "mcc_loss" not in plain.net_.history[-1] and "mcc_weight" not in plain.net_.history[-1]
    assert "mcc_temperature" not in repr(plain.net_.module_)
    on = _fit_small(cls, small_moons, mcc_weight=1.0)
    assert not np.array_equal(plain.predict_proba(small_moons.X), on.predict_proba(small_moons.X))
    # no target rows (no_target="source_only"): nothing to regularise, as the method's own loss
    source = np.asarray(small_moons.sample_domain) > 0
    clf = cls(**FAST, mcc_weight=1.0, no_target="source_only")
    clf.fit(small_moons.X[source], small_moons.y[source])
    assert "mcc_loss" not in clf.net_.history[-1]


@pytest.mark.parametrize("cls", REGULARISED, ids=regularised_ids)
@pytest.mark.parametrize(
    "params, match",
    [
        ({"mcc_weight": -1.0}, "mcc_weight must be a non-negative finite number"),
        ({"mcc_weight": float("nan")}, "mcc_weight must be a non-negative finite number"),
        ({"mcc_weight": "strong"}, "mcc_weight must be a non-negative finite number"),
        ({"mcc_temperature": 0}, "mcc_temperature must be a positive finite number"),
        ({"mcc_temperature": -2.5}, "mcc_temperature must be a positive finite number"),
        ({"mcc_temperature": float("inf")}, "mcc_temperature must be a positive finite number"),
        ({"mcc_schedule": "linear"}, r"mcc_schedule must be one of \(None, 'dann', 'constant'\)"),
        ({"mcc_weight": 1.0, "batch_size": 3},
         r"batch_size must be at least 4 \(.*two target rows.*\(mcc_weight > 0\)"),
        ({"mcc_weight": 1.0, "iterator_train__batch_size": 2},
         r"iterator_train__batch_size must be at least 4 \(.*\(mcc_weight > 0\)"),
    ],
)
def test_mcc_regulariser_bad_parameter_raises(small_moons, cls, params, match):
    if "mcc_weight > 0" in match and cls._min_batch_size >= 4:
        # Deep CORAL asks for 4 rows on its own (a covariance of each domain)
        match = match.split(r" \(")[0] + r" \(.*CORAL needs two rows of each domain"
    with pytest.raises(ValueError, match=match):
        _fit_refused(cls, small_moons, **params)


@pytest.mark.parametrize("cls", REGULARISED, ids=regularised_ids)
@pytest.mark.filterwarnings("ignore:.*every batch repeats:UserWarning")  # DAN on one target row
def test_mcc_regulariser_needs_two_target_rows(cls):
    X, y, d = make_rotated_moons(60, 60, random_state=0)
    y_train = mask_target_labels(y, d)
    keep = np.r_[np.flatnonzero(d > 0), np.flatnonzero(d < 0)[:1]]
    weight = _trade_off(cls)[0]
    # whether or not the method's own loss counts (Deep CORAL's refuses one target row itself)
    for value in (1.0, 0.0) if cls._min_domain_rows[1] < 2 else (0.0,):
        clf = cls(**FAST, mcc_weight=1.0, **{weight: value})
        with pytest.raises(ValueError, match="at least 2 target rows.*MCC would not adapt"):
            clf.fit(X[keep], y_train[keep])
        assert not hasattr(clf, "classes_")
    # without the regulariser, one target row is enough (and a batch of 2), as the method
    # allows: with its own loss on, but for Deep CORAL's (a covariance needs two rows)
    own = {weight: 0.0} if cls._min_domain_rows[1] >= 2 else {}
    cls(**FAST, **own).fit(X[keep], y_train[keep])
    cls(**{**FAST, "batch_size": cls._min_batch_size}).fit(X, y_train)


def test_mcc_regulariser_beside_dans_kernel_weights_for_test_power(small_moons):
    clf = _fit_small(DANClassifier, small_moons, kernel_weights="test_power", mcc_weight=1.0)
    last = clf.net_.history[-1]
    assert "kernel_weights" in last and np.isfinite(last["mcc_loss"]) and last["mcc_weight"] > 0
    assert np.all(np.isfinite(clf.kernel_weights_))


# ----------------------------------------------------------------------
# 7. Sample weights in the class loss
# ----------------------------------------------------------------------
ALL_DEEP = [DANNClassifier, *CLASSES]
all_deep_ids = ["DANNClassifier", *ids]


@pytest.mark.parametrize("cls", ALL_DEEP, ids=all_deep_ids)
def test_weights_of_one_train_as_no_weights(small_moons, cls):
    plain = _fit_small(cls, small_moons)
    ones = cls(**FAST).fit(small_moons.X, small_moons.y_train, sample_weight=np.ones(len(small_moons.X)))
    # equal up to the order of a float32 sum (the criterion's own mean, or the
    # weighted rows' mean)
    assert_allclose(ones.net_.history[:, "train_loss"], plain.net_.history[:, "train_loss"], rtol=1e-5)
    assert_allclose(ones.predict_proba(small_moons.X), plain.predict_proba(small_moons.X), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("cls", ALL_DEEP, ids=all_deep_ids)
def test_weights_reach_every_deep_estimator(small_moons, cls):
    plain = _fit_small(cls, small_moons)
    weights = np.where(small_moons.y_train == 1, 5.0, 1.0)
    heavy = cls(**FAST).fit(small_moons.X, small_moons.y_train, sample_weight=weights)
    assert not np.allclose(heavy.net_.history[:, "class_loss"], plain.net_.history[:, "class_loss"], rtol=1e-3)


def test_weights_move_the_class_loss(small_moons):
    # class 1's source rows weigh 5 times more (or less): more (or fewer) rows are
    # predicted class 1, on both domains (seeds 0-2: 0.64-0.81 and 0.30-0.33 of
    # the rows, against 0.49-0.52 without weights)
    X, y_train = small_moons.X, small_moons.y_train
    params = {**FAST, "max_epochs": 20}
    share = {}
    for name, factor in (("plain", None), ("heavy", 5.0), ("light", 0.2)):
        weights = None if factor is None else np.where(y_train == 1, factor, 1.0)
        clf = DANNClassifier(**params).fit(X, y_train, sample_weight=weights)
        share[name] = np.mean(clf.predict(X) == 1)
    assert share["light"] < share["plain"] < share["heavy"], share


def test_weights_of_unlabelled_rows_are_not_used(small_moons):
    X, y_train = small_moons.X, small_moons.y_train
    unlabelled = y_train == -1
    a = DANNClassifier(**FAST).fit(X, y_train, sample_weight=np.where(unlabelled, 1.0, 2.0))
    b = DANNClassifier(**FAST).fit(X, y_train, sample_weight=np.where(unlabelled, 100.0, 2.0))
    assert_array_equal(a.predict_proba(X), b.predict_proba(X))


def test_weights_count_labelled_target_rows(small_moons):
    # semi-supervised: a few labelled target rows, weighted up, move the fit
    X, y, d = small_moons.X, small_moons.y, np.asarray(small_moons.sample_domain)
    y_semi = np.where(d > 0, y, -1)
    few = np.flatnonzero(d < 0)[:6]
    y_semi[few] = y[few]
    # 20 epochs, seeds 0-2: their mean log-probability -0.25 to -0.27 without
    # weights, -0.06 to -0.09 with weight 10
    params = {**FAST, "max_epochs": 20}
    plain = DANNClassifier(**params).fit(X, y_semi, sample_domain=d)
    weights = np.where(np.isin(np.arange(len(X)), few), 10.0, 1.0)
    heavy = DANNClassifier(**params).fit(X, y_semi, sample_domain=d, sample_weight=weights)

    def fit_of_the_few(clf):  # mean log-probability of their labels
        proba = clf.predict_proba(X[few])
        return np.mean(np.log(proba[np.arange(len(few)), np.searchsorted(clf.classes_, y[few])]))

    assert fit_of_the_few(heavy) > fit_of_the_few(plain) + 0.1


@pytest.mark.parametrize(
    "make_weights, match",
    [
        (lambda y: -np.ones(len(y)), "Negative values in data passed to .sample_weight"),
        (lambda y: np.full(len(y), np.nan), "Input sample_weight contains NaN"),
        (lambda y: np.ones(len(y) - 1), "sample_weight.shape =="),
        (lambda y: (y == -1).astype(float), "zero on every labelled row"),
    ],
)
def test_bad_sample_weight_is_refused_and_leaves_no_fit(small_moons, make_weights, match):
    clf = DANNClassifier(**FAST).fit(small_moons.X, small_moons.y_train)
    with pytest.raises(ValueError, match=match):
        clf.fit(small_moons.X, small_moons.y_train, sample_weight=make_weights(small_moons.y_train))
    assert not hasattr(clf, "classes_") and not hasattr(clf, "net_")
