"""Time per epoch of the deep domain adaptation methods: sktransfer and skada, fits interleaved.

``bench_domain_adaptation.py`` times every sktransfer fit, then every skada fit,
minutes apart; on a shared machine whose speed drifts by a fifth from one minute
to the next (the same fit measured 220-350 ms per epoch on the AMD EPYC of these
reports) that makes its ratio drift too. Here one fit of each library runs in
turn, one at a time (that benchmark runs two at once), the order swapped every
round, for each method and task asked for, with that benchmark's network,
batches, settings and seed (its ``_run_ours`` and skada runner), for
``--epochs`` epochs (6; that benchmark's 20 or 30 would only lengthen the
rounds, though the learning rate's annealing, where a method has one, follows
the shorter training)::

    OMP_NUM_THREADS=1 python benchmarks/bench_da_epoch_time.py --methods MDD --tasks USPS→MNIST
    OMP_NUM_THREADS=1 python benchmarks/bench_da_epoch_time.py --methods all \\
        --tasks C→A,USPS→MNIST,B→D --rounds 5
    OMP_NUM_THREADS=1 python benchmarks/bench_da_epoch_time.py --methods all \\
        --tasks "USPS→MNIST (ConvEncoder)"

A digits task named with the suffix " (ConvEncoder)" runs the main
benchmark's ConvEncoder in both libraries (its ``--skada-conv``).

Prints, and writes to ``--out``, a summary (per method and task: both
libraries' median epoch over the rounds, the ratio of those medians,
sktransfer / skada, and the median of the rounds' own ratios, each round's two
fits having run a minute apart at most), then every round. skada runs in its
own environment (``--skada-python``, as the main benchmark), a fresh process
each round; sktransfer's fits run in this process.
"""

from __future__ import annotations

import argparse
import os
import shlex
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


_CONV = " (ConvEncoder)"  # the main benchmark's suffix of its ConvEncoder digits tasks


def _part(task):
    """The benchmark part of a task name such as 'C→A' (names are unique across parts), or None.

    A digits task may end in ' (ConvEncoder)': the same task with the main
    benchmark's ConvEncoder in both libraries.
    """
    conv = task.endswith(_CONV)
    source, arrow, target = task.removesuffix(_CONV).partition("→")
    if not arrow or source == target:
        return None
    for part, domains in (("digits", ("mnist", "usps")), ("office", bench.OFFICE),
                          ("amazon", bench.AMAZON)):
        if {source, target} <= {bench.LETTER[dom] for dom in domains}:
            return part if part == "digits" or not conv else None
    return None


