"""Several source domains, and a few labelled target rows, given through ``sample_domain``.

Every domain adaptation estimator takes the domain of each row as ``sample_domain``
(positive ids: source domains, negative ids: target domains). This benchmark measures,
in one run and beside the baselines without adaptation, what the two uses of it give:

1. **Several source domains** (three domains → the fourth, all four ways), on
   Office-Caltech SURF and on the Amazon reviews: target accuracy (%) of each method
   fitted on the three sources at once (``sample_domain`` 1, 2, 3; the target -1; its
   labels hidden), beside the same classifier without adaptation (``LR``, ``1NN``,
   ``NN``: the DANN network with ``lambda_max=0``). Every method pools the sources into
   one; the ``CORAL-each`` column (not an option of the library) maps each source
   domain onto the target by its own CORAL and trains the same classifier on the three
   mapped sources, to show what pooling costs or saves.
2. **A few labelled target rows** (Office-Caltech, 12 pairs, 3 labelled target rows
   per class, drawn with seeds 0, 1, 2): the accuracy on the other target rows of each
   method fitted without those labels (unsupervised) and with them (``sample_domain``
   marks them as target rows; their labels train the classifier).

Methods: ``LR`` (``LogisticRegression``), ``CORAL`` and ``LinearOT`` (each followed by
``LabelledOnly(LR)``), ``IW`` (``ImportanceWeightedClassifier(LR)``), ``NN`` / ``DANN``
(``DANNClassifier``), ``MCC`` (``MCCClassifier``, added after the first run) and ``MDD``
(``MDDClassifier``, added later, beside ``MDD-NN``, the same network at ``lambda_max=0``), 20 epochs on
Office, 60 on Amazon, seeds 0-2 in part 1, on the
loader's features scaled by ``StandardScaler`` over all rows; ``1NN``, ``JDA``
(``JDAClassifier()``) and ``MEDA`` (``MEDAClassifier()``) on the loader's features, as
in their papers and in ``bench_domain_adaptation.py``. On Office-Caltech, whose loader
standardises each domain, ``IW``'s linear domain classifier finds nothing to tell the
domains apart by: its weights are uniform (the estimator warns; warnings are silenced
here) and it is ``LR``. JDA and MEDA are left out on
the Amazon tasks: with 8000 rows, their n × n kernel systems do not fit the 2-core
budget of this run.

Run::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_da_multi_source.py --n-jobs 2
    ... --quick            # one task per part, 2 epochs, one seed
    ... --parts sources    # or semi
    ... --data-home DIR --out FILE

Results go to ``benchmarks/results/bench_da_multi_source.md`` (not for ``--quick``).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import torch
from joblib import Parallel, delayed
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sktransfer import (
    CORAL,
    DANNClassifier,
    ImportanceWeightedClassifier,
    JDAClassifier,
    LabelledOnly,
    LinearOTMapping,
    MCCClassifier,
    MDDClassifier,
    MEDAClassifier,
)
from sktransfer.datasets import load_amazon_reviews, load_office_caltech

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _environment import command, describe

DEFAULT_DATA = Path(os.environ.get("SKTRANSFER_DATA", HERE.parent.parent / "shared" / "data"))
DEFAULT_OUT = HERE / "results" / "bench_da_multi_source.md"
OFFICE = ["caltech", "amazon", "webcam", "dslr"]
AMAZON = ["books", "dvd", "elec", "kitchen"]
LETTER = {"caltech": "C", "amazon": "A", "webcam": "W", "dslr": "D",
          "books": "B", "dvd": "D", "elec": "E", "kitchen": "K"}
SOURCE_METHODS = ["LR", "CORAL", "CORAL-each", "LinearOT", "IW", "1NN", "JDA", "MEDA", "NN", "DANN",
                  "MCC", "MDD-NN", "MDD"]
SEMI_METHODS = ["LR", "CORAL", "LinearOT", "IW", "1NN", "JDA", "MEDA", "NN", "DANN", "MCC", "MDD-NN",
                "MDD"]
LOADER_INPUT = {"1NN", "JDA", "MEDA"}  # fitted on the loader's features, as in their papers
DEEP = {"NN", "DANN", "MCC", "MDD-NN", "MDD"}
NOT_ON_AMAZON = {"JDA", "MEDA"}
BASELINE = {"CORAL": "LR", "CORAL-each": "LR", "LinearOT": "LR", "IW": "LR",
            "JDA": "1NN", "MEDA": "1NN", "DANN": "NN", "MCC": "NN",
            # MDD's features go through a BatchNorm layer: its own network at weight 0
            "MDD": "MDD-NN"}
PER_CLASS = 3  # labelled target rows per class in part 2
SEEDS = [0, 1, 2]


def _lr():
    return LogisticRegression(max_iter=1000)


def _estimator(method, seed, epochs):
    if method == "LR":
        return _lr()
    if method == "1NN":
        return KNeighborsClassifier(1)
    if method == "CORAL":
        return make_pipeline(CORAL(), LabelledOnly(_lr()))
    if method == "LinearOT":
        return make_pipeline(LinearOTMapping(), LabelledOnly(_lr()))
    if method == "IW":
        return ImportanceWeightedClassifier(_lr(), random_state=seed)
    if method == "JDA":
        return JDAClassifier()
    if method == "MEDA":
        return MEDAClassifier(random_state=seed)
    if method == "MCC":
        return MCCClassifier(max_epochs=epochs, random_state=seed)
    if method in ("MDD", "MDD-NN"):
        return MDDClassifier(max_epochs=epochs, random_state=seed,
                             **({"lambda_max": 0.0} if method == "MDD-NN" else {}))
    return DANNClassifier(max_epochs=epochs, random_state=seed,
                          lambda_max=0.0 if method == "NN" else 1.0)


def _fit(method, X, y_fit, d, seed, epochs):
    """The fitted method; ``y_fit`` holds -1 on the rows whose labels it may not use."""
    labelled = y_fit != -1
    if method in ("LR", "1NN"):  # no adaptation: the labelled rows only
        return _estimator(method, seed, epochs).fit(X[labelled], y_fit[labelled])
    if method == "CORAL-each":  # each source domain mapped onto the target by its own CORAL
        target = d < 0
        Z = X.copy()
        for k in np.unique(d[d > 0]):
            rows = (d == k) | target
            Z[d == k] = CORAL().fit(X[rows], y_fit[rows], sample_domain=d[rows]).transform_source(X[d == k])
        return _MappedLR(_lr().fit(Z[labelled], y_fit[labelled]))
    est = _estimator(method, seed, epochs)
    if hasattr(est, "steps"):  # a pipeline: the mapping takes the domains
        return est.fit(X, y_fit, **{f"{est.steps[0][0]}__sample_domain": d})
    return est.fit(X, y_fit, sample_domain=d)


class _MappedLR:
    """CORAL-each's classifier: target rows are not mapped, so it predicts them as they are."""

    def __init__(self, clf):
        self.clf = clf

    def predict(self, X):
        return self.clf.predict(X)


