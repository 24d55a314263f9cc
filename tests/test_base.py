"""Unit tests of the shared pieces: base validation helpers, parameter and
module machinery of TransferNetBase, the nn building blocks, the batch
iterators and the estimator registry."""

from __future__ import annotations

import inspect
import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from numpy.testing import assert_array_equal
from sklearn.base import BaseEstimator, clone
from torch import nn

import sktransfer
from sktransfer._batching import BatchIterator, DomainBatchIterator, n_domain_batches
from sktransfer.base import (
    UNLABELLED,
    TransferNetBase,
    _check_sample_domain,
    _labelled_mask,
)
from sktransfer.nn import MLP, ConvEncoder, GradientReversal
from sktransfer.utils import all_estimators


# ----------------------------------------------------------------------
# _check_sample_domain
# ----------------------------------------------------------------------
def test_check_sample_domain_accepts_integer_ids():
    out = _check_sample_domain([1, 2, -1, -3], 4)
    assert out.dtype == np.int64
    assert_array_equal(out, [1, 2, -1, -3])


@pytest.mark.parametrize(
    "sample_domain",
    [
        np.array([1.0, 1.0, -1.0]),
        np.array([[1], [1], [-1]]),
        np.array([1, 1, -1], dtype=np.int8),
        np.array([1, 1, -1], dtype=np.int16),
    ],
    ids=["integral-floats", "column", "int8", "int16"],
)
def test_check_sample_domain_normalises(sample_domain):
    out = _check_sample_domain(sample_domain, 3)
    assert out.dtype == np.int64 and out.shape == (3,)
    assert_array_equal(out, [1, 1, -1])


def test_check_sample_domain_allows_only_source_ids():
    # "No target domain" is the estimator's business (no_target), not the helper's.
    assert_array_equal(_check_sample_domain([1, 2, 2], 3), [1, 2, 2])


@pytest.mark.parametrize(
    "sample_domain, n, error, match",
    [
        ([1, -1], 3, ValueError, "sample_domain has 2 entries but X has 3 rows"),
        ([1, 0, -1], 3, ValueError, "must not contain 0"),
        ([0.5, 1, -1], 3, TypeError, "integer domain ids"),
        (["s", "s", "t"], 3, TypeError, "integer domain ids"),
        ([-1, -2, -1], 3, ValueError, "no source domain"),
    ],
)
def test_check_sample_domain_errors(sample_domain, n, error, match):
    with pytest.raises(error, match=match):
        _check_sample_domain(sample_domain, n)


# ----------------------------------------------------------------------
# _labelled_mask
# ----------------------------------------------------------------------
@pytest.mark.parametrize(
    "y, expected",
    [
        (np.array([0, 1, -1, 2]), [True, True, False, True]),
        (np.array([0.0, -1.0, 1.0]), [True, False, True]),
        (np.array([3, -1, 7], dtype=object), [True, False, True]),
        (np.array([np.int64(-1), 4], dtype=object), [False, True]),
        (np.array(["a", "b"]), [True, True]),
        (np.array([-1, -1]), [False, False]),
    ],
)
def test_labelled_mask(y, expected):
    assert_array_equal(_labelled_mask(y), expected)
    assert UNLABELLED == -1


@pytest.mark.parametrize("dtype", [object, str, bytes])
def test_labelled_mask_refuses_the_string_minus_one(dtype):
    # neither a class nor the mark: most likely the mark read from a text file
    with pytest.raises(ValueError, match="string '-1' \\(1 rows\\)"):
        _labelled_mask(np.array(["a", "-1"], dtype=dtype))


def test_labelled_mask_takes_names_mixed_with_minus_one():
    # as scikit-learn's semi-supervised estimators: the number -1 beside class names
    assert_array_equal(_labelled_mask(np.array(["a", "b", -1], dtype=object)), [True, True, False])


