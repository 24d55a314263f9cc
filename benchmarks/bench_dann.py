"""DANNClassifier vs source-only, on the DANN toy and real benchmarks, and its
overhead against a hand-written PyTorch DANN loop.

Prints, in one run:

1. rotated moons (35°), Office-Caltech10 SURF (12 pairs), MNIST→USPS and
   USPS→MNIST: target accuracy (mean ± std over seeds) of the source-only
   baseline (the same estimator with ``lambda_max=0``: same network, batches and
   optimiser, no adaptation) and of DANN, with time per epoch;
2. time per epoch of ``DANNClassifier`` vs a minimal hand-written PyTorch DANN
   loop on the same data and modules, measured alternately in one process;
3. on the rotated moons, DANN's default constant learning rate against the
   paper's annealed one (``lr_schedule="dann"``), 5 seeds.

Run ``python benchmarks/bench_dann.py`` (add ``--quick`` for a smoke run).
Data: ``--data-home`` (default ``../shared/data`` next to the repository, or
``$SKTRANSFER_DATA``).
"""

from __future__ import annotations

import argparse
import math
import os
import time
from pathlib import Path

import numpy as np
import torch
from _environment import command  # a sibling module of this script
from joblib import Parallel, delayed
from sklearn.base import clone
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from torch import nn

from sktransfer import DANNClassifier
from sktransfer.datasets import (
    load_mnist_usps,
    load_office_caltech,
    make_rotated_moons,
    mask_target_labels,
)
from sktransfer.nn import MLP, ConvEncoder, GradientReversal

HERE = Path(__file__).resolve().parent
DEFAULT_DATA = HERE.parent.parent / "shared" / "data"

OFFICE = ["caltech", "amazon", "webcam", "dslr"]
LETTER = {"caltech": "C", "amazon": "A", "webcam": "W", "dslr": "D", "mnist": "MNIST", "usps": "USPS"}
# Published target accuracies (MEDA, ACM MM 2018, tables 2 and 3), ../shared/data/README.md.
PUBLISHED = {
    "C→A": (23.7, 43.1, 56.5), "C→W": (25.8, 39.3, 53.9), "C→D": (25.5, 49.0, 50.3),
    "A→C": (26.0, 40.9, 43.9), "A→W": (29.8, 38.0, 53.2), "A→D": (25.5, 42.0, 45.9),
    "W→C": (19.9, 33.0, 34.0), "W→A": (23.0, 29.8, 42.7), "W→D": (59.2, 92.4, 88.5),
    "D→C": (26.3, 31.2, 34.9), "D→A": (28.5, 33.4, 41.2), "D→W": (63.4, 89.2, 87.5),
    "Office avg": (31.4, 46.8, 52.7),
    "USPS→MNIST": (44.7, 59.7, 72.1), "MNIST→USPS": (65.9, 67.3, 89.5),
}


def _fit_score(estimator, X, y, domain, seed):
    """Fit on (X, y with target labels hidden); target accuracy (%) and s/epoch."""
    est = clone(estimator).set_params(dannclassifier__random_state=seed)
    start = time.perf_counter()
    est.fit(X, mask_target_labels(y, domain))
    seconds = time.perf_counter() - start
    target = domain < 0
    return 100 * est.score(X[target], y[target]), seconds / est[-1].max_epochs


def _tasks(data_home, quick):
    """(task name, data, extra DANNClassifier parameters, number of seeds)."""
    tasks = [("moons 35°", make_rotated_moons(angle=35, random_state=0), {}, 5)]
    pairs = [(s, t) for s in OFFICE for t in OFFICE if s != t]
    for s, t in pairs[:2] if quick else pairs:
        tasks.append((f"{LETTER[s]}→{LETTER[t]}", load_office_caltech(s, t, data_home=data_home), {}, 3))
    conv = {"module": ConvEncoder, "module__input_shape": (1, 16, 16), "max_epochs": 50}
    for s, t in (("usps", "mnist"), ("mnist", "usps")):
        data = load_mnist_usps(s, t, data_home=data_home)
        name = f"{LETTER[s]}→{LETTER[t]}"
        tasks.append((name, data, {}, 3))
        tasks.append((name + " (ConvEncoder, 50 epochs)", data, conv, 3))
    if quick:
        tasks = [(n, d, {**p, "max_epochs": 10}, 1) for n, d, p, _ in tasks]
    return tasks


