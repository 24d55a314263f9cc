"""Building blocks (``torch.nn`` modules) shared by sktransfer's estimators.

Every estimator takes its networks as a module class plus ``<name>__*``
parameters, or as a ready module instance. The classes here are the defaults;
any ``torch.nn.Module`` with the same input and output shapes works in their
place.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

__all__ = ["GradientReversal", "MLP", "ConvEncoder"]


class _ReverseGradient(torch.autograd.Function):
    """Identity on the forward pass; multiplies the gradient by ``-coef``."""

    @staticmethod
    def forward(ctx, x, coef):
        ctx.coef = coef
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad_output):
        return grad_output.neg() * ctx.coef, None


class GradientReversal(nn.Module):
    """Gradient reversal layer (Ganin & Lempitsky, ICML 2015).

    The identity on the forward pass; on the backward pass the gradient is
    multiplied by ``-coef``. Placed between a feature extractor and a domain
    classifier, it lets one optimiser step train the domain classifier to tell
    the domains apart while it trains the features to make them
    indistinguishable.

    Parameters
    ----------
    coef : float, default=1.0
        The adaptation factor (``lambda`` in the paper). Training schedules
        change it between batches by assigning ``layer.coef``.

    Examples
    --------
    >>> import torch
    >>> from sktransfer.nn import GradientReversal
    >>> x = torch.ones(3, requires_grad=True)
    >>> GradientReversal(coef=0.5)(x).sum().backward()
    >>> x.grad
    tensor([-0.5000, -0.5000, -0.5000])
    """

    def __init__(self, coef: float = 1.0):
        super().__init__()
        self.coef = coef

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _ReverseGradient.apply(x, float(self.coef))

    def extra_repr(self) -> str:
        return f"coef={self.coef}"


class MLP(nn.Module):
    """A multilayer perceptron: ``Linear`` + activation (+ dropout) per hidden layer.

    Parameters
    ----------
    n_features_in : int
        Width of the input. Estimators fill it in from the data.
    hidden_layer_sizes : sequence of int, default=(64, 64)
        Width of each hidden layer.
    n_outputs : int or None, default=None
        If given, a final ``Linear`` layer without activation maps the last
        hidden layer to ``n_outputs`` values (logits). If None, the output is
        the last hidden layer's activations (a feature extractor).
    activation : type of nn.Module, default=nn.ReLU
        Activation after each hidden layer.
    dropout : float, default=0.0
        Dropout probability after each hidden activation.

    Attributes
    ----------
    n_features_out : int
        Width of the output.

    Examples
    --------
    >>> import torch
    >>> from sktransfer.nn import MLP
    >>> MLP(n_features_in=2, hidden_layer_sizes=(8,), n_outputs=3)(torch.zeros(5, 2)).shape
    torch.Size([5, 3])
    """

    def __init__(
        self,
        n_features_in: int,
        hidden_layer_sizes: Sequence[int] = (64, 64),
        n_outputs: int | None = None,
        activation: type[nn.Module] = nn.ReLU,
        dropout: float = 0.0,
    ):
        super().__init__()
        layers: list[nn.Module] = []
        width = int(n_features_in)
        for size in hidden_layer_sizes:
            layers += [nn.Linear(width, int(size)), activation()]
            if dropout:
                layers.append(nn.Dropout(dropout))
            width = int(size)
        if n_outputs is not None:
            layers.append(nn.Linear(width, int(n_outputs)))
            width = int(n_outputs)
        self.layers = nn.Sequential(*layers)
        self.n_features_out = width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class ConvEncoder(nn.Module):
    """A small LeNet-style ConvNet feature extractor for images.

    Two blocks of 5x5 convolution, ReLU and 2x2 max pooling, then a fully
    connected layer. Inputs may be images ``(n, C, H, W)`` or rows of
    flattened pixels ``(n, C*H*W)``, reshaped with ``input_shape``.

    Parameters
    ----------
    input_shape : tuple of int, default=(1, 28, 28)
        ``(channels, height, width)`` of one image.
    channels : sequence of int, default=(32, 48)
        Output channels of the convolution blocks.
    n_features_out : int, default=100
        Width of the final fully connected layer (the features).
    dropout : float, default=0.0
        Dropout probability before the fully connected layer.

    Examples
    --------
    >>> import torch
    >>> from sktransfer.nn import ConvEncoder
    >>> ConvEncoder(input_shape=(1, 16, 16))(torch.zeros(4, 256)).shape
    torch.Size([4, 100])
    """

    def __init__(
        self,
        input_shape: Sequence[int] = (1, 28, 28),
        channels: Sequence[int] = (32, 48),
        n_features_out: int = 100,
        dropout: float = 0.0,
    ):
        super().__init__()
        self.input_shape = tuple(int(s) for s in input_shape)
        if len(self.input_shape) != 3:
            raise ValueError(
                f"input_shape must be (channels, height, width), got {input_shape!r}"
            )
        blocks: list[nn.Module] = []
        c_in, h, w = self.input_shape
        for c_out in channels:
            blocks += [
                nn.Conv2d(c_in, int(c_out), kernel_size=5, padding=2),
                nn.ReLU(),
                nn.MaxPool2d(2),
            ]
            c_in, h, w = int(c_out), h // 2, w // 2
        self.conv = nn.Sequential(*blocks)
        self.fc = nn.Sequential(
            nn.Flatten(),
            nn.Dropout(dropout),
            nn.Linear(c_in * h * w, int(n_features_out)),
            nn.ReLU(),
        )
        self.n_features_out = int(n_features_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 2:
            if x.shape[1] != math.prod(self.input_shape):
                raise ValueError(
                    f"ConvEncoder expects rows of {math.prod(self.input_shape)} "
                    f"pixels for input_shape={self.input_shape}, got {x.shape[1]}"
                )
            x = x.reshape(-1, *self.input_shape)
        return self.fc(self.conv(x))
