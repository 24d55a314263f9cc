"""JDAClassifier: joint distribution adaptation."""

import pickle

import numpy as np
import pytest
from conftest import DATA, needs_data
from scipy import linalg
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC
from test_shallow_da import shifted_problem

from sktransfer import JDAClassifier
from sktransfer.datasets import (
    load_office_caltech,
    make_rotated_moons,
    mask_target_labels,
)
from sktransfer.model_selection import SourceKFold, circular_validation_scorer


def _unit(Z):
    return Z / np.linalg.norm(Z, axis=1, keepdims=True)


def _projection_by_hand(U, is_source, codes_source, codes_target, n_classes, k, reg):
    """The paper's eigenproblem with dense M = C M0 + sum_c Mc (Mc only with target codes)."""
    n = len(U)
    e = np.where(is_source, 1.0 / is_source.sum(), -1.0 / (~is_source).sum())
    M = n_classes * np.outer(e, e)
    if codes_target is not None:
        codes = np.empty(n, dtype=int)
        codes[is_source], codes[~is_source] = codes_source, codes_target
        for c in range(n_classes):
            e = np.zeros(n)
            src, tgt = is_source & (codes == c), ~is_source & (codes == c)
            if src.any():
                e[src] = 1.0 / src.sum()
            if tgt.any():
                e[tgt] = -1.0 / tgt.sum()
            M += np.outer(e, e)
    M /= np.linalg.norm(M)
    H = np.eye(n) - 1.0 / n
    # (U' M U + reg I) A = U' H U A Phi, the k smallest Phi
    phi, A = linalg.eig(U.T @ M @ U + reg * np.eye(U.shape[1]), U.T @ H @ U)
    order = np.argsort(phi.real)[:k]
    A = A[:, order].real
    return A / np.linalg.norm(A, axis=0)


def _same_span(A, B):
    # columns equal up to sign
    signs = np.sign(np.sum(A * B, axis=0))
    np.testing.assert_allclose(A, B * signs, atol=1e-6)


def test_projection_solves_the_papers_eigenproblem():
    X, y, d = shifted_problem(0, n=40, d=6)
    X = np.abs(X) + 0.1  # positive features, as the histograms JDA was made for
    ym = mask_target_labels(y, d)
    U = _unit(X)
    s = d > 0
    # Round 1: the marginal MMD only (TCA).
    first = JDAClassifier(n_components=3, max_iter=1).fit(X, ym)
    _same_span(first.components_, _projection_by_hand(U, s, y[s], None, 2, 3, 1.0))
    # Round 2: with the class terms of round 1's pseudo-labels.
    pseudo = first.transduction_[~s]
    second = JDAClassifier(n_components=3, max_iter=2).fit(X, ym)
    _same_span(second.components_, _projection_by_hand(U, s, y[s], pseudo, 2, 3, 1.0))
    # predict is the fitted 1-NN on the projected, unit-length rows
    Z = second.transform(X)
    np.testing.assert_allclose(np.linalg.norm(Z, axis=1), 1.0)
    np.testing.assert_array_equal(second.predict(X), second.estimator_.predict(Z))
    np.testing.assert_array_equal(second.transduction_[~s], second.predict(X[~s]))
    np.testing.assert_array_equal(second.transduction_[s], y[s])
    assert second.n_iter_ == 2


@needs_data
@pytest.mark.parametrize("source, target", [("dslr", "webcam"), ("caltech", "dslr")])
def test_beats_source_only_on_office_caltech(source, target):
    # Published JDA (Long et al. 2013): D->W 89.5, C->D 45.2; 1-NN 63.4, 25.5.
    # Measured: 89.8 and 47.8.
    X, y, d = load_office_caltech(source, target, data_home=DATA)
    t = d < 0
    source_only = KNeighborsClassifier(1).fit(X[~t], y[~t]).score(X[t], y[t])
    clf = JDAClassifier().fit(X, mask_target_labels(y, d))
    assert clf.score(X[t], y[t]) > source_only + 0.15, (clf.score(X[t], y[t]), source_only)


def test_labelled_target_rows_keep_their_labels_and_several_sources():
    X, y, d = make_rotated_moons(60, 60, angle=30, random_state=0)
    sample_domain = np.where(d > 0, np.r_[np.ones(30, int), 2 * np.ones(30, int), np.zeros(60, int)], -1)
    y_given = y.copy()
    labelled_target = np.flatnonzero(d < 0)[:6]
    y_given[np.flatnonzero(d < 0)[6:]] = -1
    clf = JDAClassifier(n_components=2).fit(X, y_given, sample_domain=sample_domain)
    np.testing.assert_array_equal(clf.transduction_[labelled_target], y[labelled_target])
    assert len(clf.estimator_.classes_) == 2


def test_other_estimators_and_the_rbf_kernel():
    X, y, d = make_rotated_moons(50, 50, angle=30, random_state=0)
    ym = mask_target_labels(y, d)
    clf = JDAClassifier(LogisticRegression(), n_components=2).fit(X, ym)
    assert clf.predict_proba(X[:4]).shape == (4, 2)
    svc = JDAClassifier(LinearSVC(), n_components=2).fit(X, ym)
    assert not hasattr(svc, "predict_proba")
    assert svc.decision_function(X[:4]).shape == (4,)
    rbf = JDAClassifier(n_components=5, kernel="rbf", gamma=2.0).fit(X, ym)
    assert rbf.components_.shape == (100, 5) and rbf.X_fit_.shape == (100, 2)
    assert rbf.transform(X[:3]).shape == (3, 5)
    assert rbf.score(X[d < 0], y[d < 0]) > 0.5


