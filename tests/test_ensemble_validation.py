"""EnsembleValidationSearch: selection by agreement with the ensemble of all candidates."""

import pickle

import numpy as np
import pytest
from sklearn import config_context, get_config
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.dummy import DummyClassifier
from sklearn.exceptions import FitFailedWarning
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

from sktransfer import (
    DANNClassifier,
    EnsembleValidationSearch,
    ImportanceWeightedClassifier,
    LabelledOnly,
)
from sktransfer.datasets import make_rotated_moons, mask_target_labels
from sktransfer.domain_adaptation._shallow import CORAL
from sktransfer.model_selection import SourceKFold


def _data(n=100, angle=40, seed=0):
    X, y, d = make_rotated_moons(n, n, angle=angle, random_state=seed)
    return X, mask_target_labels(y, d), y, d


def _pipe():
    return make_pipeline(StandardScaler(), CORAL(), LabelledOnly(LogisticRegression()))


def test_agreement_is_accuracy_against_the_averaged_probabilities():
    X, ym, _, d = _data()
    grid = {"coral__reg": [0.01, 1.0, 100.0], "labelledonly__estimator__C": [0.01, 1.0]}
    search = EnsembleValidationSearch(_pipe(), grid).fit(X, ym)
    target = d < 0
    probas = np.stack([
        clone(_pipe()).set_params(**p).fit(X, ym).predict_proba(X[target])
        for p in search.results_["params"]
    ])
    ensemble = probas.mean(axis=0)
    np.testing.assert_allclose(search.ensemble_proba_, ensemble)
    agreement = (probas.argmax(axis=2) == ensemble.argmax(axis=1)).mean(axis=1)
    np.testing.assert_allclose(search.results_["agreement"], agreement)
    assert search.best_index_ == int(np.argmax(agreement))
    assert search.best_score_ == agreement.max()
    assert search.best_params_ == search.results_["params"][search.best_index_]
    assert search.results_["rank"][search.best_index_] == 1
    assert len(search.results_["fit_time"]) == len(search.results_["params"]) == 6
    np.testing.assert_array_equal(
        search.results_["param_coral__reg"], [p["coral__reg"] for p in search.results_["params"]]
    )
    # best_estimator_ is that candidate, fitted on all rows
    refit = clone(_pipe()).set_params(**search.best_params_).fit(X, ym)
    np.testing.assert_array_equal(search.predict(X), refit.predict(X))
    np.testing.assert_allclose(search.predict_proba(X), refit.predict_proba(X))
    assert search.estimator_ is search.best_estimator_


def test_a_candidate_far_from_the_others_is_never_picked():
    # The worst-case guarantee of EnsV: a constant classifier disagrees with the
    # ensemble on every row of the other class, so it cannot be the pick.
    X, ym, y, d = _data()
    grid = {"estimator": [DummyClassifier(strategy="constant", constant=c) for c in (0, 1)]
            + [LogisticRegression(C=C) for C in (0.1, 1.0)]}
    search = EnsembleValidationSearch(LabelledOnly(), grid).fit(X, ym)
    assert isinstance(search.best_params_["estimator"], LogisticRegression)
    assert search.results_["rank"][:2].min() > 2
    assert search.score(X[d < 0], y[d < 0]) > 0.6


def test_ties_go_to_the_first_candidate_and_share_the_rank():
    X, ym, _, _ = _data(40)
    search = EnsembleValidationSearch(LabelledOnly(), {"estimator": [LogisticRegression()] * 3}).fit(X, ym)
    assert search.best_index_ == 0
    np.testing.assert_array_equal(search.results_["rank"], [1, 1, 1])
    assert search.best_score_ == 1.0


def test_dann_grid_keeps_the_fitted_pick():
    # A grid of deep models: the pick is kept as fitted (no refit), and is the
    # candidate whose fit with the same seed predicts the same labels.
    X, ym, _, _ = _data(60, angle=35)
    est = DANNClassifier(module__hidden_layer_sizes=(16,), max_epochs=5, random_state=0)
    search = EnsembleValidationSearch(est, {"lambda_max": [0.0, 1.0], "lr": [0.005, 0.05]}).fit(X, ym)
    refit = clone(est).set_params(**search.best_params_).fit(X, ym)
    np.testing.assert_array_equal(search.predict(X), refit.predict(X))
    assert len(search.best_estimator_.net_.history) == 5


