"""Behavioural tests of DANNClassifier.

What the method promises (it adapts), how it trains (mixed batches, the
schedules of the paper), what it returns, how it composes with scikit-learn,
and that every bad input is refused with a clear error before training.
"""

from __future__ import annotations

import math
import pickle

import joblib
import numpy as np
import pytest
import sklearn
import torch
from conftest import FAST, BatchRecorder, NoTraining
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.datasets import make_blobs
from sklearn.exceptions import NotFittedError
from sklearn.metrics import accuracy_score
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted
from torch import nn

from sktransfer import DANNClassifier
from sktransfer._batching import n_domain_batches
from sktransfer.datasets import make_rotated_moons, mask_target_labels
from sktransfer.nn import MLP, ConvEncoder


def _fit_small(problem, **params):
    return DANNClassifier(**{**FAST, **params}).fit(problem.X, problem.y_train)


def _lambda_formula(p):
    return 2.0 / (1.0 + math.exp(-10.0 * p)) - 1.0


# ----------------------------------------------------------------------
# 1. The method's promise
# ----------------------------------------------------------------------
SEEDS = (0, 1)


@pytest.fixture(scope="module")
def moons_runs():
    """DANN with default parameters vs the same estimator with lambda_max=0.

    The protocol of ``python -m sktransfer.tour``: rotated moons (35 degrees,
    500 + 500 rows) drawn with ``random_state=seed``, StandardScaler in a
    Pipeline, the estimator seeded with the same seed. Four fits of ~3 s.
    """
    runs = {}
    for seed in SEEDS:
        # At 50° the shift is large enough that the source-only net misses a
        # quarter of the target (at 35° its dropout MLP already reaches ~0.93).
        X, y, domain = make_rotated_moons(angle=50, random_state=seed)
        y_train = mask_target_labels(y, domain)
        target = domain < 0
        for name, params in (("dann", {}), ("source_only", {"lambda_max": 0.0})):
            model = make_pipeline(
                StandardScaler(), DANNClassifier(random_state=seed, **params)
            )
            model.fit(X, y_train)
            runs[seed, name] = {
                "target_acc": accuracy_score(y[target], model.predict(X[target])),
                "source_acc": accuracy_score(y[~target], model.predict(X[~target])),
                "history": model[-1].net_.history,
                "n_batches": n_domain_batches(
                    int((~target).sum()), int(target.sum()), 64
                ),
            }
    return runs


@pytest.mark.parametrize("seed", SEEDS)
def test_dann_beats_source_only_on_target(moons_runs, seed):
    dann, source_only = moons_runs[seed, "dann"], moons_runs[seed, "source_only"]
    # Both learn the source task ...
    assert dann["source_acc"] > 0.95
    assert source_only["source_acc"] > 0.95
    # ... but only adaptation carries it over to the rotated target domain.
    assert dann["target_acc"] > source_only["target_acc"] + 0.05, (
        dann["target_acc"],
        source_only["target_acc"],
    )


@pytest.mark.parametrize("seed", SEEDS)
def test_adaptation_makes_domains_indistinguishable(moons_runs, seed):
    def final_domain_acc(run):
        return np.mean(run["history"][-10:, "domain_acc"])

    dann = final_domain_acc(moons_runs[seed, "dann"])
    source_only = final_domain_acc(moons_runs[seed, "source_only"])
    assert abs(dann - 0.5) < abs(source_only - 0.5), (dann, source_only)


def test_history_records_losses_and_schedules_per_epoch(moons_runs):
    run = moons_runs[0, "dann"]
    history = run["history"]
    assert len(history) == 200  # default max_epochs
    for key in (
        "train_loss",
        "class_loss",
        "domain_loss",
        "domain_acc",
        "lambda",
        "lr",
    ):
        values = np.asarray(history[:, key], dtype=float)
        assert values.shape == (200,), key
        assert np.all(np.isfinite(values)), key
    # Default lambda_schedule="dann": lambda_max * (2 / (1 + exp(-10 p)) - 1),
    # recorded after the last batch of each epoch.
    n_batches = run["n_batches"]
    n_steps = 200 * n_batches
    lambdas = np.asarray(history[:, "lambda"])
    expected = [_lambda_formula((e * n_batches - 1) / n_steps) for e in range(1, 201)]
    assert_allclose(lambdas, expected, rtol=1e-9)
    assert lambdas[0] < 0.1
    assert lambdas[-1] == pytest.approx(1.0, abs=1e-3)
    assert np.all(np.diff(lambdas) > 0)
    # Default lr_schedule="constant".
    assert_allclose(history[:, "lr"], 0.01)
    # Source-only: lambda stays 0.
    assert_allclose(moons_runs[0, "source_only"]["history"][:, "lambda"], 0.0)