def test_set_output_pandas_leaves_prediction_alone():
    # transform follows set_output; the inner estimator, fit on arrays, must still get arrays
    import warnings

    pytest.importorskip("pandas")
    X, y, d = make_rotated_moons(40, 40, angle=30, random_state=0)
    ym = mask_target_labels(y, d)
    plain = JDAClassifier(LogisticRegression(), n_components=2).fit(X, ym)
    framed = JDAClassifier(LogisticRegression(), n_components=2).set_output(transform="pandas")
    framed.fit(X, ym)
    assert list(framed.transform(X[:3]).columns) == ["jdaclassifier0", "jdaclassifier1"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "X has feature names, but ... was fitted without"
        np.testing.assert_array_equal(framed.predict(X), plain.predict(X))
        np.testing.assert_allclose(framed.predict_proba(X), plain.predict_proba(X))


def test_pipeline_clone_pickle_and_grid_search_without_target_labels():
    X, y, d = make_rotated_moons(50, 50, angle=30, random_state=0)
    ym = mask_target_labels(y, d)
    pipe = make_pipeline(StandardScaler(), JDAClassifier(n_components=2))
    search = GridSearchCV(
        pipe, {"jdaclassifier__reg": [0.1, 1.0]}, cv=SourceKFold(2),
        scoring=circular_validation_scorer, error_score="raise",
    ).fit(X, ym)
    restored = pickle.loads(pickle.dumps(search))
    np.testing.assert_array_equal(restored.predict(X), search.predict(X))
    clone(pipe).fit(X, ym)


def test_no_target_rows_refused_unless_asked():
    X, y, _ = make_rotated_moons(30, 30, random_state=0)
    with pytest.raises(ValueError, match="no target rows.*no_target='source_only'"):
        JDAClassifier(n_components=2).fit(X, y)
    clf = JDAClassifier(n_components=2, no_target="source_only").fit(X, y)
    assert clf.n_iter_ == 1 and clf.score(X, y) > 0.8


@pytest.mark.parametrize(
    "params, message",
    [
        ({"kernel": "poly"}, "kernel must be one of"),
        ({"no_target": "skip"}, "no_target must be one of"),
        ({"reg": 0}, "reg must be a positive finite number"),
        ({"reg": np.inf}, "reg must be a positive finite number"),
        ({"gamma": -1.0}, "gamma must be a positive finite number"),
        ({"kernel": "rbf", "gamma": np.inf}, "gamma must be a positive finite number"),
        ({"n_components": 0}, "n_components must be a positive integer"),
        ({"max_iter": 1.5}, "max_iter must be a positive integer"),
        ({"n_components": 3}, r"n_components=3 is more than the number of features \(n_features=2\)"),
    ],
)
def test_bad_parameters(params, message):
    X, y, d = make_rotated_moons(20, 20, random_state=0)
    with pytest.raises(ValueError, match=message):
        JDAClassifier(**params).fit(X, mask_target_labels(y, d))


def test_nan_wrong_width_and_unfitted():
    from sklearn.exceptions import NotFittedError

    X, y, d = make_rotated_moons(20, 20, random_state=0)
    ym = mask_target_labels(y, d)
    with pytest.raises(NotFittedError):
        JDAClassifier().predict(X)
    bad = X.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        JDAClassifier(n_components=2).fit(bad, ym)
    clf = JDAClassifier(n_components=2).fit(X, ym)
    with pytest.raises(ValueError, match="features"):
        clf.predict(np.zeros((2, 3)))


def test_kernel_near_the_identity_still_gives_every_component():
    # A huge gamma makes the kernel nearly the identity: LAPACK's subset solver
    # returned no eigenvector, and the 1-NN failed on 0 features.
    rng = np.random.RandomState(0)
    X = np.r_[rng.normal(size=(40, 4)), rng.normal(size=(40, 4)) + 1]
    y = np.r_[(X[:40, 0] > 0).astype(int), -np.ones(40, dtype=int)]
    jda = JDAClassifier(n_components=2, kernel="rbf", gamma=1e10).fit(X, y)
    assert jda.components_.shape == (80, 2)
    assert np.isfinite(jda.transform(X)).all()


def test_ridge_too_small_says_so():
    rng = np.random.RandomState(0)
    X = np.r_[rng.normal(size=(40, 4)), rng.normal(size=(40, 4)) + 1]
    y = np.r_[(X[:40, 0] > 0).astype(int), -np.ones(40, dtype=int)]
    with pytest.raises(ValueError, match="ridge reg is too small"):
        JDAClassifier(n_components=2, kernel="rbf", reg=1e-300).fit(X, y)


def test_float32_rows_are_projected_to_float32():
    # As the shallow transformers: computed in float64, given back in the input's precision.
    X, y, d = make_rotated_moons(40, 40, angle=30, random_state=0)
    ym = mask_target_labels(y, d)
    jda = JDAClassifier(n_components=2).fit(X.astype(np.float32), ym)
    Z32 = jda.transform(X.astype(np.float32))
    assert Z32.dtype == np.float32
    np.testing.assert_allclose(Z32, jda.transform(X), rtol=1e-5, atol=1e-6)
    assert jda.fit_transform(X.astype(np.float32), ym).dtype == np.float32
