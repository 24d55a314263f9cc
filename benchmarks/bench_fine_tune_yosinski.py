"""How transferable are the features of each layer? Yosinski et al. (NIPS 2014) on real digits.

Question: when the first ``n`` layers of a network trained on task A are copied
into a network for task B, does frozen transfer (AnB) degrade with ``n`` and
does fine-tuning the copied layers (AnB+) match or beat training from scratch?
And the "selffer" control: copying from a network trained on B itself (BnB,
BnB+), where a drop at middle ``n`` when frozen shows co-adapted layers.

Method: MNIST 2000 x 256 (16x16 digits, raw values in [0, 1]) from
``../shared/data``. Task A = digits 0-4 (all ~1000 rows), task B = digits 5-9
(per seed: ``--b-train`` rows, default 500, for training, the other ~490 B rows
held out for testing). The network is a small ConvNet with L = 5 layer groups
(its ``FineTuneClassifier.layer_groups_``)::

    conv1: Conv 5x5 1->16, ReLU, MaxPool 2   (16x16 -> 8x8)
    conv2: Conv 3x3 16->32, ReLU, MaxPool 2  (-> 4x4)
    conv3: Conv 3x3 32->32, ReLU
    fc1:   Linear 512->128, ReLU
    fc2:   Linear 128->64, ReLU
    head:  Linear 64->5

base A (resp. base B) = this network from random initialisation trained on A's
rows (resp. B's training rows). For ``n = 1..L``: the first ``n`` groups of
base A (B) are copied, groups ``n+1..L`` re-initialised at random (as in the
paper), the head replaced by a new 5-way head (``FineTuneClassifier`` does
this), then trained on B's training rows with the copied groups frozen
(``freeze=n``: AnB / BnB) or trainable (``freeze=None``: AnB+ / BnB+).
``n = 0`` is base B (random init trained on B) for every condition.
Every fit: ``FineTuneClassifier``, Adam lr 1e-3, batch 32, ``--epochs`` epochs
(default 40; the training loss is near zero by then), no schedule. Hyper-
parameters were fixed before looking at test accuracy (Adam defaults, an epoch
count at which base B's training loss has converged); none tuned on the test rows.
Accuracy on B's held-out rows; mean ± std over seeds (the B split, the
initialisations and the batch order change with the seed).
Plot: ``benchmarks/results/yosinski_digits.png`` (as the paper's Figure 2).

Run from the repository root (one core, about 7 minutes)::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_fine_tune_yosinski.py

``--quick`` for a smoke run (1 seed, few epochs). Output also written to
``benchmarks/results/bench_fine_tune_yosinski.md``.
"""

from __future__ import annotations

import argparse
import copy
import io
import os
import tempfile
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
GROUPS = ("conv1", "conv2", "conv3", "fc1", "fc2")
CONDITIONS = ("AnB", "AnB+", "BnB", "BnB+")


def transferred(base, n, seed):
    """The trained network ``base`` with groups n+1..L re-initialised at random."""
    network = copy.deepcopy(base)
    torch.manual_seed(seed)
    for name in GROUPS[n:]:
        for module in network.get_submodule(name).modules():
            if hasattr(module, "reset_parameters"):
                module.reset_parameters()
    return network


def fit(network, X, y, epochs, seed, freeze=None):
    return FineTuneClassifier(
        network, freeze=freeze, max_epochs=epochs, batch_size=32, lr=1e-3, random_state=seed
    ).fit(X, y)


def run(seeds, epochs, b_train):
    X, y = load_domain("mnist_usps", "mnist", data_home=DATA)
    X = X.astype(np.float32)
    is_a = y < 5
    X_a, y_a = X[is_a], y[is_a]
    X_b, y_b = X[~is_a], y[~is_a]
    acc = {}  # (condition, n) -> list of accuracies
    for seed in seeds:
        order = np.random.RandomState(seed).permutation(len(X_b))
        train, test = order[:b_train], order[b_train:]
        base_a = fit(conv_net(1000 + seed, n_outputs=5), X_a, y_a, epochs, seed)
        base_b = fit(conv_net(2000 + seed, n_outputs=5), X_b[train], y_b[train], epochs, seed)
        assert base_a.n_layer_groups_ == len(GROUPS), base_a.layer_groups_
        score_b = base_b.score(X_b[test], y_b[test])
        for cond in CONDITIONS:
            acc.setdefault((cond, 0), []).append(score_b)
        for n in range(1, len(GROUPS) + 1):
            for cond in CONDITIONS:
                base = base_a if cond.startswith("A") else base_b
                network = transferred(base.net_.module_.network, n, seed=3000 + 10 * seed + n)
                est = fit(network, X_b[train], y_b[train], epochs, seed,
                          freeze=None if cond.endswith("+") else n)
                acc.setdefault((cond, n), []).append(est.score(X_b[test], y_b[test]))
        print(f"  seed {seed} done", flush=True)
    return acc