def test_lambda_schedule_scales_with_lambda_max(small_moons):
    clf = _fit_small(small_moons, max_epochs=8, lambda_max=0.3)
    n_batches = n_domain_batches(60, 60, 32)
    n_steps = 8 * n_batches
    lambdas = clf.net_.history[:, "lambda"]
    expected = [
        0.3 * _lambda_formula((e * n_batches - 1) / n_steps) for e in range(1, 9)
    ]
    assert_allclose(lambdas, expected, rtol=1e-9)
    assert lambdas[-1] == pytest.approx(0.3 * _lambda_formula(1.0), rel=0.05)


def test_constant_lambda_schedule(small_moons):
    clf = _fit_small(small_moons, lambda_schedule="constant", lambda_max=0.7)
    assert_allclose(clf.net_.history[:, "lambda"], 0.7)


def test_dann_lr_schedule_anneals_the_learning_rate(small_moons):
    clf = _fit_small(small_moons, max_epochs=10, lr=0.05, lr_schedule="dann")
    lrs = np.asarray(clf.net_.history[:, "lr"])
    assert np.all(np.diff(lrs) < 0)
    # lr / (1 + 10 p) ** 0.75 with p close to 1 at the end.
    assert lrs[-1] == pytest.approx(0.05 / 11**0.75, rel=0.05)
    # Every parameter group of the optimiser is annealed, not only the first.
    for group in clf.net_.optimizer_.param_groups:
        assert group["lr"] == pytest.approx(lrs[-1])


def test_constant_lr_schedule_keeps_the_learning_rate(small_moons):
    clf = _fit_small(small_moons, max_epochs=5, lr=0.05, lr_schedule="constant")
    assert_allclose(clf.net_.history[:, "lr"], 0.05)


# ----------------------------------------------------------------------
# 2. Training batches hold source and target rows
# ----------------------------------------------------------------------
def test_every_training_batch_is_half_source_half_target(unequal_moons):
    clf = DANNClassifier(
        max_epochs=2,
        batch_size=16,
        random_state=0,
        callbacks=[("recorder", BatchRecorder())],
    ).fit(unequal_moons.X, unequal_moons.y_train)
    recorder = dict(clf.net_.callbacks_)["recorder"]
    # One epoch is a pass over the larger (source) domain, 8 source rows a batch.
    assert len(recorder.domains) == 2 * math.ceil(100 / 8)
    for labels, domains in zip(recorder.labels, recorder.domains):
        assert np.sum(domains == 0) == 8
        assert np.sum(domains == 1) == 8
        # Source rows carry their label, target rows are unlabelled.
        assert np.all(labels[domains == 0] >= 0)
        assert np.all(labels[domains == 1] == -1)


def test_no_target_source_only_trains_the_label_predictor_alone(small_moons):
    source = small_moons.source
    clf = DANNClassifier(
        no_target="source_only",
        max_epochs=20,
        random_state=0,
        callbacks=[("recorder", BatchRecorder())],
    ).fit(small_moons.X[source], small_moons.y[source])
    history = clf.net_.history
    assert "domain_loss" not in history[-1]
    assert "class_loss" in history[-1]
    recorder = dict(clf.net_.callbacks_)["recorder"]
    assert all(np.all(d == 0) for d in recorder.domains)
    assert clf.score(small_moons.X[source], small_moons.y[source]) > 0.8


# ----------------------------------------------------------------------
# 3. What fit, transform and predict return
# ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def fitted(small_moons):
    return _fit_small(small_moons, module__hidden_layer_sizes=(16, 8))


def test_transform_and_feature_names(fitted, small_moons):
    features = fitted.transform(small_moons.X)
    assert features.shape == (len(small_moons.X), 8)
    assert features.dtype == np.float32
    names = fitted.get_feature_names_out()
    assert_array_equal(names, [f"dannclassifier{i}" for i in range(8)])
    # fit_transform (TransformerMixin) gives the features of the fitted net.
    clf = DANNClassifier(**FAST, module__hidden_layer_sizes=(16, 8))
    assert_allclose(clf.fit_transform(small_moons.X, small_moons.y_train), features)


def test_default_feature_width(small_moons):
    # The default feature extractor: one hidden layer of 256 units.
    assert _fit_small(small_moons, max_epochs=1).transform(small_moons.X[:5]).shape == (
        5,
        256,
    )


def test_predict_proba_and_predict(fitted, small_moons):
    proba = fitted.predict_proba(small_moons.X)
    assert proba.shape == (len(small_moons.X), 2)
    assert np.all(proba >= 0)
    assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    assert_array_equal(
        fitted.predict(small_moons.X), fitted.classes_[proba.argmax(axis=1)]
    )
    # A single row works too.
    assert fitted.predict(small_moons.X[:1]).shape == (1,)
    assert fitted.n_features_in_ == 2


def _labelled_blobs(n_classes):
    """Well separated blobs: labelled source rows, shifted unlabelled target rows."""
    X, codes = make_blobs(
        n_samples=40 * n_classes, centers=n_classes, cluster_std=0.4, random_state=0
    )
    return np.vstack([X, X + 0.3]), np.concatenate([codes, codes])


