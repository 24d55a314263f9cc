"""Tests of FineTuneClassifier and FineTuneRegressor."""

import functools
import pickle
from collections import OrderedDict

import numpy as np
import pytest
import torch
from conftest import NoTraining, flatten_images_only
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from skorch import NeuralNetClassifier
from skorch.callbacks import Callback
from torch import nn

from sktransfer.domain_adaptation import DANNClassifier
from sktransfer.fine_tuning import (
    FineTuneClassifier,
    FineTuneRegressor,
    slanted_triangular,
)
from sktransfer.multitask import MultiTaskClassifier
from sktransfer.nn import MLP

FAST = {"max_epochs": 3, "batch_size": 32, "random_state": 0}
SMALL_MLP = functools.partial(MLP, hidden_layer_sizes=(16,), n_outputs=4)


# --------------------------------------------------------------------------
# data and pretrained networks


@pytest.fixture(scope="module")
def digits():
    """sklearn digits in [0, 1], shuffled."""
    X, y = load_digits(return_X_y=True)
    X = (X / 16).astype(np.float32)
    perm = np.random.RandomState(0).permutation(len(X))
    X, y = X[perm], y[perm]
    X.setflags(write=False)
    y.setflags(write=False)
    return X, y


@pytest.fixture(scope="module")
def source_04(digits):
    """A FineTuneClassifier trained on digits 0-4 (600 rows) and their held-out rows."""
    X, y = digits
    Xs, ys = X[y < 5], y[y < 5]
    clf = FineTuneClassifier(MLP(64, (32,), n_outputs=5), max_epochs=20, lr=0.01, random_state=0)
    clf.fit(Xs[:600], ys[:600])
    return clf, Xs[600:], ys[600:]


def _bn_net(n_in=6, n_out=3):
    """Two Linear+BatchNorm blocks and a Linear head: three named layer groups."""
    torch.manual_seed(0)
    return nn.Sequential(
        OrderedDict(
            block1=nn.Sequential(nn.Linear(n_in, 8), nn.BatchNorm1d(8), nn.ReLU()),
            block2=nn.Sequential(nn.Linear(8, 8), nn.BatchNorm1d(8), nn.ReLU()),
            block3=nn.Sequential(nn.Linear(8, 8), nn.ReLU()),
            head=nn.Linear(8, n_out),
        )
    )


@pytest.fixture(scope="module")
def tabular():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(120, 6)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    return X, y


