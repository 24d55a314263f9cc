"""Shallow domain adaptation: CORAL, linear OT, subspace alignment, GFK, TCA, importance weighting."""

import pickle
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from conftest import DATA, needs_data
from scipy.stats import norm, ortho_group, spearmanr
from sklearn import config_context
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics.pairwise import rbf_kernel
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.naive_bayes import GaussianNB
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils import get_tags

from sktransfer import JDAClassifier, LabelledOnly, MEDAClassifier
from sktransfer.datasets import (
    load_office_caltech,
    make_rotated_moons,
    mask_target_labels,
)
from sktransfer.domain_adaptation import _reweight
from sktransfer.domain_adaptation._ot import EntropicOTMapping, _sinkhorn, _sinkhorn_log
from sktransfer.domain_adaptation._reweight import (
    ImportanceWeightCollapseWarning,
    ImportanceWeightedClassifier,
)
from sktransfer.domain_adaptation._shallow import (
    CORAL,
    GeodesicFlowKernel,
    LinearOTMapping,
    SubspaceAlignment,
    TransferComponentAnalysis,
)


def shifted_problem(seed, n=300, d=5):
    """Same labelling rule; target features rescaled and translated."""
    rng = np.random.RandomState(seed)
    w = rng.normal(size=d)
    Xs, Xt = rng.normal(size=(n, d)), rng.normal(size=(n, d))
    ys, yt = (Xs @ w > 0).astype(int), (Xt @ w > 0).astype(int)
    Xt = Xt @ np.diag(rng.uniform(0.3, 3, d)) + rng.normal(0, 1, d)
    return np.r_[Xs, Xt], np.r_[ys, yt], np.r_[np.ones(n, int), -np.ones(n, int)]




def _gfk_by_numerical_integration(Xs, Xt, d, steps=2001):
    """G = int_0^1 Phi(t) Phi(t)^T dt along the geodesic, by the trapezoid rule."""
    def basis(X):
        return np.linalg.svd(X - X.mean(0), full_matrices=False)[2][:d].T

    ps, pt = basis(Xs), basis(Xt)
    u1, cos, vt = np.linalg.svd(ps.T @ pt)
    theta = np.arccos(np.clip(cos, -1, 1))
    u2 = -((pt - ps @ ps.T @ pt) @ vt.T) / np.sin(theta)
    ts = np.linspace(0, 1, steps)
    G = np.zeros((Xs.shape[1], Xs.shape[1]))
    for i, t in enumerate(ts):
        phi = ps @ u1 * np.cos(t * theta) - u2 * np.sin(t * theta)
        w = 0.5 if i in (0, steps - 1) else 1.0
        G += w * phi @ phi.T
    return G / (steps - 1)


def subspace_problem(seed, n=300, d=10, angle=60):
    """A 2-D latent problem embedded in d dimensions; the target plane is tilted."""
    rng = np.random.RandomState(seed)
    Q = ortho_group.rvs(d, random_state=seed)
    theta = np.deg2rad(angle)
    planes = Q[:, :2], np.cos(theta) * Q[:, :2] + np.sin(theta) * Q[:, 2:4]
    Xs, ys = [], []
    for B in planes:
        z = rng.normal(size=(n, 2)) * [3, 1]
        Xs.append(z @ B.T + 0.3 * rng.normal(size=(n, d)))
        ys.append((z[:, 0] + 2 * z[:, 1] > 0).astype(int))
    return np.concatenate(Xs), np.concatenate(ys), np.r_[np.ones(n, int), -np.ones(n, int)]


TRANSFORMERS = [
    CORAL(),
    LinearOTMapping(),
    EntropicOTMapping(),
    SubspaceAlignment(n_components=2),
    GeodesicFlowKernel(n_components=2),
    TransferComponentAnalysis(n_components=2),
    TransferComponentAnalysis(n_components=2, kernel="rbf"),
]


def _ids(est):
    return repr(est)


# ----------------------------------------------------------------------
# behaviour
# ----------------------------------------------------------------------
def test_coral_matches_target_covariance_and_mean():
    X, y, d = shifted_problem(0)
    ym = mask_target_labels(y, d)
    Z = CORAL(reg=1e-8, align_means=True).fit_transform(X, ym)
    np.testing.assert_allclose(np.cov(Z[d > 0].T), np.cov(X[d < 0].T), atol=1e-6)
    np.testing.assert_allclose(Z[d > 0].mean(0), X[d < 0].mean(0), atol=1e-8)
    # target rows are untouched, in fit_transform and in transform
    np.testing.assert_array_equal(Z[d < 0], X[d < 0])
    coral = CORAL(reg=1e-8).fit(X, ym)
    np.testing.assert_array_equal(coral.transform(X), X)
    # transform_source maps rows as fit_transform maps the source rows
    np.testing.assert_allclose(coral.transform_source(X[d > 0]), coral.fit_transform(X, ym)[d > 0])
    # without align_means, the covariance still matches (CORAL of the paper)
    Z0 = coral.fit_transform(X, ym)
    np.testing.assert_allclose(np.cov(Z0[d > 0].T), np.cov(X[d < 0].T), atol=1e-6)


def _rotated_gaussians(seed, n=2000):
    """Source N(0, diag(4, 0.25)); target N((1, -1), R diag(4, 0.25) R^T) with R a 60 degree
    rotation: the same spectrum on other principal axes."""
    rng = np.random.RandomState(seed)
    scale = np.diag([2.0, 0.5])
    theta = np.deg2rad(60)
    R = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    Xs = rng.normal(size=(n, 2)) @ scale
    Xt = rng.normal(size=(n, 2)) @ scale @ R.T + [1.0, -1.0]
    return np.r_[Xs, Xt], np.r_[np.zeros(n, int), -np.ones(n, int)]


def _sqrtm(C):
    vals, vecs = np.linalg.eigh(C)
    return (vecs * np.sqrt(vals)) @ vecs.T


def test_linear_ot_maps_the_moments_with_the_least_displacement():
    X, y = _rotated_gaussians(0)
    source, target = y == 0, y == -1
    ot = LinearOTMapping(reg=1e-10).fit(X, y)
    Z = ot.fit_transform(X, y)
    # the source rows get the target mean and covariance; target rows stay
    np.testing.assert_allclose(np.cov(Z[source].T), np.cov(X[target].T), atol=1e-6)
    np.testing.assert_allclose(Z[source].mean(0), X[target].mean(0), atol=1e-10)
    np.testing.assert_array_equal(Z[target], X[target])
    np.testing.assert_allclose(ot.transform_source(X[source]), Z[source])
    np.testing.assert_array_equal(ot.transform(X), X)
    # the map is symmetric positive definite (a gradient of a convex function)
    A = ot.mapping_matrix_
    np.testing.assert_allclose(A, A.T)
    assert np.linalg.eigvalsh(A).min() > 0
    # its mean squared displacement is the squared 2-Wasserstein distance
    # between the Gaussians (Knott and Smith's closed form) ...
    Cs, Ct = np.cov(X[source].T), np.cov(X[target].T)
    root = _sqrtm(Cs)
    w2 = np.sum((X[source].mean(0) - X[target].mean(0)) ** 2) + np.trace(
        Cs + Ct - 2 * _sqrtm(root @ Ct @ root))
    moved = np.mean(np.sum((Z[source] - X[source]) ** 2, axis=1))
    n = source.sum()
    assert moved == pytest.approx(w2 - np.trace(Cs + Ct - 2 * _sqrtm(root @ Ct @ root)) / n,
                                  rel=1e-3)
    # ... while CORAL's map, which reaches the same moments, moves them further:
    # its whitening and recolouring turn the rows (measured: 5.54 against 5.17,
    # of which the means' shift is 2)
    coral = CORAL(reg=1e-10).fit_transform(X, y)
    np.testing.assert_allclose(np.cov(coral[source].T), np.cov(X[target].T), atol=1e-6)
    coral_moved = np.mean(np.sum((coral[source] - X[source]) ** 2, axis=1))
    assert coral_moved > moved + 0.25, (coral_moved, moved)


def test_linear_ot_of_one_dimension_is_the_ratio_of_the_deviations():
    rng = np.random.RandomState(0)
    X = np.r_[rng.normal(0, 1, (100, 1)), rng.normal(3, 2, (100, 1))]
    y = np.r_[np.zeros(100, int), -np.ones(100, int)]
    ot = LinearOTMapping(reg=0).fit(X, y)
    np.testing.assert_allclose(ot.mapping_matrix_, [[X[100:].std() / X[:100].std()]])
    # in one dimension every monotone map is the OT map: CORAL gives the same
    np.testing.assert_allclose(ot.mapping_matrix_, CORAL(reg=0).fit(X, y).coral_matrix_)


def _uniform(n):
    return np.full(n, 1.0 / n)


@pytest.mark.parametrize("reg", [0.5, 0.05])
def test_sinkhorn_meets_both_marginals_and_its_log_form_agrees(reg):
    rng = np.random.RandomState(0)
    cost = rng.uniform(0, 3, (40, 30))
    a, b = _uniform(40), rng.dirichlet(np.ones(30))
    plan, n_iter, converged, _ = _sinkhorn(a, b, cost, reg, 5000, 1e-12)
    assert converged and n_iter < 5000
    np.testing.assert_allclose(plan.sum(axis=1), a, atol=1e-12)
    np.testing.assert_allclose(plan.sum(axis=0), b, atol=1e-12)
    # the same iterations on the log potentials (used when a row or a column
    # of the kernel vanishes)
    log_plan, _, _, _ = _sinkhorn_log(a, b, (cost - cost.min()) / reg, reg, 5000, 1e-12)
    np.testing.assert_allclose(log_plan, plan, atol=1e-14)
    # it is the entropic optimum: the plan is diag(u) exp(-cost / reg) diag(v)
    ratio = plan / np.exp(-cost / reg)
    rank_one = np.outer(ratio[:, 0], ratio[0]) / ratio[0, 0]
    np.testing.assert_allclose(ratio, rank_one, rtol=1e-8)