def _run(job):
    """One fit: (part, task, method, seed, setting) -> target accuracy (%) and seconds."""
    part, task, method, seed, setting, X, X_loader, y, d, scored, y_fit, epochs = job
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    inputs = X_loader if method in LOADER_INPUT else X
    start = time.perf_counter()
    est = _fit(method, inputs, y_fit, d, seed, epochs)
    acc = 100.0 * float(np.mean(est.predict(inputs[scored]) == y[scored]))
    return {"part": part, "task": task, "method": method, "seed": seed, "setting": setting,
            "acc": acc, "sec": time.perf_counter() - start}


# ----------------------------------------------------------------------
# the two parts
# ----------------------------------------------------------------------
def _scaled(X):
    return StandardScaler().fit_transform(X).astype(np.float32)


def _source_jobs(data_home, quick):
    jobs = []
    datasets = [("Office-Caltech", OFFICE, load_office_caltech, 20),
                ("Amazon", AMAZON, load_amazon_reviews, 60)]
    for name, domains, load, epochs in datasets[:1] if quick else datasets:
        for target in domains[:1] if quick else domains:
            sources = [s for s in domains if s != target]
            X_loader, y, d = load(sources, target, data_home=data_home)
            X = _scaled(X_loader)
            task = f"{name} {''.join(LETTER[s] for s in sources)}→{LETTER[target]}"
            y_fit = np.where(d < 0, -1, y)
            for method in SOURCE_METHODS:
                if name == "Amazon" and method in NOT_ON_AMAZON:
                    continue
                seeds = (SEEDS[:1] if quick else SEEDS) if method in DEEP else [0]
                for seed in seeds:
                    jobs.append(("sources", task, method, seed, "unsupervised", X, X_loader, y, d,
                                 d < 0, y_fit, 2 if quick else epochs))
    return jobs


