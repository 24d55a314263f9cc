"""Benchmark of multitask learning and progressive neural networks on real data.

(a) The "multilingual" curve. The four Amazon review domains (books, dvd,
elec, kitchen; 400-d features, sentiment 0/1) are four tasks. One domain is
the target task, with only ``n`` labelled training rows; the three others are
related tasks with all their ~2000 rows each. Target-task accuracy on 1000
held-out target rows vs ``n``: single task (a ``MultiTaskClassifier`` fitted on
the ``n`` target rows with a 1-D ``y``: the same network with one head) vs
multitask (the four tasks stacked row-wise, each row labelled for its own
domain's column only, ``-1`` elsewhere). Mean ± std over seeds (the target rows
drawn per seed); plotted to ``benchmarks/results/multitask_curve.png``.

(b) A task sequence: MNIST (task 1, 1500 training rows) then USPS (task 2,
``n`` training rows), 16x16 digits. Task-1 accuracy after learning task 2
(progressive: the task-1 estimator is untouched; fine-tuning: the task-1
network trained further on task 2), and task-2 accuracy of a progressive
second column, of the same column trained from scratch, and of the fine-tuned
task-1 network.

Run from the repository root (one core, about 3 minutes)::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_multitask.py

The data are read from ``../shared/data`` (or ``SKTRANSFER_DATA``).
"""

from __future__ import annotations

import argparse
import copy
import os
import time
from pathlib import Path

import numpy as np
import torch
from _environment import command  # a sibling module of this script

from sktransfer import MultiTaskClassifier, ProgressiveNetClassifier
from sktransfer.datasets import load_domain

