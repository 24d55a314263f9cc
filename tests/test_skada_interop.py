"""Working beside skada: its conventions for ``sample_domain`` and how its tools call ours.

skada's scorers pass ``sample_domain`` to the prediction methods: accepted,
checked, ignored. skada is not a dependency, so its calls are re-enacted here as skada 0.6.0 makes
them (``PredictionEntropyScorer`` / ``SoftNeighborhoodDensity``: ``predict_proba``
on the target rows with their domains; ``CircularValidation``: a deep copy refit
with the domains negated, then ``predict`` with them; ``MixValScorer``:
``score`` with ``sample_domain``), with metadata routing on, as importing skada
leaves it.
"""

import copy
import warnings

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from sklearn import clone, config_context
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sktransfer import (
    CORAL,
    CDANClassifier,
    DANClassifier,
    DANNClassifier,
    DeepCORALClassifier,
    EnsembleValidationSearch,
    ImportanceWeightedClassifier,
    JDAClassifier,
    LabelledOnly,
    MCCClassifier,
    MDDClassifier,
    MEDAClassifier,
)
from sktransfer.datasets import make_rotated_moons, mask_target_labels
from sktransfer.model_selection import SourceKFold, prediction_entropy_scorer

_DEEP = {"max_epochs": 2, "batch_size": 32, "random_state": 0}
ESTIMATORS = [
    DANNClassifier(**_DEEP),
    DeepCORALClassifier(**_DEEP),
    DANClassifier(**_DEEP),
    CDANClassifier(**_DEEP),
    MCCClassifier(**_DEEP),
    MDDClassifier(**_DEEP),
    ImportanceWeightedClassifier(),
    JDAClassifier(n_components=2),
    MEDAClassifier(n_components=2, random_state=0),
    LabelledOnly(),
    EnsembleValidationSearch(LabelledOnly(LogisticRegression()), {"estimator__C": [0.1, 1.0]}),
    make_pipeline(StandardScaler(), CORAL(), LabelledOnly()),
]
PREDICTION_METHODS = ["predict", "predict_proba", "predict_log_proba", "decision_function"]


def _request_prediction_domain(estimator):
    """Opt LabelledOnly (a pipeline's last step, or alone) in to skada's sample_domain."""
    last = estimator[-1] if hasattr(estimator, "steps") else estimator
    if type(last) is LabelledOnly:
        for method in ["predict", "predict_proba", "predict_log_proba", "decision_function", "score"]:
            getattr(last, f"set_{method}_request")(sample_domain=True)
    return estimator


def _name(estimator):
    if hasattr(estimator, "steps"):
        return "Pipeline(" + ", ".join(type(step).__name__ for _, step in estimator.steps) + ")"
    return type(estimator).__name__


