"""Tests of self-taught learning (SelfTaughtTransformer, LabelledOnly) and
self-taught clustering (SelfTaughtClustering)."""

import pickle
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.cluster import KMeans
from sklearn.datasets import make_blobs
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import normalized_mutual_info_score
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.svm import LinearSVC
from sklearn.utils.estimator_checks import parametrize_with_checks
from skorch import NeuralNet
from torch import nn

from sktransfer import LabelledOnly, SelfTaughtClustering, SelfTaughtTransformer

# ---------------------------------------------------------------------------
# data
# ---------------------------------------------------------------------------


def _sparse_model_data(seed=0):
    """Rows made of a class atom plus a larger nuisance atom, all atoms correlated.

    Raw pixels are dominated by the shared component and the nuisance atom;
    a dictionary learnt on unlabelled rows separates the atoms, so a linear
    classifier on the codes needs fewer labels (the promise of self-taught
    learning, on data where it is known to hold).
    """
    rng = np.random.RandomState(seed)
    common = rng.randn(30)
    common /= np.linalg.norm(common)
    atoms = common + 0.4 * rng.randn(25, 30) / np.sqrt(30)
    atoms /= np.linalg.norm(atoms, axis=1, keepdims=True)

    def draw(n):
        k = rng.randint(5, size=n)  # class atoms 0..4
        j = rng.randint(5, 25, size=n)  # nuisance atoms 5..24
        X = (rng.uniform(0.5, 1.5, (n, 1)) * atoms[k] + rng.uniform(1, 3, (n, 1)) * atoms[j]
             + 0.02 * rng.randn(n, 30))
        return X, k

    X_unlabelled, _ = draw(400)
    X, y = draw(300)
    return X_unlabelled, X, y


def _few_labels(y, k, seed):
    rng = np.random.RandomState(seed)
    train = np.concatenate([rng.choice(np.flatnonzero(y == c), k, replace=False)
                            for c in np.unique(y)])
    return train, np.setdiff1d(np.arange(len(y)), train)


def _documents(seed, rate=4):
    """Word counts: 3 target topics over 6 word groups; the auxiliary documents
    have 6 topics (other classes) over the same word groups and more words."""
    rng = np.random.RandomState(seed)
    groups = np.repeat(np.arange(6), 20)

    def topic(g1, g2):
        t = np.full(120, 0.02)
        t[(groups == g1) | (groups == g2)] += 1
        return t / t.sum()

    target = np.array([topic(0, 1), topic(2, 3), topic(4, 5)])
    auxiliary = np.array([topic(0, 1), topic(2, 3), topic(4, 5),
                          topic(0, 3), topic(1, 4), topic(2, 5)])
    y = rng.randint(3, size=40)
    X = rng.poisson(rate * target[y]).astype(float)
    A = rng.poisson(60 * auxiliary[rng.randint(6, size=600)]).astype(float)
    return X, y, A


@pytest.fixture(scope="module")
def semi_supervised():
    rng = np.random.RandomState(0)
    X = rng.rand(80, 6)
    y = np.full(80, -1)
    y[:20] = np.arange(20) % 2
    X[:20] += y[:20, None]
    return X, y


# ---------------------------------------------------------------------------
# SelfTaughtTransformer: behaviour
# ---------------------------------------------------------------------------


def test_sparse_codes_beat_raw_pixels_with_few_labels():
    X_unlabelled, X, y = _sparse_model_data()
    codes = SelfTaughtTransformer(
        n_components=40, alpha=0.1, random_state=0
    ).fit(X_unlabelled).transform(X)
    for k in (1, 3):
        raw, coded = [], []
        for seed in range(10):
            train, test = _few_labels(y, k, seed)
            raw.append(LogisticRegression(max_iter=2000).fit(X[train], y[train])
                       .score(X[test], y[test]))
            coded.append(LogisticRegression(max_iter=2000).fit(codes[train], y[train])
                         .score(codes[test], y[test]))
        assert np.mean(coded) > np.mean(raw) + 0.05, (k, np.mean(coded), np.mean(raw))


