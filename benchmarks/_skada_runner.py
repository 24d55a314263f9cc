"""Run skada's implementations for ``bench_domain_adaptation.py`` (not part of the package).

Launched by the benchmark with the interpreter of a separate environment that has
skada installed (skada is never a dependency of sktransfer)::

    /tmp/skada-venv/bin/python benchmarks/_skada_runner.py JOBS.json OUT.json --n-jobs 2

``JOBS.json`` holds ``{"jobs": [{"data": "path.npz", "method": ..., "seed": ...,
"params": {...}}, ...]}``; each ``.npz`` holds ``X``, ``y_masked`` (-1 on target
rows), ``sample_domain`` (positive source, negative target) and ``y`` (true labels,
used only to score the target rows after fitting). ``OUT.json`` gets one result
per job: target accuracy (%), seconds per epoch (deep methods) and fit seconds.

The deep networks mirror ``sktransfer.nn.MLP`` / ``ConvEncoder`` layer by layer
(plain torch here, so that this file imports nothing from sktransfer), and the
domain classifier mirrors sktransfer's default (one hidden layer of 64 units)
with a sigmoid output for skada's ``BCELoss``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback
import warnings

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from joblib import Parallel, delayed  # noqa: E402
from torch import nn  # noqa: E402

SHALLOW = ("CORAL", "SA", "TCA", "IW", "KLIEP", "KLIEP-10", "LinearOT", "LinearOT-1", "EntOT",
           "EntOT-same", "OT-GL")
DEEP = ("DANN", "DeepCORAL", "DAN", "CDAN", "MCC", "MDD")


# ----------------------------------------------------------------------
# networks (same layers as sktransfer.nn.MLP / ConvEncoder)
# ----------------------------------------------------------------------
def _mlp(n_in, hidden, n_out=None, dropout=0.0):
    layers, width = [], n_in
    for size in hidden:
        layers += [nn.Linear(width, size), nn.ReLU()]
        if dropout:
            layers.append(nn.Dropout(dropout))
        width = size
    if n_out is not None:
        layers.append(nn.Linear(width, n_out))
    return nn.Sequential(*layers)


class _ConvEncoder(nn.Module):
    def __init__(self, input_shape=(1, 16, 16), channels=(32, 48), n_features_out=100):
        super().__init__()
        self.input_shape = tuple(input_shape)
        blocks, (c_in, h, w) = [], self.input_shape
        for c_out in channels:
            blocks += [nn.Conv2d(c_in, c_out, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2)]
            c_in, h, w = c_out, h // 2, w // 2
        self.conv = nn.Sequential(*blocks)
        self.fc = nn.Sequential(nn.Flatten(), nn.Dropout(0.0), nn.Linear(c_in * h * w, n_features_out), nn.ReLU())

    def forward(self, x):
        if x.dim() == 2:
            x = x.reshape(-1, *self.input_shape)
        return self.fc(self.conv(x))


def _head(n_in, n_classes, hidden=(), dropout=0.0):
    """A label predictor as ``MLP(hidden_layer_sizes=hidden, dropout=dropout)``."""
    return _mlp(n_in, hidden, n_out=n_classes, dropout=dropout) if hidden else nn.Linear(n_in, n_classes)


class _Net(nn.Module):
    """Feature extractor + label predictor; skada hooks ``feature_extractor``.

    The label predictor is linear unless ``head_hidden`` names hidden layers
    (as MDDClassifier's default classifiers).
    """

    def __init__(self, n_in, n_classes, conv=False, hidden=(256,), dropout=0.5, batch_norm=False,
                 head_hidden=(), head_dropout=0.0):
        super().__init__()
        if conv:
            self.feature_extractor = _ConvEncoder()
            width = 100
        else:
            self.feature_extractor = _mlp(n_in, hidden, dropout=dropout)
            width = hidden[-1]
        if batch_norm:  # as MDDClassifier(feature_batch_norm=True)
            self.feature_extractor = nn.Sequential(self.feature_extractor, nn.BatchNorm1d(width))
        self.label_predictor = _head(width, n_classes, head_hidden, head_dropout)
        self.n_features = width

    def forward(self, x, sample_weight=None):
        return self.label_predictor(self.feature_extractor(x))


class _DomainClassifier(nn.Module):
    """Gradient reversal, then sktransfer's default domain classifier, then a sigmoid."""

    def __init__(self, n_in):
        super().__init__()
        self.net = _mlp(n_in, (64,), n_out=1)

    def forward(self, x, sample_weight=None):
        from skada.deep.modules import GradientReversalLayer

        return torch.sigmoid(self.net(GradientReversalLayer.apply(x, 1.0))).reshape(-1)


class _AuxiliaryClassifier(nn.Module):
    """MDD's f': gradient reversal (coefficient 0.1), then a head as ``_Net``'s."""

    def __init__(self, n_in, n_classes, coef=0.1, hidden=(), dropout=0.0):
        super().__init__()
        self.net = _head(n_in, n_classes, hidden, dropout)
        self.coef = coef

    def forward(self, x, sample_weight=None):
        from skada.deep.modules import GradientReversalLayer

        return self.net(GradientReversalLayer.apply(x, self.coef))


# ----------------------------------------------------------------------
# methods
# ----------------------------------------------------------------------
def _final_classifier(name):
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier

    return KNeighborsClassifier(1) if name == "1nn" else LogisticRegression(max_iter=1000)


def _shallow(method, params, seed):
    from skada import make_da_pipeline
    from skada._mapping import (
        ClassRegularizerOTMappingAdapter,
        CORALAdapter,
        EntropicOTMappingAdapter,
        LinearOTMappingAdapter,
    )
    from skada._reweight import DiscriminatorReweightAdapter, KLIEPReweightAdapter
    from skada._subspace import (
        SubspaceAlignmentAdapter,
        TransferComponentAnalysisAdapter,
    )
    from sklearn.linear_model import LogisticRegression

    params = dict(params)
    clf = _final_classifier(params.pop("final", "lr"))
    if method == "CORAL":
        adapter = CORALAdapter(**params)
    elif method == "SA":
        adapter = SubspaceAlignmentAdapter(random_state=seed, **params)
    elif method == "TCA":
        adapter = TransferComponentAnalysisAdapter(**params)
    elif method == "IW":
        import sklearn

        # skada passes the weights through sklearn's metadata routing.
        sklearn.set_config(enable_metadata_routing=True)
        clf.set_fit_request(sample_weight=True)
        adapter = DiscriminatorReweightAdapter(domain_classifier=LogisticRegression(), **params)
    elif method in ("KLIEP", "KLIEP-10"):
        import sklearn

        sklearn.set_config(enable_metadata_routing=True)
        clf.set_fit_request(sample_weight=True)
        # skada cross-validates gamma only when given a list (run_job builds it)
        adapter = KLIEPReweightAdapter(random_state=seed, **params)
    elif method in ("LinearOT", "LinearOT-1"):
        adapter = LinearOTMappingAdapter(**params)
    elif method in ("EntOT", "EntOT-same"):
        adapter = EntropicOTMappingAdapter(**params)
    elif method == "OT-GL":
        adapter = ClassRegularizerOTMappingAdapter(**params)
    else:
        raise ValueError(method)
    return make_da_pipeline(adapter, clf)


def _kliep_gammas(X, factors):
    """KLIEP's candidate widths as sktransfer's default: ``1 / (n_features * X.var())`` times ``factors``.

    ``X`` holds the rows of both domains (``tests/test_benchmark_runner.py``
    checks that these are the candidates sktransfer's KLIEP tries on the same rows).
    """
    var = float(np.asarray(X, dtype=np.float64).var())
    base = 1.0 / (X.shape[1] * var) if var > 0 else 1.0
    return [base * f for f in factors]


def _paired_torch_seed(seed):
    """The torch seed sktransfer draws from ``random_state=seed`` (``TransferNetBase._seed``).

    Built right after it, ``_Net``'s feature extractor and label predictor start
    from the same weights as sktransfer's network for that seed (the four deep
    methods, MLP and ConvEncoder: ``tests/test_benchmark_runner.py``), so seed s is a
    paired comparison. The initial weights alone moved Deep CORAL's MNIST->USPS
    (ConvEncoder) mean by 2 points over 8 seeds (see the README).
    """
    return int(np.random.RandomState(seed).randint(np.iinfo(np.int32).max))


def _annealed_lr_factor(epoch, max_epochs):
    """MDDClassifier's ``lr_schedule="dann"`` factor at the middle of ``epoch``.

    skada's training loop does not expose its step count, so skada's MDD gets
    the annealing once per epoch, at the epoch's mean progress.
    """
    return (1.0 + 10.0 * (epoch + 0.5) / max_epochs) ** -0.75


def _annealed_lr_callback(max_epochs):
    """A skorch callback that anneals the learning rate by ``_annealed_lr_factor``."""
    from functools import partial

    from skorch.callbacks import LRScheduler

    return LRScheduler(
        policy=torch.optim.lr_scheduler.LambdaLR, step_every="epoch",
        lr_lambda=partial(_annealed_lr_factor, max_epochs=max_epochs),
    )


def _pop_heads(params):
    """The label predictor's (and MDD's f') hidden layers and dropout, taken out of ``params``.

    Given as MDDClassifier's ``label_predictor__*`` parameters (the benchmark passes
    MDDClassifier's default); none means a linear layer.
    """
    return {"hidden": tuple(params.pop("label_predictor__hidden_layer_sizes", ())),
            "dropout": float(params.pop("label_predictor__dropout", 0.0))}


def _networks(method, params, seed, n_in, n_classes):
    """The network, and MDD's f' (None for the other methods), from the paired seed.

    Takes ``conv`` and the classifiers' ``label_predictor__*`` parameters out of
    ``params``; f' is built right after the network, as MDDClassifier builds it
    after the label predictor.
    """
    conv = params.pop("conv", False)
    heads = _pop_heads(params)
    torch.manual_seed(_paired_torch_seed(seed))
    module = _Net(n_in, n_classes, conv=conv, batch_norm=method == "MDD",
                  head_hidden=heads["hidden"], head_dropout=heads["dropout"])
    auxiliary = _AuxiliaryClassifier(module.n_features, n_classes, **heads) if method == "MDD" else None
    return module, auxiliary


def _deep(method, params, seed, n_in, n_classes):
    from skada.deep import CDAN, DAN, DANN, MCC, MDD, DeepCoral

    params = dict(params)
    module, auxiliary = _networks(method, params, seed, n_in, n_classes)
    common = dict(
        layer_name="feature_extractor",
        # skada's batch_size counts each domain: 32 + 32 rows as sktransfer's 64.
        batch_size=params.pop("batch_size", 64) // 2,
        max_epochs=params.pop("max_epochs"),
        lr=params.pop("lr", 0.01),
        optimizer=torch.optim.SGD,
        optimizer__momentum=0.9,
        train_split=None,
        verbose=0,
        **params,
    )
    if method == "DANN":
        return DANN(module, domain_classifier=_DomainClassifier(module.n_features), **common)
    if method == "CDAN":
        n_dc = min(module.n_features * n_classes, 4096)
        return CDAN(module, domain_classifier=_DomainClassifier(n_dc), **common)
    if method == "DeepCORAL":
        return DeepCoral(module, **common)
    if method == "DAN":
        return DAN(module, **common)
    if method == "MCC":
        return MCC(module, **common)
    if method == "MDD":
        # f' as sktransfer's default (the label predictor's architecture) behind a
        # constant reversal at MDDClassifier's lambda_max (skada has
        # no ramp; its DomainAwareModule adds no reversal of its own), skada's margin
        # gamma=4 and reg=1 (the authors' trade-off). skada 0.6.0's target term is not
        # the paper's: ModifiedCrossEntropyLoss smooths p' (0.1) and its
        # smooth_prob[..., target] averages log(1 - p'_i[f(x_j)]) over every pair of
        # target rows i, j, not over the rows. This is skada's MDD as shipped.
        # The learning rate annealed as MDDClassifier's default (lr_schedule="dann").
        return MDD(module, disc_classifier=auxiliary,
                   callbacks=[_annealed_lr_callback(common["max_epochs"])], **common)
    raise ValueError(method)


def run_job(job):
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    try:
        data = np.load(job["data"])
        X, y_masked, sd, y = data["X"], data["y_masked"], data["sample_domain"], data["y"]
        target = sd < 0
        method, seed, params = job["method"], int(job["seed"]), job.get("params", {})
        np.random.seed(seed)
        if "gamma_factors" in params:
            params = dict(params)
            params["gamma"] = _kliep_gammas(X, params.pop("gamma_factors"))
        start = time.perf_counter()
        if method in SHALLOW:
            est = _shallow(method, params, seed)
            est.fit(X, y_masked, sample_domain=sd)
            fit_s = time.perf_counter() - start
            pred = est.predict(X[target], sample_domain=sd[target])
            per_epoch = None
        else:
            X = X.astype(np.float32)
            n_classes = int(y.max()) + 1
            est = _deep(method, params, seed, X.shape[1], n_classes)
            est.fit(X, y_masked.astype(np.int64), sample_domain=sd)
            fit_s = time.perf_counter() - start
            per_epoch = float(np.median(est.history[:, "dur"]))
            pred = est.predict(X[target], sample_domain=sd[target])
        acc = 100.0 * float(np.mean(np.asarray(pred) == y[target]))
        return {"acc": acc, "sec_per_epoch": per_epoch, "fit_s": fit_s}
    except Exception as exc:  # reported, not fatal: the benchmark prints "error"
        return {"error": f"{type(exc).__name__}: {exc}", "trace": traceback.format_exc()[-2000:]}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("jobs")
    parser.add_argument("out")
    parser.add_argument("--n-jobs", type=int, default=2)
    args = parser.parse_args()
    with open(args.jobs) as f:
        jobs = json.load(f)["jobs"]
    import skada

    results = Parallel(n_jobs=args.n_jobs)(delayed(run_job)(job) for job in jobs)
    with open(args.out, "w") as f:
        json.dump({"skada_version": skada.__version__, "results": results}, f)


if __name__ == "__main__":
    sys.exit(main())
