"""Which of skada's scorers score sktransfer's estimators? (A check, not part of the package.)

Run with the interpreter of the environment that has skada (see the README), with
sktransfer importable from the repository::

    PYTHONPATH=. OMP_NUM_THREADS=1 /tmp/skada-venv/bin/python benchmarks/_skada_scorers_interop.py

Importing skada switches scikit-learn's metadata routing on, as for any skada user.
Scorers that draw random numbers get ``random_state=0``.
On skada's covariate-shift toy data (target labels masked with -1), it fits each
domain-adaptation classifier of sktransfer (and a CORAL -> LabelledOnly pipeline)
and prints, for each skada scorer, the score or the error it raised, then scores
a ``GridSearchCV`` and a ``cross_validate`` run that use skada's scorers with
sktransfer's ``SourceKFold``.
"""

import os
import warnings
from importlib.metadata import version
from inspect import signature

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import skada  # switches metadata routing on
from _environment import command  # a sibling module of this script
from skada.datasets import make_shifted_datasets
from skada.metrics import (
    CircularValidation,
    DeepEmbeddedValidation,
    ImportanceWeightedScorer,
    MaNoScorer,
    MixValScorer,
    PredictionEntropyScorer,
    SoftNeighborhoodDensity,
    SupervisedScorer,
)
from sklearn.model_selection import GridSearchCV, cross_validate
from sklearn.pipeline import make_pipeline

import sktransfer
from sktransfer import (
    CORAL,
    DANNClassifier,
    ImportanceWeightedClassifier,
    JDAClassifier,
    LabelledOnly,
    MEDAClassifier,
)
from sktransfer.model_selection import SourceKFold

warnings.filterwarnings("ignore")
SCORERS = [PredictionEntropyScorer, SoftNeighborhoodDensity, CircularValidation, MixValScorer,
           MaNoScorer, SupervisedScorer, ImportanceWeightedScorer, DeepEmbeddedValidation]


def labelled_only():
    """LabelledOnly asking for skada's sample_domain at prediction (not its default)."""
    return (LabelledOnly().set_predict_request(sample_domain=True)
            .set_predict_proba_request(sample_domain=True)
            .set_predict_log_proba_request(sample_domain=True)
            .set_score_request(sample_domain=True))


def main():
    X, y, sd = make_shifted_datasets(n_samples_source=20, n_samples_target=20,
                                     shift="covariate_shift", noise=None, random_state=0)
    y_masked = np.where(sd < 0, -1, y)
    estimators = {
        "ImportanceWeightedClassifier": ImportanceWeightedClassifier(),
        "JDAClassifier": JDAClassifier(n_components=2),
        "MEDAClassifier": MEDAClassifier(n_components=2),
        "DANNClassifier": DANNClassifier(max_epochs=3, random_state=0),
        "CORAL -> LabelledOnly": make_pipeline(CORAL().set_fit_request(sample_domain=True),
                                               labelled_only()),
    }
    print(f"# skada {skada.__version__} scorers on sktransfer {sktransfer.__version__} estimators\n")
    versions = ", ".join(f"{name} {version(name)}"
                         for name in ("skada", "POT", "skorch", "torch", "scikit-learn"))
    print(f"{command()}, run with `PYTHONPATH=.` and skada's interpreter ({versions})\n")
    print("| estimator | " + " | ".join(s.__name__ for s in SCORERS) + " |")
    print("|---" * (len(SCORERS) + 1) + "|")
    errors = {}
    for name, estimator in estimators.items():
        estimator.fit(X, y_masked, sample_domain=sd)
        cells = []
        for scorer in SCORERS:
            extra = {"target_labels": y} if scorer is SupervisedScorer else {}
            seeded = {"random_state": 0} if "random_state" in signature(scorer).parameters else {}
            try:
                score = scorer(**seeded)(estimator, X, y_masked, sample_domain=sd, **extra)
                cells.append(f"{score:.3f}")
            except Exception as exc:  # noqa: BLE001 - the point is to list what fails
                message = f"{type(exc).__name__}: {str(exc).splitlines()[0][:110]}"
                key = errors.setdefault(message, f"E{len(errors) + 1}")
                cells.append(key)
        print(f"| {name} | " + " | ".join(cells) + " |")
    print()
    for message, key in errors.items():
        print(f"- {key}: {message}")
    folds = SourceKFold(3, shuffle=True, random_state=0).set_split_request(sample_domain=True)
    scores = cross_validate(
        DANNClassifier(max_epochs=2, random_state=0).set_fit_request(sample_domain=True),
        X, y_masked, cv=folds, params={"sample_domain": sd}, scoring=PredictionEntropyScorer(),
    )["test_score"]
    print(f"\ncross_validate(DANNClassifier, cv=SourceKFold, scoring=PredictionEntropyScorer): "
          f"{np.round(scores, 3).tolist()}")
    search = GridSearchCV(
        make_pipeline(CORAL().set_fit_request(sample_domain=True), labelled_only()),
        {"coral__reg": [0.1, 1.0]}, cv=folds, scoring=CircularValidation(),
    ).fit(X, y_masked, sample_domain=sd)
    print(f"GridSearchCV(CORAL -> LabelledOnly, cv=SourceKFold, scoring=CircularValidation): "
          f"{np.round(search.cv_results_['mean_test_score'], 3).tolist()}")


if __name__ == "__main__":
    main()