def test_labels_vote_when_the_candidates_have_no_predict_proba():
    X, ym, _, d = _data()
    grid = {"estimator__C": [0.001, 1.0, 10.0]}
    search = EnsembleValidationSearch(LabelledOnly(LinearSVC()), grid).fit(X, ym)
    assert not hasattr(search, "predict_proba")
    votes = np.stack([
        clone(LabelledOnly(LinearSVC())).set_params(**p).fit(X, ym).predict(X[d < 0])
        for p in search.results_["params"]
    ])
    share_of_ones = (votes == 1).mean(axis=0)
    np.testing.assert_allclose(search.ensemble_proba_[:, 1], share_of_ones)
    search.decision_function(X[:3])


def test_sample_domain_decides_the_target_rows_and_reaches_fit():
    X, _, y, d = _data()
    sample_domain = np.where(d < 0, -2, 1)
    y_given = y.copy()
    y_given[np.flatnonzero(d < 0)[5:]] = -1  # 5 labelled target rows
    grid = {"domain_classifier": [LogisticRegression(C=0.1), LogisticRegression(C=1.0)]}
    search = EnsembleValidationSearch(ImportanceWeightedClassifier(), grid)
    search.fit(X, y_given, sample_domain=sample_domain)
    assert search.ensemble_proba_.shape == (int((d < 0).sum()), 2)
    # the search passed sample_domain on: the weights cover the source rows only
    assert len(search.best_estimator_.weights_) == int((d > 0).sum())


def test_clone_pickle_and_n_jobs():
    X, ym, _, _ = _data(60)
    grid = {"coral__reg": [0.1, 1.0, 10.0]}
    search = EnsembleValidationSearch(_pipe(), grid, n_jobs=2).fit(X, ym)
    again = clone(search).set_params(n_jobs=1).fit(X, ym)
    np.testing.assert_allclose(search.results_["agreement"], again.results_["agreement"])
    restored = pickle.loads(pickle.dumps(search))
    np.testing.assert_array_equal(restored.predict(X), search.predict(X))
    assert restored.n_features_in_ == 2


class _RecordsConfig(ClassifierMixin, BaseEstimator):
    """Uniform probabilities; records scikit-learn's working_memory seen by its fit."""

    def __init__(self, c=1):
        self.c = c

    def fit(self, X, y):
        y = np.asarray(y)
        self.classes_ = np.unique(y[y != -1])
        self.working_memory_ = get_config()["working_memory"]
        return self

    def predict_proba(self, X):
        return np.full((len(X), len(self.classes_)), 1 / len(self.classes_))

    def predict(self, X):
        return self.classes_[np.zeros(len(X), dtype=int)]


def test_parallel_candidates_see_the_callers_scikit_learn_config():
    # joblib's workers start with scikit-learn's defaults; the candidates of a
    # search run under the caller's config_context (e.g. working_memory, which
    # the kernel methods' memory warning reads), as in GridSearchCV
    X, ym, _, _ = _data(20)
    with config_context(working_memory=7):
        search = EnsembleValidationSearch(_RecordsConfig(), {"c": [1, 2]}, n_jobs=2).fit(X, ym)
    assert search.best_estimator_.working_memory_ == 7


class _Unstable(ClassifierMixin, BaseEstimator):
    """Logistic regression that fails on demand: its fit raises, or its
    probabilities are nan and confidently agree with nothing (a diverged network)."""

    def __init__(self, C=1.0, failure=None):
        self.C = C
        self.failure = failure

    def fit(self, X, y):
        if self.failure == "fit":
            raise FloatingPointError("the training loss became nan")
        self.lr_ = LabelledOnly(LogisticRegression(C=self.C)).fit(X, y)
        self.classes_ = self.lr_.classes_
        return self

    def predict_proba(self, X):
        proba = self.lr_.predict_proba(X)
        return np.full_like(proba, np.nan) if self.failure == "nan" else proba

    def predict(self, X):
        return self.classes_[self.predict_proba(X).argmax(axis=1)]