@pytest.mark.parametrize(
    "labels",
    [
        pytest.param(np.array(["cat", "dog"]), id="str"),
        pytest.param(np.array(["cat", "dog"], dtype=object), id="object"),
        pytest.param(np.array([3, 7]), id="int-3-7"),
        pytest.param(np.array([5, 0, 2]), id="three-classes"),
        pytest.param(np.array(["x", "y", "z"], dtype=object), id="three-object"),
    ],
)
def test_classes_are_preserved(labels, fast_params):
    X, codes = _labelled_blobs(len(labels))
    n = len(X) // 2
    y_true = labels[codes]
    sample_domain = np.r_[np.ones(n, dtype=int), -np.ones(n, dtype=int)]
    if labels.dtype.kind in "iu":
        y_train = y_true.copy()
        y_train[n:] = -1
        clf = DANNClassifier(**{**fast_params, "max_epochs": 30}).fit(X, y_train)
    elif labels.dtype == object:
        # names beside the integer mark, in the object array
        y_train = y_true.copy()
        y_train[n:] = -1
        clf = DANNClassifier(**{**fast_params, "max_epochs": 30}).fit(X, y_train)
    else:
        # a text array cannot hold the integer mark: mark the target rows with
        # sample_domain (semi-supervised adaptation, every row labelled: warned)
        with pytest.warns(UserWarning, match="every target row"):
            clf = DANNClassifier(**{**fast_params, "max_epochs": 30}).fit(
                X, y_true, sample_domain=sample_domain
            )
    assert_array_equal(clf.classes_, np.sort(labels))
    assert clf.classes_.dtype.kind == labels.dtype.kind
    y_pred = clf.predict(X)
    assert y_pred.dtype.kind == labels.dtype.kind
    assert set(y_pred) <= set(labels)
    assert clf.predict_proba(X).shape == (len(X), len(labels))
    # The labels are mapped back correctly (not permuted): separable blobs.
    assert accuracy_score(y_true[:n], y_pred[:n]) > 0.95
    assert clf.score(X[:n], y_true[:n]) > 0.95


# ----------------------------------------------------------------------
# 4. score
# ----------------------------------------------------------------------
def test_score_ignores_unlabelled_rows(fitted, small_moons):
    X, y = small_moons.X, small_moons.y
    y_eval = y.copy()
    y_eval[::3] = -1
    labelled = y_eval != -1
    expected = accuracy_score(y[labelled], fitted.predict(X[labelled]))
    assert fitted.score(X, y_eval) == pytest.approx(expected)
    # Counting the -1 rows as a wrong class would give another value here.
    assert fitted.score(X, y_eval) != pytest.approx(
        accuracy_score(y_eval, fitted.predict(X))
    )
    weights = np.linspace(0.5, 2.0, len(y))
    assert fitted.score(X, y_eval, sample_weight=weights) == pytest.approx(
        accuracy_score(
            y[labelled], fitted.predict(X[labelled]), sample_weight=weights[labelled]
        )
    )


def test_score_without_labelled_rows_raises(fitted, small_moons):
    with pytest.raises(ValueError, match="labelled rows"):
        fitted.score(small_moons.X, np.full(len(small_moons.X), -1))


# ----------------------------------------------------------------------
# 5. sample_domain
# ----------------------------------------------------------------------
def test_semi_supervised_target_labels_are_used():
    """Labelled target rows stay target rows and train the label predictor.

    Class 2 exists only in the target domain, and only 10 of its rows are
    labelled: the model can predict it only by learning from those rows.
    """
    X_src, c_src = make_blobs(
        80, centers=[[0, 0], [4, 0]], cluster_std=0.4, random_state=0
    )
    X_tgt, c_tgt = make_blobs(
        120, centers=[[0, 0.5], [4, 0.5], [2, 4]], cluster_std=0.4, random_state=1
    )
    X = np.vstack([X_src, X_tgt])
    y_tgt = np.where(c_tgt == 2, 2, -1)
    class2 = np.flatnonzero(c_tgt == 2)
    y_tgt[class2[10:]] = -1  # only 10 labelled target rows
    y = np.concatenate([c_src, y_tgt])
    sample_domain = np.r_[np.ones(80, dtype=int), -np.ones(120, dtype=int)]

    clf = DANNClassifier(
        max_epochs=40,
        batch_size=32,
        random_state=0,
        callbacks=[("recorder", BatchRecorder())],
    ).fit(X, y, sample_domain=sample_domain)
    assert_array_equal(clf.classes_, [0, 1, 2])
    recorder = dict(clf.net_.callbacks_)["recorder"]
    labels = np.concatenate(recorder.labels)
    domains = np.concatenate(recorder.domains)
    # The labelled target rows are fed as target rows (domain flag 1) with their label.
    assert np.any((domains == 1) & (labels == 2))
    assert not np.any((domains == 0) & (labels == 2))
    # And the class they alone teach is predicted on the unlabelled rows of it.
    unlabelled_class2 = X_tgt[class2[10:]]
    assert np.mean(clf.predict(unlabelled_class2) == 2) > 0.9


