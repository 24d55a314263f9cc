"""Sparse rows in domain adaptation: importance weighting and IWV, dense vs CSR.

Text features are sparse: a TF-IDF or term-frequency matrix is mostly zeros.
``ImportanceWeightedClassifier`` and the model-selection scorers keep such rows
sparse (CSR). This benchmark reports, in one run and side by side, the results of
the sparse path and of the dense path and what the sparse one saves:

1. **Amazon reviews, 12 pairs** (the 400-d term features of ``../shared/data``, 6.2%
   non-zero), raw features (no scaling, which would densify them): target accuracy
   (%), fit time (the median of 3 runs after an untimed warm-up) and peak memory
   of the fit (``tracemalloc``, which counts numpy's and Python's allocations but
   not a compiled solver's own workspace), dense ndarray vs CSR, for

   - ``LR``: source-only ``LabelledOnly(LogisticRegression(max_iter=1000))``;
   - ``IW``: ``ImportanceWeightedClassifier(LogisticRegression(max_iter=1000))``, the
     density ratio from a logistic-regression domain classifier;
   - ``KMM``: the same with ``weighting="kmm"``;
   - ``KLIEP``: the same with ``weighting="kliep"`` (its default candidate widths and
     likelihood cross-validation, ``random_state=0``);
   - ``IWV``: ``importance_weighted_scorer`` of the source-only model, with the target
     rows and 1/3 of the source rows (held out from its fit), its value and time.

2. **A wide text-like matrix** (synthetic: 4000 rows; 200 common terms, 10% non-zero,
   that carry the label, and 19 800 rare ones, 0.2% non-zero; the target rows use a
   tenth of the terms 3 times as often): the ``IW`` fit, dense vs CSR.

Run::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_da_sparse.py   # ≈ 22 min, 1 core (KLIEP most of it)
    ... --quick       # two pairs, no KMM or KLIEP, a smaller wide matrix
    ... --data-home DIR --out FILE

Results go to ``benchmarks/results/bench_da_sparse.md`` (not for ``--quick``).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import tracemalloc
import warnings
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression

from sktransfer import LabelledOnly
from sktransfer.datasets import load_amazon_reviews, mask_target_labels
from sktransfer.domain_adaptation import (
    ImportanceWeightCollapseWarning,
    ImportanceWeightedClassifier,
)
from sktransfer.model_selection import importance_weighted_scorer

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _environment import describe

DEFAULT_DATA = Path(os.environ.get("SKTRANSFER_DATA", HERE.parent.parent / "shared" / "data"))
DEFAULT_OUT = HERE / "results" / "bench_da_sparse.md"
DOMAINS = ["books", "dvd", "elec", "kitchen"]
PAIRS = [(s, t) for s in DOMAINS for t in DOMAINS if s != t]
LETTER = {"books": "B", "dvd": "D", "elec": "E", "kitchen": "K"}


REPEATS = 3


def _measure(fn):
    """``(result, seconds, peak MiB)`` of ``fn()``.

    An untimed warm-up, the median wall time of ``REPEATS`` runs, then one run
    under ``tracemalloc`` for the peak memory.
    """
    result = fn()
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    seconds = float(np.median(times))
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return result, seconds, peak


def _methods(with_kmm):
    lr = lambda: LogisticRegression(max_iter=1000)
    methods = {
        "LR": lambda: LabelledOnly(lr()),
        "IW": lambda: ImportanceWeightedClassifier(lr()),
    }
    if with_kmm:
        methods["KMM"] = lambda: ImportanceWeightedClassifier(lr(), weighting="kmm")
        methods["KLIEP"] = lambda: ImportanceWeightedClassifier(
            lr(), weighting="kliep", random_state=0
        )
    return methods


def _amazon_pair(source, target, data_home, with_kmm):
    X, y, domain = load_amazon_reviews(source, target, data_home=data_home)
    y_fit = mask_target_labels(y, domain)
    is_target = domain < 0
    rows = {"dense": np.ascontiguousarray(X, dtype=np.float64)}
    rows["CSR"] = sp.csr_matrix(rows["dense"])
    out = {}
    for name, make in _methods(with_kmm).items():
        for kind, Xk in rows.items():
            model, sec, mib = _measure(lambda make=make, Xk=Xk: make().fit(Xk, y_fit))
            acc = 100 * np.mean(model.predict(Xk[is_target]) == y[is_target])
            out[name, kind] = (acc, sec, mib)
    # IWV of a source-only model fitted on 2/3 of the source rows
    source_rows = np.flatnonzero(~is_target)
    held_out = source_rows[np.random.RandomState(0).permutation(len(source_rows))[::3]]
    fit_rows = np.setdiff1d(source_rows, held_out)
    scored = np.r_[held_out, np.flatnonzero(is_target)]
    for kind, Xk in rows.items():
        model = LogisticRegression(max_iter=1000).fit(Xk[fit_rows], y[fit_rows])
        value, sec, mib = _measure(
            lambda model=model, Xk=Xk: importance_weighted_scorer(
                model, Xk[scored], y_fit[scored]
            )
        )
        out["IWV", kind] = (value, sec, mib)
    return out, float(rows["CSR"].nnz / np.prod(X.shape))


def _wide_case(n_rows, n_terms, density):
    """Rows of 200 common terms (10% non-zero) that carry the label, then rare terms."""
    rng = np.random.RandomState(0)
    common = sp.random(n_rows, 200, density=0.1, format="csr", random_state=rng)
    rare = sp.random(n_rows, n_terms - 200, density=density, format="csr", random_state=rng)
    X = sp.hstack([common, rare], format="csr")
    half = n_rows // 2
    scale = np.ones(n_terms)
    scale[180:180 + n_terms // 10] = 3.0  # the target uses some terms more
    X = sp.vstack([X[:half], X[half:] @ sp.diags(scale)], format="csr")
    w = np.r_[rng.normal(size=200), np.zeros(n_terms - 200)]
    score = X @ w
    y = (score > np.median(score)).astype(int)
    y_fit = y.copy()
    y_fit[half:] = -1
    out = {}
    for kind, Xk in (("dense", X.toarray()), ("CSR", X)):
        model, sec, mib = _measure(
            lambda Xk=Xk: ImportanceWeightedClassifier(LogisticRegression(max_iter=1000)).fit(
                Xk, y_fit
            )
        )
        acc = 100 * np.mean(model.predict(Xk[half:]) == y[half:])
        if sp.issparse(Xk):
            nbytes = Xk.data.nbytes + Xk.indices.nbytes + Xk.indptr.nbytes
        else:
            nbytes = Xk.nbytes
        out[kind] = (acc, sec, mib, nbytes)
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--data-home", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore", ImportanceWeightCollapseWarning)
    pairs = PAIRS[:2] if args.quick else PAIRS
    with_kmm = not args.quick
    started = time.perf_counter()

    lines = [
        "# Sparse rows: importance weighting and IWV, dense vs CSR",
        "",
        f"Command: `{' '.join(['.venv/bin/python', 'benchmarks/bench_da_sparse.py', *(argv or sys.argv[1:])])}`",
        "",
        describe(),
        "",
        "## Amazon reviews (400-d term features, raw), 12 pairs",
        "",
        (f"Target accuracy (%); fit time (ms, median of {REPEATS} runs after a warm-up); "
        "peak memory of the fit (MiB, tracemalloc: numpy's and Python's allocations, not "
        "a compiled solver's own workspace). "
        "IWV: the score (×100) of a source-only LR, with 1/3 of the source rows held out, "
        "and its time and memory."),
        "",
    ]
    names = list(_methods(with_kmm)) + ["IWV"]
    header = "| pair | " + " | ".join(
        f"{n} dense | {n} CSR" for n in names) + " |"
    lines += [header, "|---|" + "---|" * (2 * len(names))]
    totals = {}
    density = []
    for source, target in pairs:
        out, dens = _amazon_pair(source, target, args.data_home, with_kmm)
        density.append(dens)
        cells = []
        for n in names:
            for kind in ("dense", "CSR"):
                value, sec, mib = out[n, kind]
                value = 100 * value if n == "IWV" else value
                totals.setdefault((n, kind), []).append((value, sec, mib))
                cells.append(f"{value:.1f} ({1000 * sec:.0f} ms, {mib:.1f} MiB)")
        lines.append(f"| {LETTER[source]}→{LETTER[target]} | " + " | ".join(cells) + " |")
        print(lines[-1], flush=True)
    cells = []
    for n in names:
        for kind in ("dense", "CSR"):
            v, s, m = np.mean(totals[n, kind], axis=0)
            cells.append(f"**{v:.2f}** ({1000 * s:.0f} ms, {m:.1f} MiB)")
    lines.append(f"| **average ({len(pairs)} pairs)** | " + " | ".join(cells) + " |")
    lines += ["", f"Share of non-zero entries: {np.mean(density):.3f}.", ""]
    lines += [
        ("Tolerance set before the first run: the same accuracy within 0.1 point on every "
         "pair, the same IWV score within 2e-3 (0.2 on the ×100 scale)."),
        "",
    ]
    for n in names:
        d = np.array(totals[n, "dense"])
        c = np.array(totals[n, "CSR"])
        gaps = np.abs(d[:, 0] - c[:, 0])
        worst = pairs[int(np.argmax(gaps))]
        beyond = int(np.sum(gaps > (0.2 if n == "IWV" else 0.1) + 1e-9))
        lines.append(
            f"- {n}: largest |dense − CSR| over pairs {gaps.max():.3f} (points, "
            f"{LETTER[worst[0]]}→{LETTER[worst[1]]}); pairs beyond the tolerance: "
            f"{beyond} of {len(pairs)}; time CSR/dense {c[:, 1].sum() / d[:, 1].sum():.2f}; "
            f"peak memory CSR/dense {c[:, 2].mean() / d[:, 2].mean():.2f}"
        )

    n_rows, n_terms = (1000, 5000) if args.quick else (4000, 20000)
    wide = _wide_case(n_rows, n_terms, 0.002)
    lines += [
        "",
        (f"## Wide text-like rows (synthetic: {n_rows} rows, {n_terms} terms: 200 common, "
        "10% non-zero, the rest 0.2%)"),
        "",
        ("| rows | IW target accuracy (%) | fit time (s) | peak memory of the fit (MiB) "
        "| X itself (MiB; CSR: values, indices, row pointers) |"),
        "|---|---|---|---|---|",
    ]
    for kind in ("dense", "CSR"):
        acc, sec, mib, nbytes = wide[kind]
        lines.append(f"| {kind} | {acc:.1f} | {sec:.2f} | {mib:.1f} | {nbytes / 2**20:.1f} |")
    lines += ["", f"Total time: {(time.perf_counter() - started) / 60:.1f} min."]
    report = "\n".join(lines) + "\n"
    print(report)
    if not args.quick:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(report)
        print(f"written to {args.out}")


if __name__ == "__main__":
    main()
