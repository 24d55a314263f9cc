"""Discrepancy losses between source and target features (torch functions).

Used by the deep domain adaptation estimators; each takes two batches of
features ``(n_source, d)`` and ``(n_target, d)`` and returns a scalar tensor
that is differentiable in both.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

__all__ = ["coral_loss", "mk_mmd_loss", "entropy"]

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


def mk_mmd_loss(
    source: torch.Tensor,
    target: torch.Tensor,
    kernel_scales: Sequence[float] = DEFAULT_KERNEL_SCALES,
) -> torch.Tensor:
    """Multi-kernel maximum mean discrepancy (MK-MMD, Long et al., ICML 2015).

    The biased (V-statistic) quadratic-time estimate of the squared MMD,
    ``mean(K_ss) + mean(K_tt) - 2 mean(K_st)``, with ``K`` the average of
    Gaussian kernels ``exp(-||a - b||^2 / (s * sigma^2))`` over the scales
    ``s`` in ``kernel_scales``. ``sigma^2`` is the mean squared distance
    between distinct rows of the joint batch (not differentiated through), as
    in the DAN/JAN reference code. The biased estimate is never negative and
    is exactly 0 when both batches are the same rows.
    """
    joint = torch.cat([source, target])
    n, n_source = len(joint), len(source)
    d2 = _squared_distances(joint)
    bandwidth = d2.detach().sum() / max(n * n - n, 1)
    bandwidth = bandwidth.clamp_min(torch.finfo(d2.dtype).eps)
    kernel = sum(torch.exp(-d2 / (bandwidth * s)) for s in kernel_scales) / len(kernel_scales)
    k_ss = kernel[:n_source, :n_source].mean()
    k_tt = kernel[n_source:, n_source:].mean()
    k_st = kernel[:n_source, n_source:].mean()
    return k_ss + k_tt - 2.0 * k_st


def entropy(proba: torch.Tensor) -> torch.Tensor:
    """Shannon entropy (nats) of each row of class probabilities."""
    return -(proba * torch.log(proba.clamp_min(1e-12))).sum(dim=1)
