"""Conformance: every public estimator passes scikit-learn's estimator checks."""

from functools import partial

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.utils.estimator_checks import parametrize_with_checks

from sktransfer import SelfTaughtTransformer
from sktransfer.nn import MLP
from sktransfer.utils import all_estimators

# Parameters that make each estimator fit in well under a second on the checks'
# small data. An entry is needed only where the defaults are too slow or where
# the checks' data (fully labelled, one domain) needs a documented option.
CHECK_PARAMS = {
    # Zero-shot classifiers need a table describing every class; the checks'
    # integer labels are within 0..3, so the table has those four rows (one-hot
    # descriptions). mode="gzsl" predicts among all of them: with the default
    # mode="zsl" a fit on every class of the table leaves no unseen class to
    # predict, which is refused.
    "AttributeZeroShotClassifier": dict(class_attributes=[[1.0, 0, 0, 0], [0, 1.0, 0, 0], [0, 0, 1.0, 0], [0, 0, 0, 1.0]], mode="gzsl"),
    "ConSEClassifier": dict(class_embeddings=[[1.0, 0, 0, 0], [0, 1.0, 0, 0], [0, 0, 1.0, 0], [0, 0, 0, 1.0]], mode="gzsl"),
    "EmbeddingZeroShotClassifier": dict(
        class_embeddings=[[1.0, 0, 0, 0], [0, 1.0, 0, 0], [0, 0, 1.0, 0], [0, 0, 0, 1.0]], mode="gzsl",
        max_epochs=20, lr=0.05, embedding_dim=8,
    ),
    # The checks give fully labelled data with no target domain: DANN refuses
    # that by default (adaptation without target rows would silently be no
    # adaptation); no_target="source_only" is the documented way to allow it.
    "DANNClassifier": dict(no_target="source_only", max_epochs=10, lr=0.05, batch_size=32),
    "CDANClassifier": dict(no_target="source_only", max_epochs=10, lr=0.05, batch_size=32),
    "DANClassifier": dict(no_target="source_only", max_epochs=10, lr=0.05, batch_size=32),
    "DeepCORALClassifier": dict(no_target="source_only", max_epochs=10, lr=0.05, batch_size=32),
    "MCCClassifier": dict(no_target="source_only", max_epochs=10, lr=0.05, batch_size=32),
    "MDDClassifier": dict(no_target="source_only", max_epochs=10, lr=0.05, batch_size=32),
    # The checks give fully labelled data (no y == -1 rows): by default the
    # transformer refuses that (the representation is learnt from the unlabelled
    # rows); fit_on="all" is the documented way to learn it from every row. The
    # checks' data sets are as small as 10 rows and 1 feature, so the dictionary
    # has 2 atoms (n_components must not exceed the rows).
    "SelfTaughtTransformer": dict(fit_on="all", n_components=2, max_iter=2),
    # The checks' data have as few as 2 rows: 2 clusters; one initialisation is enough.
    "SelfTaughtClustering": dict(n_clusters=2, n_feature_clusters=2, n_init=1),
    # The default network is EfficientNet-Lite0 for 224 x 224 images; the checks'
    # data are rows of features, so a small MLP built for their width.
    "CNNFeatureExtractor": dict(module=MLP),
    # The checks fit fully labelled data of one domain, and sometimes y=None:
    # single_domain="fit" is the documented way to allow a one-domain fit
    # (CORAL and the linear OT map are then the identity, SA plain PCA, TCA kernel PCA).
    "CORAL": dict(single_domain="fit"),
    "LinearOTMapping": dict(single_domain="fit"),
    "EntropicOTMapping": dict(single_domain="fit"),
    "SubspaceAlignment": dict(single_domain="fit"),
    # The checks' data have as few as 1 feature: subspaces of 1 dimension.
    "GeodesicFlowKernel": dict(single_domain="fit", n_components=1),
    "TransferComponentAnalysis": dict(single_domain="fit"),
    # No target rows: uniform weights (plain training), the documented option.
    "ImportanceWeightedClassifier": dict(no_target="uniform"),
    # No target rows: fit on the source subspace without the MMD term, the
    # documented option. Subspaces of 2 dimensions (the checks' data have 2 to 10
    # features; with 1 feature the fit refuses n_components=2, naming n_features=1).
    "MEDAClassifier": dict(no_target="source_only", n_components=2),
    # No target rows: the projection without the MMD term, the documented
    # option. 2 directions: rows are scaled to unit length before and after the
    # projection (the paper's), so 1 direction leaves only a sign; with 1 feature
    # the fit refuses n_components=2, naming n_features=1.
    "JDAClassifier": dict(no_target="source_only", n_components=2),
    # The default network is EfficientNet-Lite0 for images: a small MLP built
    # for the checks' width instead (a partial, since ``module__*`` keyword
    # parameters are attributes the checks do not expect after __init__).
    "FineTuneClassifier": dict(module=partial(MLP, hidden_layer_sizes=(16,), n_outputs=2), max_epochs=20, lr=0.01),
    "FineTuneRegressor": dict(module=partial(MLP, hidden_layer_sizes=(16,), n_outputs=2), max_epochs=20, lr=0.01),
    # 10 epochs on small networks keep each check well under a second.
    "MultiTaskClassifier": dict(max_epochs=10, batch_size=32),
    "ProgressiveNetClassifier": dict(max_epochs=10, hidden_layer_sizes=(16,)),
    # A search needs a model and a grid (as GridSearchCV does). The checks' data
    # have no target rows: no_target="all_rows" is the documented option that
    # measures the agreement with the ensemble on every row.
    "EnsembleValidationSearch": dict(
        estimator=LogisticRegression(), param_grid={"C": [0.1, 1.0]}, no_target="all_rows",
    ),
}


