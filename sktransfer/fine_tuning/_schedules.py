"""Training schedules of fine-tuning (Howard & Ruder, ACL 2018), as skorch callbacks.

- :func:`slanted_triangular`: the slanted triangular learning rate (STLR);
- :class:`_LRSchedule`: sets every optimiser group's learning rate per batch
  (STLR or constant) and records ``lr`` in the history after every epoch;
- :class:`_GradualUnfreezing`: unfreezes one more layer group from the top
  every ``every`` epochs.
"""

from __future__ import annotations

import math
import numbers

from skorch.callbacks import Callback

from ..base import _is_finite_real

__all__ = ["slanted_triangular"]


def slanted_triangular(step: int, n_steps: int, cut_frac: float = 0.1, ratio: float = 32) -> float:
    """Factor of the maximal learning rate at ``step`` of the slanted triangular schedule.

    With ``cut = floor(n_steps * cut_frac)``, the rate rises linearly for
    ``cut`` steps from ``1 / ratio`` to 1, then decays linearly back to
    ``1 / ratio`` over ``cut * (1 / cut_frac - 1)`` steps and stays there
    (Howard & Ruder 2018, eq. 3; when ``n_steps * cut_frac`` is not a whole
    number the decay ends a few steps before ``n_steps``)::

        p = t / cut                                     if t < cut
        p = 1 - (t - cut) / (cut * (1 / cut_frac - 1))  otherwise
        factor = (1 + p * (ratio - 1)) / ratio

    Parameters
    ----------
    step : int
        Training iteration ``t``, from 0.
    n_steps : int
        Number of training iterations ``T`` (epochs times batches per epoch).
    cut_frac : float, default=0.1
        Fraction of the iterations spent increasing the learning rate.
    ratio : float, default=32
        How much smaller the lowest learning rate is than the highest.

    Returns
    -------
    factor : float
        Multiplier of the maximal learning rate, in ``[1 / ratio, 1]``.

    References
    ----------
    J. Howard and S. Ruder. Universal Language Model Fine-tuning for Text
    Classification. ACL 2018.

    Examples
    --------
    >>> from sktransfer.fine_tuning import slanted_triangular
    >>> [round(slanted_triangular(t, 100), 3) for t in (0, 5, 10, 55, 100)]
    [0.031, 0.516, 1.0, 0.516, 0.031]
    """
    if not (isinstance(n_steps, numbers.Integral) and not isinstance(n_steps, bool) and n_steps >= 1):
        raise ValueError(f"n_steps must be a positive integer, got {n_steps!r}")
    if not (isinstance(cut_frac, numbers.Real) and 0 < cut_frac < 1):
        raise ValueError(f"cut_frac must be a number in (0, 1), got {cut_frac!r}")
    if not (_is_finite_real(ratio) and ratio >= 1):
        raise ValueError(f"ratio must be a finite number >= 1, got {ratio!r}")
    cut = max(math.floor(n_steps * cut_frac), 1)
    if step < cut:
        p = step / cut
    else:
        p = 1 - (step - cut) / (cut * (1 / cut_frac - 1))
    p = min(max(p, 0.0), 1.0)
    return (1 + p * (ratio - 1)) / ratio


class _LRSchedule(Callback):
    """Per-batch learning rates of every optimiser group; ``lr`` recorded per epoch.

    ``schedule`` is ``"constant"`` or ``"slanted_triangular"``; the factor
    multiplies each group's initial rate, so discriminative rates keep their
    ratios. The history gets ``lr`` (the head's rate, the highest, as used by the
    epoch's last batch) and ``group_lrs`` (every group's, head first).
    """

    def __init__(self, schedule="constant", n_steps=1, cut_frac=0.1, ratio=32):
        self.schedule = schedule
        self.n_steps = n_steps
        self.cut_frac = cut_frac
        self.ratio = ratio

    def on_train_begin(self, net, **kwargs):
        self.step_ = 0
        self.base_lrs_ = [group["lr"] for group in net.optimizer_.param_groups]

    def on_batch_begin(self, net, training=False, **kwargs):
        if not training:
            return
        if self.schedule == "slanted_triangular":
            factor = slanted_triangular(self.step_, self.n_steps, self.cut_frac, self.ratio)
            for group, base_lr in zip(net.optimizer_.param_groups, self.base_lrs_):
                group["lr"] = base_lr * factor
        self.step_ += 1

    def on_epoch_end(self, net, **kwargs):
        lrs = [group["lr"] for group in net.optimizer_.param_groups]
        net.history.record("lr", lrs[0])
        net.history.record("group_lrs", lrs)


class _GradualUnfreezing(Callback):
    """Gradual unfreezing (ULMFiT): the head first, then one more group from the top.

    At the start of epoch ``e`` (from 0), the head and the top
    ``min(e // every, n_groups)`` layer groups are trainable; the other groups
    are frozen (``requires_grad=False``). Parameters in ``always_frozen`` stay
    frozen. Records ``unfrozen_groups`` per epoch.
    """

    def __init__(self, groups, always_frozen=(), every=1):
        self.groups = groups  # list of lists of parameter names of net.module_, bottom first
        self.always_frozen = always_frozen
        self.every = every

    def on_epoch_begin(self, net, **kwargs):
        epoch = len(net.history) - 1
        n_unfrozen = min(epoch // self.every, len(self.groups))
        params = dict(net.module_.named_parameters())
        always = set(self.always_frozen)
        for depth, names in enumerate(reversed(self.groups)):
            trainable = depth < n_unfrozen
            for name in names:
                params[name].requires_grad_(trainable and name not in always)
        net.history.record("unfrozen_groups", n_unfrozen)