def test_pipeline_unlabelled_rows_shape_the_representation_never_a_class(semi_supervised):
    X, y = semi_supervised
    pipe = make_pipeline(
        SelfTaughtTransformer(n_components=8, alpha=0.1, random_state=0),
        LabelledOnly(LinearSVC()),
    ).fit(X, y)
    assert_array_equal(pipe.classes_, [0, 1])
    assert -1 not in pipe.predict(X)
    # The representation is learnt from exactly the unlabelled rows.
    alone = SelfTaughtTransformer(n_components=8, alpha=0.1, random_state=0).fit(X[y == -1])
    assert_allclose(pipe[0].components_, alone.components_)
    # A plain classifier in its place would have made -1 a class.
    naive = make_pipeline(SelfTaughtTransformer(n_components=8, alpha=0.1, random_state=0),
                          LinearSVC()).fit(X, y)
    assert -1 in naive.classes_
    # score ignores the unlabelled rows.
    assert pipe.score(X, y) == pipe[-1].score(pipe[0].transform(X[y != -1]), y[y != -1])


def test_fit_on_and_y_none_use_all_rows(semi_supervised):
    X, y = semi_supervised
    params = {"n_components": 8, "alpha": 0.1, "random_state": 0}
    all_rows = SelfTaughtTransformer(**params).fit(X).components_
    assert_allclose(SelfTaughtTransformer(fit_on="all", **params).fit(X, y).components_, all_rows)
    assert not np.allclose(SelfTaughtTransformer(**params).fit(X, y).components_, all_rows)


def test_autoencoder_trains_with_skorch_and_transforms(semi_supervised):
    X, y = semi_supervised
    st = SelfTaughtTransformer("autoencoder", n_components=5, max_epochs=7, batch_size=16,
                               random_state=0).fit(X, y)
    assert isinstance(st.net_, NeuralNet)
    assert len(st.net_.history) == 7 == st.n_iter_
    losses = st.net_.history[:, "train_loss"]
    assert losses[-1] < losses[0]
    Z = st.transform(X)
    assert Z.shape == (80, 5) and Z.dtype == np.float32
    assert ((Z >= 0) & (Z <= 1)).all()  # sigmoid hidden layer
    assert list(st.get_feature_names_out()) == [f"selftaughttransformer{i}" for i in range(5)]


def test_autoencoder_module_class_and_params(semi_supervised):
    X, _ = semi_supervised

    class Encoder(nn.Module):
        def __init__(self, n_features_in, width=3):
            super().__init__()
            self.layer = nn.Sequential(nn.Linear(n_features_in, width), nn.ReLU())

        def forward(self, x):
            return self.layer(x)

    st = SelfTaughtTransformer("autoencoder", n_components=2, module=Encoder, module__width=4,
                               max_epochs=2, random_state=0).fit(X)
    assert st.n_components_ == 4 and st.transform(X).shape == (80, 4)


def test_alpha_makes_autoencoder_sparser(semi_supervised):
    X, _ = semi_supervised
    common = {"method": "autoencoder", "n_components": 6, "max_epochs": 30, "batch_size": 16,
                  "lr": 0.01, "random_state": 0}
    dense = SelfTaughtTransformer(alpha=0.0, **common).fit(X).transform(X)
    sparse = SelfTaughtTransformer(alpha=0.5, **common).fit(X).transform(X)
    assert np.abs(sparse).mean() < 0.5 * np.abs(dense).mean()


@pytest.mark.parametrize("method", ["sparse_coding", "autoencoder"])
def test_transformer_reproducible_and_picklable(semi_supervised, method):
    X, y = semi_supervised
    params = {"method": method, "n_components": 5, "alpha": 0.1, "max_epochs": 3, "random_state": 0}
    a = SelfTaughtTransformer(**params).fit(X, y)
    b = SelfTaughtTransformer(**params).fit(X, y)
    assert_array_equal(a.transform(X), b.transform(X))
    c = pickle.loads(pickle.dumps(a))
    assert_array_equal(a.transform(X), c.transform(X))


def test_pipeline_pickle_and_grid_search(semi_supervised):
    X, y = semi_supervised
    pipe = make_pipeline(SelfTaughtTransformer(n_components=6, random_state=0),
                         LabelledOnly(LogisticRegression()))
    search = GridSearchCV(
        pipe,
        {"selftaughttransformer__alpha": [0.05, 0.5], "labelledonly__estimator__C": [0.1, 10.0]},
        cv=3,
    ).fit(X, y)
    assert set(search.best_params_) == {"selftaughttransformer__alpha",
                                        "labelledonly__estimator__C"}
    assert_array_equal(search.classes_, [0, 1])
    restored = pickle.loads(pickle.dumps(search.best_estimator_))
    assert_array_equal(restored.predict(X), search.best_estimator_.predict(X))