def test_several_source_domains(unequal_moons, fast_params):
    sample_domain = np.asarray(unequal_moons.sample_domain).copy()
    sample_domain[:50] = 2  # two source domains, ids 1 and 2, one target -1
    clf = DANNClassifier(
        **{**fast_params, "batch_size": 16}, callbacks=[("recorder", BatchRecorder())]
    ).fit(unequal_moons.X, unequal_moons.y_train, sample_domain=sample_domain)
    recorder = dict(clf.net_.callbacks_)["recorder"]
    assert len(recorder.domains) == 3 * math.ceil(100 / 8)
    for domains in recorder.domains:
        assert np.sum(domains == 0) == 8 and np.sum(domains == 1) == 8
    assert clf.predict(unequal_moons.X).shape == (160,)


def test_sample_domain_through_a_pipeline_without_routing(small_moons, fast_params):
    pipe = make_pipeline(StandardScaler(), DANNClassifier(**fast_params))
    pipe.fit(
        small_moons.X,
        small_moons.y_train,
        dannclassifier__sample_domain=small_moons.sample_domain,
    )
    bad = np.zeros(len(small_moons.X), dtype=int)
    with pytest.raises(ValueError, match="must not contain 0"):
        pipe.fit(small_moons.X, small_moons.y_train, dannclassifier__sample_domain=bad)


def test_importing_sktransfer_does_not_enable_metadata_routing():
    import sktransfer
    from sktransfer.utils import all_estimators

    all_estimators()  # imports every public module
    assert sktransfer.DANNClassifier is DANNClassifier
    assert sklearn.get_config()["enable_metadata_routing"] is False


def test_sample_domain_through_metadata_routing(small_moons, fast_params):
    X, y, sample_domain = small_moons.X, small_moons.y_train, small_moons.sample_domain
    with sklearn.config_context(enable_metadata_routing=True):
        pipe = make_pipeline(
            StandardScaler(),
            DANNClassifier(**fast_params).set_fit_request(sample_domain=True),
        )
        scores = cross_val_score(
            pipe,
            X,
            y,
            cv=2,
            params={"sample_domain": sample_domain},
            error_score="raise",
        )
        assert scores.shape == (2,) and np.all(np.isfinite(scores))

        search = GridSearchCV(
            pipe, {"dannclassifier__lr": [0.01, 0.05]}, cv=2, error_score="raise"
        ).fit(X, y, sample_domain=sample_domain)
        assert search.best_params_["dannclassifier__lr"] in (0.01, 0.05)

        # The metadata really reaches DANNClassifier.fit: an invalid one is refused there.
        bad = np.zeros(len(X), dtype=int)
        with pytest.raises(ValueError, match="must not contain 0"):
            cross_val_score(
                pipe, X, y, cv=2, params={"sample_domain": bad}, error_score="raise"
            )
    assert sklearn.get_config()["enable_metadata_routing"] is False


# ----------------------------------------------------------------------
# 6. Composition with scikit-learn and PyTorch
# ----------------------------------------------------------------------
def test_grid_search_over_lr_and_module_kwargs(small_moons, fast_params):
    grid = {"lr": [0.01, 0.1], "module__hidden_layer_sizes": [(8,), (16, 4)]}
    search = GridSearchCV(
        DANNClassifier(**fast_params), grid, cv=2, error_score="raise"
    )
    search.fit(small_moons.X, small_moons.y_train)
    assert len(search.cv_results_["params"]) == 4
    assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))
    best = search.best_estimator_
    width = search.best_params_["module__hidden_layer_sizes"][-1]
    assert (
        best.get_params()["module__hidden_layer_sizes"]
        == search.best_params_["module__hidden_layer_sizes"]
    )
    assert best.transform(small_moons.X[:3]).shape == (3, width)


def test_get_params_and_set_params_with_prefixed_kwargs(small_moons):
    clf = DANNClassifier(
        module__hidden_layer_sizes=(8,), optimizer__weight_decay=1e-4, **FAST
    )
    params = clf.get_params()
    assert params["module__hidden_layer_sizes"] == (8,)
    assert params["optimizer__weight_decay"] == 1e-4
    assert clf.set_params(module__hidden_layer_sizes=(5,), lr=0.05) is clf
    assert clf.get_params()["module__hidden_layer_sizes"] == (5,)
    assert clf.lr == 0.05
    clf.fit(small_moons.X, small_moons.y_train)
    assert clf.transform(small_moons.X[:2]).shape == (2, 5)
    assert clf.net_.optimizer_.param_groups[0]["weight_decay"] == 1e-4
    # Through a Pipeline too.
    pipe = make_pipeline(StandardScaler(), DANNClassifier(**FAST))
    pipe.set_params(dannclassifier__module__hidden_layer_sizes=(3,))
    assert pipe.get_params()["dannclassifier__module__hidden_layer_sizes"] == (3,)
    pipe.fit(small_moons.X, small_moons.y_train)
    assert pipe[-1].transform(small_moons.X[:2]).shape == (2, 3)


