"""Model selection without target labels: SourceKFold and the DA scorers."""

import pickle
import warnings
from functools import partial
from typing import ClassVar

import numpy as np
import pytest
import scipy.sparse as sp
from conftest import flatten_images_only
from numpy.testing import assert_array_equal
from sklearn import config_context
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_score
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler
from sklearn.svm import LinearSVC

from sktransfer import LabelledOnly
from sktransfer.datasets import make_rotated_moons, mask_target_labels
from sktransfer.domain_adaptation._reweight import (
    ImportanceWeightCollapseWarning,
    _discriminator_weights,
)
from sktransfer.domain_adaptation._shallow import CORAL
from sktransfer.model_selection import (
    SourceKFold,
    average_thresholded_confidence_scorer,
    batch_nuclear_norm_scorer,
    circular_validation_scorer,
    class_cluster_ami_scorer,
    deep_embedded_validation_scorer,
    importance_weighted_scorer,
    information_maximization_scorer,
    matrix_norm_scorer,
    mixed_sample_scorer,
    prediction_entropy_scorer,
    soft_neighborhood_density_scorer,
)
from sktransfer.model_selection._scorers import _default_domain_classifier

SCORERS = [
    importance_weighted_scorer,
    deep_embedded_validation_scorer,
    prediction_entropy_scorer,
    circular_validation_scorer,
    soft_neighborhood_density_scorer,
    mixed_sample_scorer,
    batch_nuclear_norm_scorer,
    class_cluster_ami_scorer,
    information_maximization_scorer,
    matrix_norm_scorer,
    average_thresholded_confidence_scorer,
]
# scorers of the target predictions' probabilities alone
SOURCE_FREE = (
    prediction_entropy_scorer,
    soft_neighborhood_density_scorer,
    batch_nuclear_norm_scorer,
    information_maximization_scorer,
    matrix_norm_scorer,
)


def _data(n=100, angle=40, seed=0):
    X, y, d = make_rotated_moons(n, n, angle=angle, random_state=seed)
    return X, mask_target_labels(y, d), y, d


# ----------------------------------------------------------------------
# splitter
# ----------------------------------------------------------------------
@pytest.mark.parametrize("shuffle", [False, True])
def test_source_kfold_keeps_target_rows_everywhere(shuffle):
    X, ym, _, _ = _data(50)
    target = np.flatnonzero(ym == -1)
    cv = SourceKFold(4, shuffle=shuffle, random_state=0 if shuffle else None)
    folds = list(cv.split(X, ym))
    assert len(folds) == cv.get_n_splits() == 4
    tested = []
    for train, test in folds:
        assert set(target) <= set(train) and set(target) <= set(test)
        labelled_test = test[ym[test] != -1]
        assert not set(labelled_test) & set(train)
        tested.extend(labelled_test)
    assert sorted(tested) == list(np.flatnonzero(ym != -1))  # each source row tested once


def test_source_kfold_sample_domain_and_labelled_target_rows():
    X, _, y, d = _data(20)
    y = y.copy()
    y[(d < 0) & (np.arange(40) % 2 == 0)] = -1  # half the target rows labelled
    for train, test in SourceKFold(2).split(X, y, sample_domain=d):
        labelled_target = np.flatnonzero((d < 0) & (y != -1))
        assert set(labelled_target) <= set(train) and not set(labelled_target) & set(test)
        assert set(np.flatnonzero(y == -1)) <= set(test)
    with config_context(enable_metadata_routing=True):
        cv = SourceKFold(2).set_split_request(sample_domain=True)
        est = LabelledOnly(LogisticRegression())
        scores = cross_val_score(est, X, y, cv=cv, params={"sample_domain": d})
        assert len(scores) == 2
        # a search routes sample_domain to get_n_splits as well as to split
        search = GridSearchCV(est, {"estimator__C": [0.1, 1.0]}, cv=cv, error_score="raise")
        search.fit(X, y, sample_domain=d)
        assert search.n_splits_ == 2 and np.isfinite(search.best_score_)


def test_source_kfold_stratifies_source_rows_sorted_by_class():
    # the benchmark loaders return rows sorted by class: unstratified folds in that
    # order validate on classes the training side never saw
    from sklearn.model_selection import KFold, StratifiedKFold

    y = np.r_[np.repeat([0, 1, 2], 30), -np.ones(20, int)]
    X = np.zeros((len(y), 1))
    source = np.flatnonzero(y != -1)
    for train, test in SourceKFold(3).split(X, y):
        assert np.bincount(y[test][y[test] != -1]).tolist() == [10, 10, 10]
        assert set(y[train]) == {-1, 0, 1, 2}
    stratified = [test[y[test] != -1] for _, test in SourceKFold(3).split(X, y)]
    expected = [source[t] for _, t in StratifiedKFold(3).split(source, y[source])]
    assert all(np.array_equal(a, b) for a, b in zip(stratified, expected, strict=True))
    # stratify=False: KFold's folds, in the rows' order
    plain = [test[y[test] != -1] for _, test in SourceKFold(3, stratify=False).split(X, y)]
    assert [set(y[t]) for t in plain] == [{0}, {1}, {2}]
    expected = [source[t] for _, t in KFold(3).split(source)]
    assert all(np.array_equal(a, b) for a, b in zip(plain, expected, strict=True))
    # shuffled and stratified: reproducible with a seed, classes still balanced
    once = [t for _, t in SourceKFold(3, shuffle=True, random_state=0).split(X, y)]
    again = [t for _, t in SourceKFold(3, shuffle=True, random_state=0).split(X, y)]
    assert all(np.array_equal(a, b) for a, b in zip(once, again, strict=True))
    assert all(np.bincount(y[t][y[t] != -1]).tolist() == [10, 10, 10] for t in once)


def test_source_kfold_keeps_each_source_domains_share_in_every_fold():
    # two source domains stacked one after the other (as the benchmark loaders stack
    # them): by class alone, two of three validation sides held a single source
    d = np.r_[np.full(12, 1), np.full(12, 5), np.full(12, -2), np.full(12, -3)]
    y = np.r_[np.tile([0, 1], 12), -np.ones(24, int)]
    X = np.zeros((len(y), 1))
    for shuffle, seed in [(False, None), (True, 0)]:
        folds = list(SourceKFold(3, shuffle=shuffle, random_state=seed).split(X, y, sample_domain=d))
        for train, test in folds:
            assert [np.sum(d[test] == k) for k in (1, 5, -2, -3)] == [4, 4, 12, 12]
            assert [np.sum(d[train] == k) for k in (1, 5, -2, -3)] == [8, 8, 12, 12]
            labelled = test[y[test] != -1]
            assert np.bincount(y[labelled]).tolist() == [4, 4]
    # one source domain: the folds of the classes alone, unchanged by sample_domain
    d1 = np.where(d > 0, 1, -1)
    for kwargs in [{}, {"shuffle": True, "random_state": 3}]:
        with_domain = [t for _, t in SourceKFold(3, **kwargs).split(X, y, sample_domain=d1)]
        without = [t for _, t in SourceKFold(3, **kwargs).split(X, y)]
        assert all(np.array_equal(a, b) for a, b in zip(with_domain, without, strict=True))
    # no (domain, class) pair has n_splits rows: the classes alone, which can still be cut
    d_small = np.r_[np.repeat([1, 2, 3], 2), -np.ones(4, int)]
    y_small = np.r_[[0, 1] * 3, -np.ones(4, int)]
    folds = list(SourceKFold(3).split(np.zeros((10, 1)), y_small, sample_domain=d_small))
    assert len(folds) == 3
    # pairs of one row: pooled by class, never left out of a training side together
    # (three domains with one class-0 row each, a fourth with six rows of class 1)
    d_odd = np.r_[np.repeat([1, 2, 3], 3), np.full(6, 4), -np.ones(6, int)]
    y_odd = np.r_[[0, 1, 1] * 3, np.ones(6, int), -np.ones(6, int)]
    for kwargs in [{}, {"shuffle": True, "random_state": 0}]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # class 0 has 3 rows: fine here
            folds = list(SourceKFold(3, **kwargs).split(np.zeros((21, 1)), y_odd, sample_domain=d_odd))
        for train, test in folds:
            assert set(y_odd[train]) == {-1, 0, 1}
            assert np.sum(y_odd[test] == 0) == 1
    # small classes: the warning speaks of the classes, not of (domain, class) pairs
    d_warn = np.r_[np.full(6, 1), np.full(6, 2), -np.ones(4, int)]
    y_warn = np.r_[[0, 0, 0, 0, 0, 1], [0, 0, 0, 0, 0, 1], -np.ones(4, int)]
    with pytest.warns(UserWarning, match="least populated class in y has only 2 members") as record:
        list(SourceKFold(3).split(np.zeros((16, 1)), y_warn, sample_domain=d_warn))
    assert len(record) == 1


