"""
=====================================================
Self-taught sparse coding: atoms from other digits
=====================================================

Self-taught learning (Raina et al., ICML 2007) learns a representation from
unlabelled data that need not share the classes of the task. Here the
unlabelled data are the handwritten digits 5 to 9 of scikit-learn's 8x8
digits; the task is to tell the digits 0 to 4 apart from a few labels each.

:class:`~sktransfer.SelfTaughtTransformer` learns a dictionary of atoms
(pen strokes) from the unlabelled digits and maps every image to its sparse
code. In a pipeline the unlabelled rows are marked ``y == -1``: the
transformer learns from them, and :class:`~sktransfer.LabelledOnly` fits the
classifier on the labelled rows only, so ``-1`` never becomes a class.
"""

# %%
# Data
# ----
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sktransfer import LabelledOnly, SelfTaughtTransformer

X, y = load_digits(return_X_y=True)
X = X / 16.0
unlabelled = y >= 5  # digits 5-9: other classes, no labels used
X_task, y_task = X[~unlabelled], y[~unlabelled]
print(f"{unlabelled.sum()} unlabelled digits (5-9), {len(y_task)} digits 0-4")

# %%
# Atoms learnt from the unlabelled digits
# ---------------------------------------
# Fitted with ``y=None``, all rows are unlabelled data for the representation.
st = SelfTaughtTransformer(n_components=64, alpha=0.2, random_state=0).fit(X[unlabelled])

fig, axes = plt.subplots(4, 16, figsize=(10, 2.8))
for atom, ax in zip(st.components_, axes.ravel()):
    ax.imshow(atom.reshape(8, 8), cmap="gray_r")
    ax.set_axis_off()
fig.suptitle("Dictionary atoms learnt from unlabelled digits 5-9")
plt.show()

# %%
# In one pipeline, with ``y == -1`` for the unlabelled rows
# ---------------------------------------------------------
# The rows of digits 5-9 are stacked with 3 labelled digits per class of
# 0-4, and marked ``-1``. The transformer learns from the ``-1`` rows only;
# :class:`~sktransfer.LabelledOnly` fits the classifier on the 15 labelled rows.
rng = np.random.RandomState(0)
train = np.concatenate([rng.choice(np.flatnonzero(y_task == c), 3, replace=False)
                        for c in range(5)])
test = np.setdiff1d(np.arange(len(y_task)), train)
X_fit = np.vstack([X[unlabelled], X_task[train]])
y_fit = np.concatenate([np.full(unlabelled.sum(), -1), y_task[train]])
pipe = make_pipeline(
    SelfTaughtTransformer(n_components=64, alpha=0.2, random_state=0),
    LabelledOnly(LogisticRegression(max_iter=1000)),
).fit(X_fit, y_fit)
print("classes:", pipe.classes_)  # no -1
print(f"accuracy with 3 labels per class: {pipe.score(X_task[test], y_task[test]):.3f}")

# %%
# Accuracy against the number of labels
# --------------------------------------
# The representation depends on the unlabelled rows only, so the transformer
# fitted above (``st``, on the same rows) serves every draw of labelled rows.
# A second transformer learns its atoms on 4x4 *patches* of the unlabelled
# digits, as Raina et al. did on image patches, and sums the codes of every
# patch over the four quadrants of an image.
codes = st.transform(X_task)
st_patches = SelfTaughtTransformer(
    n_components=32, patch_size=4, image_shape=(8, 8), random_state=0
).fit(X[unlabelled])
patch_codes = st_patches.transform(X_task)
results = {"raw pixels": {}, "self-taught sparse codes": {}, "self-taught patch codes": {}}
for k in (1, 3, 5, 10):
    raw, coded, patched = [], [], []
    for seed in range(5):
        rng = np.random.RandomState(seed)
        train = np.concatenate(
            [rng.choice(np.flatnonzero(y_task == c), k, replace=False) for c in range(5)]
        )
        test = np.setdiff1d(np.arange(len(y_task)), train)
        for features, scores in ((X_task, raw), (codes, coded), (patch_codes, patched)):
            clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
            clf.fit(features[train], y_task[train])
            scores.append(clf.score(features[test], y_task[test]))
    results["raw pixels"][k] = np.mean(raw)
    results["self-taught sparse codes"][k] = np.mean(coded)
    results["self-taught patch codes"][k] = np.mean(patched)

fig, ax = plt.subplots(figsize=(5, 3.5))
for name, by_k in results.items():
    ax.plot(list(by_k), list(by_k.values()), marker="o", label=name)
ax.set_xlabel("labelled digits per class")
ax.set_ylabel("accuracy on the held-out digits 0-4")
ax.legend()
plt.show()

# %%
# On these tiny, clean 8x8 images the raw pixels are a strong baseline for a
# linear classifier, and sparse codes of whole images learnt from other digits
# do not beat them. Codes learnt on patches and pooled over the quadrants do:
# they describe which strokes an image has, roughly where, and tolerate the
# small shifts that move raw pixels. ``benchmarks/bench_self_taught.py``
# finds the same on MNIST -> USPS, and also that random atoms in the same
# patch pipeline do about as well: the gain is the patch-and-pool encoding
# more than what the unlabelled digits taught the atoms.
for name, by_k in results.items():
    print(f"{name:<26}" + "  ".join(f"{k}/class: {acc:.3f}" for k, acc in by_k.items()))