@pytest.mark.parametrize("failure", ["fit", "nan"])
def test_a_failed_candidate_is_left_out_and_never_picked(failure):
    # Before, a candidate with nan probabilities made the whole ensemble nan, its
    # argmax class 0 everywhere, and that candidate agreed with it on every row.
    X, ym, _, d = _data()
    grid = [{"C": [0.01, 1.0]}, {"failure": [failure]}]
    with pytest.warns(FitFailedWarning, match=rf"(?s)failed \(1 of 3\) are left out.*'failure': '{failure}'"):
        search = EnsembleValidationSearch(_Unstable(), grid).fit(X, ym)
    assert search.best_params_.get("failure") is None
    assert np.isnan(search.results_["agreement"][2])
    np.testing.assert_array_equal(search.results_["rank"][2], 3)
    good = [_Unstable(C=C).fit(X, ym).predict_proba(X[d < 0]) for C in (0.01, 1.0)]
    np.testing.assert_allclose(search.ensemble_proba_, np.mean(good, axis=0))
    assert np.isfinite(search.results_["fit_time"]).all()

    # A number instead of nan is recorded as the failed candidate's agreement.
    with pytest.warns(FitFailedWarning):
        search = EnsembleValidationSearch(_Unstable(), grid, error_score=0.0).fit(X, ym)
    assert search.results_["agreement"][2] == 0.0
    # ... and one above every agreement still ranks last: the rank follows the pick
    with pytest.warns(FitFailedWarning):
        search = EnsembleValidationSearch(_Unstable(), grid, error_score=5.0).fit(X, ym)
    assert search.results_["agreement"][2] == 5.0 and search.best_params_.get("failure") is None
    assert search.results_["rank"][2] == 3 and search.results_["rank"][search.best_index_] == 1
    # error_score="raise": the fit's error, or a clear one for nan probabilities.
    raised = FloatingPointError if failure == "fit" else ValueError
    match = "training loss became nan" if failure == "fit" else "not finite"
    with pytest.raises(raised, match=match):
        EnsembleValidationSearch(_Unstable(), grid, error_score="raise").fit(X, ym)


def test_every_candidate_failing_raises():
    # The first candidate's own error is raised; a warning lists every failure
    # first, so that a grid failing for different reasons shows them all.
    X, ym, _, _ = _data(30)
    with (
        pytest.warns(FitFailedWarning, match=r"(?s)All 2 candidates failed.*'C': 0.1.*'C': 1.0"),
        pytest.raises(FloatingPointError, match="training loss became nan"),
    ):
        EnsembleValidationSearch(_Unstable(failure="fit"), {"C": [0.1, 1.0]}).fit(X, ym)


def test_no_target_all_rows_scores_every_row():
    X, _, y, _ = _data(40)
    with pytest.raises(ValueError, match="no target rows.*no_target='all_rows'"):
        EnsembleValidationSearch(LogisticRegression(), {"C": [0.1, 1.0]}).fit(X, y)
    search = EnsembleValidationSearch(LogisticRegression(), {"C": [0.1, 1.0]}, no_target="all_rows").fit(X, y)
    assert search.ensemble_proba_.shape == (len(X), 2)


@pytest.mark.parametrize(
    "estimator, grid, kwargs, y_kind, error, match",
    [
        (LinearRegression(), {"fit_intercept": [True]}, {}, "masked", TypeError, "needs a classifier"),
        (LabelledOnly(), {"estimator__C": [1.0]}, {"no_target": "skip"}, "masked", ValueError, "no_target must be"),
        (LabelledOnly(), [], {}, "masked", ValueError, "gives no candidate"),
        (LabelledOnly(), {"estimator__C": [1.0]}, {}, "none", ValueError, "requires y to be passed"),
        (LabelledOnly(), {"estimator__C": [1.0]}, {}, "unlabelled", ValueError, "no labelled source rows"),
        (LabelledOnly(), {"estimator__C": -1.0}, {}, "masked", TypeError, "Parameter grid"),
        (LabelledOnly(), {"estimator__C": [1.0]}, {"error_score": "warn"}, "masked", ValueError,
         "error_score must be 'raise' or a number"),
        (LabelledOnly(), {"estimator__C": [1.0]}, {"error_score": True}, "masked", ValueError,
         "error_score must be"),
    ],
)
def test_bad_input(estimator, grid, kwargs, y_kind, error, match):
    X, ym, _, _ = _data(30)
    y = {"masked": ym, "none": None, "unlabelled": np.full(len(ym), -1)}[y_kind]
    with pytest.raises(error, match=match):
        EnsembleValidationSearch(estimator, grid, **kwargs).fit(X, y)