def test_source_kfold_stratifies_object_labels_and_says_when_it_cannot():
    # labels and -1 in one object array (a pandas column of object dtype, say)
    y = np.array([0, 0, 0, 0, 1, 1, 1, 1, -1, -1], dtype=object)
    for _, test in SourceKFold(2).split(np.zeros((10, 1)), y):
        assert sorted(set(y[test][:-2])) == [0, 1]
    # no class has 3 rows: StratifiedKFold cannot cut 3 folds; the message says what to do
    y = np.array([0, 0, 1, 1, 2, 2, -1, -1])
    with pytest.raises(ValueError, match=r"SourceKFold\(n_splits=3\).*largest has 2.*stratify=False"):
        list(SourceKFold(3).split(np.zeros((8, 1)), y))
    assert len(list(SourceKFold(3, stratify=False).split(np.zeros((8, 1)), y))) == 3


def test_source_kfold_folds_continuous_targets_as_kfold():
    y = np.r_[np.linspace(0.5, 3.0, 12), -np.ones(4)]
    folds = list(SourceKFold(3).split(np.zeros((16, 1)), y))
    assert [t[:4].tolist() for _, t in folds] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]]


def test_source_kfold_bad_input():
    X, ym, y, _ = _data(10)
    for n_splits in (1, "3", 2.0, True):
        with pytest.raises(ValueError, match="n_splits must be an integer >= 2"):
            SourceKFold(n_splits).get_n_splits()
    with pytest.raises(ValueError, match="stratify must be True or False"):
        list(SourceKFold(2, stratify="yes").split(X, ym))
    with pytest.raises(ValueError, match="no unlabelled target rows"):
        list(SourceKFold(2).split(X, y))
    with pytest.raises(ValueError, match="n_splits"):
        list(SourceKFold(1).split(X, ym))
    with pytest.raises(ValueError, match="at least 30 labelled source rows"):
        list(SourceKFold(30).split(X, ym))
    with pytest.raises(ValueError, match="needs y"):
        list(SourceKFold(2).split(X, None))


# ----------------------------------------------------------------------
# scorers
# ----------------------------------------------------------------------
def _pipe(C=1.0):
    return make_pipeline(StandardScaler(), CORAL(), LabelledOnly(LogisticRegression(C=C)))


@pytest.mark.parametrize("scorer", SCORERS, ids=lambda s: s.__name__)
def test_scorer_in_grid_search_with_source_kfold(scorer):
    X, ym, _, _ = _data(60)
    search = GridSearchCV(
        _pipe(), {"coral__reg": [0.1, 1.0]}, cv=SourceKFold(3), scoring=scorer, error_score="raise"
    )
    search.fit(X, ym)
    scores = search.cv_results_["mean_test_score"]
    assert np.all(np.isfinite(scores))
    assert search.best_params_["coral__reg"] in (0.1, 1.0)
    pickle.loads(pickle.dumps(search))


def test_scorers_estimate_target_accuracy():
    # A classifier near chance on the target and a good one: the accuracy
    # estimators rank them as the target labels would.
    rng = np.random.RandomState(0)
    Xs, Xt = rng.normal(0, 1, (300, 1)), rng.normal(1.5, 0.6, (300, 1))
    rule = lambda x: (x[:, 0] ** 2 > 1.5).astype(int)
    X = np.r_[Xs, Xt]
    y = np.r_[rule(Xs), -np.ones(300, int)]
    good = KNeighborsClassifier(5).fit(Xs, rule(Xs))
    poor = LogisticRegression().fit(Xs, rule(Xs))
    true_good, true_poor = good.score(Xt, rule(Xt)), poor.score(Xt, rule(Xt))
    assert true_good > true_poor + 0.2
    for scorer in (importance_weighted_scorer, deep_embedded_validation_scorer):
        g, p = scorer(good, X, y), scorer(poor, X, y)
        assert g > p
        assert abs(g - true_good) < 0.1, (scorer.__name__, g, true_good)
    # source accuracy alone would not tell them apart this well
    assert poor.score(Xs, rule(Xs)) > true_poor + 0.2


def test_prediction_entropy_and_circular_values():
    X, ym, _, _ = _data(60)
    clf = _pipe().fit(X, ym)
    assert prediction_entropy_scorer(clf, X, ym) <= 0
    assert prediction_entropy_scorer(_pipe(C=1e-4).fit(X, ym), X, ym) < prediction_entropy_scorer(clf, X, ym)
    assert 0.5 < circular_validation_scorer(clf, X, ym) <= 1


def test_scorers_with_sample_domain():
    X, ym, _, d = _data(40)
    clf = _pipe().fit(X, ym)
    for scorer in SCORERS:
        assert scorer(clf, X, ym, sample_domain=d) == pytest.approx(scorer(clf, X, ym))


def test_average_thresholded_confidence_by_hand():
    # Garg et al.'s ATC: the source threshold matches the source error; the score is
    # the share of target rows above it. Written out for continuous confidences.
    X, ym, _, _ = _data(60)
    clf = _pipe().fit(X, ym)
    source = ym != -1
    for kind in ("negative_entropy", "max_proba"):
        def conf(rows, kind=kind):
            p = clf.predict_proba(X[rows])
            return np.sum(p * np.log(p), axis=1) if kind == "negative_entropy" else p.max(axis=1)
        wrong = np.count_nonzero(clf.predict(X[source]) != ym[source])
        s_conf, t_conf = conf(source), conf(~source)
        t = np.sort(s_conf)[wrong - 1]
        assert np.count_nonzero(s_conf <= t) == wrong  # no ties among these confidences
        expected = np.mean(t_conf > t)
        got = average_thresholded_confidence_scorer(clf, X, ym, confidence=kind)
        assert got == pytest.approx(expected)


def test_average_thresholded_confidence_gives_the_source_accuracy_back():
    # target rows distributed as the source rows (here: the same rows): the estimate
    # is the source accuracy, ties included (saturated probabilities tie at 1)
    X, ym, _, _ = _data(60)
    source = ym != -1
    X2 = np.r_[X[source], X[source]]
    y2 = np.r_[ym[source], -np.ones(source.sum(), int)]
    for C in (1.0, 1e4):  # 1e4: many probabilities saturate
        clf = _pipe(C=C).fit(X2, y2)
        accuracy = clf.score(X[source], ym[source])
        for kind in ("negative_entropy", "max_proba"):
            assert average_thresholded_confidence_scorer(clf, X2, y2, confidence=kind) == pytest.approx(accuracy)
    # target rows further from the boundary than the source rows score higher
    clf = _pipe().fit(X, ym)
    far = np.r_[X[source], X[source] * 4]
    near = np.r_[X[source], X[source] * 0.1]
    assert average_thresholded_confidence_scorer(clf, far, y2) > average_thresholded_confidence_scorer(clf, near, y2)
    with pytest.raises(ValueError, match="confidence must be 'negative_entropy' or 'max_proba'"):
        average_thresholded_confidence_scorer(clf, X, ym, confidence="margin")


