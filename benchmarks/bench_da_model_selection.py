"""Which unsupervised scorer picks the parameters closest to what the (held-back)
target labels would pick?

For each task (rotated moons, Office-Caltech10 SURF pairs, Amazon review pairs)
and each domain-adaptation method with a small parameter grid (DANNClassifier,
CORAL / subspace alignment / TCA each followed by a logistic regression), the
target labels are hidden (``y == -1``) and

    GridSearchCV(estimator, grid, scoring=scorer, cv=SourceKFold(3), refit=True)

selects the parameters with each scorer of :mod:`sktransfer.model_selection`
(IWV, DEV, DEVN — DEV with max-normalised weights shifted to mean 1 —, prediction entropy, circular validation, SND, MixVal, BNM, ClassAMI, IM, MaNo, ATC) and with
plain accuracy on the source validation rows (the baseline a user gets without these tools). The EnsV
column is ``EnsembleValidationSearch(estimator, grid)``: not a per-model scorer but a
search of its own, which fits every grid point on all rows and picks the one whose
target predictions agree most with the average of all of them.
Every grid point is also refit on all rows and scored on the held-back target
labels: the oracle is the best target accuracy on the grid, the worst the
lowest, and each scorer's *gap* is oracle minus the target accuracy of the
parameters it picks (0 is perfect; its expectation under a random pick is
about half of oracle − worst).

How it is computed: one ``GridSearchCV`` per (task, method) with all the
scorers at once (multi-metric ``scoring=dict``, ``refit=False``) gives each
scorer's mean score over the same SourceKFold folds for every grid point,
and each grid point is refit once on all rows for its target accuracy. A
single-metric ``GridSearchCV(..., refit=True)`` per scorer picks the same
parameters (the same ``random_state`` everywhere, first index on ties): the
script checks that once, on one task, for every scorer.

Run ``OMP_NUM_THREADS=1 python benchmarks/bench_da_model_selection.py``
(``--quick`` for a smoke run). Data: ``--data-home`` (default
``../shared/data`` next to the repository, or ``$SKTRANSFER_DATA``). The table
is also written to ``benchmarks/results/bench_da_model_selection.md``
(``..._all_pairs.md`` with ``--all-pairs``).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from collections import Counter
from functools import partial
from pathlib import Path

import numpy as np
import torch
from joblib import Parallel, delayed
from scipy.stats import spearmanr
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sktransfer import DANNClassifier, LabelledOnly
from sktransfer.datasets import (
    load_amazon_reviews,
    load_office_caltech,
    make_rotated_moons,
    mask_target_labels,
)
from sktransfer.domain_adaptation import (
    CORAL,
    SubspaceAlignment,
    TransferComponentAnalysis,
)
from sktransfer.model_selection import (
    EnsembleValidationSearch,
    SourceKFold,
    average_thresholded_confidence_scorer,
    batch_nuclear_norm_scorer,
    circular_validation_scorer,
    class_cluster_ami_scorer,
    deep_embedded_validation_scorer,
    importance_weighted_scorer,
    information_maximization_scorer,
    matrix_norm_scorer,
    mixed_sample_scorer,
    prediction_entropy_scorer,
    soft_neighborhood_density_scorer,
)
from sktransfer.model_selection._scorers import _default_domain_classifier

from _environment import describe  # a sibling module of this script

HERE = Path(__file__).resolve().parent
DEFAULT_DATA = HERE.parent.parent / "shared" / "data"
RESULTS = HERE / "results" / "bench_da_model_selection.md"
N_SPLITS = 3


def source_accuracy_scorer(estimator, X, y):
    """Baseline: plain accuracy on the labelled (source) validation rows."""
    y = np.asarray(y)
    labelled = y != -1
    return accuracy_score(y[labelled], estimator.predict(X[labelled]))


SCORERS = {
    "source acc.": source_accuracy_scorer,
    "IWV": importance_weighted_scorer,
    "DEV": deep_embedded_validation_scorer,
    # DEVN (Musgrave et al. 2022): DEV with the weights divided by their maximum and
    # shifted back to mean 1 (as pytorch-adapt computes it).
    "DEVN": partial(deep_embedded_validation_scorer, normalization="max"),
    "entropy": prediction_entropy_scorer,
    "circular": circular_validation_scorer,
    "SND": soft_neighborhood_density_scorer,
    "MixVal": mixed_sample_scorer,
    "BNM": batch_nuclear_norm_scorer,
    "ClassAMI": class_cluster_ami_scorer,
    "IM": information_maximization_scorer,
    "MaNo": matrix_norm_scorer,
    # ATC (Garg et al. 2022): the share of target rows more confident (negative entropy)
    # than the source threshold that matches the source error.
    "ATC": average_thresholded_confidence_scorer,
}


def _logloss_cv_domain_classifier():
    """Scaling, then a logistic regression whose C minimises the domain classifier's
    own held-out log-loss (3 folds; no target label involved): the scorers' default
    domain classifier since it was measured here, given explicitly."""
    return _default_domain_classifier()


def _plain_lr_domain_classifier():
    """The scorers' default domain classifier before C was chosen by log-loss: C=1."""
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000, tol=1e-6))


