"""
===========================================================
Deep CORAL and DAN on USPS → MNIST with a small ConvNet
===========================================================

:class:`sktransfer.DeepCORALClassifier` (Sun & Saenko, 2016) and
:class:`sktransfer.DANClassifier` (Long et al., 2015) train a network on the
labelled source rows while pulling the features of the two domains together:
Deep CORAL matches their covariance matrices, DAN shrinks a multi-kernel
maximum mean discrepancy between them (and between the class scores the
network gives each domain). Both help most where the network
learns the features from raw inputs, as a ConvNet on images does. Both also
take the minimum class confusion regulariser of the target predictions
(``mcc_weight``, Jin et al., 2020), shown here on Deep CORAL.

Here the source is USPS and the target MNIST, both as 16 x 16 digit images
(800 rows of each, to keep the example short). The baseline is the same
network without adaptation (``DANNClassifier(lambda_max=0)``: same layers,
batches and optimiser).
"""

# %%
# The data
# --------
# Each row is a flattened 16 x 16 image; :class:`~sktransfer.nn.ConvEncoder`
# reshapes it with ``module__input_shape``. Target rows are marked ``y == -1``.
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from sklearn.decomposition import PCA
from sklearn.preprocessing import StandardScaler

from sktransfer import DANClassifier, DANNClassifier, DeepCORALClassifier
from sktransfer.datasets import get_data_home, load_mnist_usps, mask_target_labels
from sktransfer.nn import ConvEncoder

homes = [Path(get_data_home()), *(p / "shared" / "data" for p in [Path.cwd(), *Path.cwd().parents])]
data_home = next(h for h in homes if (h / "mnist_usps").is_dir())
X, y, domain = load_mnist_usps("usps", "mnist", data_home=data_home)

rng = np.random.RandomState(0)
rows = np.r_[rng.choice(np.flatnonzero(domain > 0), 800, replace=False),
             rng.choice(np.flatnonzero(domain < 0), 800, replace=False)]
X = StandardScaler().fit_transform(X[rows]).astype(np.float32)
y, domain = y[rows], domain[rows]
target = domain < 0
y_train = mask_target_labels(y, domain)

# %%
# Four fits of the same network
# -----------------------------
# Each estimator takes the ConvNet as ``module`` and its parameters as
# ``module__*``, as in skorch. The alignment weights keep their defaults
# (``coral_weight=1``, ``mmd_weight=1``); see the user guide for picking them
# without target labels with :class:`~sktransfer.model_selection.EnsembleValidationSearch`.
# ``mcc_weight=1`` adds the MCC loss of the target rows' predictions to Deep
# CORAL's, on the same ramp: it penalises target rows predicted as two classes
# at once, where the covariance alignment alone leaves them.
net = {"module": ConvEncoder, "module__input_shape": (1, 16, 16), "max_epochs": 30,
       "random_state": 0}
models = {
    "no adaptation": DANNClassifier(lambda_max=0.0, **net),
    "Deep CORAL": DeepCORALClassifier(**net),
    "DAN": DANClassifier(**net),
    "Deep CORAL + MCC": DeepCORALClassifier(mcc_weight=1.0, **net),
}
for name, model in models.items():
    model.fit(X, y_train)
    print(f"{name:16s} target accuracy {model.score(X[target], y[target]):.3f}")

# %%
# The learnt features
# -------------------
# ``transform`` gives each row's features (the ConvNet's 100 outputs), here
# projected on their first two principal components. Trained on USPS alone, the
# network squeezes the MNIST rows into a corner of the features the source rows
# spread over; the alignment losses spread them out over the same region, where
# the classifier learnt from the USPS labels separates them better. DAN, which
# matches the whole distribution rather than its second moments, overlaps the
# two domains most. With the MCC regulariser, Deep CORAL's target rows gather
# into tighter groups: each is pushed towards one class.
fig, axes = plt.subplots(1, 4, figsize=(14, 3.6))
for ax, (name, model) in zip(axes, models.items()):
    Z = PCA(2, random_state=0).fit_transform(model.transform(X))
    ax.scatter(*Z[~target].T, s=4, alpha=0.5, label="source (USPS)")
    ax.scatter(*Z[target].T, s=4, alpha=0.5, label="target (MNIST)")
    ax.set_title(f"{name}: {100 * model.score(X[target], y[target]):.1f}%")
    ax.set_xticks([])
    ax.set_yticks([])
axes[0].legend(loc="lower left", fontsize=8, markerscale=3)
fig.tight_layout()
plt.show()