@pytest.fixture(scope="module")
def moons():
    X, y, domain = make_rotated_moons(60, 60, angle=30, random_state=0)
    return X.astype(np.float32), y, mask_target_labels(y, domain), domain


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=_name)
def test_prediction_methods_take_and_ignore_sample_domain(estimator, moons):
    X, y, y_masked, domain = moons
    estimator = clone(estimator)
    # Without routing, a Pipeline refuses extra arguments to some methods (its own
    # rule); with it, the final step's default request takes sample_domain.
    with config_context(enable_metadata_routing=hasattr(estimator, "steps")):
        if hasattr(estimator, "steps"):
            _request_prediction_domain(estimator)
        estimator.fit(X, y_masked)
        methods = [m for m in PREDICTION_METHODS if hasattr(estimator, m)]
        assert "predict" in methods
        for method in methods:
            assert_array_equal(
                getattr(estimator, method)(X, sample_domain=domain), getattr(estimator, method)(X)
            )
        assert estimator.score(X, y, sample_domain=domain) == estimator.score(X, y)
        # Checked like the sample_domain of fit, though unused.
        with pytest.raises(ValueError, match="sample_domain has 5 entries but X has 120 rows"):
            estimator.predict(X, sample_domain=domain[:5])
        with pytest.raises(ValueError, match="must not contain 0"):
            estimator.predict(X, sample_domain=np.zeros(len(X), dtype=int))
        with pytest.raises(TypeError, match="integer domain ids"):
            estimator.score(X, y, sample_domain=np.full(len(X), "target"))


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=_name)
def test_skada_scorer_calls_with_metadata_routing_on(estimator, moons):
    X, y, y_masked, domain = moons
    estimator = clone(estimator)
    target = domain < 0
    with config_context(enable_metadata_routing=True):
        if hasattr(estimator, "steps"):
            estimator[1].set_fit_request(sample_domain=True)
        _request_prediction_domain(estimator)
        # LabelledOnly takes no domains: it fits the labelled rows.
        fit_params = {} if isinstance(estimator, LabelledOnly) else {"sample_domain": domain}
        estimator.fit(X, y_masked, **fit_params)
        # PredictionEntropyScorer, SoftNeighborhoodDensity (and MaNoScorer on a Pipeline).
        if hasattr(estimator, "predict_proba"):
            proba = estimator.predict_proba(X[target], sample_domain=domain[target])
            assert_array_equal(proba, estimator.predict_proba(X[target]))
        # MixValScorer: the passthrough scorer calls score with the target domain.
        mixed = 0.5 * X[target] + 0.5 * X[target][::-1]
        labels = estimator.predict(X[target], sample_domain=domain[target])
        accuracy = estimator.score(mixed, labels, sample_domain=np.full(len(mixed), -1))
        assert 0.0 <= accuracy <= 1.0
        # CircularValidation: refit a copy on the predicted target labels, domains negated.
        if isinstance(estimator, LabelledOnly):
            return
        backward = copy.deepcopy(estimator)
        backward_y = np.full(len(X), -1)
        backward_y[target] = labels
        backward.fit(X, backward_y, sample_domain=-domain)
        source_pred = backward.predict(X[~target], sample_domain=-domain[~target])
        assert set(np.unique(source_pred)) <= set(np.unique(y))


def test_prediction_requests_sample_domain_by_default_but_fit_does_not():
    # The prediction methods ignore it, so requesting it costs nothing; fit uses it,
    # so the user asks for it (DESIGN: set_fit_request), as before.
    routing = DANNClassifier().get_metadata_routing()
    for method in ["predict", "predict_proba", "decision_function", "score"]:
        assert routing.consumes(method, ["sample_domain"]) == {"sample_domain"}
    assert routing.consumes("fit", ["sample_domain"]) == set()
    # A transformer's fit_transform composes fit and transform: transform requests nothing.
    assert CORAL().get_metadata_routing().consumes("transform", ["sample_domain"]) == set()


def test_labelled_only_does_not_swallow_a_sample_domain_meant_for_its_fit(moons):
    # LabelledOnly's fit takes no domains: had its score requested sample_domain by
    # default, a router would hand it there and drop it, silently training on the
    # target labels. Unrequested, the router raises, as before.
    X, y, y_masked, domain = moons
    with config_context(enable_metadata_routing=True):
        assert LabelledOnly().get_metadata_routing().consumes("score", ["sample_domain"]) == set()
        with pytest.raises(TypeError, match="sample_domain.*not routed to any object"):
            cross_validate(
                LabelledOnly(LogisticRegression()), X, y, params={"sample_domain": domain}, cv=3
            )
        # Routed to a splitter beside it, it is not pressed on LabelledOnly.score either.
        cv = SourceKFold(3).set_split_request(sample_domain=True)
        scores = cross_validate(
            LabelledOnly(LogisticRegression()), X, y_masked, params={"sample_domain": domain}, cv=cv
        )["test_score"]
        assert len(scores) == 3


