"""Conventions every estimator that trains a torch network keeps (DESIGN.md 8):
seeded by ``random_state`` alone, the global torch RNG left as it was,
training batches shuffled, and a fit whose loss stops being finite stopped
with an error."""

import numpy as np
import pytest
import torch
from numpy.testing import assert_array_equal
from sklearn.datasets import make_blobs
from skorch.callbacks import Callback
from torch import nn

from sktransfer import (
    DANNClassifier,
    MultiTaskClassifier,
    ProgressiveNetClassifier,
    SelfTaughtTransformer,
)

X, y = make_blobs(n_samples=80, centers=3, n_features=4, random_state=0)
X = X.astype(np.float32)

NETS = {
    "dann": lambda rs: DANNClassifier(max_epochs=3, no_target="source_only", random_state=rs),
    "multitask": lambda rs: MultiTaskClassifier(max_epochs=3, random_state=rs),
    "progressive": lambda rs: ProgressiveNetClassifier(
        max_epochs=3, hidden_layer_sizes=(16,), random_state=rs
    ),
    "autoencoder": lambda rs: SelfTaughtTransformer(
        method="autoencoder", n_components=8, fit_on="all", max_epochs=3, random_state=rs
    ),
}


def _output(est):
    est.fit(X, y)
    return est.transform(X) if hasattr(est, "transform") and not hasattr(
        est, "predict_proba") else est.predict_proba(X)


@pytest.mark.parametrize("name", NETS)
def test_seeded_by_random_state_only(name):
    torch.manual_seed(123)
    state = torch.get_rng_state()
    first = _output(NETS[name](0))
    assert torch.equal(torch.get_rng_state(), state), "fit changed the global torch RNG"
    assert_array_equal(first, _output(NETS[name](0)))
    assert not np.allclose(first, _output(NETS[name](1)))


@pytest.mark.parametrize("name", ["multitask", "progressive", "autoencoder"])
def test_training_batches_are_shuffled(name):
    est = NETS[name](0).fit(X, y)
    assert est.net_.iterator_train__shuffle is True


def test_module_instance_with_parameters_is_refused():
    with pytest.raises(ValueError, match="head is a module instance"):
        MultiTaskClassifier(head=nn.Linear(256, 3), head__bias=False, max_epochs=1).fit(X, y)


@pytest.mark.parametrize("lr", [True, float("inf"), float("nan")])
def test_boolean_or_infinite_lr_is_refused(lr):
    with pytest.raises(ValueError, match="lr must be a positive finite number"):
        DANNClassifier(lr=lr, no_target="source_only").fit(X, y)


class _PoisonWeights(Callback):
    """Sets every weight to nan after the first training batch (a diverged step)."""

    def on_batch_end(self, net, training=None, **kwargs):
        if training and len(net.history) == 1 and len(net.history[-1, "batches"]) == 1:
            with torch.no_grad():
                for param in net.module_.parameters():
                    param.fill_(float("nan"))


@pytest.mark.parametrize("name", NETS)
def test_a_diverged_fit_raises(name):
    est = NETS[name](0).set_params(callbacks=[_PoisonWeights()])
    with pytest.raises(FloatingPointError, match=r"training loss became nan at epoch \d+, batch \d+; training diverged"):
        est.fit(X, y)



@pytest.mark.parametrize("name", NETS)
def test_callbacks_watching_a_validation_score_are_refused(name):
    # the nets train on every row given (no validation split): skorch's defaults for
    # EarlyStopping and Checkpoint watch valid_loss, which never exists here
    from skorch.callbacks import Checkpoint, EarlyStopping

    for callback in (EarlyStopping(), ("best", Checkpoint(dirname="unused"))):
        est = NETS[name](0).set_params(callbacks=[callback])
        with pytest.raises(ValueError, match=r"monitor='valid_loss.*no validation split.*train_loss"):
            est.fit(X, y)
    NETS[name](0).set_params(callbacks=[EarlyStopping(monitor="train_loss", patience=1)]).fit(X, y)
    # skorch's callbacks__<name>__monitor override counts, and a key of the user's own
    # (recorded by another callback) is theirs to watch
    NETS[name](0).set_params(
        callbacks=[("es", EarlyStopping(patience=1))], callbacks__es__monitor="train_loss"
    ).fit(X, y)
    est = NETS[name](0).set_params(callbacks=[EarlyStopping(monitor="valid_custom")])
    assert est._user_callbacks()[0].monitor == "valid_custom"


