"""CNNFeatureExtractor and the bundled EfficientNet-Lite0."""

import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from torch import nn

from sktransfer import CNNFeatureExtractor
from sktransfer.nn import EfficientNetLite0

skimage_data = pytest.importorskip("skimage.data")


@pytest.fixture(scope="module")
def photos():
    return [skimage_data.chelsea(), skimage_data.coffee()]


@pytest.fixture(scope="module")
def imagenet_logits(photos):
    ext = CNNFeatureExtractor(layer="classifier").fit(photos)
    return ext.transform(photos)


class _TinyCNN(nn.Module):
    """Two convolutions and a linear head, fast on CPU."""

    def __init__(self, channels=3):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, 4, 3, padding=1)
        self.conv2 = nn.Conv2d(4, 6, 3, padding=1)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(6, 2)

    def forward(self, x):
        x = torch.relu(self.conv2(torch.relu(self.conv1(x))))
        return self.fc(self.pool(x).flatten(1))


def _tiny(**params):
    torch.manual_seed(0)
    return CNNFeatureExtractor(_TinyCNN(), **params)


# ---------------------------------------------------------------------------
# The bundled network is the real EfficientNet-Lite0 with ImageNet weights
# ---------------------------------------------------------------------------
def test_efficientnet_ranks_the_cat_classes_top3_for_chelsea(imagenet_logits):
    top3 = set(np.argsort(-imagenet_logits[0])[:3])
    assert top3 == {281, 282, 285}  # tabby, tiger cat, Egyptian cat


def test_efficientnet_ranks_espresso_top1_for_coffee(imagenet_logits):
    proba = torch.softmax(torch.as_tensor(imagenet_logits[1]), 0)
    assert proba.argmax().item() == 967
    assert proba[967] > 0.9


def test_default_features_are_the_pooled_1280_codes(photos, imagenet_logits):
    ext = CNNFeatureExtractor().fit(photos)
    codes = ext.transform(photos)
    assert codes.shape == (2, 1280) and codes.dtype == np.float32
    assert ext.layer_ == "classifier"
    # The codes are the classifier's input: applying the head gives the logits.
    head = ext.module_.classifier
    logits = head(torch.as_tensor(codes)).detach().numpy()
    np.testing.assert_allclose(logits, imagenet_logits, rtol=1e-4, atol=1e-4)
    names = ext.get_feature_names_out()
    assert len(names) == 1280 and names[0] == "cnnfeatureextractor0"


@pytest.mark.parametrize("how", ["class", "instance"])
def test_passing_the_bundled_network_keeps_its_preprocessing(photos, imagenet_logits, how):
    # "auto" preprocessing follows the network, not whether module was left out
    module = EfficientNetLite0 if how == "class" else EfficientNetLite0()
    ext = CNNFeatureExtractor(module, layer="classifier").fit(photos)  # photos differ in size
    assert ext._preprocessing() == "efficientnet_lite"
    np.testing.assert_allclose(ext.transform(photos), imagenet_logits, rtol=1e-4, atol=1e-4)


def test_earlier_layer_and_pooling(photos):
    avg = CNNFeatureExtractor(layer="blocks.5").fit_transform(photos)
    mx = CNNFeatureExtractor(layer="blocks.5", pooling="max").fit_transform(photos)
    flat = CNNFeatureExtractor(layer="blocks.5", pooling=None).fit_transform(photos)
    assert avg.shape == mx.shape == (2, 80)
    assert flat.shape == (2, 80 * 14 * 14)
    assert np.all(mx >= avg - 1e-5)
    np.testing.assert_allclose(flat.reshape(2, 80, -1).mean(2), avg, rtol=1e-4, atol=1e-5)


def test_pretrained_weights_loaded_and_random_ones_differ():
    pretrained = EfficientNetLite0()
    random = EfficientNetLite0(pretrained=False)
    assert not torch.equal(pretrained.stem[0].weight, random.stem[0].weight)
    # A new head size keeps every other layer's weights.
    ten = EfficientNetLite0(num_classes=10)
    assert ten.classifier.out_features == 10
    assert torch.equal(ten.blocks[3].depthwise[0].weight, pretrained.blocks[3].depthwise[0].weight)


# ---------------------------------------------------------------------------
# Input forms give the same features
# ---------------------------------------------------------------------------
def test_uint8_float_nchw_pil_and_files_agree(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(3, 40, 48, 3), dtype=np.uint8)
    ext = CNNFeatureExtractor(module__pretrained=False, random_state=0).fit(images)
    ref = ext.transform(images)
    np.testing.assert_allclose(ext.transform(images / 255.0), ref, atol=1e-4)
    np.testing.assert_allclose(ext.transform(images.transpose(0, 3, 1, 2)), ref, atol=1e-5)
    pil = [Image.fromarray(im) for im in images]
    np.testing.assert_allclose(ext.transform(pil), ref, atol=1e-5)
    paths = []
    for i, im in enumerate(pil):
        im.save(tmp_path / f"{i}.png")
        paths.append(str(tmp_path / f"{i}.png"))
    np.testing.assert_allclose(ext.transform(paths), ref, atol=1e-5)
    np.testing.assert_allclose(ext.transform(np.array(paths, dtype=object)), ref, atol=1e-5)
    # one column of paths, as a ColumnTransformer hands it: DataFrame, object or str array
    pd = pytest.importorskip("pandas")
    for column in (pd.DataFrame({"path": paths}), np.array(paths, dtype=object)[:, None],
                   np.array(paths)[:, None]):
        np.testing.assert_allclose(ext.transform(column), ref, atol=1e-5)