def test_unmasked_target_labels_with_sample_domain_warn(moons):
    # skada masks the target labels itself when sample_domain is given; sktransfer
    # trains on labelled target rows, so unmasked labels would leak: warned.
    X, y, y_masked, domain = moons
    search = EnsembleValidationSearch(LabelledOnly(LogisticRegression()), {"estimator__C": [1.0]})
    for estimator in [
        CORAL(), JDAClassifier(n_components=2), MEDAClassifier(n_components=2),
        ImportanceWeightedClassifier(), DANNClassifier(**_DEEP), search,
    ]:
        routing = config_context(enable_metadata_routing=estimator is search)
        labelled = "every target row .* is labelled.*mask_target_labels"
        with routing, pytest.warns(UserWarning, match=labelled) as record:
            estimator.fit(X, y, sample_domain=domain)
        # It points at this line (the caller), not into the library, and the search
        # says it once (its candidates are silenced).
        assert [w.filename for w in record] == [__file__]
        # A transformer does not read the labels: the warning says who does.
        transformer = isinstance(estimator, CORAL)
        assert ("this transformer does not use them" in str(record[0].message)) is transformer
        # Masked, or a few labelled target rows (semi-supervised): no warning.
        some = y_masked.copy()
        some[np.flatnonzero(domain < 0)[:5]] = y[np.flatnonzero(domain < 0)[:5]]
        for labels in [y_masked, some]:
            with warnings.catch_warnings(), config_context(enable_metadata_routing=estimator is search):
                warnings.simplefilter("error")
                estimator.fit(X, labels, sample_domain=domain)


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=_name)
def test_unfitted_estimator_says_so_before_checking_sample_domain(estimator, moons):
    X, _, _, domain = moons
    with pytest.raises(NotFittedError):
        clone(estimator).predict(X, sample_domain=domain[:5])


def test_source_kfold_with_skada_style_labels(moons):
    X, y, y_masked, domain = moons
    cv = SourceKFold(3)
    with pytest.raises(ValueError, match="target rows .* are all labelled.*mask_target_labels"):
        list(cv.split(X, y, sample_domain=domain))
    # An unlabelled row in a source domain is refused, as by every estimator.
    y_bad = y_masked.copy()
    y_bad[0] = -1
    with pytest.raises(ValueError, match="rows of source domains .* must be labelled; 1 of"):
        list(cv.split(X, y_bad, sample_domain=domain))
    assert len(list(cv.split(X, y_masked, sample_domain=domain))) == 3
    # As scikit-learn's KFold: a seed without shuffling is refused.
    with pytest.raises(ValueError, match="random_state has no effect since shuffle is False"):
        list(SourceKFold(3, random_state=0).split(X, y_masked))


def test_scorer_on_unmasked_labels_says_why(moons):
    X, y, y_masked, _ = moons
    model = LabelledOnly().fit(X, y_masked)
    with pytest.raises(ValueError, match="Every row of y here is labelled.*mask_target_labels"):
        prediction_entropy_scorer(model, X, y)


def test_sample_domain_as_object_integers_and_domain_zero(moons):
    X, _, y_masked, domain = moons
    reference = JDAClassifier(n_components=2).fit(X, y_masked, sample_domain=domain)
    as_objects = JDAClassifier(n_components=2).fit(
        X, y_masked, sample_domain=np.array(list(domain), dtype=object)
    )
    assert_array_equal(as_objects.predict(X), reference.predict(X))
    with pytest.raises(TypeError, match="integer domain ids"):
        JDAClassifier().fit(X, y_masked, sample_domain=np.array([1, "a"] * 60, dtype=object))
    with pytest.raises(ValueError, match="must not contain 0.*skada counts 0 as a source"):
        JDAClassifier().fit(X, y_masked, sample_domain=np.where(domain > 0, 0, domain))


def test_labelled_target_warning_points_at_the_caller_through_sklearn_wrappers(moons):
    # fit_transform goes through scikit-learn's set_output wrapper, and a Pipeline through
    # its own frames: the warning still names the user's line, not the wrapper's.
    X, y, _, domain = moons
    with pytest.warns(UserWarning, match="every target row") as record:
        CORAL().fit_transform(X, y, sample_domain=domain)
    assert [w.filename for w in record] == [__file__]
    pipe = make_pipeline(CORAL(), LabelledOnly())
    with pytest.warns(UserWarning, match="every target row") as record:
        pipe.fit(X, y, coral__sample_domain=domain)
    assert all("sktransfer" not in w.filename for w in record)
    assert all("_set_output" not in w.filename for w in record)
