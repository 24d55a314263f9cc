"""CNN codes + LogisticRegression vs raw pixels on small real image sets.

Two image sets that ship with the dependencies, so the benchmark runs offline:

- scikit-image's ``lfw_subset``: 200 grey 25 x 25 crops, 100 faces and 100
  non-faces (binary);
- scikit-learn's ``load_digits``: 1797 grey 8 x 8 digits (10 classes).

Features: the raw pixels, the EfficientNet-Lite0 ImageNet codes (1280
pooled features, the default of ``CNNFeatureExtractor``), or the pooled
activations of a middle layer (``layer="blocks.10"``, 112 features), each followed by
``StandardScaler`` + ``LogisticRegression``. ``n`` labelled images per class
are drawn for training, the rest is the test set; mean ± std of test accuracy
over seeds.

Run from the repository root (about 2 minutes on 2 cores)::

    .venv/bin/python benchmarks/bench_cnn_codes.py
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from _environment import command  # a sibling module of this script
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sktransfer import CNNFeatureExtractor


def _split(y, n_per_class, seed):
    rng = np.random.RandomState(seed)
    train = np.concatenate(
        [rng.choice(np.flatnonzero(y == c), n_per_class, replace=False) for c in np.unique(y)]
    )
    test = np.setdiff1d(np.arange(len(y)), train)
    return train, test


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=10)
    args = parser.parse_args()
    print(command(), flush=True)
    from skimage.data import lfw_subset

    faces = lfw_subset()
    digits = load_digits()
    sets = {
        "lfw_subset (faces vs not)": (faces, np.repeat([1, 0], 100), (2, 5, 10, 25, 50)),
        "digits (10 classes)": (digits.images / 16.0, digits.target, (1, 2, 5, 10, 50)),
    }
    print("Test accuracy, mean ± std over", args.seeds, "seeds; StandardScaler + LogisticRegression\n")
    print("| data | labels/class | raw pixels | final codes (1280) | blocks.10 codes (112) |")
    print("|---|---|---|---|---|")
    for name, (images, y, sizes) in sets.items():
        start = time.perf_counter()
        codes = CNNFeatureExtractor().fit_transform(images)
        seconds = time.perf_counter() - start
        middle = CNNFeatureExtractor(layer="blocks.10").fit_transform(images)
        raw = images.reshape(len(images), -1)
        for n in sizes:
            scores = {"raw": [], "codes": [], "middle": []}
            for seed in range(args.seeds):
                train, test = _split(y, n, seed)
                for key, X in (("raw", raw), ("codes", codes), ("middle", middle)):
                    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=3000))
                    scores[key].append(clf.fit(X[train], y[train]).score(X[test], y[test]))
            cells = " | ".join(
                f"{np.mean(scores[k]):.3f} ± {np.std(scores[k]):.3f}" for k in ("raw", "codes", "middle")
            )
            print(f"| {name} | {n} | {cells} |")
        print(f"|  | (final codes of {len(images)} images extracted in {seconds:.0f} s) | | | |")


if __name__ == "__main__":
    main()