def accuracy_table(data_home, n_jobs, quick):
    tasks = _tasks(data_home, quick)
    methods = {"source only": {"lambda_max": 0.0}, "DANN": {}}
    jobs = [
        (name, method, seed, data, make_pipeline(
            StandardScaler(), DANNClassifier(**params, **methods[method])))
        for name, data, params, n_seeds in tasks
        for method in methods
        for seed in range(n_seeds)
    ]
    out = Parallel(n_jobs=n_jobs)(
        delayed(_fit_score)(est, *data, seed) for _, _, seed, data, est in jobs
    )
    results = {}
    for (name, method, *_), res in zip(jobs, out):
        results.setdefault((name, method), []).append(res)

    print("\n## Target accuracy (%), mean ± std over seeds (5 for moons, 3 otherwise)\n")
    print("StandardScaler + DANNClassifier() with default parameters unless the task says otherwise;")
    print("source only = the same estimator with lambda_max=0 (same network, batches, optimiser).")
    print("Published: 1NN / JDA / MEDA (MEDA, ACM MM 2018). ms/epoch measured with "
          f"{n_jobs} fits in parallel, one thread each.\n")
    print("| task | source only | DANN | DANN − source | ms/epoch (DANN) | published 1NN / JDA / MEDA |")
    print("|---|---|---|---|---|---|")
    office = {m: [] for m in methods}
    for name, _, _, _ in tasks:
        acc = {m: np.array([a for a, _ in results[(name, m)]]) for m in methods}
        ms = 1000 * np.mean([sec for _, sec in results[(name, "DANN")]])
        if name.split(" ")[0] in PUBLISHED and name[0] in "CAWD":
            for m in methods:
                office[m].append(acc[m])
        base = name.split(" ")[0]
        pub = " / ".join(f"{v:.1f}" for v in PUBLISHED[base]) if base in PUBLISHED else "—"
        print(f"| {name} | {_fmt(acc['source only'])} | {_fmt(acc['DANN'])} | "
              f"{acc['DANN'].mean() - acc['source only'].mean():+.1f} | {ms:.1f} | {pub} |")
    if office["DANN"]:
        # Average over the pairs within each seed, then mean ± std over seeds.
        avg = {m: np.stack(office[m]).mean(axis=0) for m in methods}
        n = len(office["DANN"])
        pub = " / ".join(f"{v:.1f}" for v in PUBLISHED["Office avg"]) if n == 12 else "—"
        print(f"| Office-Caltech avg ({n} pairs) | {_fmt(avg['source only'])} | {_fmt(avg['DANN'])} | "
              f"{avg['DANN'].mean() - avg['source only'].mean():+.1f} | | {pub} |")


def lr_schedule_table(n_jobs, quick):
    """DANN on the rotated moons, constant vs annealed learning rate, same seeds."""
    data = make_rotated_moons(angle=35, random_state=0)
    schedules = ("constant", "dann")
    seeds = range(1 if quick else 5)
    epochs = {"max_epochs": 10} if quick else {}
    jobs = [(schedule, seed) for schedule in schedules for seed in seeds]
    out = Parallel(n_jobs=n_jobs)(
        delayed(_fit_score)(make_pipeline(StandardScaler(), DANNClassifier(
            lr_schedule=schedule, **epochs)), *data, seed)
        for schedule, seed in jobs
    )
    acc = {s: np.array([a for (sch, _), (a, _) in zip(jobs, out) if sch == s]) for s in schedules}
    print(f"\n## Learning-rate schedule: rotated moons 35°, DANN defaults otherwise, {len(seeds)} seeds\n")
    print("| lr_schedule | target accuracy (%) |")
    print("|---|---|")
    for schedule in schedules:
        print(f"| {schedule!r} | {_fmt(acc[schedule])} |")


def _fmt(values):
    return f"{values.mean():.1f} ± {values.std():.1f}"