def test_average_thresholded_confidence_threshold_by_counts():
    # 3 source rows wrong of 10: 1 - mean(correct) is 0.30000000000000004 in floats,
    # and a threshold taken from that share would move up by one row
    from sktransfer.model_selection._scorers import _thresholded_share

    source = np.arange(10) / 10
    correct = np.r_[np.zeros(3), np.ones(7)].astype(bool)
    assert 1.0 - np.mean(correct) > 0.3
    # t is the 3rd lowest source score (0.2): target rows at 0.25 are all above it
    assert _thresholded_share(source, correct, np.full(5, 0.25)) == 1.0
    assert _thresholded_share(source, correct, np.full(5, 0.15)) == 0.0
    assert _thresholded_share(source, correct, source) == pytest.approx(0.7)
    # ties at t split so that the source share is exact
    tied = np.r_[np.zeros(4), np.ones(6)]  # 3 wrong: t = 0, 3 of the 4 tied rows count below
    assert _thresholded_share(tied, correct, tied) == pytest.approx(0.7)
    assert _thresholded_share(tied, correct, np.zeros(4)) == pytest.approx(0.25)
    # no error: every target row at or above the lowest source score counts
    assert _thresholded_share(source, np.ones(10, bool), np.r_[source, -1.0]) == pytest.approx(10 / 11)


def test_deep_embedded_validation_uses_features():
    X, ym, _, _ = _data(40)
    pipe = _pipe().fit(X, ym)
    score = partial(deep_embedded_validation_scorer, domain_classifier=LogisticRegression())
    assert np.isfinite(score(pipe, X, ym))


def test_deep_embedded_validation_max_normalization_by_hand():
    # DEVN (Musgrave et al. 2022): the weights divided by their maximum and shifted
    # back to mean 1, then DEV's control-variate estimate; written out here.
    X, ym, _, _ = _data(40)
    pipe = _pipe().fit(X, ym)
    clf = LogisticRegression(C=0.5)
    features = pipe[:-1].transform(X)
    source = ym != -1
    proba = clone(clf).fit(features, source.astype(int)).predict_proba(features[source])[:, 0]
    # p(target | x) / p(source | x) times n_source / n_target
    w = proba / (1 - proba) * source.sum() / (~source).sum()
    correct = (pipe.predict(X[source]) == ym[source]).astype(float)

    def dev(w):
        a = w * correct
        eta = -np.cov(a, w, ddof=1)[0, 1] / np.var(w, ddof=1)
        return a.mean() + eta * (w.mean() - 1)

    plain = deep_embedded_validation_scorer(pipe, X, ym, domain_classifier=clf)
    devn = deep_embedded_validation_scorer(pipe, X, ym, domain_classifier=clf, normalization="max")
    assert plain == pytest.approx(dev(w), rel=1e-6)
    # pytorch-adapt's DEVN: w / max(w), shifted to mean 1; the control variate's term
    # then vanishes and the score is the mean of the shifted weights times correctness
    shifted = 1 + (w - w.mean()) / w.max()
    assert devn == pytest.approx(np.mean(shifted * correct), rel=1e-6)
    assert devn == pytest.approx(dev(shifted), rel=1e-6)
    assert devn != pytest.approx(plain)
    with pytest.raises(ValueError, match="normalization must be None or 'max'"):
        deep_embedded_validation_scorer(pipe, X, ym, normalization="mean")


@pytest.mark.parametrize("scorer", SCORERS, ids=lambda s: s.__name__)
def test_scorer_without_target_rows(scorer):
    X, ym, y, d = _data(20)
    clf = _pipe().fit(X, ym)
    with pytest.raises(ValueError, match="no target rows"):
        scorer(clf, X, y)
    with pytest.raises(ValueError, match="sample_domain has 39 entries"):
        scorer(clf, X, ym, sample_domain=d[:-1])


@pytest.mark.parametrize("scorer", SCORERS, ids=lambda s: s.__name__)
def test_scorer_refuses_a_model_that_learnt_the_mark_as_a_class(scorer):
    # A plain classifier fit on all rows takes y == -1 for a class: every score of it
    # would measure a wrong model, so the scorers say so.
    X, ym, _, _ = _data(20)
    plain = LogisticRegression().fit(X, ym)
    assert -1 in plain.classes_
    with pytest.raises(ValueError, match="has learnt -1 as a class.*LabelledOnly"):
        scorer(plain, X, ym)


def test_circular_validation_refuses_a_reverse_fit_that_learns_the_mark():
    # fit on the labelled rows only, the model is fine, but its clone, refit on rows
    # with y == -1, is not: the scorer needs an estimator that leaves those rows out
    X, ym, _, _ = _data(20)
    source_only = LogisticRegression().fit(X[ym != -1], ym[ym != -1])
    with pytest.raises(ValueError, match="its reverse fit .* has learnt|reverse fit was given"):
        circular_validation_scorer(source_only, X, ym)
    assert 0 <= circular_validation_scorer(LabelledOnly(LogisticRegression()).fit(X, ym), X, ym) <= 1


def test_mixed_sample_scorer_keeps_dataframe_columns():
    # a pipeline that picks its columns by name must get the mixed rows as a DataFrame
    pd = pytest.importorskip("pandas")
    from sklearn.compose import make_column_transformer

    X, ym, _, _ = _data(30)
    frame = pd.DataFrame(X, columns=["a", "b"])
    by_name = make_pipeline(
        make_column_transformer((StandardScaler(), ["a", "b"])), LabelledOnly(LogisticRegression())
    ).fit(frame, ym)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "X does not have valid feature names"
        score = mixed_sample_scorer(by_name, frame, ym)
    on_arrays = make_pipeline(StandardScaler(), LabelledOnly(LogisticRegression())).fit(X, ym)
    assert score == mixed_sample_scorer(on_arrays, X, ym)


@pytest.mark.parametrize(
    "scorer",
    [s for s in SCORERS if s not in (*SOURCE_FREE, mixed_sample_scorer, class_cluster_ami_scorer)],
    ids=lambda s: s.__name__,
)
def test_scorer_without_source_rows(scorer):
    X, ym, _, d = _data(20)
    clf = _pipe().fit(X, ym)
    with pytest.raises(ValueError, match="no labelled source rows"):
        scorer(clf, X[d < 0], ym[d < 0])


@pytest.mark.parametrize(
    "scorer", [s for s in SOURCE_FREE if s is not matrix_norm_scorer], ids=lambda s: s.__name__
)
def test_source_free_scorers_need_predict_proba(scorer):
    X, ym, _, _ = _data(20)
    clf = LabelledOnly(LinearSVC()).fit(X, ym)
    with pytest.raises(TypeError, match="predict_proba"):
        scorer(clf, X, ym)


def _two_target_clusters(spread=0.3):
    """Two tight target clusters at -2 and 2, four source rows; models whose
    boundary runs between the clusters, and through the one at 2."""
    rng = np.random.RandomState(0)
    Xt = np.r_[rng.normal(-2, spread, (100, 1)), rng.normal(2, spread, (100, 1))]
    Xs = np.array([[-3.0], [-1.0], [1.0], [3.0]])
    X = np.r_[Xs, Xt]
    y = np.r_[[0, 0, 1, 1], -np.ones(200, int)]
    between = LogisticRegression(C=100).fit(Xs, [0, 0, 1, 1])
    through = LogisticRegression(C=100).fit(Xs, [0, 0, 0, 1])
    return X, y, between, through


def test_soft_neighborhood_density_prefers_boundaries_between_target_clusters():
    # Two tight target clusters; one model puts its boundary between them, the
    # other through the middle of one: the first gives each target row many
    # close neighbours in prediction space, the second spreads them out.
    X, y, between, through = _two_target_clusters(spread=0.3)
    snd = soft_neighborhood_density_scorer
    # measured: 4.595 (= log 99: every row has its 99 cluster mates as equal
    # neighbours) vs 4.573 at the default temperature, 4.595 vs 4.051 at 0.01
    assert snd(between, X, y) == pytest.approx(np.log(99), abs=1e-3)
    assert snd(between, X, y) > snd(through, X, y) + 0.01
    assert snd(between, X, y, temperature=0.01) > snd(through, X, y, temperature=0.01) + 0.3
    # a higher temperature flattens the neighbour distributions towards uniform
    assert snd(through, X, y, temperature=0.01) < snd(through, X, y, temperature=0.5) <= np.log(199)


def test_soft_neighborhood_density_rewards_one_class_everywhere():
    # what the docstring warns of: the same probabilities on every target row make
    # every row's neighbours uniform, the highest score, above the model that splits
    # the two clusters correctly
    from sklearn.dummy import DummyClassifier

    X, y, between, _ = _two_target_clusters(spread=0.3)
    constant = DummyClassifier(strategy="prior").fit(X[:4], [0, 0, 1, 1])
    snd = soft_neighborhood_density_scorer
    assert snd(constant, X, y) == pytest.approx(np.log(199))
    assert snd(constant, X, y) > snd(between, X, y) + 0.6


