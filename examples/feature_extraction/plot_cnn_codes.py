"""
=====================================================
CNN codes vs raw pixels with a few labelled images
=====================================================

scikit-image ships 200 small grey photos, ``lfw_subset``: 100 faces and 100
non-faces, 25 x 25 pixels. With only a few labelled images per class, a
logistic regression on the raw pixels has little to go on. The activations
of a ConvNet trained on ImageNet — the bundled EfficientNet-Lite0, through
:class:`~sktransfer.CNNFeatureExtractor` — give it features that already
separate faces from other things. Nothing of the network is trained.

We compare raw pixels, the pooled final features (the default) and the
features of a middle layer (``layer="blocks.10"``), as the number of labelled
images per class grows.
"""

# %%
# The images and their CNN codes
# ------------------------------
import matplotlib.pyplot as plt
import numpy as np
from skimage.data import lfw_subset
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sktransfer import CNNFeatureExtractor

images = lfw_subset()  # (200, 25, 25), floats in [0, 1]
y = np.repeat([1, 0], 100)  # faces first, then non-faces

fig, axes = plt.subplots(2, 6, figsize=(7, 2.6))
for ax, i in zip(axes.ravel(), [0, 1, 2, 3, 4, 5, 100, 101, 102, 103, 104, 105]):
    ax.imshow(images[i], cmap="gray")
    ax.set_axis_off()
fig.suptitle("lfw_subset: faces (top) and non-faces (bottom)")

# Extract once; the transformer also goes in a Pipeline (see below).
final = CNNFeatureExtractor().fit_transform(images)
middle = CNNFeatureExtractor(layer="blocks.10").fit_transform(images)
raw = images.reshape(len(images), -1)
print("features:", raw.shape[1], "pixels,", final.shape[1], "final codes,",
      middle.shape[1], "middle-layer codes")

# %%
# Accuracy as the labelled set grows
# ----------------------------------
# For each size, draw ``n`` training images per class several times and test
# on the remaining images.
sizes = [2, 5, 10, 25]
features = {"raw pixels": raw, "final codes": final, "blocks.10 codes": middle}
results = {name: [] for name in features}
for n in sizes:
    scores = {name: [] for name in features}
    for seed in range(5):
        rng = np.random.RandomState(seed)
        train = np.concatenate([rng.choice(np.flatnonzero(y == c), n, replace=False) for c in (0, 1)])
        test = np.setdiff1d(np.arange(len(y)), train)
        for name, X in features.items():
            clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
            scores[name].append(clf.fit(X[train], y[train]).score(X[test], y[test]))
    for name in features:
        results[name].append(np.mean(scores[name]))
    print(f"{n:3d} per class: " + ", ".join(f"{k} {np.mean(v):.3f}" for k, v in scores.items()))

fig, ax = plt.subplots(figsize=(5, 3.5))
for name, accuracy in results.items():
    ax.plot(sizes, accuracy, marker="o", label=name)
ax.set_xscale("log")
ax.set_xticks(sizes, [str(s) for s in sizes])
ax.set_xlabel("labelled images per class")
ax.set_ylabel("test accuracy")
ax.legend()
ax.set_title("Faces vs non-faces")
fig.tight_layout()

# %%
# In a pipeline
# -------------
# The transformer fits in a ``Pipeline``: ``fit`` only loads the network, so
# cross-validation and grid search clone it cheaply. Image file paths or PIL
# images work as inputs too; files are read one batch at a time.
model = make_pipeline(
    CNNFeatureExtractor(layer="blocks.10"), StandardScaler(), LogisticRegression(max_iter=2000)
)
rng = np.random.RandomState(0)
train = np.concatenate([rng.choice(np.flatnonzero(y == c), 10, replace=False) for c in (0, 1)])
test = np.setdiff1d(np.arange(len(y)), train)
print("pipeline accuracy with 10 labels per class:",
      round(model.fit(images[train], y[train]).score(images[test], y[test]), 3))