def test_default_domain_classifier_takes_kwargs(small_moons):
    clf = _fit_small(
        small_moons, max_epochs=1, domain_classifier__hidden_layer_sizes=(16,)
    )
    first = clf.net_.module_.domain_classifier.layers[0]
    assert (first.in_features, first.out_features) == (256, 16)


def test_label_predictor_kwargs_without_a_label_predictor_are_not_ignored(small_moons):
    with pytest.raises((TypeError, ValueError), match="label_predictor"):
        _fit_refused(small_moons, label_predictor__hidden=5)


def test_clone_is_unfitted_with_equal_params(fitted):
    cloned = clone(fitted)
    with pytest.raises(NotFittedError):
        check_is_fitted(cloned)
    assert not hasattr(cloned, "net_")
    assert not hasattr(cloned, "classes_")
    assert cloned.get_params() == fitted.get_params()
    assert cloned.get_params()["module__hidden_layer_sizes"] == (16, 8)


def test_clone_of_a_module_instance_does_not_share_it(fast_params):
    module = MLP(2, (8,))
    cloned = clone(DANNClassifier(module, **fast_params))
    assert isinstance(cloned.module, MLP) and cloned.module is not module


def test_pickle_and_joblib_round_trip(fitted, small_moons, tmp_path):
    expected = fitted.predict_proba(small_moons.X)
    restored = pickle.loads(pickle.dumps(fitted))
    assert_array_equal(restored.predict_proba(small_moons.X), expected)
    assert_array_equal(
        restored.transform(small_moons.X), fitted.transform(small_moons.X)
    )
    path = tmp_path / "dann.joblib"
    joblib.dump(fitted, path)
    loaded = joblib.load(path)
    assert_array_equal(loaded.predict_proba(small_moons.X), expected)
    assert_array_equal(loaded.classes_, fitted.classes_)


def test_same_random_state_same_predictions(small_moons):
    a = _fit_small(small_moons, random_state=42).predict_proba(small_moons.X)
    b = _fit_small(small_moons, random_state=42).predict_proba(small_moons.X)
    c = _fit_small(small_moons, random_state=43).predict_proba(small_moons.X)
    assert_array_equal(a, b)
    assert not np.allclose(a, c)
    # A RandomState instance seeds reproducibly too.
    d = _fit_small(small_moons, random_state=np.random.RandomState(42)).predict_proba(
        small_moons.X
    )
    e = _fit_small(small_moons, random_state=np.random.RandomState(42)).predict_proba(
        small_moons.X
    )
    assert_array_equal(d, e)


@pytest.mark.parametrize("random_state", [0, None])
def test_fit_leaves_the_global_rngs_alone(small_moons, random_state):
    torch.manual_seed(123)
    torch_before = torch.get_rng_state()
    numpy_before = np.random.get_state()[1].copy()
    clf = _fit_small(small_moons, random_state=random_state)
    clf.predict_proba(small_moons.X)
    assert torch.equal(torch.get_rng_state(), torch_before)
    if random_state is not None:
        assert_array_equal(np.random.get_state()[1], numpy_before)


def test_module_instance_is_deep_copied(small_moons, fast_params):
    module = MLP(2, (8,))
    before = {k: v.clone() for k, v in module.state_dict().items()}
    clf = DANNClassifier(module, **fast_params).fit(small_moons.X, small_moons.y_train)
    for key, value in module.state_dict().items():
        assert torch.equal(value, before[key]), key
    assert clf.net_.module_.feature_extractor is not module
    # The trained copy did move away from the user's weights.
    trained = clf.net_.module_.feature_extractor.state_dict()
    assert any(not torch.equal(trained[k], before[k]) for k in before)


def test_conv_encoder_on_flat_pixel_rows(fast_params):
    rng = np.random.RandomState(0)
    X = rng.rand(64, 64).astype(np.float32)
    y = np.r_[rng.randint(2, size=32), -np.ones(32, dtype=int)]
    y[:2] = [0, 1]
    clf = DANNClassifier(
        ConvEncoder,
        module__input_shape=(1, 8, 8),
        module__channels=(4, 8),
        module__n_features_out=16,
        **fast_params,
    ).fit(X, y)
    assert isinstance(clf.net_.module_.feature_extractor, ConvEncoder)
    assert clf.transform(X).shape == (64, 16)
    assert clf.predict(X).shape == (64,)


