"""
===========================================================
Zero-shot learning with the Animals-with-Attributes table
===========================================================

Zero-shot classifiers recognise classes that have no training example. Each
class, seen or unseen, is described by a row of a table; here the 85 binary
attributes (*black*, *stripes*, *hooves*, *swims*, ...) of the 50 animals of
Animals with Attributes (Lampert et al.), with its proposed split: 40 classes
seen in training, 10 unseen (sheep, dolphin, bat, seal, blue whale, rat,
horse, walrus, giraffe, bobcat).

**The inputs are synthetic.** The data folder holds the attribute table, not
the images, so each input row here is the attribute vector of its class with
15% of the attributes flipped at random, mixed by a random 85 x 100 matrix,
plus Gaussian noise. It shows the API at AwA's scale, not vision
performance; ``benchmarks/bench_zero_shot.py`` runs the same estimators on
real images (digits, Office-Caltech).
"""

# %%
# The attribute table
# -------------------
# Read from the data folder (``sktransfer.datasets.get_data_home``; the
# repository's benchmarks use ``../shared/data``).
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from sklearn.metrics import make_scorer
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sktransfer import (
    AttributeZeroShotClassifier,
    ConSEClassifier,
    EmbeddingZeroShotClassifier,
)
from sktransfer.datasets import get_data_home, load_awa_attributes
from sktransfer.zero_shot import (
    UnseenClassSplit,
    harmonic_mean_accuracy,
    per_class_accuracy,
)


def find_data_home():
    """The data home if it holds AwA, else ``shared/data`` next to the repository."""
    for root in [get_data_home(), *(p / "shared" / "data" for p in [Path.cwd(), *Path.cwd().parents])]:
        if (Path(root) / "zsl" / "awa_class_attributes").exists():
            return root
    raise FileNotFoundError("zsl/awa_class_attributes not found in the data folder")


awa = load_awa_attributes(data_home=find_data_home())
names, attributes, table = awa.class_names, awa.attribute_names, awa.table
unseen = awa.unseen_classes
class_attributes = dict(zip(names, table))  # {class name: 85 attributes}
print(f"{len(names)} classes x {len(attributes)} attributes; unseen: {', '.join(unseen)}")

# %%
# Synthetic inputs
# ----------------
rng = np.random.RandomState(0)
mixing = rng.randn(table.shape[1], 100)
y_index = np.repeat(np.arange(len(names)), 30)
flips = rng.rand(len(y_index), table.shape[1]) < 0.15
X = np.abs(table[y_index] - flips) @ mixing + 2.0 * rng.randn(len(y_index), 100)
y = names[y_index]
is_unseen = np.isin(y, unseen)
X_train, y_train = X[~is_unseen], y[~is_unseen]  # the 40 seen classes only
X_test, y_test = X[is_unseen], y[is_unseen]

# %%
# Zero-shot: predict among the 10 unseen classes
# ----------------------------------------------
# Every estimator learns from the seen classes only; ``classes_`` are the
# rows of the table absent from ``y``. The metric is the per-class mean
# accuracy; chance is 10%.
models = {
    "DAP": AttributeZeroShotClassifier(class_attributes=class_attributes),
    "ESZSL": EmbeddingZeroShotClassifier(class_attributes, method="eszsl", alpha=100.0, beta=10.0),
    "ranking": EmbeddingZeroShotClassifier(
        class_attributes, method="ranking", max_epochs=15, random_state=0
    ),
    "ConSE": ConSEClassifier(class_embeddings=class_attributes, top_t=5),
}
scores = {}
for name, model in models.items():
    clf = make_pipeline(StandardScaler(), model).fit(X_train, y_train)
    scores[name] = per_class_accuracy(y_test, clf.predict(X_test))
    print(f"{name:8s} unseen-class accuracy {scores[name]:.2f}")
print("predicts among:", ", ".join(clf[-1].classes_))

fig, ax = plt.subplots(figsize=(5, 3))
ax.bar(list(scores), list(scores.values()), color="tab:blue")
ax.axhline(0.1, color="k", ls="--", label="chance")
ax.set_ylabel("unseen-class accuracy")
ax.set_ylim(0, 1)
ax.legend()
fig.tight_layout()
plt.show()

# %%
# Generalised zero-shot and calibrated stacking
# ---------------------------------------------
# With ``mode="gzsl"`` the prediction may be any of the 50 classes, and the
# scores favour the seen classes the predictors were trained on. Calibrated
# stacking (Chao et al., 2016) subtracts ``calibration`` from the seen
# classes' scores: sweeping it traces the trade-off between seen and unseen
# accuracy; the harmonic mean H summarises it.
seen_test = rng.rand(len(X_train)) < 0.2  # held-out rows of the seen classes
X_fit, y_fit = X_train[~seen_test], y_train[~seen_test]
X_eval = np.vstack([X_train[seen_test], X_test])
y_eval = np.concatenate([y_train[seen_test], y_test])
gzsl = make_pipeline(
    StandardScaler(),
    EmbeddingZeroShotClassifier(class_attributes, method="eszsl", mode="gzsl", alpha=100.0, beta=10.0),
).fit(X_fit, y_fit)
seen_classes = gzsl[-1].seen_classes_
curve = []
for gamma in np.linspace(0, 1.5, 16):
    gzsl[-1].set_params(calibration=gamma)  # used at prediction time only
    pred = gzsl.predict(X_eval)
    seen_rows = np.isin(y_eval, seen_classes)
    curve.append((
        per_class_accuracy(y_eval[seen_rows], pred[seen_rows]),
        per_class_accuracy(y_eval[~seen_rows], pred[~seen_rows]),
        harmonic_mean_accuracy(y_eval, pred, seen_classes=seen_classes),
    ))
curve = np.array(curve)
best = curve[:, 2].argmax()
print(f"H without calibration {curve[0, 2]:.2f}, best {curve[best, 2]:.2f}")

fig, ax = plt.subplots(figsize=(4, 4))
ax.plot(curve[:, 1], curve[:, 0], "o-")
ax.plot(curve[0, 1], curve[0, 0], "rs", label="no calibration")
ax.plot(curve[best, 1], curve[best, 0], "g*", ms=12, label="best H")
ax.set_xlabel("unseen-class accuracy")
ax.set_ylabel("seen-class accuracy")
ax.set_title("Seen-unseen accuracy curve (ESZSL)")
ax.legend()
fig.tight_layout()
plt.show()

# %%
# Tuning with whole classes held out
# ----------------------------------
# An ordinary ``KFold`` puts every class on both sides of the split, so it
# would tune a zero-shot model on seen classes. :class:`~sktransfer.zero_shot.UnseenClassSplit`
# holds out whole classes per fold: their rows of the table become the
# candidates of that fold, exactly as the true unseen classes are at test
# time (which never enter the search).
search = GridSearchCV(
    make_pipeline(StandardScaler(), EmbeddingZeroShotClassifier(class_attributes, method="eszsl")),
    {"embeddingzeroshotclassifier__alpha": [1.0, 100.0], "embeddingzeroshotclassifier__beta": [0.1, 10.0]},
    cv=UnseenClassSplit(4, random_state=0),
    scoring=make_scorer(per_class_accuracy),
).fit(X_train, y_train)
print("best:", search.best_params_, f"validation {search.best_score_:.2f}")
print(f"unseen-class accuracy {per_class_accuracy(y_test, search.predict(X_test)):.2f}")