def _scorers(scorer_cv=None, domain_classifier="default"):
    """SCORERS, with IWV's and DEV's (and DEVN's) domain classifier cross-fitted on ``scorer_cv`` folds
    and/or replaced (``"logloss-cv"``: :func:`_logloss_cv_domain_classifier`, the scorers'
    default since it was measured here; ``"plain-lr"``: the default before it)."""
    options = {}
    if scorer_cv is not None:
        options["cv"] = scorer_cv
    if domain_classifier == "logloss-cv":
        options["domain_classifier"] = _logloss_cv_domain_classifier()
    elif domain_classifier == "plain-lr":
        options["domain_classifier"] = _plain_lr_domain_classifier()
    if not options:
        return SCORERS
    return {**SCORERS,
            "IWV": partial(importance_weighted_scorer, **options),
            "DEV": partial(deep_embedded_validation_scorer, **options),
            "DEVN": partial(deep_embedded_validation_scorer, normalization="max", **options)}


# EnsV is a search, not a per-model scorer: its column comes from EnsembleValidationSearch.
COLUMNS = list(SCORERS) + ["EnsV"]
UNSUPERVISED = [name for name in COLUMNS if name != "source acc."]


# ----------------------------------------------------------------------
# methods and grids
# ----------------------------------------------------------------------
def _logreg(C=0.1):
    return LabelledOnly(LogisticRegression(C=C, max_iter=300))


def _method(name, task_kind, quick):
    """(estimator, grid) of a method on a kind of task ("moons" or "real")."""
    if name == "DANN":
        epochs = (10 if task_kind == "moons" else 5) if quick else (30 if task_kind == "moons" else 10)
        est = make_pipeline(
            StandardScaler(),
            DANNClassifier(module__hidden_layer_sizes=(64,), max_epochs=epochs, random_state=0),
        )
        grid = {"dannclassifier__lambda_max": [0.0, 0.3, 1.0], "dannclassifier__lr": [0.005, 0.05]}
    elif name == "CORAL":
        est = make_pipeline(StandardScaler(), CORAL(), _logreg())
        grid = {"coral__reg": [0.1, 1.0, 10.0], "labelledonly__estimator__C": [0.01, 1.0]}
    elif name == "SA":
        est = make_pipeline(StandardScaler(), SubspaceAlignment(), _logreg())
        # At most the rows of the smallest domain in any fit: circular validation's
        # reverse fit takes the source *validation* fold as its target domain
        # (DSLR as source: 53 rows), so 80 fails there.
        grid = {"subspacealignment__n_components": [10, 20, 40]}
    elif name == "TCA":
        kernel = "rbf" if task_kind == "moons" else "linear"
        est = make_pipeline(StandardScaler(), TransferComponentAnalysis(kernel=kernel), _logreg(1.0))
        grid = {
            "transfercomponentanalysis__mu": [0.1, 1.0, 10.0],
            "transfercomponentanalysis__n_components": [2, 10] if task_kind == "moons" else [20, 60],
        }
    else:
        raise ValueError(name)
    if quick:
        grid = {k: v[:2] for k, v in grid.items()}
    return est, grid