# Checks an estimator is allowed to fail, each with the reason.
# A network trained by minibatches: a weight scales its row's loss in the batches
# drawn as without weights.
_WEIGHTS_IN_MINIBATCHES = (
    "a weight scales its row's loss within minibatches drawn as without weights: "
    "weight 2 is not a repeated row (the batches, their count and the shuffling "
    "differ). Weights of 1 giving the unweighted fit, and weights moving it, are "
    "tested in test_fine_tuning.py."
)
EXPECTED_FAILED_CHECKS = {
    "AttributeZeroShotClassifier": {
        **(_ZERO_SHOT_FAILED := {
            check: (
                "a zero-shot classifier predicts classes absent from y by design: "
                "classes_ is the candidate rows of its class table, not np.unique(y). "
                "This check fits labels (0, 1), then (0, 1, 2), and expects one column "
                "(or a 1-D decision_function for two labels) per label of y, but the "
                "table's rows absent from y (2, 3) are candidates too. Predictions, "
                "shapes and training accuracy are tested in test_zero_shot.py."
            )
            for check in (
                "check_classifiers_train",
                "check_classifiers_train(readonly_memmap=True)",
                "check_classifiers_train(readonly_memmap=True,X_dtype=float32)",
            )
        }),
        "check_classifiers_classes": (
            "it fits string labels ('one', 'two', ...) and [-1, 1] that have no row in "
            "the class table given for the checks; a label missing from the table is "
            "refused by design (test_zero_shot.py tests string class names and the "
            "error). Its binary part also expects classes_ == np.unique(y), see above."
        ),
        "check_decision_proba_consistency": (
            "binary training labels (0, 1) with a 4-class table: predict_proba has a "
            "column per candidate (seen and unseen), so its column 1 is not the "
            "counterpart of a 1-D decision_function; consistency of decision_function "
            "and predict_proba is tested in test_zero_shot.py."
        ),
    },
    "ConSEClassifier": {
        **_ZERO_SHOT_FAILED,
        "check_classifiers_classes": "as for AttributeZeroShotClassifier.",
    },
    "EmbeddingZeroShotClassifier": {
        **_ZERO_SHOT_FAILED,
        "check_classifiers_classes": "as for AttributeZeroShotClassifier.",
    },
    "DANNClassifier": {
        "check_classifiers_classes": (
            "its last part fits binary labels [-1, 1]; -1 marks unlabelled rows "
            "(scikit-learn's semi-supervised convention, which scikit-learn's own "
            "LabelSpreading and SelfTrainingClassifier escape in this check by name). "
            "The string and object label parts are tested in test_dann.py."
        ),
        "check_sample_weight_equivalence_on_dense_data": _WEIGHTS_IN_MINIBATCHES.replace(
            "test_fine_tuning.py", "test_deep_da.py"
        ),
    },
    "EnsembleValidationSearch": {
        "check_classifiers_classes": (
            "as for DANNClassifier: its last part fits binary labels [-1, 1], and -1 "
            "marks the unlabelled (target) rows; the plain LogisticRegression candidates "
            "of the checks learn it as a class, which the search refuses with a clear "
            "error (tested in test_ensemble_validation.py)."
        ),
    },
    "ImportanceWeightedClassifier": {
        "check_classifiers_classes": (
            "as for DANNClassifier: its last part fits binary labels [-1, 1], and -1 "
            "marks the unlabelled (target) rows whose density the weights are estimated "
            "from. The string and object label parts are tested in test_shallow_da.py."
        ),
    },
    "MEDAClassifier": {
        "check_classifiers_classes": (
            "as for DANNClassifier: its last part fits binary labels [-1, 1], and -1 "
            "marks the unlabelled (target) rows. The string and integer label parts "
            "are tested in test_meda.py."
        ),
    },
    "JDAClassifier": {
        "check_classifiers_classes": (
            "as for DANNClassifier: its last part fits binary labels [-1, 1], and -1 "
            "marks the unlabelled (target) rows. String labels and labelled target "
            "rows are tested in test_jda.py."
        ),
    },
    "FineTuneClassifier": {
        "check_classifiers_classes": (
            "as for DANNClassifier: its last part fits binary labels [-1, 1], and -1 "
            "marks unlabelled rows (the library-wide convention). String labels and "
            "unlabelled rows are tested in test_fine_tuning.py."
        ),
        "check_sample_weight_equivalence_on_dense_data": _WEIGHTS_IN_MINIBATCHES,
    },
    "FineTuneRegressor": {
        "check_sample_weight_equivalence_on_dense_data": _WEIGHTS_IN_MINIBATCHES,
        "check_methods_subset_invariance": (
            "the network computes in float32: a row predicted in a one-row batch can "
            "differ from the same row in a full batch by one float32 ulp (relative "
            "~2e-7, BLAS-dependent), and the check demands rtol=1e-7, below float32 "
            "resolution. Batch invariance at rtol=1e-6 is tested in test_fine_tuning.py."
        ),
    },
    **{
        name: {
            "check_classifiers_classes": "as for DANNClassifier (same base).",
            "check_sample_weight_equivalence_on_dense_data": "as for DANNClassifier (same base).",
        }
        for name in (
            "CDANClassifier", "DANClassifier", "DeepCORALClassifier", "MCCClassifier", "MDDClassifier"
        )
    },
    "LabelledOnly": {
        "check_classifiers_classes": (
            "as for DANNClassifier: its last part fits binary labels [-1, 1], and "
            "-1 marks the unlabelled rows this meta-estimator exists to skip. The "
            "string and object label parts are tested in test_self_taught.py."
        ),
    },
    "MultiTaskClassifier": {
        "check_classifiers_classes": (
            "as for DANNClassifier: its last part fits binary labels [-1, 1], and "
            "-1 marks the rows with no label for a task (the multitask convention: "
            "each task column of y has -1 where a row has no label for it). The "
            "string and object label parts are tested in test_multitask.py."
        ),
    },
    "ProgressiveNetClassifier": {
        "check_classifiers_classes": (
            "as for DANNClassifier: its last part fits binary labels [-1, 1], and "
            "-1 marks unlabelled rows (the library-wide convention). The string and "
            "object label parts are tested in test_multitask.py."
        ),
    },
    "SelfTaughtClustering": {
        "check_clustering": (
            "it standardises its blobs (negative values) without honouring the "
            "positive_only tag; SelfTaughtClustering reads X as a joint distribution "
            "and must refuse negative values. What it checks on the labels is tested "
            "on non-negative data in test_self_taught.py."
        ),
        "check_clustering(readonly_memmap=True)": (
            "same as check_clustering: standardised (negative) data, see above."
        ),
    },
}


