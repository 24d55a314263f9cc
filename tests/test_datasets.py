"""Tests of sktransfer.datasets: the rotated moons, label masking, the loaders."""

import numpy as np
import pytest
from conftest import DATA, needs_data
from numpy.testing import assert_allclose, assert_array_equal
from scipy.spatial.distance import cdist
from sklearn.neighbors import KNeighborsClassifier

from sktransfer.datasets import (
    AMAZON_REVIEWS_DOMAINS,
    MNIST_USPS_DOMAINS,
    OFFICE_CALTECH_DOMAINS,
    get_data_home,
    load_amazon_reviews,
    load_domain,
    load_mnist_usps,
    load_office_caltech,
    make_rotated_moons,
    mask_target_labels,
)

CENTER = np.array([0.5, 0.25])


def _rotate(X, angle):
    theta = np.deg2rad(angle)
    rotation = np.array(
        [[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]]
    )
    return (X - CENTER) @ rotation.T + CENTER


def _one_nn_accuracy(X, y, sample_domain):
    source, target = sample_domain > 0, sample_domain < 0
    knn = KNeighborsClassifier(n_neighbors=1).fit(X[source], y[source])
    return 100 * knn.score(X[target], y[target])


# --------------------------------------------------------------------------
# make_rotated_moons


def test_moons_shapes_labels_domains():
    X, y, sample_domain = make_rotated_moons(300, 200, random_state=0)
    assert X.shape == (500, 2) and X.dtype == np.float64
    assert y.shape == sample_domain.shape == (500,)
    assert np.issubdtype(y.dtype, np.integer)
    assert_array_equal(sample_domain[:300], 1)
    assert_array_equal(sample_domain[300:], -1)
    # true labels on both domains, both classes (balanced) in each
    assert_array_equal(np.bincount(y[:300]), [150, 150])
    assert_array_equal(np.bincount(y[300:]), [100, 100])


def test_moons_target_is_rotated_source_without_noise():
    # Without noise the moons are a fixed point set: the target must be that
    # set rotated about (0.5, 0.25), class by class.
    X, y, sd = make_rotated_moons(100, 100, angle=35.0, noise=0.0, random_state=1)
    source, target = sd == 1, sd == -1
    assert_allclose(X[source].mean(axis=0), CENTER, atol=1e-12)
    for label in (0, 1):
        expected = _rotate(X[source & (y == label)], 35.0)
        got = X[target & (y == label)]
        distances = cdist(got, expected)
        assert distances.min(axis=1).max() < 1e-10
        assert distances.min(axis=0).max() < 1e-10
    # and the target really moved
    assert cdist(X[target], X[source]).min(axis=1).max() > 0.1


def test_moons_rotation_is_counter_clockwise():
    X, y, sd = make_rotated_moons(50, 50, angle=90.0, noise=0.0, random_state=0)
    outer_target = X[(sd == -1) & (y == 0)]
    # ends (1, 0) and (-1, 0) of the outer moon, turned by +90 degrees about
    # (0.5, 0.25), land on (0.75, 0.75) and (0.75, -1.25)
    for point in ([0.75, 0.75], [0.75, -1.25]):
        assert cdist([point], outer_target).min() < 1e-10


def test_moons_rotation_with_noise_moves_class_means():
    X, y, sd = make_rotated_moons(4000, 4000, angle=-50.0, noise=0.1, random_state=2)
    for label in (0, 1):
        u = X[(sd == 1) & (y == label)].mean(axis=0) - CENTER
        v = X[(sd == -1) & (y == label)].mean(axis=0) - CENTER
        angle = np.rad2deg(np.arctan2(v[1], v[0]) - np.arctan2(u[1], u[0]))
        assert angle == pytest.approx(-50.0, abs=3.0)


def test_moons_angle_zero_same_distribution():
    X, _, sd = make_rotated_moons(100, 100, angle=0.0, noise=0.0, random_state=0)
    assert cdist(X[sd == -1], X[sd == 1]).min(axis=1).max() < 1e-12