def test_sinkhorn_takes_the_log_form_when_a_row_of_the_kernel_vanishes(monkeypatch):
    # One source row 1000 reg farther from every target row than the others:
    # exp(-1000) underflows, its scaling would overflow; the log form runs.
    from sktransfer.domain_adaptation import _ot

    rng = np.random.RandomState(0)
    cost = rng.uniform(0, 1, (10, 8))
    cost[0] += 10.0
    a, b = _uniform(10), _uniform(8)
    calls = []
    monkeypatch.setattr(_ot, "_sinkhorn_log", lambda *args: calls.append(1) or
                        _sinkhorn_log(*args))
    plan, _, converged, _ = _ot._sinkhorn(a, b, cost, 0.01, 5000, 1e-9)
    assert calls and converged and np.isfinite(plan).all()
    np.testing.assert_allclose(plan.sum(axis=1), a, atol=1e-9)
    np.testing.assert_allclose(plan.sum(axis=0), b, atol=1e-12)
    # a spread as large on scattered entries keeps the (faster) scaling form
    calls.clear()
    spread = cost.copy()
    spread[0] -= 10.0
    spread[0, 0] += 10.0
    _ot._sinkhorn(a, b, spread, 0.01, 5000, 1e-9)
    assert not calls


def test_sinkhorn_between_its_two_limits():
    rng = np.random.RandomState(0)
    cost = rng.uniform(0, 1, (20, 20))
    a = b = _uniform(20)
    # a large reg: the independent coupling a b^T
    wide, _, _, _ = _sinkhorn(a, b, cost, 1e3, 1000, 1e-12)
    np.testing.assert_allclose(wide, np.outer(a, b), rtol=1e-2)
    # a small reg: the optimal assignment (a permutation)
    from scipy.optimize import linear_sum_assignment

    # (a cost spread of 331 times reg: Sinkhorn converges slowly there, but
    # 20000 iterations put 99.6% of each row's mass on its assigned column)
    sharp, _, _, _ = _sinkhorn(a, b, cost, 3e-3, 20000, 1e-9)
    rows, cols = linear_sum_assignment(cost)
    assert np.all(sharp[rows, cols] * 20 > 0.99)


def _translation_problem():
    """30 Gaussian rows and their copies shifted by (1, 0), the cost over its median."""
    rng = np.random.RandomState(0)
    Xs = rng.normal(size=(30, 2))
    Xt = Xs[rng.permutation(30)] + [1.0, 0.0]
    cost = ((Xs[:, None] - Xt[None]) ** 2).sum(axis=2)
    return Xs, Xt, cost / np.median(cost)


@pytest.mark.parametrize("reg", [0.1, 0.01])
def test_sinkhorn_warm_started_or_annealed_gives_the_cold_plan(reg):
    # The fixed point does not depend on the start: from the potentials of
    # another cost, or through the annealing stages, the plan is the cold one.
    from sktransfer.domain_adaptation import _ot

    rng = np.random.RandomState(1)
    cost = rng.uniform(0, 3, (40, 30))
    a, b = _uniform(40), rng.dirichlet(np.ones(30))
    cold, n_cold, converged, g = _sinkhorn(a, b, cost, reg, 100000, 1e-12)
    assert converged
    # the potentials g are in the cost's units: the plan is exp((f + g - cost) / reg)
    f = reg * np.log(a / np.exp((g[None, :] - cost) / reg).sum(axis=1))
    np.testing.assert_allclose(np.exp((f[:, None] + g[None, :] - cost) / reg), cold,
                               rtol=1e-9, atol=1e-15)
    # warm: from the potentials of a perturbed cost with another minimum (the
    # kernel's shift changes), and from the log form
    other = cost + rng.uniform(0, 0.5, cost.shape) + 1.0
    _, _, _, g_other = _sinkhorn(a, b, other, reg, 100000, 1e-12)
    warm, _, converged, _ = _sinkhorn(a, b, cost, reg, 100000, 1e-12, g_other)
    assert converged
    np.testing.assert_allclose(warm, cold, atol=1e-13)
    shifted = (cost - cost.min()) / reg
    warm_log, _, converged, g_log = _sinkhorn_log(a, b, shifted, reg, 100000, 1e-12, g_other)
    assert converged
    np.testing.assert_allclose(warm_log, cold, atol=1e-13)
    np.testing.assert_allclose(g_log - g_log[0], g - g[0], atol=1e-9)
    # restarted from its own potentials, it stops at the first check
    _, n_again, converged, _ = _sinkhorn(a, b, cost, reg, 100000, 1e-12, g)
    assert converged and n_again == 10
    # annealed: the stages' iterations count, the plan is the same
    annealed, n_annealed, converged, _ = _ot._sinkhorn_annealed(a, b, cost, reg, 100000, 1e-12)
    assert converged
    np.testing.assert_allclose(annealed, cold, atol=1e-13)
    regs = _ot._anneal_regs(cost, reg)
    assert regs[-1] == reg and len(regs) == (1 if reg == 0.1 else 3)
    if len(regs) == 1:  # (spread 3 = 30 reg: no annealing)
        assert n_annealed == n_cold


def test_sinkhorn_annealing_converges_at_a_small_reg():
    # 30 rows and their shifted copies at reg 0.01 (a cost spread of 1043
    # reg): the cold Sinkhorn takes 93 830 iterations; annealed, 8 570, and
    # the same plan to the tolerance
    from sktransfer.domain_adaptation import _ot

    _, _, cost = _translation_problem()
    a = _uniform(30)
    _, n_cold, converged, _ = _sinkhorn(a, a, cost, 0.01, 10000, 1e-5)
    assert not converged and n_cold == 10000
    plan, n_iter, converged, _ = _ot._sinkhorn_annealed(a, a, cost, 0.01, 10000, 1e-5)
    assert converged and n_iter < 10000
    assert np.abs(plan.sum(axis=1) - a).sum() < 1e-5
    np.testing.assert_allclose(plan.sum(axis=0), a, atol=1e-12)
    # max_iter bounds all the stages together: the earlier ones take half of it
    # at most, the last one the rest
    short, n_short, converged, _ = _ot._sinkhorn_annealed(a, a, cost, 0.01, 101, 1e-5)
    assert not converged and n_short == 101 and np.isfinite(short).all()


def test_sinkhorn_goes_to_the_log_form_when_its_scalings_overflow(monkeypatch):
    # At reg 0.001 on the translation problem the kernel passes the log form's
    # test, yet the scalings overflow within 1000 iterations (the plan was
    # NaN): the log form takes over from the same start.
    from sktransfer.domain_adaptation import _ot

    _, _, cost = _translation_problem()
    a = _uniform(30)
    calls = []
    monkeypatch.setattr(_ot, "_sinkhorn_log", lambda *args: calls.append(1) or
                        _sinkhorn_log(*args))
    plan, n_iter, _, _ = _ot._sinkhorn(a, a, cost, 0.001, 1000, 1e-5)
    assert calls and n_iter == 1000 and np.isfinite(plan).all()
    np.testing.assert_allclose(plan.sum(axis=0), a, atol=1e-12)


def test_entropic_ot_converges_at_a_small_reg_by_annealing():
    Xs, Xt, _ = _translation_problem()
    X, y = np.r_[Xs, Xt], np.r_[np.zeros(30, int), -np.ones(30, int)]
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        ot = EntropicOTMapping(reg=0.01, max_iter=10000).fit(X, y)
    assert ot.n_iter_ < 10000
    # (the rows go near their shifted copies: reg 0.01 still blurs a little)
    np.testing.assert_allclose(ot.displacements_, np.tile([1.0, 0.0], (30, 1)), atol=0.1)
    # cold, without annealing (the solver before), it stopped at max_iter
    cold = type("ColdOT", (EntropicOTMapping,), {"_anneal": False, "_warm_start": False})
    with pytest.warns(ConvergenceWarning, match="did not reach tol"):
        cold(reg=0.01, max_iter=10000).fit(X, y)


def test_entropic_ot_class_penalty_warm_start_keeps_the_map():
    # Each majorisation step starts from the last one's potentials: the same
    # coupling and map as the cold steps, in fewer iterations
    X, y, d = make_rotated_moons(60, 60, angle=90, random_state=0)
    ym = mask_target_labels(y, d)
    cold = type("ColdOT", (EntropicOTMapping,), {"_anneal": False, "_warm_start": False})
    before = cold(class_reg=1.0, tol=1e-10, max_iter=100000).fit(X, ym)
    after = EntropicOTMapping(class_reg=1.0, tol=1e-10, max_iter=100000).fit(X, ym)
    np.testing.assert_allclose(after.coupling_, before.coupling_, atol=1e-10)
    np.testing.assert_allclose(after.transform_source(X), before.transform_source(X), atol=1e-8)
    assert after.n_iter_ < before.n_iter_


def test_entropic_ot_n_iter_counts_every_iteration(monkeypatch):
    # n_iter_ is the sum over the solves of fit (the plain one and the 10
    # majorisation steps with class_reg > 0), each of at most max_iter
    from sktransfer.domain_adaptation import _ot

    X, y, d = make_rotated_moons(60, 60, angle=90, random_state=0)
    ym = mask_target_labels(y, d)
    spent = []

    def counted(*args):
        result = _sinkhorn(*args)
        spent.append(result[1])
        return result

    monkeypatch.setattr(_ot, "_sinkhorn", counted)
    plain = EntropicOTMapping(reg=0.01).fit(X, ym)
    assert len(spent) > 1  # annealed (a spread over 100 reg)
    assert plain.n_iter_ == sum(spent) <= 1000
    spent.clear()
    grouped = EntropicOTMapping(class_reg=1.0).fit(X, ym)
    assert grouped.n_iter_ == sum(spent) and len(spent) == 1 + 10
    spent.clear()
    with pytest.warns(ConvergenceWarning):
        short = EntropicOTMapping(reg=0.01, class_reg=1.0, max_iter=15).fit(X, ym)
    assert short.n_iter_ == sum(spent) <= 11 * 15