def _expected_failed_checks(estimator):
    return EXPECTED_FAILED_CHECKS.get(type(estimator).__name__, {})


def _instances():
    for name, Estimator in all_estimators():
        params = dict(CHECK_PARAMS.get(name, {}))
        if "random_state" in Estimator(**params).get_params():
            params["random_state"] = 0
        yield Estimator(**params)


def test_registry_lists_the_public_estimators():
    names = [name for name, _ in all_estimators()]
    assert "DANNClassifier" in names
    import sktransfer

    for name in names:
        assert hasattr(sktransfer, name), f"{name} is not exported from sktransfer"
    # ... and every estimator the package exports is in the registry the checks run over.
    from sklearn.base import BaseEstimator

    exported = {
        name for name in sktransfer.__all__
        if isinstance(getattr(sktransfer, name), type)
        and issubclass(getattr(sktransfer, name), BaseEstimator)
    }
    assert exported <= set(names), exported - set(names)


@parametrize_with_checks(list(_instances()), expected_failed_checks=_expected_failed_checks)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


@pytest.mark.parametrize(
    "estimator",
    [
        *(e for e in _instances() if not e.__sklearn_tags__().input_tags.string),
        # the autoencoder is the transformer's torch path (the default is a dictionary)
        SelfTaughtTransformer(method="autoencoder", n_components=2, fit_on="all", max_epochs=2),
    ],
    ids=lambda e: type(e).__name__,
)
def test_read_only_input_reaches_torch_as_a_writable_copy(estimator, torch_refuses_read_only):
    # Read-only input (joblib's memory-mapped arrays in GridSearchCV(n_jobs=...))
    # is copied by the validation, never handed to torch as it is.
    rng = np.random.RandomState(0)
    X = np.abs(rng.randn(40, 4)).astype(np.float32)  # non-negative for SelfTaughtClustering
    y = np.arange(40) % 2
    X.setflags(write=False)
    y.setflags(write=False)
    estimator.fit(X, y)
    for method in ("predict", "predict_proba", "transform"):
        if hasattr(estimator, method):
            getattr(estimator, method)(X)