def test_moons_reproducible():
    a = make_rotated_moons(100, 80, random_state=42)
    b = make_rotated_moons(100, 80, random_state=42)
    c = make_rotated_moons(100, 80, random_state=43)
    for arr_a, arr_b in zip(a, b):
        assert_array_equal(arr_a, arr_b)
    assert not np.array_equal(a[0], c[0])
    d = make_rotated_moons(100, 80, random_state=np.random.RandomState(42))
    assert_array_equal(a[0], d[0])


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"n_source": 0}, "n_source"),
        ({"n_source": -5}, "n_source"),
        ({"n_source": 2.5}, "n_source"),
        ({"n_source": True}, "n_source"),
        ({"n_target": 0}, "n_target"),
        ({"n_target": "10"}, "n_target"),
        ({"noise": -0.1}, "noise"),
        ({"noise": float("nan")}, "noise"),
        ({"angle": float("inf")}, "angle"),
    ],
)
def test_moons_invalid_parameters(kwargs, name):
    with pytest.raises(ValueError, match=name):
        make_rotated_moons(**kwargs)


# --------------------------------------------------------------------------
# mask_target_labels


def test_mask_target_labels():
    y = np.array([0, 1, 2, 1, 0])
    sd = np.array([1, 2, -1, 1, -2])
    masked = mask_target_labels(y, sd)
    assert_array_equal(masked, [0, 1, -1, 1, -1])
    assert_array_equal(y, [0, 1, 2, 1, 0])  # a copy: input untouched
    assert_array_equal(mask_target_labels(list(y), list(sd)), masked)


def test_mask_target_labels_unsigned_labels():
    y = np.array([3, 4, 5], dtype=np.uint8)
    masked = mask_target_labels(y, [1, -1, 1])
    assert np.issubdtype(masked.dtype, np.signedinteger)
    assert_array_equal(masked, [3, -1, 5])


def test_mask_target_labels_refuses_a_class_minus_one():
    # labels -1/+1: masking would silently make the source rows of class -1 unlabelled
    y = np.array([-1, 1, -1, 1])
    with pytest.raises(ValueError, match="holds -1 on 1 source rows.*LabelEncoder"):
        mask_target_labels(y, [1, -1, -1, 1])
    # -1 on target rows only is fine: those are masked anyway
    assert_array_equal(mask_target_labels(y, [-1, 1, -1, 1]), [-1, 1, -1, 1])


def test_mask_target_labels_class_names():
    # names beside the integer mark, in an object array (a text array would hold "-1")
    masked = mask_target_labels(np.array(["cat", "dog", "cat"]), [1, 1, -1])
    assert masked.dtype == object and masked.tolist() == ["cat", "dog", -1]
    with pytest.raises(ValueError, match="y holds -1 on 1 source rows"):
        mask_target_labels(np.array(["cat", -1, "dog"], dtype=object), [1, 1, -1])
    with pytest.raises(TypeError, match="integer labels or class names"):
        mask_target_labels(np.array([0.0, 1.0]), [1, -1])
    for not_labels in ([0.0, 1.0], [True, False]):
        with pytest.raises(TypeError, match="integer labels or class names"):
            mask_target_labels(np.array(not_labels, dtype=object), [1, -1])
    # integers in an object array (a pandas object Series) come back as integers
    masked = mask_target_labels(np.array([0, 1, 1], dtype=object), [1, 1, -1])
    assert masked.dtype == np.int64 and masked.tolist() == [0, 1, -1]


def test_mask_target_labels_length_mismatch():
    with pytest.raises(ValueError, match="lengths"):
        mask_target_labels([0, 1, 1], [1, -1])


def test_mask_target_labels_checks_domain_ids_as_fit_does():
    # each was accepted here, then refused at fit (NaN: kept silently as a source row)
    with pytest.raises(TypeError, match="integer domain ids.*with NaN entries"):
        mask_target_labels([0, 1, 0, 1], [np.nan, 1, -1, -1])
    with pytest.raises(TypeError, match="integer domain ids"):
        mask_target_labels([0, 1, 0, 1], [1.5, 1, -1, -1])
    with pytest.raises(ValueError, match="must not contain 0"):
        mask_target_labels([0, 1, 0, 1], [0, 1, -1, -1])
    # whole floats and target-only arrays are fine, as in fit
    assert mask_target_labels([0, 1, 0, 1], [1.0, 1.0, -1.0, -1.0]).tolist() == [0, 1, -1, -1]
    assert mask_target_labels([0, 1], [-1, -2]).tolist() == [-1, -1]