def test_entropic_ot_moves_source_rows_onto_the_target_rows():
    rng = np.random.RandomState(0)
    Xs = np.array([[i, j] for i in range(5) for j in range(5)], dtype=float) * 5.0
    Xt = Xs[rng.permutation(25)] + [1.0, 0.0]  # the same rows, shifted and shuffled
    X, y = np.r_[Xs, Xt], np.r_[rng.randint(2, size=25), -np.ones(25, int)]
    ot = EntropicOTMapping(reg=3e-3).fit(X, y)
    Z = ot.fit_transform(X, y)
    # a sharp coupling matches each source row with its shifted copy
    np.testing.assert_allclose(Z[:25], Xs + [1.0, 0.0], atol=1e-6)
    np.testing.assert_array_equal(Z[25:], Xt)
    np.testing.assert_allclose(ot.displacements_, np.tile([1.0, 0.0], (25, 1)), atol=1e-6)
    assert ot.coupling_.shape == (25, 25)
    np.testing.assert_allclose(ot.coupling_.sum(), 1.0)
    # new source rows move as their nearest training source row moved
    new = Xs[:5] + 0.5
    np.testing.assert_allclose(ot.transform_source(new), new + ot.displacements_[:5])
    np.testing.assert_array_equal(ot.transform(X), X)
    # a blurred coupling sends every source row towards the target mean
    blurred = EntropicOTMapping(reg=100.0).fit_transform(X, y)[:25]
    np.testing.assert_allclose(blurred, np.tile(Xt.mean(axis=0), (25, 1)), atol=0.3)


