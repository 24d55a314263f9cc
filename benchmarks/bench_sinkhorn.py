"""Sinkhorn in ``EntropicOTMapping``: warm starts and annealing of ``reg`` vs the cold solver.

One run, side by side, the cold solver (every solve started cold, from
``u = v = 1``, at the target ``reg`` only: the private switches
``_warm_start = False, _anneal = False``; it keeps the new fallback to the log
form when the scalings overflow, without which the solver before this change
returned a NaN coupling on the translation at ``reg`` 0.001) and the solver now (each
majorisation step of the class penalty started from the last step's
potentials; a cold solve whose cost spreads over more than 100 ``reg``
annealed, ``reg`` halved stage by stage from the first ``reg`` against which
it does not). For each fit: the Sinkhorn iterations (``n_iter_``: all the
solves of the fit, 11 with ``class_reg > 0``), the wall time of ``fit``,
whether the last solve reached ``tol`` (no ``ConvergenceWarning``), the largest
difference between the two couplings, and

1. **Office-Caltech10 SURF C→A and Amazon reviews B→D** (``../shared/data``, the
   loaders' preprocessing, then a ``StandardScaler`` over both domains, as in
   ``bench_domain_adaptation.py``): ``EntropicOTMapping()`` (EntOT) and
   ``EntropicOTMapping(class_reg=1)`` (OT-GL), the target accuracy (%) of 1-NN and
   of ``LogisticRegression(max_iter=1000)`` fitted on the mapped source rows;
2. **a translation** (synthetic: 30 standard Gaussian rows in 2-D and their copies
   shifted by (1, 0), shuffled) at ``reg`` 0.01 and 0.001: instead of
   accuracies, the largest distance of a displacement from the shift.

Every fit runs at the default ``max_iter=1000`` and, where the old solver did not
converge there, again with a larger ``max_iter``: ``--max-iter`` (30 000) on the
Office pair (the Amazon pair's 4 million-entry coupling costs 3 ms an iteration:
hours at that budget), 100 000 on the translation.

Run::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_sinkhorn.py   # ≈ 10 min, 1 core
    ... --quick       # the Office pair and the translation only, max_iter=1000 only
    ... --data-home DIR --out FILE --max-iter N

Results go to ``benchmarks/results/bench_sinkhorn.md`` (not for ``--quick``).
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
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.preprocessing import StandardScaler

from sktransfer.datasets import (
    load_amazon_reviews,
    load_office_caltech,
    mask_target_labels,
)
from sktransfer.domain_adaptation import EntropicOTMapping

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _environment import describe

DEFAULT_DATA = Path(os.environ.get("SKTRANSFER_DATA", HERE.parent.parent / "shared" / "data"))
DEFAULT_OUT = HERE / "results" / "bench_sinkhorn.md"
LARGE_MAX_ITER = 30000
TRANSLATION_MAX_ITER = 100000


class _ColdEntropicOT(EntropicOTMapping):
    """Every Sinkhorn solve cold, at the target ``reg`` only (the overflow fallback kept)."""

    _warm_start = False
    _anneal = False


SOLVERS = {"old": _ColdEntropicOT, "new": EntropicOTMapping}


def _fit(solver, X, y_fit, **params):
    """``(fitted, seconds, converged)``: one timed fit, its ConvergenceWarning caught."""
    model = SOLVERS[solver](**params)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        start = time.perf_counter()
        model.fit(X, y_fit)
        seconds = time.perf_counter() - start
    converged = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
    return model, seconds, converged


def _accuracies(model, X, y, domain):
    """Target accuracy (%) of 1-NN and LR fitted on the mapped source rows."""
    source, target = domain > 0, domain < 0
    moved = model.source_rows_ + model.displacements_
    out = []
    for clf in (KNeighborsClassifier(1), LogisticRegression(max_iter=1000)):
        clf.fit(moved, y[source])
        out.append(100 * np.mean(clf.predict(X[target]) == y[target]))
    return out


def _translation(seed=0):
    rng = np.random.RandomState(seed)
    Xs = rng.normal(size=(30, 2))
    Xt = Xs[rng.permutation(30)] + [1.0, 0.0]
    return np.r_[Xs, Xt], np.r_[np.zeros(30, int), -np.ones(30, int)]


def _compare(report, name, X, y_fit, params, max_iters, extra):
    """One row per max_iter: old and new side by side."""
    for max_iter in max_iters:
        fits = {s: _fit(s, X, y_fit, max_iter=max_iter, **params) for s in SOLVERS}
        (old, t_old, c_old), (new, t_new, c_new) = fits["old"], fits["new"]
        diff = np.abs(old.coupling_ - new.coupling_).max()
        cells = [name, f"{max_iter}", f"{old.n_iter_} / {new.n_iter_}",
                 f"{t_old:.2f} / {t_new:.2f}", f"{'yes' if c_old else 'no'} / {'yes' if c_new else 'no'}",
                 f"{diff:.1e}"]
        cells += [f"{e_old} / {e_new}" for e_old, e_new in zip(extra(old), extra(new))]
        report("| " + " | ".join(cells) + " |")
        if c_old:  # nothing more to see with a larger max_iter
            break


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="the Office pair and the translation only, max_iter=1000 only")
    parser.add_argument("--data-home", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--max-iter", type=int, default=LARGE_MAX_ITER,
                        help="the larger max_iter on the Office pair, where the old solver stopped at 1000")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    out = args.out or (None if args.quick else DEFAULT_OUT)
    lines = []

    def report(line=""):
        print(line, flush=True)
        lines.append(line)

    max_iters = (1000,) if args.quick else (1000, args.max_iter)
    translation_max_iters = (1000,) if args.quick else (1000, TRANSLATION_MAX_ITER)
    command = "OMP_NUM_THREADS=1 python benchmarks/bench_sinkhorn.py" + (
        " --quick" if args.quick else "") + (
        f" --max-iter {args.max_iter}" if args.max_iter != LARGE_MAX_ITER else "")
    report("# Sinkhorn in EntropicOTMapping: cold (old) vs warm-started and annealed (new)")
    report()
    report(describe())
    report()
    report(f"Command: `{command}`")
    report()
    report("Each cell: old / new. old = every Sinkhorn solve from u = v = 1 at the target "
           "reg (the solver before this change, but with its new fallback to the log form where the "
           "scalings overflow: without it, the translation at reg 0.001 gave a NaN coupling); "
           "new = each class-penalty step started from the last "
           "step's potentials, a cold solve annealed (reg halved stage by stage) where the "
           "cost spreads over more than 100 reg. Iterations: n_iter_, every solve of the fit "
           "(1 + 10 majorisation steps with class_reg > 0), each of at most max_iter. "
           "Converged: the last solve reached tol=1e-5 (no ConvergenceWarning). |ΔP|: the "
           "largest difference between the two couplings (entries about 1/(n_s n_t) on "
           "average, 1/n_s at most). Time: one fit, seconds, one core.")
    report()
    report("## Real data: target accuracy (%) after the map")
    report()
    report("Input: the loader's preprocessing, then StandardScaler over both domains. 1-NN / LR: "
           "KNeighborsClassifier(1) / LogisticRegression(max_iter=1000) fitted on the mapped "
           "source rows, scored on the target rows.")
    report()
    report("| task | max_iter | iterations | time (s) | converged | \\|ΔP\\| | 1-NN | LR |")
    report("|---|---|---|---|---|---|---|---|")
    tasks = [("Office C→A", max_iters,
              lambda: load_office_caltech("caltech", "amazon", data_home=args.data_home))]
    if not args.quick:
        tasks.append(("Amazon B→D", (1000,),
                      lambda: load_amazon_reviews("books", "dvd", data_home=args.data_home)))
    for task, task_max_iters, load in tasks:
        X, y, domain = load()
        X = StandardScaler().fit_transform(X)
        y_fit = mask_target_labels(y, domain)
        for method, params in (("EntOT", {}), ("OT-GL", {"class_reg": 1.0})):
            _compare(report, f"{task} {method}", X, y_fit, params, task_max_iters,
                     lambda m, X=X, y=y, domain=domain: [
                         f"{v:.1f}" for v in _accuracies(m, X, y, domain)])
    report()
    report("## Translation: 30 Gaussian rows and their copies shifted by (1, 0)")
    report()
    report("Shift error: the largest distance between a source row's displacement and the "
           "shift (1, 0) (0 for a sharp coupling).")
    report()
    report("| reg | max_iter | iterations | time (s) | converged | \\|ΔP\\| | shift error |")
    report("|---|---|---|---|---|---|---|")
    X, y_fit = _translation()
    for reg in (0.01, 0.001):
        _compare(report, f"{reg:g}", X, y_fit, {"reg": reg}, translation_max_iters,
                 lambda m: [f"{np.linalg.norm(m.displacements_ - [1.0, 0.0], axis=1).max():.3f}"])
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text("\n".join(lines) + "\n")
        print(f"\nwritten to {out}")


if __name__ == "__main__":
    main()