def plot(acc, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    style = {  # as in Yosinski et al. Figure 2
        "BnB": {"color": "tab:blue", "marker": "o", "mfc": "tab:blue"},
        "BnB+": {"color": "tab:cyan", "marker": "o", "mfc": "tab:cyan"},
        "AnB": {"color": "tab:red", "marker": "D", "mfc": "tab:red"},
        "AnB+": {"color": "tab:pink", "marker": "D", "mfc": "tab:pink"},
    }
    L = len(GROUPS)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    base = acc[("AnB", 0)]
    ax.scatter(np.zeros(len(base)), base, marker="o", facecolors="white", edgecolors="black",
               zorder=3, label="base B (random init)")
    for k, (cond, st) in enumerate(style.items()):
        offset = (k - 1.5) * 0.06
        for n in range(1, L + 1):
            vals = acc[(cond, n)]
            ax.scatter(np.full(len(vals), n + offset), vals, s=14, alpha=0.5,
                       color=st["color"], marker=st["marker"])
        means = [np.mean(acc[(cond, n)]) for n in range(L + 1)]
        ax.plot(range(L + 1), means, color=st["color"], marker=st["marker"], lw=1.5, label=cond)
    ax.set_xticks(range(L + 1), ["0"] + [f"{n}\n({GROUPS[n - 1]})" for n in range(1, L + 1)])
    ax.set_xlabel("layer groups n copied from the base network")
    ax.set_ylabel("accuracy on held-out B rows (digits 5-9)")
    ax.set_title("Layer transfer on MNIST: A = 0-4, B = 5-9 (points: seeds; lines: means)")
    ax.legend(loc="lower left", fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--b-train", type=int, default=500, help="training rows of task B")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 1 seed, 3 epochs")
    args = parser.parse_args()
    torch.set_num_threads(1)
    seeds = list(range(1 if args.quick else args.seeds))
    epochs = 3 if args.quick else args.epochs
    t0 = time.perf_counter()
    acc = run(seeds, epochs, args.b_train)
    elapsed = time.perf_counter() - t0
    # a smoke run leaves the results folder alone
    png = (Path(tempfile.gettempdir()) if args.quick else RESULTS) / "yosinski_digits.png"
    plot(acc, png)

    out = io.StringIO()
    with redirect_stdout(out):
        print("# bench_fine_tune_yosinski\n")
        print(command() + "\n")
        print(f"MNIST (shared data, 2000 rows 16x16): A = digits 0-4 (all rows) trains base A; "
              f"B = digits 5-9, {args.b_train} training rows, the rest held out. ConvNet with "
              f"L = {len(GROUPS)} layer groups ({', '.join(GROUPS)}) + head; every fit "
              f"FineTuneClassifier, Adam 1e-3, batch 32, {epochs} epochs. Accuracy on held-out B "
              f"rows, mean ± std over {len(seeds)} seeds. n = 0: base B (random init).\n")
        L = len(GROUPS)
        print("| condition | " + " | ".join(f"n={n}" + (f" ({GROUPS[n - 1]})" if n else "")
                                         for n in range(L + 1)) + " |")
        print("|---" * (L + 2) + "|")
        for cond in CONDITIONS:
            cells = [f"{np.mean(acc[(cond, n)]):.3f} ± {np.std(acc[(cond, n)]):.3f}"
                     for n in range(L + 1)]
            print(f"| {cond} | " + " | ".join(cells) + " |")
        print(f"\nAnB / BnB: copied groups frozen (`freeze=n`); AnB+ / BnB+: copied groups "
              f"fine-tuned (`freeze=None`). Groups above n re-initialised. Plot: {png.name}. "
              f"Total {elapsed:.0f} s.")
    text = out.getvalue()
    print(text, end="")
    if not args.quick:
        (RESULTS / "bench_fine_tune_yosinski.md").write_text(text)


if __name__ == "__main__":
    main()