def test_files_of_different_sizes_and_grey_images(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(1)
    paths = []
    for i, (h, w) in enumerate([(30, 50), (64, 40), (33, 33)]):
        Image.fromarray(rng.integers(0, 256, (h, w), dtype=np.uint8)).save(tmp_path / f"{i}.jpg")
        paths.append(tmp_path / f"{i}.jpg")
    ext = CNNFeatureExtractor(module__pretrained=False, random_state=0, batch_size=2)
    assert ext.fit_transform(paths).shape == (3, 1280)


@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
@pytest.mark.parametrize("preprocessing", [None, "imagenet"])
def test_read_only_images_reach_torch_as_writable_copies(dtype, preprocessing, torch_refuses_read_only):
    rng = np.random.RandomState(0)
    images = (rng.rand(6, 8, 8, 3) * (255 if dtype == np.uint8 else 1)).astype(dtype)
    images.setflags(write=False)
    codes = _tiny(preprocessing=preprocessing).fit_transform(images)
    assert codes.shape[0] == 6 and np.isfinite(codes).all()


def test_flattened_rows_with_image_shape():
    from sklearn.datasets import load_digits

    X, _ = load_digits(return_X_y=True)
    X = X[:4] / 16.0
    ext = CNNFeatureExtractor(module__pretrained=False, image_shape=(8, 8), random_state=0)
    rows = ext.fit_transform(X)
    images = CNNFeatureExtractor(module__pretrained=False, random_state=0).fit_transform(
        X.reshape(4, 8, 8)
    )
    np.testing.assert_allclose(rows, images, atol=1e-5)


def test_batch_size_channels_last_and_inference_mode_do_not_change_features():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(5, 16, 16, 3), dtype=np.uint8)
    ref = _tiny(batch_size=5).fit_transform(images)
    for params in (
        {"batch_size": 2},
        {"channels_last": False},
        {"inference_mode": False},
    ):
        np.testing.assert_allclose(_tiny(**params).fit_transform(images), ref, atol=1e-5)


def test_user_module_default_layer_is_the_heads_input():
    rng = np.random.default_rng(0)
    images = rng.random((4, 3, 12, 12)).astype(np.float32)
    ext = _tiny().fit(images)
    assert ext.layer_ == "fc"
    codes = ext.transform(images)
    assert codes.shape == (4, 6)
    with torch.no_grad():
        x = torch.as_tensor(images)
        expected = ext.module_.pool(torch.relu(ext.module_.conv2(torch.relu(ext.module_.conv1(x)))))
    np.testing.assert_allclose(codes, expected.flatten(1).numpy(), atol=1e-5)


def test_module_without_linear_returns_its_output_and_imagenet_preprocessing():
    module = nn.Sequential(nn.Conv2d(3, 5, 3), nn.ReLU())
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(2, 20, 20, 3), dtype=np.uint8)
    ext = CNNFeatureExtractor(module, preprocessing="imagenet").fit(images)
    assert ext.layer_ is None
    assert ext.transform(images).shape == (2, 5)


def test_callable_preprocessing_receives_the_pixels():
    seen = []

    def scale(x):
        seen.append(x.shape)
        return x / 255.0

    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(3, 10, 10, 3), dtype=np.uint8)
    out = _tiny(preprocessing=scale).fit_transform(images)
    assert out.shape == (3, 6)
    assert seen[-1] == (3, 3, 10, 10)


def test_reading_files_holds_one_batch_at_a_time(tmp_path, monkeypatch):
    from PIL import Image

    from sktransfer.feature_extraction import _images

    rng = np.random.default_rng(0)
    paths = []
    for i in range(7):
        Image.fromarray(rng.integers(0, 256, (12, 12, 3), dtype=np.uint8)).save(tmp_path / f"{i}.png")
        paths.append(tmp_path / f"{i}.png")
    loaded = []
    read = _images._read_image
    monkeypatch.setattr(_images, "_read_image", lambda p: loaded.append(p) or read(p))
    ext = _tiny(batch_size=3).fit(paths)
    assert len(loaded) == 1  # fit reads the first image only
    loaded.clear()
    sizes = []
    original = ext._extract

    def extract(batch):
        sizes.append(len(batch))
        return original(batch)

    ext._extract = extract
    assert ext.transform(paths).shape == (7, 6)
    assert sizes == [3, 3, 1] and len(loaded) == 7


def test_progress_bar_only_when_verbose(capsys):
    images = np.zeros((3, 8, 8, 3), dtype=np.uint8)
    _tiny().fit_transform(images)
    assert capsys.readouterr().err == ""
    _tiny(verbose=1).fit_transform(images)
    assert "3/3" in capsys.readouterr().err