def _tasks(data_home, quick, all_pairs=False):
    """(task name, kind, (X, y, sample_domain), methods)."""
    tasks = [("moons 50°", "moons", make_rotated_moons(angle=50, random_state=0), ["DANN", "CORAL", "TCA"])]
    office = [("A", "W"), ("C", "D"), ("D", "A"), ("W", "C")]
    amazon = [("books", "dvd"), ("dvd", "elec"), ("elec", "kitchen"), ("kitchen", "books")]
    if quick:
        office, amazon = office[:1], amazon[:1]
    elif not all_pairs:
        office, amazon = office[::2], amazon[::2]
    for s, t in office:
        # TCA costs O(n^3) in the rows of both domains (all pairs here are <= 1420 rows).
        tasks.append((f"Office {s}→{t}", "real", load_office_caltech(s, t, data_home=data_home),
                      ["DANN", "CORAL", "SA", "TCA"]))
    for s, t in amazon:
        # ~4000 rows: TCA (O(n^3)) left out.
        tasks.append((f"Amazon {s}→{t}", "real", load_amazon_reviews(s, t, data_home=data_home),
                      ["DANN", "CORAL", "SA"]))
    return tasks


# ----------------------------------------------------------------------
# one (task, method): scores of every grid point, and its target accuracy
# ----------------------------------------------------------------------
def _warning_counts(caught):
    counts = Counter()
    for w in caught:
        msg = str(w.message)
        who = next((s for s in ("importance_weighted_scorer", "deep_embedded_validation_scorer")
                    if msg.startswith(s)), None)
        counts[f"{w.category.__name__}" + (f" ({who})" if who else "")] += 1
    return counts


def evaluate(task, method, kind, data, quick, stratify=True, scorer_cv=None,
             domain_classifier="default"):
    torch.set_num_threads(1)
    X, y, domain = data
    y_masked = mask_target_labels(y, domain)
    target = domain < 0
    est, grid = _method(method, kind, quick)
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        search = GridSearchCV(
            est, grid, scoring=_scorers(scorer_cv, domain_classifier),
            cv=SourceKFold(N_SPLITS, stratify=stratify),
            refit=False,
            error_score="raise",
        ).fit(X, y_masked)
        params = search.cv_results_["params"]
        target_acc = []
        for p in params:
            fitted = clone(est).set_params(**p).fit(X, y_masked)
            target_acc.append(100 * accuracy_score(y[target], fitted.predict(X[target])))
        ensv = EnsembleValidationSearch(est, grid).fit(X, y_masked)
    if ensv.results_["params"] != params:
        raise RuntimeError("EnsembleValidationSearch and GridSearchCV order the grid differently")
    scores = {name: np.asarray(search.cv_results_[f"mean_test_{name}"]) for name in SCORERS}
    scores["EnsV"] = ensv.results_["agreement"]
    # Its pick, kept fitted by the search, against the refit of the same grid point.
    ensv_check = (ensv.best_index_,
                  100 * accuracy_score(y[target], ensv.predict(X[target])),
                  target_acc[ensv.best_index_])
    return {
        "ensv_check": ensv_check,
        "task": task, "method": method, "params": params, "target_acc": np.asarray(target_acc),
        "scores": scores, "seconds": time.perf_counter() - start,
        "warnings": _warning_counts(caught),
    }


def gridsearch_check(task, method, kind, data, quick, stratify=True, scorer_cv=None,
                     domain_classifier="default"):
    """Single-metric GridSearchCV(refit=True) per scorer: best_params_ and their target accuracy."""
    torch.set_num_threads(1)
    X, y, domain = data
    y_masked = mask_target_labels(y, domain)
    target = domain < 0
    est, grid = _method(method, kind, quick)
    picks = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, scorer in _scorers(scorer_cv, domain_classifier).items():
            gs = GridSearchCV(est, grid, scoring=scorer, cv=SourceKFold(N_SPLITS, stratify=stratify),
                              refit=True, error_score="raise").fit(X, y_masked)
            picks[name] = (gs.best_params_, 100 * accuracy_score(y[target], gs.predict(X[target])))
    return picks


