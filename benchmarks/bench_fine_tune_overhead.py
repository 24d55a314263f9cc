"""What does FineTuneClassifier (skorch underneath) cost per epoch against a hand-written PyTorch loop?

Question: is the time per epoch of ``FineTuneClassifier`` within 10 % of a
minimal hand-written PyTorch training loop doing the same work?

Method: MNIST (2000 rows x 256 pixels, 16x16 digits, raw values in [0, 1])
from ``../shared/data``. A "pretrained" network (random weights are enough for
timing) is fine-tuned for ``--epochs`` epochs with a new 10-way linear head:
both sides use the same module (deep copies), the same batch size (32), Adam
(lr 1e-3), shuffled batches drawn with ``torch.randperm`` and indexed tensors,
cross-entropy loss. Two networks: a ConvNet (``sktransfer.nn.ConvEncoder``,
16x16 input, channels 32/48, 100 features, + Linear head) and a small MLP
(256-64-64-10, ``sktransfer.nn.MLP``) where per-batch overhead weighs most.
Two settings: plain fine-tuning, and fine-tuning with L2-SP
(``l2sp_alpha=0.01``; the hand loop adds ``alpha * sum ||w - w0||^2`` over the
non-head parameters). The two sides alternate for ``--rounds`` rounds; each
round records the median epoch time (skorch's ``history[:, "dur"]`` for the
estimator, the same ``time.perf_counter`` span around one epoch for the hand
loop); the table reports the median over rounds and the ratio.
One torch thread.

Run from the repository root (one core, about 2 minutes)::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_fine_tune_overhead.py

``--quick`` for a smoke run. Output also written to
``benchmarks/results/bench_fine_tune_overhead.md``.
"""

from __future__ import annotations

import argparse
import copy
import io
import os
import time
from contextlib import redirect_stdout
from pathlib import Path

import numpy as np
import torch
from _environment import command  # a sibling module of this script
from torch import nn

from sktransfer.datasets import load_domain
from sktransfer.fine_tuning import FineTuneClassifier
from sktransfer.nn import MLP, ConvEncoder

DATA = Path(os.environ.get("SKTRANSFER_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
RESULTS = Path(__file__).resolve().parent / "results"
BATCH, LR, ALPHA = 32, 1e-3, 0.01


def conv_net():
    return nn.Sequential(ConvEncoder(input_shape=(1, 16, 16)), nn.Linear(100, 10))


def mlp_net():
    return MLP(256, hidden_layer_sizes=(64, 64), n_outputs=10)


def hand_loop(pretrained, X, y, epochs, l2sp_alpha, seed):
    """Minimal PyTorch fine-tuning loop: new head, Adam, shuffled batches, optional L2-SP."""
    torch.manual_seed(seed)
    net = copy.deepcopy(pretrained)
    head_name = [n for n, m in net.named_modules() if isinstance(m, nn.Linear)][-1]
    old = net.get_submodule(head_name)
    parent, _, child = head_name.rpartition(".")
    setattr(net.get_submodule(parent) if parent else net, child, nn.Linear(old.in_features, 10))
    body = [(p, p.detach().clone()) for n, p in net.named_parameters() if not n.startswith(head_name + ".")]
    X, y = torch.as_tensor(X), torch.as_tensor(y)
    opt = torch.optim.Adam(net.parameters(), lr=LR)
    loss_fn = nn.CrossEntropyLoss()
    net.train()
    times = []
    for _ in range(epochs):
        t0 = time.perf_counter()
        order = torch.randperm(len(X))
        for start in range(0, len(X), BATCH):
            idx = order[start : start + BATCH]
            loss = loss_fn(net(X[idx]), y[idx])
            if l2sp_alpha:
                loss = loss + l2sp_alpha * torch.stack([((p - w) ** 2).sum() for p, w in body]).sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def estimator_epoch(pretrained, X, y, epochs, l2sp_alpha, seed):
    est = FineTuneClassifier(
        pretrained, l2sp_alpha=l2sp_alpha, max_epochs=epochs, batch_size=BATCH, lr=LR, random_state=seed
    ).fit(X, y)
    return float(np.median(est.net_.history[:, "dur"]))


def run(rounds, epochs, X, y):
    rows = []
    for net_name, factory in (("ConvEncoder + Linear", conv_net), ("MLP 256-64-64-10", mlp_net)):
        torch.manual_seed(0)
        pretrained = factory()
        for setting, alpha in (("plain", 0.0), ("L2-SP", ALPHA)):
            sk, hand = [], []
            for r in range(rounds):  # alternate the two sides
                hand.append(hand_loop(pretrained, X, y, epochs, alpha, seed=r))
                sk.append(estimator_epoch(pretrained, X, y, epochs, alpha, seed=r))
            rows.append((net_name, setting, np.median(hand), np.median(sk)))
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run: 2 rounds of 2 epochs")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--seeds", type=int, default=None, help="alias of --rounds (round r uses seed r)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    rounds = 2 if args.quick else (args.seeds or args.rounds)
    epochs = 2 if args.quick else args.epochs
    X, y = load_domain("mnist_usps", "mnist", data_home=DATA)
    X = X.astype(np.float32)
    t0 = time.perf_counter()
    rows = run(rounds, epochs, X, y)
    elapsed = time.perf_counter() - t0

    out = io.StringIO()
    with redirect_stdout(out):
        print("# bench_fine_tune_overhead\n")
        print(command() + "\n")
        print(f"Time per epoch, MNIST 2000 x 256, batch {BATCH}, Adam {LR}, shuffled, "
              f"torch {torch.__version__}, threads={torch.get_num_threads()}; median over "
              f"{rounds} alternating rounds of the per-round median of {epochs} epochs. "
              f"L2-SP: alpha={ALPHA} on the non-head parameters.\n")
        print("| network | setting | hand-written loop (ms/epoch) | FineTuneClassifier (ms/epoch) | ratio |")
        print("|---|---|---|---|---|")
        for net_name, setting, hand, sk in rows:
            print(f"| {net_name} | {setting} | {1000 * hand:.1f} | {1000 * sk:.1f} | {sk / hand:.2f} |")
        print(f"\nTotal {elapsed:.0f} s.")
    text = out.getvalue()
    print(text, end="")
    if not args.quick:
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "bench_fine_tune_overhead.md").write_text(text)


if __name__ == "__main__":
    main()