def test_soft_neighborhood_density_in_blocks_equals_the_whole_matrix(monkeypatch):
    # the similarities are computed a block of rows at a time (memory linear in the
    # target rows): blocks of 1, 7 or all rows give the full matrix's value
    from sktransfer.model_selection import _scorers

    X, y, _, through = _two_target_clusters(spread=0.3)
    proba = through.predict_proba(X[y == -1])
    proba /= np.linalg.norm(proba, axis=1, keepdims=True)
    logits = proba @ proba.T / 0.05
    np.fill_diagonal(logits, -np.inf)
    neighbours = np.exp(logits - logits.max(axis=1, keepdims=True))
    neighbours /= neighbours.sum(axis=1, keepdims=True)
    safe = np.where(neighbours > 0, neighbours, 1)
    expected = float(np.mean(-np.sum(neighbours * np.log(safe), axis=1)))
    for entries in (1, 7 * 200, 2**22):
        monkeypatch.setattr(_scorers, "_SND_BLOCK_ENTRIES", entries)
        assert soft_neighborhood_density_scorer(through, X, y) == pytest.approx(expected, rel=1e-12)


def test_soft_neighborhood_density_bad_input():
    X, ym, _, _ = _data(20)
    clf = _pipe().fit(X, ym)
    for temperature in (0, -1.0, np.inf, np.nan, True, "0.05"):
        with pytest.raises(ValueError, match="temperature"):
            soft_neighborhood_density_scorer(clf, X, ym, temperature=temperature)


@pytest.mark.parametrize(
    "scorer",
    [soft_neighborhood_density_scorer, mixed_sample_scorer, class_cluster_ami_scorer],
    ids=lambda s: s.__name__,
)
def test_scorers_that_compare_target_rows_need_two(scorer):
    X, ym, _, d = _data(20)
    clf = _pipe().fit(X, ym)
    one_target = ym.copy()
    one_target[d < 0] = 0
    one_target[np.flatnonzero(d < 0)[0]] = -1
    with pytest.raises(ValueError, match="at least 2 target rows"):
        scorer(clf, X, one_target)


def test_importance_weighted_scorer_warns_on_collapse():
    rng = np.random.RandomState(0)
    X = np.r_[rng.normal(0, 1, (1000, 1)), rng.normal(3, 0.3, (200, 1))]
    y = np.r_[(X[:1000, 0] > 0).astype(int), -np.ones(200, int)]
    clf = LogisticRegression().fit(X[:1000], y[:1000])
    with pytest.warns(ImportanceWeightCollapseWarning):
        importance_weighted_scorer(clf, X, y, domain_classifier=LogisticRegression())


@pytest.mark.parametrize("cv, mean", [(None, r"0\.02\d*"), (5, r"6\.2")])
def test_dev_warns_when_the_domain_classifier_separates_its_rows(cv, mean):
    # 30 + 30 rows of the same noise in 200 dimensions: a logistic regression with C=1
    # separates them. Fit on all rows (cv=None) every weight is tiny (mean 0.02, not 1)
    # yet about equal, so the effective sample size does not see it; the mean does.
    # Cross-fitted, the held-out rows get confident random odds (mean 6.2). DEV's control
    # variate assumes a mean of 1; IWV, a self-normalised average, is not moved by the
    # scale. The default domain classifier, whose C minimises its held-out log-loss,
    # is not fooled: it finds nothing to tell the domains apart (weights about 1).
    scorer = partial(deep_embedded_validation_scorer, cv=cv,
                     domain_classifier=_plain_domain_classifier())
    rng = np.random.RandomState(0)
    X = rng.normal(size=(60, 200))
    y = np.r_[(X[:30, 0] > 0).astype(int), -np.ones(30, int)]
    clf = LabelledOnly(LogisticRegression()).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        deep_embedded_validation_scorer(clf, X, y, cv=cv)
    with pytest.warns(ImportanceWeightCollapseWarning, match=rf"average {mean} on the source rows"):
        scorer(clf, X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        importance_weighted_scorer(clf, X, y, cv=cv, domain_classifier=_plain_domain_classifier())
    weights, _ = _discriminator_weights(X[:30], X[30:], _default_domain_classifier(30))
    assert abs(weights.mean() - 1) < 0.05 and weights.std() < 0.05
    # two dimensions, no shift: weights about 1, no warning
    X = rng.normal(size=(400, 2))
    y = np.r_[(X[:200, 0] > 0).astype(int), -np.ones(200, int)]
    clf = LabelledOnly(LogisticRegression()).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scorer(clf, X, y)


def _plain_domain_classifier():
    return make_pipeline(StandardScaler(), LogisticRegression())


def test_domain_classifier_is_cross_fitted():
    # Each source row's weight comes from a classifier that did not see it: a
    # splitter given as cv is used as is, an int gives seeded stratified folds
    # (fewer when a domain is small), and cv=None is the in-sample fit.
    rng = np.random.RandomState(0)
    Xs, Xt = rng.normal(0, 1, (40, 3)), rng.normal(0.5, 1, (40, 3))
    X, clf_rows = np.r_[Xs, Xt], np.r_[(Xs[:, 0] > 0).astype(int), -np.ones(40, int)]
    domains = np.r_[np.zeros(40, int), np.ones(40, int)]
    folds = StratifiedKFold(4, shuffle=True, random_state=1)
    expected = np.zeros(40)
    for train, test in folds.split(X, domains):
        held = test[test < 40]
        model = _plain_domain_classifier().fit(X[train], domains[train])
        p = model.predict_proba(X[held])[:, 1]
        expected[held] = p / (1 - p)
    weights, fitted = _discriminator_weights(Xs, Xt, _plain_domain_classifier(), cv=folds)
    assert fitted is None
    np.testing.assert_allclose(weights, expected, rtol=1e-6)
    in_sample, fitted = _discriminator_weights(Xs, Xt, _plain_domain_classifier(), cv=None)
    p = fitted.predict_proba(Xs)[:, 1]
    np.testing.assert_allclose(in_sample, p / (1 - p), rtol=1e-6)
    # deterministic, and capped by the smaller domain (3 target rows: 3 folds)
    a, _ = _discriminator_weights(Xs, Xt, _plain_domain_classifier(), cv=5)
    b, _ = _discriminator_weights(Xs, Xt, _plain_domain_classifier(), cv=5)
    np.testing.assert_array_equal(a, b)
    small, _ = _discriminator_weights(Xs, Xt[:3], _plain_domain_classifier(), cv=5)
    three, _ = _discriminator_weights(
        Xs, Xt[:3], _plain_domain_classifier(), cv=StratifiedKFold(3, shuffle=True, random_state=0)
    )
    np.testing.assert_array_equal(small, three)
    # the scorer uses them: IWV is the accuracy weighted by the cross-fitted weights
    blind = FunctionTransformer(lambda Z: Z[:, 1:])  # blind to the label's feature
    clf = make_pipeline(blind, LogisticRegression()).fit(Xs, clf_rows[:40])
    correct = clf.predict(Xs) == clf_rows[:40]
    assert 0.3 < correct.mean() < 0.8
    score = importance_weighted_scorer(
        clf, X, clf_rows, cv=folds, domain_classifier=_plain_domain_classifier()
    )
    assert score == pytest.approx(np.average(correct, weights=expected))


@pytest.mark.parametrize("scorer", [importance_weighted_scorer, deep_embedded_validation_scorer],
                         ids=lambda s: s.__name__)
@pytest.mark.parametrize("cv", [1, 0, -3, 2.5, True, "5"])
def test_scorers_refuse_bad_cv(scorer, cv):
    X, ym, _, _ = _data(20)
    clf = _pipe().fit(X, ym)
    with pytest.raises(ValueError, match="cv must be an int of at least 2"):
        scorer(clf, X, ym, cv=cv)


@pytest.mark.parametrize("kind", [bool, np.uint8, str])
def test_circular_validation_marks_the_reverse_fit_whatever_the_label_dtype(kind):
    # the held-out source rows of the reverse fit get the integer -1, which a bool
    # array (True), an unsigned one (overflow) or a text one ("-1") cannot hold
    rng = np.random.RandomState(0)
    X = np.r_[rng.normal(0, 1, (100, 1)), rng.normal(0.5, 1, (100, 1))]
    codes = (X[:100, 0] > 0).astype(int)
    labels = {bool: np.array([False, True]), np.uint8: np.array([3, 7], dtype=np.uint8),
              str: np.array(["no", "yes"])}[kind]
    y = np.r_[labels[codes].astype(object), np.full(100, -1, dtype=object)]
    y_int = np.r_[codes, -np.ones(100, int)]
    clf = LabelledOnly(LogisticRegression()).fit(X, y)
    reference = LabelledOnly(LogisticRegression()).fit(X, y_int)
    assert circular_validation_scorer(clf, X, y) == pytest.approx(
        circular_validation_scorer(reference, X, y_int))


def test_cross_fitting_splitter_must_keep_both_domains_in_training():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(60, 2))
    y = np.r_[(X[:45, 0] > 0).astype(int), -np.ones(15, int)]
    clf = LabelledOnly(LogisticRegression()).fit(X, y)
    from sklearn.model_selection import KFold

    # unshuffled folds of the stacked rows: the last fold's training rows are all source
    with pytest.raises(ValueError, match="importance_weighted_scorer: the cv splitter left a "
                                         "training fold with rows of one domain only"):
        importance_weighted_scorer(clf, X, y, cv=KFold(2))


