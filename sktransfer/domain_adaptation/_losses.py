"""Losses of the deep domain adaptation estimators (torch functions).

The discrepancies take two batches of features ``(n_source, d)`` and
``(n_target, d)`` and return a scalar tensor that is differentiable in both;
:func:`mcc_loss` takes the target logits alone; :func:`mdd_loss` the logits
of an auxiliary classifier and the predictions it is compared with.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from scipy.optimize import minimize

__all__ = [
    "coral_loss",
    "entropy",
    "mcc_loss",
    "mdd_loss",
    "mk_mmd_kernel_weights",
    "mk_mmd_loss",
    "mk_mmd_losses",
]

#: Bandwidth multipliers of the Gaussian kernels of :func:`mk_mmd_loss`: the
#: family of the DAN paper (Long et al., 2015), from ``2**-8`` to ``2**8`` with
#: a multiplicative step of ``2**0.5`` (33 kernels).
DEFAULT_KERNEL_SCALES = tuple(2.0 ** (k / 2) for k in range(-16, 17))


def _covariance(x: torch.Tensor) -> torch.Tensor:
    """Unbiased covariance matrix ``(d, d)`` of the rows of ``x``."""
    centred = x - x.mean(dim=0, keepdim=True)
    return centred.T @ centred / (len(x) - 1)


def coral_loss(source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """CORAL loss: ``||C_s - C_t||_F^2 / (4 d^2)`` (Sun & Saenko, ECCV-W 2016).

    ``C_s`` and ``C_t`` are the (unbiased) covariance matrices of the source
    and target features, ``d`` their width. Needs at least two rows of each.
    """
    if len(source) < 2 or len(target) < 2:
        raise ValueError(
            "coral_loss needs at least two source and two target rows for a "
            f"covariance; got {len(source)} and {len(target)}"
        )
    d = source.shape[1]
    diff = _covariance(source) - _covariance(target)
    return (diff * diff).sum() / (4.0 * d * d)


def _squared_distances(x: torch.Tensor) -> torch.Tensor:
    # |a|^2 + |b|^2 - 2 a.b, clamped: unlike cdist its gradient is finite at 0.
    sq = (x * x).sum(dim=1)
    return (sq[:, None] + sq[None, :] - 2.0 * (x @ x.T)).clamp_min(0.0)


def _mean_squared_distance(x: torch.Tensor) -> torch.Tensor:
    """Mean squared distance between distinct rows of ``x``, without the (n, n) matrix.

    ``sum_ij ||x_i - x_j||^2 = 2 n sum_i ||x_i||^2 - 2 ||sum_i x_i||^2``, on
    centred rows (the distances do not change, the cancellation does).
    """
    n = len(x)
    x = x - x.mean(dim=0, keepdim=True)
    total = 2.0 * n * (x * x).sum() - 2.0 * (x.sum(dim=0) ** 2).sum()
    return (total / max(n * n - n, 1)).clamp_min(torch.finfo(x.dtype).eps)


def mk_mmd_loss(
    source: torch.Tensor,
    target: torch.Tensor,
    kernel_scales: Sequence[float] = DEFAULT_KERNEL_SCALES,
    kernel_weights: Sequence[float] | None = None,
) -> torch.Tensor:
    """Multi-kernel maximum mean discrepancy (MK-MMD, Long et al., ICML 2015).

    The biased (V-statistic) quadratic-time estimate of the squared MMD,
    ``mean(K_ss) + mean(K_tt) - 2 mean(K_st)``, with ``K`` a convex
    combination of Gaussian kernels ``exp(-||a - b||^2 / (s * sigma^2))`` over
    the scales ``s`` in ``kernel_scales``: weighted by ``kernel_weights``
    (non-negative, summing to 1; kernels of weight 0 are skipped), or averaged
    when it is None. ``sigma^2`` is the mean squared distance between distinct
    rows of the joint batch (not differentiated through), as in the DAN/JAN
    reference code. The biased estimate is never negative and is 0 (up to
    rounding) when both batches are the same rows.
    """
    return mk_mmd_losses([(source, target)], kernel_scales, [kernel_weights])[0]


def mk_mmd_losses(
    layers: Sequence[tuple[torch.Tensor, torch.Tensor]],
    kernel_scales: Sequence[float] = DEFAULT_KERNEL_SCALES,
    kernel_weights: Sequence[Sequence[float] | None] | None = None,
) -> torch.Tensor:
    """:func:`mk_mmd_loss` of several layers' outputs for the same rows, at once.

    ``layers`` holds one ``(source, target)`` pair per layer (the same rows in
    every layer, any width); ``kernel_weights`` one entry per layer (None
    averages that layer's kernels). All kernels of all layers are evaluated in
    one batched operation, on the distinct pairs of rows only, rather than one
    operation per kernel: on small batches, where the cost per operation
    dominates, several times faster. Returns the squared MMD of each layer,
    shape ``(n_layers,)``.
    """
    if kernel_weights is None:
        kernel_weights = [None] * len(layers)
    source = layers[0][0]
    kernels = _kernel_tensors(kernel_scales, kernel_weights, source.device, source.dtype)
    return _mk_mmd_losses(layers, *kernels)


def _kernel_tensors(kernel_scales, kernel_weights, device, dtype):
    """Scales ``(n_kept,)``, weights ``(n_layers, n_kept)`` and weight sums ``(n_layers,)``.

    Built on the host, then moved to ``device`` once: a caller that reuses them
    for many batches (as :class:`DANClassifier`'s module does) copies nothing
    to the device per batch. Kernels of weight 0 in every layer are left out.
    """
    n_kernels = len(kernel_scales)
    rows = []
    for weights in kernel_weights:
        if weights is None:
            weights = [1.0 / n_kernels] * n_kernels
        elif len(weights) != n_kernels:
            raise ValueError(
                f"kernel_weights has {len(weights)} entries for {n_kernels} kernel_scales"
            )
        rows.append([float(w) for w in weights])
    keep = [k for k in range(n_kernels) if any(row[k] > 0 for row in rows)]
    # The sums in float64 on the host: for weights summing to 1 the diagonal
    # term below is exactly n, as in the (n, n) computation.
    sums = [sum(row) for row in rows]
    return (
        torch.tensor([float(kernel_scales[k]) for k in keep], dtype=dtype, device=device),
        torch.tensor([[row[k] for k in keep] for row in rows], dtype=dtype, device=device),
        torch.tensor(sums, dtype=dtype, device=device),
    )


def _mk_mmd_losses(layers, scales, weights, weight_sums):
    """:func:`mk_mmd_losses` with the kernel tensors of :func:`_kernel_tensors`."""
    n_layers, n_source = len(layers), len(layers[0][0])
    d2 = torch.stack([_squared_distances(torch.cat(pair)) for pair in layers])
    n = d2.shape[1]
    n_target = n - n_source
    bandwidth = (d2.detach().sum(dim=(1, 2)) / max(n * n - n, 1)).clamp_min(
        torch.finfo(d2.dtype).eps
    )
    # Only the distinct pairs: above the diagonal within each domain (the
    # kernels are symmetric, and each kernel is 1 on the diagonal), and every
    # source-target pair; about a third fewer kernel values than the (n, n)
    # matrix.
    upper_s = torch.triu_indices(n_source, n_source, 1, device=d2.device)
    upper_t = torch.triu_indices(n_target, n_target, 1, device=d2.device) + n_source
    pairs = torch.cat(
        [
            d2[:, upper_s[0], upper_s[1]],
            d2[:, upper_t[0], upper_t[1]],
            d2[:, :n_source, n_source:].reshape(n_layers, -1),
        ],
        dim=1,
    )
    # Exponents are floored at -30: exp(-30) ~ 1e-13 is below the float32
    # resolution of the kernel sums, so the loss does not change, but the
    # subnormal floats that the narrow kernels otherwise produce (exp(-88) and
    # below in float32, and their products in the backward pass) are an order
    # of magnitude slower to compute with on CPUs.
    exponents = -pairs[:, None] / (bandwidth[:, None, None] * scales[:, None])
    kernel = torch.einsum("lk,lkp->lp", weights, torch.exp(exponents.clamp_min(-30.0)))
    n_ss, n_tt = upper_s.shape[1], upper_t.shape[1]
    k_ss = (n_source * weight_sums + 2.0 * kernel[:, :n_ss].sum(dim=1)) / n_source**2
    k_tt = (n_target * weight_sums + 2.0 * kernel[:, n_ss : n_ss + n_tt].sum(dim=1)) / n_target**2
    k_st = kernel[:, n_ss + n_tt :].mean(dim=1)
    return k_ss + k_tt - 2.0 * k_st


def mk_mmd_kernel_weights(
    source: torch.Tensor,
    target: torch.Tensor,
    kernel_scales: Sequence[float] = DEFAULT_KERNEL_SCALES,
    ridge: float = 1e-3,
) -> np.ndarray:
    """Kernel coefficients of :func:`mk_mmd_loss` that maximise the test power.

    The DAN paper's choice of the multi-kernel (Long et al., ICML 2015, sec.
    3.3, after Gretton et al., NeurIPS 2012): the coefficients ``beta >= 0``
    maximise the ratio of the squared MMD to the standard deviation of its
    linear-time estimate, by the quadratic programme ``min beta' (Q + eps I)
    beta`` subject to ``eta' beta = 1``, ``beta >= 0``. ``eta`` holds each
    kernel's linear-time MMD estimate on the quadruples ``(s_2i, s_2i+1,
    t_2i, t_2i+1)`` of the rows, ``Q`` the covariance of those estimates
    between kernels, and ``eps`` is ``ridge`` times the mean of ``Q``'s
    diagonal. The result is rescaled to sum to 1 (a convex combination, the
    scale of the averaged kernel). The bandwidth is set as in
    :func:`mk_mmd_loss`, from the rows given.

    Returns equal weights when fewer than two quadruples fit in the rows, or
    when no kernel's estimate is positive (no kernel tells the domains apart).

    Parameters
    ----------
    source, target : Tensor of shape (n_source, d) and (n_target, d)
        Features of each domain (not differentiated through); rows in random
        order.
    kernel_scales : sequence of float
        Bandwidth multipliers, one Gaussian kernel each.
    ridge : float, default=1e-3
        Relative regularisation of the covariance.

    Returns
    -------
    weights : ndarray of shape (len(kernel_scales),)
        Non-negative, summing to 1.
    """
    n_kernels = len(kernel_scales)
    uniform = np.full(n_kernels, 1.0 / n_kernels)
    m = min(len(source), len(target)) // 2
    if m < 2:
        return uniform
    source, target = source.detach().double(), target.detach().double()
    bandwidth = _mean_squared_distance(torch.cat([source[: 2 * m], target[: 2 * m]]))
    scales = torch.as_tensor(kernel_scales, dtype=torch.float64, device=source.device)

    def kernel(a, b):  # (m, n_kernels): each kernel on the m pairs of rows (a_i, b_i)
        d2 = ((a - b) ** 2).sum(dim=1, keepdim=True)
        return torch.exp(-d2 / (bandwidth * scales))

    s1, s2 = source[0 : 2 * m : 2], source[1 : 2 * m : 2]
    t1, t2 = target[0 : 2 * m : 2], target[1 : 2 * m : 2]
    h = (kernel(s1, s2) + kernel(t1, t2) - kernel(s1, t2) - kernel(s2, t1)).cpu().numpy()
    eta = h.mean(axis=0)
    if not (eta > 0).any():
        return uniform
    q = np.cov(h, rowvar=False).reshape(n_kernels, n_kernels)
    q = q + ridge * max(np.trace(q) / n_kernels, np.finfo(float).tiny) * np.eye(n_kernels)
    # A feasible start: the positive part of eta, scaled onto eta' beta = 1.
    start = np.clip(eta, 0.0, None)
    start /= start @ eta
    # The objective is 1 / power**2 up to scale: measured against the start's,
    # so that SLSQP's absolute tolerance means the same for any test power.
    scale = start @ q @ start
    result = minimize(
        lambda b: b @ q @ b / scale,
        start,
        jac=lambda b: 2.0 * q @ b / scale,
        bounds=[(0.0, None)] * n_kernels,
        constraints=[{"type": "eq", "fun": lambda b: b @ eta - 1.0, "jac": lambda b: eta}],
        method="SLSQP",
        options={"maxiter": 500},
    )
    # Kept if it improves on the start, even short of convergence (an
    # ill-conditioned Q can exhaust the iterations).
    beta = np.clip(result.x, 0.0, None)
    usable = np.isfinite(beta).all() and beta @ eta > 0
    if not usable or (beta / (beta @ eta)) @ q @ (beta / (beta @ eta)) > scale:
        beta = start
    # The solver leaves round-off (~1e-17) where the optimum is 0: drop it, so
    # that those kernels are skipped in the loss.
    beta[beta < 1e-6 * beta.max()] = 0.0
    return beta / beta.sum()


def entropy(proba: torch.Tensor) -> torch.Tensor:
    """Shannon entropy (nats) of each row of class probabilities."""
    return -(proba * torch.log(proba.clamp_min(1e-12))).sum(dim=1)


def mcc_loss(logits: torch.Tensor, temperature: float = 2.5) -> torch.Tensor:
    """Minimum class confusion loss of a batch of target logits (Jin et al., ECCV 2020).

    The probabilities ``p = softmax(logits / temperature)`` of the ``n`` rows
    give the class correlation matrix ``C = p^T W p``, where ``W`` weighs each
    row by ``1 + exp(-H(p_i))`` (confident rows more; normalised to mean 1,
    and not differentiated through, as in the authors' code). Each column of
    ``C`` is divided by its sum, and the loss is the mass off the diagonal
    divided by the number of classes: 0 when every class is predicted by some
    rows and no row is shared between two classes. Each class no row predicts
    adds about ``1 / n_classes``, so that every row uniform, or every row one
    class, gives ``(n_classes - 1) / n_classes``, as does a single row (then
    whatever it predicts: its loss has no gradient).
    """
    if logits.ndim != 2 or logits.shape[1] < 2:
        raise ValueError(
            f"mcc_loss needs logits of shape (n_rows, n_classes >= 2), got {tuple(logits.shape)}"
        )
    proba = torch.softmax(logits / temperature, dim=1)
    weights = 1.0 + torch.exp(-entropy(proba.detach()))
    weights = weights / weights.mean()
    confusion = (proba * weights[:, None]).T @ proba
    tiny = torch.finfo(confusion.dtype).tiny
    column_sums = confusion.sum(dim=0, keepdim=True)
    confusion = confusion / column_sums.clamp_min(tiny)
    off_diagonal = confusion.sum() - confusion.trace()
    empty = column_sums[0] < tiny
    if empty.any():
        # a class no row predicts at all, once its probabilities underflow: its
        # column counts as all off the diagonal, the limit as they vanish (else a
        # saturated collapse onto one class would score 0, the best value)
        off_diagonal = (
            off_diagonal
            - (confusion[:, empty].sum() - confusion.diagonal()[empty].sum())
            + empty.sum()
        )
    return off_diagonal / proba.shape[1]


def mdd_loss(
    source_logits: torch.Tensor,
    source_predictions: torch.Tensor,
    target_logits: torch.Tensor,
    target_predictions: torch.Tensor,
    margin: float = 4.0,
    offset: float = 1e-6,
) -> torch.Tensor:
    """Margin disparity discrepancy loss of an auxiliary classifier (Zhang et al., ICML 2019).

    ``source_logits`` and ``target_logits`` are the auxiliary classifier's
    logits ``f'(x)`` on a batch's source and target rows; ``*_predictions``
    are the classes the main classifier predicts for the same rows
    (``argmax f(x)``, int64). The loss is
    ``margin * CE(f'(x_s), f(x_s)) - mean log(1 - p'_t + offset)``, where
    ``p'_t`` is the auxiliary classifier's probability of ``f(x_t)``:
    minimising it, the auxiliary classifier agrees with the main one on the
    source rows and disagrees with it on the target rows, the disparity that
    the feature extractor then reduces (through a gradient reversal). The
    margin (the paper's ``gamma``) weighs the source term. The offset bounds
    the target term by ``-log(offset)`` and lets its gradient vanish once the
    auxiliary classifier is certain of ``f``'s class on a row (``1 - p'_t``
    well below the offset; as the authors' later library does): without it,
    the features are rewarded without end for that agreement; 0 gives the
    paper's exact term. ``log(1 - p'_t)`` is computed as a difference of
    log-sum-exps, so that it stays exact where ``p'_t`` rounds to 1. Each
    domain needs a row at least.
    """
    for name, logits in (("source_logits", source_logits), ("target_logits", target_logits)):
        if logits.ndim != 2 or logits.shape[1] < 2 or logits.shape[0] < 1:
            raise ValueError(
                f"mdd_loss needs {name} of shape (n_rows >= 1, n_classes >= 2), got "
                f"{tuple(logits.shape)}"
            )
    for name, value in (("margin", margin), ("offset", offset)):
        if not (math.isfinite(value) and value >= 0):
            raise ValueError(f"mdd_loss needs a finite {name} >= 0, got {value!r}")
    agree = torch.nn.functional.cross_entropy(source_logits, source_predictions)
    predicted = torch.nn.functional.one_hot(target_predictions, target_logits.shape[1]).bool()
    # log(1 - p_k) = log(sum_{j != k} exp(z_j)) - log(sum_j exp(z_j))
    log_rest = torch.logsumexp(target_logits.masked_fill(predicted, float("-inf")), dim=1)
    log_rest = log_rest - torch.logsumexp(target_logits, dim=1)
    if offset > 0:  # log(1 - p + offset)
        log_rest = torch.logaddexp(log_rest, log_rest.new_tensor(math.log(offset)))
    return margin * agree - log_rest.mean()