# ----------------------------------------------------------------------
# GradientReversal
# ----------------------------------------------------------------------
@pytest.mark.parametrize("coef", [1.0, 0.5, 0.0, 2.0])
def test_gradient_reversal(coef):
    torch.manual_seed(0)
    x = torch.randn(4, 3, requires_grad=True)
    upstream = torch.randn(4, 3)
    layer = GradientReversal(coef)
    out = layer(x)
    assert torch.equal(out, x)  # identity forward
    (out * upstream).sum().backward()
    assert torch.allclose(x.grad, -coef * upstream)


def test_gradient_reversal_coef_can_change_between_calls():
    layer = GradientReversal()
    assert layer.coef == 1.0
    layer.coef = 0.25
    x = torch.ones(2, requires_grad=True)
    layer(x).sum().backward()
    assert torch.allclose(x.grad, torch.full((2,), -0.25))
    assert "coef=0.25" in repr(layer)


def test_gradient_reversal_only_reverses_its_branch():
    x = torch.ones(3, requires_grad=True)
    (x.sum() + GradientReversal(1.0)(x).sum()).backward()
    assert torch.allclose(x.grad, torch.zeros(3))


# ----------------------------------------------------------------------
# MLP, ConvEncoder
# ----------------------------------------------------------------------
@pytest.mark.parametrize(
    "hidden, n_outputs, width",
    [((64, 64), None, 64), ((8,), None, 8), ((8, 4), 3, 3), ((), 5, 5)],
)
def test_mlp_shapes(hidden, n_outputs, width):
    mlp = MLP(n_features_in=6, hidden_layer_sizes=hidden, n_outputs=n_outputs)
    assert mlp(torch.zeros(7, 6)).shape == (7, width)
    assert mlp.n_features_out == width


@pytest.mark.filterwarnings("ignore:.*:DeprecationWarning")  # TorchScript is deprecated
def test_mlp_takes_rows_only_and_stays_scriptable():
    # other shapes are refused in words, and the check keeps TorchScript working
    mlp = MLP(n_features_in=3, hidden_layer_sizes=(4,))
    with pytest.raises(ValueError, match=r"2-D .* got shape \[2, 5, 3\]"):
        mlp(torch.zeros(2, 5, 3))
    scripted = torch.jit.script(mlp)
    torch.testing.assert_close(scripted(torch.ones(2, 3)), mlp(torch.ones(2, 3)))


def test_mlp_feature_output_is_activated_and_logits_are_not():
    features = MLP(2, (8,), activation=nn.ReLU)
    assert isinstance(features.layers[-1], nn.ReLU)
    logits = MLP(2, (8,), n_outputs=2)
    assert isinstance(logits.layers[-1], nn.Linear)
    dropped = MLP(2, (8, 8), dropout=0.5)
    assert sum(isinstance(m, nn.Dropout) for m in dropped.layers) == 2


@pytest.mark.parametrize(
    "input_shape, channels, n_out",
    [((1, 8, 8), (4, 8), 16), ((3, 16, 16), (32, 48), 100), ((1, 28, 28), (2,), 10)],
)
def test_conv_encoder_shapes(input_shape, channels, n_out):
    torch.manual_seed(0)
    enc = ConvEncoder(
        input_shape=input_shape, channels=channels, n_features_out=n_out
    ).eval()
    images = torch.randn(5, *input_shape)
    out = enc(images)
    assert out.shape == (5, n_out)
    assert enc.n_features_out == n_out
    # Flattened pixel rows are reshaped to the same images.
    assert torch.allclose(enc(images.reshape(5, -1)), out)


def test_conv_encoder_refuses_rows_of_the_wrong_pixel_count():
    enc = ConvEncoder(input_shape=(1, 8, 8))
    with pytest.raises(ValueError, match=r"expects rows of 64 pixels .*got 50"):
        enc(torch.zeros(2, 50))