def test_circular_validation_names_the_reverse_fit_when_it_fails():
    import numpy as np
    import pytest
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    from sktransfer import LabelledOnly, SubspaceAlignment
    from sktransfer.model_selection import circular_validation_scorer

    rng = np.random.RandomState(0)
    X = np.r_[rng.normal(0, 1, (12, 6)), rng.normal(0.5, 1, (60, 6))]
    y = np.r_[np.arange(12) % 2, -np.ones(60, dtype=int)]
    model = make_pipeline(SubspaceAlignment(n_components=5), LabelledOnly(LogisticRegression()))
    model.fit(X, y)  # 12 source rows: 5 components fit
    held_out = np.r_[np.arange(4), np.arange(12, 72)]  # 4 source rows: they cannot
    with pytest.raises(ValueError, match="reverse model.*n_components"):
        circular_validation_scorer(model, X[held_out], y[held_out])


def test_mixed_sample_scorer_prefers_boundaries_between_target_clusters():
    # Two tight target clusters: mixed rows 55/45 of two clusters keep the label
    # of their larger part when the boundary runs between the clusters, and
    # often lose it when it runs through one of them (measured: 1.0 vs 0.54).
    X, y, between, through = _two_target_clusters(spread=0.1)
    assert mixed_sample_scorer(between, X, y) == 1.0
    assert mixed_sample_scorer(through, X, y) < 0.7
    # the same pairs for every model (seeded), other pairs with another seed
    assert mixed_sample_scorer(through, X, y) == mixed_sample_scorer(through, X, y)
    assert 0 <= mixed_sample_scorer(through, X, y, random_state=1) <= 1


def test_mixed_sample_scorer_bad_input_and_one_label():
    X, ym, _, d = _data(20)
    clf = _pipe().fit(X, ym)
    for mix in (0.5, 1.0, "half", True, np.nan):
        with pytest.raises(ValueError, match="mix must be"):
            mixed_sample_scorer(clf, X, ym, mix=mix)
    assert mixed_sample_scorer(clf, X, ym, mix=np.float32(0.6)) == mixed_sample_scorer(clf, X, ym, mix=0.6)
    # a model that gives every target row one label leaves no pair to mix
    constant = LabelledOnly(LogisticRegression()).fit(X, np.where(ym == -1, -1, 0) + (np.arange(40) == 0))
    assert mixed_sample_scorer(constant, X[d < 0][:5] * 0 + 100, -np.ones(5, int)) == 1.0


class _FixedProba:
    """A fitted 'classifier' that predicts the given probabilities, whatever X."""

    def __init__(self, proba):
        self.proba = np.asarray(proba, dtype=float)
        self.classes_ = np.arange(self.proba.shape[1])

    def predict_proba(self, X):
        return self.proba[: len(X)]

    def predict(self, X):
        return self.proba[: len(X)].argmax(1)


def test_batch_nuclear_norm_by_hand_and_its_bounds():
    proba = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
    X, y = np.zeros((4, 1)), np.array([0, -1, -1, -1])
    expected = np.linalg.svd(proba, compute_uv=False).sum() / 3
    assert batch_nuclear_norm_scorer(_FixedProba(proba), X, y) == pytest.approx(expected)
    # one-hot predictions spread evenly over the classes reach the maximum,
    # sqrt(min(n, K) / n); the same confidence on one class only gets 1 / sqrt(n)
    X, y = np.zeros((9, 1)), np.r_[0, -np.ones(8, int)]
    balanced = np.eye(2)[np.arange(8) % 2]
    collapsed = np.eye(2)[np.zeros(8, int)]
    assert batch_nuclear_norm_scorer(_FixedProba(balanced), X, y) == pytest.approx(np.sqrt(2 / 8))
    assert batch_nuclear_norm_scorer(_FixedProba(collapsed), X, y) == pytest.approx(1 / np.sqrt(8))
    # ... whereas the entropy cannot tell the two apart
    assert prediction_entropy_scorer(_FixedProba(balanced), X, y) == pytest.approx(
        prediction_entropy_scorer(_FixedProba(collapsed), X, y))


def test_batch_nuclear_norm_prefers_boundaries_between_target_clusters():
    X, y, between, through = _two_target_clusters()
    # measured: 0.0999 (the maximum is sqrt(2 / 200) = 0.1) vs 0.0846 (the through
    # model puts 149 of the 200 target rows in class 0)
    assert batch_nuclear_norm_scorer(between, X, y) > 0.099
    assert batch_nuclear_norm_scorer(through, X, y) < 0.09


class _FixedLogits:
    """A fitted 'classifier' whose decision_function gives the given logits, whatever X."""

    def __init__(self, logits):
        self.logits = np.asarray(logits, dtype=float)

    def decision_function(self, X):
        return self.logits[: len(X)]


def _mano(rows, p=4):
    return np.mean(np.asarray(rows) ** p) ** (1 / p)


def test_matrix_norm_by_hand():
    X, y = np.zeros((3, 1)), np.array([0, -1, -1])
    logits = np.array([[2.0, 0.0, -1.0], [0.0, 0.0, 0.0]])
    # Taylor: 1 + q + q^2 / 2 = (5, 1, 0.5), less its minimum, over its sum:
    # (0.9, 0.1, 0); equal logits leave nothing: the uniform row
    taylor = [[0.9, 0.1, 0.0], [1 / 3, 1 / 3, 1 / 3]]
    model = _FixedLogits(logits)
    assert matrix_norm_scorer(model, X, y, normalization="taylor") == pytest.approx(_mano(taylor))
    # small logits: the criterion (mean cross-entropy to the uniform
    # distribution, 1.47 here) is under 5, so "auto" takes the Taylor rows
    assert matrix_norm_scorer(model, X, y) == pytest.approx(_mano(taylor))
    softmax = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    assert matrix_norm_scorer(model, X, y, normalization="softmax") == pytest.approx(_mano(softmax))
    assert matrix_norm_scorer(model, X, y, normalization="taylor", p=2) == pytest.approx(
        _mano(taylor, p=2))
    # the softmax rows ignore the logits' offset, the Taylor rows do not
    # (documented): (-3, -5, -6) has the softmax of (2, 0, -1)
    shifted = _FixedLogits(logits - 5.0)
    assert matrix_norm_scorer(shifted, X, y, normalization="softmax") == pytest.approx(
        matrix_norm_scorer(model, X, y, normalization="softmax"))
    assert matrix_norm_scorer(shifted, X, y, normalization="taylor") != pytest.approx(
        matrix_norm_scorer(model, X, y, normalization="taylor"))
    # confident logits (criterion about 13): the softmax, unchanged by large logits
    confident = np.array([[20.0, 0.0, 0.0], [0.0, 0.0, 20.0]])
    expected = _mano(np.exp(confident - 20) / np.exp(confident - 20).sum(1, keepdims=True))
    assert matrix_norm_scorer(_FixedLogits(confident), X, y) == pytest.approx(expected)
    assert matrix_norm_scorer(_FixedLogits(confident), X, y, threshold=20) == pytest.approx(
        matrix_norm_scorer(_FixedLogits(confident), X, y, normalization="taylor"))


