"""Few-label fine-tuning MNIST -> USPS: which way of reusing the source network works, and what does it forget?

Question: with 10, 50 or 100 labelled USPS digits per class, how do training
from scratch, a frozen source network with a new head, fine-tuning every
layer, fine-tuning with L2-SP and fine-tuning with distillation (learning
without forgetting) compare on USPS, and how much of MNIST does each forget?

Method: MNIST and USPS from ``../shared/data`` (16x16 digits flattened to 256,
raw values in [0, 1], labels 0-9). Per seed: MNIST split into 1500 training
rows and 500 held-out rows; USPS into ``k`` labelled rows per class (training)
and all the other USPS rows (test, ~1300-1700 rows). The source network is a
small ConvNet (conv 5x5 1->16 + pool, conv 3x3 16->32 + pool, conv 3x3 32->32,
Linear 512->128, Linear 128->64, Linear 64->10 head; ReLUs) trained from random
initialisation on the 1500 MNIST rows (``FineTuneClassifier`` on a fresh
module, 30 epochs). On the USPS rows, every condition is one
``FineTuneClassifier`` (new 10-way head, Adam, batch 32, lr 1e-3):

- scratch: the same architecture from a random initialisation;
- frozen: the fitted source estimator as ``module``, ``freeze="all_but_head"``;
- fine-tuned: every layer trainable;
- fine-tuned + L2-SP: ``l2sp_alpha=0.01``;
- fine-tuned + distillation: ``distillation_weight=1``, ``distillation_temperature=2``
  (LwF's lambda_o = 1, T = 2).

Epochs per size so that the number of optimiser steps grows slowly with the
rows: 60 epochs for 10/class (240 steps), 30 for 50/class (480 steps), 20 for
100/class (640 steps). The hyperparameters are the usual defaults (Adam 1e-3
as the source training; L2-SP alpha of the order of Li et al. 2018; LwF's
lambda_o = 1, T = 2), fixed before the first run and not changed after
it: nothing was tuned on the test rows.

Forgetting: MNIST held-out accuracy of ``source_output(X)`` (the retained
source head on the fine-tuned features) after fine-tuning, against the
source network's own accuracy before (``before``). For "frozen" the features
do not change, so it equals ``before``; for "scratch" there is no source head
(not applicable). Mean ± std over seeds.

Run from the repository root (one core, about 5 minutes)::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_fine_tune_usps.py

``--quick`` for a smoke run. Output also written to
``benchmarks/results/bench_fine_tune_usps.md``.
"""

from __future__ import annotations

import argparse
import io
import os
import time
from contextlib import redirect_stdout
from pathlib import Path

import numpy as np
import torch
from _digit_net import conv_net  # a sibling module of this script
from _environment import command  # a sibling module of this script

from sktransfer.datasets import load_domain
from sktransfer.fine_tuning import FineTuneClassifier

