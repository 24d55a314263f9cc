"""Benchmark of self-taught learning and self-taught clustering on MNIST -> USPS.

(a) Raina et al.'s setting (ICML 2007): a representation is learnt from 2000
unlabelled MNIST digits, then a logistic regression is trained on a few
labelled USPS digits per class and tested on the rest of USPS. Raw pixels,
PCA fitted on MNIST, self-taught sparse coding and a self-taught autoencoder
(on whole images, and on 6x6 patches with the codes pooled over a 2x2 grid,
as Raina et al. learnt on patches) are compared side by side; mean +- std of
the accuracy over seeds (the labelled rows drawn per seed). A control runs the
patch pipeline with random atoms instead of the dictionary learnt from MNIST,
to tell what the unlabelled data adds from what the patch-and-pool
architecture adds.

(b) Self-taught clustering (Dai et al., ICML 2008) of a small USPS sample with
the 2000 MNIST digits as auxiliary data, against KMeans on the USPS sample
alone and against the same co-clustering without auxiliary data; NMI and
ARI, mean +- std over seeds (the sample and the initialisations drawn per seed).

Run from the repository root (one core, a few minutes)::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_self_taught.py

The data are read from ``../shared/data`` (or ``SKTRANSFER_DATA``).
"""

from __future__ import annotations

import argparse
import os
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from _environment import command  # a sibling module of this script
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sktransfer import SelfTaughtClustering, SelfTaughtTransformer
from sktransfer.datasets import load_domain

DATA = Path(os.environ.get("SKTRANSFER_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


def _mean_std(values):
    return f"{np.mean(values):.3f} ± {np.std(values):.3f}"


def _random_atoms(transformer):
    """The control: the same patch pipeline with random unit-norm atoms in place
    of the dictionary learnt from MNIST (no unlabelled data used)."""
    atoms = np.random.RandomState(0).randn(*transformer.components_.shape)
    transformer.components_ = atoms / np.linalg.norm(atoms, axis=1, keepdims=True)
    return transformer


def bench_classification(X_mnist, X_usps, y_usps, labels_per_class, seeds):
    representations = {
        "raw pixels": lambda: None,
        "PCA(50) on MNIST": lambda: PCA(50, random_state=0).fit(X_mnist),
        "self-taught sparse coding": lambda: SelfTaughtTransformer(
            "sparse_coding", n_components=256, alpha=0.2, transform_algorithm="lasso_cd",
            random_state=0,
        ).fit(X_mnist),
        "self-taught autoencoder": lambda: SelfTaughtTransformer(
            "autoencoder", n_components=128, alpha=0.0, max_epochs=50, batch_size=64,
            random_state=0,
        ).fit(X_mnist),
        "self-taught sparse coding, 6x6 patches": lambda: SelfTaughtTransformer(
            n_components=64, patch_size=6, image_shape=(16, 16), random_state=0,
        ).fit(X_mnist),
        "self-taught autoencoder, 6x6 patches": lambda: SelfTaughtTransformer(
            "autoencoder", n_components=64, patch_size=6, image_shape=(16, 16), max_epochs=20,
            random_state=0,
        ).fit(X_mnist),
        "control: random atoms, 6x6 patches": lambda: _random_atoms(SelfTaughtTransformer(
            n_components=64, patch_size=6, image_shape=(16, 16), random_state=0,
        ).fit(X_mnist)),
    }
    features, times = {}, {}
    for name, fit in representations.items():
        start = time.perf_counter()
        model = fit()
        features[name] = X_usps if model is None else model.transform(X_usps)
        times[name] = time.perf_counter() - start
    classifiers = {
        "LogisticRegression": lambda: LogisticRegression(max_iter=2000),
        "StandardScaler + LogisticRegression": lambda: make_pipeline(
            StandardScaler(), LogisticRegression(max_iter=2000)
        ),
    }
    results = {}
    for clf_name, make_clf in classifiers.items():
        results[clf_name] = {name: {} for name in features}
        for k in labels_per_class:
            for seed in seeds:
                rng = np.random.RandomState(seed)
                train = np.concatenate(
                    [rng.choice(np.flatnonzero(y_usps == c), k, replace=False)
                     for c in np.unique(y_usps)]
                )
                test = np.setdiff1d(np.arange(len(y_usps)), train)
                for name, F in features.items():
                    clf = make_clf().fit(F[train], y_usps[train])
                    results[clf_name][name].setdefault(k, []).append(clf.score(F[test], y_usps[test]))
        header = f"{'representation (+ ' + clf_name + ')':<60}" + "".join(
            f"{f'{k}/class':>16}" for k in labels_per_class
        ) + f"{'fit+transform s':>17}"
        print(header)
        print("-" * len(header))
        for name, by_k in results[clf_name].items():
            print(f"{name:<60}" + "".join(f"{_mean_std(by_k[k]):>16}" for k in labels_per_class)
                  + f"{times[name]:>17.1f}")
        print()
    return results


def bench_clustering(X_mnist, X_usps, y_usps, n_target, seeds):
    scores = {"KMeans on USPS alone": [], "co-clustering, USPS alone": [],
              "self-taught clustering (+ MNIST)": []}
    times = {name: 0.0 for name in scores}
    for seed in seeds:
        rng = np.random.RandomState(seed)
        idx = rng.choice(len(X_usps), n_target, replace=False)
        X, y = X_usps[idx], y_usps[idx]
        models = {
            "KMeans on USPS alone": KMeans(10, n_init=10, random_state=seed),
            "co-clustering, USPS alone": SelfTaughtClustering(
                10, 64, n_init=10, random_state=seed
            ),
            "self-taught clustering (+ MNIST)": SelfTaughtClustering(
                10, 64, auxiliary=X_mnist, auxiliary_weight=1.0, n_init=10, random_state=seed
            ),
        }
        for name, model in models.items():
            start = time.perf_counter()
            labels = model.fit_predict(X)
            times[name] += time.perf_counter() - start
            scores[name].append(
                (normalized_mutual_info_score(y, labels), adjusted_rand_score(y, labels))
            )
    header = f"{'method':<36}{'NMI':>16}{'ARI':>16}{'time s':>10}"
    print(header)
    print("-" * len(header))
    for name, values in scores.items():
        values = np.array(values)
        print(f"{name:<36}{_mean_std(values[:, 0]):>16}{_mean_std(values[:, 1]):>16}"
              f"{times[name]:>10.1f}")
    return scores


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--n-target", type=int, default=300)
    args = parser.parse_args()
    print(command(), flush=True)
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    X_mnist, _ = load_domain("mnist_usps", "mnist", data_home=DATA)
    X_usps, y_usps = load_domain("mnist_usps", "usps", data_home=DATA)
    seeds = range(args.seeds)
    start = time.perf_counter()
    print(f"(a) Self-taught learning: {len(X_mnist)} unlabelled MNIST digits -> USPS "
          f"({len(X_usps)} digits), accuracy on the unlabelled USPS rows, "
          f"mean ± std over {args.seeds} seeds\n")
    bench_classification(X_mnist, X_usps, y_usps, (1, 3, 5, 10, 20), seeds)
    print(f"\n(b) Self-taught clustering: {args.n_target} USPS digits, {len(X_mnist)} MNIST "
          f"digits as auxiliary data, 10 clusters, 64 feature clusters, "
          f"mean ± std over {args.seeds} seeds\n")
    bench_clustering(X_mnist, X_usps, y_usps, args.n_target, seeds)
    print(f"\ntotal {time.perf_counter() - start:.0f} s on {torch.get_num_threads()} thread(s), "
          f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}")


if __name__ == "__main__":
    main()