# ---------------------------------------------------------------------------
# SelfTaughtTransformer: bad input
# ---------------------------------------------------------------------------


def test_no_unlabelled_rows_is_an_error():
    X = np.random.RandomState(0).rand(20, 4)
    with pytest.raises(ValueError, match=r"no unlabelled rows \(y == -1\).*fit_on='all'"):
        SelfTaughtTransformer(n_components=3).fit(X, np.arange(20) % 2)


def test_transform_data_of_another_width_is_an_error(semi_supervised):
    X, y = semi_supervised
    for method in ("sparse_coding", "autoencoder"):
        st = SelfTaughtTransformer(method, n_components=3, max_epochs=1).fit(X, y)
        with pytest.raises(ValueError, match="X has 5 features.*expecting 6"):
            st.transform(X[:, :5])


def test_too_many_components_is_an_error(semi_supervised):
    X, y = semi_supervised
    with pytest.raises(ValueError, match=r"n_components=61 is larger than the number of rows "
                       r"the representation is learnt from \(60\).*n_components <= 60"):
        SelfTaughtTransformer(n_components=61).fit(X, y)
    # an autoencoder's code may be wider than the rows; a custom encoder ignores it
    from torch import nn

    encoder = nn.Sequential(nn.Linear(X.shape[1], 8), nn.ReLU())
    wide = SelfTaughtTransformer(method="autoencoder", module=encoder, max_epochs=1, random_state=0)
    assert wide.fit(X, y).transform(X[:2]).shape == (2, 8)


@pytest.mark.parametrize("method", ["sparse_coding", "autoencoder"])
def test_nan_is_an_error(semi_supervised, method):
    X, y = semi_supervised
    X = X.copy()
    X[3, 2] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN"):
        SelfTaughtTransformer(method, n_components=3).fit(X, y)


@pytest.mark.parametrize(
    "params, error, match",
    [
        ({"method": "pca"}, ValueError, "method must be one of"),
        ({"fit_on": "labelled"}, ValueError, "fit_on must be one of"),
        ({"n_components": 0}, ValueError, "n_components must be a positive integer"),
        ({"alpha": -1.0}, ValueError, "alpha must be a non-negative number"),
        ({"transform_algorithm": "lars"}, ValueError, "transform_algorithm must be one of"),
        ({"method": "autoencoder", "lr": 0}, ValueError, "lr must be a positive finite number"),
        ({"modul__width": 3}, TypeError, "unexpected keyword argument 'modul__width'"),
    ],
)
def test_bad_parameters_are_errors(semi_supervised, params, error, match):
    X, y = semi_supervised
    with pytest.raises(error, match=match):
        SelfTaughtTransformer(**{"n_components": 3, **params}).fit(X, y)


# ---------------------------------------------------------------------------
# LabelledOnly
# ---------------------------------------------------------------------------


def test_labelled_only_skips_unlabelled_rows_and_passes_weights():
    X = np.array([[0.0], [0.2], [0.8], [1.0], [0.1], [0.9]])
    y = np.array([0, 0, 1, 1, -1, -1])
    clf = LabelledOnly(LogisticRegression(), random_state=0).fit(X, y, sample_weight=np.ones(6))
    assert_array_equal(clf.classes_, [0, 1])
    assert len(clf.estimator_.coef_) == 1
    assert clf.predict_proba(X).shape == (6, 2)
    assert clf.score(X, y) == 1.0


def test_labelled_only_string_labels():
    X = np.array([[0.0], [0.2], [0.8], [1.0]])
    clf = LabelledOnly().fit(X, np.array(["cat", "cat", "dog", "dog"]))
    assert_array_equal(clf.classes_, ["cat", "dog"])
    assert_array_equal(clf.predict([[0.0], [1.0]]), ["cat", "dog"])


def test_labelled_only_sets_random_state_of_the_estimator():
    X, y = make_blobs(40, centers=2, random_state=0)
    clf = LabelledOnly(LinearSVC(), random_state=3).fit(X, y)
    assert clf.estimator_.random_state == 3


