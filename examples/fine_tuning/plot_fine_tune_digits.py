"""
=======================================================
Fine-tuning a source network with few target labels
=======================================================

A network learns to name the digit in 900 of scikit-learn's 8 x 8 images
(the *source* task). The *target* task, on the other images, is a new one:
tell odd digits from even ones, with only a few labelled images per class. :class:`~sktransfer.FineTuneClassifier` copies
the source network, replaces its head with one for the new classes and
trains on the target images:

- **frozen**: only the new head learns (``freeze="all_but_head"``);
- **fine-tuned**: every layer learns, starting from the source weights;
- **fine-tuned + L2-SP**: the same, pulled towards the source weights
  (``l2sp_alpha``);
- **scratch**: the same architecture from random weights.

Then the cost of fine-tuning to the *source* task — forgetting — and how
distillation (learning without forgetting) reduces it.
"""

# %%
# The source network
# ------------------
import matplotlib.pyplot as plt
import numpy as np
import torch
from sklearn.datasets import load_digits
from skorch import NeuralNetClassifier

from sktransfer import FineTuneClassifier
from sktransfer.nn import MLP

X, y = load_digits(return_X_y=True)
X = (X / 16.0).astype(np.float32)
order = np.random.RandomState(0).permutation(len(X))
Xs, ys = X[order[:900]], y[order[:900]]  # source: which digit (0-9)
Xt, yt = X[order[900:]], y[order[900:]] % 2  # target: odd (1) or even (0)

torch.manual_seed(0)
source_net = NeuralNetClassifier(
    MLP, module__n_features_in=64, module__hidden_layer_sizes=(128, 64), module__n_outputs=10,
    criterion=torch.nn.CrossEntropyLoss, optimizer=torch.optim.Adam, lr=0.01,
    max_epochs=30, train_split=None, verbose=0,
).fit(Xs[:700], ys[:700])
print("source network, held-out source accuracy:",
      round(float(np.mean(source_net.predict(Xs[700:]) == ys[700:])), 3))

# %%
# Few target labels: transfer vs scratch
# --------------------------------------
settings = {
    "scratch": dict(module=MLP(64, hidden_layer_sizes=(128, 64), n_outputs=10)),
    "frozen": dict(module=source_net, freeze="all_but_head"),
    "fine-tuned": dict(module=source_net),
    "fine-tuned + L2-SP": dict(module=source_net, l2sp_alpha=0.01),
}
sizes = [2, 5, 10, 20]
accuracy = {name: [] for name in settings}
for n in sizes:
    scores = {name: [] for name in settings}
    for seed in range(3):
        rng = np.random.RandomState(seed)
        train = np.concatenate([rng.choice(np.flatnonzero(yt == c), n, replace=False) for c in (0, 1)])
        test = np.setdiff1d(np.arange(len(yt)), train)
        for name, params in settings.items():
            clf = FineTuneClassifier(max_epochs=60, lr=0.005, random_state=seed, **params)
            scores[name].append(clf.fit(Xt[train], yt[train]).score(Xt[test], yt[test]))
    for name in settings:
        accuracy[name].append(np.mean(scores[name]))
    print(f"{n:2d} per class: " + ", ".join(f"{k} {np.mean(v):.3f}" for k, v in scores.items()))

fig, ax = plt.subplots(figsize=(5, 3.5))
for name, values in accuracy.items():
    ax.plot(sizes, values, marker="o", label=name)
ax.set_xlabel("labelled target images per class")
ax.set_ylabel("target test accuracy (odd vs even)")
ax.legend()
fig.tight_layout()

# %%
# Forgetting, and distillation
# ----------------------------
# The fine-tuned network keeps the source head beside the new one;
# ``source_output`` gives its outputs, so we can measure how well the network
# still names the digits after fine-tuning on odd vs even.
rng = np.random.RandomState(0)
train = np.concatenate([rng.choice(np.flatnonzero(yt == c), 20, replace=False) for c in (0, 1)])
for weight in (0.0, 1.0):
    clf = FineTuneClassifier(source_net, distillation_weight=weight, max_epochs=60, lr=0.005,
                             random_state=0).fit(Xt[train], yt[train])
    kept = np.mean(clf.source_output(Xs[700:]).argmax(1) == ys[700:])
    print(f"distillation_weight={weight}: target accuracy "
          f"{clf.score(np.delete(Xt, train, 0), np.delete(yt, train)):.3f}, "
          f"source accuracy after fine-tuning {kept:.3f}")