def test_conv_encoder_on_image_arrays(fast_params):
    rng = np.random.RandomState(0)
    X = rng.rand(32, 1, 8, 8).astype(np.float32)
    y = np.r_[np.tile([0, 1], 8), -np.ones(16, dtype=int)]
    clf = DANNClassifier(
        ConvEncoder, module__input_shape=(1, 8, 8), module__channels=(4,), **fast_params
    ).fit(X, y)
    assert clf.predict_proba(X).shape == (32, 2)
    assert clf.transform(X).shape == (32, 100)


class TwoLayerHead(nn.Module):
    def __init__(self, n_features_in, n_outputs, hidden=8):
        super().__init__()
        self.hidden = hidden
        self.layers = nn.Sequential(
            nn.Linear(n_features_in, hidden), nn.Tanh(), nn.Linear(hidden, n_outputs)
        )

    def forward(self, x):
        return self.layers(x)


def test_custom_label_predictor_class_and_domain_classifier_instance(
    small_moons, fast_params
):
    domain_classifier = nn.Linear(256, 1)
    clf = DANNClassifier(
        label_predictor=TwoLayerHead,
        label_predictor__hidden=5,
        domain_classifier=domain_classifier,
        **fast_params,
    ).fit(small_moons.X, small_moons.y_train)
    head = clf.net_.module_.label_predictor
    assert isinstance(head, TwoLayerHead) and head.hidden == 5
    assert head.layers[-1].out_features == 2  # n_outputs injected from the classes
    fitted_dc = clf.net_.module_.domain_classifier
    assert isinstance(fitted_dc, nn.Linear) and fitted_dc is not domain_classifier
    assert "domain_loss" in clf.net_.history[-1]
    assert clf.predict_proba(small_moons.X).shape == (120, 2)


def test_adam_optimizer(small_moons, fast_params):
    clf = DANNClassifier(
        optimizer=torch.optim.Adam, lr=1e-3, optimizer__weight_decay=1e-5, **fast_params
    ).fit(small_moons.X, small_moons.y_train)
    assert isinstance(clf.net_.optimizer_, torch.optim.Adam)
    assert clf.net_.optimizer_.param_groups[0]["weight_decay"] == 1e-5
    assert "momentum" not in clf.net_.optimizer_.param_groups[0]


def test_sgd_momentum_defaults_to_0_9_unless_given(small_moons, fast_params):
    default = _fit_small(small_moons, max_epochs=1)
    assert default.net_.optimizer_.param_groups[0]["momentum"] == 0.9
    given = _fit_small(small_moons, max_epochs=1, optimizer__momentum=0.5)
    assert given.net_.optimizer_.param_groups[0]["momentum"] == 0.5


def test_verbose_prints_an_epoch_table(small_moons, capsys):
    _fit_small(small_moons, verbose=1, max_epochs=3)
    out = capsys.readouterr().out
    header = out.splitlines()[0]
    for column in ("epoch", "train_loss", "class_loss", "domain_loss", "domain_acc"):
        assert column in header
    assert len([line for line in out.splitlines() if line.strip()[:1].isdigit()]) == 3


def test_verbose_0_prints_nothing(small_moons, capsys):
    _fit_small(small_moons, verbose=0).predict(small_moons.X)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == ""


def test_user_callbacks_are_not_mutated(small_moons, fast_params):
    recorder = BatchRecorder()
    clf = DANNClassifier(callbacks=[recorder], **fast_params).fit(
        small_moons.X, small_moons.y_train
    )
    assert not hasattr(recorder, "labels")  # the fitted net works on a copy
    assert clf.callbacks[0] is recorder


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_fit_and_predict_on_cuda(small_moons, fast_params):
    clf = DANNClassifier(device="cuda", **fast_params).fit(
        small_moons.X, small_moons.y_train
    )
    assert next(clf.net_.module_.parameters()).is_cuda
    proba = clf.predict_proba(small_moons.X)
    assert isinstance(proba, np.ndarray) and proba.shape == (120, 2)
    cpu = pickle.loads(pickle.dumps(clf))
    assert_allclose(cpu.predict_proba(small_moons.X), proba)


# ----------------------------------------------------------------------
# 7. Bad input: a clear error, before training
# ----------------------------------------------------------------------
def _fit_refused(problem, X=None, y=None, *, sample_domain=None, **params):
    """Fit with a callback that fails the test if training starts."""
    X = problem.X if X is None else X
    y = problem.y_train if y is None else y
    clf = DANNClassifier(**{**FAST, **params}, callbacks=[NoTraining()])
    return clf.fit(X, y, sample_domain=sample_domain)


def test_control_fit_with_no_training_callback_does_train(small_moons):
    # The guard used below works: on valid input, it stops training.
    with pytest.raises(AssertionError, match="training started"):
        _fit_refused(small_moons)


def test_no_unlabelled_rows_raises(small_moons):
    with pytest.raises(ValueError, match="no target rows.*no_target='source_only'"):
        _fit_refused(small_moons, y=small_moons.y)