DATA = Path(os.environ.get("SKTRANSFER_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
RESULTS = Path(__file__).resolve().parent / "results"
DOMAINS = ("books", "dvd", "elec", "kitchen")


def _mean_std(values):
    return f"{np.mean(values):.3f} ± {np.std(values):.3f}"


def bench_curve(targets, sizes, seeds, single_epochs, multi_epochs):
    data = {d: load_domain("amazon_reviews", d, data_home=DATA) for d in DOMAINS}
    results = {}
    for target in targets:
        k = DOMAINS.index(target)
        for seed in seeds:
            rng = np.random.RandomState(seed)
            X_t, y_t = data[target]
            order = rng.permutation(len(X_t))
            train, test = order[:1000], order[1000:]
            for n in sizes:
                rows = train[:n]
                single = MultiTaskClassifier(max_epochs=single_epochs, random_state=seed)
                single.fit(X_t[rows], y_t[rows])
                acc_single = single.score(X_t[test], y_t[test])

                blocks, labels = [], []
                for j, domain in enumerate(DOMAINS):
                    X_d, y_d = data[domain]
                    if domain == target:
                        X_d, y_d = X_d[rows], y_d[rows]
                    Y = np.full((len(X_d), len(DOMAINS)), -1)
                    Y[:, j] = y_d
                    blocks.append(X_d)
                    labels.append(Y)
                multi = MultiTaskClassifier(max_epochs=multi_epochs, random_state=seed)
                multi.fit(np.vstack(blocks), np.vstack(labels))
                acc_multi = np.mean(multi.predict(X_t[test])[:, k] == y_t[test])
                results.setdefault((target, n), {"single": [], "multi": []})
                results[(target, n)]["single"].append(acc_single)
                results[(target, n)]["multi"].append(acc_multi)
    return results


def print_curve(results, seeds):
    print(f"\n## (a) Target-task accuracy vs target training rows, Amazon reviews "
          f"(mean ± std over {len(seeds)} seeds)\n")
    print("| target | n rows | single task | multitask (4 domains) | multitask − single |")
    print("|---|---|---|---|---|")
    for (target, n), r in results.items():
        gain = np.mean(r["multi"]) - np.mean(r["single"])
        print(f"| {target} | {n} | {_mean_std(r['single'])} | {_mean_std(r['multi'])} | {gain:+.3f} |")


def plot_curve(results, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    targets = sorted({t for t, _ in results})
    fig, axes = plt.subplots(1, len(targets), figsize=(5 * len(targets), 3.8), squeeze=False)
    for ax, target in zip(axes[0], targets):
        sizes = sorted(n for t, n in results if t == target)
        for key, label in (("single", "single task"), ("multi", "multitask (4 domains)")):
            mean = np.array([np.mean(results[(target, n)][key]) for n in sizes])
            std = np.array([np.std(results[(target, n)][key]) for n in sizes])
            ax.errorbar(sizes, mean, yerr=std, marker="o", capsize=3, label=label)
        ax.set_xscale("log")
        ax.minorticks_off()
        ax.set_xticks(sizes, [str(n) for n in sizes])
        ax.set_xlabel("labelled target rows")
        ax.set_ylabel("target accuracy")
        ax.set_title(f"target = {target}")
        ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def bench_sequence(sizes, seeds, epochs):
    X1, y1 = load_domain("mnist_usps", "mnist", data_home=DATA)
    X2, y2 = load_domain("mnist_usps", "usps", data_home=DATA)
    X1, X2 = X1.astype(np.float32), X2.astype(np.float32)
    rows = []
    for seed in seeds:
        rng = np.random.RandomState(seed)
        o1, o2 = rng.permutation(len(X1)), rng.permutation(len(X2))
        tr1, te1, te2 = o1[:1500], o1[1500:], o2[800:]
        first = ProgressiveNetClassifier(max_epochs=epochs, random_state=seed).fit(X1[tr1], y1[tr1])
        before = first.predict(X1[te1])
        acc1_before = np.mean(before == y1[te1])
        for n in sizes:
            tr2 = o2[:n]
            t0 = time.perf_counter()
            second = ProgressiveNetClassifier(previous=first, max_epochs=epochs, random_state=seed)
            second.fit(X2[tr2], y2[tr2])
            t_prog = time.perf_counter() - t0
            after = first.predict(X1[te1])
            scratch = ProgressiveNetClassifier(max_epochs=epochs, random_state=seed)
            scratch.fit(X2[tr2], y2[tr2])
            # Fine-tuning: the task-1 network trained further on task 2, all layers.
            tuned = copy.deepcopy(first)
            tuned.net_.partial_fit(X2[tr2], np.searchsorted(tuned.classes_, y2[tr2]))
            rows.append({
                "seed": seed, "n": n,
                "identical": bool(np.array_equal(before, after)),
                "t1_before": acc1_before,
                "t1_prog": np.mean(after == y1[te1]),
                "t1_ft": tuned.score(X1[te1], y1[te1]),
                "t2_prog": second.score(X2[te2], y2[te2]),
                "t2_scratch": scratch.score(X2[te2], y2[te2]),
                "t2_ft": tuned.score(X2[te2], y2[te2]),
                "s_prog": t_prog,
            })
    return rows


def print_sequence(rows, seeds):
    print(f"\n## (b) Task sequence MNIST (task 1) → USPS (task 2), accuracy "
          f"(mean ± std over {len(seeds)} seeds)\n")
    print("| task-2 rows | task 1 before | task 1 after: progressive | task 1 after: "
          "fine-tuning | task-1 predictions identical (progressive) | task 2: progressive "
          "| task 2: from scratch | task 2: fine-tuning | progressive − scratch |")
    print("|---|---|---|---|---|---|---|---|---|")
    for n in sorted({r["n"] for r in rows}):
        sel = [r for r in rows if r["n"] == n]

        def col(key, sel=sel):
            return [r[key] for r in sel]

        gain = np.mean(col("t2_prog")) - np.mean(col("t2_scratch"))
        print(f"| {n} | {_mean_std(col('t1_before'))} | {_mean_std(col('t1_prog'))} | "
              f"{_mean_std(col('t1_ft'))} | {sum(col('identical'))}/{len(sel)} | "
              f"{_mean_std(col('t2_prog'))} | {_mean_std(col('t2_scratch'))} | "
              f"{_mean_std(col('t2_ft'))} | {gain:+.3f} |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--targets", nargs="+", default=["books", "kitchen"], choices=DOMAINS)
    parser.add_argument("--quick", action="store_true", help="a smoke run: 1 seed, 2 sizes, few epochs")
    args = parser.parse_args()
    print(command(), flush=True)
    torch.set_num_threads(1)
    seeds = list(range(1 if args.quick else args.seeds))
    sizes = [25, 400] if args.quick else [25, 50, 100, 200, 400]
    single_epochs, multi_epochs, seq_epochs = (20, 2, 5) if args.quick else (200, 10, 30)
    print("# bench_multitask")
    print(f"\ntorch {torch.__version__}, threads=1; single task: {single_epochs} epochs on the "
          f"target rows; multitask: {multi_epochs} epochs over all four domains (≈ 6000 rows); "
          "both MultiTaskClassifier defaults otherwise (shared MLP 256 units + dropout 0.5, "
          "linear heads, Adam 1e-3, batch 64).")

    t0 = time.perf_counter()
    curve = bench_curve(args.targets, sizes, seeds, single_epochs, multi_epochs)
    t_curve = time.perf_counter() - t0
    print_curve(curve, seeds)
    png = RESULTS / "multitask_curve.png"
    plot_curve(curve, png)
    print(f"\nPlot: {png.relative_to(Path.cwd()) if png.is_relative_to(Path.cwd()) else png}; "
          f"part (a) took {t_curve:.0f} s.")

    t0 = time.perf_counter()
    rows = bench_sequence([50, 200], seeds, seq_epochs)
    print_sequence(rows, seeds)
    print(f"\nProgressiveNetClassifier defaults (column MLP 256-128, Adam 1e-3, batch 64), "
          f"{seq_epochs} epochs per task; fine-tuning = skorch partial_fit of the task-1 net "
          f"for {seq_epochs} more epochs on task 2, all layers trainable. Part (b) took "
          f"{time.perf_counter() - t0:.0f} s.")


if __name__ == "__main__":
    main()