def test_conv_encoder_refuses_a_bad_input_shape():
    with pytest.raises(
        ValueError, match=r"input_shape must be \(channels, height, width\)"
    ):
        ConvEncoder(input_shape=(28, 28))


# ----------------------------------------------------------------------
# Registry
# ----------------------------------------------------------------------
def test_all_estimators_lists_public_estimator_classes():
    estimators = all_estimators()
    names = [name for name, _ in estimators]
    assert "DANNClassifier" in names
    assert dict(estimators)["DANNClassifier"] is sktransfer.DANNClassifier
    assert names == sorted(names)
    assert len(names) == len(set(names))
    for name, cls in estimators:
        assert inspect.isclass(cls) and issubclass(cls, BaseEstimator)
        assert name == cls.__name__ and not name.startswith("_")
        assert cls.__module__.startswith("sktransfer.")
        assert not inspect.isabstract(cls)
        assert getattr(sktransfer, name) is cls, f"{name} is not exported by sktransfer"
    assert "TransferNetBase" not in names


# ----------------------------------------------------------------------
# Batch iterators
# ----------------------------------------------------------------------
def _dataset(n_source, n_target, n_features=2):
    n = n_source + n_target
    X = torch.arange(n * n_features, dtype=torch.float32).reshape(n, n_features)
    domain = torch.cat(
        [
            torch.zeros(n_source, dtype=torch.int64),
            torch.ones(n_target, dtype=torch.int64),
        ]
    )
    labels = torch.where(domain == 0, torch.arange(n) % 2, torch.full((n,), -1))
    y = torch.stack([labels, domain], dim=1)
    return SimpleNamespace(X=X, y=y)


def _row_ids(batch_X, n_features=2):
    return (batch_X[:, 0] / n_features).long()


@pytest.mark.parametrize(
    "n_source, n_target, batch_size, n_batches",
    [(100, 30, 16, 13), (20, 50, 10, 10), (64, 64, 64, 2), (10, 10, 3, 10)],
)
def test_domain_batch_iterator_composition(n_source, n_target, batch_size, n_batches):
    half = batch_size // 2
    assert n_domain_batches(n_source, n_target, batch_size) == n_batches
    iterator = DomainBatchIterator(_dataset(n_source, n_target), batch_size=batch_size)
    assert len(iterator) == n_batches
    with torch.random.fork_rng():
        torch.manual_seed(0)
        batches = list(iterator)
    assert len(batches) == n_batches
    seen = []
    for Xi, yi in batches:
        assert len(Xi) == len(yi) == 2 * half
        assert int((yi[:, 1] == 0).sum()) == half
        assert int((yi[:, 1] == 1).sum()) == half
        ids = _row_ids(Xi)
        # X and y rows stay aligned.
        assert torch.equal(yi[:, 1], (ids >= n_source).long())
        seen.append(ids)
    seen = torch.cat(seen)
    source_seen, target_seen = seen[seen < n_source], seen[seen >= n_source]
    # The larger domain is passed over once; the smaller is cycled through whole.
    counts_s = torch.bincount(source_seen, minlength=n_source)
    counts_t = torch.bincount(target_seen - n_source, minlength=n_target)
    assert counts_s.min() >= 1 and counts_t.min() >= 1
    slots = n_batches * half
    assert counts_s.max() <= math.ceil(slots / n_source)
    assert counts_t.max() <= math.ceil(slots / n_target)


def test_domain_batch_iterator_is_shuffled_by_the_torch_rng():
    dataset = _dataset(40, 40)

    def order(seed):
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            return torch.cat(
                [_row_ids(Xi) for Xi, _ in DomainBatchIterator(dataset, 16)]
            )

    assert torch.equal(order(0), order(0))
    assert not torch.equal(order(0), order(1))
    assert not torch.equal(order(0), torch.sort(order(0)).values)