def test_labelled_only_hands_a_dataframe_on_as_a_dataframe():
    # a ColumnTransformer in the estimator selects columns by name: it needs the frame
    pd = pytest.importorskip("pandas")
    from sklearn.compose import make_column_transformer
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    rng = np.random.RandomState(0)
    df = pd.DataFrame({"color": rng.choice(["red", "blue"], 50), "num": rng.normal(size=50)},
                      index=np.arange(100, 150))
    y = np.where(np.arange(50) < 40, (df["num"].to_numpy() > 0).astype(int), -1)
    inner = make_pipeline(
        make_column_transformer((OneHotEncoder(), ["color"]), (StandardScaler(), ["num"])),
        LogisticRegression(),
    )
    clf = LabelledOnly(inner).fit(df, y)
    assert clf.estimator_[0].n_features_in_ == 2  # it was fit on the 40 labelled rows' frame
    assert clf.estimator_[-1].n_features_in_ == 3  # one-hot colour + num
    assert clf.score(df, y) > 0.9
    with pytest.raises(ValueError, match="feature names should match"):
        clf.predict(df[["num", "color"]])


def test_labelled_only_needs_labelled_rows():
    with pytest.raises(ValueError, match="no labelled rows"):
        LabelledOnly().fit(np.zeros((4, 2)), np.full(4, -1))


# ---------------------------------------------------------------------------
# SelfTaughtClustering
# ---------------------------------------------------------------------------


def test_self_taught_clustering_beats_kmeans_with_auxiliary_data():
    scores = {"kmeans": [], "alone": [], "self-taught": []}
    for seed in range(5):
        X, y, A = _documents(seed)
        labels = {
            "kmeans": KMeans(3, n_init=10, random_state=seed).fit(X).labels_,
            "alone": SelfTaughtClustering(3, 6, random_state=seed).fit(X).labels_,
            "self-taught": SelfTaughtClustering(3, 6, auxiliary=A, random_state=seed)
            .fit(X).labels_,
        }
        for name, lab in labels.items():
            scores[name].append(normalized_mutual_info_score(y, lab))
    mean = {name: np.mean(values) for name, values in scores.items()}
    assert mean["self-taught"] > mean["kmeans"] + 0.1, mean
    assert mean["self-taught"] > mean["alone"], mean


def test_self_taught_clustering_attributes_and_predict():
    X, y, A = _documents(0, rate=15)
    stc = SelfTaughtClustering(3, 6, auxiliary=A, random_state=0).fit(X)
    assert normalized_mutual_info_score(y, stc.labels_) > 0.8
    assert stc.auxiliary_labels_.shape == (600,)
    # The feature clusters recover the six word groups.
    assert normalized_mutual_info_score(np.repeat(np.arange(6), 20), stc.feature_labels_) > 0.8
    assert_array_equal(stc.predict(X), stc.labels_)
    assert stc.cluster_feature_distributions_.shape == (3, 120)
    assert_allclose(stc.cluster_feature_distributions_.sum(axis=1), 1.0)
    assert stc.objective_ >= 0


def test_self_taught_clustering_warns_when_max_iter_stops_it():
    # stopped before the clusters settle, labels_ (the last assignment) can differ from
    # predict (the final distributions): fit says so
    from sklearn.datasets import load_digits
    from sklearn.exceptions import ConvergenceWarning

    X = load_digits().data[:400]
    with pytest.warns(ConvergenceWarning, match="did not converge in max_iter=2"):
        stopped = SelfTaughtClustering(10, max_iter=2, random_state=0).fit(X)
    assert stopped.n_iter_ == 2
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        settled = SelfTaughtClustering(10, max_iter=300, random_state=0).fit(X)
    assert settled.n_iter_ < 300
    assert_array_equal(settled.predict(X), settled.labels_)


def test_self_taught_clustering_labels_as_check_clustering_wants():
    # What scikit-learn's check_clustering verifies (it needs non-negative data here).
    X, _, A = _documents(3, rate=15)
    stc = SelfTaughtClustering(3, 6, auxiliary=A, random_state=0)
    labels = stc.fit_predict(X)
    assert_array_equal(labels, stc.labels_)
    assert labels.dtype.kind == "i"
    assert_array_equal(np.unique(labels), [0, 1, 2])


def test_self_taught_clustering_reproducible_and_picklable():
    X, _, A = _documents(1)
    a = SelfTaughtClustering(3, 6, auxiliary=A, random_state=0).fit(X)
    b = SelfTaughtClustering(3, 6, auxiliary=A, random_state=0).fit(X)
    assert_array_equal(a.labels_, b.labels_)
    c = pickle.loads(pickle.dumps(a))
    assert_array_equal(c.predict(X), a.predict(X))