def test_matrix_norm_two_classes_and_models_without_logits():
    X, ym, _, _ = _data(40)
    target = ym == -1
    # two classes: logistic regression's one-column decision_function gives
    # its probabilities under the softmax, which "auto" always takes there ...
    clf = _pipe().fit(X, ym)
    proba = clf.predict_proba(X[target])
    assert matrix_norm_scorer(clf, X, ym) == pytest.approx(_mano(proba))
    # ... since the Taylor rows would all be one-hot: a constant score
    other = _pipe(C=1e-4).fit(X, ym)
    for model in (clf, other):
        assert matrix_norm_scorer(model, X, ym, normalization="taylor") == pytest.approx(0.5**0.25)
    # no decision_function: the predicted probabilities as they are
    knn = LabelledOnly(KNeighborsClassifier(7)).fit(X, ym)
    assert not hasattr(knn, "decision_function")
    assert matrix_norm_scorer(knn, X, ym) == pytest.approx(_mano(knn.predict_proba(X[target])))
    # a model with decision_function and no predict_proba is scored on its scores
    svc = LabelledOnly(LinearSVC()).fit(X, ym)
    margin = svc.decision_function(X[target])
    pairs = np.exp(np.c_[np.zeros_like(margin), margin])
    assert matrix_norm_scorer(svc, X, ym) == pytest.approx(
        _mano(pairs / pairs.sum(1, keepdims=True)))


def test_matrix_norm_prefers_boundaries_between_target_clusters():
    X, y, between, through = _two_target_clusters()
    # measured: 0.840 (every target row far from the boundary) vs 0.758 (the
    # boundary at 2 runs through a cluster, whose rows get small margins)
    assert matrix_norm_scorer(between, X, y) > 0.83
    assert matrix_norm_scorer(through, X, y) < 0.77


@pytest.mark.parametrize(
    "params, match",
    [
        ({"p": 0}, "p must be a positive finite number"),
        ({"p": -1.0}, "p must be a positive finite number"),
        ({"p": np.inf}, "p must be a positive finite number"),
        ({"p": True}, "p must be a positive finite number"),
        ({"p": "4"}, "p must be a positive finite number"),
        ({"threshold": np.nan}, "threshold must be a finite number"),
        ({"threshold": None}, "threshold must be a finite number"),
        ({"normalization": "sparsemax"}, "normalization must be 'auto', 'softmax' or 'taylor'"),
    ],
)
def test_matrix_norm_bad_parameters(params, match):
    X, ym, _, _ = _data(20)
    clf = _pipe().fit(X, ym)
    with pytest.raises(ValueError, match=match):
        matrix_norm_scorer(clf, X, ym, **params)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_matrix_norm_rejects_non_finite_logits(bad):
    X, y = np.zeros((3, 1)), np.array([0, -1, -1])
    with pytest.raises(ValueError, match=r"matrix_norm_scorer got non-finite class scores \(decision_function\)"):
        matrix_norm_scorer(_FixedLogits([[1.0, 0.0], [bad, 0.0]]), X, y)


def test_information_maximization_by_hand_and_its_bounds():
    proba = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
    X, y = np.zeros((4, 1)), np.array([0, -1, -1, -1])

    def entropy(p):
        return -np.sum(p * np.log(p), axis=-1)

    expected = entropy(proba.mean(0)) - entropy(proba).mean()
    assert information_maximization_scorer(_FixedProba(proba), X, y) == pytest.approx(expected)
    # one-hot predictions spread evenly over 3 classes reach the maximum, log 3;
    # the same confidence on one class only gets 0, as do uniform predictions
    X, y = np.zeros((10, 1)), np.r_[0, -np.ones(9, int)]
    balanced = np.eye(3)[np.arange(9) % 3]
    collapsed = np.eye(3)[np.zeros(9, int)]
    uniform = np.full((9, 3), 1 / 3)
    assert information_maximization_scorer(_FixedProba(balanced), X, y) == pytest.approx(np.log(3))
    assert information_maximization_scorer(_FixedProba(collapsed), X, y) == pytest.approx(0.0)
    assert information_maximization_scorer(_FixedProba(uniform), X, y) == pytest.approx(0.0)
    # ... whereas the entropy ranks the collapsed model with the balanced one
    assert prediction_entropy_scorer(_FixedProba(balanced), X, y) == pytest.approx(
        prediction_entropy_scorer(_FixedProba(collapsed), X, y))


def test_information_maximization_prefers_boundaries_between_target_clusters():
    X, y, between, through = _two_target_clusters()
    # measured: 0.687 (log 2 = 0.693: confident, half the rows in each class)
    # vs 0.290 (the through model puts 149 of the 200 target rows in class 0,
    # and those near its boundary get unsure predictions)
    assert information_maximization_scorer(between, X, y) > 0.68
    assert information_maximization_scorer(through, X, y) < 0.4


def test_class_cluster_ami_prefers_boundaries_between_target_clusters():
    X, y, between, through = _two_target_clusters()
    assert class_cluster_ami_scorer(between, X, y) == pytest.approx(1.0)
    # measured: 0.35 (one cluster split in two by the boundary)
    assert class_cluster_ami_scorer(through, X, y) < 0.5
    # seeded: the same score every time
    assert class_cluster_ami_scorer(through, X, y) == class_cluster_ami_scorer(through, X, y)


def test_class_cluster_ami_clusters_the_models_features():
    # Column 0 is wide noise, column 1 holds two tight target clusters. On the raw
    # rows k-means splits the noise; on the pipeline's features (column 1 alone,
    # what all steps but the last give) it finds the clusters the model separates.
    rng = np.random.RandomState(0)
    Xt = np.c_[rng.uniform(-50, 50, 200), np.r_[rng.normal(-2, 0.1, 100), rng.normal(2, 0.1, 100)]]
    Xs = np.array([[0.0, -3.0], [0.0, -1.0], [0.0, 1.0], [0.0, 3.0]])
    X, y = np.r_[Xs, Xt], np.r_[[0, 0, 1, 1], -np.ones(200, int)]
    model = make_pipeline(FunctionTransformer(lambda Z: Z[:, 1:]), LogisticRegression())
    model.fit(Xs, [0, 0, 1, 1])
    assert class_cluster_ami_scorer(model, X, y) == pytest.approx(1.0)
    # a model with the same predictions but no feature step is scored on the raw
    # rows, whose k-means clusters split the noise column instead
    raw = LogisticRegression().fit(Xs, [0, 0, 1, 1])
    assert raw.predict(Xt).tolist() == model.predict(Xt).tolist()
    assert class_cluster_ami_scorer(raw, X, y) < 0.1


def test_class_cluster_ami_reduces_wide_features_with_pca():
    # 100 features, 2 informative: clustered after PCA to 64 and to 2 dimensions
    rng = np.random.RandomState(0)
    centres = np.zeros((2, 100))
    centres[0, :2], centres[1, :2] = -5, 5
    Xt = np.r_[rng.normal(0, 0.5, (60, 100)) + centres[0], rng.normal(0, 0.5, (60, 100)) + centres[1]]
    Xs = np.r_[centres[0:1], centres[1:2]]
    X, y = np.r_[Xs, Xt], np.r_[[0, 1], -np.ones(120, int)]
    clf = LogisticRegression().fit(Xs, [0, 1])
    assert class_cluster_ami_scorer(clf, X, y) == pytest.approx(1.0)
    assert class_cluster_ami_scorer(clf, X, y, n_components=2) == pytest.approx(1.0)