def test_only_unlabelled_rows_raises(small_moons):
    with pytest.raises(ValueError, match="no labelled rows"):
        _fit_refused(small_moons, y=np.full(120, -1))


def test_one_class_raises(small_moons):
    y = np.where(small_moons.source, 0, -1)
    with pytest.raises(ValueError, match="at least two classes"):
        _fit_refused(small_moons, y=y)


def test_y_none_raises(small_moons):
    with pytest.raises(ValueError, match="requires y"):
        DANNClassifier(**FAST).fit(small_moons.X, None)


@pytest.mark.parametrize("bad, match", [(np.nan, "NaN"), (np.inf, "infinity")])
def test_non_finite_X_raises(small_moons, bad, match):
    X = np.array(small_moons.X)
    X[5, 1] = bad
    with pytest.raises(ValueError, match=match):
        _fit_refused(small_moons, X=X)


def test_continuous_y_raises(small_moons):
    y = np.where(small_moons.source, np.linspace(0, 1, 120), -1)
    with pytest.raises(ValueError, match="Unknown label type"):
        _fit_refused(small_moons, y=y)


@pytest.mark.parametrize(
    "make_sample_domain, y_kind, error, match",
    [
        pytest.param(
            lambda sd: sd[:-1], "masked", ValueError, "119 entries", id="wrong-length"
        ),
        pytest.param(
            lambda sd: np.ones_like(sd),
            "true",
            ValueError,
            "no target rows",
            id="no-target-id",
        ),
        pytest.param(
            lambda sd: -np.ones_like(sd),
            "true",
            ValueError,
            "no source domain",
            id="no-source-id",
        ),
        pytest.param(
            lambda sd: np.where(np.arange(len(sd)) == 3, 0, sd),
            "masked",
            ValueError,
            "must not contain 0",
            id="zero",
        ),
        pytest.param(
            lambda sd: sd * 0.5,
            "masked",
            TypeError,
            "integer domain ids",
            id="non-integer",
        ),
        pytest.param(
            lambda sd: np.where(sd > 0, "src", "tgt"),
            "masked",
            TypeError,
            "integer domain ids",
            id="strings",
        ),
        pytest.param(
            lambda sd: np.ones_like(sd),
            "masked",
            ValueError,
            r"source domains \(sample_domain > 0\) must be labelled",
            id="unlabelled-source",
        ),
        pytest.param(
            lambda sd: np.column_stack([sd, sd]),
            "masked",
            ValueError,
            "sample_domain",
            id="2d",
        ),
    ],
)
def test_bad_sample_domain_raises(
    small_moons, make_sample_domain, y_kind, error, match
):
    y = small_moons.y_train if y_kind == "masked" else small_moons.y
    sample_domain = make_sample_domain(np.asarray(small_moons.sample_domain))
    with pytest.raises(error, match=match):
        _fit_refused(small_moons, y=y, sample_domain=sample_domain)




class Unsqueeze(nn.Module):
    """A feature extractor with 3-D output."""

    def forward(self, x):
        return x.unsqueeze(1)


@pytest.mark.parametrize(
    "params, match",
    [
        pytest.param(
            {"label_predictor": nn.Linear(256, 3)},
            r"label_predictor must output \(n_samples, n_classes=2\)",
            id="label-predictor-outputs",
        ),
        pytest.param(
            {"label_predictor": TwoLayerHead, "label_predictor__n_outputs": 5},
            r"label_predictor must output \(n_samples, n_classes=2\)",
            id="label-predictor-class-outputs",
        ),
        pytest.param(
            {"module": nn.Linear(5, 8)},
            r"module failed on input of shape \(4, 2\)",
            id="extractor-input-width",
        ),
        pytest.param(
            {"module": Unsqueeze()}, "must output a 2-D tensor", id="extractor-3d"
        ),
        pytest.param(
            {"domain_classifier": nn.Linear(256, 2)},
            "domain_classifier must output one logit",
            id="domain-classifier-2-outputs",
        ),
        pytest.param(
            {"domain_classifier": nn.Linear(7, 1)},
            "domain_classifier failed on input",
            id="domain-classifier-input-width",
        ),
        pytest.param(
            {"module": ConvEncoder, "module__input_shape": (1, 8, 8)},
            "expects rows of 64 pixels",
            id="conv-encoder-pixels",
        ),
        pytest.param(
            {"module": MLP(2), "module__hidden_layer_sizes": (8,)},
            "module is a module instance",
            id="instance-plus-kwargs",
        ),
    ],
)
def test_module_that_does_not_fit_raises(small_moons, params, match):
    with pytest.raises(ValueError, match=match):
        _fit_refused(small_moons, **params)