# ---------------------------------------------------------------------------
# Composition
# ---------------------------------------------------------------------------
def test_pipeline_clone_and_pickle():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(20, 12, 12, 3), dtype=np.uint8)
    y = np.arange(20) % 2
    images[y == 1, :6] = 255  # a visible difference between the classes
    pipe = make_pipeline(_tiny(), LogisticRegression()).fit(images, y)
    assert pipe.score(images, y) >= 0.9
    ext = pipe[0]
    restored = pickle.loads(pickle.dumps(ext))
    np.testing.assert_array_equal(restored.transform(images), ext.transform(images))
    fresh = clone(ext)
    assert not hasattr(fresh, "module_")


def test_seeded_class_module_is_reproducible():
    X = np.random.default_rng(0).random((5, 7))
    from sktransfer.nn import MLP

    a = CNNFeatureExtractor(MLP, random_state=3).fit_transform(X)
    b = CNNFeatureExtractor(MLP, random_state=3).fit_transform(X)
    np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------------------
# Bad input gets a clear error
# ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "images, message",
    [
        (np.zeros((2, 8, 8, 4), dtype=np.uint8), "neither 1 nor 3 channels"),
        (np.zeros((2, 3, 8, 8, 3), dtype=np.uint8), "rank 3"),
        (np.zeros((2, 3, 8, 3), dtype=np.uint8), "cannot tell the channel axis"),
        (np.full((2, 8, 8, 3), 7.5), r"float images must hold pixels in \[0, 1\]"),
        (np.full((2, 8, 8, 3), 300, dtype=np.int64), "0..255"),
        (np.zeros((2, 10)), "image_shape"),
        # one colour image without its batch axis: not 20 grey images of 16x3
        (np.zeros((20, 16, 3), dtype=np.uint8), r"looks like one colour image.*X\[None\]"),
        # NaN in an image of a list, which skips the array checks
        ([np.full((8, 8, 3), np.nan)], "contains NaN or infinity"),
    ],
)
def test_wrong_images_are_refused(images, message):
    with pytest.raises(ValueError, match=message):
        CNNFeatureExtractor(module__pretrained=False).fit(images)


def test_missing_and_unreadable_files_are_named(tmp_path):
    missing = tmp_path / "missing.png"
    with pytest.raises(ValueError, match="missing.png.*no such file"):
        _tiny().fit([missing])
    bad = tmp_path / "notes.png"
    bad.write_text("not an image")
    with pytest.raises(ValueError, match="notes.png"):
        _tiny().fit([bad])
    # A bad file later in the list is named at transform time.
    from PIL import Image

    good = tmp_path / "good.png"
    Image.fromarray(np.zeros((8, 8, 3), dtype=np.uint8)).save(good)
    ext = _tiny().fit([good])
    with pytest.raises(ValueError, match="notes.png"):
        ext.transform([good, bad])


def test_unknown_layer_lists_the_valid_names():
    with pytest.raises(ValueError, match="layer='conv9'.*'conv1', 'conv2', 'pool', 'fc'"):
        _tiny(layer="conv9").fit(np.zeros((2, 8, 8, 3), dtype=np.uint8))


@pytest.mark.parametrize(
    "params, error, message",
    [
        ({"pooling": "median"}, ValueError, "pooling"),
        ({"preprocessing": "vgg"}, ValueError, "preprocessing"),
        ({"data_format": "nhwc"}, ValueError, "data_format"),
        ({"image_shape": (8, 0)}, ValueError, "image_shape"),
        ({"batch_size": 0}, ValueError, "batch_size"),
        ({"layer": 3}, TypeError, "layer"),
        ({"device": "cuda:99"} if torch.cuda.is_available() else {"device": "cuda"}, ValueError, "device"),
        ({"module__depth": 3}, TypeError, "module instance"),
    ],
)
def test_bad_parameters(params, error, message):
    with pytest.raises((error, TypeError, ValueError), match=message):
        _tiny(**params).fit(np.zeros((2, 8, 8, 3), dtype=np.uint8))


def test_wrong_channel_count_for_the_module_is_a_clear_error():
    grey = np.zeros((2, 8, 8, 1), dtype=np.uint8)
    with pytest.raises(ValueError, match="network failed on the first image"):
        _tiny().fit(grey)


def test_transform_width_mismatch_for_rows():
    from sktransfer.nn import MLP

    ext = CNNFeatureExtractor(MLP).fit(np.zeros((3, 5)))
    with pytest.raises(ValueError, match="5 features"):
        ext.transform(np.zeros((3, 4)))


def test_unsupported_items():
    with pytest.raises(TypeError, match="item 1 is a int"):
        _tiny().fit([np.zeros((8, 8, 3), dtype=np.uint8), 3])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_cpu(photos):
    cpu = CNNFeatureExtractor().fit_transform(photos)
    gpu = CNNFeatureExtractor(device="cuda").fit_transform(photos)
    np.testing.assert_allclose(gpu, cpu, rtol=1e-2, atol=1e-2)