def test_class_cluster_ami_keeps_only_n_components():
    # Column 0 is noise of variance 49, column 1 two clusters at -6 and 6
    # (variance 36). k-means on both columns finds the clusters (splitting them
    # lowers the within-cluster variance by 36, splitting the noise by about
    # 49 * 2 / pi = 31); a PCA to one component keeps the noise column alone.
    rng = np.random.RandomState(0)
    Xt = np.c_[rng.normal(0, 7, 200), np.r_[rng.normal(-6, 0.3, 100), rng.normal(6, 0.3, 100)]]
    Xs = np.array([[0.0, -6.0], [0.0, 6.0]])
    X, y = np.r_[Xs, Xt], np.r_[[0, 1], -np.ones(200, int)]
    clf = LogisticRegression().fit(Xs, [0, 1])
    assert class_cluster_ami_scorer(clf, X, y) == pytest.approx(1.0)
    assert class_cluster_ami_scorer(clf, X, y, n_components=2) == pytest.approx(1.0)
    assert abs(class_cluster_ami_scorer(clf, X, y, n_components=1)) < 0.05


def test_class_cluster_ami_bad_input():
    X, ym, _, _ = _data(20)
    clf = _pipe().fit(X, ym)
    for n_components in (0, -1, 2.5, True, "64"):
        with pytest.raises(ValueError, match="n_components must be a positive integer"):
            class_cluster_ami_scorer(clf, X, ym, n_components=n_components)
    three_classes = LogisticRegression().fit(X[:3], [0, 1, 2])
    two_targets = np.r_[[0, 1, 2], -1, -1]
    with pytest.raises(ValueError, match=r"as many target rows as the model has classes \(3\)"):
        class_cluster_ami_scorer(three_classes, X[:5], two_targets)
    # a model with one class: its labels agree with one cluster trivially
    one_class = _FixedProba(np.ones((200, 1)))
    with pytest.raises(ValueError, match="at least two classes"):
        class_cluster_ami_scorer(one_class, X, ym)


@pytest.mark.parametrize("scorer", SOURCE_FREE, ids=lambda s: s.__name__)
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_source_free_scorers_reject_non_finite_probabilities(scorer, bad):
    proba = np.array([[0.9, 0.1], [0.2, 0.8], [bad, 0.4]])
    X, y = np.zeros((4, 1)), np.array([0, -1, -1, -1])
    with pytest.raises(ValueError, match=f"{scorer.__name__} got non-finite class probabilities"):
        scorer(_FixedProba(proba), X, y)


class _NanFeatures(LogisticRegression):
    """A fitted model whose features (``transform``) are NaN, as a diverged net's."""

    def transform(self, X):
        return np.full((len(X), 3), np.nan)


@pytest.mark.parametrize(
    "scorer, what",
    [
        (importance_weighted_scorer, "rows"),
        (mixed_sample_scorer, "rows"),
        (deep_embedded_validation_scorer, "features"),
        (class_cluster_ami_scorer, "features"),
    ],
    ids=lambda p: getattr(p, "__name__", p),
)
def test_scorers_of_rows_or_features_reject_non_finite(scorer, what):
    X, ym, _, _ = _data(20)
    if what == "rows":
        clf = LogisticRegression().fit(X[ym != -1], ym[ym != -1])
        bad = X.copy()
        bad[ym == -1] = np.nan
    else:
        clf = _NanFeatures().fit(X[ym != -1], ym[ym != -1])
        bad = X
    with pytest.raises(ValueError, match=f"{scorer.__name__} got non-finite {what}"):
        scorer(clf, bad, ym)
    if what == "rows":  # a NaN stored in a sparse matrix is caught too
        bad_sparse = sp.csr_matrix(X)
        bad_sparse.data[-1] = np.nan
        with pytest.raises(ValueError, match=f"{scorer.__name__} got non-finite rows"):
            scorer(clf, bad_sparse, ym)


def _sparse_text_like(seed=0):
    """Non-negative sparse rows (a term-frequency matrix), the target shifted to other terms."""
    rng = np.random.RandomState(seed)
    X = sp.random(240, 60, density=0.1, format="csr", random_state=rng)
    X = X.toarray()
    X[120:, :15] *= 3.0
    y = (X[:, :30].sum(axis=1) > X[:, 30:].sum(axis=1)).astype(int)
    y[120:] = -1
    return sp.csr_matrix(X), y


@pytest.mark.parametrize("scorer", SCORERS, ids=lambda s: s.__name__)
@pytest.mark.parametrize("fmt", ["csr", "csc", "coo"])
def test_scorers_give_on_sparse_rows_the_score_of_the_dense_rows(scorer, fmt):
    X, y = _sparse_text_like()
    # LabelledOnly: the circular scorer refits a clone with y == -1 rows
    model = LabelledOnly(LogisticRegression()).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ImportanceWeightCollapseWarning)
        dense = scorer(model, X.toarray(), y)
        sparse = scorer(model, X.asformat(fmt), y)
    # the default domain classifier of IWV and DEV scales dense and sparse rows alike
    # (no centring: its unpenalised intercept absorbs it), so the fits are the same
    assert sparse == pytest.approx(dense, abs=1e-5)


def _flatten_images(X):
    return X.reshape(len(X), -1)


@pytest.mark.parametrize("scorer", SCORERS, ids=lambda s: s.__name__)
@pytest.mark.parametrize("embeds", [True, False], ids=["pipeline", "no-transform"])
def test_scorers_give_on_image_rows_the_score_of_the_flattened_rows(scorer, embeds):
    # Rows of images for a model that takes images (a network, say): the
    # scorers that compare rows (IWV's density ratio, MixVal's mixtures) or a
    # model's features (DEV, ClassAMI: the raw rows when it has no transform)
    # use their pixels, as they would the same rows flattened. Noisy labels:
    # the source accuracy is below 1, so the weights matter.
    from sktransfer import ImportanceWeightedClassifier

    rng = np.random.RandomState(0)
    flat = np.r_[rng.normal(size=(80, 16)), rng.normal(size=(80, 16)) + 0.4]
    y = np.r_[(flat[:80, :8].sum(1) + rng.normal(0, 2, 80) > 0).astype(int), -np.ones(80, int)]
    images = flat.reshape(-1, 1, 4, 4)
    if embeds:
        on_images = make_pipeline(FunctionTransformer(_flatten_images),
                                  LabelledOnly(LogisticRegression())).fit(images, y)
        on_rows = LabelledOnly(LogisticRegression()).fit(flat, y)
    else:  # no transform: DEV and ClassAMI get the images themselves
        on_images = ImportanceWeightedClassifier(
            make_pipeline(FunctionTransformer(_flatten_images), LogisticRegression()),
            random_state=0).fit(images, y)
        on_rows = ImportanceWeightedClassifier(LogisticRegression(), random_state=0).fit(flat, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ImportanceWeightCollapseWarning)
        expected = scorer(on_rows, flat, y)
        assert scorer(on_images, images, y) == pytest.approx(expected, abs=1e-9)
        if scorer in (importance_weighted_scorer, deep_embedded_validation_scorer):
            assert expected < 0.99  # weights that differ change the score
        if scorer is importance_weighted_scorer or (
            scorer is deep_embedded_validation_scorer and not embeds
        ):  # a given domain classifier gets the images themselves
            given = make_pipeline(FunctionTransformer(flatten_images_only), LogisticRegression())
            for cv in (None, 3):
                assert scorer(on_images, images, y, domain_classifier=given, cv=cv) == (
                    pytest.approx(scorer(on_rows, flat, y, domain_classifier=LogisticRegression(),
                                         cv=cv), abs=1e-9))


@pytest.mark.parametrize("scorer", [deep_embedded_validation_scorer, class_cluster_ami_scorer],
                         ids=lambda s: s.__name__)