def test_entropic_ot_cost_is_relative_to_its_median():
    X, y, d = shifted_problem(0, n=80)
    ym = mask_target_labels(y, d)
    ot = EntropicOTMapping().fit(X, ym)
    scaled = EntropicOTMapping().fit(X * 1000.0, ym)
    np.testing.assert_allclose(scaled.coupling_, ot.coupling_, rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(scaled.cost_scale_, ot.cost_scale_ * 1e6)


def _class_purity(coupling, labels):
    """Mean over target rows of the share of their mass that comes from their main class."""
    by_class = np.stack([coupling[labels == c].sum(axis=0) for c in np.unique(labels)])
    return float(np.mean(by_class.max(axis=0) / by_class.sum(axis=0)))


def test_entropic_ot_class_penalty_groups_each_target_row_by_class():
    # Two source classes side by side, the target rotated by 90 degrees: plain
    # OT sends many target rows mass from both classes (measured purity 0.86);
    # the class penalty makes each take it from one class (1.00)
    X, y, d = make_rotated_moons(100, 100, angle=90, random_state=0)
    ym = mask_target_labels(y, d)
    source_labels = y[d > 0]
    plain = EntropicOTMapping(reg=0.1).fit(X, ym)
    grouped = EntropicOTMapping(reg=0.1, class_reg=1.0).fit(X, ym)
    plain_purity = _class_purity(plain.coupling_, source_labels)
    grouped_purity = _class_purity(grouped.coupling_, source_labels)
    assert grouped_purity > 0.95 and grouped_purity > plain_purity + 0.1, (
        plain_purity, grouped_purity)
    np.testing.assert_allclose(grouped.coupling_.sum(axis=0), _uniform(100), atol=1e-6)
    # it needs labelled source rows
    with pytest.raises(ValueError, match="class_reg > 0 needs labelled source rows"):
        EntropicOTMapping(class_reg=1.0).fit(X, sample_domain=d)


def test_entropic_ot_moves_each_training_row_by_its_own_coupling():
    # Two identical source rows with different labels: under the class
    # penalty their rows of the coupling differ, and each moves by its own.
    X, y, d = make_rotated_moons(60, 60, angle=90, random_state=0)
    X[1] = X[0]
    y[0], y[1] = 0, 1
    ym = mask_target_labels(y, d)
    ot = EntropicOTMapping(class_reg=1.0)
    Z = ot.fit_transform(X, ym)
    source = d > 0
    np.testing.assert_array_equal(ot.source_rows_, X[source])
    np.testing.assert_allclose(Z[source], X[source] + ot.displacements_)
    assert np.abs(ot.displacements_[0] - ot.displacements_[1]).max() > 0.05
    # transform_source (new rows) goes by the nearest training row instead
    np.testing.assert_allclose(ot.transform_source(X[source][2:]), Z[source][2:])


def test_entropic_ot_class_penalty_with_string_labels_and_several_sources():
    X, y, d = make_rotated_moons(60, 60, angle=90, random_state=0)
    names = np.array(["down", "up"], dtype=object)[y]
    domain = np.where(d > 0, 1 + (np.arange(len(d)) % 2), -1)  # two source domains
    labels = np.where(d > 0, names, -1).astype(object)  # names beside the integer mark
    ot = EntropicOTMapping(class_reg=1.0).fit(X, labels, sample_domain=domain)
    same = EntropicOTMapping(class_reg=1.0).fit(X, mask_target_labels(y, d))
    np.testing.assert_allclose(ot.coupling_, same.coupling_, atol=1e-12)


def test_entropic_ot_warns_when_sinkhorn_stops_early():
    X, y, d = shifted_problem(0, n=60)
    with pytest.warns(ConvergenceWarning, match="did not reach tol"):
        EntropicOTMapping(max_iter=1).fit(X, mask_target_labels(y, d))


@pytest.mark.parametrize(
    "transformer",
    [CORAL(align_means=True), LinearOTMapping(), EntropicOTMapping(),
     SubspaceAlignment(n_components=3),
     TransferComponentAnalysis(n_components=3, mu=0.1)],
    ids=_ids,
)
def test_transformers_reduce_domain_discrepancy(transformer):
    # Accuracy of a linear domain classifier (3-fold CV): 0.71 on the raw rows,
    # 0.46-0.51 (chance) after each of these (measured).
    X, y, d = shifted_problem(0)
    X = StandardScaler().fit_transform(X)
    ym = mask_target_labels(y, d)
    before = cross_val_score(LogisticRegression(), X, d, cv=3).mean()
    Z = transformer.fit_transform(X, ym)
    after = cross_val_score(LogisticRegression(), Z, d, cv=3).mean()
    assert before > 0.65
    assert after < 0.56, (before, after)


def _target_accuracy(steps, X, y, d):
    pipe = make_pipeline(*steps).fit(X, mask_target_labels(y, d))
    return pipe.score(X[d < 0], y[d < 0])


@pytest.mark.parametrize(
    "problem, transformer, classifier",
    [
        # measured over seeds 0-2: KNN 0.58-0.62 unadapted, 0.70-0.73 with CORAL,
        # 0.73-0.77 with TCA (rbf)
        ("moons", CORAL(align_means=True), KNeighborsClassifier(5)),
        ("moons", TransferComponentAnalysis(n_components=4, kernel="rbf"), KNeighborsClassifier(5)),
        # seeds 0-3: logistic regression 0.83-0.92 unadapted, 0.92-0.95 with SA
        ("subspace", SubspaceAlignment(n_components=2), LogisticRegression()),
        ("subspace", GeodesicFlowKernel(n_components=2), LogisticRegression()),
        # seeds 0-2: logistic regression 0.71-0.86 unadapted, 0.86-0.90 with CORAL
        ("shifted", CORAL(align_means=True), LogisticRegression()),
        ("shifted", LinearOTMapping(), LogisticRegression()),
        # seeds 0-2: KNN 0.58-0.62 unadapted, 0.78-0.79 with entropic OT
        ("moons", EntropicOTMapping(), KNeighborsClassifier(5)),
    ],
    ids=["coral-moons", "tca-moons", "sa-subspace", "gfk-subspace", "coral-shifted",
         "linear-ot-shifted", "entropic-ot-moons"],
)
def test_adaptation_beats_no_adaptation(problem, transformer, classifier):
    gains = []
    for seed in (0, 1):
        if problem == "moons":
            X, y, d = make_rotated_moons(300, 300, angle=50, random_state=seed)
        elif problem == "subspace":
            X, y, d = subspace_problem(seed)
        else:
            X, y, d = shifted_problem(seed)
        scale = [StandardScaler()] if problem != "subspace" else []
        base = _target_accuracy(scale + [LabelledOnly(clone(classifier))], X, y, d)
        adapted = _target_accuracy(
            scale + [clone(transformer), LabelledOnly(clone(classifier))], X, y, d
        )
        gains.append(adapted - base)
    assert min(gains) > 0.02 and np.mean(gains) > 0.04, gains


def test_gfk_gives_the_geodesic_flow_inner_products():
    X, y, d = subspace_problem(0, n=120)
    gfk = GeodesicFlowKernel(n_components=3).fit(X, mask_target_labels(y, d))
    G = _gfk_by_numerical_integration(X[d > 0], X[d < 0], 3)
    Z = gfk.transform(X)
    assert Z.shape == (240, 6)
    np.testing.assert_allclose(Z @ Z.T, X @ G @ X.T, atol=1e-4 * np.abs(X @ G @ X.T).max())
    # one kernel for both domains: source rows map as target rows
    np.testing.assert_allclose(gfk.fit_transform(X, mask_target_labels(y, d)), Z)
    np.testing.assert_allclose(gfk.transform_source(X), Z)
    assert list(gfk.get_feature_names_out()) == [f"geodesicflowkernel{i}" for i in range(6)]


def test_gfk_of_one_domain_is_the_projection_on_its_subspace():
    X, _, _ = subspace_problem(1, n=100)
    gfk = GeodesicFlowKernel(n_components=2, single_domain="fit").fit(X)
    basis = np.linalg.svd(X - X.mean(0), full_matrices=False)[2][:2].T
    np.testing.assert_allclose(gfk.embedding_ @ gfk.embedding_.T, basis @ basis.T, atol=1e-8)


@needs_data
def test_gfk_nearest_neighbour_beats_source_only_on_office_caltech():
    # dslr -> webcam: published 1-NN 63.4, GFK 80.3 (Wang et al. 2018, table 2);
    # measured 63.4 and 84.4.
    X, y, d = load_office_caltech("dslr", "webcam", data_home=DATA)
    t = d < 0
    source_only = KNeighborsClassifier(1).fit(X[~t], y[~t]).score(X[t], y[t])
    gfk = make_pipeline(GeodesicFlowKernel(20), LabelledOnly(KNeighborsClassifier(1)))
    acc = gfk.fit(X, mask_target_labels(y, d)).score(X[t], y[t])
    assert acc > source_only + 0.15, (acc, source_only)


@pytest.mark.parametrize("weighting", ["discriminator", "kmm", "kliep"])
def test_importance_weights_follow_true_density_ratio(weighting):
    rng = np.random.RandomState(0)
    Xs, Xt = rng.normal(0, 1, (300, 1)), rng.normal(1, 0.7, (300, 1))
    X = np.r_[Xs, Xt]
    y = np.r_[(np.sin(2 * Xs[:, 0]) > 0).astype(int), -np.ones(300, int)]
    true = norm.pdf(Xs[:, 0], 1, 0.7) / norm.pdf(Xs[:, 0], 0, 1)
    clf = ImportanceWeightedClassifier(weighting=weighting, random_state=0).fit(X, y)
    # measured: Spearman 0.9995 (discriminator), 0.93 (kmm), 0.985 (kliep)
    assert spearmanr(clf.weights_, true)[0] > 0.9
    assert clf.weights_.mean() == pytest.approx(1.0, abs=0.2)
    assert clf.effective_sample_size_ > 0.2 * 300
    assert set(clf.predict(Xt)) <= {0, 1}


@pytest.mark.parametrize("weighting", ["discriminator", "kliep"])
def test_importance_weighting_helps_under_covariate_shift(weighting):
    # A linear model of a non-linear rule: weighting fits it where the target lies.
    rng = np.random.RandomState(0)
    Xs, Xt = rng.normal(0, 1, (400, 1)), rng.normal(1.5, 0.5, (400, 1))
    rule = lambda x: (x[:, 0] ** 2 > 1.5).astype(int)
    X = np.r_[Xs, Xt]
    y = np.r_[rule(Xs), -np.ones(400, int)]
    plain = LabelledOnly(LogisticRegression()).fit(X, y).score(Xt, rule(Xt))
    weighted = ImportanceWeightedClassifier(weighting=weighting, random_state=0).fit(X, y)
    weighted = weighted.score(Xt, rule(Xt))
    assert weighted > plain + 0.05, (plain, weighted)


@pytest.mark.parametrize("weighting", ["discriminator", "kmm", "kliep"])
def test_importance_weighting_sample_domain_and_labelled_target_rows(weighting):
    rng = np.random.RandomState(0)
    X = np.r_[rng.normal(0, 1, (60, 2)), rng.normal(1, 1, (60, 2))]
    y = np.r_[(X[:60, 0] > 0).astype(int), (X[60:, 0] > 0).astype(int)]
    d = np.r_[np.ones(60, int), -np.ones(60, int)]
    y[60:100] = -1
    clf = ImportanceWeightedClassifier(weighting=weighting, random_state=0)
    clf.fit(X, y, sample_domain=d)
    assert clf.weights_.shape == (60,)
    # the 20 labelled target rows are target rows for the density ratio too
    unlabelled_only = ImportanceWeightedClassifier(weighting=weighting, random_state=0)
    unlabelled_only.fit(X, np.r_[y[:60], -np.ones(60, int)], sample_domain=d)
    np.testing.assert_allclose(clf.weights_, unlabelled_only.weights_)


def test_importance_weighting_needs_an_estimator_taking_sample_weight(monkeypatch):
    from sktransfer.domain_adaptation import _reweight

    X, y, d = make_rotated_moons(30, 30, random_state=0)
    ym = mask_target_labels(y, d)
    # said before the weights are estimated, not by the estimator's fit afterwards
    monkeypatch.setattr(_reweight, "_discriminator_weights", lambda *a: pytest.fail("weighted"))
    with pytest.raises(ValueError, match="KNeighborsClassifier.fit takes no sample_weight"):
        ImportanceWeightedClassifier(KNeighborsClassifier()).fit(X, ym)
    monkeypatch.undo()
    # a fit(X, y, **params) passes sample_weight on: a search is not refused, and
    # the weights reach the model it refits
    search = GridSearchCV(LogisticRegression(), {"C": [0.1, 1.0]}, cv=3)
    searched = ImportanceWeightedClassifier(search, random_state=0).fit(X, ym)
    best_c = searched.estimator_.best_params_["C"]
    direct = ImportanceWeightedClassifier(LogisticRegression(C=best_c), random_state=0).fit(X, ym)
    np.testing.assert_allclose(searched.estimator_.best_estimator_.coef_, direct.estimator_.coef_)
    unweighted = LogisticRegression(C=best_c).fit(X[ym != -1], ym[ym != -1])
    assert np.abs(unweighted.coef_ - direct.estimator_.coef_).max() > 1e-3
    # ... and one that does not pass it on gets the weights refused in words
    with pytest.raises(TypeError, match=r"_DropsSampleWeight.fit refused it: .*sample_weight"):
        ImportanceWeightedClassifier(_DropsSampleWeight(), random_state=0).fit(X, ym)


def test_importance_weighting_of_a_pipeline_weights_its_final_step():
    # StandardScaler then LogisticRegression: the weights reach the classifier, as if it
    # were fit weighted on the scaled rows; a pipeline ending in a model that takes no
    # weights is refused before any weighting
    rng = np.random.RandomState(0)
    X = np.r_[rng.normal(0, 1, (60, 2)), rng.normal(1, 1, (60, 2))]
    ym = np.r_[(X[:60, 0] + 0.3 * rng.normal(size=60) > 0).astype(int), -np.ones(60, int)]
    pipe = ImportanceWeightedClassifier(
        make_pipeline(StandardScaler(), LogisticRegression()), random_state=0
    ).fit(X, ym)
    labelled = ym != -1
    scaled = StandardScaler().fit_transform(X[labelled])
    by_hand = LogisticRegression().fit(scaled, ym[labelled], sample_weight=pipe.weights_)
    np.testing.assert_allclose(pipe.estimator_[-1].coef_, by_hand.coef_, rtol=1e-6)
    unweighted = LogisticRegression().fit(scaled, ym[labelled])
    assert np.abs(unweighted.coef_ - by_hand.coef_).max() > 1e-3
    with pytest.raises(ValueError, match=r"final step \(kneighborsclassifier: KNeighborsClassifier\) takes no"):
        ImportanceWeightedClassifier(make_pipeline(StandardScaler(), KNeighborsClassifier())).fit(X, ym)
    with pytest.raises(ValueError, match=r"final step \(passthrough: passthrough\) takes no"):
        ImportanceWeightedClassifier(
            Pipeline([("scale", StandardScaler()), ("passthrough", "passthrough")])
        ).fit(X, ym)
    # a pipeline in a pipeline: the weights reach the innermost final step
    nested = ImportanceWeightedClassifier(
        make_pipeline(StandardScaler(), make_pipeline(StandardScaler(), LogisticRegression())),
        random_state=0,
    ).fit(X, ym)
    np.testing.assert_allclose(nested.estimator_[-1][-1].coef_, by_hand.coef_, rtol=1e-6)
    # with metadata routing, the pipeline routes the weights to the steps that ask
    with config_context(enable_metadata_routing=True):
        routed = ImportanceWeightedClassifier(
            make_pipeline(
                StandardScaler().set_fit_request(sample_weight=False),
                LogisticRegression().set_fit_request(sample_weight=True),
            ),
            random_state=0,
        ).fit(X, ym)
    np.testing.assert_allclose(routed.estimator_[-1].coef_, by_hand.coef_, rtol=1e-6)


def test_importance_weighting_warns_when_the_domain_classifier_sees_no_difference():
    # each domain standardised on its own: a linear domain classifier has nothing to
    # go on (its optimum is a zero slope), every weight is 1 and the fit is unweighted
    rng = np.random.RandomState(0)
    source, target = rng.normal(0, 1, (80, 3)), rng.normal(2, 3, (80, 3))
    X = np.r_[StandardScaler().fit_transform(source), StandardScaler().fit_transform(target)]
    ym = np.r_[(X[:80, 0] > 0).astype(int), -np.ones(80, int)]
    with pytest.warns(UserWarning, match="cannot tell the domains apart.*weighting='kliep'"):
        clf = ImportanceWeightedClassifier().fit(X, ym)
    np.testing.assert_allclose(clf.weights_, 1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # raw domains: their means differ, no warning
        ImportanceWeightedClassifier().fit(np.r_[source, target], ym)


class _DropsSampleWeight(LogisticRegression):
    """A classifier whose ``fit(**params)`` hands its params to a fit that refuses them."""

    def fit(self, X, y, **params):
        return self._inner_fit(X, y, **params)

    def _inner_fit(self, X, y):
        return super().fit(X, y)


class _RecordsSparseInput(LogisticRegression):
    """A LogisticRegression that remembers whether ``fit`` got a sparse matrix."""

    def fit(self, X, y, sample_weight=None):
        self.fitted_on_sparse_ = sp.issparse(X)
        return super().fit(X, y, sample_weight=sample_weight)


@pytest.mark.parametrize("weighting", ["discriminator", "kmm", "kliep"])
@pytest.mark.parametrize("fmt", ["csr", "csc", "coo"])
def test_importance_weighting_of_sparse_rows_matches_dense_rows(weighting, fmt, monkeypatch):
    kernel_inputs = []

    def recording_rbf_kernel(X, Y=None, **kwargs):
        kernel_inputs.append(sp.issparse(X) and sp.issparse(Y))
        return rbf_kernel(X, Y, **kwargs)

    monkeypatch.setattr(_reweight, "rbf_kernel", recording_rbf_kernel)
    rng = np.random.RandomState(0)
    X = sp.random(200, 40, density=0.1, random_state=rng).toarray()
    X[100:, :8] *= 3.0  # the target uses some terms more
    y = np.r_[(X[:100, :20].sum(1) > X[:100, 20:].sum(1)).astype(int), -np.ones(100, int)]
    options = {"weighting": weighting, "random_state": 0}
    dense = ImportanceWeightedClassifier(**options).fit(X, y)
    sparse = ImportanceWeightedClassifier(
        _RecordsSparseInput(), domain_classifier=_RecordsSparseInput(), **options
    ).fit(sp.csr_matrix(X).asformat(fmt), y)
    assert sparse.estimator_.fitted_on_sparse_  # the rows were never densified
    if weighting == "discriminator":
        assert sparse.domain_classifier_.fitted_on_sparse_
    else:  # KMM's or KLIEP's kernels were computed on the sparse rows
        assert kernel_inputs[-2:] == [True, True]
    np.testing.assert_allclose(sparse.weights_, dense.weights_, rtol=1e-6)
    # the estimator's own solver stops at its tolerance: probabilities to 1e-6 absolute
    # (relative, the smallest ones moved by 1.1e-6 with another BLAS thread count)
    np.testing.assert_allclose(
        sparse.predict_proba(sp.csr_matrix(X).asformat(fmt)), dense.predict_proba(X), rtol=0, atol=1e-6
    )



@pytest.mark.parametrize("make", [sp.csr_array, lambda X: sp.csr_matrix(X.astype(np.float32)),
                                  lambda X: sp.csr_matrix(np.rint(10 * X).astype(np.int64))],
                         ids=["csr_array", "float32", "int64"])
def test_importance_weighting_of_other_sparse_inputs(make):
    # sparse arrays, float32 and integer counts: the weights of the same rows dense
    rng = np.random.RandomState(0)
    X = sp.random(200, 40, density=0.1, random_state=rng).toarray()
    X[100:, :8] *= 3.0
    y = np.r_[(X[:100, :20].sum(1) > X[:100, 20:].sum(1)).astype(int), -np.ones(100, int)]
    Xs = make(X)
    sparse = ImportanceWeightedClassifier(random_state=0).fit(Xs, y)
    dense = ImportanceWeightedClassifier(random_state=0).fit(Xs.toarray(), y)
    np.testing.assert_allclose(sparse.weights_, dense.weights_, rtol=1e-6)
    np.testing.assert_allclose(sparse.predict_proba(Xs), dense.predict_proba(Xs.toarray()), rtol=1e-6)

def test_importance_weighting_of_tfidf_text_in_a_pipeline():
    # Source reviews of books and of kitchen goods, target reviews of kitchen goods:
    # the source reviews that read like the target ones get the larger weights.
    good, bad = ["great", "excellent", "loved it"], ["poor", "awful", "broke"]
    books, kitchen = ["novel", "author", "chapters"], ["blender", "knife", "pan"]
    rng = np.random.RandomState(0)

    def review(topic, words):
        return " ".join(rng.choice(topic, 2).tolist() + rng.choice(words, 2).tolist())

    source = [review(t, w) for t in (books, kitchen) for w in (good, bad) for _ in range(20)]
    y_source = [label for _ in (books, kitchen) for label in (1, 0) for _ in range(20)]
    target = [review(kitchen, w) for w in (good, bad) for _ in range(20)]
    y_target = [1] * 20 + [0] * 20
    pipe = make_pipeline(TfidfVectorizer(), ImportanceWeightedClassifier())
    pipe.fit(source + target, y_source + [-1] * 40)
    weights = pipe[-1].weights_
    assert weights[40:].min() > weights[:40].max()
    assert pipe.score(target, y_target) == 1.0


def test_importance_weighting_sparse_tag_follows_its_estimators():
    assert get_tags(ImportanceWeightedClassifier()).input_tags.sparse
    assert get_tags(ImportanceWeightedClassifier(weighting="kmm")).input_tags.sparse
    assert get_tags(ImportanceWeightedClassifier(weighting="kliep")).input_tags.sparse
    assert not get_tags(ImportanceWeightedClassifier(GaussianNB())).input_tags.sparse
    assert not get_tags(
        ImportanceWeightedClassifier(domain_classifier=GaussianNB())
    ).input_tags.sparse
    # KMM uses no domain classifier, so one that takes no sparse rows does not matter
    assert get_tags(
        ImportanceWeightedClassifier(weighting="kmm", domain_classifier=GaussianNB())
    ).input_tags.sparse


def _density_ratio_problem(n=300):
    rng = np.random.RandomState(0)
    Xs, Xt = rng.normal(0, 1, (n, 1)), rng.normal(1, 0.7, (n, 1))
    y = np.r_[(Xs[:, 0] > 0.5).astype(int), -np.ones(n, int)]
    return np.r_[Xs, Xt], y


def test_kliep_weights_meet_its_constraint_and_pick_gamma_by_likelihood():
    X, y = _density_ratio_problem()
    clf = ImportanceWeightedClassifier(weighting="kliep", random_state=0).fit(X, y)
    # the constraint of KLIEP's maximisation: the weights average 1 on the source
    assert clf.weights_.mean() == pytest.approx(1.0, abs=1e-9)
    assert clf.weights_.min() >= 0
    # the default candidates: the default width times 0.01 ... 100, the best kept
    default = 1.0 / X.var()
    assert clf.lcv_scores_.shape == (9,)
    assert clf.gamma_ == pytest.approx(default * [0.01, 0.03, 0.1, 0.3, 1, 3, 10, 30, 100][np.argmax(clf.lcv_scores_)])
    # the pick is a plain fit at that width; a fixed width skips the cross-validation
    fixed = ImportanceWeightedClassifier(weighting="kliep", gamma=clf.gamma_, random_state=0).fit(X, y)
    assert fixed.lcv_scores_ is None and fixed.gamma_ == clf.gamma_
    np.testing.assert_allclose(fixed.weights_, clf.weights_)
    # the centres are drawn with random_state: the same seed gives the same weights
    same = ImportanceWeightedClassifier(weighting="kliep", random_state=0).fit(X, y)
    np.testing.assert_array_equal(same.weights_, clf.weights_)


def test_kliep_maximises_the_target_likelihood():
    # KLIEP's problem is the likelihood of a mixture with known components
    # (K[:, l] / source_mean[l]) and unknown weights a_l * source_mean[l], so
    # the EM update of mixture weights, slow but monotone, reaches its optimum
    # too: the solver must get at least as far.
    X, y = _density_ratio_problem()
    clf = ImportanceWeightedClassifier(weighting="kliep", gamma=3.0, random_state=0).fit(X, y)
    centres = X[300:][np.sort(np.random.RandomState(0).permutation(300)[:100])]
    K_target = rbf_kernel(X[300:], centres, gamma=3.0)
    K_source = rbf_kernel(X[:300], centres, gamma=3.0)
    source_mean = K_source.mean(axis=0)
    a = _reweight._kliep_alpha(K_target, source_mean)
    np.testing.assert_allclose(K_source @ a, clf.weights_, rtol=1e-6)
    F, c = K_target / source_mean, np.full(100, 0.01)
    for _ in range(5000):
        c *= F.T @ (1 / (F @ c)) / 300
    em = c / source_mean
    assert source_mean @ a == pytest.approx(1.0) and source_mean @ em == pytest.approx(1.0)
    assert np.mean(np.log(K_target @ a)) >= np.mean(np.log(K_target @ em)) - 1e-7


def test_kliep_cross_validation_does_not_favour_the_narrowest_kernel():
    # A held-out row that is also a centre of its fold's model would get a
    # large weight from a very narrow kernel; the folds' models keep only the
    # centres outside the fold, so the narrowest widths score worst.
    X, y = _density_ratio_problem()
    gammas = [0.3, 1.0, 3.0, 300.0, 1000.0]
    clf = ImportanceWeightedClassifier(weighting="kliep", gamma=gammas, random_state=0).fit(X, y)
    assert clf.gamma_ in (0.3, 1.0, 3.0)
    assert clf.lcv_scores_[-1] < clf.lcv_scores_[-2] < clf.lcv_scores_.max()



@pytest.mark.parametrize("shift", [(1.0, 0.7, 300), (0.5, 1.0, 200)])
def test_kliep_cross_validation_holds_out_source_rows_too(shift):
    # On shifts like these, the paper's score (held-out target rows only, the
    # normalisation fitted on all source rows) picks narrow kernels that fit
    # the source rows' noise: with it swapped in, the first shift picks 30
    # times the default gamma (a review's check; 100 times on 4 of 9 shifts
    # with other folds, see the user guide). Holding out source rows too picks
    # a width near the default, with a small error of the ratio.
    mean, std, n = shift
    rng = np.random.RandomState(0)
    Xs, Xt = rng.normal(0, 1, (n, 1)), rng.normal(mean, std, (n, 1))
    X, y = np.r_[Xs, Xt], np.r_[(Xs[:, 0] > 0).astype(int), -np.ones(n, int)]
    clf = ImportanceWeightedClassifier(weighting="kliep", random_state=0).fit(X, y)
    assert clf.gamma_ <= 3.0 / X.var() + 1e-12  # measured: 1 and 0.03 times the default
    true = norm.pdf(Xs[:, 0], mean, std) / norm.pdf(Xs[:, 0], 0, 1)
    assert np.mean((clf.weights_ - true) ** 2) < 0.2  # measured: 0.154 and 0.173


def test_kliep_does_not_collapse_in_high_dimension():
    # 100 features, no shift: the narrowest candidates vanish on every held-out
    # row, source and target alike. A score that rewarded the small source
    # average would cancel the target rows' penalty and pick them (it did,
    # effective sample size 1.9 of 200); the weights must stay near uniform.
    rng = np.random.RandomState(0)
    X = rng.normal(size=(400, 100))
    y = np.r_[(X[:200, 0] > 0).astype(int), -np.ones(200, int)]
    clf = ImportanceWeightedClassifier(weighting="kliep", random_state=0).fit(X, y)
    assert clf.effective_sample_size_ > 0.9 * 200
    assert np.argmax(clf.lcv_scores_) < len(clf.lcv_scores_) - 1


def test_kliep_folds_keep_no_centre_of_their_held_out_rows():
    # structural: a fold's model must not use a held-out target row as a centre
    rng = np.random.RandomState(0)
    centre_rows = np.sort(rng.permutation(50)[:20])
    splits = _reweight._kliep_splits(centre_rows, 40, 50, 5, rng)
    assert len(splits) == 5
    held_out_target, held_out_source = [], []
    for train, test, source_train, source_test, kept in splits:
        assert not np.isin(centre_rows[kept], test).any()
        assert np.isin(centre_rows[~kept], test).all()
        assert not np.intersect1d(source_train, source_test).size
        held_out_target.append(test)
        held_out_source.append(source_test)
    # every row of both domains is held out once
    np.testing.assert_array_equal(np.sort(np.concatenate(held_out_target)), np.arange(50))
    np.testing.assert_array_equal(np.sort(np.concatenate(held_out_source)), np.arange(40))


def test_kliep_weights_average_one_on_a_far_shift():
    # far apart domains: narrow kernels nearly vanish on the source rows, and
    # the weights must still average 1 there (the constraint, up to floors)
    rng = np.random.RandomState(0)
    X = np.r_[rng.normal(0, 1, (100, 5)), rng.normal(4, 1, (100, 5))]
    y = np.r_[(X[:100, 0] > 0).astype(int), -np.ones(100, int)]
    clf = ImportanceWeightedClassifier(weighting="kliep", random_state=0)
    with pytest.warns(ImportanceWeightCollapseWarning):
        clf.fit(X, y)
    assert clf.weights_.mean() == pytest.approx(1.0)


def test_kliep_gamma_whose_kernels_vanish_on_the_source_is_refused():
    rng = np.random.RandomState(0)
    X = np.r_[rng.normal(0, 1, (100, 20)), rng.normal(0.5, 1, (100, 20))]
    y = np.r_[(X[:100, 0] > 0).astype(int), -np.ones(100, int)]
    with pytest.raises(ValueError, match="vanish on every source row.*smaller gamma"):
        ImportanceWeightedClassifier(weighting="kliep", gamma=1e3).fit(X, y)
    with pytest.raises(ValueError, match=r"at every candidate gamma \(1e\+03, 2e\+03\)"):
        ImportanceWeightedClassifier(weighting="kliep", gamma=[1e3, 2e3]).fit(X, y)


def test_kliep_cross_validation_skips_widths_whose_kernels_vanish_on_the_source():
    # one feature constant within each domain, 5 apart: at gamma=100 the kernels on the
    # target centres vanish on every source row, and no weights can average 1 there.
    # Cross-validation must skip that width (it used to be able to pick one, and the
    # fit then blamed a gamma the user never gave) and pick among the others
    rng = np.random.RandomState(0)
    X = rng.normal(size=(40, 3))
    X[20:, 1] = 5.0
    y = np.r_[rng.randint(2, size=20), -np.ones(20, int)]
    clf = ImportanceWeightedClassifier(weighting="kliep", gamma=[0.01, 0.1, 100.0], random_state=0)
    clf.fit(X, y)
    assert np.isneginf(clf.lcv_scores_[2]) and np.isfinite(clf.lcv_scores_[:2]).all()
    assert clf.gamma_ == 0.1  # the better of the two that give weights
    assert np.isfinite(clf.weights_).all() and clf.weights_.std() > 0


def test_kliep_takes_gamma_candidates_from_any_iterable():
    X, y = _density_ratio_problem(60)
    from_list = ImportanceWeightedClassifier(weighting="kliep", gamma=[0.3, 3.0], random_state=0)
    from_generator = ImportanceWeightedClassifier(
        weighting="kliep", gamma=(g for g in (0.3, 3.0)), random_state=0
    )
    np.testing.assert_allclose(from_generator.fit(X, y).weights_, from_list.fit(X, y).weights_)

def test_kliep_with_one_target_row():
    X, y = _density_ratio_problem()
    X, y = X[:301], y[:301]
    with pytest.raises(ValueError, match="at least 2 of each"):
        ImportanceWeightedClassifier(weighting="kliep").fit(X, y)
    clf = ImportanceWeightedClassifier(weighting="kliep", gamma=1.0).fit(X, y)
    assert clf.weights_.mean() == pytest.approx(1.0)


@pytest.mark.parametrize(
    "params, message",
    [
        ({"weighting": "kmm", "gamma": [0.1, 1.0]}, "several gamma values are for weighting='kliep'"),
        ({"weighting": "discriminator", "gamma": [0.1, 1.0]}, "several gamma values"),
        ({"weighting": "kliep", "gamma": []}, "non-empty sequence"),
        ({"weighting": "kliep", "gamma": [1.0, -1.0]}, "positive number"),
        ({"weighting": "kliep", "gamma": "scale"}, "positive number"),
        ({"weighting": "kmm", "gamma": 0.0}, "positive number"),
        ({"weighting": "kliep", "gamma": np.inf}, "positive number"),
        ({"weighting": "kliep", "gamma": [1.0, np.nan]}, "positive number"),
        ({"weighting": "kliep", "kliep_n_centres": 0}, "kliep_n_centres must be an integer >= 1"),
        ({"weighting": "kliep", "kliep_n_centres": 2.5}, "kliep_n_centres"),
        ({"weighting": "kliep", "kliep_cv": 1}, "kliep_cv must be an integer >= 2"),
        ({"weighting": "kliep", "kliep_cv": True}, "kliep_cv"),
        ({"weighting": "kde"}, "weighting must be one of"),
    ],
)
def test_importance_weighting_bad_parameters(params, message):
    X, y = _density_ratio_problem(30)
    with pytest.raises(ValueError, match=message):
        ImportanceWeightedClassifier(**params).fit(X, y)


def test_collapsing_weights_warn():
    rng = np.random.RandomState(0)
    # The target lies in the far tail of the source: a few source rows carry
    # all the weight (effective sample size 8.5 of 1000 rows, measured).
    X = np.r_[rng.normal(0, 1, (1000, 1)), rng.normal(3, 0.3, (200, 1))]
    y = np.r_[(X[:1000, 0] > 0).astype(int), -np.ones(200, int)]
    with pytest.warns(ImportanceWeightCollapseWarning, match="effective sample size"):
        clf = ImportanceWeightedClassifier().fit(X, y)
    assert clf.effective_sample_size_ < 50
    assert issubclass(ImportanceWeightCollapseWarning, UserWarning)


# ----------------------------------------------------------------------
# scikit-learn integration
# ----------------------------------------------------------------------
@pytest.mark.parametrize("transformer", TRANSFORMERS, ids=_ids)
def test_pipeline_clone_pickle(transformer):
    X, y, d = make_rotated_moons(60, 60, random_state=0)
    ym = mask_target_labels(y, d)
    pipe = make_pipeline(StandardScaler(), clone(transformer), LabelledOnly(LogisticRegression()))
    pipe.fit(X, ym)
    pred = pipe.predict(X)
    again = pickle.loads(pickle.dumps(pipe))
    np.testing.assert_array_equal(again.predict(X), pred)
    np.testing.assert_array_equal(clone(pipe).fit(X, ym).predict(X), pred)
    # sample_domain through the pipeline gives the same fit as y == -1
    with_domain = clone(pipe).fit(X, ym, **{f"{pipe.steps[1][0]}__sample_domain": d})
    np.testing.assert_array_equal(with_domain.predict(X), pred)
    names = pipe[:-1].get_feature_names_out()
    assert len(names) == pipe[:-1].transform(X).shape[1]


@pytest.mark.parametrize("transformer", TRANSFORMERS, ids=_ids)
def test_sample_domain_through_metadata_routing(transformer):
    X, y, d = make_rotated_moons(60, 60, random_state=0)
    ym = mask_target_labels(y, d)
    expected = clone(transformer).fit(X, ym).transform(X)
    with config_context(enable_metadata_routing=True):
        step = clone(transformer).set_fit_request(sample_domain=True)
        pipe = make_pipeline(step, LabelledOnly(LogisticRegression()))
        pipe.fit(X, ym, sample_domain=d)
        np.testing.assert_allclose(pipe[0].transform(X), expected)
        assert pipe.predict(X).shape == (120,)


def test_importance_weighted_clone_pickle_routing():
    X, y, d = make_rotated_moons(60, 60, random_state=0)
    ym = mask_target_labels(y, d)
    clf = ImportanceWeightedClassifier(KNeighborsClassifier(3), weighting="kmm")
    with pytest.raises(ValueError, match="takes no sample_weight"):
        clone(clf).fit(X, ym)
    clf = ImportanceWeightedClassifier(random_state=0).fit(X, ym)
    again = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(again.predict_proba(X), clf.predict_proba(X))
    with config_context(enable_metadata_routing=True):
        routed = ImportanceWeightedClassifier().set_fit_request(sample_domain=True)
        routed.fit(X, ym, sample_domain=d)
        np.testing.assert_allclose(routed.weights_, ImportanceWeightedClassifier().fit(X, ym).weights_)


# ----------------------------------------------------------------------
# bad input
# ----------------------------------------------------------------------
ALL = TRANSFORMERS + [ImportanceWeightedClassifier()]


@pytest.mark.parametrize("estimator", ALL, ids=_ids)
def test_one_domain_only_is_refused(estimator):
    X, y, _ = make_rotated_moons(30, 30, random_state=0)
    with pytest.raises(ValueError, match="no target rows"):
        clone(estimator).fit(X, y)  # every row labelled
    with pytest.raises(ValueError, match="no target rows"):
        clone(estimator).fit(X, y, sample_domain=np.ones(60, int))


@pytest.mark.parametrize("estimator", TRANSFORMERS, ids=_ids)
def test_transformers_no_source_rows_and_single_domain_option(estimator):
    X, _, _ = make_rotated_moons(30, 30, random_state=0)
    with pytest.raises(ValueError, match="no source rows"):
        clone(estimator).fit(X, -np.ones(60, int))
    with pytest.raises(ValueError, match="no source rows"):
        clone(estimator).fit(X)
    # given sample_domain, the message is about it, not about y
    with pytest.raises(ValueError, match="no source rows.*sample_domain given has no positive id"):
        clone(estimator).fit(X, sample_domain=-np.ones(60, int))
    with pytest.raises(ValueError, match="no target rows.*sample_domain given has no negative"):
        clone(estimator).fit(X, sample_domain=np.ones(60, int))
    one = clone(estimator).set_params(single_domain="fit").fit(X)
    np.testing.assert_allclose(one.fit_transform(X), one.transform(X), atol=1e-8)
    # the rows are source rows too: the source map is the target map (EntropicOT's
    # plan of the rows onto themselves moved them by up to 0.18 before)
    np.testing.assert_allclose(one.transform_source(X), one.transform(X), atol=1e-8)
    np.testing.assert_allclose(
        one.transform(X, sample_domain=np.ones(60, int)), one.transform(X), atol=1e-8
    )
    with pytest.raises(ValueError, match="single_domain"):
        clone(estimator).set_params(single_domain="maybe").fit(X)


def test_importance_weighting_no_target_option():
    X, y, _ = make_rotated_moons(30, 30, random_state=0)
    clf = ImportanceWeightedClassifier(no_target="uniform").fit(X, y)
    np.testing.assert_array_equal(clf.weights_, np.ones(60))
    with pytest.raises(ValueError, match="no_target"):
        ImportanceWeightedClassifier(no_target="x").fit(X, y)
    with pytest.raises(ValueError, match="weighting"):
        ImportanceWeightedClassifier(weighting="x").fit(X, y)


@pytest.mark.parametrize("estimator", ALL, ids=_ids)
def test_sample_domain_checked(estimator):
    X, y, d = make_rotated_moons(30, 30, random_state=0)
    ym = mask_target_labels(y, d)
    with pytest.raises(ValueError, match="sample_domain has 59 entries"):
        clone(estimator).fit(X, ym, sample_domain=d[:-1])
    with pytest.raises(ValueError, match="must not contain 0"):
        clone(estimator).fit(X, ym, sample_domain=np.zeros(60, int))
    with pytest.raises(ValueError, match="X has 60 rows|inconsistent numbers of samples"):
        clone(estimator).fit(X, ym[:-1])


@pytest.mark.parametrize(
    "estimator, message",
    [
        (SubspaceAlignment(n_components=5), "n_components"),
        (TransferComponentAnalysis(n_components=0), "n_components"),
        (TransferComponentAnalysis(kernel="poly"), "kernel"),
        (TransferComponentAnalysis(mu=0), "mu"),
        (TransferComponentAnalysis(mu=np.inf), "mu must be a positive finite number"),
        (TransferComponentAnalysis(kernel="rbf", gamma=np.inf), "gamma must be a positive finite"),
        (CORAL(reg=-1), "reg"),
        (CORAL(reg=np.inf), "reg must be 'auto' or a non-negative finite number"),
        (LinearOTMapping(reg=-1), "reg"),
        (LinearOTMapping(reg=np.inf), "reg must be 'auto' or a non-negative finite number"),
        (LinearOTMapping(reg="lw"), "reg must be 'auto'"),
        (EntropicOTMapping(reg=0), "reg must be a positive finite number"),
        (EntropicOTMapping(reg=np.inf), "reg must be a positive finite number"),
        (EntropicOTMapping(reg="auto"), "reg must be a positive finite number"),
        (EntropicOTMapping(class_reg=-1.0), "class_reg must be a non-negative"),
        (EntropicOTMapping(tol=0), "tol must be a positive finite number"),
        (EntropicOTMapping(max_iter=0), "max_iter must be a positive integer"),
        (EntropicOTMapping(max_iter=10.5), "max_iter must be a positive integer"),
    ],
    ids=_ids,
)
def test_bad_parameters(estimator, message):
    X, y, d = make_rotated_moons(30, 30, random_state=0)
    with pytest.raises(ValueError, match=message):
        estimator.fit(X, mask_target_labels(y, d))


def test_subspaces_hold_no_more_components_than_centred_rows_span():
    # 3 target rows span 2 centred directions: a third component was an arbitrary
    # direction with no target variance along it
    rng = np.random.RandomState(0)
    X = np.r_[rng.normal(size=(50, 5)), rng.normal(size=(3, 5)) + 1]
    y = np.r_[np.arange(50) % 2, -np.ones(3, int)]
    sa = SubspaceAlignment().fit(X, y)
    assert sa.n_components_ == 2
    target = X[y == -1] - X[y == -1].mean(axis=0)
    assert np.all(np.var(target @ sa.components_target_, axis=0) > 1e-3)
    for est in [SubspaceAlignment(n_components=3), GeodesicFlowKernel(n_components=3)]:
        with pytest.raises(ValueError, match=r"n_components must be an integer in \[1, 2\]"):
            est.fit(X, y)
    assert GeodesicFlowKernel(n_components=2).fit(X, y).n_components_ == 2
    # one row in a domain spans nothing: every subspace of it would be arbitrary
    for rows in ([[100.0, -3, 7, 0, 0]], [[-2.0, 50, 0, 0, 0]]):
        X1, y1 = np.r_[X[:50], rows], np.r_[y[:50], -1]
        for est in [SubspaceAlignment(), GeodesicFlowKernel(n_components=1)]:
            with pytest.raises(ValueError, match=r"at least 2 rows per domain: the target domain has 1"):
                est.fit(X1, y1)


@pytest.mark.parametrize(
    "estimator",
    [SubspaceAlignment(), GeodesicFlowKernel(n_components=1), CORAL(), LinearOTMapping(),
     EntropicOTMapping(), TransferComponentAnalysis(n_components=1),
     ImportanceWeightedClassifier(LogisticRegression())],
    ids=_ids,
)
def test_a_refused_refit_leaves_no_fitted_state(estimator):
    # refused after validate_data had recorded the new width: the old fit's maps
    # then met the new width (a numpy broadcast error, or CORAL silently
    # transforming 6 features with a 4-feature fit)
    from sklearn.exceptions import NotFittedError

    rng = np.random.RandomState(0)
    X4 = rng.normal(size=(40, 4))
    y = np.r_[np.arange(30) % 2, -np.ones(10, int)]
    est = clone(estimator).fit(X4, y)
    X6, y6 = rng.normal(size=(31, 6)), np.r_[np.arange(30) % 2, -1]
    if isinstance(est, ImportanceWeightedClassifier):
        y6 = np.arange(31) % 2  # no target row: refused
    if isinstance(est, (EntropicOTMapping, TransferComponentAnalysis)):
        y6 = np.arange(31) % 2  # one domain: refused
    with pytest.raises(ValueError):
        est.fit(X6, y6)
    assert not hasattr(est, "n_features_in_")
    with pytest.raises(NotFittedError):
        est.predict(X6) if hasattr(est, "predict") else est.transform(X6)


@pytest.mark.parametrize("cls", [CORAL, LinearOTMapping], ids=lambda c: c.__name__)
def test_reg_auto_refuses_a_domain_of_one_row(cls):
    # Ledoit-Wolf has no covariance to shrink: the identity it gave squeezed the
    # source's scales (std 5 and 10) to 1, whatever the target row
    rng = np.random.RandomState(0)
    X = np.r_[rng.normal(size=(30, 3)) * [1, 5, 10], [[100.0, -3, 7]]]
    y = np.r_[np.arange(30) % 2, -1]
    with pytest.raises(ValueError, match=r"reg='auto'\).*at least 2 rows per domain.*reg \* I"):
        cls().fit(X, y)
    mapped = cls(reg=1.0).fit_transform(X, y)  # an explicit ridge is the user's choice
    assert np.all(np.isfinite(mapped))


@pytest.mark.parametrize("cls", [CORAL, LinearOTMapping], ids=lambda c: c.__name__)
def test_reg_zero_with_a_singular_source_covariance_warns(cls):
    # 10 source rows in 20 dimensions: the unregularised whitening divides by ~0
    rng = np.random.RandomState(0)
    X = np.r_[rng.normal(size=(10, 20)), rng.normal(size=(50, 20))]
    y = np.r_[np.arange(10) % 2, -np.ones(50, int)]
    with pytest.warns(UserWarning, match=r"reg=0\): the source covariance is singular.*reg='auto'") as caught:
        cls(reg=0).fit(X, y)
    assert [w.filename for w in caught] == [__file__]  # the user's line, not the fit's wrapper
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cls().fit(X, y)  # Ledoit-Wolf: well conditioned
        X = rng.normal(size=(200, 3))
        cls(reg=0).fit(X, np.r_[np.arange(100) % 2, -np.ones(100, int)])  # full rank


def test_nan_refused():
    X, y, d = make_rotated_moons(30, 30, random_state=0)
    X[0, 0] = np.nan
    for est in ALL:
        with pytest.raises(ValueError, match="NaN"):
            clone(est).fit(X, mask_target_labels(y, d))


@pytest.mark.parametrize("dtype", [object, str])
def test_importance_weighting_with_string_labels(dtype):
    # The part of check_classifiers_classes that does not use -1 (see test_common).
    from sklearn.linear_model import LogisticRegression

    from sktransfer import ImportanceWeightedClassifier

    rng = np.random.RandomState(0)
    X = rng.randn(60, 2)
    y = np.where(X[:, 0] > 0, "pos", "neg").astype(dtype)
    domain = np.r_[np.ones(30, int), -np.ones(30, int)]
    with pytest.warns(UserWarning, match="every target row"):
        clf = ImportanceWeightedClassifier(LogisticRegression()).fit(X, y, sample_domain=domain)
    assert list(clf.classes_) == ["neg", "pos"]
    assert set(clf.predict(X)) <= {"neg", "pos"}
    assert clf.score(X, y) > 0.9


def test_coral_auto_regularisation_is_ledoit_wolf_and_checked():
    from sklearn.covariance import ledoit_wolf

    rng = np.random.RandomState(0)
    X = np.r_[rng.normal(size=(30, 10)), rng.normal(size=(40, 10)) * 2]
    y = np.r_[rng.randint(2, size=30), -np.ones(40, dtype=int)]
    X[:, 0] *= 100.0  # features on different scales
    coral = CORAL().fit(X, y)  # reg="auto" by default
    for rows, cov in ((X[:30], coral.covariance_source_), (X[30:], coral.covariance_target_)):
        scale = rows.std(axis=0)
        np.testing.assert_allclose(cov, ledoit_wolf(rows / scale)[0] * np.outer(scale, scale))
        # the variances are kept; only the correlations are shrunk
        np.testing.assert_allclose(np.diag(cov), rows.var(axis=0))
    assert np.all(np.isfinite(coral.coral_matrix_))
    with pytest.raises(ValueError, match="reg must be 'auto'"):
        CORAL(reg="lw").fit(X, y)


# ----------------------------------------------------------------------
# numerical edge cases
# ----------------------------------------------------------------------
def _unscaled_shift(n=20, scale=100.0):
    rng = np.random.RandomState(0)
    X = np.r_[rng.normal(size=(n, 4)), rng.normal(size=(n, 4)) + 1] * scale
    return X, np.r_[rng.randint(2, size=n), -np.ones(n, dtype=int)]


@pytest.mark.parametrize("n_components", [1, 3, 7])
def test_tca_gives_every_component_when_the_kernel_is_near_the_identity(n_components):
    # Unscaled rows under a fixed gamma: the RBF kernel is nearly the identity and
    # its eigenvalues repeat; LAPACK's subset solver returned fewer vectors than
    # asked (none for n_components=1) and transform had too few columns.
    X, y = _unscaled_shift()
    tca = TransferComponentAnalysis(n_components=n_components, kernel="rbf", gamma=1.0)
    Z = tca.fit(X, y).transform(X)
    assert Z.shape == (len(X), n_components) == (len(X), len(tca.get_feature_names_out()))
    assert np.isfinite(Z).all()


def test_tca_ridge_too_small_for_the_feature_scale_says_so():
    X, y = _unscaled_shift(n=30, scale=1e4)
    with pytest.raises(ValueError, match="ridge mu is too small.*StandardScaler"):
        TransferComponentAnalysis(n_components=2).fit(X, y)
    # Standardised, the same rows fit.
    TransferComponentAnalysis(n_components=2).fit(StandardScaler().fit_transform(X), y)


def test_entropic_ot_with_a_reg_below_float64_range_raises():
    X, y = _unscaled_shift(scale=1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # and exp overflows on the way
        warnings.simplefilter("ignore", RuntimeWarning)
        with pytest.raises(ValueError, match="reg=1e-20 is too small for float64"):
            EntropicOTMapping(reg=1e-20).fit(X, y)


def test_effective_sample_size_of_tiny_equal_weights_is_every_row():
    # The squares of 1e-300 underflow to 0: the collapse warning reported 0.0 rows.
    assert _reweight._effective_sample_size(np.full(40, 1e-300)) == pytest.approx(40)
    assert _reweight._effective_sample_size(np.array([1.0, 0.0, 0.0])) == pytest.approx(1)
    assert _reweight._effective_sample_size(np.zeros(3)) == 0.0


def test_kmm_bound_that_cannot_meet_its_constraint_is_refused():
    # Weights at most 1e-300 cannot average within eps of 1: KMM minimised the
    # penalty alone and the classifier got a near-zero total weight.
    from sktransfer import ImportanceWeightedClassifier

    X, y = _unscaled_shift(scale=1.0)
    with pytest.raises(ValueError, match="kmm_bound=1e-300 is below 1 - kmm_eps"):
        ImportanceWeightedClassifier(weighting="kmm", kmm_bound=1e-300).fit(X, y)
    # A bound below 1 that the tolerance allows still fits.
    ImportanceWeightedClassifier(weighting="kmm", kmm_bound=0.9, kmm_eps=0.2).fit(X, y)
    # A tolerance of 1 or more would let every weight go to 0: refused.
    for eps in (1.0, 5.0, True):
        with pytest.raises(ValueError, match=r"kmm_eps must be a number in \[0, 1\)"):
            ImportanceWeightedClassifier(weighting="kmm", kmm_eps=eps).fit(X, y)


@pytest.mark.parametrize(
    "transformer",
    [CORAL(), LinearOTMapping(), EntropicOTMapping(), SubspaceAlignment(n_components=3),
     GeodesicFlowKernel(n_components=2), TransferComponentAnalysis(n_components=3)],
    ids=_ids,
)
def test_float32_rows_come_back_float32_and_agree_with_float64(transformer):
    # As scikit-learn's PCA: float32 in, float32 out (half the memory of CNN codes);
    # the map itself is computed in float64, so the two agree to float32 precision.
    X, y, d = shifted_problem(0, n=60)
    ym = mask_target_labels(y, d)
    X32 = X.astype(np.float32)
    t32, t64 = clone(transformer).fit(X32, ym), clone(transformer).fit(X, ym)
    for method in ("transform", "transform_source"):
        out32, out64 = getattr(t32, method)(X32), getattr(t64, method)(X)
        assert out32.dtype == np.float32 and out64.dtype == np.float64
        np.testing.assert_allclose(out32, out64, rtol=1e-4, atol=1e-4)
    assert clone(transformer).fit_transform(X32, ym).dtype == np.float32
    # A DataFrame of float32 columns too, as PCA; mixed columns stay float64.
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(X32)
    assert clone(transformer).fit(frame, ym).transform(frame).dtype == np.float32
    mixed = frame.astype({0: np.float64})
    assert clone(transformer).fit(mixed, ym).transform(mixed).dtype == np.float64


@pytest.mark.parametrize(
    "estimator",
    [
        TransferComponentAnalysis(n_components=2),
        EntropicOTMapping(),
        ImportanceWeightedClassifier(weighting="kmm"),
        JDAClassifier(n_components=2, kernel="rbf", max_iter=1),
        MEDAClassifier(n_components=2, max_iter=1),
    ],
    ids=lambda est: type(est).__name__,
)
@pytest.mark.filterwarnings("ignore::sktransfer.domain_adaptation.ImportanceWeightCollapseWarning")
def test_kernel_methods_warn_before_building_a_matrix_over_working_memory(estimator):
    # 400 + 400 rows: a 800 x 800 float64 matrix is 4.9 MiB (400 x 400: 1.2 MiB)
    X, y, domain = make_rotated_moons(400, 400, random_state=0)
    y_masked = mask_target_labels(y, domain)
    with config_context(working_memory=1), pytest.warns(UserWarning, match="working_memory") as caught:
        estimator.fit(X, y_masked)
    message = next(str(w.message) for w in caught if "working_memory" in str(w.message))
    assert type(estimator).__name__ in message and "MiB" in message
    assert {w.filename for w in caught if "working_memory" in str(w.message)} == {__file__}
    with warnings.catch_warnings():  # at scikit-learn's default working_memory: silent
        warnings.filterwarnings("error", message=".*working_memory")
        clone(estimator).fit(X, y_masked)


@pytest.mark.parametrize(
    "transformer",
    [CORAL(), LinearOTMapping(), SubspaceAlignment(n_components=2),
     GeodesicFlowKernel(n_components=1), TransferComponentAnalysis(n_components=2),
     EntropicOTMapping()],
    ids=lambda t: type(t).__name__,
)
def test_transform_maps_rows_by_the_sample_domain_given_as_skada_does(transformer):
    X, y, domain = make_rotated_moons(40, 40, random_state=0)
    transformer.fit(X, mask_target_labels(y, domain))
    source = domain > 0
    mapped = transformer.transform(X, sample_domain=domain)
    np.testing.assert_allclose(mapped[source], transformer.transform_source(X[source]))
    np.testing.assert_allclose(mapped[~source], transformer.transform(X[~source]))
    np.testing.assert_allclose(
        transformer.transform(X, sample_domain=-np.abs(domain)), transformer.transform(X)
    )
    with pytest.raises(ValueError, match="sample_domain"):
        transformer.transform(X, sample_domain=domain[:-1])
    with pytest.raises(TypeError, match="optionally, sample_domain; got \\['sample_weight'\\]"):
        transformer.transform(X, sample_weight=np.ones(len(X)))


@pytest.mark.filterwarnings("ignore::sktransfer.domain_adaptation.ImportanceWeightCollapseWarning")
def test_kmm_warns_for_its_source_by_target_kernel_too():
    # 150 source rows, 1200 target rows: the source x source kernel is 0.2 MiB, the
    # source x target one KMM sums for its linear term 1.4 MiB, both held at once
    X, y, domain = make_rotated_moons(150, 1200, random_state=0)
    with config_context(working_memory=1), pytest.warns(UserWarning, match="150 x 1350"):
        ImportanceWeightedClassifier(weighting="kmm").fit(X, mask_target_labels(y, domain))


def test_entropic_ot_maps_its_training_source_rows_as_fit_transform_did():
    # a source row duplicated with the other label: with the class penalty the two copies
    # are coupled to different target rows, so the nearest-row rule cannot place both
    X, y, domain = make_rotated_moons(40, 40, random_state=0)
    source = np.flatnonzero(domain > 0)[:5]
    X = np.r_[X, X[source]]
    y = np.r_[mask_target_labels(y, domain), 1 - y[source]]
    domain = np.r_[domain, domain[source]]
    order = np.argsort(-domain, kind="stable")  # source rows first, as fit stores them
    X, y, domain = X[order], y[order], domain[order]
    ot = EntropicOTMapping(class_reg=1.0)
    moved = ot.fit_transform(X, y)
    # fit_transform: each training source row by its own displacement, targets in place
    np.testing.assert_allclose(moved[domain > 0], ot.source_rows_ + ot.displacements_)
    np.testing.assert_array_equal(moved[domain < 0], X[domain < 0])
    np.testing.assert_allclose(ot.transform(X, sample_domain=domain), moved)
    np.testing.assert_allclose(ot.transform_source(X[domain > 0]), moved[domain > 0])
    # new rows, or the training rows in another order: by their nearest training row
    shuffled = X[domain > 0][::-1]
    nearest = ot.source_rows_ + ot.displacements_
    assert np.abs(ot.transform_source(shuffled) - nearest[::-1]).max() > 0  # the duplicates
