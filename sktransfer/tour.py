"""A quick tour of sktransfer: ``python -m sktransfer.tour``.

Runs each transfer method on data that ships with the package (or is generated
by it) and prints one results table. It needs no download and no GPU.
"""

from __future__ import annotations

import time

import numpy as np
from sklearn.datasets import load_digits
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sktransfer import DANNClassifier, FineTuneClassifier, ProgressiveNetClassifier
from sktransfer.datasets import make_rotated_moons, mask_target_labels
from sktransfer.nn import MLP


def _dann_on_moons(seeds=(0, 1, 2)):
    rows = []
    for label, params in (
        ("source only (same net, lambda_max=0)", dict(lambda_max=0.0)),
        ("DANNClassifier (defaults)", {}),
    ):
        scores, seconds = [], 0.0
        for seed in seeds:
            X, y, domain = make_rotated_moons(angle=35, random_state=seed)
            model = make_pipeline(StandardScaler(), DANNClassifier(random_state=seed, **params))
            start = time.perf_counter()
            model.fit(X, mask_target_labels(y, domain))
            seconds += time.perf_counter() - start
            target = domain < 0
            scores.append(model.score(X[target], y[target]))
        rows.append(("domain adaptation", "moons rotated 35°", label,
                     f"{np.mean(scores):.3f} ± {np.std(scores):.3f}", f"{seconds / len(seeds):.1f}"))
    return rows


def _progressive_on_digits(seeds=(0, 1, 2), n_rows=20):
    """scikit-learn's digits: task 0 names the digit (900 images), task 1 tells
    odd from even on other images with only ``n_rows`` labels."""
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    order = np.random.RandomState(0).permutation(len(X))
    first, second = order[:900], order[900:]
    train, test = second[:n_rows], second[400:]
    column0 = ProgressiveNetClassifier(max_epochs=50, random_state=0).fit(X[first], y[first])
    rows = []
    for label, previous in (("from scratch (one column)", None),
                            ("ProgressiveNetClassifier (+ frozen digit column)", column0)):
        scores, seconds = [], 0.0
        for seed in seeds:
            model = ProgressiveNetClassifier(previous=previous, max_epochs=50, random_state=seed)
            start = time.perf_counter()
            model.fit(X[train], y[train] % 2)
            seconds += time.perf_counter() - start
            scores.append(model.score(X[test], y[test] % 2))
        rows.append(("progressive nets", f"digits parity, {n_rows} labels", label,
                     f"{np.mean(scores):.3f} ± {np.std(scores):.3f}", f"{seconds / len(seeds):.1f}"))
    return rows


def _fine_tuning_on_digits(seeds=(0, 1, 2), n_rows=20):
    """The same two tasks: a network trained to name the digit is fine-tuned
    to tell odd from even, against the same network from random weights."""
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    order = np.random.RandomState(0).permutation(len(X))
    first, second = order[:900], order[900:]
    train, test = second[:n_rows], second[400:]
    net = dict(n_features_in=64, hidden_layer_sizes=(128, 64), n_outputs=10)
    source = FineTuneClassifier(MLP(**net), max_epochs=30, lr=0.01, random_state=0)
    source.fit(X[first], y[first])
    rows = []
    for label, module in (("from scratch (same network)", MLP(**net)),
                          ("FineTuneClassifier (from the digit network)", source)):
        scores, seconds = [], 0.0
        for seed in seeds:
            model = FineTuneClassifier(module, max_epochs=60, lr=0.005, random_state=seed)
            start = time.perf_counter()
            model.fit(X[train], y[train] % 2)
            seconds += time.perf_counter() - start
            scores.append(model.score(X[test], y[test] % 2))
        rows.append(("fine-tuning", f"digits parity, {n_rows} labels", label,
                     f"{np.mean(scores):.3f} ± {np.std(scores):.3f}", f"{seconds / len(seeds):.1f}"))
    return rows


def main() -> None:
    """Run the tour and print its table."""
    header = ("family", "data", "method", "test accuracy", "fit s")
    print("sktransfer quick tour (mean ± std over 3 seeds; test labels never seen in fit)\n")
    rows = _dann_on_moons() + _progressive_on_digits() + _fine_tuning_on_digits()
    widths = [max(len(str(r[i])) for r in rows + [header]) for i in range(len(header))]
    line = "  ".join("{:<%d}" % w for w in widths)
    print(line.format(*header))
    print(line.format(*("-" * w for w in widths)))
    for row in rows:
        print(line.format(*row))


if __name__ == "__main__":
    main()