def _check_lines(picks, result):
    """Compare the single-metric searches with the precomputed picks."""
    lines = []
    for name, (best, acc) in picks.items():
        i = int(np.argmax(result["scores"][name]))
        same = best == result["params"][i] and np.isclose(acc, result["target_acc"][i])
        lines.append(f"| {name} | {_short(best)} | {acc:.1f} | {_short(result['params'][i])} | "
                     f"{result['target_acc'][i]:.1f} | {'yes' if same else '**NO**'} |")
    return lines


def _short(params):
    return ", ".join(f"{k.split('__')[-1]}={v}" for k, v in params.items())


# ----------------------------------------------------------------------
# report
# ----------------------------------------------------------------------
def _summaries(results):
    rows = []
    for r in results:
        acc = r["target_acc"]
        picks = {name: acc[int(np.argmax(s))] for name, s in r["scores"].items()}
        rho = {}
        for name, s in r["scores"].items():
            rho[name] = spearmanr(s, acc).statistic if np.ptp(s) > 0 and np.ptp(acc) > 0 else np.nan
        rows.append({**r, "oracle": acc.max(), "worst": acc.min(), "mean": acc.mean(),
                     "picks": picks, "rho": rho})
    return rows


def report(rows, check_lines, check_task, elapsed, args):
    out = []
    p = out.append
    p(f"# Unsupervised model selection for domain adaptation (n_jobs={args.n_jobs})")
    p("")
    p(describe())
    p("")
    p(f"Command: `OMP_NUM_THREADS=1 python benchmarks/bench_da_model_selection.py"
      f"{' --quick' if args.quick else ''}{' --all-pairs' if args.all_pairs else ''}"
      f"{' --unstratified' if args.unstratified else ''}"
      f"{f' --scorer-cv {args.scorer_cv}' if args.scorer_cv else ''}"
      f"{f' --domain-classifier {args.domain_classifier}' if args.domain_classifier != 'default' else ''}"
      f" --n-jobs {args.n_jobs}`; wall time {elapsed / 60:.1f} min "
      f"(sum of per-(task, method) times {sum(r['seconds'] for r in rows) / 60:.1f} min, "
      "one thread each).")
    p("")
    cv = f"SourceKFold({N_SPLITS}{', stratify=False' if args.unstratified else ''})"
    if args.scorer_cv:
        p(f"IWV, DEV and DEVN cross-fit their domain classifier: `cv={args.scorer_cv}` "
          "(default None: fit on the rows they score).")
        p("")
    if args.domain_classifier == "logloss-cv":
        p("IWV's and DEV's (and DEVN's) domain classifier: `make_pipeline(StandardScaler(with_mean=False), "
          "LogisticRegressionCV(Cs=np.logspace(-4, 2, 7), cv=3, scoring='neg_log_loss', "
          "max_iter=1000, tol=1e-6))` (C by the domain classifier's own held-out log-loss).")
        p("")
    elif args.domain_classifier == "plain-lr":
        p("IWV's and DEV's (and DEVN's) domain classifier: `make_pipeline(StandardScaler(), "
          "LogisticRegression(max_iter=1000, tol=1e-6))` (C=1; their default before it was "
          "chosen by held-out log-loss).")
        p("")
    p(f"Selection: `GridSearchCV(est, grid, scoring=scorer, cv={cv})` on the data "
      "with target labels hidden. Target accuracy (%) of each grid point refit on all rows, "
      "measured with the held-back target labels. *oracle* = best on the grid, *worst* = "
      "lowest, *mean* = average grid point (what a random pick gets on average). Each scorer "
      "column: target accuracy of the parameters it picks (gap to the oracle in brackets). "
      "*source acc.* = plain accuracy on the source validation rows (baseline, no target data). "
      "*EnsV* = `EnsembleValidationSearch(est, grid)` (a search, not a scorer: every grid point "
      "fitted on all rows, the one agreeing most with their averaged target probabilities kept).")
    p("")
    names = COLUMNS
    head = "| {} | oracle | worst | mean | " + " | ".join(names) + " |"
    sep = "|---|---|---|---|" + "---|" * len(names)

    def line(label, sub):
        oracle = np.mean([r["oracle"] for r in sub])
        cells = [f"{np.mean([r['picks'][n] for r in sub]):.1f} ({oracle - np.mean([r['picks'][n] for r in sub]):.1f})"
                 for n in names]
        return (f"| {label} | {oracle:.1f} | {np.mean([r['worst'] for r in sub]):.1f} | "
                f"{np.mean([r['mean'] for r in sub]):.1f} | " + " | ".join(cells) + " |")

    p("## Average over tasks, per method\n")
    p(head.format("method (tasks)"))
    p(sep)
    methods = list(dict.fromkeys(r["method"] for r in rows))
    for m in methods:
        sub = [r for r in rows if r["method"] == m]
        p(line(f"{m} ({len(sub)})", sub))
    p(line(f"**all** ({len(rows)} task×method)", rows))
    p("")

    overall = {n: np.mean([r["oracle"] - r["picks"][n] for r in rows]) for n in names}
    best = min(UNSUPERVISED, key=overall.get)
    holds = overall[best] <= 2.0
    p("## Target: an unsupervised scorer within 2 points of the oracle on average\n")
    p("Mean gap to the oracle over all (task, method) pairs: "
      + ", ".join(f"{n} {overall[n]:.2f}" for n in names) + ".")
    p(f"Best unsupervised scorer: **{best}**, gap {overall[best]:.2f} points → "
      f"**{'holds' if holds else 'does NOT hold'}**.")
    p("")
    p("Spearman rank correlation between a scorer's value and the true target accuracy over "
      "each grid, mean over (task, method) pairs (nan-skipping; a constant scorer gives nan): "
      + ", ".join(f"{n} {np.nanmean([r['rho'][n] for r in rows]):+.2f}" for n in names) + ".")
    p("")

    p("## Per task and method\n")
    p(head.format("task / method"))
    p(sep)
    for r in rows:
        p(line(f"{r['task']} / {r['method']}", [r]))
    p("")

    p("## Grids\n")
    seen = set()
    for r in rows:
        key = (r["method"], r["task"].startswith("moons"))
        if key in seen:
            continue
        seen.add(key)
        grid = {}
        for prm in r["params"]:
            for k, v in prm.items():
                grid.setdefault(k.split("__")[-1], []).append(v)
        grid = {k: sorted(set(v), key=str) for k, v in grid.items()}
        p(f"- {r['method']} ({'moons' if key[1] else 'real data'}): "
          + "; ".join(f"{k} ∈ {v}" for k, v in grid.items()))
    p("- Every estimator: StandardScaler first; CORAL/SA/TCA followed by "
      "LabelledOnly(LogisticRegression); DANN with one hidden layer of 64 units "
      "(30 epochs on moons, 10 on real data), random_state=0.")
    p("")

    mismatched = [f"{r['task']}/{r['method']}" for r in rows
                  if not np.isclose(r["ensv_check"][1], r["ensv_check"][2])]
    p("EnsV check: the target accuracy of `EnsembleValidationSearch.best_estimator_` (fitted by "
      "the search) equals that of the refit of the same grid point on "
      + (f"every (task, method) ({len(rows)})." if not mismatched else
         f"all but {', '.join(mismatched)} (**differs**)."))
    p("")
    p(f"## Check: single-metric GridSearchCV(refit=True) on {check_task}\n")
    p("| scorer | GridSearchCV best_params_ | its target acc. | precomputed pick | its target acc. | same |")
    p("|---|---|---|---|---|---|")
    out.extend(check_lines)
    p("")

    total = Counter()
    for r in rows:
        total.update(r["warnings"])
    p("## Warnings raised during the run\n")
    if total:
        for k, v in total.most_common():
            p(f"- {k}: {v}")
    else:
        p("- none")
    p("")
    p("Time per (task, method): " + ", ".join(
        f"{r['task']}/{r['method']} {r['seconds']:.0f}s" for r in rows) + ".")
    return "\n".join(out), holds