# ----------------------------------------------------------------------
# Overhead: DANNClassifier vs a minimal hand-written PyTorch DANN loop
# ----------------------------------------------------------------------
def hand_written_dann(X, y, is_target, *, feature_extractor, label_predictor, domain_classifier,
                      epochs, batch_size=64, lr=0.01, momentum=0.9):
    """The textbook DANN loop: paired batches, GRL, lambda schedule, SGD.

    Returns seconds per epoch (median over epochs).
    """
    X = torch.as_tensor(X, dtype=torch.float32)
    y = torch.as_tensor(y, dtype=torch.int64)
    src = torch.nonzero(torch.as_tensor(~is_target)).flatten()
    tgt = torch.nonzero(torch.as_tensor(is_target)).flatten()
    half = batch_size // 2
    n_batches = math.ceil(max(len(src), len(tgt)) / half)
    grl = GradientReversal()
    params = [*feature_extractor.parameters(), *label_predictor.parameters(),
              *domain_classifier.parameters()]
    opt = torch.optim.SGD(params, lr=lr, momentum=momentum)
    domain_y = torch.cat([torch.zeros(half), torch.ones(half)])
    step, total, durations = 0, n_batches * epochs, []
    for _ in range(epochs):
        start = time.perf_counter()
        feature_extractor.train(), label_predictor.train(), domain_classifier.train()
        s = torch.cat([src[torch.randperm(len(src))] for _ in range(math.ceil(n_batches * half / len(src)))])
        t = torch.cat([tgt[torch.randperm(len(tgt))] for _ in range(math.ceil(n_batches * half / len(tgt)))])
        epoch_loss = torch.zeros(())
        for b in range(n_batches):
            p = step / total
            grl.coef = 2.0 / (1.0 + math.exp(-10 * p)) - 1.0
            idx_s, idx_t = s[b * half:(b + 1) * half], t[b * half:(b + 1) * half]
            xb = X[torch.cat([idx_s, idx_t])]
            features = feature_extractor(xb)
            class_loss = nn.functional.cross_entropy(label_predictor(features[:half]), y[idx_s])
            domain_loss = nn.functional.binary_cross_entropy_with_logits(
                domain_classifier(grl(features)).reshape(-1), domain_y)
            loss = class_loss + domain_loss
            opt.zero_grad()
            loss.backward()
            opt.step()
            epoch_loss += loss.detach()
            step += 1
        epoch_loss.item()
        durations.append(time.perf_counter() - start)
    return float(np.median(durations))


def overhead_table(rounds, epochs):
    X, y, domain = make_rotated_moons(n_source=1000, n_target=1000, angle=35, random_state=0)
    X = StandardScaler().fit_transform(X).astype(np.float32)
    y_masked = mask_target_labels(y, domain)
    sk_times, hand_times = [], []
    for r in range(rounds):
        est = DANNClassifier(max_epochs=epochs, random_state=r).fit(X, y_masked)
        sk_times.append(float(np.median(est.net_.history[:, "dur"])))
        torch.manual_seed(r)
        fe = MLP(2, hidden_layer_sizes=(256,), dropout=0.5)
        hand_times.append(hand_written_dann(
            X, y, domain < 0, feature_extractor=fe, label_predictor=nn.Linear(256, 2),
            domain_classifier=MLP(256, hidden_layer_sizes=(64,), n_outputs=1), epochs=epochs))
    sk, hand = np.median(sk_times), np.median(hand_times)
    print(f"\n## Overhead: time per epoch, rotated moons 2000 rows, batch 64 (32 source + 32 target), "
          f"torch threads={torch.get_num_threads()}\n")
    print("| implementation | ms/epoch (median of rounds) | ratio |")
    print("|---|---|---|")
    print(f"| hand-written PyTorch loop | {1000 * hand:.2f} | 1.00 |")
    print(f"| DANNClassifier (skorch) | {1000 * sk:.2f} | {sk / hand:.2f} |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-home", default=os.environ.get("SKTRANSFER_DATA", DEFAULT_DATA))
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="a fast smoke run")
    parser.add_argument("--skip-accuracy", action="store_true")
    parser.add_argument("--skip-overhead", action="store_true")
    args = parser.parse_args()
    print(command(), flush=True)
    torch.set_num_threads(1)  # the same for both sides; parallel jobs run one thread each
    print(f"# DANN benchmark (torch {torch.__version__}, {os.cpu_count()} CPUs)")
    if not args.skip_overhead:
        overhead_table(rounds=2 if args.quick else 5, epochs=5 if args.quick else 30)
    if not args.skip_accuracy:
        accuracy_table(args.data_home, args.n_jobs, args.quick)
    lr_schedule_table(args.n_jobs, args.quick)


if __name__ == "__main__":
    main()