def test_mask_target_labels_on_moons():
    _, y, sd = make_rotated_moons(30, 20, random_state=0)
    masked = mask_target_labels(y, sd)
    assert_array_equal(masked[sd == -1], -1)
    assert_array_equal(masked[sd == 1], y[sd == 1])


# --------------------------------------------------------------------------
# data_home resolution and errors (no data needed)


def test_get_data_home_precedence(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("SKTRANSFER_DATA", raising=False)
    assert get_data_home() == tmp_path / "home" / "sktransfer_data"
    monkeypatch.setenv("SKTRANSFER_DATA", str(tmp_path / "env"))
    assert get_data_home() == tmp_path / "env"
    assert get_data_home(tmp_path / "arg") == tmp_path / "arg"
    assert get_data_home(str(tmp_path / "arg")) == tmp_path / "arg"


@pytest.mark.parametrize(
    "loader, source, target, expected",
    [
        (load_office_caltech, "C", "A", "office_caltech10_surf/Caltech10_SURF_L10.mat"),
        (load_mnist_usps, "usps", "mnist", "mnist_usps/USPS.mat"),
        (load_amazon_reviews, "books", "dvd", "amazon_review_400/books_400.mat"),
    ],
)
def test_missing_data_home_names_path(tmp_path, loader, source, target, expected):
    home = tmp_path / "no_such_folder"
    with pytest.raises(FileNotFoundError) as excinfo:
        loader(source, target, data_home=home)
    message = str(excinfo.value)
    assert str(home / expected) in message
    assert "SKTRANSFER_DATA" in message and "data_home" in message


def test_missing_file_names_source(tmp_path):
    (tmp_path / "office_caltech10_surf").mkdir()
    with pytest.raises(FileNotFoundError, match="GFK") as excinfo:
        load_domain("office_caltech", "webcam", data_home=tmp_path)
    assert str(tmp_path / "office_caltech10_surf" / "webcam_SURF_L10.mat") in str(
        excinfo.value
    )
    with pytest.raises(FileNotFoundError, match="JDA"):
        load_domain("mnist_usps", "mnist", data_home=tmp_path)
    with pytest.raises(FileNotFoundError, match="mSDA"):
        load_domain("amazon_reviews", "kitchen", data_home=tmp_path)


def test_env_var_missing_folder_named(monkeypatch, tmp_path):
    monkeypatch.setenv("SKTRANSFER_DATA", str(tmp_path / "env_data"))
    with pytest.raises(FileNotFoundError, match="env_data"):
        load_mnist_usps("mnist", "usps")


@pytest.mark.parametrize(
    "source, target, match",
    [
        ("amazon", "imagenet", "Unknown.*imagenet.*amazon.*caltech.*dslr.*webcam"),
        ("amazon", "A", "both as source and as target"),
        (["amazon", "webcam"], ["dslr", "W"], "both as source and as target"),
        (["amazon", "a"], "dslr", "more than once"),
        ([], "dslr", "at least one domain"),
        ("amazon", [], "at least one domain"),
    ],
)
def test_invalid_domains(tmp_path, source, target, match):
    # raised before any file is read
    with pytest.raises(ValueError, match=match):
        load_office_caltech(source, target, data_home=tmp_path)


def test_invalid_domains_other_datasets(tmp_path):
    with pytest.raises(ValueError, match="mnist.*usps"):
        load_mnist_usps("svhn", "mnist", data_home=tmp_path)
    with pytest.raises(ValueError, match="books.*dvd.*elec.*kitchen"):
        load_amazon_reviews("books", "toys", data_home=tmp_path)
    with pytest.raises(ValueError, match="both"):
        load_amazon_reviews("elec", "Electronics", data_home=tmp_path)
    with pytest.raises(ValueError, match="Unknown dataset"):
        load_domain("office31", "amazon", data_home=tmp_path)


@pytest.mark.parametrize("preprocessing", ["l1", "minmax", "L2", ""])
def test_invalid_preprocessing(tmp_path, preprocessing):
    with pytest.raises(ValueError, match="preprocessing"):
        load_office_caltech("C", "A", data_home=tmp_path, preprocessing=preprocessing)


def test_domain_constants():
    assert OFFICE_CALTECH_DOMAINS == ("amazon", "caltech", "dslr", "webcam")
    assert MNIST_USPS_DOMAINS == ("mnist", "usps")
    assert AMAZON_REVIEWS_DOMAINS == ("books", "dvd", "elec", "kitchen")


# --------------------------------------------------------------------------
# loaders on the real data


@needs_data
@pytest.mark.parametrize(
    "dataset, domain, shape, n_classes",
    [
        ("office_caltech", "amazon", (958, 800), 10),
        ("office_caltech", "caltech", (1123, 800), 10),
        ("office_caltech", "dslr", (157, 800), 10),
        ("office_caltech", "webcam", (295, 800), 10),
        ("mnist_usps", "mnist", (2000, 256), 10),
        ("mnist_usps", "usps", (1800, 256), 10),
        ("amazon_reviews", "books", (2000, 400), 2),
        ("amazon_reviews", "dvd", (1999, 400), 2),
        ("amazon_reviews", "elec", (1998, 400), 2),
        ("amazon_reviews", "kitchen", (1999, 400), 2),
    ],
)
def test_load_domain_shapes_and_labels(dataset, domain, shape, n_classes):
    X, y = load_domain(dataset, domain, data_home=DATA)
    assert X.shape == shape and X.dtype == np.float64
    assert y.shape == (shape[0],) and y.dtype == np.int64
    assert_array_equal(np.unique(y), np.arange(n_classes))


@needs_data
def test_office_caltech_names_and_raw_counts():
    X, y = load_domain("office_caltech", "D", data_home=DATA)
    X2, y2 = load_domain("office_caltech", "DSLR", data_home=DATA)
    assert_array_equal(X, X2)
    assert_array_equal(y, y2)
    # SURF bag-of-words: non-negative integer counts
    assert X.min() >= 0 and np.all(X == np.round(X))


@needs_data
def test_mnist_usps_labels_are_the_digits():
    # The digit 1 has the least ink, and the mean image of the digit 0 is a
    # ring: dark at the centre, bright around it.
    for domain in MNIST_USPS_DOMAINS:
        X, y = load_domain("mnist_usps", domain, data_home=DATA)
        ink = [X[y == digit].mean() for digit in range(10)]
        assert np.argmin(ink) == 1
        zero = X[y == 0].mean(axis=0).reshape(16, 16)
        assert zero[7:9, 7:9].mean() < 0.5 * zero[4:12, 3:5].mean()


@needs_data
def test_load_office_caltech_multi_domain_ids():
    X, y, sd = load_office_caltech(
        ["amazon", "W"], ["dslr", "Caltech"], data_home=DATA, preprocessing=None
    )
    assert X.shape == (958 + 295 + 157 + 1123, 800)
    expected = np.repeat([1, 2, -1, -2], [958, 295, 157, 1123])
    assert_array_equal(sd, expected)
    assert sd.dtype == np.int64 and y.dtype == np.int64
    for name, domain_id in [
        ("amazon", 1),
        ("webcam", 2),
        ("dslr", -1),
        ("caltech", -2),
    ]:
        X_raw, y_raw = load_domain("office_caltech", name, data_home=DATA)
        assert_array_equal(X[sd == domain_id], X_raw)
        assert_array_equal(y[sd == domain_id], y_raw)


@needs_data
def test_l1_zscore_per_domain():
    X, _, sd = load_office_caltech(["A", "W"], "D", data_home=DATA)
    for domain_id in (1, 2, -1):
        block = X[sd == domain_id]
        assert_allclose(block.mean(axis=0), 0, atol=1e-10)
        assert_allclose(block.std(axis=0), 1, atol=1e-10)  # ddof=0
    X_raw, _ = load_domain("office_caltech", "D", data_home=DATA)
    l1 = X_raw / X_raw.sum(axis=1, keepdims=True)
    assert_allclose(X[sd == -1], (l1 - l1.mean(0)) / l1.std(0), atol=1e-10)


@needs_data
def test_other_preprocessings():
    X, _, _ = load_mnist_usps("mnist", "usps", data_home=DATA)  # default "l2"
    assert_allclose(np.linalg.norm(X, axis=1), 1)
    X, _, sd = load_mnist_usps("mnist", "usps", data_home=DATA, preprocessing="zscore")
    for domain_id in (1, -1):
        block = X[sd == domain_id]
        assert_allclose(block.mean(axis=0), 0, atol=1e-10)
        std = block.std(axis=0)
        # constant pixels (e.g. always-black borders) are only centred
        assert np.all(np.isclose(std, 1) | np.isclose(std, 0))
    assert np.all(np.isfinite(X))


@needs_data
def test_load_amazon_reviews():
    X, y, sd = load_amazon_reviews(["books", "dvd"], "electronics", data_home=DATA)
    assert X.shape == (2000 + 1999 + 1998, 400) and X.dtype == np.float64
    assert_array_equal(np.unique(sd), [-1, 1, 2])
    assert_array_equal(np.unique(y), [0, 1])
    assert X.min() >= 0 and X.max() <= 1  # raw mSDA features by default
    X_elec, _ = load_domain("amazon_reviews", "elec", data_home=DATA)
    assert_array_equal(X[sd == -1], X_elec)


@needs_data
def test_env_var_honoured(monkeypatch):
    monkeypatch.setenv("SKTRANSFER_DATA", str(DATA))
    X, y, sd = load_mnist_usps("usps", "mnist")
    assert X.shape == (3800, 256) and y.shape == sd.shape == (3800,)
    assert_array_equal(np.unique(sd), [-1, 1])


# Published 1NN accuracies (MEDA, Wang et al. ACM MM 2018, Tables 2 and 3),
# reproduced on this data by the default preprocessings.
OFFICE_1NN = {
    "CA": 23.7, "CW": 25.8, "CD": 25.5, "AC": 26.0, "AW": 29.8, "AD": 25.5,
    "WC": 19.9, "WA": 23.0, "WD": 59.2, "DC": 26.3, "DA": 28.5, "DW": 63.4,
}  # fmt: skip


@needs_data
@pytest.mark.parametrize("pair", list(OFFICE_1NN))
def test_office_caltech_reproduces_published_1nn(pair):
    X, y, sd = load_office_caltech(pair[0], pair[1], data_home=DATA)
    assert round(_one_nn_accuracy(X, y, sd), 1) == OFFICE_1NN[pair]


@needs_data
@pytest.mark.parametrize(
    "source, target, expected", [("usps", "mnist", 44.7), ("mnist", "usps", 65.9)]
)
def test_mnist_usps_reproduces_published_1nn(source, target, expected):
    X, y, sd = load_mnist_usps(source, target, data_home=DATA)
    assert round(_one_nn_accuracy(X, y, sd), 1) == expected


# ---------------------------------------------------------------------------
# AwA class attributes
# ---------------------------------------------------------------------------
@needs_data
@pytest.mark.parametrize("kind", ["binary", "continuous"])
def test_awa_attributes_table_and_split(kind):
    from sktransfer.datasets import load_awa_attributes

    awa = load_awa_attributes(data_home=DATA, kind=kind)
    assert awa.table.shape == (50, 85)
    assert len(awa.class_names) == 50 and len(awa.attribute_names) == 85
    assert len(awa.seen_classes) == 40 and len(awa.unseen_classes) == 10
    assert set(awa.seen_classes).isdisjoint(awa.unseen_classes)
    assert set(awa.seen_classes) | set(awa.unseen_classes) == set(awa.class_names)
    assert awa.class_names[0] == "antelope" and awa.attribute_names[0] == "black"
    if kind == "binary":
        assert set(np.unique(awa.table)) == {0.0, 1.0}
    else:
        assert awa.table.max() <= 100 and awa.table.min() >= 0 and len(np.unique(awa.table)) > 2


@needs_data
def test_awa_attributes_as_frame_feeds_a_zero_shot_classifier():
    pytest.importorskip("pandas")
    from sktransfer.datasets import load_awa_attributes

    awa = load_awa_attributes(data_home=DATA, as_frame=True)
    assert list(awa.table.index[:2]) == ["antelope", "grizzly+bear"]
    assert awa.table.loc["zebra", "stripes"] == 1.0


def test_awa_attributes_missing_file_names_it(tmp_path):
    from sktransfer.datasets import load_awa_attributes

    with pytest.raises(FileNotFoundError, match="classes.txt.*AwA2"):
        load_awa_attributes(data_home=tmp_path)
    with pytest.raises(ValueError, match="kind"):
        load_awa_attributes(data_home=tmp_path, kind="fuzzy")