def _semi_jobs(data_home, quick):
    jobs = []
    pairs = [(s, t) for s in OFFICE for t in OFFICE if s != t]
    for source, target in pairs[:1] if quick else pairs:
        X_loader, y, d = load_office_caltech(source, target, data_home=data_home)
        X = _scaled(X_loader)
        task = f"{LETTER[source]}→{LETTER[target]}"
        for seed in SEEDS[:1] if quick else SEEDS:
            rng = np.random.RandomState(seed)
            target_rows = np.flatnonzero(d < 0)
            known = np.concatenate([
                rng.choice(target_rows[y[target_rows] == c], PER_CLASS, replace=False)
                for c in np.unique(y)
            ])
            scored = (d < 0) & ~np.isin(np.arange(len(y)), known)
            unsupervised = np.where(d < 0, -1, y)
            semi = unsupervised.copy()
            semi[known] = y[known]
            for method in SEMI_METHODS:
                for setting, y_fit in (("unsupervised", unsupervised), ("semi", semi)):
                    jobs.append(("semi", task, method, seed, setting, X, X_loader, y, d,
                                 scored, y_fit, 2 if quick else 20))
    return jobs


# ----------------------------------------------------------------------
# report
# ----------------------------------------------------------------------
def _mean_std(values):
    return f"{np.mean(values):.1f} ± {np.std(values):.1f}" if len(values) > 1 else f"{values[0]:.1f}"