def _at_least_two(text):
    value = int(text)
    if value < 2:
        raise argparse.ArgumentTypeError(f"needs at least 2 folds, got {value}")
    return value


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-home", default=os.environ.get("SKTRANSFER_DATA", DEFAULT_DATA))
    parser.add_argument("--n-jobs", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="a fast smoke run")
    parser.add_argument("--all-pairs", action="store_true",
                        help="4 Office-Caltech and 4 Amazon pairs instead of 2 and 2 (about 2x longer)")
    parser.add_argument("--no-save", action="store_true", help="do not write the results file")
    parser.add_argument("--unstratified", action="store_true",
                        help="SourceKFold(stratify=False): folds in the loaders' row order, sorted by "
                             "class (the protocol of the runs before SourceKFold stratified)")
    parser.add_argument("--scorer-cv", type=_at_least_two, default=None,
                        help="cross-fit IWV's and DEV's (and DEVN's) domain classifier on this many folds "
                             "(their cv parameter; default None: fit on the scored rows)")
    parser.add_argument("--domain-classifier", choices=["default", "logloss-cv", "plain-lr"],
                        default="default",
                        help="IWV's and DEV's (and DEVN's) domain classifier: the scorers' default; C chosen by "
                             "the domain classifier's own held-out log-loss (the default's "
                             "configuration, given explicitly); or C=1 (the earlier default)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    start = time.perf_counter()
    tasks = _tasks(args.data_home, args.quick, args.all_pairs)
    jobs = [(name, m, kind, data) for name, kind, data, methods in tasks for m in methods]
    # Longest jobs first, for a better spread over workers.
    jobs.sort(key=lambda j: -len(j[3][0]) * (3 if j[1] == "DANN" else 1))
    # The equivalence check, on one cheap task (CORAL on the first Amazon pair), runs
    # alongside the other jobs.
    check_name, check_kind, check_data, _ = next(t for t in tasks if t[0].startswith("Amazon"))
    stratify = not args.unstratified
    out = Parallel(n_jobs=args.n_jobs)(
        [delayed(gridsearch_check)(check_name, "CORAL", check_kind, check_data, args.quick, stratify,
                                   args.scorer_cv, args.domain_classifier)]
        + [delayed(evaluate)(name, m, kind, data, args.quick, stratify, args.scorer_cv,
                             args.domain_classifier)
           for name, m, kind, data in jobs]
    )
    check_picks, results = out[0], out[1:]
    order = {(name, m): i for i, (name, _, _, methods) in enumerate(tasks) for m in methods}
    mkey = {"DANN": 0, "CORAL": 1, "SA": 2, "TCA": 3}
    results.sort(key=lambda r: (mkey[r["method"]], order[(r["task"], r["method"])]))
    rows = _summaries(results)
    ref = next(r for r in results if r["task"] == check_name and r["method"] == "CORAL")
    check_lines = _check_lines(check_picks, ref)
    elapsed = time.perf_counter() - start

    text, _ = report(rows, check_lines, f"{check_name} / CORAL", elapsed, args)
    print(text)
    if not args.no_save and not args.quick:
        stem = RESULTS.stem + ("_all_pairs" if args.all_pairs else "") + (
            "_unstratified" if args.unstratified else "") + (
            f"_scorer_cv{args.scorer_cv}" if args.scorer_cv else "") + (
            "" if args.domain_classifier == "default" else "_" + args.domain_classifier.replace("-", "_"))
        path = RESULTS.with_stem(stem)
        path.parent.mkdir(exist_ok=True)
        path.write_text(text + "\n")
        print(f"\n(written to {path.relative_to(HERE.parent)})", file=sys.stderr)


if __name__ == "__main__":
    main()