def test_not_fitted():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        EnsembleValidationSearch(LabelledOnly(), {"estimator__C": [1.0]}).predict(np.zeros((2, 2)))


def test_metadata_routing_inside_a_pipeline():
    # With routing on, a Pipeline hands sample_domain to the search, which reads it (the
    # target rows it scores on) and routes it to the candidates that request it. Some
    # target rows are labelled, so y alone would give other target rows: the routing shows.
    from sklearn import config_context

    X, _, y, d = _data()
    y_given = y.copy()
    target = np.flatnonzero(d < 0)
    y_given[target[10:]] = -1  # the first 10 target rows keep their labels
    grid = {"labelledonly__estimator__C": [0.01, 1.0]}
    with config_context(enable_metadata_routing=True):
        inner = make_pipeline(
            CORAL().set_fit_request(sample_domain=True), LabelledOnly(LogisticRegression())
        )
        pipe = make_pipeline(StandardScaler(), EnsembleValidationSearch(inner, grid))
        pipe.fit(X, y_given, sample_domain=d)
        assert 0 <= pipe.score(X[d < 0], y[d < 0]) <= 1
        # the search alone, with an estimator that requests nothing: sample_domain is its own
        alone = EnsembleValidationSearch(LabelledOnly(LogisticRegression()), {"estimator__C": [1.0]})
        alone.fit(X, y_given, sample_domain=d)
    assert pipe[-1].ensemble_proba_.shape[0] == len(target)  # labelled target rows included
    assert alone.ensemble_proba_.shape[0] == len(target)
    # ... and CORAL, inside each candidate, took every target row for a target row
    scaled = pipe[0].transform(X)
    coral = pipe[-1].best_estimator_[0]
    np.testing.assert_allclose(coral.mean_target_, scaled[d < 0].mean(axis=0))


def test_a_candidate_that_learnt_the_mark_as_a_class_is_refused():
    # a plain classifier fit on all rows takes y == -1 for a class and predicts it
    X, ym, _, _ = _data(30)
    with pytest.raises(ValueError, match="EnsembleValidationSearch: LogisticRegression has learnt -1"):
        EnsembleValidationSearch(LogisticRegression(), {"C": [0.1, 1.0]}).fit(X, ym)


def test_param_columns_as_grid_search_has_them():
    # A list of grids: a column is masked where a candidate does not set its parameter,
    # as in GridSearchCV.cv_results_.
    X, ym, _, _ = _data()
    grids = [
        {"coral__reg": [0.1, 1.0], "labelledonly__estimator__solver": ["lbfgs", "newton-cg"]},
        {"labelledonly__estimator__C": [0.5]},
    ]
    search = EnsembleValidationSearch(_pipe(), grids).fit(X, ym)
    reference = GridSearchCV(_pipe(), grids, cv=SourceKFold(3)).fit(X, ym).cv_results_
    for name in (
        "param_coral__reg", "param_labelledonly__estimator__C", "param_labelledonly__estimator__solver"
    ):
        assert search.results_[name].dtype == reference[name].dtype
        np.testing.assert_array_equal(search.results_[name].mask, reference[name].mask)
        np.testing.assert_array_equal(search.results_[name].compressed(), reference[name].compressed())


def test_verbose_says_what_it_fits_and_keeps(capsys):
    X, ym, _, _ = _data(20)
    grid = {"coral__reg": [0.1, 1.0]}
    EnsembleValidationSearch(_pipe(), grid).fit(X, ym)
    assert capsys.readouterr().out == ""
    search = EnsembleValidationSearch(_pipe(), grid, verbose=2).fit(X, ym)
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "Fitting 2 candidates on all rows"
    assert out[1].startswith("[EnsV] {'coral__reg': 0.1}: agreement ")
    assert out[2].startswith("[EnsV] {'coral__reg': 1.0}: agreement ")
    assert out[3] == f"[EnsV] kept {search.best_params_} (agreement {search.best_score_:.3f})"
    for verbose in (-1, 1.5, "yes"):
        with pytest.raises(ValueError, match="verbose must be a non-negative integer"):
            EnsembleValidationSearch(_pipe(), grid, verbose=verbose).fit(X, ym)
