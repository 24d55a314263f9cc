"""Time per epoch of a deep domain adaptation method: sktransfer and skada, fits interleaved.

``bench_domain_adaptation.py`` times every sktransfer fit, then every skada fit,
minutes apart; on a shared machine whose speed drifts by a fifth from one minute
to the next (the same fit measured 220-350 ms per epoch on the AMD EPYC of these
reports) that makes its ratio drift too. Here one fit of each library runs in
turn, one at a time (that benchmark runs two at once), the order swapped every
round, on one of its MLP tasks with the same network, batches, settings and seed
(its ``_run_ours`` and skada runner), for ``--epochs`` epochs (6; that benchmark's
20 or 30 would only lengthen the rounds, though the learning rate's annealing,
where a method has one, follows the shorter training)::

    OMP_NUM_THREADS=1 python benchmarks/bench_da_epoch_time.py --method MDD --task USPS→MNIST

Prints, and writes to ``--out``, each round's median epoch (ms) of both
libraries, the ratio of their medians over the rounds (sktransfer / skada) and
the median of the rounds' ratios (each round's two fits ran a minute apart at
most). skada runs in its own environment (``--skada-python``, as the main
benchmark), a fresh process each round; sktransfer's fits run in this process.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench_domain_adaptation as bench  # noqa: E402  (a sibling script)
from _environment import describe  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--method", default="MDD", choices=bench.DEEP)
    parser.add_argument("--part", default="digits", choices=["office", "digits", "amazon"])
    parser.add_argument("--task", default="USPS→MNIST", help="a task of the part, e.g. 'C→A'")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-home", type=Path, default=bench.DEFAULT_DATA)
    parser.add_argument("--skada-python", default=bench.DEFAULT_SKADA)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    if not Path(args.skada_python).exists():
        parser.error(f"no skada interpreter at {args.skada_python}: see benchmarks/README.md")

    tasks = [t for t in bench._tasks([args.part], args.data_home, quick=False)
             if t[1] == args.task]
    if not tasks:
        parser.error(f"no task {args.task!r} in part {args.part!r}")
    part, name, X, y, d, extra = tasks[0]
    params, _, _ = bench._default_deep_settings(part, extra, quick=False)
    params = {**params, "max_epochs": args.epochs}

    def ours():
        result = bench._run_ours(args.method, X, y, d, params, args.seed)
        if "error" in result:
            raise RuntimeError(f"sktransfer's fit failed: {result['error']}")
        return result["sec_per_epoch"]

    def theirs(tmp):
        _, results = bench._run_skada(tasks, [(0, args.method, args.seed, params)],
                                      args.skada_python, 1, tmp)
        if "error" in results[0]:
            raise RuntimeError(f"skada's fit failed: {results[0]['error']}")
        return results[0]["sec_per_epoch"]

    start = time.perf_counter()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            first, second = ("sktransfer", "skada") if r % 2 == 0 else ("skada", "sktransfer")
            times = {}
            for lib in (first, second):
                times[lib] = 1000 * (ours() if lib == "sktransfer" else theirs(tmp))
            rows.append((r, first, times["sktransfer"], times["skada"]))
            print(f"round {r}: sktransfer {times['sktransfer']:.1f} ms, skada {times['skada']:.1f} ms",
                  flush=True)

    ours_ms = np.median([row[2] for row in rows])
    skada_ms = np.median([row[3] for row in rows])
    round_ratio = np.median([row[2] / row[3] for row in rows])
    lines = [
        f"# Time per epoch, {args.method} on {args.part} {name}: sktransfer and skada interleaved",
        "",
        describe(),
        "",
        "Command: `OMP_NUM_THREADS=1 python benchmarks/bench_da_epoch_time.py "
        + " ".join(sys.argv[1:] if argv is None else argv) + "`",
        "",
        (f"{args.epochs} epochs per fit, seed {args.seed}, one fit at a time (one torch thread), "
         "the libraries' order swapped every round; each cell the fit's median epoch (ms)."),
        "",
        "| round | first | sktransfer | skada | ratio |",
        "|---|---|---|---|---|",
    ]
    lines += [f"| {r} | {first} | {o:.1f} | {s:.1f} | {o / s:.2f} |" for r, first, o, s in rows]
    lines += ["", (f"Median over the rounds: sktransfer {ours_ms:.1f} ms, skada {skada_ms:.1f} ms, "
                   f"ratio **{ours_ms / skada_ms:.2f}** (target ≤ 1: "
                   f"{'PASS' if ours_ms <= skada_ms else 'FAIL'}); median of the rounds' "
                   f"ratios **{round_ratio:.2f}** ({'PASS' if round_ratio <= 1 else 'FAIL'})."),
              "", f"Wall time: {(time.perf_counter() - start) / 60:.1f} min."]
    report = "\n".join(lines) + "\n"
    print(report)
    if args.out is not None:
        args.out.write_text(report)
        print(f"written to {args.out}")


if __name__ == "__main__":
    main()