@pytest.mark.parametrize(
    "params, match",
    [
        pytest.param({}, r"MLP takes rows of features.*Flatten images", id="default-mlp"),
        pytest.param(
            {"module": ConvEncoder},
            r"built for images of shape input_shape=\(1, 28, 28\), got \(1, 4, 4\); "
            "set input_shape \\(module__input_shape",
            id="conv-encoder-default-shape",
        ),
    ],
)
def test_images_for_the_wrong_network_say_what_to_do(params, match):
    X = np.random.RandomState(0).rand(40, 1, 4, 4).astype(np.float32)
    y = np.r_[np.arange(20) % 2, -np.ones(20, int)]
    with pytest.raises(ValueError, match=match):
        DANNClassifier(max_epochs=1, **params).fit(X, y)


@pytest.mark.parametrize(
    "params, error, match",
    [
        pytest.param(
            {"module": "mlp"},
            TypeError,
            "module must be a torch.nn.Module",
            id="module-str",
        ),
        pytest.param(
            {"module__no_such_arg": 1},
            TypeError,
            "could not build module",
            id="module-kwarg",
        ),
        pytest.param(
            {"foo": 1}, TypeError, "unexpected keyword argument 'foo'", id="foo"
        ),
        pytest.param(
            {"modul__x": 1},
            TypeError,
            "unexpected keyword argument 'modul__x'",
            id="modul__x",
        ),
        pytest.param(
            {"device": "nonsense"},
            ValueError,
            "device must be a torch device",
            id="device",
        ),
        pytest.param(
            {"lambda_schedule": "linear"},
            ValueError,
            "lambda_schedule must be one of",
            id="lambda_schedule",
        ),
        pytest.param(
            {"lr_schedule": "step"},
            ValueError,
            "lr_schedule must be one of",
            id="lr_schedule",
        ),
        pytest.param(
            {"no_target": "ignore"},
            ValueError,
            "no_target must be one of",
            id="no_target",
        ),
        pytest.param(
            {"lambda_max": -1.0},
            ValueError,
            "lambda_max must be a non-negative",
            id="lambda_max",
        ),
        pytest.param(
            {"batch_size": 1}, ValueError, "batch_size must be at least 2", id="batch-1"
        ),
        pytest.param(
            {"batch_size": 0}, ValueError, "batch_size must be a positive", id="batch-0"
        ),
        pytest.param(
            {"max_epochs": 0},
            ValueError,
            "max_epochs must be a positive integer",
            id="epochs-0",
        ),
        pytest.param(
            {"max_epochs": 2.5},
            ValueError,
            "max_epochs must be a positive integer",
            id="epochs-float",
        ),
        pytest.param(
            {"lr": -1}, ValueError, "lr must be a positive finite number", id="lr-negative"
        ),
        pytest.param(
            {"lr": 0}, ValueError, "lr must be a positive finite number", id="lr-zero"
        ),
        pytest.param(
            {"optimizer": "adam"},
            TypeError,
            "optimizer must be a torch.optim.Optimizer",
            id="optimizer",
        ),
    ],
)
def test_bad_parameter_raises(small_moons, params, error, match):
    with pytest.raises(error, match=match):
        _fit_refused(small_moons, **params)


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")
@pytest.mark.parametrize("device", ["cuda", "cuda:0", torch.device("cuda")])
def test_cuda_without_cuda_raises(small_moons, device):
    with pytest.raises(ValueError, match="CUDA is not available"):
        _fit_refused(small_moons, device=device)


def test_unknown_kwargs_are_accepted_by_init_and_refused_by_fit(small_moons):
    clf = DANNClassifier(foo=1)  # sklearn convention: __init__ only stores
    assert clf.get_params()["foo"] == 1
    with pytest.raises(TypeError, match="foo"):
        clf.fit(small_moons.X, small_moons.y_train)


@pytest.mark.parametrize(
    "method",
    [
        "predict",
        "predict_proba",
        pytest.param(
            "transform",
        ),
        "score",
        "get_feature_names_out",
    ],
)
def test_methods_before_fit_raise_not_fitted(small_moons, method):
    clf = DANNClassifier()
    args = {
        "score": (small_moons.X, small_moons.y),
        "get_feature_names_out": (),
    }.get(method, (small_moons.X,))
    with pytest.raises(NotFittedError):
        getattr(clf, method)(*args)


def test_refused_fit_leaves_the_estimator_unfitted(small_moons):
    clf = DANNClassifier()
    with pytest.raises(ValueError, match="no target rows"):
        clf.fit(small_moons.X, small_moons.y)
    with pytest.raises(NotFittedError):
        clf.predict(small_moons.X)


@pytest.mark.parametrize("method", ["predict", "predict_proba", "transform", "score"])
def test_wrong_number_of_features_raises(fitted, small_moons, method):
    X = np.hstack([small_moons.X, small_moons.X])
    args = (X, small_moons.y) if method == "score" else (X,)
    with pytest.raises(ValueError, match="features"):
        getattr(fitted, method)(*args)