def test_self_taught_clustering_grid_search_keeps_auxiliary_whole():
    X, y, A = _documents(2, rate=15)
    search = GridSearchCV(
        SelfTaughtClustering(3, auxiliary=A, random_state=0),
        {"n_feature_clusters": [3, 6]},
        scoring="adjusted_rand_score",
        cv=2,
    ).fit(X, y)
    assert search.best_estimator_.auxiliary_labels_.shape == (600,)


@pytest.mark.parametrize(
    "X_change, aux_change, match",
    [
        (lambda X: -X, None, "Negative values in data.*non-negative features"),
        (None, lambda A: -A, "Negative values in data.*auxiliary"),
        (None, lambda A: A[:, :50], "auxiliary has 50 features but X has 120"),
        (lambda X: np.where(np.arange(120) == 3, np.nan, X), None, "Input X contains NaN"),
        (None, lambda A: np.where(np.arange(120) == 3, np.nan, A), "auxiliary contains NaN"),
        (lambda X: np.zeros_like(X), None, "X sums to zero"),
    ],
)
def test_self_taught_clustering_bad_input(X_change, aux_change, match):
    X, _, A = _documents(0)
    X = X_change(X) if X_change else X
    A = aux_change(A) if aux_change else A
    with pytest.raises(ValueError, match=match):
        SelfTaughtClustering(3, 6, auxiliary=A).fit(X)


def test_self_taught_clustering_checks_auxiliary_column_names():
    # the features must be the same: with DataFrames, by name and in order
    pd = pytest.importorskip("pandas")
    X, _, A = _documents(0)
    names = [f"w{i}" for i in range(X.shape[1])]
    Xdf = pd.DataFrame(X, columns=names)
    SelfTaughtClustering(3, 6, auxiliary=pd.DataFrame(A, columns=names)).fit(Xdf)
    swapped = [names[1], names[0], *names[2:]]
    with pytest.raises(ValueError, match=r"column 0 is 'w1' where X's is 'w0'"):
        SelfTaughtClustering(3, 6, auxiliary=pd.DataFrame(A, columns=swapped)).fit(Xdf)
    renamed = [f"q{i}" for i in range(X.shape[1])]
    with pytest.raises(ValueError, match=r"auxiliary must have X's columns, in the same order"):
        SelfTaughtClustering(3, 6, auxiliary=pd.DataFrame(A, columns=renamed)).fit(Xdf)


def test_self_taught_clustering_too_many_clusters():
    X, _, A = _documents(0)
    with pytest.raises(ValueError, match=r"n_clusters=41 is larger than the number of target "
                       r"rows \(40\)"):
        SelfTaughtClustering(41).fit(X)
    with pytest.raises(ValueError, match="set n_auxiliary_clusters <= 10"):
        SelfTaughtClustering(3, auxiliary=A[:10], n_auxiliary_clusters=20).fit(X)
    for weight in (-1, np.inf, True):
        with pytest.raises(ValueError, match="auxiliary_weight must be a non-negative number"):
            SelfTaughtClustering(3, auxiliary_weight=weight).fit(X)
    with pytest.raises(ValueError, match="n_auxiliary_clusters must be None or a positive integer"):
        SelfTaughtClustering(3, auxiliary=A, n_auxiliary_clusters=True).fit(X)


# ---------------------------------------------------------------------------
# conformance of the autoencoder variant (test_common.py checks the default)
# ---------------------------------------------------------------------------


@parametrize_with_checks([
    SelfTaughtTransformer("autoencoder", n_components=2, fit_on="all", max_epochs=2,
                          random_state=0),
])
def test_autoencoder_variant_is_sklearn_compatible(estimator, check):
    check(estimator)


# ---------------------------------------------------------------------------
# SelfTaughtTransformer on image patches
# ---------------------------------------------------------------------------
def _stroke_images(n, rng, shift_range):
    """8x8 grey images of a horizontal (class 0) or vertical (class 1) bar at a
    random position: the class is a local shape, its place varies."""
    X = np.zeros((n, 8, 8))
    y = rng.randint(0, 2, n)
    for i in range(n):
        pos = rng.randint(1, 1 + shift_range)
        start = rng.randint(0, 4)
        if y[i] == 0:
            X[i, pos, start : start + 4] = 1.0
        else:
            X[i, start : start + 4, pos] = 1.0
    return X.reshape(n, 64) + 0.05 * rng.rand(n, 64), y


