"""Domain adaptation in sktransfer vs skada, on Office-Caltech, MNIST↔USPS and Amazon reviews.

One run, same splits, same inputs, same machine. For each task it prints the
target accuracy (%) of:

- source only: LogisticRegression and 1-NN on the source rows; the deep network
  with no adaptation (``DANNClassifier(lambda_max=0)``: same network, batches,
  optimiser);
- shallow methods, sktransfer vs skada (``make_da_pipeline`` of skada's adapter and
  the same final classifier): CORAL (+ LogisticRegression), subspace alignment
  (+ 1-NN, as in Fernando et al.), TCA (+ LogisticRegression; linear kernel,
  30 components, mu=1: the setting of the MEDA/TCA papers, fixed a priori), and
  importance weighting by a logistic-regression domain classifier
  (``ImportanceWeightedClassifier`` vs skada's ``DiscriminatorReweight``) and by
  KLIEP (``weighting="kliep"`` vs skada's ``KLIEPReweight``, the same candidate
  widths for the likelihood cross-validation of both);
- GFK (``GeodesicFlowKernel``, sktransfer only: skada has none) + 1-NN, as in Gong
  et al. and the published GFK column, with 20-dimensional subspaces (MEDA's setting
  for its GFK step), on the loader's features as in the paper;
- JDA (``JDAClassifier``, sktransfer only: skada has none) with its defaults (30
  directions, lambda=1, 10 rounds, 1-NN: the reference code's settings), on the
  loader's features;
- MEDA (``MEDAClassifier``, sktransfer only: skada has none) with the paper's
  settings (20-dimensional GFK subspaces, RBF kernel, lambda=10, rho=1, eta=0.1,
  10 neighbours, 10 iterations), on the loader's features as in the paper (it
  scales every row to unit length itself); MEDA-SPL is the same with
  ``selection="progressive"`` (selective pseudo-labelling, fixed on the digits
  and Amazon reviews before its first Office run);
- deep methods, sktransfer vs skada.deep: DANN, Deep CORAL, DAN, CDAN with the same
  network (sktransfer's default MLP: one hidden layer of 256 units, dropout 0.5,
  linear label predictor; domain classifier 64 hidden units, with a sigmoid for
  skada's BCELoss), epochs, batch (32 source + 32 target rows), SGD (lr 0.01,
  momentum 0.9). Each library keeps its own defaults for the method's trade-off
  (sktransfer ramps it up with the DANN schedule; skada uses reg=1 throughout).
  To keep the run near half an hour on 2 shared cores (skada's epochs are the
  slower ones), the deep methods train 20 epochs (Office, Amazon) or 30 (digits),
  one seed each; bench_dann.py trains DANN 200 epochs over 3 seeds. ``--conv``
  adds digits rows with ``sktransfer.nn.ConvEncoder`` (30 epochs; sktransfer only
  unless ``--skada-conv``, which runs skada's methods on the same network).
  ``DAN-TP`` (sktransfer only) is DAN with ``kernel_weights="test_power"``, the
  paper's kernel weights, against DAN's default averaged kernels; ``DAN-F`` is
  DAN with ``align_logits=False``: the features aligned, not the class logits
  (sktransfer's DAN aligns both by default, as the paper aligns every
  task-specific layer; skada's DAN aligns one layer, here the features).

It also prints the 12-pair averages, the published numbers (MEDA, ACM MM 2018:
1NN, TCA, GFK, JDA, CORAL, MEDA) and the time per epoch of each deep method, ours
vs skada's (median epoch of each fit, both measured with the same number of fits
in parallel, one torch thread each).

No target label is used for any choice: all settings are fixed a priori.

skada is never a dependency of sktransfer: it runs in its own environment, through
``benchmarks/_skada_runner.py`` launched with ``--skada-python`` (data exchanged as
.npz/JSON files in a temporary folder). Set it up once with::

    python3 -m venv /tmp/skada-venv
    /tmp/skada-venv/bin/pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu
    /tmp/skada-venv/bin/pip install skada==0.6.0 skorch==1.4.0 pot==0.9.7.post1
    # (no [deep] extra: it pulls the CUDA build of torch)

This downloads packages: it needs network access, once. The runner imports some
of skada's private modules, so another skada version may not run it; every
saved result was measured with the versions above.

Without that interpreter the skada columns read "skada: not installed".

Run::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_domain_adaptation.py
    ... --quick                       # smoke run: one Office and one Amazon pair, 2 epochs
    ... --only office|digits|amazon   # one part (repeatable)
    ... --methods CORAL,DANN          # a subset of methods
    ... --epochs 60 --seeds 3         # deep fits: other epochs / seeds (both libraries)
    ... --seeds 5 --first-seed 5      # seeds 5-9 (a held-out set of seeds)
    ... --param lambda_max=0.5        # a parameter of sktransfer's adaptive deep fits

Results go to ``benchmarks/results/bench_domain_adaptation.md`` (``--out``).
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from joblib import Parallel, delayed  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.neighbors import KNeighborsClassifier  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from sktransfer import DANNClassifier, LabelledOnly  # noqa: E402
from sktransfer.datasets import (  # noqa: E402
    load_amazon_reviews,
    load_mnist_usps,
    load_office_caltech,
    mask_target_labels,
)
from sktransfer.domain_adaptation import (  # noqa: E402
    CORAL,
    GeodesicFlowKernel,
    EntropicOTMapping,
    ImportanceWeightedClassifier,
    JDAClassifier,
    LinearOTMapping,
    MEDAClassifier,
    SubspaceAlignment,
    TransferComponentAnalysis,
)
from sktransfer.domain_adaptation._reweight import _KLIEP_GAMMA_FACTORS  # noqa: E402
from sktransfer.model_selection import EnsembleValidationSearch  # noqa: E402
from sktransfer.nn import ConvEncoder  # noqa: E402

from _environment import describe  # noqa: E402  (a sibling module of this script)
from _skada_runner import _kliep_gammas  # noqa: E402  (KLIEP's candidates, the runner's own)

try:  # written alongside this benchmark; included once they import
    from sktransfer import (  # noqa: E402
        CDANClassifier,
        DANClassifier,
        DeepCORALClassifier,
        MCCClassifier,
        MDDClassifier,
    )
except ImportError:  # pragma: no cover
    CDANClassifier = DANClassifier = DeepCORALClassifier = MCCClassifier = MDDClassifier = None
from sktransfer.domain_adaptation._mdd import _DEFAULT_HEADS as _MDD_DEFAULT_HEADS  # noqa: E402

HERE = Path(__file__).resolve().parent
DEFAULT_DATA = HERE.parent.parent / "shared" / "data"
DEFAULT_OUT = HERE / "results" / "bench_domain_adaptation.md"
DEFAULT_SKADA = "/tmp/skada-venv/bin/python"

OFFICE = ["caltech", "amazon", "webcam", "dslr"]
AMAZON = ["books", "dvd", "elec", "kitchen"]
LETTER = {"caltech": "C", "amazon": "A", "webcam": "W", "dslr": "D", "mnist": "MNIST",
          "usps": "USPS", "books": "B", "dvd": "D", "elec": "E", "kitchen": "K"}

# MEDA (Wang et al., ACM MM 2018), tables 2 and 3: 1NN, TCA, GFK, JDA, CORAL, MEDA.
PUBLISHED_COLS = ("1NN", "TCA", "GFK", "JDA", "CORAL", "MEDA")
PUBLISHED = {
    "C→A": (23.7, 45.6, 46.0, 43.1, 52.1, 56.5), "C→W": (25.8, 39.3, 37.0, 39.3, 46.4, 53.9),
    "C→D": (25.5, 45.9, 40.8, 49.0, 45.9, 50.3), "A→C": (26.0, 42.0, 40.7, 40.9, 45.1, 43.9),
    "A→W": (29.8, 40.0, 37.0, 38.0, 44.4, 53.2), "A→D": (25.5, 35.7, 40.1, 42.0, 39.5, 45.9),
    "W→C": (19.9, 31.5, 24.8, 33.0, 33.7, 34.0), "W→A": (23.0, 30.5, 27.6, 29.8, 36.0, 42.7),
    "W→D": (59.2, 91.1, 85.4, 92.4, 86.6, 88.5), "D→C": (26.3, 33.0, 29.3, 31.2, 33.8, 34.9),
    "D→A": (28.5, 32.8, 28.7, 33.4, 37.7, 41.2), "D→W": (63.4, 87.5, 80.3, 89.2, 84.7, 87.5),
    "Office avg": (31.4, 46.2, 43.1, 46.8, 48.8, 52.7),
    "USPS→MNIST": (44.7, 51.2, 46.5, 59.7, 30.5, 72.1),
    "MNIST→USPS": (65.9, 56.3, 61.2, 67.3, 49.2, 89.5),
}

SHALLOW = ["CORAL", "SA", "TCA", "IW", "KLIEP", "KLIEP-10", "LinearOT", "LinearOT-1", "EntOT",
           "EntOT-same", "OT-GL"]
# KLIEP-10: KLIEP with the candidate widths up to 10 times the default one only (the
# default goes to 100), the range on which skada's KLIEPReweight gave weights here.
KLIEP_10_FACTORS = tuple(f for f in _KLIEP_GAMMA_FACTORS if f <= 10)
# LinearOT: LinearOTMapping with its default reg="auto" (Ledoit-Wolf); LinearOT-1: reg=1, the
# default of skada's LinearOTMapping, which both columns' skada side uses (same map: a check).
SKADA_LINEAR_OT_REG = 1.0
# EntOT: EntropicOTMapping() (reg=0.1 on the cost divided by its median) against skada's
# EntropicOTMapping with its defaults (reg_e=1 on the raw squared distances); EntOT-same: ours
# again, against skada given our problem (norm="median", reg_e=0.1): the same coupling, a check.
# OT-GL: the class penalty, ours EntropicOTMapping(class_reg=1) against skada's
# ClassRegularizerOTMapping with its defaults.
ENT_OT_REG = 0.1
OT_GL_CLASS_REG = 1.0
DEEP = ["DANN", "DeepCORAL", "DAN", "CDAN", "MCC", "MDD"]
OURS_ONLY = ["GFK", "JDA", "MEDA", "MEDA-SPL"]  # no skada counterpart
SOURCE_ONLY = ["LR", "1NN", "NN"]  # NN = the deep network without adaptation
# Deep methods tuned without target labels: EnsembleValidationSearch over a grid, fixed a
# priori (0.3 and 1 are the adaptation weights of the other benchmarks, 0.5 between them).
# CDAN-EnsV-centre1 centres the grid on the default weight, to see how much EnsV's pick owes
# to the grid's centre (EnsV leans to the candidate nearest the average).
# DeepCORAL-EnsV / DAN-EnsV: the alignment weight over decades around the default 1.
# DANN+MCC-EnsV: the MCC regulariser on or off (mcc_weight 0 or 1), picked without target labels.
TUNED = {"CDAN-EnsV": ("CDAN", {"lambda_max": [0.3, 0.5, 1.0]}),
         "CDAN-EnsV-centre1": ("CDAN", {"lambda_max": [0.5, 1.0, 2.0]}),
         "DeepCORAL-EnsV": ("DeepCORAL", {"coral_weight": [1.0, 10.0, 100.0]}),
         "DAN-EnsV": ("DAN", {"mmd_weight": [1.0, 10.0, 100.0]}),
         "DANN+MCC-EnsV": ("DANN", {"mcc_weight": [0.0, 1.0]})}
# Deep methods with a non-default option (sktransfer only).
# DAN-TP: DAN's kernel weights re-estimated for test power before every epoch (the paper's).
# DAN-F: DAN aligning the features only (align_logits=False), as skada's DAN and as
# sktransfer's DAN before it aligned the class logits too by default.
# DANN+MCC / CDAN+MCC: MCC's loss added to DANN's / CDAN's (mcc_weight=1, on lambda_schedule's
# ramp; the MCC paper adds it at full weight from the start), against the same seeds' DANN / CDAN;
# DANN+MCC-const / CDAN+MCC-const: the same at full weight from the first step
# (mcc_schedule="constant", the paper's), the adversary still on its ramp.
# DeepCORAL+MCC / DAN+MCC: MCC's loss added to Deep CORAL's / DAN's (mcc_weight=1, on
# weight_schedule's ramp), against the same seeds' Deep CORAL / DAN.
# MDD-L / MDD-L-NN: MDD with linear classifiers f and f' (MDDClassifier's default until
# the two-layer heads, measured as "MDD-H" in the reports of 2026-12-07, replaced them).
# MDD_HEADS: MDDClassifier's default classifiers, given to skada's MDD as well.
MDD_HEADS = {f"label_predictor__{key}": value for key, value in _MDD_DEFAULT_HEADS.items()}
MDD_LINEAR = {"label_predictor__hidden_layer_sizes": (), "label_predictor__dropout": 0.0}
VARIANTS = {"DAN-TP": ("DAN", {"kernel_weights": "test_power"}),
            "DAN-F": ("DAN", {"align_logits": False}),
            "DANN+MCC": ("DANN", {"mcc_weight": 1.0}),
            "CDAN+MCC": ("CDAN", {"mcc_weight": 1.0}),
            "DANN+MCC-const": ("DANN", {"mcc_weight": 1.0, "mcc_schedule": "constant"}),
            "CDAN+MCC-const": ("CDAN", {"mcc_weight": 1.0, "mcc_schedule": "constant"}),
            "MDD-NN": ("MDD", {"lambda_max": 0.0}),
            # MDD+MCC: MCC's loss added to MDD's (mcc_weight=1 on lambda_schedule's ramp).
            "MDD+MCC": ("MDD", {"mcc_weight": 1.0}),
            "DeepCORAL+MCC": ("DeepCORAL", {"mcc_weight": 1.0}),
            "DAN+MCC": ("DAN", {"mcc_weight": 1.0}),
            "MDD-L": ("MDD", MDD_LINEAR),
            "MDD-L-NN": ("MDD", {**MDD_LINEAR, "lambda_max": 0.0})}
# The no-adaptation baseline of a deep method whose network differs from NN's (MDD's
# features go through a BatchNorm layer): the method at weight 0, the same network.
BASELINES = {"MDD": "MDD-NN", "MDD+MCC": "MDD-NN", "MDD-L": "MDD-L-NN"}
ALL_METHODS = SOURCE_ONLY + SHALLOW + OURS_ONLY + DEEP + list(VARIANTS) + list(TUNED)
# Methods fitted on the loader's features (no StandardScaler), as in their paper.
LOADER_INPUT = {"GFK", "JDA", "MEDA", "MEDA-SPL"}
SKADA_NAME = {"CORAL": "CORAL", "SA": "SubspaceAlignment", "TCA": "TransferComponentAnalysis",
              "IW": "DiscriminatorReweight", "KLIEP": "KLIEPReweight", "KLIEP-10": "KLIEPReweight",
              "LinearOT": "LinearOTMapping", "LinearOT-1": "LinearOTMapping",
              "EntOT": "EntropicOTMapping", "EntOT-same": "EntropicOTMapping",
              "OT-GL": "ClassRegularizerOTMapping", "DANN": "DANN", "DeepCORAL": "DeepCoral",
              "DAN": "DAN", "CDAN": "CDAN", "MCC": "MCC", "MDD": "MDD"}

# Settings fixed a priori (no target labels): shallow hyper-parameters of the papers.
SA_COMPONENTS = 100
TCA_PARAMS = {"n_components": 30, "kernel": "linear", "mu": 1.0}
GFK_COMPONENTS = 20

# --epochs / --seeds: override the per-part defaults of _deep_settings (None: defaults).
EPOCHS_OVERRIDE = None
SEEDS_OVERRIDE = None
FIRST_SEED = 0  # --first-seed: seeds FIRST_SEED, FIRST_SEED + 1, ... (held-out seed sets)
EXTRA_PARAMS = {}  # --param NAME=VALUE: added to sktransfer's adaptive deep fits (not NN, not skada)
SKADA_CONV = False  # --skada-conv: skada also on the ConvEncoder rows (its runner builds the same net)


# ----------------------------------------------------------------------
# data
# ----------------------------------------------------------------------
def _tasks(parts, data_home, quick, conv=False, only=None):
    """(part, task name, X, y, sample_domain, deep settings); ``only``: task names to load."""
    def wanted(s, t):
        return only is None or f"{LETTER[s]}→{LETTER[t]}" in only

    tasks = []
    if "office" in parts:
        pairs = [(s, t) for s in OFFICE for t in OFFICE if s != t]
        for s, t in pairs[:1] if quick else pairs:
            if wanted(s, t):
                tasks.append(("office", f"{LETTER[s]}→{LETTER[t]}",
                              load_office_caltech(s, t, data_home=data_home), {}))
    if "digits" in parts:
        for s, t in (("usps", "mnist"), ("mnist", "usps")):
            if not wanted(s, t):
                continue
            data = load_mnist_usps(s, t, data_home=data_home)
            tasks.append(("digits", f"{LETTER[s]}→{LETTER[t]}", data, {}))
            if conv:
                tasks.append(("digits", f"{LETTER[s]}→{LETTER[t]} (ConvEncoder)", data, {"conv": True}))
    if "amazon" in parts:
        pairs = [(s, t) for s in AMAZON for t in AMAZON if s != t]
        for s, t in pairs[:1] if quick else pairs:
            if wanted(s, t):
                tasks.append(("amazon", f"{LETTER[s]}→{LETTER[t]}",
                              load_amazon_reviews(s, t, data_home=data_home), {}))
    out = []
    for part, name, (X, y, d), extra in tasks:
        # As bench_dann.py: the loader's preprocessing (Office l1_zscore per domain,
        # digits l2 rows, Amazon none), then StandardScaler over the rows of both
        # domains (no labels used), the same input for every method and library
        # but those of LOADER_INPUT, which get the loader's features.
        extra = {**extra, "X_loader": X}
        X = StandardScaler().fit_transform(X).astype(np.float32)
        out.append((part, name, X, y, d, extra))
    return out


# ----------------------------------------------------------------------
# sktransfer estimators
# ----------------------------------------------------------------------
def _lr():
    return LogisticRegression(max_iter=1000)


def _ours(method, deep_params, seed):
    if method == "LR":
        return _lr()
    if method == "1NN":
        return KNeighborsClassifier(1)
    if method == "CORAL":
        return make_pipeline(CORAL(), LabelledOnly(_lr()))
    if method == "LinearOT":
        return make_pipeline(LinearOTMapping(), LabelledOnly(_lr()))
    if method == "LinearOT-1":
        return make_pipeline(LinearOTMapping(reg=SKADA_LINEAR_OT_REG), LabelledOnly(_lr()))
    if method in ("EntOT", "EntOT-same"):
        return make_pipeline(EntropicOTMapping(reg=ENT_OT_REG), LabelledOnly(_lr()))
    if method == "OT-GL":
        return make_pipeline(EntropicOTMapping(reg=ENT_OT_REG, class_reg=OT_GL_CLASS_REG),
                             LabelledOnly(_lr()))
    if method == "SA":
        return make_pipeline(SubspaceAlignment(n_components=SA_COMPONENTS), LabelledOnly(KNeighborsClassifier(1)))
    if method == "TCA":
        return make_pipeline(TransferComponentAnalysis(**TCA_PARAMS), LabelledOnly(_lr()))
    if method == "IW":
        return ImportanceWeightedClassifier(_lr(), random_state=seed)
    if method in ("KLIEP", "KLIEP-10"):  # KLIEP-10's candidates are set in _run_ours
        return ImportanceWeightedClassifier(_lr(), weighting="kliep", random_state=seed)
    if method == "GFK":
        return make_pipeline(GeodesicFlowKernel(GFK_COMPONENTS), LabelledOnly(KNeighborsClassifier(1)))
    if method == "JDA":
        return JDAClassifier()
    if method in TUNED:
        base, grid = TUNED[method]
        return EnsembleValidationSearch(_ours(base, deep_params, seed), grid)
    if method in VARIANTS:
        base, options = VARIANTS[method]
        return _ours(base, {**deep_params, **options}, seed)
    if method == "MEDA":
        return MEDAClassifier(random_state=seed)
    if method == "MEDA-SPL":
        return MEDAClassifier(selection="progressive", random_state=seed)
    params = dict(deep_params)
    if params.pop("conv", False):
        params.update(module=ConvEncoder, module__input_shape=(1, 16, 16))
    params["random_state"] = seed
    if method == "NN":
        return DANNClassifier(lambda_max=0.0, **params)
    cls = {"DANN": DANNClassifier, "DeepCORAL": DeepCORALClassifier,
           "DAN": DANClassifier, "CDAN": CDANClassifier, "MCC": MCCClassifier,
           "MDD": MDDClassifier}[method]
    if cls is None:
        return None
    return cls(**params)


def _run_ours(method, X, y, d, deep_params, seed):
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    est = _ours(method, deep_params, seed)
    if method == "KLIEP-10":  # the default candidates' formula, fewer factors (as skada gets)
        est.set_params(gamma=_kliep_gammas(X, KLIEP_10_FACTORS))
    target = d < 0
    start = time.perf_counter()
    if method in ("LR", "1NN"):
        est.fit(X[~target], y[~target])
    else:
        try:
            est.fit(X, mask_target_labels(y, d))
        except FloatingPointError as exc:  # a diverged fit: reported, the run goes on
            return {"error": f"diverged ({exc})", "seed": seed}
    fit_s = time.perf_counter() - start
    acc = 100.0 * float(np.mean(est.predict(X[target]) == y[target]))
    per_epoch = float(np.median(est.net_.history[:, "dur"])) if hasattr(est, "net_") else None
    return {"acc": acc, "sec_per_epoch": per_epoch, "fit_s": fit_s, "seed": seed,
            "picked": getattr(est, "best_params_", None),
            # EnsV candidates that failed (left out of the ensemble), e.g. a diverged fit.
            "failed": [p for p, a in zip(est.results_["params"], est.results_["agreement"])
                       if np.isnan(a)] if hasattr(est, "results_") else []}


# ----------------------------------------------------------------------
# the plan: which fits, how many seeds, how many epochs
# ----------------------------------------------------------------------
def _deep_settings(part, extra, quick):
    """Deep settings and seeds (ours, skada) for a task (with --epochs/--seeds applied)."""
    params, ours_seeds, skada_seeds = _default_deep_settings(part, extra, quick)
    if EPOCHS_OVERRIDE is not None:
        params = {**params, "max_epochs": EPOCHS_OVERRIDE}
    if SEEDS_OVERRIDE is not None:
        ours_seeds = skada_seeds = SEEDS_OVERRIDE
    return params, ours_seeds, skada_seeds


def _default_deep_settings(part, extra, quick):
    if quick:
        return {"max_epochs": 2}, 1, 1
    if extra.get("conv"):
        return {"max_epochs": 30, "conv": True}, 1, 1
    # Kept short so that the whole run fits in about half an hour on 2 shared
    # cores (skada's epochs are slower); bench_dann.py uses 200 epochs.
    if part == "digits":
        return {"max_epochs": 30}, 1, 1
    return {"max_epochs": 20}, 1, 1


def _plan(tasks, methods, quick, skada_ok):
    ours, theirs = [], []
    for ti, (part, name, X, y, d, extra) in enumerate(tasks):
        deep_params, deep_seeds, skada_seeds = _deep_settings(part, extra, quick)
        for m in methods:
            is_deep = m in DEEP or m == "NN" or m in TUNED or m in VARIANTS
            if extra.get("conv") and m not in ("NN", *DEEP, *VARIANTS, *TUNED):
                continue  # ConvEncoder rows: the network-bound methods only (time)
            if _ours(m, deep_params, 0) is None:
                continue
            seeds = deep_seeds if is_deep else 1  # shallow fits are deterministic
            # --param values travel in the job's parameters (the fits run in worker processes).
            adaptive = m in DEEP or m in VARIANTS
            ours_params = {**deep_params, **EXTRA_PARAMS} if adaptive else deep_params
            for s in range(FIRST_SEED, FIRST_SEED + seeds):
                ours.append((ti, m, s, ours_params if is_deep else {}))
            if skada_ok and m in SHALLOW + DEEP and (SKADA_CONV or not extra.get("conv")):
                for s in range(FIRST_SEED, FIRST_SEED + (skada_seeds if is_deep else 1)):
                    theirs.append((ti, m, s, deep_params if is_deep else {}))
    return ours, theirs


def _skada_params(method, deep_params):
    if method == "SA":
        return {"n_components": SA_COMPONENTS, "final": "1nn"}
    if method == "TCA":
        return dict(TCA_PARAMS)
    if method == "KLIEP":  # the same candidate widths as sktransfer's default
        return {"gamma_factors": list(_KLIEP_GAMMA_FACTORS), "cv": 5, "n_centers": 100}
    if method == "KLIEP-10":
        return {"gamma_factors": list(KLIEP_10_FACTORS), "cv": 5, "n_centers": 100}
    if method in ("LinearOT", "LinearOT-1"):
        return {"reg": SKADA_LINEAR_OT_REG}
    if method == "EntOT-same":
        return {"reg_e": ENT_OT_REG, "norm": "median"}
    if method == "MDD":  # f and f' as MDDClassifier's default
        return {**deep_params, **MDD_HEADS}
    if method in DEEP:
        return dict(deep_params)
    return {}


def _run_skada(tasks, jobs, skada_python, n_jobs, tmp):
    paths = {}
    payload = []
    for ti, m, s, deep_params in jobs:
        if ti not in paths:
            _, _, X, y, d, _ = tasks[ti]
            paths[ti] = os.path.join(tmp, f"task{ti}.npz")
            np.savez(paths[ti], X=X, y=y, y_masked=mask_target_labels(y, d), sample_domain=d)
        payload.append({"data": paths[ti], "method": m, "seed": s,
                        "params": _skada_params(m, deep_params)})
    jobs_file, out_file = os.path.join(tmp, "jobs.json"), os.path.join(tmp, "out.json")
    with open(jobs_file, "w") as f:
        json.dump({"jobs": payload}, f)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    subprocess.run([skada_python, str(HERE / "_skada_runner.py"), jobs_file, out_file,
                    "--n-jobs", str(n_jobs)], check=True, env=env)
    with open(out_file) as f:
        out = json.load(f)
    return out["skada_version"], out["results"]


# ----------------------------------------------------------------------
# tables
# ----------------------------------------------------------------------
def _fmt(values):
    values = np.asarray(values, dtype=float)
    if values.size == 0:
        return "—"
    if values.size == 1:
        return f"{values[0]:.1f}"
    return f"{values.mean():.1f} ± {values.std():.1f}"


class Report:
    def __init__(self):
        self.lines = []

    def __call__(self, text=""):
        print(text, flush=True)
        self.lines.append(text)


def _cell(res, key):
    """'ours' or 'skada' cell text for res[key] (a list of result dicts)."""
    if key not in res:
        return None
    rows = res[key]
    errors = [r["error"] for r in rows if "error" in r]
    accs = [r["acc"] for r in rows if "acc" in r]
    if errors and not accs:
        return "error: " + errors[0][:60]
    if errors:  # e.g. a seed whose training diverged: the others' accuracy, and the count
        return f"{_fmt(accs)} ({len(errors)} of {len(rows)}: {errors[0][:20]})"
    return _fmt(accs)


def tables(report, tasks, methods, ours_res, skada_res, skada_status):
    for part in ("office", "digits", "amazon"):
        names = [t[1] for t in tasks if t[0] == part]
        if not names:
            continue
        title = {"office": "Office-Caltech10 SURF (12 pairs)", "digits": "MNIST↔USPS",
                 "amazon": "Amazon reviews, 400-d (12 pairs)"}[part]
        report(f"\n## {title}: target accuracy (%)\n")
        n_seeds = SEEDS_OVERRIDE or 1
        report("Each cell: sktransfer / skada. Deep: "
               + (f"one seed each (seed {FIRST_SEED})" if n_seeds == 1 else
                  f"mean ± std over {n_seeds} seeds ({FIRST_SEED}..{FIRST_SEED + n_seeds - 1}); "
                  "averages: mean ± std over seeds "
                  "of the 12-pair average")
               + "; shallow methods are deterministic (one fit).\n")
        cols = [m for m in methods]
        header = "| task | " + " | ".join(cols) + (" | published " + " / ".join(PUBLISHED_COLS) if part != "amazon" else "") + " |"
        report(header)
        report("|" + "---|" * (len(cols) + 1 + (part != "amazon")))
        per_pair = {m: [] for m in cols}
        per_pair_sk = {m: [] for m in cols}
        for name in names:
            cells = []
            for m in cols:
                ours = _cell(ours_res, (name, m))
                if ours is None:
                    cells.append("—")
                    continue
                if m in SHALLOW + DEEP and (SKADA_CONV or "ConvEncoder" not in name):
                    sk = _cell(skada_res, (name, m)) if skada_status == "ok" else f"skada: {skada_status}"
                    cells.append(f"{ours} / {sk or '—'}")
                else:
                    cells.append(ours)
                if "ConvEncoder" not in name:
                    for res, into in ((ours_res, per_pair), (skada_res, per_pair_sk)):
                        into[m].append({r["seed"]: r["acc"] for r in res.get((name, m), [])
                                        if "acc" in r})
            pub = PUBLISHED.get(name.split(" ")[0])
            tail = (" | " + " / ".join(f"{v:.1f}" for v in pub)) if part != "amazon" and pub else (" | —" if part != "amazon" else "")
            report(f"| {name} | " + " | ".join(cells) + tail + " |")
        if part in ("office", "amazon") and len(names) > 1:
            cells = []
            for m in cols:
                ours = _avg(per_pair[m])
                sk = _avg(per_pair_sk[m])
                if m in SHALLOW + DEEP:
                    cells.append(f"**{ours}** / {sk if skada_status == 'ok' else 'skada: ' + skada_status}")
                else:
                    cells.append(f"**{ours}**")
            pub = PUBLISHED["Office avg"] if part == "office" and len(names) == 12 else None
            tail = (" | " + " / ".join(f"{v:.1f}" for v in pub)) if pub else (" | —" if part != "amazon" else "")
            report(f"| **average ({len(names)} pairs)** | " + " | ".join(cells) + tail + " |")


def _avg(per_pair):
    """Average over pairs within each seed, then mean ± std over seeds.

    ``per_pair`` holds, for each pair, its accuracy by seed; only the seeds that
    every pair has count (a seed whose fit failed on one pair is left out).
    """
    seeds = sorted(set.intersection(*(set(p) for p in per_pair))) if per_pair else []
    if not seeds:
        return "—"
    return _fmt(np.mean([[p[s] for s in seeds] for p in per_pair], axis=0))


def paired_differences(report, tasks, methods, ours_res):
    """Each variant minus its base method, and each deep method minus NN, seed by seed.

    A seed starts both fits from the same weights (NN is the same network
    without adaptation; for the methods of BASELINES, their own weight-0 fit).
    """
    pairs = [(v, VARIANTS[v][0]) for v in methods
             if v in VARIANTS and VARIANTS[v][0] in methods and v not in BASELINES.values()]
    pairs += [(m, BASELINES.get(m, "NN")) for m in methods
              if (m in DEEP or m in BASELINES) and BASELINES.get(m, "NN") in methods]
    if not pairs:
        return
    report("\n## Variants against their base method, deep methods against NN, paired seeds\n")
    report("Per seed: the variant's target accuracy minus the base method's (averaged over the "
           "pairs for Office and Amazon, per task for the digits); then mean ± std over seeds.\n")
    report("| data | variant − base | mean ± std over seeds | per seed |")
    report("|---|---|---|---|")
    for part in ("office", "digits", "amazon"):
        names = [t[1] for t in tasks if t[0] == part]
        plain = [n for n in names if "ConvEncoder" not in n]
        if not plain:
            continue
        groups = [(n, [n]) for n in names] if part == "digits" else [(f"{part}, {len(plain)} pair{'s' * (len(plain) > 1)}", plain)]
        for label, group in groups:
            for variant, base in pairs:
                acc = {m: [{r["seed"]: r["acc"] for r in ours_res.get((n, m), []) if "acc" in r}
                           for n in group] for m in (variant, base)}
                seeds = sorted(set.intersection(*(set(a) for m in acc for a in acc[m])))
                if not seeds:
                    continue
                diffs = [np.mean([v[s] - b[s] for v, b in zip(acc[variant], acc[base])]) for s in seeds]
                report(f"| {label} | {variant} − {base} | {_fmt(diffs)} | "
                       + ", ".join(f"{s}: {d:+.1f}" for s, d in zip(seeds, diffs)) + " |")


def avg_value(res, names, m):
    vals = []
    for name in names:
        rows = [r["acc"] for r in res.get((name, m), []) if "acc" in r]
        if not rows:
            return None
        vals.append(np.mean(rows))
    return float(np.mean(vals)) if vals else None


def timing_table(report, tasks, methods, ours_res, skada_res, skada_status, n_jobs):
    report(f"\n## Time per epoch, deep methods: sktransfer vs skada ({n_jobs} fits in parallel, "
           "one torch thread each, same network/batches/epochs)\n")
    report("Median epoch of each fit, averaged over the fits of the data set (ms); ratio = sktransfer / skada.\n")
    report("| data | method | sktransfer ms/epoch | skada ms/epoch | ratio |")
    report("|---|---|---|---|---|")
    for part in ("office", "digits", "amazon"):
        names = [t[1] for t in tasks if t[0] == part and "ConvEncoder" not in t[1]]
        if not names:
            continue
        for m in ["NN"] + DEEP + list(VARIANTS):
            if m not in methods:
                continue
            o = [r["sec_per_epoch"] for n in names for r in ours_res.get((n, m), []) if r.get("sec_per_epoch")]
            s = [r["sec_per_epoch"] for n in names for r in skada_res.get((n, m), []) if r.get("sec_per_epoch")]
            if not o:
                continue
            o_ms = 1000 * np.mean(o)
            if m == "NN" or m in VARIANTS:
                label = "source only (no adaptation)" if m == "NN" else f"{m} (sktransfer only)"
                report(f"| {part} | {label} | {o_ms:.1f} | — | — |")
                continue
            if s:
                s_ms = 1000 * np.mean(s)
                report(f"| {part} | {m} | {o_ms:.1f} | {s_ms:.1f} | {o_ms / s_ms:.2f} |")
            else:
                report(f"| {part} | {m} | {o_ms:.1f} | skada: {skada_status} | — |")


def targets(report, tasks, methods, ours_res, skada_res, skada_status):
    report("\n## Targets\n")
    office = [t[1] for t in tasks if t[0] == "office"]
    if len(office) == 12:
        avgs = {m: avg_value(ours_res, office, m) for m in methods}
        avgs = {m: v for m, v in avgs.items() if v is not None}
        best = max(avgs, key=avgs.get)
        ok = avgs[best] >= 52.7
        report(f"- Office best method 12-pair avg ≥ 52.7 (MEDA): best is {best} at {avgs[best]:.1f} → "
               f"{'PASS' if ok else 'FAIL'}")
        if skada_status == "ok":
            for m in SHALLOW + DEEP:
                if m in avgs:
                    s = avg_value(skada_res, office, m)
                    if s is not None:
                        report(f"- Office {m}: sktransfer {avgs[m]:.2f} vs skada {s:.2f} → "
                               f"{'PASS' if avgs[m] >= s else 'FAIL'} (≥ skada)")
    for name, goal in (("MNIST→USPS", 89.5), ("USPS→MNIST", 72.1)):
        rows = {}
        for t in tasks:
            if t[1].split(" ")[0] == name:
                for m in methods:
                    v = avg_value(ours_res, [t[1]], m)
                    if v is not None:
                        rows[f"{m}{' (ConvEncoder)' if 'Conv' in t[1] else ''}"] = v
        if rows:
            best = max(rows, key=rows.get)
            report(f"- {name} best ≥ {goal}: best is {best} at {rows[best]:.1f} → "
                   f"{'PASS' if rows[best] >= goal else 'FAIL'}")
    amazon = [t[1] for t in tasks if t[0] == "amazon"]
    if len(amazon) == 12 and "DANN" in methods and "NN" in methods:
        dann, so = avg_value(ours_res, amazon, "DANN"), avg_value(ours_res, amazon, "NN")
        if dann is not None and so is not None:
            report(f"- Amazon DANN avg ≥ source-only + 2: DANN {dann:.1f} vs source only {so:.1f} "
                   f"({dann - so:+.1f}) → {'PASS' if dann >= so + 2 else 'FAIL'}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-home", default=os.environ.get("SKTRANSFER_DATA", DEFAULT_DATA))
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="smoke run (~1 min)")
    parser.add_argument("--only", action="append", choices=["office", "digits", "amazon"],
                        help="run only this part (repeatable)")
    parser.add_argument("--methods", default=",".join(ALL_METHODS),
                        help=f"comma-separated subset of {','.join(ALL_METHODS)}")
    parser.add_argument("--conv", action="store_true",
                        help="add digits rows with sktransfer.nn.ConvEncoder (the deep methods and NN; slow)")
    parser.add_argument("--epochs", type=int, default=None,
                        help="epochs of every deep fit (default: 20 Office/Amazon, 30 digits and ConvEncoder)")
    parser.add_argument("--seeds", type=int, default=None,
                        help="seeds per deep fit, sktransfer and skada (default 1)")
    parser.add_argument("--first-seed", type=int, default=0,
                        help="first seed of the deep fits (e.g. 5 with --seeds 5: seeds 5-9)")
    parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                        help="set a parameter of sktransfer's adaptive deep fits, e.g. "
                             "lambda_max=0.5 (repeatable; not the NN baseline, not skada)")
    parser.add_argument("--skada-python", default=DEFAULT_SKADA)
    parser.add_argument("--skada-conv", action="store_true",
                        help="also run skada on the ConvEncoder rows (same network in its runner)")
    parser.add_argument("--out", default=str(DEFAULT_OUT))
    args = parser.parse_args()
    global EPOCHS_OVERRIDE, SEEDS_OVERRIDE, FIRST_SEED, SKADA_CONV
    EPOCHS_OVERRIDE, SEEDS_OVERRIDE, FIRST_SEED = args.epochs, args.seeds, args.first_seed
    SKADA_CONV = args.skada_conv
    for item in args.param:
        name, sep, value = item.partition("=")
        if not sep:
            parser.error(f"--param takes NAME=VALUE, got {item!r}")
        try:
            EXTRA_PARAMS[name] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            parser.error(f"--param {name}=... takes a Python literal, got {value!r}: quote "
                         "strings for the shell too, e.g. --param \"weight_schedule='constant'\"")
    torch.set_num_threads(1)
    methods = [m for m in args.methods.split(",") if m]
    unknown = set(methods) - set(ALL_METHODS)
    if unknown:
        parser.error(f"unknown methods {sorted(unknown)}; choose among {ALL_METHODS}")
    parts = args.only or ["office", "digits", "amazon"]
    if args.quick:  # one Office pair and one Amazon pair, 2 epochs
        parts = args.only or ["office", "amazon"]
    t0 = time.perf_counter()
    report = Report()
    deep_ok = DeepCORALClassifier is not None
    report(f"# Domain adaptation benchmark: sktransfer vs skada ({args.n_jobs} fits in "
           "parallel, 1 thread each)\n")
    report(describe() + "\n")
    report(f"Command: `OMP_NUM_THREADS=1 python benchmarks/bench_domain_adaptation.py "
           f"{shlex.join(sys.argv[1:])}`".rstrip() + "\n")
    if not deep_ok:
        report("sktransfer's DeepCORAL/DAN/CDAN did not import: left out.\n")

    tasks = _tasks(parts, args.data_home, args.quick, conv=args.conv)
    # the ConvEncoder rows only when the digits part runs in full
    if args.quick:
        tasks = [t for t in tasks if not t[5].get("conv")]
    skada_status = "ok" if os.path.exists(args.skada_python) else "not installed"
    ours_jobs, skada_jobs = _plan(tasks, methods, args.quick, skada_status == "ok")

    skada_res, skada_version = {}, None
    if skada_jobs:
        start = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="bench_da_") as tmp:
            try:
                skada_version, out = _run_skada(tasks, skada_jobs, args.skada_python, args.n_jobs, tmp)
            except (subprocess.CalledProcessError, OSError) as exc:
                skada_status, out = f"failed ({exc})", []
        for (ti, m, s, _), r in zip(skada_jobs, out):
            skada_res.setdefault((tasks[ti][1], m), []).append({**r, "seed": s})
        skada_s = time.perf_counter() - start
    else:
        skada_s = 0.0

    start = time.perf_counter()
    out = Parallel(n_jobs=args.n_jobs)(
        delayed(_run_ours)(m, tasks[ti][5]["X_loader"] if m in LOADER_INPUT else tasks[ti][2],
                           *tasks[ti][3:5], params, s)
        for ti, m, s, params in ours_jobs
    )
    ours_s = time.perf_counter() - start
    ours_res = {}
    for (ti, m, s, _), r in zip(ours_jobs, out):
        ours_res.setdefault((tasks[ti][1], m), []).append(r)

    report(f"skada {skada_version or skada_status} via `{args.skada_python}`. Columns: LR / 1NN = "
           "source-only LogisticRegression / 1-NN; NN = the deep network without adaptation "
           "(DANNClassifier(lambda_max=0)). Shallow: CORAL (Ledoit-Wolf shrinkage, both) + LR; "
           f"SA ({SA_COMPONENTS} components) + 1-NN; TCA ({TCA_PARAMS}) + LR; IW = importance weights "
           "from a LogisticRegression domain classifier, then LR; KLIEP = KLIEP's weights (100 "
           "centres, the width picked by 5-fold likelihood cross-validation among the same "
           "candidates in both libraries: 1 / (n_features * X.var()) times "
           f"{', '.join(f'{f:g}' for f in _KLIEP_GAMMA_FACTORS)}), then LR; KLIEP-10: the same with "
           "the candidates up to 10 times only; LinearOT = LinearOTMapping() (reg='auto', "
           f"Ledoit-Wolf) + LR, LinearOT-1 the same with reg={SKADA_LINEAR_OT_REG:g}; skada's "
           f"LinearOTMapping with its default reg={SKADA_LINEAR_OT_REG:g} + LR beside both; EntOT = "
           f"EntropicOTMapping(reg={ENT_OT_REG:g}) + LR against skada's EntropicOTMapping defaults "
           f"(reg_e=1, raw cost); EntOT-same: skada given reg_e={ENT_OT_REG:g}, norm='median'; "
           f"OT-GL = EntropicOTMapping(reg={ENT_OT_REG:g}, class_reg={OT_GL_CLASS_REG:g}) + LR against "
           "skada's ClassRegularizerOTMapping defaults + LR. GFK: "
           f"GeodesicFlowKernel({GFK_COMPONENTS}) + 1-NN on the loader's features; JDA: "
           "JDAClassifier() on the loader's features; MEDA: MEDAClassifier() (the paper's "
           "settings) on the loader's features; MEDA-SPL: the same with "
           "selection='progressive'; GFK, JDA and MEDA have no skada counterpart.")
    example = {p: _deep_settings(p, {}, args.quick) for p in parts}
    conv_params, conv_seeds, _ = _deep_settings("digits", {"conv": True}, args.quick)
    report("Deep settings (epochs, sktransfer seeds, skada seeds): " + "; ".join(
        f"{p}: {e['max_epochs']} epochs, {n} / {k} seed(s)" for p, (e, n, k) in example.items())
        + (f"; ConvEncoder rows (digits): {conv_params['max_epochs']} epochs, {conv_seeds} seed(s), "
           + ("skada too (--skada-conv)" if SKADA_CONV else "sktransfer only")
           if "digits" in parts and args.conv else "")
        + (f"; sktransfer's adaptive deep fits also get {EXTRA_PARAMS} (--param)" if EXTRA_PARAMS else "")
        + ". Input: the loader's default preprocessing, then StandardScaler over both domains "
          f"({', '.join(sorted(LOADER_INPUT))}: the loader's features).")
    tables(report, tasks, methods, ours_res, skada_res, skada_status)
    for m in (m for m in methods if m in TUNED):
        report(f"\n{m}: {TUNED[m][0]} with EnsembleValidationSearch over {TUNED[m][1]}; "
               "picks per task (seed: parameters, target accuracy %):\n")
        for (task, method), runs in ours_res.items():
            if method == m:
                report(f"- {task}: " + "; ".join(
                    f"seed {r['seed']}: {r['picked']}, {r['acc']:.1f}"
                    + (f" (failed, left out: {r['failed']})" if r.get("failed") else "")
                    for r in runs))
    paired_differences(report, tasks, methods, ours_res)
    timing_table(report, tasks, methods, ours_res, skada_res, skada_status, args.n_jobs)
    targets(report, tasks, methods, ours_res, skada_res, skada_status)
    total = time.perf_counter() - t0
    report(f"\nWall time: {total / 60:.1f} min (sktransfer fits {ours_s / 60:.1f} min, "
           f"skada fits {skada_s / 60:.1f} min), parts: {', '.join(parts)}.")

    out_path = Path(args.out)
    if args.out == str(DEFAULT_OUT) and (args.quick or args.only):
        # partial runs do not overwrite the full results
        tag = "quick" if args.quick else "_".join(parts)
        out_path = Path(tempfile.gettempdir()) / f"bench_domain_adaptation_{tag}.md"
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text("\n".join(report.lines) + "\n")
    print(f"\nwritten to {out_path}")


if __name__ == "__main__":
    main()