# Estimators that read ``y == -1`` as unlabelled rows (or as target rows).
_READS_UNLABELLED_ROWS = {
    "CDANClassifier", "DANClassifier", "DANNClassifier", "DeepCORALClassifier",
    "MCCClassifier", "MDDClassifier", "FineTuneClassifier", "ImportanceWeightedClassifier", "JDAClassifier", "LabelledOnly",
    "MEDAClassifier", "ProgressiveNetClassifier", "CORAL", "EntropicOTMapping",
    "GeodesicFlowKernel", "LinearOTMapping", "SubspaceAlignment", "TransferComponentAnalysis",
    "MultiTaskClassifier",
}


@pytest.mark.parametrize(
    "estimator",
    [e for e in _instances() if type(e).__name__ in _READS_UNLABELLED_ROWS],
    ids=lambda e: type(e).__name__,
)
@pytest.mark.parametrize("labels", ["float", "strings"])
def test_nan_labels_get_the_unlabelled_mark_in_the_error(estimator, labels):
    # NaN is a common way to say "no label"; here it is -1, and the error says
    # so (a transformer would otherwise take NaN rows as labelled source rows).
    # String labels with gaps are an object array holding NaN.
    rng = np.random.RandomState(0)
    X = rng.randn(40, 4)
    y = (np.arange(40) % 2).astype(float)
    if labels == "strings":
        y = np.array(["cat", "dog"] * 20, dtype=object)
    y[::3] = np.nan
    with pytest.raises(ValueError, match=r"\(14 rows\).*y == -1, not NaN"):
        estimator.fit(X, y)


@pytest.mark.parametrize(
    "estimator",
    [e for e in _instances() if type(e).__name__ in _READS_UNLABELLED_ROWS],
    ids=lambda e: type(e).__name__,
)
@pytest.mark.parametrize("dtype", [str, object])
def test_string_minus_one_is_not_taken_for_a_class(estimator, dtype):
    # Labels read from a text file come as strings; "-1" there is almost surely
    # the unlabelled mark, which would otherwise become a third class.
    X = np.random.RandomState(0).randn(40, 4)
    y = np.array(["0", "1"] * 10 + ["-1"] * 20, dtype=dtype)
    with pytest.raises(ValueError, match=r"string '-1' \(20 rows\).*y.astype\(int\)"):
        estimator.fit(X, y)



@pytest.mark.parametrize(
    "estimator",
    [e for e in _instances() if type(e).__name__ in _READS_UNLABELLED_ROWS],
    ids=lambda e: type(e).__name__,
)
def test_class_names_beside_the_integer_mark(estimator):
    # As scikit-learn's semi-supervised estimators take them: names, and the
    # number -1 for the unlabelled rows, in one object array.
    rng = np.random.RandomState(0)
    X = rng.randn(40, 4)
    y = np.array(["cat", "dog"] * 10 + [-1] * 20, dtype=object)
    estimator.fit(X, y)
    if hasattr(estimator, "predict"):
        assert estimator.classes_.tolist() == ["cat", "dog"]
        assert set(estimator.predict(X)) <= {"cat", "dog"}
        assert 0 <= estimator.score(X, y) <= 1
    else:
        assert estimator.transform(X).shape[0] == 40


@pytest.mark.parametrize(
    "estimator",
    [e for e in _instances() if type(e).__name__ in _READS_UNLABELLED_ROWS],
    ids=lambda e: type(e).__name__,
)
def test_integer_labels_in_an_object_array(estimator):
    # what mask_target_labels gave for a pandas object Series, and what a list of
    # mixed Python objects becomes: integers beside -1 in an object array
    X = np.random.RandomState(0).randn(40, 4)
    y = np.array([0, 1] * 10 + [-1] * 20, dtype=object)
    estimator.fit(X, y)
    if hasattr(estimator, "predict"):
        assert estimator.classes_.tolist() == [0, 1]
        assert set(estimator.predict(X).tolist()) <= {0, 1}



@pytest.mark.parametrize(
    "estimator",
    [e for e in _instances() if type(e).__name__ in _READS_UNLABELLED_ROWS
     and hasattr(e, "predict") and type(e).__name__ != "LabelledOnly"],
    ids=lambda e: type(e).__name__,
)
def test_labels_minus_one_plus_one_leave_one_class(estimator):
    # -1 is the unlabelled mark, so labels -1/+1 leave one class: the error says why
    X = np.random.RandomState(0).randn(40, 4)
    y = np.array([-1, 1] * 20)
    with pytest.raises(ValueError, match=r"got only one class: 1; the rows with y == -1 count as "
                                         r"unlabelled"):
        estimator.fit(X, y)