def test_domain_batch_iterator_without_target_rows():
    iterator = DomainBatchIterator(_dataset(50, 0), batch_size=16)
    assert len(iterator) == math.ceil(50 / 16) == n_domain_batches(50, 0, 16)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        batches = list(iterator)
    assert [len(Xi) for Xi, _ in batches] == [16, 16, 16, 2]
    ids = torch.cat([_row_ids(Xi) for Xi, _ in batches])
    assert torch.equal(torch.sort(ids).values, torch.arange(50))  # each row once


@pytest.mark.parametrize("with_y", [True, False])
def test_batch_iterator_covers_all_rows_in_order(with_y):
    data = _dataset(7, 3)
    if not with_y:
        data.y = None
    iterator = BatchIterator(data, batch_size=4)
    assert len(iterator) == 3
    batches = list(iterator)
    assert [len(Xi) for Xi, _ in batches] == [4, 4, 2]
    assert torch.equal(torch.cat([Xi for Xi, _ in batches]), data.X)
    if with_y:
        assert torch.equal(torch.cat([yi for _, yi in batches]), data.y)
    else:
        assert all(yi is None for _, yi in batches)


def test_batch_iterator_takes_numpy_arrays():
    data = SimpleNamespace(X=np.arange(10, dtype=np.float32).reshape(5, 2), y=None)
    Xs = [Xi for Xi, _ in BatchIterator(data, batch_size=2)]
    assert all(isinstance(Xi, torch.Tensor) for Xi in Xs)
    assert_array_equal(torch.cat(Xs).numpy(), data.X)


# ----------------------------------------------------------------------
# TransferNetBase machinery, on a minimal subclass
# ----------------------------------------------------------------------
class ToyNet(TransferNetBase):
    _module_params = ("module", "head")

    def __init__(
        self,
        module=None,
        *,
        head=None,
        max_epochs=1,
        batch_size=2,
        lr=0.1,
        optimizer=torch.optim.SGD,
        callbacks=None,
        device="cpu",
        random_state=None,
        **kwargs,
    ):
        self.module = module
        self.head = head
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.optimizer = optimizer
        self.callbacks = callbacks
        self.device = device
        self.random_state = random_state
        self._store_kwargs(kwargs)


class Plain(nn.Module):
    def __init__(self, width=3):
        super().__init__()
        self.width = width


class TakesAnything(nn.Module):
    def __init__(self, **kwargs):
        super().__init__()
        self.kwargs = kwargs


def test_prefixed_kwargs_in_get_params_set_params_and_clone():
    net = ToyNet(module__width=4, optimizer__momentum=0.5)
    params = net.get_params()
    assert params["module__width"] == 4 and params["optimizer__momentum"] == 0.5
    net.set_params(module__width=5, head__width=2, lr=0.2)
    assert net.get_params()["module__width"] == 5
    assert net.get_params()["head__width"] == 2
    assert net.lr == 0.2
    assert net._params_for("module") == {"width": 5}
    assert net._params_for("optimizer") == {"momentum": 0.5}
    cloned = clone(net)
    assert cloned.get_params() == net.get_params()
    net._check_common_params()  # all known prefixes: no error


@pytest.mark.parametrize("key", ["foo", "modul__x", "head_x", "criterion__y"])
def test_unknown_kwargs_are_refused_at_check_time(key):
    # at fit, not in __init__ or set_params (scikit-learn's convention, which
    # check_estimator checks)
    net = ToyNet(**{key: 1})
    assert net.get_params()[key] == 1
    with pytest.raises(TypeError, match=f"unexpected keyword argument '{key}'"):
        net._check_common_params()


def test_score_refuses_rows_of_another_length():
    # scikit-learn's error for inconsistent lengths, not an IndexError
    from sklearn.datasets import make_blobs

    from sktransfer import LabelledOnly, MultiTaskClassifier

    X, y = make_blobs(40, n_features=4, centers=3, random_state=0)
    for est in (LabelledOnly().fit(X, y), MultiTaskClassifier(max_epochs=1).fit(X, y)):
        for args in ((X, y[:10]), (X, y, np.ones(5))):
            with pytest.raises(ValueError, match="inconsistent numbers of samples"):
                est.score(*args)


