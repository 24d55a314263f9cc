"""DANN on the Amazon reviews (400-d), 12 pairs: a grid over the adaptation weight.

Prints, in one run, for the 12 pairs of books, dvd, elec and kitchen (B, D, E, K),
seeds 0, 1, 2, 60 epochs, StandardScaler over the rows of both domains:

1. the target accuracy (%) of ``DANNClassifier(max_epochs=60, random_state=seed,
   lambda_max=λ, **config)`` per pair (mean ± std over seeds), for two networks:

   - ``default``: sktransfer's default network (MLP 256 units, dropout 0.5; domain
     classifier 64 hidden units), λ in 0, 0.3, 1, 3;
   - ``paper``: the shallow DANN of Ganin et al. (JMLR 2016): one sigmoid hidden
     layer of 100 units, no dropout, a logistic-regression domain classifier on it,
     λ in 0, 0.3, 1.

   λ = 0 is the same network, batches and optimiser without adaptation.
2. for the default network, the reverse-validation selection of λ, without target
   labels: per (pair, seed), ``circular_validation_scorer`` of a fit on the training
   side of one ``SourceKFold(3, shuffle=True, random_state=seed)`` split, scored on
   its validation side; the λ with the best score (ties: the smaller λ), over λ > 0
   and over the full grid, gives the column's accuracy (that of the full fit with
   that λ). How often each λ was picked is counted.
3. the 12-pair averages (mean ± std over seeds of the 12-pair average), with the
   gain over λ = 0 (no adaptation, same network), and the target line
   "Amazon DANN (default λ=1) ≥ no adaptation + 2".

Run::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_dann_amazon.py   # ≈ 45 min, 2 cores
    ... --quick                    # smoke run: one pair, one seed, 2 epochs
    ... --configs default          # one network (default,paper)
    ... --configs default,variants --sources books,dvd --seeds 0 --no-rv
                                   # variants of the network and training, 6 pairs
    ... --no-rv                    # skip the reverse-validation fits
    ... --seeds 0,1                # other seeds
    ... --save-records FILE.jsonl  # also keep one JSON line per fit
    ... --from-records DIR         # no fit: the report from the JSONL records in DIR

Records (``--save-records``, ``--from-records``) hold one JSON object per line with
``cfg, pair, seed, lam, acc, rv, sec``; ``--from-records`` reads every ``*.jsonl`` of
DIR and keeps the records of the chosen configs, of their λ grid and of the chosen
seeds (a repeated (cfg, pair, seed, λ) must agree on its accuracy; the copy in the later
file by name is kept; the ``paper`` network's rv is not used); ``--records-note``
adds a line on where they come from. Data: ``--data-home`` (default
``../shared/data`` next to the repository, or ``$SKTRANSFER_DATA``). Results go to
``benchmarks/results/bench_dann_amazon.md`` (``--out``), except for ``--quick``.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import shlex
import sys
import time
import warnings
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import torch
from joblib import Parallel, delayed
from sklearn.preprocessing import StandardScaler
from torch import nn

from sktransfer import DANNClassifier
from sktransfer.datasets import load_amazon_reviews, mask_target_labels
from sktransfer.model_selection import SourceKFold, circular_validation_scorer

HERE = Path(__file__).resolve().parent
DEFAULT_DATA = HERE.parent.parent / "shared" / "data"
DEFAULT_OUT = HERE / "results" / "bench_dann_amazon.md"

DOMAINS = ["books", "dvd", "elec", "kitchen"]
PAIRS = [(s, t) for s in DOMAINS for t in DOMAINS if s != t]
LETTER = {"books": "B", "dvd": "D", "elec": "E", "kitchen": "K"}
EPOCHS = 60
CONFIGS = {
    "default": {},
    # Ganin et al. JMLR 2016 shallow DANN: one sigmoid hidden layer of 100, no dropout,
    # logistic-regression domain classifier on the hidden layer.
    "paper": {"module__hidden_layer_sizes": (100,), "module__activation": nn.Sigmoid,
              "module__dropout": 0.0, "domain_classifier__hidden_layer_sizes": ()},
}
# Variants of the default network or training, each against its own λ=0: an exploration on
# the 6 pairs with books or dvd as the source, seed 0 (``--configs variants --sources books,dvd
# --seeds 0 --no-rv``), to see whether any of them moves the gain before a full run.
VARIANTS = {
    "lr0.003": {"lr": 0.003},
    "lr0.03": {"lr": 0.03},
    "lr-dann-0.03": {"lr_schedule": "dann", "lr": 0.03},
    "batch128": {"batch_size": 128},
    "epochs120": {"max_epochs": 120},
    "hidden512": {"module__hidden_layer_sizes": (512,)},
    "dropout0.2": {"module__dropout": 0.2},
    "lambda-constant": {"lambda_schedule": "constant"},
    "disc256": {"domain_classifier__hidden_layer_sizes": (256,)},
    "disc256x2": {"domain_classifier__hidden_layer_sizes": (256, 256)},
    "disc1024x2": {"domain_classifier__hidden_layer_sizes": (1024, 1024),
                   "domain_classifier__dropout": 0.5},
}
CONFIGS.update(VARIANTS)
DESCRIPTIONS = {
    "default": "default network (MLP 256, dropout 0.5; domain classifier 64)",
    "paper": "paper network (Ganin et al. 2016: 100 sigmoid units, no dropout; logistic domain "
             "classifier)",
    **{name: "default network with " + ", ".join(f"{k}={v}" for k, v in params.items())
       for name, params in VARIANTS.items()},
}
LAMBDAS = {"default": (0.0, 0.3, 1.0, 3.0), "paper": (0.0, 0.3, 1.0),
           **{name: (0.0, 1.0) for name in VARIANTS}}
RV_CONFIGS = {"default"}  # reverse validation for the default network only
TARGET_GAIN = 2.0  # target: default network, λ=1 ≥ λ=0 + 2 (12-pair average)


# ----------------------------------------------------------------------
# fits
# ----------------------------------------------------------------------
def load_pair(source, target, data_home):
    """(X scaled over both domains as float32, y, sample_domain)."""
    X, y, d = load_amazon_reviews(source, target, data_home=data_home)
    return StandardScaler().fit_transform(X).astype(np.float32), y, d


def _make(cfg, lam, seed, epochs):
    return DANNClassifier(**{"max_epochs": epochs, "random_state": seed, "lambda_max": lam,
                             **CONFIGS[cfg]})


def fit_one(X, y, d, *, cfg, pair, seed, lam, rv, epochs=EPOCHS):
    """One record: target accuracy (%) of the full fit, and the reverse-validation score (%).

    The computation of the exploratory run_grid.py: the full fit on all rows with
    the target labels hidden; then, if ``rv``, a fit on the training side of
    ``SourceKFold(3, shuffle=True, random_state=seed)``'s first split, scored by
    ``circular_validation_scorer`` on its validation side.
    """
    torch.set_num_threads(1)
    X = np.array(X)  # a writable copy (joblib may hand over a read-only memmap)
    lam = float(lam)
    start = time.time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ym = mask_target_labels(y, d)
        # stratify=False: the split these records were made with (SourceKFold's
        # default before it stratified; shuffled, so each fold holds both classes)
        tr, va = next(SourceKFold(3, shuffle=True, random_state=seed, stratify=False).split(X, ym))
        clf = _make(cfg, lam, seed, epochs).fit(X, ym)
        acc = 100 * float(np.mean(clf.predict(X[d < 0]) == y[d < 0]))
        score = None
        if rv:
            est = _make(cfg, lam, seed, epochs).fit(X[tr], ym[tr])
            score = 100 * circular_validation_scorer(est, X[va], ym[va])
    return {"cfg": cfg, "pair": pair, "seed": seed, "lam": lam, "acc": acc, "rv": score,
            "sec": time.time() - start}


def run_fits(configs, seeds, pairs, data_home, n_jobs, epochs, do_rv):
    data = {f"{s}->{t}": load_pair(s, t, data_home) for s, t in pairs}
    jobs = [(cfg, pair, seed, lam) for cfg in configs for seed in seeds for pair in data
            for lam in LAMBDAS[cfg]]
    return Parallel(n_jobs=n_jobs)(
        delayed(fit_one)(*data[pair], cfg=cfg, pair=pair, seed=seed, lam=lam,
                         rv=do_rv and cfg in RV_CONFIGS, epochs=epochs)
        for cfg, pair, seed, lam in jobs
    )


def read_records(folder, configs, seeds):
    """Records of ``folder/*.jsonl`` for these configs, their λ grid and these seeds."""
    files = sorted(Path(folder).glob("*.jsonl"))
    kept, notes = {}, collections.Counter()
    for path in files:
        for line in path.read_text().splitlines():
            if not line.strip():
                continue
            r = json.loads(line)
            if r["cfg"] not in configs:
                notes[f"other config ({r['cfg']})"] += 1
                continue
            if float(r["lam"]) not in LAMBDAS[r["cfg"]]:
                notes[f"λ={r['lam']:g} outside the {r['cfg']} grid"] += 1
                continue
            if r["seed"] not in seeds:
                notes[f"seed {r['seed']} not asked for"] += 1
                continue
            r = dict(r, lam=float(r["lam"]))
            if r["cfg"] not in RV_CONFIGS:
                r["rv"] = None
            key = (r["cfg"], r["pair"], r["seed"], r["lam"])
            if key in kept:  # a later file (by name) supersedes an earlier one
                old = kept[key]
                if abs(old["acc"] - r["acc"]) > 1e-6:
                    raise ValueError(f"{path.name}: {key} repeated with another accuracy "
                                     f"({old['acc']} in {old['file']} vs {r['acc']})")
                notes[f"in {old['file']} repeated with the same accuracy in {path.name} (kept)"] += 1
            kept[key] = dict(r, file=path.name)
    used = collections.Counter(r["file"] for r in kept.values())
    return list(kept.values()), files, used, notes


# ----------------------------------------------------------------------
# report
# ----------------------------------------------------------------------
class Report:
    def __init__(self):
        self.lines = []

    def __call__(self, text=""):
        print(text, flush=True)
        self.lines.append(text)


def _short(pair):
    s, t = pair.split("->")
    return f"{LETTER[s]}→{LETTER[t]}"


def _pick(rv, pair, seed, grid):
    """The λ of ``grid`` with the best reverse-validation score; ties: the smaller λ."""
    return max(grid, key=lambda lam: (rv[(pair, seed, lam)], -lam))


def config_tables(report, cfg, records):
    R = [r for r in records if r["cfg"] == cfg]
    if not R:
        return None
    order = {f"{s}->{t}": i for i, (s, t) in enumerate(PAIRS)}
    pairs = sorted({r["pair"] for r in R}, key=order.get)
    lams = sorted({r["lam"] for r in R})
    seeds = sorted({r["seed"] for r in R})
    acc = {(r["pair"], r["seed"], r["lam"]): r["acc"] for r in R}
    rv = {(r["pair"], r["seed"], r["lam"]): r["rv"] for r in R}

    def complete(p, s):
        return all((p, s, lam) in acc for lam in lams)

    def has_rv(p, s):
        return complete(p, s) and all(rv[(p, s, lam)] is not None for lam in lams)

    cols = {f"λ={lam:g}": (lambda p, s, lam=lam: acc[(p, s, lam)]) for lam in lams}
    pos = [lam for lam in lams if lam > 0]
    with_rv = any(has_rv(p, s) for p in pairs for s in seeds)
    if with_rv:
        if not all(has_rv(p, s) for p in pairs for s in seeds if complete(p, s)):
            raise ValueError(f"config {cfg}: reverse-validation scores missing for some fits")
        for grid in (pos, lams):
            cols["RV λ∈{" + ",".join(f"{lam:g}" for lam in grid) + "}"] = (
                lambda p, s, grid=grid: acc[(p, s, _pick(rv, p, s, grid))])
    # A ceiling, not a method: the λ each (pair, seed) would get from its
    # target labels. No selector without them can do better on this grid.
    for grid in (pos, lams):
        if len(grid) > 1:
            cols["oracle λ∈{" + ",".join(f"{lam:g}" for lam in grid) + "}"] = (
                lambda p, s, grid=grid: max(acc[(p, s, lam)] for lam in grid))
    used = [s for s in seeds if all(complete(p, s) for p in pairs)]

    net = DESCRIPTIONS[cfg]
    report(f"\n## {cfg}: {net}; λ ∈ {{{', '.join(f'{lam:g}' for lam in lams)}}}; seeds {seeds}\n")
    report("Target accuracy (%), mean ± std over the seeds"
           + (" with every λ" if len(used) < len(seeds) else "") + "."
           + (" RV columns: the accuracy of the λ picked by reverse validation (no target label)."
              if with_rv else "")
           + " Oracle columns: the best λ of the grid for each pair and seed, picked with the"
           " target labels (a ceiling for any selector, not a method)." + "\n")
    report("| pair | " + " | ".join(cols) + " |")
    report("|---" * (len(cols) + 1) + "|")
    for p in pairs:
        row = []
        for fn in cols.values():
            v = [fn(p, s) for s in seeds if complete(p, s)]
            row.append(f"{np.mean(v):.1f} ± {np.std(v):.1f}" if v else "—")
        report(f"| {_short(p)} | " + " | ".join(row) + " |")

    averages = {}
    if used:
        base = np.array([np.mean([acc[(p, s, 0.0)] for p in pairs]) for s in used]) if 0.0 in lams else None
        report(f"\n{len(pairs)}-pair average (%), mean ± std over seeds {used} of the "
               f"{len(pairs)}-pair average; gain over λ=0 (no adaptation, same network): mean ± std "
               "over seeds of the per-seed difference"
               + ("" if len(pairs) == 12 else f" (only {len(pairs)} of the 12 pairs)") + ".\n")
        report(f"| {cfg} | {len(pairs)}-pair average | gain over λ=0 |")
        report("|---|---|---|")
        for name, fn in cols.items():
            avgs = np.array([np.mean([fn(p, s) for p in pairs]) for s in used])
            averages[name] = avgs
            gain = "—" if base is None else f"{np.mean(avgs - base):+.2f} ± {np.std(avgs - base):.2f}"
            report(f"| {name} | {np.mean(avgs):.2f} ± {np.std(avgs):.2f} | {gain} |")
    if with_rv:
        runs = [(p, s) for p in pairs for s in seeds if complete(p, s)]
        report(f"\nλ picked by reverse validation, over the {len(runs)} (pair, seed) runs:\n")
        report("| grid | " + " | ".join(f"λ={lam:g}" for lam in lams) + " |")
        report("|---" * (len(lams) + 1) + "|")
        for grid in (pos, lams):
            picks = collections.Counter(_pick(rv, p, s, grid) for p, s in runs)
            report("| {" + ",".join(f"{lam:g}" for lam in grid) + "} | "
                   + " | ".join(str(picks[lam]) if lam in grid else "—" for lam in lams) + " |")
    secs = [r["sec"] for r in R if r.get("sec") is not None]
    if secs:
        report(f"\nMean time per record (full fit{' + RV fit' if with_rv else ''}): {np.mean(secs):.1f} s.")
    return {"pairs": pairs, "averages": averages}


def must_reach(report, summary):
    report("\n## Target\n")
    s = summary.get("default")
    if not s or "λ=1" not in s["averages"] or "λ=0" not in s["averages"]:
        report("- Amazon DANN (default λ=1) ≥ no adaptation + 2: not checked "
               "(needs the default network with λ=0 and λ=1).")
        return
    dann, base = s["averages"]["λ=1"], s["averages"]["λ=0"]
    gain = float(np.mean(dann - base))
    verdict = "PASS" if gain >= TARGET_GAIN else "FAIL"
    if len(s["pairs"]) != 12:
        verdict = f"not checked (only {len(s['pairs'])} of the 12 pairs; would read {verdict})"
    report(f"- Amazon DANN (default λ=1) ≥ no adaptation + 2: DANN {np.mean(dann):.2f} vs no "
           f"adaptation {np.mean(base):.2f} ({gain:+.2f}; {len(s['pairs'])}-pair averages, mean over seeds) → {verdict}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-home", default=os.environ.get("SKTRANSFER_DATA", DEFAULT_DATA))
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="smoke run: one pair, one seed, 2 epochs")
    parser.add_argument("--configs", default="default,paper",
                        help="comma-separated configs: default, paper, the VARIANTS names, or "
                             "'variants' for all of them")
    parser.add_argument("--sources", default=",".join(DOMAINS),
                        help="comma-separated source domains: only the pairs from them")
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated seeds")
    parser.add_argument("--no-rv", action="store_true", help="skip the reverse-validation fits")
    parser.add_argument("--from-records", metavar="DIR",
                        help="no fit: build the report from the JSONL records of DIR")
    parser.add_argument("--records-note", default=None,
                        help="with --from-records: a line on where the records come from, for the header")
    parser.add_argument("--save-records", metavar="FILE", help="write one JSON line per fit to FILE")
    parser.add_argument("--out", default=str(DEFAULT_OUT))
    args = parser.parse_args()
    configs = [v for c in args.configs.split(",") if c
               for v in (list(VARIANTS) if c == "variants" else [c])]
    unknown = set(configs) - set(CONFIGS)
    if unknown:
        parser.error(f"unknown configs {sorted(unknown)}; choose among {list(CONFIGS)}")
    seeds = [int(s) for s in args.seeds.split(",") if s]
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    report = Report()
    command = shlex.join(["OMP_NUM_THREADS=1", "python", "benchmarks/bench_dann_amazon.py", *sys.argv[1:]])

    if args.from_records:
        records, files, used, notes = read_records(args.from_records, configs, seeds)
        report("# DANN on Amazon reviews: λ grid, built from records (no fit in this run)\n")
        report(f"Command: `{command}`\n")
        report(f"Built from the JSONL records of `{args.from_records}`, not by fitting: "
               + ", ".join(f"`{f.name}` ({used.get(f.name, 0)} used)" for f in files)
               + f"; {len(records)} records used"
               + ("; left out: " + "; ".join(f"{n} {why}" for why, n in notes.items()) if notes else "")
               + ". Each record is one fit as this script's `fit_one` does it (cfg, pair, seed, λ: target "
               "accuracy, reverse-validation score, seconds).\n")
        if args.records_note:
            report(f"Records: {args.records_note}\n")
    else:
        sources = [d for d in args.sources.split(",") if d]
        if set(sources) - set(DOMAINS):
            parser.error(f"unknown source domains {sorted(set(sources) - set(DOMAINS))}")
        pairs = [(s, t) for s, t in PAIRS if s in sources]
        pairs = pairs[:1] if args.quick else pairs
        if args.quick:
            seeds = seeds[:1]
        report(f"# DANN on Amazon reviews: λ grid (torch {torch.__version__}, {os.cpu_count()} CPUs, "
               f"{args.n_jobs} fits in parallel, 1 thread each)\n")
        report(f"Command: `{command}`\n")
        records = run_fits(configs, seeds, pairs, args.data_home, args.n_jobs,
                           2 if args.quick else EPOCHS, not args.no_rv)
        if args.save_records:
            Path(args.save_records).write_text("".join(json.dumps(r) + "\n" for r in records))
    epochs = 2 if args.quick and not args.from_records else EPOCHS
    report(f"Amazon reviews 400-d (mSDA features), StandardScaler over both domains; "
           f"DANNClassifier(max_epochs={epochs}, random_state=seed, lambda_max=λ, **network)"
           + (" (--quick)" if epochs != EPOCHS else "") + ". Reverse validation (default "
           "network): circular_validation_scorer on one SourceKFold(3, shuffle=True, random_state=seed) "
           "split; ties to the smaller λ.")
    summary = {}
    for cfg in configs:
        s = config_tables(report, cfg, records)
        if s:
            summary[cfg] = s
    must_reach(report, summary)
    report(f"\nWall time: {(time.perf_counter() - t0) / 60:.1f} min.")

    if not args.quick:
        out_path = Path(args.out)
        out_path.parent.mkdir(parents=True, exist_ok=True)
        out_path.write_text("\n".join(report.lines) + "\n")
        print(f"\nwritten to {out_path}")


if __name__ == "__main__":
    main()