def _sources_report(records):
    recs = [r for r in records if r["part"] == "sources"]
    tasks = list(dict.fromkeys(r["task"] for r in recs))
    deep_seeds = sorted({r["seed"] for r in recs if r["method"] in DEEP})
    lines = ["## 1. Several source domains (three → one)", "",
             (f"Target accuracy (%); deep methods: mean ± std over seeds {deep_seeds}. Each "
              "adaptive method's gain over its classifier without adaptation (CORAL, "
              "CORAL-each, LinearOT, IW: LR; JDA, MEDA: 1NN; DANN, MCC: NN; MDD: MDD-NN) is in the averages "
              "table."), "",
             "| task | " + " | ".join(SOURCE_METHODS) + " |",
             "|---|" + "---|" * len(SOURCE_METHODS)]
    acc = {}
    for r in recs:
        acc.setdefault((r["task"], r["method"]), []).append(r["acc"])
    for task in tasks:
        cells = [_mean_std(acc[(task, m)]) if (task, m) in acc else "—" for m in SOURCE_METHODS]
        lines.append(f"| {task} | " + " | ".join(cells) + " |")
    lines += ["", "Averages over the four tasks of each data set (gain over the baseline in brackets):",
              "", "| data | " + " | ".join(SOURCE_METHODS) + " |",
              "|---|" + "---|" * len(SOURCE_METHODS)]
    for name in ("Office-Caltech", "Amazon"):
        group = [t for t in tasks if t.startswith(name)]
        if not group:
            continue
        means = {m: np.mean([np.mean(acc[(t, m)]) for t in group])
                 for m in SOURCE_METHODS if all((t, m) in acc for t in group)}
        cells = []
        for m in SOURCE_METHODS:
            if m not in means:
                cells.append("—")
            elif m in BASELINE and BASELINE[m] in means:
                cells.append(f"{means[m]:.2f} ({means[m] - means[BASELINE[m]]:+.2f})")
            else:
                cells.append(f"{means[m]:.2f}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines


def _semi_report(records):
    recs = [r for r in records if r["part"] == "semi"]
    tasks = list(dict.fromkeys(r["task"] for r in recs))
    acc = {}
    for r in recs:
        acc.setdefault((r["task"], r["method"], r["setting"]), []).append(r["acc"])
    seeds = sorted({r["seed"] for r in recs})
    lines = [f"## 2. A few labelled target rows (Office-Caltech, {PER_CLASS} per class)", "",
             ("Accuracy (%) on the target rows left unlabelled, mean over the draws of the "
              f"labelled rows (seeds {', '.join(map(str, seeds))}): without their labels "
              "(unsupervised) / with them (semi). LR and 1NN with them are trained on the "
              "source rows and the labelled target rows."), "",
             "| pair | " + " | ".join(SEMI_METHODS) + " |", "|---|" + "---|" * len(SEMI_METHODS)]
    for task in tasks:
        cells = [f"{np.mean(acc[(task, m, 'unsupervised')]):.1f} / "
                 f"{np.mean(acc[(task, m, 'semi')]):.1f}" for m in SEMI_METHODS]
        lines.append(f"| {task} | " + " | ".join(cells) + " |")
    lines += ["", f"Average over the {len(tasks)} pairs (mean ± std over the draws of the pair average):", "", "| method | unsupervised | semi | gain |", "|---|---|---|---|"]
    for m in SEMI_METHODS:
        per_seed = {s: [np.mean([r["acc"] for r in recs if r["method"] == m and r["setting"] == st
                                 and r["seed"] == s]) for st in ("unsupervised", "semi")]
                    for s in seeds}
        uns = [v[0] for v in per_seed.values()]
        sem = [v[1] for v in per_seed.values()]
        gain = [b - a for a, b in zip(uns, sem)]
        lines.append(f"| {m} | {_mean_std(uns)} | {_mean_std(sem)} | "
                     f"{np.mean(gain):+.1f} ± {np.std(gain):.1f} |")
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", default="sources,semi",
                        help="comma-separated: sources, semi (default: both)")
    parser.add_argument("--n-jobs", type=int, default=1)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--data-home", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    parts = args.parts.split(",")
    unknown = set(parts) - {"sources", "semi"}
    if unknown:
        parser.error(f"unknown parts {sorted(unknown)}: choose among sources, semi")
    start = time.time()
    jobs = []
    if "sources" in parts:
        jobs += _source_jobs(args.data_home, args.quick)
    if "semi" in parts:
        jobs += _semi_jobs(args.data_home, args.quick)
    # the slowest fits first, so that the two workers finish together
    jobs.sort(key=lambda j: (j[2] not in DEEP | {"MEDA", "JDA"}, -len(j[5])))
    records = Parallel(n_jobs=args.n_jobs, verbose=5)(delayed(_run)(job) for job in jobs)
    lines = ["# Several source domains and a few labelled target rows", "", describe(), "",
             command() + f"; wall time {(time.time() - start) / 60:.1f} min "
             f"(sum of per-fit times {sum(r['sec'] for r in records) / 60:.1f} min, "
             f"{args.n_jobs} worker(s), one thread each).", ""]
    if "sources" in parts:
        lines += _sources_report(records) + [""]
    if "semi" in parts:
        lines += _semi_report(records) + [""]
    report = "\n".join(lines)
    print(report)
    if not args.quick:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(report)
        print(f"written to {args.out}")


if __name__ == "__main__":
    main()