def _state(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


# --------------------------------------------------------------------------
# layer transfer: freezing


@pytest.mark.parametrize(
    "freeze, frozen_blocks",
    [
        (["block1.*"], {"block1"}),
        (["block1.0.weight", "block2.*"], {"block2"}),  # block1.0.bias still trains
        (1, {"block1"}),
        (2, {"block1", "block2"}),
        (-1, {"block3"}),
        (-2, {"block2", "block3"}),
        ("all_but_head", {"block1", "block2", "block3"}),
    ],
)
def test_frozen_parameters_and_batchnorm_stats_are_bit_identical(tabular, freeze, frozen_blocks):
    X, y = tabular
    source = _bn_net()
    before = _state(source)
    clf = FineTuneClassifier(source, freeze=freeze, max_epochs=3, lr=0.05, random_state=0).fit(X, y)
    # the instance given is never changed
    for key, value in _state(source).items():
        assert torch.equal(value, before[key]), key
    after = _state(clf.net_.module_.network)
    for block in ("block1", "block2", "block3"):
        keys = [k for k in before if k.startswith(block + ".")]
        for key in keys:
            if block in frozen_blocks:
                assert torch.equal(after[key], before[key]), key
            elif not key.endswith("num_batches_tracked"):
                if key == "block1.0.weight" and "block1.0.weight" in str(freeze):
                    assert torch.equal(after[key], before[key])
                else:
                    assert not torch.equal(after[key], before[key]), key
    # the head is new and trained
    assert clf.net_.module_.network.head.out_features == 2
    assert clf.head_ == "head"
    assert clf.n_layer_groups_ == 3


def test_frozen_batchnorm_stays_in_eval_mode_while_training(tabular):
    X, y = tabular

    class ModeRecorder(Callback):
        def on_batch_end(self, net, training=False, **kwargs):
            if training:
                bns = [m for m in net.module_.modules() if isinstance(m, nn.BatchNorm1d)]
                self.modes = [m.training for m in bns]

    clf = FineTuneClassifier(
        _bn_net(), freeze=["block1.*"], callbacks=[("modes", ModeRecorder())], **FAST
    ).fit(X, y)
    assert dict(clf.net_.callbacks_)["modes"].modes == [False, True]


def test_layer_groups_of_an_mlp(digits):
    X, y = digits
    clf = FineTuneClassifier(MLP(64, (16, 8), n_outputs=5), **FAST).fit(X[:60], y[:60])
    assert clf.head_ == "layers.4"
    assert clf.layer_groups_ == [["layers.0.weight", "layers.0.bias"], ["layers.2.weight", "layers.2.bias"]]


# --------------------------------------------------------------------------
# conservative training


def _body_distance(clf, source):
    ref = dict(source.named_parameters())
    return sum(
        ((p - ref[name]) ** 2).sum().item()
        for name, p in clf.net_.module_.network.named_parameters()
        if not name.startswith(clf.head_)
    )


def test_l2sp_keeps_weights_near_the_source(digits, source_04):
    X, y = digits
    Xt, yt = X[y >= 5][:300], y[y >= 5][:300]
    source = source_04[0].net_.module_.network
    params = {"max_epochs": 20, "lr": 0.01, "random_state": 0}
    free = FineTuneClassifier(source, l2sp_alpha=0.0, **params).fit(Xt, yt)
    tied = FineTuneClassifier(source, l2sp_alpha=1.0, **params).fit(Xt, yt)
    d_free, d_tied = _body_distance(free, source), _body_distance(tied, source)
    # measured: 108 against 0.075
    assert d_tied < 0.01 * d_free
    assert "l2sp_loss" in tied.net_.history[-1]


def test_distillation_reduces_forgetting_of_the_source_task(digits, source_04):
    X, y = digits
    clf0, Xs_test, ys_test = source_04
    Xt, yt = X[y >= 5][:300], y[y >= 5][:300]
    source = clf0.net_.module_.network
    params = {"max_epochs": 20, "lr": 0.03, "random_state": 0}
    plain = FineTuneClassifier(source, **params).fit(Xt, yt)
    lwf = FineTuneClassifier(source, distillation_weight=1.0, **params).fit(Xt, yt)

    def source_accuracy(clf):
        return np.mean(clf.source_output(Xs_test).argmax(axis=1) == ys_test)

    # measured: 0.993 before fine-tuning, 0.744 after it without
    # distillation, 0.990 with it; the target task is learnt either way (0.98)
    assert clf0.score(Xs_test, ys_test) > 0.97
    assert source_accuracy(lwf) > source_accuracy(plain) + 0.1
    assert source_accuracy(lwf) > 0.95
    assert lwf.score(X[y >= 5][300:], y[y >= 5][300:]) > 0.9
    assert "distillation_loss" in lwf.net_.history[-1]


def _parity_problem(digits, seed):
    """Source: the 10 digits (first half); target: parity, 20 labelled rows."""
    X, y = digits
    half = len(X) // 2
    Xp, yp = X[half:], y[half:] % 2
    idx = np.random.RandomState(seed).choice(len(Xp), 20, replace=False)
    rest = np.setdiff1d(np.arange(len(Xp)), idx)
    return X[:half], y[:half], Xp[idx], yp[idx], Xp[rest], yp[rest]


@pytest.fixture(scope="module")
def digit_net(digits):
    X, y = digits
    half = len(X) // 2
    clf = FineTuneClassifier(MLP(64, (32,), n_outputs=10), max_epochs=20, lr=0.01, random_state=0)
    return clf.fit(X[:half], y[:half])


def test_fine_tuning_beats_training_from_scratch_with_few_labels(digits, digit_net):
    params = {"max_epochs": 30, "lr": 0.01}
    tuned, scratch = [], []
    for seed in (0, 1):
        _, _, X_few, y_few, X_test, y_test = _parity_problem(digits, seed)
        tuned.append(FineTuneClassifier(digit_net, random_state=seed, **params).fit(X_few, y_few).score(X_test, y_test))
        scratch.append(
            FineTuneClassifier(SMALL_MLP, random_state=seed, **params).fit(X_few, y_few).score(X_test, y_test)
        )
    # measured: 0.845, 0.834 against 0.775, 0.782
    assert np.mean(tuned) > np.mean(scratch) + 0.03


def test_source_then_target_in_one_fit(digits):
    params = {"max_epochs": 30, "source_epochs": 20, "lr": 0.01}
    mlp = functools.partial(MLP, hidden_layer_sizes=(32,), n_outputs=10)
    staged, scratch = [], []
    for seed in (0, 1):
        Xs, ys, X_few, y_few, X_test, y_test = _parity_problem(digits, seed)
        X = np.concatenate([Xs, X_few])
        y = np.concatenate([ys, y_few])
        domain = np.r_[np.ones(len(Xs), int), -np.ones(len(X_few), int)]
        clf = FineTuneClassifier(mlp, random_state=seed, **params).fit(X, y, sample_domain=domain)
        assert_array_equal(clf.classes_, [0, 1])
        assert_array_equal(clf.source_classes_, np.arange(10))
        assert len(clf.source_net_.history) == 20
        assert len(clf.net_.history) == 30
        staged.append(clf.score(X_test, y_test))
        scratch.append(
            FineTuneClassifier(mlp, random_state=seed, max_epochs=30, lr=0.01).fit(X_few, y_few).score(X_test, y_test)
        )
    # measured: 0.819, 0.841 against 0.775, 0.782
    assert np.mean(staged) > np.mean(scratch) + 0.03


# --------------------------------------------------------------------------
# ULMFiT: gradual unfreezing, discriminative and slanted triangular rates


class _GradRecorder(Callback):
    """requires_grad of each block's parameters, at the end of every epoch."""

    def initialize(self):
        self.states = []
        return self

    def on_epoch_end(self, net, **kwargs):
        network = net.module_.network
        self.states.append(
            tuple(
                all(p.requires_grad for p in getattr(network, name).parameters())
                for name in ("block1", "block2", "block3", "head")
            )
        )


def test_gradual_unfreezing_unfreezes_one_group_per_epoch(tabular):
    X, y = tabular
    source = _bn_net()
    before = _state(source)
    clf = FineTuneClassifier(
        source, unfreeze="gradual", callbacks=[("grads", _GradRecorder())],
        max_epochs=4, lr=0.05, random_state=0,
    ).fit(X, y)
    assert dict(clf.net_.callbacks_)["grads"].states == [
        (False, False, False, True),
        (False, False, True, True),
        (False, True, True, True),
        (True, True, True, True),
    ]
    assert clf.net_.history[:, "unfrozen_groups"] == [0, 1, 2, 3]
    # block1 trained during the last epoch only; with 2 epochs it never trains
    two = FineTuneClassifier(source, unfreeze="gradual", max_epochs=2, lr=0.05, random_state=0).fit(X, y)
    after = _state(two.net_.module_.network)
    for key in before:
        if key.startswith(("block1.", "block2.")):
            assert torch.equal(after[key], before[key]), key
    assert not torch.equal(after["block3.0.weight"], before["block3.0.weight"])


def test_gradual_unfreezing_every_two_epochs_keeps_frozen_parameters(tabular):
    X, y = tabular
    clf = FineTuneClassifier(
        _bn_net(), unfreeze="gradual", unfreeze_every=2, freeze=["block3.*"],
        callbacks=[("grads", _GradRecorder())], max_epochs=5, random_state=0,
    ).fit(X, y)
    assert clf.net_.history[:, "unfrozen_groups"] == [0, 0, 1, 1, 2]
    states = dict(clf.net_.callbacks_)["grads"].states
    assert [s[2] for s in states] == [False] * 5  # block3 frozen by freeze
    assert states[-1] == (False, True, False, True)


def test_discriminative_learning_rates_form_a_geometric_sequence(tabular):
    X, y = tabular
    clf = FineTuneClassifier(_bn_net(), lr=0.1, lr_decay=0.5, **{**FAST, "random_state": 0}).fit(X, y)
    lrs = [group["lr"] for group in clf.net_.optimizer_.param_groups]
    assert_allclose(lrs, [0.1, 0.05, 0.025, 0.0125])
    assert_allclose(clf.net_.history[-1, "group_lrs"], lrs)
    assert clf.net_.history[:, "lr"] == [0.1] * 3
    # the head's group holds the new head and the retained source head
    head_ids = {id(p) for p in clf.net_.optimizer_.param_groups[0]["params"]}
    module = clf.net_.module_
    assert head_ids == {id(p) for p in [*module.network.head.parameters(), *module.source_head.parameters()]}
    top = {id(p) for p in clf.net_.optimizer_.param_groups[1]["params"]}
    assert top == {id(p) for p in module.network.block3.parameters()}


def test_slanted_triangular_formula():
    T, cut_frac, ratio = 200, 0.1, 32
    cut = 20
    for t in range(T + 1):
        p = t / cut if t < cut else 1 - (t - cut) / (cut * (1 / cut_frac - 1))
        assert slanted_triangular(t, T, cut_frac, ratio) == pytest.approx((1 + p * (ratio - 1)) / ratio)
    assert slanted_triangular(0, T) == pytest.approx(1 / 32)
    assert slanted_triangular(cut, T) == 1.0
    assert slanted_triangular(T, T) == pytest.approx(1 / 32)


def test_slanted_triangular_schedule_is_applied_per_batch(tabular):
    X, y = tabular

    class LRRecorder(Callback):
        def initialize(self):
            self.lrs = []
            return self

        def on_batch_begin(self, net, training=False, **kwargs):
            if training:
                self.lrs.append([g["lr"] for g in net.optimizer_.param_groups])

    clf = FineTuneClassifier(
        _bn_net(), lr=0.01, lr_decay=0.5, lr_schedule="slanted_triangular",
        callbacks=[("lrs", LRRecorder())], max_epochs=5, batch_size=16, random_state=0,
    ).fit(X, y)
    lrs = np.array(dict(clf.net_.callbacks_)["lrs"].lrs)
    T = 5 * 8  # 120 rows in batches of 16
    assert len(lrs) == T
    expected = [0.01 * slanted_triangular(t, T) for t in range(T)]
    assert_allclose(lrs[:, 0], expected)
    assert_allclose(lrs[:, 3], np.array(expected) * 0.125)
    assert_allclose(clf.net_.history[:, "lr"], [lrs[8 * e + 7, 0] for e in range(5)])


# --------------------------------------------------------------------------
# starting points


def test_starts_from_a_fitted_dann_classifier(small_moons):
    dann = DANNClassifier(max_epochs=3, random_state=0).fit(small_moons.X, small_moons.y_train)
    before = dann.predict_proba(small_moons.X)
    target = small_moons.target
    clf = FineTuneClassifier(dann, freeze="all_but_head", **FAST)
    clf.fit(small_moons.X[target], small_moons.y[target])
    assert clf.head_ == "label_predictor.layers.0"
    assert clf.n_layer_groups_ == 1  # the feature extractor (the label predictor is the head)
    assert clf.predict(small_moons.X).shape == (len(small_moons.X),)
    assert_array_equal(dann.predict_proba(small_moons.X), before)  # the source is untouched
    fe = dict(dann.net_.module_.feature_extractor.named_parameters())
    for name, p in clf.net_.module_.network.feature_extractor.named_parameters():
        assert torch.equal(p, fe[name])
    # clone keeps the fitted estimator as the starting point
    assert clone(clf).module is dann


def test_starts_from_a_fitted_skorch_net_and_from_a_fine_tuned_estimator(digits):
    X, y = digits
    net = NeuralNetClassifier(
        MLP, module__n_features_in=64, module__n_outputs=5, criterion=nn.CrossEntropyLoss,
        optimizer=torch.optim.Adam, lr=0.01, max_epochs=2, train_split=None, verbose=0,
    ).fit(X[y < 5], y[y < 5])
    clf = FineTuneClassifier(net, freeze=1, **FAST).fit(X[y >= 5][:100], y[y >= 5][:100])
    assert_array_equal(clf.classes_, [5, 6, 7, 8, 9])
    assert torch.equal(clf.net_.module_.network.layers[0].weight, net.module_.layers[0].weight)
    again = FineTuneClassifier(clf, **FAST).fit(X[:100], y[:100] % 2)
    assert again.head_ == "layers.4"
    assert again.net_.module_.network.layers[4].out_features == 2


def test_head_module_and_named_head(tabular):
    X, y = tabular
    clf = FineTuneClassifier(_bn_net(), head="head", head_module=nn.Sequential(nn.Linear(8, 2)), **FAST)
    clf.fit(X, y)
    assert isinstance(clf.net_.module_.network.head, nn.Sequential)
    # a named head that is not the network's end: the layers after it stay,
    # so the network must still output one logit per class
    with pytest.raises(ValueError, match=r"must output \(n_samples, 2\); it gave shape \(4, 3\)"):
        FineTuneClassifier(
            _bn_net(n_out=3), head="block3", head_module=nn.Linear(8, 8), callbacks=[NoTraining()], **FAST
        ).fit(X, y)
    # a head built from a class gets the width of the old head's input
    built = FineTuneClassifier(_bn_net(), head_module=MLP, head_module__hidden_layer_sizes=(4,), **FAST).fit(X, y)
    assert built.net_.module_.network.head.layers[0].in_features == 8
    assert built.predict_proba(X).shape == (len(X), 2)


class _FakeImageNetCNN(nn.Module):
    """Stands in for sktransfer.nn.EfficientNetLite0: images in, a 1000-way ``classifier``."""

    def __init__(self, pretrained=False, width=4):
        super().__init__()
        self.pretrained = pretrained
        self.stem = nn.Sequential(nn.Conv2d(3, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU())
        self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.classifier = nn.Linear(width, 1000)

    def forward(self, x):
        return self.classifier(self.pool(self.stem(x)))


def test_default_module_is_the_bundled_imagenet_cnn(monkeypatch):
    import sktransfer.nn

    monkeypatch.setattr(sktransfer.nn, "EfficientNetLite0", _FakeImageNetCNN, raising=False)
    rng = np.random.RandomState(0)
    X = rng.normal(size=(20, 3, 8, 8)).astype(np.float32)
    y = np.arange(20) % 2
    clf = FineTuneClassifier(freeze="all_but_head", module__width=6, **FAST).fit(X, y)
    network = clf.net_.module_.network
    assert network.pretrained is True
    assert clf.head_ == "classifier"
    assert network.classifier.in_features == 6 and network.classifier.out_features == 2
    assert clf.net_.module_.source_head.out_features == 1000
    assert clf.predict_proba(X).shape == (20, 2)
    with pytest.raises(ValueError, match=r"module failed on input of shape \(4, 8, 8\)"):
        FineTuneClassifier(callbacks=[NoTraining()], **FAST).fit(X[:, 0], y)


# --------------------------------------------------------------------------
# regressor


def test_regressor_single_and_multi_output(tabular):
    X, _ = tabular
    y = X[:, 0] - 2 * X[:, 1]
    reg = FineTuneRegressor(_bn_net(), max_epochs=30, lr=0.02, random_state=0).fit(X, y)
    assert reg.predict(X).shape == (len(X),)
    assert reg.predict(X).dtype == np.float64
    assert reg.score(X, y) > 0.8
    Y = np.column_stack([y, X[:, 2]])
    multi = FineTuneRegressor(_bn_net(), **FAST).fit(X, Y)
    assert multi.predict(X).shape == (len(X), 2)
    assert multi.n_outputs_ == 2


def test_regressor_predictions_do_not_depend_on_the_batch(tabular):
    # check_methods_subset_invariance demands rtol 1e-7, below float32
    # resolution; rows agree to float32 precision whatever their batch.
    X, _ = tabular
    reg = FineTuneRegressor(SMALL_MLP, **FAST).fit(X, X[:, 0])
    full = reg.predict(X)
    parts = np.concatenate([reg.predict(X[i : i + 7]) for i in range(0, len(X), 7)])
    assert_allclose(parts, full, rtol=1e-6, atol=1e-6)


# --------------------------------------------------------------------------
# scikit-learn integration


def test_clone_pickle_pipeline_and_grid_search(tabular):
    X, y = tabular
    source = _bn_net()
    clf = FineTuneClassifier(source, **FAST)
    cloned = clone(clf)
    assert cloned.module is not source and not hasattr(cloned, "net_")
    clf.fit(X, y)
    restored = pickle.loads(pickle.dumps(clf))
    assert_array_equal(restored.predict_proba(X), clf.predict_proba(X))
    refit = clone(clf).fit(X, y)  # a clone starts from the source, not the trained weights
    assert_array_equal(refit.predict_proba(X), clf.predict_proba(X))

    pipe = make_pipeline(StandardScaler(), FineTuneClassifier(SMALL_MLP, module__hidden_layer_sizes=(8,), **FAST))
    search = GridSearchCV(pipe, {"finetuneclassifier__l2sp_alpha": [0.0, 0.1]}, cv=2).fit(X, y)
    assert search.best_estimator_.predict(X).shape == (len(X),)
    assert search.best_estimator_[-1].net_.module_.network.layers[0].out_features == 8


def test_reproducible_with_random_state_and_global_rng_untouched(tabular):
    X, y = tabular
    state = torch.random.get_rng_state()
    a = FineTuneClassifier(SMALL_MLP, unfreeze="gradual", lr_schedule="slanted_triangular", **FAST).fit(X, y)
    b = FineTuneClassifier(SMALL_MLP, unfreeze="gradual", lr_schedule="slanted_triangular", **FAST).fit(X, y)
    assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    assert torch.equal(state, torch.random.get_rng_state())
    c = FineTuneClassifier(SMALL_MLP, **{**FAST, "random_state": 1}).fit(X, y)
    assert not np.array_equal(a.predict_proba(X), c.predict_proba(X))


def test_string_labels_and_unlabelled_rows(tabular):
    X, y = tabular
    labels = np.array(["no", "yes"])[y]
    clf = FineTuneClassifier(SMALL_MLP, **FAST).fit(X, labels)
    assert_array_equal(clf.classes_, ["no", "yes"])
    y_partial = y.copy()
    y_partial[::2] = -1
    clf = FineTuneClassifier(SMALL_MLP, **FAST).fit(X, y_partial)
    assert_array_equal(clf.classes_, [0, 1])


# --------------------------------------------------------------------------
# bad input: a clear error before any training


class _NoLinear(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(1, 2, 3)
        self.flat = nn.Flatten()

    def forward(self, x):
        return self.flat(self.conv(x.unsqueeze(1)))


@pytest.mark.parametrize(
    "params, error, match",
    [
        ({"freeze": ["block9.*"]}, ValueError, r"matches no parameter.*block1\.0\.weight"),
        ({"freeze": "all_but_haed"}, ValueError, r"all_but_head"),
        ({"freeze": 4}, ValueError, r"has 3"),
        ({"freeze": True}, TypeError, r"freeze must be"),
        ({"head": "classifier"}, ValueError, r"children are: 'block1' \(Sequential\)"),
        ({"module": _NoLinear()}, ValueError, r"no nn.Linear.*children are: 'conv' \(Conv1d\)"),
        ({"l2sp_alpha": -1.0}, ValueError, r"l2sp_alpha must be"),
        ({"distillation_weight": -0.5}, ValueError, r"distillation_weight must be"),
        ({"distillation_temperature": 0}, ValueError, r"distillation_temperature"),
        ({"lr_schedule": "stlr"}, ValueError, r"lr_schedule must be"),
        ({"unfreeze": "all"}, ValueError, r"unfreeze must be"),
        ({"unfreeze_every": 0}, ValueError, r"unfreeze_every"),
        ({"lr_decay": 0}, ValueError, r"lr_decay"),
        ({"lr_decay": float("inf")}, ValueError, r"lr_decay must be a finite number"),
        ({"l2sp_alpha": float("inf")}, ValueError, r"l2sp_alpha must be a finite number"),
        ({"distillation_weight": float("inf")}, ValueError, r"distillation_weight must be a finite"),
        ({"lr": float("inf")}, ValueError, r"lr must be a positive finite number"),
        ({"stlr_cut_frac": 1.5}, ValueError, r"stlr_cut_frac"),
        ({"source_epochs": 5}, ValueError, r"needs sample_domain"),
        ({"optimizer__param_groups": []}, ValueError, r"param_groups"),
        ({"module": DANNClassifier()}, ValueError, r"not fitted"),
        ({"module": "resnet"}, TypeError, r"module must be"),
        ({"module": _bn_net(n_in=5)}, ValueError, r"module failed on input of shape \(4, 6\)"),
    ],
)
def test_bad_input_is_refused_before_training(tabular, params, error, match):
    X, y = tabular
    params = {"module": _bn_net(), **params}
    clf = FineTuneClassifier(callbacks=[NoTraining()], **params, **FAST)
    with pytest.raises(error, match=match):
        clf.fit(X, y)


def test_regressor_refuses_class_labels(tabular):
    X, y = tabular
    reg = FineTuneRegressor(SMALL_MLP, callbacks=[NoTraining()], **FAST)
    with pytest.raises(ValueError, match="FineTuneRegressor got class labels"):
        reg.fit(X, np.array(["a", "b"])[y])
    with pytest.raises(ValueError, match="FineTuneRegressor got class labels"):
        reg.fit(X, y.astype(object))


def test_fitted_source_of_another_width_is_refused(tabular, digit_net):
    X, y = tabular
    with pytest.raises(ValueError, match="X has 6 features, but module"):
        FineTuneClassifier(digit_net, callbacks=[NoTraining()], **FAST).fit(X, y)


def test_sample_domain_without_labelled_target_rows(tabular):
    X, y = tabular
    y = y.copy()
    y[60:] = -1
    domain = np.r_[np.ones(60, int), -np.ones(60, int)]
    with pytest.raises(ValueError, match="no labelled target rows"):
        FineTuneClassifier(SMALL_MLP, callbacks=[NoTraining()], **FAST).fit(X, y, sample_domain=domain)


def test_efficientnet_has_one_layer_group_per_block_and_frozen_blocks_stay():
    import torch

    from sktransfer.nn import EfficientNetLite0

    torch.manual_seed(0)
    net = EfficientNetLite0(pretrained=False)
    X = np.random.RandomState(0).rand(4, 3, 32, 32).astype(np.float32)
    clf = FineTuneClassifier(net, freeze=17, max_epochs=1, batch_size=4, random_state=0)
    clf.fit(X, np.array([0, 1, 0, 1]))
    assert clf.n_layer_groups_ == 18
    assert clf.layer_groups_[1][0].startswith("blocks.0.") and clf.layer_groups_[-1][0].startswith("head.")
    tuned = dict(clf.net_.module_.network.named_parameters())
    for name, value in net.named_parameters():
        if not name.startswith(("head.", "classifier.")):
            assert torch.equal(tuned[name], value), name


class _EndsInSoftmax(nn.Module):
    """A skorch NLLLoss-style network: its last Linear is followed by a Softmax."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.body = nn.Sequential(nn.Linear(6, 8), nn.ReLU())
        self.out = nn.Linear(8, 2)
        self.softmax = nn.Softmax(dim=-1)

    def forward(self, x):
        return self.softmax(self.out(self.body(x)))


def test_a_found_head_that_is_not_the_output_layer_is_refused(tabular):
    # the last nn.Linear is replaced; a layer after it would transform the new head's
    # logits (here a second softmax: probabilities stuck near 0.27-0.73)
    X, y = tabular
    with pytest.raises(ValueError, match=r"head found, 'out'.*not the output layer.*head='<name>'"):
        FineTuneClassifier(_EndsInSoftmax(), callbacks=[NoTraining()], **FAST).fit(X, y)
    # a fitted multitask model's first task is read from heads[0]; its last Linear is
    # another task's: refused rather than fine-tuning a layer that is never used
    source = MultiTaskClassifier(max_epochs=2, random_state=0).fit(X, np.c_[y, 1 - y])
    with pytest.raises(ValueError, match="not the output layer"):
        FineTuneClassifier(source, callbacks=[NoTraining()], **FAST).fit(X, y)


def test_freeze_patterns_never_freeze_the_new_head(tabular):
    X, y = tabular
    # a pattern over body and head freezes the body; the new head trains
    clf = FineTuneClassifier(_bn_net(), freeze=["*"], **FAST).fit(X, y)
    network = clf.net_.module_.network
    assert all(not p.requires_grad for n, p in network.named_parameters() if not n.startswith("head"))
    assert all(p.requires_grad for p in network.head.parameters())
    # a pattern over the old head alone says so
    with pytest.raises(ValueError, match=r"freeze pattern 'head\.\*' matches only parameters of the head"):
        FineTuneClassifier(_bn_net(), freeze=["head.*"], callbacks=[NoTraining()], **FAST).fit(X, y)


def test_a_source_stage_with_a_head_module_keeps_one_head(tabular):
    # after the source stage the head is the module put in, not the last Linear inside it
    X, y = tabular
    domain = np.r_[np.ones(80, int), -np.ones(40, int)]
    y_all = np.r_[y[:80] + 2 * (X[:80, 2] > 0), y[80:]]  # 4 source classes, 2 target classes
    clf = FineTuneClassifier(
        _bn_net(), head_module=MLP, head_module__hidden_layer_sizes=(5,), source_epochs=2, **FAST
    ).fit(X, y_all, sample_domain=domain)
    assert clf.head_ == "head"
    assert isinstance(clf.net_.module_.network.head, MLP)
    assert not any(isinstance(m, MLP) for m in clf.net_.module_.network.head.modules()
                   if m is not clf.net_.module_.network.head)


def test_refit_without_source_stage_drops_source_classes(tabular):
    X, y = tabular
    domain = np.r_[np.ones(80, int), -np.ones(40, int)]
    y_all = np.r_[y[:80] + 2 * (X[:80, 2] > 0), y[80:]]
    clf = FineTuneClassifier(_bn_net(), source_epochs=1, **FAST).fit(X, y_all, sample_domain=domain)
    assert_array_equal(clf.source_classes_, [0, 1, 2, 3])
    clf.set_params(source_epochs=None).fit(X, y)
    assert not hasattr(clf, "source_classes_") and not hasattr(clf, "source_net_")
    clf.fit(X, y_all, sample_domain=domain)
    clf.set_params(source_epochs=0).fit(X, y_all, sample_domain=domain)
    assert not hasattr(clf, "source_classes_")  # no source stage ran


def test_slanted_triangular_validates_its_arguments():
    for args, match in (((5, 10, 0.0), "cut_frac"), ((5, 0), "n_steps"), ((5, 10, 0.1, 0.5), "ratio")):
        with pytest.raises(ValueError, match=match):
            slanted_triangular(*args)


def test_a_fitted_estimator_without_a_network_is_named_as_such(tabular):
    from sklearn.linear_model import LogisticRegression

    X, y = tabular
    with pytest.raises(ValueError, match="fitted LogisticRegression with no network to fine-tune"):
        FineTuneClassifier(LogisticRegression().fit(X, y), **FAST).fit(X, y)


def test_images_of_another_size_at_predict_get_a_clear_error():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 2))
    X = np.random.RandomState(0).rand(20, 1, 8, 8).astype(np.float32)
    clf = FineTuneClassifier(net, max_epochs=1, random_state=0).fit(X, np.arange(20) % 2)
    with pytest.raises(ValueError, match=r"failed on a batch of shape \(3, 1, 10, 10\).*another shape"):
        clf.predict(np.zeros((3, 1, 10, 10), dtype=np.float32))


def test_l2sp_loss_is_recorded_every_epoch_of_gradual_unfreezing(tabular):
    # the first epoch trains the head alone: no transferred layer, a penalty of 0, still
    # recorded, so the history (and the verbose table) has it every epoch
    X, y = tabular
    clf = FineTuneClassifier(_bn_net(), unfreeze="gradual", l2sp_alpha=0.1, **FAST).fit(X, y)
    penalties = clf.net_.history[:, "l2sp_loss"]
    assert len(penalties) == FAST["max_epochs"]
    assert penalties[0] == 0.0 and penalties[-1] >= 0.0


# --------------------------------------------------------------------------
# sample weights


@pytest.mark.parametrize("cls", [FineTuneClassifier, FineTuneRegressor])
def test_weights_of_one_train_as_no_weights(tabular, cls):
    X, y = tabular
    y = y if cls is FineTuneClassifier else X[:, 0] - X[:, 1]
    plain = cls(SMALL_MLP, **FAST).fit(X, y)
    ones = cls(SMALL_MLP, **FAST).fit(X, y, sample_weight=np.ones(len(X)))
    # the same up to the order of a float32 sum (the weighted loss is the mean of
    # the rows' losses, the unweighted one the criterion's own mean)
    assert_allclose(ones.net_.history[:, "train_loss"], plain.net_.history[:, "train_loss"], rtol=1e-6)
    outputs = (lambda est: est.predict_proba(X)) if cls is FineTuneClassifier else (lambda est: est.predict(X))
    assert_allclose(outputs(ones), outputs(plain), rtol=1e-5, atol=1e-6)


def test_weights_move_the_classifier_towards_the_heavy_rows(tabular):
    # overlapping classes; class 1's rows weigh 5 times more (or less): more (or
    # fewer) rows are predicted class 1 (seeds 0-2: 0.77-0.83 and 0.16-0.18 of the
    # rows, against 0.48-0.52 without weights)
    X, _ = tabular
    y = (X[:, 0] + np.random.RandomState(1).normal(scale=1.5, size=len(X)) > 0).astype(int)
    params = {**FAST, "max_epochs": 20, "lr": 0.01}
    plain = FineTuneClassifier(SMALL_MLP, **params).fit(X, y)
    heavy = FineTuneClassifier(SMALL_MLP, **params).fit(X, y, sample_weight=np.where(y == 1, 5.0, 1.0))
    light = FineTuneClassifier(SMALL_MLP, **params).fit(X, y, sample_weight=np.where(y == 1, 0.2, 1.0))
    share = {name: np.mean(clf.predict(X) == 1) for name, clf in
             (("plain", plain), ("heavy", heavy), ("light", light))}
    assert share["light"] < share["plain"] < share["heavy"], share


def test_weights_move_the_regressor_towards_the_heavy_rows(tabular):
    # two groups of rows disagree on the target; the heavy group wins
    X, _ = tabular
    group = X[:, 2] > 0
    y = np.where(group, 1.0, -1.0)
    X_const = np.zeros_like(X)  # the network sees nothing: it predicts a weighted mean
    params = {**FAST, "max_epochs": 40, "lr": 0.05}
    heavy_group = FineTuneRegressor(SMALL_MLP, **params).fit(X_const, y, sample_weight=np.where(group, 9.0, 1.0))
    light_group = FineTuneRegressor(SMALL_MLP, **params).fit(X_const, y, sample_weight=np.where(group, 1.0, 9.0))
    assert heavy_group.predict(X_const[:1])[0] > 0.5
    assert light_group.predict(X_const[:1])[0] < -0.5


def test_weights_reach_both_stages_of_a_sample_domain_fit(tabular):
    X, y = tabular
    domain = np.where(np.arange(len(X)) % 2, 1, -1)
    plain = FineTuneClassifier(SMALL_MLP, **FAST).fit(X, y, sample_domain=domain)
    for rows in (domain > 0, domain < 0):  # reweight one stage's rows only
        weights = np.where(rows & (y == 1), 5.0, 1.0)
        clf = FineTuneClassifier(SMALL_MLP, **FAST).fit(X, y, sample_domain=domain, sample_weight=weights)
        source_changed = not np.allclose(
            clf.source_net_.history[:, "train_loss"], plain.source_net_.history[:, "train_loss"], rtol=1e-5
        )
        assert source_changed == bool((rows & (domain > 0)).any())
        assert not np.allclose(clf.predict_proba(X), plain.predict_proba(X), rtol=1e-3)
    # with distillation the teacher's columns come after the weights
    FineTuneClassifier(SMALL_MLP, **FAST, distillation_weight=1.0).fit(
        X, y, sample_domain=domain, sample_weight=np.where(y == 1, 2.0, 1.0)
    )
    with pytest.raises(ValueError, match="zero on every row a training stage fits"):
        FineTuneClassifier(SMALL_MLP, **FAST).fit(
            X, y, sample_domain=domain, sample_weight=(domain < 0).astype(float)
        )
    # ... unless that stage does not train
    FineTuneClassifier(SMALL_MLP, **FAST, source_epochs=0).fit(
        X, y, sample_domain=domain, sample_weight=(domain < 0).astype(float)
    )
    with pytest.raises(ValueError, match="zero on every row a training stage fits"):
        FineTuneRegressor(SMALL_MLP, **FAST).fit(
            X, X[:, :2], sample_domain=domain, sample_weight=(domain > 0).astype(float)
        )


def test_weights_of_a_multi_output_regressor_weigh_whole_rows(tabular):
    X, _ = tabular
    Y = np.column_stack([X[:, 0], -X[:, 1]])
    plain = FineTuneRegressor(SMALL_MLP, **FAST).fit(X, Y)
    ones = FineTuneRegressor(SMALL_MLP, **FAST).fit(X, Y, sample_weight=np.ones(len(X)))
    assert_allclose(ones.predict(X), plain.predict(X), rtol=1e-5, atol=1e-6)
    weighted = FineTuneRegressor(SMALL_MLP, **FAST).fit(X, Y, sample_weight=np.linspace(0, 2, len(X)))
    assert weighted.predict(X).shape == (len(X), 2)
    assert not np.allclose(weighted.predict(X), plain.predict(X), rtol=1e-3)


def test_clone_keeps_the_sample_weight_request(tabular):
    # ImportanceWeightedClassifier routes its weights to the steps that ask for
    # them, through a clone of the estimator
    from sklearn import config_context

    from sktransfer import ImportanceWeightedClassifier

    X, y = tabular
    with config_context(enable_metadata_routing=True):
        net = FineTuneClassifier(SMALL_MLP, **FAST).set_fit_request(sample_weight=True)
        assert clone(net).get_metadata_routing().fit.requests["sample_weight"] is True
        pipe = make_pipeline(StandardScaler().set_fit_request(sample_weight=False), net)
        X2 = np.r_[X, X + 0.5]
        y2 = np.r_[y, -np.ones(len(y), int)]
        weighted = ImportanceWeightedClassifier(pipe).fit(X2, y2)
        by_hand = clone(pipe).fit(X, y, sample_weight=weighted.weights_)
        # the same fit, up to float rounding (the meta-estimator validates the rows itself)
        assert_allclose(weighted.predict_proba(X2), by_hand.predict_proba(X2), rtol=1e-5, atol=1e-6)
        unweighted = clone(pipe).fit(X, y)
        assert not np.allclose(weighted.predict_proba(X2), unweighted.predict_proba(X2), rtol=1e-3)


def test_weights_of_unlabelled_rows_are_left_out_with_them(tabular):
    X, y = tabular
    y_partial = np.where(np.arange(len(y)) < 20, -1, y)
    weights = np.where(np.arange(len(y)) < 20, 100.0, 1.0)  # the unlabelled rows' weights
    a = FineTuneClassifier(SMALL_MLP, **FAST).fit(X, y_partial, sample_weight=weights)
    b = FineTuneClassifier(SMALL_MLP, **FAST).fit(X[20:], y[20:])
    assert_array_equal(a.predict(X), b.predict(X))


@pytest.mark.parametrize(
    "weights, match",
    [
        (-np.ones(120), "Negative values in data passed to .sample_weight"),
        (np.full(120, np.nan), "Input sample_weight contains NaN"),
        (np.ones(119), r"sample_weight.shape == \(119,\), expected \(120,\)"),
        (np.zeros(120), "Sample weights must contain at least one non-zero number"),
    ],
)
def test_bad_sample_weight_is_refused(tabular, weights, match):
    X, y = tabular
    clf = FineTuneClassifier(SMALL_MLP, **FAST, callbacks=[NoTraining()])
    with pytest.raises(ValueError, match=match):
        clf.fit(X, y, sample_weight=weights)


def test_importance_weighting_hands_its_weights_to_a_fine_tuned_network():
    # ImportanceWeightedClassifier passes the density ratios on as sample_weight:
    # the network trains on the source rows weighted towards the target domain
    from sktransfer import ImportanceWeightedClassifier

    # covariate shift: the target rows lie further along the first feature
    rng = np.random.RandomState(0)
    X = np.r_[rng.normal(size=(100, 2)), rng.normal(size=(100, 2)) + [1.5, 0]].astype(np.float32)
    y = (X[:, 0] + X[:, 1] + rng.normal(size=200) > 0).astype(int)
    domain = np.r_[np.ones(100, int), -np.ones(100, int)]
    net = FineTuneClassifier(functools.partial(MLP, hidden_layer_sizes=(16,), n_outputs=2), **FAST)
    weighted = ImportanceWeightedClassifier(net).fit(X, np.where(domain > 0, y, -1))
    weights = weighted.weights_
    assert weights.std() > 0.3, weights.std()  # far from uniform
    uniform = clone(net).fit(X[domain > 0], y[domain > 0])
    assert not np.allclose(
        weighted.estimator_.net_.history[:, "train_loss"], uniform.net_.history[:, "train_loss"], rtol=1e-3
    )
    by_hand = clone(net).fit(X[domain > 0], y[domain > 0], sample_weight=weights)
    assert_array_equal(weighted.predict(X), by_hand.predict(X))


@pytest.mark.parametrize("weighting", ["discriminator", "kmm", "kliep"])
def test_importance_weighting_of_images_reaches_a_network(weighting):
    # Rows of images: the density ratio of the default domain classifier and of
    # KLIEP's kernels is the one of their flattened pixels; the network gets the
    # images as they are; a given domain classifier gets them as they are too.
    from sklearn.preprocessing import FunctionTransformer

    from sktransfer import ImportanceWeightedClassifier

    rng = np.random.RandomState(0)
    flat = np.r_[rng.normal(size=(60, 36)), rng.normal(size=(60, 36)) + 0.5].astype(np.float32)
    images = flat.reshape(-1, 1, 6, 6)
    y = np.r_[(flat[:60, :18].sum(1) > 0).astype(int), -np.ones(60, int)]
    net = FineTuneClassifier(torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(36, 2)),
                             **FAST)
    weighted = ImportanceWeightedClassifier(net, weighting=weighting, random_state=0)
    weighted.fit(images, y)
    on_rows = ImportanceWeightedClassifier(
        LogisticRegression(), weighting=weighting, random_state=0).fit(flat, y)
    assert_allclose(weighted.weights_, on_rows.weights_, rtol=1e-6)
    assert weighted.weights_.std() > 0.1
    assert weighted.n_features_in_ == 1  # the images' channels, as the network's
    by_hand = clone(net).fit(images[:60], y[:60], sample_weight=weighted.weights_)
    assert_array_equal(weighted.predict(images), by_hand.predict(images))
    assert weighted.predict_proba(images).shape == (120, 2)
    if weighting == "discriminator":
        images_only = make_pipeline(FunctionTransformer(flatten_images_only), LogisticRegression())
        given = ImportanceWeightedClassifier(net, domain_classifier=images_only, random_state=0)
        # (its LogisticRegression gets the float32 images, the default one float64 rows)
        assert_allclose(given.fit(images, y).weights_, weighted.weights_, rtol=1e-4)
    # 3-D rows are flattened the same way
    three_d = ImportanceWeightedClassifier(
        LogisticRegression(), weighting=weighting, random_state=0)
    with pytest.raises(ValueError, match="dim"):  # LogisticRegression takes 2-D rows only
        three_d.fit(flat.reshape(-1, 6, 6), y)


def _uint8_images(X):
    if X.dtype != np.uint8:
        raise TypeError(f"expected uint8 pixels, got {X.dtype}")
    return X.reshape(len(X), -1) / 255.0


def test_importance_weighting_keeps_the_dtype_of_images():
    # uint8 pixels reach a given domain classifier and the network as uint8 (a
    # CNNFeatureExtractor, say, reads uint8 as 0..255 and floats as 0..1); the
    # default estimator, a LogisticRegression, is refused images before any work.
    from sklearn.preprocessing import FunctionTransformer

    from sktransfer import ImportanceWeightedClassifier

    rng = np.random.RandomState(0)
    images = np.r_[rng.randint(0, 200, (40, 1, 4, 4)), rng.randint(55, 256, (40, 1, 4, 4))]
    images = images.astype(np.uint8)
    y = np.r_[rng.randint(0, 2, 40), -np.ones(40, int)]
    net = FineTuneClassifier(torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 2)),
                             **FAST)
    domain_classifier = make_pipeline(FunctionTransformer(_uint8_images), LogisticRegression())
    clf = ImportanceWeightedClassifier(net, domain_classifier=domain_classifier).fit(images, y)
    assert clf.weights_.std() > 0.05
    assert clf.predict(images).shape == (80,)
    with pytest.raises(ValueError, match="rows of 4 dimensions.*FineTuneClassifier"):
        ImportanceWeightedClassifier(weighting="kliep").fit(images, y)
