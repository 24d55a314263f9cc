"""Which way do skada's importance weights point? (A diagnostic, not part of the package.)

Run with the interpreter of the environment that has skada (see the README)::

    OMP_NUM_THREADS=1 /tmp/skada-venv/bin/python benchmarks/_skada_weight_direction.py

On a one-dimensional covariate shift whose density ratio is known (source N(0, 1),
target N(1, 0.7^2)), it prints the Spearman correlation of each reweighting's source
weights with the true ratio p_target(x) / p_source(x): +1 means the weights follow it,
-1 that they follow its inverse.
"""

import os
import warnings

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import skada
from scipy.stats import norm, spearmanr
from skada._reweight import DiscriminatorReweightAdapter, KLIEPReweightAdapter
from sklearn.linear_model import LogisticRegression

warnings.filterwarnings("ignore")
rng = np.random.RandomState(0)
X_source, X_target = rng.normal(0, 1, (300, 1)), rng.normal(1, 0.7, (300, 1))
X = np.r_[X_source, X_target]
sample_domain = np.r_[np.ones(300, int), -np.ones(300, int)]
true_ratio = norm.pdf(X_source[:, 0], 1, 0.7) / norm.pdf(X_source[:, 0], 0, 1)

print(f"skada {skada.__version__}: Spearman correlation of the source weights with p_t / p_s")
for name, adapter in (
    ("DiscriminatorReweight", DiscriminatorReweightAdapter(domain_classifier=LogisticRegression())),
    ("KLIEPReweight", KLIEPReweightAdapter(gamma=[0.1, 1.0, 10.0], random_state=0)),
):
    adapter.fit(X, sample_domain=sample_domain)
    weights = adapter.compute_weights(X, sample_domain=sample_domain)[:300]
    print(f"  {name:22s} {spearmanr(weights, true_ratio)[0]:+.4f}")