DATA = Path(os.environ.get("SKTRANSFER_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
RESULTS = Path(__file__).resolve().parent / "results"
EPOCHS = {10: 60, 50: 30, 100: 20}  # labels per class -> epochs
SOURCE_EPOCHS = 30
CONDITIONS = {
    "scratch": {},
    "frozen (all_but_head)": {"freeze": "all_but_head"},
    "fine-tuned": {},
    "fine-tuned + L2-SP": {"l2sp_alpha": 0.01},
    "fine-tuned + distillation": {"distillation_weight": 1.0, "distillation_temperature": 2.0},
}


def per_class(y, k, rng):
    """Indices of k rows per class of y, and of all the other rows."""
    train = np.concatenate([rng.choice(np.flatnonzero(y == c), k, replace=False) for c in np.unique(y)])
    return train, np.setdiff1d(np.arange(len(y)), train)


def run(seeds, sizes, epochs_for, source_epochs):
    Xm, ym = load_domain("mnist_usps", "mnist", data_home=DATA)
    Xu, yu = load_domain("mnist_usps", "usps", data_home=DATA)
    Xm, Xu = Xm.astype(np.float32), Xu.astype(np.float32)
    rows = []
    for seed in seeds:
        rng = np.random.RandomState(seed)
        order = rng.permutation(len(Xm))
        m_train, m_test = order[:1500], order[1500:]
        source = FineTuneClassifier(conv_net(100 + seed), max_epochs=source_epochs, batch_size=32,
                                    lr=1e-3, random_state=seed).fit(Xm[m_train], ym[m_train])
        before = source.score(Xm[m_test], ym[m_test])
        for k in sizes:
            u_train, u_test = per_class(yu, k, rng)
            for cond, params in CONDITIONS.items():
                module = conv_net(200 + seed) if cond == "scratch" else source
                t0 = time.perf_counter()
                est = FineTuneClassifier(module, max_epochs=epochs_for[k], batch_size=32, lr=1e-3,
                                         random_state=seed, **params).fit(Xu[u_train], yu[u_train])
                seconds = time.perf_counter() - t0
                src = np.nan
                if cond != "scratch":
                    src = np.mean(est.source_output(Xm[m_test]).argmax(axis=1) == ym[m_test])
                rows.append({
                    "seed": seed, "k": k, "cond": cond, "usps": est.score(Xu[u_test], yu[u_test]),
                    "mnist": src, "before": before, "s": seconds,
                    "source_only": source.score(Xu[u_test], yu[u_test]),
                })
        print(f"  seed {seed} done", flush=True)
    return rows


def _ms(values):
    values = np.asarray(values, dtype=float)
    if np.isnan(values).all():
        return "—"
    return f"{np.mean(values):.3f} ± {np.std(values):.3f}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="a smoke run: 1 seed, 10/class, few epochs")
    args = parser.parse_args()
    torch.set_num_threads(1)
    seeds = list(range(1 if args.quick else args.seeds))
    sizes = [10] if args.quick else [10, 50, 100]
    epochs_for = {k: 3 for k in EPOCHS} if args.quick else EPOCHS
    source_epochs = 3 if args.quick else SOURCE_EPOCHS
    t0 = time.perf_counter()
    rows = run(seeds, sizes, epochs_for, source_epochs)
    elapsed = time.perf_counter() - t0

    out = io.StringIO()
    with redirect_stdout(out):
        print("# bench_fine_tune_usps\n")
        print(command() + "\n")
        before = [r["before"] for r in rows if r["cond"] == "scratch" and r["k"] == sizes[0]]
        print(f"Source: ConvNet trained on 1500 MNIST rows ({source_epochs} epochs); its MNIST "
              f"held-out accuracy before fine-tuning: {_ms(before)}. USPS: k labelled rows per "
              f"class for training, the other USPS rows for testing. Adam 1e-3, batch 32; epochs "
              f"{', '.join(f'{epochs_for[k]} for k={k}' for k in sizes)}. Mean ± std over "
              f"{len(seeds)} seeds; torch threads=1.\n")
        print("| labels/class | condition | USPS test accuracy | MNIST held-out accuracy after "
              "(source_output) | MNIST forgotten (before − after) | s/fit |")
        print("|---|---|---|---|---|---|")
        for k in sizes:
            sel = [r for r in rows if r["k"] == k]
            so = [r["source_only"] for r in sel if r["cond"] == "scratch"]
            print(f"| {k} | source network, no USPS training | {_ms(so)} | {_ms(before)} | — | — |")
            for cond in CONDITIONS:
                c = [r for r in sel if r["cond"] == cond]
                forgot = [r["before"] - r["mnist"] for r in c]
                print(f"| {k} | {cond} | {_ms([r['usps'] for r in c])} | "
                      f"{_ms([r['mnist'] for r in c])} | {_ms(forgot)} | "
                      f"{np.mean([r['s'] for r in c]):.1f} |")
        print("\nPaired differences (same seed, same USPS rows), mean ± std over seeds:\n")
        for k in sizes:
            sel = [r for r in rows if r["k"] == k]

            def diff(a, b, key, sel=sel):
                """Paired (same seed) difference a − b: mean ± std over seeds, and wins."""
                va = np.array([r[key] for r in sel if r["cond"] == a])
                vb = np.array([r[key] for r in sel if r["cond"] == b])
                d = va - vb
                return f"{d.mean():+.3f} ± {d.std():.3f} ({(d > 0).sum()}/{len(d)} seeds > 0)"

            print(f"- k={k}: fine-tuned − scratch = {diff('fine-tuned', 'scratch', 'usps')} USPS "
                  f"accuracy; distillation − fine-tuned = "
                  f"{diff('fine-tuned + distillation', 'fine-tuned', 'mnist')} MNIST accuracy after "
                  f"(less forgetting if positive), "
                  f"{diff('fine-tuned + distillation', 'fine-tuned', 'usps')} USPS.")
        print(f"\nTotal {elapsed:.0f} s.")
    text = out.getvalue()
    print(text, end="")
    if not args.quick:
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "bench_fine_tune_usps.md").write_text(text)


if __name__ == "__main__":
    main()
