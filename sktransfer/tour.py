"""A quick tour of sktransfer: ``python -m sktransfer.tour``.

Runs each transfer method on data that ships with the package (or is generated
by it) and prints one results table. It needs no download and no GPU.
"""

from __future__ import annotations

import time

import numpy as np
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sktransfer import DANNClassifier
from sktransfer.datasets import make_rotated_moons, mask_target_labels


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


def main() -> None:
    """Run the tour and print its table."""
    header = ("family", "data", "method", "target accuracy", "fit s")
    print("sktransfer quick tour (mean ± std over 3 seeds; target labels never seen in fit)\n")
    rows = _dann_on_moons()
    widths = [max(len(str(r[i])) for r in rows + [header]) for i in range(len(header))]
    line = "  ".join("{:<%d}" % w for w in widths)
    print(line.format(*header))
    print(line.format(*("-" * w for w in widths)))
    for row in rows:
        print(line.format(*row))


if __name__ == "__main__":
    main()