def test_scorers_of_features_take_sparse_features(scorer):
    # the model's last transformer gives sparse features, fewer rows than n_components
    X, y = _sparse_text_like()
    labelled = y != -1
    pipe = make_pipeline(
        FunctionTransformer(sp.csr_matrix, accept_sparse=True), LogisticRegression()
    ).fit(X[labelled], y[labelled])
    dense_pipe = make_pipeline(FunctionTransformer(), LogisticRegression()).fit(
        X[labelled].toarray(), y[labelled]
    )
    rows = np.r_[np.flatnonzero(labelled)[:40], np.flatnonzero(~labelled)[:30]]
    options = {"n_components": 10} if scorer is class_cluster_ami_scorer else {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ImportanceWeightCollapseWarning)
        sparse = scorer(pipe, X[rows], y[rows], **options)
        dense = scorer(dense_pipe, X[rows].toarray(), y[rows], **options)
    assert sparse == pytest.approx(dense, abs=1e-5)
    if scorer is class_cluster_ami_scorer:
        # 30 target rows, 60 sparse features, 40 components asked: the sparse PCA
        # solvers keep fewer than min(shape), so it keeps 29 instead of failing,
        # and so does the dense path's PCA
        sparse = scorer(pipe, X[rows], y[rows], n_components=40)
        assert sparse == pytest.approx(scorer(dense_pipe, X[rows].toarray(), y[rows], n_components=29))



def test_circular_validation_of_a_domain_adaptation_model_on_sparse_rows():
    # the reverse fit adapts from the pseudo-labelled target back to the source:
    # with an importance-weighting model, on sparse rows as on dense ones
    from sktransfer import ImportanceWeightedClassifier

    X, y = _sparse_text_like()
    model = ImportanceWeightedClassifier(random_state=0).fit(X, y)
    dense_model = ImportanceWeightedClassifier(random_state=0).fit(X.toarray(), y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ImportanceWeightCollapseWarning)
        sparse = circular_validation_scorer(model, X, y)
        dense = circular_validation_scorer(dense_model, X.toarray(), y)
    assert sparse == pytest.approx(dense, abs=1e-12)
    assert 0.5 < sparse <= 1.0

class _RecordsSparseRows(LogisticRegression):
    """A LogisticRegression that records, for the test, whether it is given sparse rows."""

    seen: ClassVar[list] = []  # shared by its clones: (method, got sparse rows)

    def fit(self, X, y, sample_weight=None):
        _RecordsSparseRows.seen.append(("fit", sp.issparse(X)))
        return super().fit(X, y, sample_weight=sample_weight)

    def predict_proba(self, X):
        _RecordsSparseRows.seen.append(("predict_proba", sp.issparse(X)))
        return super().predict_proba(X)

    def predict(self, X):
        _RecordsSparseRows.seen.append(("predict", sp.issparse(X)))
        return super().predict(X)


@pytest.mark.parametrize("scorer", [importance_weighted_scorer, deep_embedded_validation_scorer,
                                    mixed_sample_scorer], ids=lambda s: s.__name__)
def test_scorers_never_densify_sparse_rows(scorer, monkeypatch):
    # IWV's and DEV's domain classifier, and the model MixVal scores its mixed rows
    # with, get the rows sparse: a dense copy of a wide TF-IDF matrix could not fit
    X, y = _sparse_text_like()
    labelled = y != -1
    monkeypatch.setattr(_RecordsSparseRows, "seen", [])
    if scorer is mixed_sample_scorer:
        model, options = _RecordsSparseRows().fit(X[labelled], y[labelled]), {}
    else:
        model = LogisticRegression().fit(X[labelled], y[labelled])
        options = {"domain_classifier": _RecordsSparseRows()}
    monkeypatch.setattr(_RecordsSparseRows, "seen", [])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ImportanceWeightCollapseWarning)
        scorer(model, X, y, **options)
    assert _RecordsSparseRows.seen and all(sparse for _, sparse in _RecordsSparseRows.seen)
    expected = ("predict", True) if scorer is mixed_sample_scorer else ("fit", True)
    assert expected in _RecordsSparseRows.seen


def test_class_cluster_ami_keeps_sparse_features_sparse(monkeypatch):
    from sktransfer.model_selection import _scorers

    seen = []

    class RecordingPCA(_scorers.PCA):
        def fit_transform(self, X, y=None):
            seen.append(sp.issparse(X))
            return super().fit_transform(X, y)

    monkeypatch.setattr(_scorers, "PCA", RecordingPCA)
    X, y = _sparse_text_like()
    labelled = y != -1
    pipe = make_pipeline(
        FunctionTransformer(sp.csr_matrix, accept_sparse=True), LogisticRegression()
    ).fit(X[labelled], y[labelled])
    class_cluster_ami_scorer(pipe, X, y, n_components=10)
    assert seen == [True]


@pytest.mark.parametrize("scorer", [importance_weighted_scorer, mixed_sample_scorer],
                         ids=lambda s: s.__name__)
def test_scorers_of_rows_ask_for_vectorised_text(scorer):
    # a TF-IDF pipeline scores raw text, but these scorers compare the rows themselves
    from sklearn.feature_extraction.text import TfidfVectorizer

    docs = np.array(["good sturdy pan", "bad dull knife", "great pan", "awful knife",
                     "sharp knife, works", "pan broke"], dtype=object)
    y = np.array([1, 0, 1, 0, -1, -1])
    model = make_pipeline(TfidfVectorizer(), LogisticRegression()).fit(docs[:4], y[:4])
    with pytest.raises(ValueError, match="needs numeric rows.*vectorise"):
        scorer(model, docs, y)


@pytest.mark.parametrize("scorer", SOURCE_FREE, ids=lambda s: s.__name__)
def test_source_free_scorers_leave_the_models_probabilities_alone(scorer):
    # predict_proba may hand out an array the model keeps (here, a view of it)
    proba = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
    model = _FixedProba(proba.copy())
    scorer(model, np.zeros((4, 1)), np.array([0, -1, -1, -1]))
    assert_array_equal(model.proba, proba)


@pytest.mark.parametrize("n_target", [1, 2, 3, 4, 7])
@pytest.mark.parametrize("cv", [None, 5, "stratified-2", "kfold-3"])
def test_default_domain_classifier_fits_small_domains(n_target, cv):
    # C is chosen on 3 folds, fewer when a domain (or its share of a cross-fitting
    # fold, a splitter's included) has fewer rows, none below 2: no fold without a
    # domain, no warning (cross-fitting a one-row domain falls back to in-sample)
    from sklearn.model_selection import KFold

    cv = {"stratified-2": StratifiedKFold(2), "kfold-3": KFold(3, shuffle=True, random_state=0)
          }.get(cv, cv)
    if not isinstance(cv, (int, type(None))) and n_target < 2 * cv.get_n_splits():
        pytest.skip("a splitter's folds must each hold both domains")
    rng = np.random.RandomState(0)
    X = np.r_[rng.normal(0, 1, (40, 2)), rng.normal(1, 1, (n_target, 2))]
    y = np.r_[(X[:40, 0] > 0).astype(int), -np.ones(n_target, int)]
    clf = LabelledOnly(LogisticRegression()).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.simplefilter("ignore", ImportanceWeightCollapseWarning)  # (tiny domains)
        for scorer in (importance_weighted_scorer, deep_embedded_validation_scorer):
            assert np.isfinite(scorer(clf, X, y, cv=cv))


def test_mixed_sample_scorer_intra_cluster_probe_and_both():
    from sklearn.neighbors import KNeighborsClassifier

    # Linear class regions are convex: a mix of two rows of one predicted label
    # keeps it, whatever the boundary, so only the inter-cluster probe tells
    # the two models apart.
    X, y, between, through = _two_target_clusters(spread=0.1)
    for model in (between, through):
        assert mixed_sample_scorer(model, X, y, probes="intra") == 1.0
        inter = mixed_sample_scorer(model, X, y)
        assert mixed_sample_scorer(model, X, y, probes="both") == pytest.approx((inter + 1.0) / 2)
    # 1-NN on alternating labels along a line: each class is a union of
    # intervals, and a 55/45 mix of two of its rows lands in the other about
    # half the time (0.56 with the default pairs).
    line = np.arange(40, dtype=float)[:, None]
    alternating = KNeighborsClassifier(1).fit(line, np.arange(40) % 2)
    marks = -np.ones(40, dtype=int)
    assert mixed_sample_scorer(alternating, line, marks, probes="intra") < 0.7
    for probes in ("all", "", None, 1):
        with pytest.raises(ValueError, match="probes must be one of"):
            mixed_sample_scorer(alternating, line, marks, probes=probes)
    # one predicted label: no inter pair; its intra share stands alone in "both"
    constant = KNeighborsClassifier(1).fit(line[:1], [0])
    assert mixed_sample_scorer(constant, line, marks, probes="both") == 1.0