def test_build_module_from_class_with_kwargs_and_injection():
    net = ToyNet(module=MLP, module__hidden_layer_sizes=(3,))
    built = net._build_module("module", n_features_in=5, not_accepted=1)
    assert isinstance(built, MLP)
    assert built(torch.zeros(2, 5)).shape == (2, 3)
    # A user value wins over an injected one.
    net = ToyNet(module=MLP, module__n_features_in=4)
    assert net._build_module("module", n_features_in=5).layers[0].in_features == 4
    # A class without the injected parameter does not get it; **kwargs does.
    assert ToyNet(module=Plain)._build_module("module", n_features_in=5).width == 3
    assert ToyNet(module=TakesAnything)._build_module(
        "module", n_features_in=5
    ).kwargs == {"n_features_in": 5}
    # None falls back on the default class.
    assert isinstance(ToyNet()._build_module("module", MLP, n_features_in=2), MLP)


def test_build_module_deep_copies_an_instance():
    instance = MLP(2, (3,))
    built = ToyNet(module=instance)._build_module("module")
    assert built is not instance
    assert built.layers[0].weight is not instance.layers[0].weight
    assert torch.equal(built.layers[0].weight, instance.layers[0].weight)


@pytest.mark.parametrize(
    "params, error, match",
    [
        (
            {"module": MLP(2), "module__dropout": 0.1},
            ValueError,
            "module is a module instance",
        ),
        (
            {"module": 3},
            TypeError,
            "module must be a torch.nn.Module class or instance",
        ),
        ({"module": MLP, "module__bogus": 1}, TypeError, "could not build module"),
        ({"module": lambda: "not a module"}, TypeError, "must build a torch.nn.Module"),
    ],
)
def test_build_module_errors(params, error, match):
    with pytest.raises(error, match=match):
        ToyNet(**params)._build_module("module", n_features_in=2)


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")
@pytest.mark.parametrize(
    "device, match",
    [
        ("cuda", "CUDA is not available"),
        ("cuda:1", "CUDA is not available"),
        ("nonsense", "device must be a torch device"),
        (3.5, "device must be a torch device"),
    ],
)
def test_device_errors(device, match):
    with pytest.raises(ValueError, match=match):
        ToyNet(device=device)._device()


def test_cpu_device():
    assert ToyNet(device="cpu")._device() == torch.device("cpu")
    assert ToyNet(device=torch.device("cpu"))._device().type == "cpu"


def test_seeded_rng_context_is_reproducible_and_restores_the_global_rng():
    torch.manual_seed(7)
    before = torch.get_rng_state()
    with ToyNet(random_state=0)._rng_context():
        a = torch.rand(3)
    with ToyNet(random_state=0)._rng_context():
        b = torch.rand(3)
    with ToyNet(random_state=1)._rng_context():
        c = torch.rand(3)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert torch.equal(torch.get_rng_state(), before)
    assert ToyNet(random_state=0)._seed() == ToyNet(random_state=0)._seed()


def test_validate_training_data_encodes_labels_and_domains():
    net = ToyNet()
    X = np.arange(12, dtype=float).reshape(6, 2)
    y = np.array([7, 3, 7, -1, -1, 3])
    X_out, y_enc, is_target = net._validate_training_data(X, y)
    assert X_out.dtype == np.float32
    assert_array_equal(net.classes_, [3, 7])
    assert net.n_features_in_ == 2
    assert_array_equal(y_enc, [1, 0, 1, -1, -1, 0])
    assert_array_equal(is_target, [False, False, False, True, True, False])
    # With sample_domain, labelled rows can be target rows.
    _, _, is_target = net._validate_training_data(X, y, [1, 1, -1, -1, -2, 2])
    assert_array_equal(is_target, [False, False, True, True, True, False])
