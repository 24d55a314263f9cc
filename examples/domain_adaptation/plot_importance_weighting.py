"""
=====================================================
Importance weighting under covariate shift: 3 ratios
=====================================================

Under covariate shift the inputs' distribution changes between the domains
and the labelling rule does not. A model that cannot represent the rule
everywhere (here a linear model of a quadratic rule) fits it where the source
rows lie; weighting each source row by the density ratio
:math:`w(x) = p_T(x) / p_S(x)` makes it fit where the target rows lie
(Shimodaira, 2000).

:class:`~sktransfer.ImportanceWeightedClassifier` estimates :math:`w` from
the rows alone (no target label) in three ways: the odds of a domain
classifier, kernel mean matching (KMM) and KLIEP, whose kernel width is
chosen by likelihood cross-validation on held-out source and target rows. We compare the
three estimates with the true ratio, which is known for this toy, and the
target accuracy of the weighted fits with the unweighted one.
"""

# %%
# Data
# ----
#
# Source rows from :math:`N(0, 1)`, target rows from :math:`N(1.5, 0.5^2)`,
# label ``1`` where :math:`x^2 > 1.5`. The target labels are hidden (``-1``).

import matplotlib.pyplot as plt
import numpy as np
from scipy.stats import norm, spearmanr
from sklearn.linear_model import LogisticRegression

from sktransfer import ImportanceWeightedClassifier, LabelledOnly

rng = np.random.RandomState(0)
X_source = rng.normal(0.0, 1.0, (400, 1))
X_target = rng.normal(1.5, 0.5, (400, 1))


def rule(X):
    return (X[:, 0] ** 2 > 1.5).astype(int)


X = np.r_[X_source, X_target]
y = np.r_[rule(X_source), -np.ones(400, dtype=int)]
true_ratio = norm.pdf(X_source[:, 0], 1.5, 0.5) / norm.pdf(X_source[:, 0], 0.0, 1.0)

# %%
# Three density-ratio estimates, and the weighted fits
# ----------------------------------------------------
#
# ``LabelledOnly(LogisticRegression())`` is the unweighted baseline: the same
# model fitted on the labelled (source) rows only.

models = {
    "no weights": LabelledOnly(LogisticRegression()),
    "domain classifier": ImportanceWeightedClassifier(LogisticRegression()),
    "KMM": ImportanceWeightedClassifier(LogisticRegression(), weighting="kmm"),
    "KLIEP": ImportanceWeightedClassifier(LogisticRegression(), weighting="kliep", random_state=0),
}
for name, model in models.items():
    model.fit(X, y)
    accuracy = model.score(X_target, rule(X_target))
    print(f"{name:18s} target accuracy {accuracy:.3f}")

kliep = models["KLIEP"]
print(f"KLIEP's gamma, picked by likelihood cross-validation: {kliep.gamma_:.3g}")

# %%
# The estimated weights against the true ratio
# --------------------------------------------
#
# Each estimate is scaled to average 1 on the source rows, as the true ratio
# nearly does (log scale). The log of the domain classifier's odds is linear
# in ``x``, while the true log ratio is quadratic (the two variances differ):
# a straight line through the curve. KLIEP follows the curve where there are
# target rows (and drops where there are none, left); KMM's weights scatter
# around it. The domain classifier and KLIEP rank the rows almost as the true
# ratio does (the Spearman correlations printed below: 1.00 and 0.998), KMM
# less well (0.83); all three weighted fits get nearly all the target rows
# right, where the unweighted fit gets about a third (printed above).

for name in ("domain classifier", "KMM", "KLIEP"):
    rho, _ = spearmanr(models[name].weights_, true_ratio)
    print(f"{name:18s} Spearman correlation with the true ratio {rho:.3f}")

order = np.argsort(X_source[:, 0])
fig, (ax_w, ax_cv) = plt.subplots(1, 2, figsize=(11, 4))
ax_w.plot(X_source[order, 0], true_ratio[order], "k-", lw=2, label="true ratio")
for name, style in (("domain classifier", "C0--"), ("KMM", "C1."), ("KLIEP", "C2-")):
    weights = models[name].weights_
    ax_w.plot(X_source[order, 0], weights[order] / weights.mean(), style, label=name)
ax_w.set(xlabel="x (source rows)", ylabel="importance weight", yscale="log", ylim=(1e-3, 1e2))
ax_w.legend()

# %%
# KLIEP's choice of width: for each candidate ``gamma`` (by default the RBF
# width ``1 / (n_features * X.var())`` times 0.01 to 100), the mean log weight
# of held-out target rows, less the log of the held-out source rows' mean
# weight where it exceeds 1 (see the user guide). A wide kernel cannot follow
# the ratio; the narrowest one fits the noise of the source rows it was
# normalised on, which the held-out source rows reveal. A list given as
# ``gamma`` replaces the candidates.

candidates = 1.0 / X.var() * np.array([0.01, 0.03, 0.1, 0.3, 1, 3, 10, 30, 100])
ax_cv.semilogx(candidates, kliep.lcv_scores_, "o-")
ax_cv.axvline(kliep.gamma_, color="C2", ls=":", label="picked")
ax_cv.set(xlabel="gamma", ylabel="held-out score", title="KLIEP likelihood cross-validation")
ax_cv.legend()
fig.tight_layout()
plt.show()
