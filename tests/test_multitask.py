"""Tests of MultiTaskClassifier and ProgressiveNetClassifier."""

import pickle

import numpy as np
import pytest
import sklearn
import torch
from conftest import DATA, needs_data
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from torch import nn

from sktransfer import MultiTaskClassifier, ProgressiveNetClassifier
from sktransfer.multitask._multitask import _MultiTaskNet

FAST = {"max_epochs": 5, "batch_size": 32, "random_state": 0}



def _two_tasks(n=160, seed=0):
    """Two related binary tasks on 6 features; task 1 labelled on the first half only."""
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, 6))
    y0 = (X[:, 0] + X[:, 1] > 0).astype(int)
    y1 = (X[:, 0] - X[:, 2] > 0).astype(int)
    Y = np.column_stack([y0, y1])
    Y_train = Y.copy()
    Y_train[n // 2 :, 1] = -1
    return X, Y, Y_train


@pytest.fixture(scope="module")
def two_tasks():
    return _two_tasks()


@pytest.fixture(scope="module")
def fitted_multi(two_tasks):
    X, _, Y_train = two_tasks
    return MultiTaskClassifier(max_epochs=30, random_state=0).fit(X, Y_train)


def _sequence(seed=0):
    """Task 1: 200 rows; task 2: 60 rows of a related rule, same 5 features."""
    rng = np.random.RandomState(seed)
    X1 = rng.normal(size=(200, 5))
    X2 = rng.normal(size=(60, 5))
    return X1, (X1[:, 0] > 0).astype(int), X2, (X2[:, 0] + X2[:, 1] > 0).astype(int)


@pytest.fixture(scope="module")
def sequence():
    return _sequence()


@pytest.fixture(scope="module")
def first(sequence):
    X1, y1, _, _ = sequence
    return ProgressiveNetClassifier(hidden_layer_sizes=(16, 8), **FAST).fit(X1, y1)


# --------------------------------------------------------------------------
# MultiTaskClassifier: behaviour


def test_single_task_behaves_like_a_classifier(two_tasks):
    X, Y, _ = two_tasks
    clf = MultiTaskClassifier(**FAST).fit(X, Y[:, 0])
    assert clf.n_tasks_ == 1
    assert_array_equal(clf.classes_, [0, 1])
    assert clf.predict(X).shape == (len(X),)
    proba = clf.predict_proba(X)
    assert proba.shape == (len(X), 2)
    assert_allclose(proba.sum(axis=1), 1, rtol=1e-5)
    assert 0 <= clf.score(X, Y[:, 0]) <= 1


def test_string_labels_in_task_columns(two_tasks):
    X, Y, _ = two_tasks
    names = np.array(["neg", "pos"], dtype=object)
    Y_str = np.column_stack([names[Y[:, 0]], Y[:, 1]]).astype(object)
    clf = MultiTaskClassifier(**FAST).fit(X, Y_str)
    assert_array_equal(clf.classes_[0], ["neg", "pos"])
    assert_array_equal(clf.classes_[1], [0, 1])
    pred = clf.predict(X)
    assert set(pred[:, 0]) <= {"neg", "pos"} and set(pred[:, 1]) <= {0, 1}


def test_multitask_outputs_and_minus_one_is_never_a_class(fitted_multi, two_tasks):
    X, Y, _ = two_tasks
    clf = fitted_multi
    assert clf.n_tasks_ == 2
    assert [list(c) for c in clf.classes_] == [[0, 1], [0, 1]]
    pred = clf.predict(X)
    assert pred.shape == (len(X), 2)
    assert -1 not in pred
    probas = clf.predict_proba(X)
    assert isinstance(probas, list) and [p.shape for p in probas] == [(len(X), 2)] * 2
    for t in range(2):
        assert_array_equal(clf.classes_[t][probas[t].argmax(axis=1)], pred[:, t])
    # Task 1 learnt from its 80 labelled rows; it generalises to the rows where
    # it had no label (well above chance).
    unseen = slice(len(X) // 2, None)
    assert np.mean(pred[unseen, 1] == Y[unseen, 1]) > 0.8
    assert np.mean(pred[:, 0] == Y[:, 0]) > 0.8


def test_score_ignores_minus_one_entries(fitted_multi, two_tasks):
    X, Y, Y_train = two_tasks
    pred = fitted_multi.predict(X)
    half = len(X) // 2
    expected = np.mean([np.mean(pred[:, 0] == Y[:, 0]), np.mean(pred[:half, 1] == Y[:half, 1])])
    assert fitted_multi.score(X, Y_train) == pytest.approx(expected)


def test_rows_without_any_label_change_nothing(two_tasks):
    X, _, Y_train = two_tasks
    X_extra = np.vstack([X, np.random.RandomState(1).normal(size=(30, 6))])
    Y_extra = np.vstack([Y_train, np.full((30, 2), -1)])
    a = MultiTaskClassifier(**FAST).fit(X, Y_train)
    b = MultiTaskClassifier(**FAST).fit(X_extra, Y_extra)
    assert_array_equal(a.predict_proba(X)[1], b.predict_proba(X)[1])


def test_loss_is_weighted_sum_of_per_task_means_over_labelled_rows():
    torch.manual_seed(0)
    logits = (torch.randn(6, 2), torch.randn(6, 3))
    y = torch.tensor([[0, -1], [1, 2], [-1, 0], [1, -1], [0, 1], [-1, -1]])
    net = _MultiTaskNet(module=nn.Identity, criterion=nn.CrossEntropyLoss,
                        task_weights=torch.tensor([2.0, 0.5]))
    expected = 0.0
    for t, w in enumerate([2.0, 0.5]):
        rows = y[:, t] != -1
        expected += w * nn.functional.cross_entropy(logits[t][rows], y[rows, t])
    assert net.get_loss(logits, y).item() == pytest.approx(expected.item(), rel=1e-6)
    # A batch with no label for a task adds nothing for it (no NaN).
    y_none = y.clone()
    y_none[:, 1] = -1
    assert torch.isfinite(net.get_loss(logits, y_none))


def test_task_weights_matter(two_tasks):
    X, Y, Y_train = two_tasks
    params = {"max_epochs": 30, "random_state": 0}
    both = MultiTaskClassifier(**params).fit(X, Y_train)
    no_task1 = MultiTaskClassifier(task_weights=[1.0, 0.0], **params).fit(X, Y_train)
    # With weight 0 task 1's head gets no gradient: it stays as initialised.
    head_init = MultiTaskClassifier(task_weights={1: 0.0}, **{**params, "max_epochs": 1})
    head_init.fit(X, Y_train)
    for a, b in zip(no_task1.net_.module_.heads[1].parameters(),
                    head_init.net_.module_.heads[1].parameters()):
        assert torch.equal(a, b)
    acc_both = np.mean(both.predict(X)[:, 1] == Y[:, 1])
    acc_none = np.mean(no_task1.predict(X)[:, 1] == Y[:, 1])
    assert acc_both > acc_none + 0.1
    assert_array_equal(no_task1.task_weights_, [1.0, 0.0])


def test_read_only_input_and_sample_task_reach_torch_as_writable_copies(
    two_tasks, torch_refuses_read_only
):
    # Read-only arrays, as joblib's memory maps in GridSearchCV(n_jobs=...).
    # float32 rows: float64 ones would be copied by the cast anyway
    X, Y_train = two_tasks[0].astype(np.float32), two_tasks[2].copy()
    sample_task = np.arange(len(X)) % 2
    for array in (X, Y_train, sample_task):
        array.setflags(write=False)
    clf = MultiTaskClassifier(input_layers=[nn.Linear(6, 8), nn.Linear(6, 8)], **FAST)
    clf.fit(X, Y_train, sample_task=sample_task)
    assert len(clf.predict_proba(X, sample_task=sample_task)) == 2
    MultiTaskClassifier(**FAST).fit(X, Y_train).predict(X)


def test_input_layers_route_rows_by_sample_task(two_tasks):
    X, _, Y_train = two_tasks
    n = len(X)
    sample_task = np.r_[np.zeros(n // 2, int), np.ones(n - n // 2, int)]
    Y = np.full_like(Y_train, -1)
    Y[sample_task == 0, 0] = Y_train[sample_task == 0, 0]
    Y[sample_task == 1, 1] = Y_train[sample_task == 1, 0]
    clf = MultiTaskClassifier(
        input_layers={0: nn.Linear(6, 8), 1: nn.Linear(6, 8)}, **FAST
    ).fit(X, Y, sample_task=sample_task)
    assert len(clf.net_.module_.input_layers) == 2
    mixed = clf.predict_proba(X, sample_task=sample_task)
    for t in (0, 1):
        rows = sample_task == t
        alone = clf.predict_proba(X[rows], sample_task=np.full(rows.sum(), t))
        for task in (0, 1):
            assert_allclose(mixed[task][rows], alone[task], rtol=1e-6, atol=1e-7)
    # Different input layers give different outputs for the same rows.
    as0 = clf.predict_proba(X, sample_task=np.zeros(n, int))[0]
    as1 = clf.predict_proba(X, sample_task=np.ones(n, int))[0]
    assert not np.allclose(as0, as1)
    # A class with parameters: one copy per task, built with n_features_in.
    clf2 = MultiTaskClassifier(input_layers=nn.Linear, input_layers__out_features=4, **FAST)
    with pytest.raises(TypeError, match="could not build"):
        # nn.Linear takes in_features, not n_features_in: a clear TypeError.
        clf2.fit(X, Y, sample_task=sample_task)


def test_sample_task_through_metadata_routing(two_tasks):
    X, _, Y_train = two_tasks
    sample_task = np.arange(len(X)) % 2
    clf = MultiTaskClassifier(input_layers=[nn.Linear(6, 8), nn.Linear(6, 8)], **FAST)
    with sklearn.config_context(enable_metadata_routing=True):
        clf.set_fit_request(sample_task=True).set_predict_request(sample_task=True)
        pipe = make_pipeline(StandardScaler(), clf).fit(X, Y_train, sample_task=sample_task)
        assert pipe.predict(X, sample_task=sample_task).shape == (len(X), 2)


@needs_data
def test_related_tasks_help_a_small_task_on_amazon_reviews():
    # The benchmark's setting, one seed: kitchen with 25 labelled rows, the
    # three other domains as related tasks (0.83 vs 0.63 over 3 seeds there).
    from sktransfer.datasets import load_domain

    domains = ("books", "dvd", "elec", "kitchen")
    data = [load_domain("amazon_reviews", d, data_home=DATA) for d in domains]
    X_t, y_t = data[3]
    order = np.random.RandomState(0).permutation(len(X_t))
    rows, test = order[:25], order[1000:]
    single = MultiTaskClassifier(max_epochs=200, random_state=0).fit(X_t[rows], y_t[rows])
    X = np.vstack([X for X, _ in data[:3]] + [X_t[rows]])
    Y = np.full((len(X), 4), -1)
    start = 0
    for t, y in enumerate([y for _, y in data[:3]] + [y_t[rows]]):
        Y[start : start + len(y), t] = y
        start += len(y)
    multi = MultiTaskClassifier(max_epochs=10, random_state=0).fit(X, Y)
    acc_multi = np.mean(multi.predict(X_t[test])[:, 3] == y_t[test])
    assert acc_multi > single.score(X_t[test], y_t[test]) + 0.05


# --------------------------------------------------------------------------
# MultiTaskClassifier: bad input


def test_task_column_without_labels_is_refused(two_tasks, no_training):
    X, _, Y_train = two_tasks
    Y = np.column_stack([Y_train, np.full(len(X), -1)])
    with pytest.raises(ValueError, match=r"task 2 \(column 2 of y\) has no labelled rows"):
        MultiTaskClassifier(callbacks=[no_training], **FAST).fit(X, Y)
    with pytest.raises(ValueError, match="y has no labelled rows"):
        MultiTaskClassifier(callbacks=[no_training], **FAST).fit(X, np.full(len(X), -1))


def test_task_column_with_one_class_is_refused(two_tasks, no_training):
    X, _, Y_train = two_tasks
    Y = np.column_stack([Y_train[:, 0], np.where(Y_train[:, 1] == -1, -1, 3)])
    with pytest.raises(ValueError, match="at least two classes.*task 1"):
        MultiTaskClassifier(callbacks=[no_training], **FAST).fit(X, Y)


def test_bad_task_weights(two_tasks, no_training):
    X, _, Y_train = two_tasks
    for weights, match in (([1.0], "1 entries but y has 2"), ([1, -1], "non-negative"),
                           ({5: 1.0}, "names task 5"), ({True: 2.0}, "names task True"),
                           ([0, 0], "not all zero")):
        with pytest.raises(ValueError, match=match):
            MultiTaskClassifier(task_weights=weights, callbacks=[no_training], **FAST).fit(X, Y_train)


def test_mismatched_tasks_between_fit_and_predict(fitted_multi, two_tasks):
    X, Y, _ = two_tasks
    with pytest.raises(ValueError, match=r"fitted on 2 task column\(s\)"):
        fitted_multi.score(X, np.column_stack([Y, Y[:, :1]]))
    with pytest.raises(ValueError, match="fitted on 2 task"):
        fitted_multi.score(X, Y[:, 0])
    with pytest.raises(ValueError, match="input_layers is None"):
        fitted_multi.predict(X, sample_task=np.zeros(len(X), int))


def test_bad_sample_task(two_tasks, no_training):
    X, _, Y_train = two_tasks
    layers = {0: nn.Linear(6, 8), 1: nn.Linear(6, 8)}
    tasks = np.arange(len(X)) % 2
    clf = MultiTaskClassifier(input_layers=layers, callbacks=[no_training], **FAST)
    with pytest.raises(ValueError, match="sample_task is required"):
        clf.fit(X, Y_train)
    with pytest.raises(ValueError, match=r"names task\(s\) \[2\] unknown"):
        clf.fit(X, Y_train, sample_task=np.where(tasks == 1, 2, 0))
    with pytest.raises(ValueError, match="one task id per row"):
        clf.fit(X, Y_train, sample_task=tasks[:-1])
    with pytest.raises(TypeError, match="integer task ids"):
        clf.fit(X, Y_train, sample_task=np.array(["a"] * len(X)))
    with pytest.raises(ValueError, match=r"no row for task\(s\) \[1\]"):
        clf.fit(X, Y_train, sample_task=np.zeros(len(X), int))
    with pytest.raises(ValueError, match=r"input_layers names task\(s\) \[3\]"):
        MultiTaskClassifier(input_layers={0: nn.Linear(6, 8), 3: nn.Linear(6, 8)},
                            callbacks=[no_training], **FAST).fit(X, Y_train, sample_task=tasks)
    with pytest.raises(ValueError, match="same shape"):
        MultiTaskClassifier(input_layers=[nn.Linear(6, 8), nn.Linear(6, 4)],
                            callbacks=[no_training], **FAST).fit(X, Y_train, sample_task=tasks)
    with pytest.raises(ValueError, match="input_layers is None"):
        MultiTaskClassifier(callbacks=[no_training], **FAST).fit(X, Y_train, sample_task=tasks)
    fitted = MultiTaskClassifier(input_layers=layers, **FAST).fit(X, Y_train, sample_task=tasks)
    with pytest.raises(ValueError, match="sample_task is required"):
        fitted.predict(X)
    with pytest.raises(ValueError, match=r"names task\(s\) \[7\] unknown to this estimator: it has 2"):
        fitted.predict(X, sample_task=np.full(len(X), 7))


# --------------------------------------------------------------------------
# MultiTaskClassifier: composition, reproducibility


def test_multitask_pipeline_gridsearch_clone_pickle(two_tasks, fitted_multi):
    X, _, Y_train = two_tasks
    pipe = make_pipeline(StandardScaler(), MultiTaskClassifier(**FAST)).fit(X, Y_train)
    assert pipe.predict(X).shape == (len(X), 2)
    search = GridSearchCV(MultiTaskClassifier(**FAST),
                          {"module__hidden_layer_sizes": [(8,), (16,)]},
                          cv=KFold(2, shuffle=True, random_state=0), error_score="raise")
    search.fit(X, Y_train)
    assert search.best_params_["module__hidden_layer_sizes"] in [(8,), (16,)]
    assert len(cross_val_score(MultiTaskClassifier(**FAST), X, Y_train[:, 0], cv=2)) == 2
    cloned = clone(fitted_multi)
    assert not hasattr(cloned, "net_") and cloned.get_params() == fitted_multi.get_params()
    loaded = pickle.loads(pickle.dumps(fitted_multi))
    assert_array_equal(loaded.predict_proba(X)[1], fitted_multi.predict_proba(X)[1])


def test_multitask_reproducible(two_tasks):
    X, _, Y_train = two_tasks
    a = MultiTaskClassifier(**FAST).fit(X, Y_train).predict_proba(X)
    b = MultiTaskClassifier(**FAST).fit(X, Y_train).predict_proba(X)
    for pa, pb in zip(a, b):
        assert_array_equal(pa, pb)


# --------------------------------------------------------------------------
# ProgressiveNetClassifier: behaviour


def _state(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def test_new_column_leaves_earlier_task_untouched(sequence, first):
    X1, _, X2, y2 = sequence
    before_state = _state(first.net_.module_)
    before_pred = first.predict_proba(X1)
    second = ProgressiveNetClassifier(previous=first, hidden_layer_sizes=(12, 6), **FAST).fit(X2, y2)
    assert second.n_columns_ == 2
    # The previous estimator is unchanged, bit for bit.
    for key, value in _state(first.net_.module_).items():
        assert torch.equal(value, before_state[key])
    assert_array_equal(first.predict_proba(X1), before_pred)
    # The frozen copy inside the new estimator is bit-identical too, not shared.
    frozen = second.net_.module_.columns[0]
    assert frozen is not first.net_.module_.columns[0]
    for key, value in frozen.state_dict().items():
        assert torch.equal(value, before_state["columns.0." + key])
    assert not any(p.requires_grad for p in frozen.parameters())
    assert_allclose(
        second.net_.module_.column_logits(torch.as_tensor(X1, dtype=torch.float32), 0)
        .softmax(dim=1).detach().numpy(), before_pred, rtol=1e-6,
    )
    # Frozen parameters are not in the optimiser; the new column's are.
    in_optimizer = {id(p) for g in second.net_.optimizer_.param_groups for p in g["params"]}
    assert not in_optimizer & {id(p) for p in frozen.parameters()}
    assert {id(p) for p in second.net_.module_.columns[1].parameters()} <= in_optimizer
    # The lateral connections were trained (they start at zero).
    laterals = second.net_.module_.columns[1].laterals
    assert set(laterals) == {"layer1_from0", "layer2_from0"}
    assert all(lat.weight.abs().sum() > 0 for lat in laterals.values())


def test_three_tasks_chain(sequence, first):
    X1, y1, X2, y2 = sequence
    second = ProgressiveNetClassifier(previous=first, hidden_layer_sizes=(8,), **FAST).fit(X2, y2)
    before = second.predict(X2)
    third = ProgressiveNetClassifier(previous=second, hidden_layer_sizes=(8, 8), **FAST)
    third.fit(X1, 1 - y1)
    assert third.n_columns_ == 3
    # Column 2 gets laterals from both earlier columns where they have a layer.
    assert set(third.net_.module_.columns[2].laterals) == {
        "layer1_from0", "layer1_from1", "layer2_from0",
    }
    assert_array_equal(second.predict(X2), before)
    assert not any(p.requires_grad for c in list(third.net_.module_.columns)[:2]
                   for p in c.parameters())


def test_progressive_string_labels_and_unlabelled_rows(sequence):
    X1, y1, _, _ = sequence
    y = np.array(["a", "b"], dtype=object)[y1]
    clf = ProgressiveNetClassifier(hidden_layer_sizes=(8,), **FAST).fit(X1, y)
    assert_array_equal(clf.classes_, ["a", "b"])
    assert set(clf.predict(X1)) <= {"a", "b"}
    y_masked = y1.copy()
    y_masked[::2] = -1
    clf = ProgressiveNetClassifier(hidden_layer_sizes=(8,), **FAST).fit(X1, y_masked)
    assert_array_equal(clf.classes_, [0, 1])


# --------------------------------------------------------------------------
# ProgressiveNetClassifier: bad input


def test_previous_unfitted_wrong_type_or_width(sequence, first, no_training):
    _, _, X2, y2 = sequence
    with pytest.raises(ValueError, match="previous is not fitted"):
        ProgressiveNetClassifier(previous=ProgressiveNetClassifier(), callbacks=[no_training],
                                 **FAST).fit(X2, y2)
    with pytest.raises(TypeError, match="previous must be a fitted ProgressiveNetClassifier"):
        ProgressiveNetClassifier(previous=MultiTaskClassifier(), callbacks=[no_training],
                                 **FAST).fit(X2, y2)
    with pytest.raises(ValueError, match="X has 3 features, but previous was fitted on 5"):
        ProgressiveNetClassifier(previous=first, callbacks=[no_training], **FAST).fit(X2[:, :3], y2)
    with pytest.raises(ValueError, match="hidden_layer_sizes"):
        ProgressiveNetClassifier(hidden_layer_sizes=(0,), callbacks=[no_training], **FAST).fit(X2, y2)
    with pytest.raises(ValueError, match="y has no labelled rows"):
        ProgressiveNetClassifier(callbacks=[no_training], **FAST).fit(X2, np.full(len(X2), -1))


# --------------------------------------------------------------------------
# ProgressiveNetClassifier: composition, reproducibility


def test_progressive_clone_keeps_previous_fitted(sequence, first):
    X1, y1, X2, y2 = sequence
    second = ProgressiveNetClassifier(previous=first, hidden_layer_sizes=(8,), **FAST)
    cloned = clone(second)
    assert cloned.previous is first and hasattr(cloned.previous, "net_")
    search = GridSearchCV(second, {"lr": [1e-3, 1e-2]}, cv=2, error_score="raise").fit(X2, y2)
    assert search.best_estimator_.n_columns_ == 2
    pipe = make_pipeline(StandardScaler(), ProgressiveNetClassifier(**FAST)).fit(X1, y1)
    assert pipe.score(X1, y1) > 0.5
    fitted = clone(second).fit(X2, y2)
    assert not hasattr(clone(fitted), "net_")
    loaded = pickle.loads(pickle.dumps(fitted))
    assert_array_equal(loaded.predict_proba(X2), fitted.predict_proba(X2))
    # the clone keeps the metadata requests, as sklearn.base.clone does
    from sklearn import config_context

    with config_context(enable_metadata_routing=True):
        requested = ProgressiveNetClassifier(previous=first, **FAST).set_score_request(sample_weight=True)
        assert clone(requested).get_metadata_routing().score.requests["sample_weight"] is True


def test_progressive_reproducible(sequence, first):
    _, _, X2, y2 = sequence
    a = ProgressiveNetClassifier(previous=first, **FAST).fit(X2, y2).predict_proba(X2)
    b = ProgressiveNetClassifier(previous=first, **FAST).fit(X2, y2).predict_proba(X2)
    assert_array_equal(a, b)


def test_previous_fitted_on_other_column_names_is_refused(sequence, no_training):
    pd = pytest.importorskip("pandas")
    X1, y1, X2, y2 = sequence
    first = ProgressiveNetClassifier(**FAST).fit(pd.DataFrame(X1, columns=list("abcde")), y1)
    with pytest.raises(ValueError, match="not the ones previous was fitted on"):
        ProgressiveNetClassifier(previous=first, callbacks=[no_training], **FAST).fit(
            pd.DataFrame(X2, columns=list("edcba")), y2
        )
    ProgressiveNetClassifier(previous=first, **FAST).fit(pd.DataFrame(X2, columns=list("abcde")), y2)