@pytest.mark.parametrize("method", ["sparse_coding", "autoencoder"])
def test_patch_codes_have_the_pooled_width_and_are_reproducible(method):
    rng = np.random.RandomState(0)
    X, _ = _stroke_images(40, rng, 6)
    params = dict(n_components=5, patch_size=3, image_shape=(8, 8), pooling_grid=2,
                  n_patches=500, random_state=0)
    if method == "autoencoder":
        params.update(max_epochs=3)
    st = SelfTaughtTransformer(method, **params).fit(X)
    codes = st.transform(X)
    polarity = 2 if method == "sparse_coding" else 1
    assert codes.shape == (40, 5 * polarity * 4) == (40, st.n_components_)
    assert st.get_feature_names_out().shape == (st.n_components_,)
    again = SelfTaughtTransformer(method, **params).fit(X).transform(X)
    assert_allclose(codes, again)
    if method == "sparse_coding":
        assert st.components_.shape == (5, 9)
        assert np.all(codes >= 0)  # split into positive and negative parts


def test_patch_codes_pool_over_regions():
    # One bright pixel in the top-left quadrant activates only that quadrant's features.
    rng = np.random.RandomState(0)
    X, _ = _stroke_images(60, rng, 6)
    st = SelfTaughtTransformer(n_components=6, patch_size=3, image_shape=(8, 8),
                               n_patches=500, random_state=0).fit(X)
    image = np.zeros((1, 64))
    image[0, 0 * 8 + 0] = 1.0
    codes = st.transform(image).reshape(4, -1)  # 2x2 grid, row-major
    assert codes[0].sum() > 0
    assert_allclose(codes[3], 0.0)


def test_patch_codes_beat_raw_pixels_when_the_shape_moves():
    # The classes are local shapes at varying places: pooled patch codes learnt
    # from unlabelled images make them separable from a couple of labels.
    rng = np.random.RandomState(0)
    X_unlabelled, _ = _stroke_images(300, rng, 6)
    X, y = _stroke_images(300, rng, 6)
    st = SelfTaughtTransformer(n_components=8, patch_size=4, image_shape=(8, 8),
                               n_patches=3000, random_state=0).fit(X_unlabelled)
    codes = st.transform(X)
    raw, coded = [], []
    for seed in range(5):
        train, test = _few_labels(y, 2, seed)
        raw.append(LogisticRegression(max_iter=2000).fit(X[train], y[train]).score(X[test], y[test]))
        coded.append(LogisticRegression(max_iter=2000).fit(codes[train], y[train])
                     .score(codes[test], y[test]))
    assert np.mean(coded) > np.mean(raw) + 0.1, (np.mean(coded), np.mean(raw))


@pytest.mark.parametrize(
    "params, match",
    [
        ({"patch_size": 3}, "needs image_shape"),
        ({"patch_size": 3, "image_shape": (8,)}, "needs image_shape"),
        ({"patch_size": 0, "image_shape": (8, 8)}, "patch_size must be"),
        ({"patch_size": 9, "image_shape": (8, 8)}, "larger than the images"),
        ({"patch_size": 3, "image_shape": (8, 8), "pooling_grid": 7}, "pooling_grid=7"),
        ({"image_shape": (8, 8)}, "only used with patch_size"),
        ({"patch_size": 3, "image_shape": (4, 4)}, "needs rows of 16 pixels"),
        ({"patch_size": 3, "image_shape": (8, 8), "n_patches": 0}, "n_patches must be"),
    ],
)
def test_patch_parameters_are_checked(params, match):
    X, _ = _stroke_images(20, np.random.RandomState(0), 6)
    with pytest.raises(ValueError, match=match):
        SelfTaughtTransformer(n_components=3, **params).fit(X)


def test_patch_transform_of_another_width_is_an_error():
    X, _ = _stroke_images(20, np.random.RandomState(0), 6)
    st = SelfTaughtTransformer(n_components=3, patch_size=3, image_shape=(8, 8),
                               n_patches=200, random_state=0).fit(X)
    with pytest.raises(ValueError, match="64 features"):
        st.transform(X[:, :40])