def _positive(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _rounds(method, task, n_rounds, epochs, seed, skada_python, tmp):
    """[(first library, sktransfer ms, skada ms)] for ``n_rounds`` interleaved rounds."""
    part, name, X, y, d, extra = task
    params, _, _ = bench._default_deep_settings(part, extra, quick=False)
    params = {**params, "max_epochs": epochs}

    def ours():
        result = bench._run_ours(method, X, y, d, params, seed)
        if "error" in result:
            raise RuntimeError(f"sktransfer's {method} fit on {name} failed: {result['error']}")
        return result["sec_per_epoch"]

    def theirs():
        _, results = bench._run_skada([task], [(0, method, seed, params)], skada_python, 1, tmp)
        if "error" in results[0]:
            raise RuntimeError(f"skada's {method} fit on {name} failed: {results[0]['error']}")
        return results[0]["sec_per_epoch"]

    rows = []
    for r in range(n_rounds):
        order = ("sktransfer", "skada") if r % 2 == 0 else ("skada", "sktransfer")
        times = {lib: 1000 * (ours() if lib == "sktransfer" else theirs()) for lib in order}
        rows.append((order[0], times["sktransfer"], times["skada"]))
        print(f"{method} {name} round {r}: sktransfer {times['sktransfer']:.1f} ms, "
              f"skada {times['skada']:.1f} ms", flush=True)
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", "--method", default="MDD",
                        help=f"comma-separated, or 'all' ({','.join(bench.DEEP)})")
    parser.add_argument("--tasks", "--task", default="USPS→MNIST",
                        help="comma-separated task names, e.g. 'C→A,USPS→MNIST,B→D'")
    parser.add_argument("--rounds", type=_positive, default=5)
    parser.add_argument("--epochs", type=_positive, default=6)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-home", type=Path, default=bench.DEFAULT_DATA)
    parser.add_argument("--skada-python", default=bench.DEFAULT_SKADA)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    if not Path(args.skada_python).exists():
        parser.error(f"no skada interpreter at {args.skada_python}: see benchmarks/README.md")
    # dict.fromkeys: each method and task once, in the order given
    methods = list(bench.DEEP) if args.methods == "all" else list(dict.fromkeys(args.methods.split(",")))
    unknown = [m for m in methods if m not in bench.DEEP]
    if unknown:
        parser.error(f"unknown method(s) {unknown}; choose from {bench.DEEP} or 'all'")
    names = list(dict.fromkeys(args.tasks.split(",")))
    parts = {name: _part(name) for name in names}
    unknown = [name for name, part in parts.items() if part is None]
    if unknown:
        parser.error(f"unknown task(s) {unknown}, e.g. 'C→A', 'USPS→MNIST', 'B→D', "
                     f"'USPS→MNIST{_CONV}'")
    conv = any(name.endswith(_CONV) for name in names)
    loaded = {t[1]: t for t in bench._tasks(set(parts.values()), args.data_home, quick=False,
                                           conv=conv, only={n.removesuffix(_CONV) for n in names})}
    missing = [name for name in names if name not in loaded]
    if missing:
        parser.error(f"no task(s) {missing} in the benchmark's data")

    start = time.perf_counter()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            for method in methods:
                results[method, name] = _rounds(method, loaded[name], args.rounds, args.epochs,
                                                args.seed, args.skada_python, tmp)

    lines = [
        "# Time per epoch, deep domain adaptation: sktransfer and skada interleaved",
        "",
        describe(),
        "",
        "Command: `OMP_NUM_THREADS=1 python benchmarks/bench_da_epoch_time.py "
        + shlex.join(sys.argv[1:] if argv is None else argv) + "`",
        "",
        (f"{args.epochs} epochs per fit, seed {args.seed}, {args.rounds} rounds per method and "
         "task, one fit at a time (one torch thread), the libraries' order swapped every round; "
         "ms = the fit's median epoch, then the median over the rounds."),
        "",
        ("| task | method | sktransfer ms | skada ms | ratio of medians | median of rounds' "
         "ratios | rounds' ratios (min–max) |"),
        "|---|---|---|---|---|---|---|",
    ]
    worst = 0.0
    for (method, name), rows in results.items():
        ours_ms = np.median([row[1] for row in rows])
        skada_ms = np.median([row[2] for row in rows])
        ratios = [row[1] / row[2] for row in rows]
        worst = max(worst, float(np.median(ratios)), ours_ms / skada_ms)
        lines.append(f"| {name} | {method} | {ours_ms:.1f} | {skada_ms:.1f} | "
                     f"{ours_ms / skada_ms:.2f} | {np.median(ratios):.2f} | "
                     f"{min(ratios):.2f}–{max(ratios):.2f} |")
    lines += ["", (f"Target ≤ 1 for every method and task, by both ratios: "
                   f"{'PASS' if worst <= 1 else 'FAIL'} (largest {worst:.2f})."), ""]
    for (method, name), rows in results.items():
        lines += [f"## {method}, {name}: each round", "",
                  "| round | first | sktransfer | skada | ratio |", "|---|---|---|---|---|"]
        lines += [f"| {r} | {first} | {o:.1f} | {s:.1f} | {o / s:.2f} |"
                  for r, (first, o, s) in enumerate(rows)]
        lines.append("")
    lines.append(f"Wall time: {(time.perf_counter() - start) / 60:.1f} min.")
    report = "\n".join(lines) + "\n"
    print(report)
    if args.out is not None:
        args.out.write_text(report)
        print(f"written to {args.out}")


if __name__ == "__main__":
    main()