def test_iterator_options_drop_last_and_unknown_ones():
    # 65 rows in batches of 32 leave a last batch of one row, which BatchNorm refuses in
    # training; drop_last (skorch's usual fix) drops it. Options the tensor-indexing
    # iterators do not have are refused by name instead of being ignored.
    from sktransfer import FineTuneClassifier

    X65, y65 = X[:65], y[:65]
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 3))
    clf = FineTuneClassifier(net, max_epochs=2, batch_size=32, random_state=0,
                             iterator_train__drop_last=True).fit(X65, y65)
    assert len(clf.net_.history[-1, "batches"]) == 2
    assert clf.predict(X65).shape == (65,)  # prediction keeps every row
    with pytest.raises(TypeError, match=r"iterator_train options \['num_workers'\] are not taken"):
        NETS["multitask"](0).set_params(iterator_train__num_workers=2).fit(X, y)
    with pytest.raises(ValueError, match="iterator_valid__drop_last would drop rows"):
        NETS["dann"](0).set_params(iterator_valid__drop_last=True).fit(X, y)


@pytest.mark.parametrize("name", NETS)
def test_prediction_iterator_options_are_checked_before_training(name):
    # prediction batches are built at predict time: an option they cannot take, or one
    # that would reorder the rows of the predictions, is refused by fit, before training
    with pytest.raises(ValueError, match="iterator_valid__shuffle would reorder the rows"):
        NETS[name](0).set_params(iterator_valid__shuffle=True).fit(X, y)
    if name != "autoencoder":  # (skorch's DataLoader takes its own options)
        with pytest.raises(TypeError, match=r"iterator_valid options \['pin_memory'\] are not taken"):
            NETS[name](0).set_params(iterator_valid__pin_memory=False).fit(X, y)


def test_domain_batches_cannot_be_unshuffled():
    # each DA training batch draws half source, half target rows at random
    Xt = np.r_[X, X + 1]
    yt = np.r_[y, -np.ones(len(X), int)]
    with pytest.raises(ValueError, match="iterator_train__shuffle=False is not possible"):
        DANNClassifier(max_epochs=1, iterator_train__shuffle=False).fit(Xt, yt)


def test_callbacks_are_named_as_skorch_names_them():
    # an unnamed callback is reached by its class name (with _1, _2... for repeats), as
    # in skorch; a name the estimator's own callbacks use is refused by name
    from skorch.callbacks import EarlyStopping

    est = NETS["dann"](0).set_params(
        callbacks=[EarlyStopping()], callbacks__EarlyStopping__monitor="train_loss"
    ).fit(X, y)
    assert est.net_.callbacks_[-1][0] == "EarlyStopping"
    est = NETS["dann"](0).set_params(
        callbacks=[EarlyStopping(monitor="train_loss"), EarlyStopping()],
        callbacks__EarlyStopping_2__monitor="train_loss",
    ).fit(X, y)
    assert dict(est.net_.callbacks_)["EarlyStopping_2"].monitor == "train_loss"
    with pytest.raises(ValueError, match=r"monitor='valid_loss'"):
        NETS["dann"](0).set_params(
            callbacks=[EarlyStopping(monitor="train_loss"), EarlyStopping()]
        ).fit(X, y)
    # a callback class (skorch builds it) is read by its defaults, a [name, cb] list as a tuple
    with pytest.raises(ValueError, match=r"EarlyStopping\(monitor='valid_loss'\)"):
        NETS["dann"](0).set_params(callbacks=[EarlyStopping]).fit(X, y)
    with pytest.raises(ValueError, match=r"monitor='valid_loss'"):
        NETS["dann"](0).set_params(callbacks=[["es", EarlyStopping()]]).fit(X, y)
    for name in ("finite_loss", "dann_schedule"):
        with pytest.raises(ValueError, match=f"the callback name '{name}' is taken by DANNClassifier"):
            NETS["dann"](0).set_params(callbacks=[(name, EarlyStopping(monitor="train_loss"))]).fit(X, y)


