"""Entropic optimal transport between the source and the target rows.

:class:`EntropicOTMapping` couples the source rows to the target rows by
entropy-regularised optimal transport (Sinkhorn's algorithm), optionally with
a class-based group penalty, and moves each source row to the barycentre of
the target rows it is coupled to (Courty, Flamary, Tuia and Rakotomamonjy,
2017). It follows the mapping rule of the other shallow transformers (see
:mod:`sktransfer.domain_adaptation._shallow`): ``fit_transform`` maps the
source rows, ``transform`` leaves rows as target rows.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy.special import logsumexp
from sklearn.base import BaseEstimator, OneToOneFeatureMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import pairwise_distances_argmin
from sklearn.metrics.pairwise import euclidean_distances

from ..base import (
    _caller_stacklevel,
    _check_positive_ints,
    _is_finite_real,
    _labelled_mask,
    _unfitted_if_refused,
    _warn_if_large_matrix,
)
from ._shallow import _DomainTransformerMixin

__all__ = ["EntropicOTMapping"]

#: Sinkhorn runs on log potentials when some row or column of the kernel
#: ``exp(-cost / reg)`` has no entry above ``exp(-_LOG_DOMAIN_GAP)``: its
#: scaling would then pass 1e217 and the products overflow or underflow. Far
#: pairs alone underflowing to 0 is harmless (their plan entries are ~0).
_LOG_DOMAIN_GAP = 500.0
#: The exponent of the class penalty (the l_p^1 group norm, p = 1/2) and its
#: majorisation-minimisation steps (Courty et al. 2014: 10 steps).
_GROUP_P = 0.5
_GROUP_STEPS = 10
_GROUP_EPS = 1e-3
#: Annealing of ``reg`` (epsilon scaling): Sinkhorn's iterations grow with
#: the cost's spread over ``reg`` (measured on 30 shifted Gaussian rows, a
#: spread of 1043 reg: 93 830 iterations). Past ``_ANNEAL_SPREAD`` a cold
#: solve first runs at ``reg / _ANNEAL_FACTOR^k``, down to ``reg``, each
#: stage started from the last one's potentials and stopped at a row error
#: of ``_ANNEAL_TOL`` (the start of the next, not the answer). Picked by
#: trying a few factors (0.1 to 0.5), thresholds (10 to 100) and stage
#: tolerances (1e-1 to 1e-3) on that problem, on random costs and on the
#: Amazon reviews (that sweep is not kept as a benchmark). Measured by
#: benchmarks/bench_sinkhorn.py: 93 830 iterations down to 8 570 at reg
#: 0.01, not converged in 100 000 to 1 130 at 0.001, 740 to 250 on Amazon
#: books to dvd (spread 145 reg). The
#: last stage keeps Sinkhorn's rate at ``reg``: only its start is better.
#: Below a spread of 100 reg, Sinkhorn takes tens to hundreds of iterations
#: and annealing saved few or none.
_ANNEAL_SPREAD = 100.0
_ANNEAL_FACTOR = 0.5
_ANNEAL_TOL = 1e-3


def _sinkhorn(a, b, cost, reg, max_iter, tol, g=None):
    """Entropic OT plan between weights ``a`` and ``b``: ``(plan, n_iter, converged, g)``.

    Minimises ``<P, cost> - reg * H(P)`` over the plans with marginals ``a``
    and ``b`` by Sinkhorn's alternate scaling; on a cost whose spread is large
    against ``reg`` (where a row or column of the kernel ``exp(-cost / reg)``
    has only vanishing entries), the same iterations on the logarithms of
    the scalings, many times slower (a log-sum-exp per entry instead of a
    matrix product). Stops
    when the row marginals are within ``tol`` (L1) of ``a``; the column
    marginals are exact after each iteration.

    The plan is ``exp((f_i + g_j - cost_ij) / reg)`` for dual potentials
    ``f`` and ``g`` in the units of the cost. ``g`` starts the iterations
    (zeros when None: the classic start ``v = 1``) and the final one is
    returned, to warm-start a solve of a nearby problem (another cost or
    ``reg``). Only ``g`` is needed: the first half-iteration computes ``f``
    from it. The fixed point does not depend on the start, only the number
    of iterations does. Should the scalings overflow (a spread just under
    the log form's threshold), the log form takes over from the same start,
    the iterations spent counting in ``n_iter``.
    """
    low = cost.min()
    shifted = (cost - low) / reg
    if max(shifted.min(axis=1).max(), shifted.min(axis=0).max()) > _LOG_DOMAIN_GAP:
        return _sinkhorn_log(a, b, shifted, reg, max_iter, tol, g)
    kernel = np.exp(-shifted)
    u = np.ones_like(a)
    if g is None:
        v = np.ones_like(b)
    else:
        # The shift ``low`` is carried by f (recomputed first), so g needs
        # none; its constant is free (f absorbs it): scale it to max 1, and
        # floor it where exp would underflow to 0 (a start, not the answer).
        v = np.exp(np.maximum((g - g.max()) / reg, -_LOG_DOMAIN_GAP))
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        for n_iter in range(1, max_iter + 1):
            u = a / (kernel @ v)
            v = b / (kernel.T @ u)
            if n_iter % 10 == 0 or n_iter == max_iter:
                error = np.abs(u * (kernel @ v) - a).sum()
                if not np.isfinite(error):  # overflowed: on to the log form
                    plan, more, converged, g = _sinkhorn_log(
                        a, b, shifted, reg, max_iter - n_iter, tol, g
                    )
                    return plan, n_iter + more, converged, g
                if error < tol:
                    return u[:, None] * kernel * v[None, :], n_iter, True, reg * np.log(v)
    return u[:, None] * kernel * v[None, :], max_iter, False, reg * np.log(v)


def _sinkhorn_log(a, b, shifted, reg, max_iter, tol, g=None):
    """:func:`_sinkhorn` on the log scalings, for ``shifted = (cost - cost.min()) / reg``.

    ``g`` (start and result) is in the units of the cost, as in
    :func:`_sinkhorn`; here ``f + g - shifted`` is the log plan with ``f``
    and ``g`` divided by ``reg``.
    """
    log_a, log_b = np.log(a), np.log(b)
    g = np.zeros_like(b) if g is None else g / reg
    if max_iter <= 0:  # no iteration left (a fallback at the end of the budget): the start's plan
        f = log_a - logsumexp(g[None, :] - shifted, axis=1)
        return np.exp(f[:, None] + g[None, :] - shifted), 0, False, reg * g
    for n_iter in range(1, max_iter + 1):
        f = log_a - logsumexp(g[None, :] - shifted, axis=1)
        g = log_b - logsumexp(f[:, None] - shifted, axis=0)
        if n_iter % 10 == 0 or n_iter == max_iter:
            log_plan = f[:, None] + g[None, :] - shifted
            error = np.abs(np.exp(logsumexp(log_plan, axis=1)) - a).sum()
            if error < tol:
                return np.exp(log_plan), n_iter, True, reg * g
    return np.exp(f[:, None] + g[None, :] - shifted), max_iter, False, reg * g


def _anneal_regs(cost, reg):
    """The ``reg`` of each annealing stage, decreasing, ending at ``reg`` itself.

    One stage (no annealing) while the cost's spread is at most
    ``_ANNEAL_SPREAD`` times ``reg``; otherwise the first stage's ``reg`` is
    the first of ``reg / _ANNEAL_FACTOR^k`` against which it is.
    """
    spread = float(cost.max() - cost.min())
    regs = [reg]
    while spread > _ANNEAL_SPREAD * regs[-1]:
        regs.append(regs[-1] / _ANNEAL_FACTOR)
    return regs[::-1]


def _sinkhorn_annealed(a, b, cost, reg, max_iter, tol, g=None):
    """:func:`_sinkhorn` through a decreasing ``reg`` when started cold.

    Same arguments and result as :func:`_sinkhorn`. Without a start ``g`` and
    on a cost whose spread passes ``_ANNEAL_SPREAD`` times ``reg``, solves at
    the larger ``reg`` of :func:`_anneal_regs` first, each stage started from
    the last one's potentials ``g`` (the potentials, in the cost's units,
    move little with ``reg``; the scalings would not carry over). The last
    stage, at ``reg``, has the stopping rule of :func:`_sinkhorn` (``tol``),
    so the plan is the same to that tolerance; the fixed point does not
    depend on the start. ``max_iter`` and the returned ``n_iter`` count the
    iterations of all the stages; the earlier ones take half of ``max_iter``
    at most, leaving the rest to the last. With a start ``g`` (a nearby
    problem already solved) the stages are skipped: that start is closer.
    """
    n_iter = 0
    if g is None:
        for stage_reg in _anneal_regs(cost, reg)[:-1]:
            budget = max_iter // 2 - n_iter
            if budget <= 0:
                break
            _, spent, _, g = _sinkhorn(
                a, b, cost, stage_reg, budget, max(tol, _ANNEAL_TOL), g
            )
            n_iter += spent
    plan, spent, converged, g = _sinkhorn(a, b, cost, reg, max_iter - n_iter, tol, g)
    return plan, n_iter + spent, converged, g


def _group_penalty(plan, groups, target_weights):
    """The majorising cost of the class penalty at ``plan`` (Courty et al. 2014).

    The penalty is ``sum_j b_j sum_c s_cj^p`` with p = 1/2, where
    ``s_cj = sum_{i in c} P_ij / b_j`` is the share of target row ``j``'s mass
    that comes from class ``c``. It is concave in ``P``, so its tangent at
    ``plan`` majorises it: the cost it adds to ``P_ij`` is
    ``p (s_cj + eps)^(p - 1)``, the same for every source row of the class,
    between 0.5 (all of ``j``'s mass from ``c``) and about 15.8 (none), with
    ``eps = 1e-3``. Source rows without a class get none.
    """
    penalty = np.zeros_like(plan)
    for members in groups:
        share = plan[members].sum(axis=0) / target_weights
        penalty[members] = _GROUP_P * (share + _GROUP_EPS) ** (_GROUP_P - 1)
    return penalty


class EntropicOTMapping(OneToOneFeatureMixin, _DomainTransformerMixin, BaseEstimator):
    """Optimal transport domain adaptation: move the source rows onto the target rows.

    Couples the source rows to the target rows by entropy-regularised
    optimal transport with the squared Euclidean cost (Sinkhorn's algorithm,
    Cuturi 2013), each domain's rows weighing the same, and maps each source
    row to the barycentre of the target rows it sends its mass to (Courty,
    Flamary, Tuia and Rakotomamonjy, 2017). Unlike :class:`CORAL` or
    :class:`LinearOTMapping`, the map is not affine: it follows the shape of
    the target rows. With ``class_reg > 0`` a group penalty on the source
    labels makes each target row take its mass from source rows of one class:
    ``class_reg * sum_j b_j sum_c s_cj^(1/2)``, with ``s_cj`` the share of
    target row ``j``'s mass coming from class ``c`` and ``b_j`` its weight
    (their l_p^1 regulariser with p = 1/2), minimised by
    majorisation-minimisation.

    The cost is divided by its median (over the source-target pairs), so
    ``reg`` is relative to a typical squared distance whatever the features'
    scale. New source rows (``transform_source``) move as their nearest
    training source row moved. The plan is a dense ``n_source x n_target``
    matrix, kept as ``coupling_`` (and a few of that size at fit): memory
    grows with the product of the domains' sizes (8 bytes an entry), which
    suits up to some ten thousand rows a domain.

    Within a :class:`~sklearn.pipeline.Pipeline` the final classifier must
    skip the ``y == -1`` rows, e.g. :class:`~sktransfer.LabelledOnly`.
    ``fit_transform`` maps the source rows and leaves target rows as they
    are; ``transform(X)`` leaves every row as it is (rows without a domain
    are target rows); ``transform_source(X)`` maps every row as a source row,
    moved as its nearest training source row moved (the training source rows
    themselves, given in order, by their own displacements, as
    ``fit_transform``), and ``transform(X, sample_domain=d)`` maps the rows
    of positive ids so.

    Parameters
    ----------
    reg : float, default=0.1
        Entropic regularisation, relative to the median squared distance
        between a source and a target row; positive. Small values give a
        sharper coupling (each source row goes to few target rows), large
        ones blur it towards the product of the marginals (every source row
        to the target mean).
    class_reg : float, default=0.0
        Weight of the class penalty, non-negative; 0 is plain entropic OT.
        It needs labelled source rows.
    max_iter : int, default=1000
        Sinkhorn iterations at most per solve, the annealing stages
        included; with ``class_reg > 0`` the fit runs 11 solves (the plain
        one and 10 majorisation steps), each with this budget. Where the
        cost spreads over more than 100 times ``reg``, a solve first runs at
        larger ``reg`` (doubled stage by stage, each started from the last
        one's dual potentials): these stages take half of ``max_iter`` at
        most; the last, at ``reg``, the rest. Each majorisation step starts
        from the last step's potentials.
    tol : float, default=1e-5
        Stop when the coupling's source marginal is within ``tol`` (L1) of
        the uniform weights: at most that share of the mass is misplaced. On
        the standardised Amazon reviews books to dvd (2000 rows per domain)
        the default ``reg`` gets there in 250 iterations (740 without
        annealing; ``benchmarks/bench_sinkhorn.py``).
    single_domain : {"raise", "fit"}, default="raise"
        What to do when fit sees one domain only: raise a ``ValueError``, or
        take those rows as both source and target (no adaptation): the
        coupling pairs them with themselves, and no row is moved, by
        ``fit_transform``, ``transform`` or ``transform_source``
        (``displacements_`` is zero).

    Attributes
    ----------
    coupling_ : ndarray of shape (n_source_rows, n_target_rows)
        The transport plan between the training source and target rows
        (sums to 1).
    source_rows_ : ndarray of shape (n_source_rows, n_features)
        The training source rows.
    displacements_ : ndarray of shape (n_source_rows, n_features)
        Where each training source row moved: its barycentre minus itself.
    cost_scale_ : float
        The median squared distance the cost was divided by.
    n_iter_ : int
        Sinkhorn iterations run by ``fit``: those of every solve (11 with
        ``class_reg > 0``) and of every annealing stage, summed; up to 11
        times ``max_iter``.
    n_features_in_ : int
        Number of features seen in ``fit``.

    See Also
    --------
    LinearOTMapping : the OT map between Gaussian approximations (affine).
    CORAL : matches the covariances.

    Notes
    -----
    Memory and time grow with ``n_source_rows * n_target_rows`` (one dense
    coupling); on 2000 rows per domain, the coupling holds 4 million floats,
    kept in ``coupling_``: the fitted estimator pickles to 32 MB or more.

    References
    ----------
    M. Cuturi. Sinkhorn Distances: Lightspeed Computation of Optimal
    Transport. NIPS 2013.

    N. Courty, R. Flamary, D. Tuia and A. Rakotomamonjy. Optimal Transport
    for Domain Adaptation. IEEE TPAMI, 2017.

    N. Courty, R. Flamary and D. Tuia. Domain Adaptation with Regularized
    Optimal Transport. ECML PKDD 2014.

    Examples
    --------
    >>> import numpy as np
    >>> from sktransfer import EntropicOTMapping
    >>> rng = np.random.RandomState(0)
    >>> X = np.r_[rng.normal(size=(50, 2)), rng.normal(size=(60, 2)) + [4.0, 0.0]]
    >>> y = np.r_[rng.randint(2, size=50), -np.ones(60, dtype=int)]
    >>> ot = EntropicOTMapping(reg=0.05)
    >>> moved = ot.fit_transform(X, y)[:50]
    >>> bool(np.allclose(moved.mean(axis=0), X[50:].mean(axis=0)))
    True
    >>> round(float(ot.coupling_.sum()), 6)
    1.0
    """

    # Private switches of the solver, for the benchmark's comparison with the
    # cold-started, unannealed Sinkhorn (benchmarks/bench_sinkhorn.py).
    _warm_start = True
    _anneal = True

    def __init__(
        self,
        reg: float = 0.1,
        *,
        class_reg: float = 0.0,
        max_iter: int = 1000,
        tol: float = 1e-5,
        single_domain: str = "raise",
    ):
        self.reg = reg
        self.class_reg = class_reg
        self.max_iter = max_iter
        self.tol = tol
        self.single_domain = single_domain

    def _check_params(self):
        if not (_is_finite_real(self.reg) and self.reg > 0):
            raise ValueError(f"reg must be a positive finite number, got {self.reg!r}")
        if not (_is_finite_real(self.class_reg) and self.class_reg >= 0):
            raise ValueError(
                f"class_reg must be a non-negative finite number, got {self.class_reg!r}"
            )
        if not (_is_finite_real(self.tol) and self.tol > 0):
            raise ValueError(f"tol must be a positive finite number, got {self.tol!r}")
        _check_positive_ints(self, ["max_iter"])

    @_unfitted_if_refused
    def fit(self, X, y=None, sample_domain=None) -> EntropicOTMapping:
        """Couple the source rows to the target rows.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Rows of both domains.
        y : array-like of shape (n_samples,), default=None
            Labels; ``-1`` marks target rows when ``sample_domain`` is None.
            The source rows' labels are used only with ``class_reg > 0``.
        sample_domain : array-like of int of shape (n_samples,), default=None
            Domain of each row: positive ids for source domains, negative ids
            for target domains; several source (or target) domains are
            pooled into one.

        Returns
        -------
        self : EntropicOTMapping
            The fitted transformer.
        """
        self._check_params()
        X, is_source, is_target = self._validate_fit(X, y, sample_domain)
        Xs, Xt = X[is_source], X[is_target]
        groups = []
        if self.class_reg > 0:
            labels = None if y is None else np.asarray(y)[is_source]
            labelled = (
                np.zeros(len(Xs), dtype=bool) if labels is None else _labelled_mask(labels)
            )
            if not labelled.any():
                raise ValueError(
                    "class_reg > 0 needs labelled source rows (their classes group the "
                    "coupling); set class_reg=0 for plain entropic OT"
                )
            groups = [
                np.flatnonzero(labelled & (labels == c)) for c in np.unique(labels[labelled])
            ]
        _warn_if_large_matrix(
            type(self).__name__, len(Xs), len(Xt),
            "cost matrix of the source and target rows (and a coupling of that size, kept "
            "as coupling_)",
        )
        cost = euclidean_distances(Xs, Xt, squared=True)
        scale = float(np.median(cost))
        self.cost_scale_ = scale if scale > 0 else 1.0
        cost /= self.cost_scale_
        a = np.full(len(Xs), 1.0 / len(Xs))
        b = np.full(len(Xt), 1.0 / len(Xt))
        solve = _sinkhorn_annealed if self._anneal else _sinkhorn
        plan, self.n_iter_, converged, g = solve(a, b, cost, self.reg, self.max_iter, self.tol)
        for _ in range(_GROUP_STEPS if groups else 0):
            penalised = cost + self.class_reg * _group_penalty(plan, groups, b)
            # Each step's cost differs from the last by the change of the
            # penalty: the last potentials are a close start (the cold start
            # took 1000 iterations and more per step on the Amazon reviews)
            plan, n_iter, converged, g = solve(
                a, b, penalised, self.reg, self.max_iter, self.tol,
                g if self._warm_start else None,
            )
            self.n_iter_ += n_iter
        if not converged:
            warnings.warn(
                f"Sinkhorn's algorithm did not reach tol={self.tol:g} in max_iter="
                f"{self.max_iter} iterations: the coupling's marginals are off; raise "
                "max_iter, or reg (a small reg converges slowly)",
                ConvergenceWarning,
                stacklevel=_caller_stacklevel(),
            )
        mass = plan.sum(axis=1)
        if not (np.isfinite(plan).all() and (mass > 0).all()):
            # Past float64's range the log-domain iterations lose every digit and a
            # row of the plan can be empty: its barycentre would be 0 / 0.
            raise ValueError(
                f"{type(self).__name__}: reg={self.reg!r} is too small for float64 "
                f"(the cost is divided by its median, so reg is relative to it): the "
                f"coupling of {int(np.sum(~(mass > 0)))} source rows came out empty or "
                "not finite. Raise reg."
            )
        self.coupling_ = plan
        self.source_rows_ = Xs
        self._fit_is_source_ = is_source & ~is_target
        if self._fit_is_source_.any():
            barycentres = (plan @ Xt) / mass[:, None]
            self.displacements_ = barycentres - Xs
        else:  # single_domain="fit": one domain, the identity (the entropic plan of
            # the rows onto themselves would blur them)
            self.displacements_ = np.zeros_like(Xs)
        return self

    def fit_transform(self, X, y=None, sample_domain=None):
        """Fit, then move each training source row to its barycentre.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Rows of both domains.
        y : array-like of shape (n_samples,), default=None
            Labels; ``-1`` marks target rows when ``sample_domain`` is None.
        sample_domain : array-like of int of shape (n_samples,), default=None
            Domain of each row: positive ids for source domains, negative ids
            for target domains; several source (or target) domains are
            pooled into one.

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_features)
            Source rows moved by their own displacement (``displacements_``),
            target rows as they are.
        """
        # _map moves the training source rows, given in order, by their own rows
        # of the coupling (a one-domain fit moves nothing: no row is a source row)
        return super().fit_transform(X, y, sample_domain=sample_domain)

    def _map(self, X, is_source):
        X = X.copy()
        if is_source.any():
            rows = X[is_source]
            if rows.shape == self.source_rows_.shape and np.array_equal(rows, self.source_rows_):
                # the training source rows, in order: each by its own coupling row, as
                # fit_transform (a duplicate of another class has its own place)
                X[is_source] = rows + self.displacements_
            else:
                nearest = pairwise_distances_argmin(rows, self.source_rows_)
                X[is_source] = rows + self.displacements_[nearest]
        return X
