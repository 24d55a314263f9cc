"""The skada runner of the domain adaptation benchmark starts from sktransfer's weights.

(And its KLIEP picks among the same candidate widths as sktransfer's.)

``benchmarks/_skada_runner.py`` runs in its own environment with skada installed;
its networks are plain torch, built after seeding torch as sktransfer does, so
that seed s of the benchmark compares the two libraries from the same starting
weights. skada is not needed here: it receives the network already built.
"""

import importlib.util
import os
import sys
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
import torch
from skorch.callbacks import Callback

from sktransfer import (
    CDANClassifier,
    DANClassifier,
    DANNClassifier,
    DeepCORALClassifier,
    MCCClassifier,
    MDDClassifier,
)
from sktransfer.nn import ConvEncoder

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
RUNNER = BENCHMARKS / "_skada_runner.py"


def _load(path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    with mock.patch.dict(os.environ):  # the runner sets OMP_NUM_THREADS for itself
        spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def runner():
    return _load(RUNNER)


@pytest.fixture(scope="module")
def bench():
    with mock.patch("sys.path", [str(BENCHMARKS), *sys.path]):  # its sibling modules
        return _load(BENCHMARKS / "bench_domain_adaptation.py")


@pytest.fixture(autouse=True)
def _keep_torch_rng():
    state = torch.get_rng_state()
    yield
    torch.set_rng_state(state)


class _InitialWeights(Callback):
    """Keeps the network's weights as training begins (and MDD's f' apart)."""

    def on_train_begin(self, net, **kwargs):
        named = list(net.module_.named_parameters())
        self.weights_ = [p.detach().clone() for name, p in named
                         if name.startswith(("feature_extractor", "label_predictor"))]
        self.auxiliary_ = [p.detach().clone() for name, p in named
                           if name.startswith("auxiliary_classifier")]


_BENCH_NAME = {DANNClassifier: "DANN", DeepCORALClassifier: "DeepCORAL", DANClassifier: "DAN",
               CDANClassifier: "CDAN", MCCClassifier: "MCC", MDDClassifier: "MDD"}


@pytest.mark.parametrize("conv", [False, True], ids=["MLP", "ConvEncoder"])
@pytest.mark.parametrize(
    "cls", [DANNClassifier, DeepCORALClassifier, DANClassifier, CDANClassifier, MCCClassifier,
            MDDClassifier],
    ids=lambda c: c.__name__,
)
@pytest.mark.filterwarnings("ignore:.*every batch repeats:UserWarning")  # 10 + 10 rows
def test_runner_networks_start_from_sktransfers_weights(runner, bench, cls, conv):
    rng = np.random.RandomState(0)
    X = rng.randn(20, 256).astype(np.float32)
    y = np.r_[np.arange(10) % 5, -np.ones(10, int)]
    extra = {"module": ConvEncoder, "module__input_shape": (1, 16, 16)} if conv else {}
    # What the benchmark sends the runner (for MDD: MDDClassifier's default classifiers).
    params = bench._skada_params(_BENCH_NAME[cls], {"max_epochs": 1, "conv": conv})
    for seed in (0, 3):
        est = cls(max_epochs=1, random_state=seed, callbacks=[("initial", _InitialWeights())],
                  **extra).fit(X, y)
        record = dict(est.net_.callbacks_)["initial"]  # the fitted copy
        module, auxiliary = runner._networks(_BENCH_NAME[cls], dict(params), seed, 256, 5)
        theirs = [p.detach() for p in module.parameters()]
        if cls is MDDClassifier:  # f' too, its dropout included
            record.weights_ += record.auxiliary_
            theirs += [p.detach() for p in auxiliary.parameters()]
            assert [m.p for m in auxiliary.modules() if isinstance(m, torch.nn.Dropout)] == [
                m.p for m in est.net_.module_.auxiliary_classifier.modules()
                if isinstance(m, torch.nn.Dropout)] == [0.5]
        else:
            assert auxiliary is None and record.auxiliary_ == []
        assert [w.shape for w in record.weights_] == [w.shape for w in theirs]
        for ours, other in zip(record.weights_, theirs):
            torch.testing.assert_close(ours, other)
    # a network built without the paired seed starts elsewhere: the check can fail
    assert not torch.equal(record.weights_[0], next(runner._Net(256, 5, conv=conv).parameters()))


def test_runner_gives_skada_kliep_the_candidate_widths_of_sktransfer(runner):
    from sktransfer import ImportanceWeightedClassifier
    from sktransfer.domain_adaptation._reweight import _KLIEP_GAMMA_FACTORS

    rng = np.random.RandomState(0)
    X = np.r_[rng.normal(0, 1, (40, 3)), rng.normal(1, 2, (30, 3))].astype(np.float32)
    y = np.r_[rng.randint(0, 2, 40), -np.ones(30, int)]
    clf = ImportanceWeightedClassifier(weighting="kliep", random_state=0).fit(X, y)
    candidates = runner._kliep_gammas(X, _KLIEP_GAMMA_FACTORS)
    assert len(candidates) == len(clf.lcv_scores_)
    assert clf.gamma_ == pytest.approx(candidates[int(np.argmax(clf.lcv_scores_))], rel=1e-12)
    refit = ImportanceWeightedClassifier(weighting="kliep", gamma=candidates, random_state=0).fit(X, y)
    np.testing.assert_allclose(refit.lcv_scores_, clf.lcv_scores_, rtol=1e-9)


def test_runner_anneals_skadas_mdd_as_mdd_classifier_does(runner):
    # skada's loop hides its step count: its MDD gets the factor once per epoch,
    # the rate at the epoch's mean progress, which lies within the rates
    # MDDClassifier used over that epoch.
    from skorch import NeuralNetClassifier

    class _RateSeen(Callback):
        def on_train_begin(self, net, **kwargs):
            self.rates_ = []

        def on_batch_begin(self, net, training=False, **kwargs):
            if training:
                self.rates_.append((len(net.history) - 1, net.optimizer_.param_groups[0]["lr"]))

    rng = np.random.RandomState(0)
    X = rng.randn(120, 4).astype(np.float32)
    y = np.r_[np.arange(60) % 2, -np.ones(60, int)]
    ours = MDDClassifier(max_epochs=5, batch_size=16, random_state=0).fit(X, y)
    n_batches = ours.net_.history[-1]["train_batch_count"]
    seen = _RateSeen()
    NeuralNetClassifier(
        torch.nn.Sequential(torch.nn.Linear(4, 2)), criterion=torch.nn.CrossEntropyLoss,
        optimizer=torch.optim.SGD, lr=0.01, max_epochs=5, batch_size=16, train_split=None,
        callbacks=[runner._annealed_lr_callback(5), seen],
    ).fit(X[:60], y[:60])
    for epoch in range(5):
        rates = [rate for e, rate in seen.rates_ if e == epoch]
        assert rates and np.allclose(rates, ours.lr * runner._annealed_lr_factor(epoch, 5))
        first = ours.lr * (1 + 10 * epoch / 5) ** -0.75  # MDDClassifier's first and last
        last = ours.lr * (1 + 10 * ((epoch + 1) * n_batches - 1) / (5 * n_batches)) ** -0.75
        assert last < rates[0] < first
        assert last == pytest.approx(ours.net_.history[epoch, "lr"])


def test_epoch_time_script_finds_each_task_of_the_benchmark(bench, capsys):
    with mock.patch("sys.path", [str(BENCHMARKS), *sys.path]):
        timing = _load(BENCHMARKS / "bench_da_epoch_time.py")
    letter = bench.LETTER
    for part, domains in (("office", bench.OFFICE), ("amazon", bench.AMAZON),
                          ("digits", ["mnist", "usps"])):
        for s in domains:
            for t in domains:
                if s != t:
                    assert timing._part(f"{letter[s]}→{letter[t]}") == part
    for name in ("C→B", "X→Y", "C→C", "C→A ", "USPS → MNIST", "A", ""):
        assert timing._part(name) is None, name  # mixed parts, unknown, one domain, malformed
    for argv, message in (
        (["--methods", "MDD,NotAMethod"], "unknown method"),
        (["--tasks", "C→A,X→Y"], "unknown task"),
        (["--rounds", "0"], "must be at least 1"),
    ):
        with pytest.raises(SystemExit):
            timing.main([*argv, "--skada-python", sys.executable])
        assert message in capsys.readouterr().err