@pytest.mark.parametrize("name", NETS)
def test_scoring_callbacks_are_refused(name):
    # EpochScoring / BatchScoring would score the inner net (class scores, internal
    # targets), or, with no validation split, silently record nothing
    from skorch.callbacks import BatchScoring, EpochScoring

    for callback in (EpochScoring("accuracy", on_train=True), EpochScoring("accuracy"),
                     BatchScoring("accuracy", on_train=True), EpochScoring,
                     ["score", EpochScoring("accuracy", on_train=True)]):
        with pytest.raises(TypeError, match="scores the inner skorch net"):
            NETS[name](0).set_params(callbacks=[callback]).fit(X, y)


def test_lr_scheduler_and_a_built_in_schedule_are_not_combined():
    # the built-in schedules set every group's rate at every batch: a user's scheduler
    # would be undone silently; with the constant schedule it works
    from skorch.callbacks import LRScheduler

    from sktransfer import FineTuneClassifier

    step = LRScheduler(policy="StepLR", step_size=1, gamma=0.1)
    with pytest.raises(ValueError, match="lr_schedule='dann' sets the learning rate"):
        NETS["dann"](0).set_params(callbacks=[step], lr_schedule="dann").fit(X, y)
    net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    with pytest.raises(ValueError, match="lr_schedule='slanted_triangular' sets the learning rate"):
        FineTuneClassifier(net, max_epochs=2, lr_schedule="slanted_triangular",
                           callbacks=[step]).fit(X, y)
    est = NETS["dann"](0).set_params(callbacks=[step], lr=0.01).fit(X, y)
    np.testing.assert_allclose(est.net_.history[:, "lr"], [0.01, 0.001, 0.0001])


@pytest.mark.parametrize("name", ["dann", "multitask", "progressive"])
def test_one_class_error_names_the_unlabelled_mark(name):
    # labels -1/+1: the -1 rows are unlabelled, which leaves one class; the error says so
    y_pm = np.where(y == 0, -1, 1)
    with pytest.raises(ValueError, match=r"got only one class: 1; the rows with y == -1 count as "
                                         r"unlabelled \(if -1 is a class"):
        NETS[name](0).fit(X, y_pm)
    with pytest.raises(ValueError, match=r"got only one class: 1$"):
        NETS[name](0).fit(X, np.ones_like(y))


def test_progress_bar_counts_the_domain_batches():
    # a DA epoch is one pass over the larger domain in half batches: not len(X) / batch_size
    from skorch.callbacks import ProgressBar

    Xt = np.r_[X, X[:20] + 1]
    yt = np.r_[y, -np.ones(20, int)]
    est = DANNClassifier(max_epochs=1, batch_size=16, callbacks=[ProgressBar()]).fit(Xt, yt)
    bar = dict(est.net_.callbacks_)["ProgressBar"]
    assert bar.batches_per_epoch == len(est.net_.history[-1, "batches"]) == 10  # 80 / 8
    fixed = DANNClassifier(max_epochs=1, batch_size=16, callbacks=[ProgressBar(batches_per_epoch=3)])
    assert dict(fixed.fit(Xt, yt).net_.callbacks_)["ProgressBar"].batches_per_epoch == 3
    as_class = DANNClassifier(max_epochs=1, batch_size=16, callbacks=[("bar", ProgressBar)])
    assert dict(as_class.fit(Xt, yt).net_.callbacks_)["bar"].batches_per_epoch == 10


def test_progress_bar_counts_batches_without_the_dropped_last_one():
    from skorch.callbacks import ProgressBar

    from sktransfer import FineTuneClassifier

    net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    for est in (
        FineTuneClassifier(net, max_epochs=1, batch_size=32, iterator_train__drop_last=True,
                           callbacks=[ProgressBar()]),
        MultiTaskClassifier(max_epochs=1, batch_size=32, iterator_train__drop_last=True,
                            callbacks=[ProgressBar()]),
    ):
        est.fit(X, y)  # 80 rows: 2 full batches, the last 16 rows dropped
        assert dict(est.net_.callbacks_)["ProgressBar"].batches_per_epoch == 2
        assert len(est.net_.history[-1, "batches"]) == 2
