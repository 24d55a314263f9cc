"""CNN codes: the activations of a pretrained ConvNet as features."""

from __future__ import annotations

import functools
import numbers
import os
from collections.abc import Callable

import numpy as np
import torch
from sklearn.base import ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils.validation import check_array, check_is_fitted, validate_data
from torch import nn
from tqdm.auto import tqdm

from ..base import TransferNetBase
from ..nn import EfficientNetLite0
from ._images import PREPROCESSINGS, ImageSource, Preprocessor, _is_pil

__all__ = ["CNNFeatureExtractor"]


class _Captured(Exception):
    """Raised by a hook once the requested activations are in hand: the rest
    of the network is not computed."""


class CNNFeatureExtractor(ClassNamePrefixFeaturesOutMixin, TransformerMixin, TransferNetBase):
    """CNN codes: the activations of a pretrained ConvNet, ready for a linear model.

    Runs images through a network (by default EfficientNet-Lite0 with its
    ImageNet weights, shipped offline) and returns the activations of one of
    its layers, pooled over space, one row per image. ``fit`` only loads the
    network and checks the layer; nothing is trained, so the transformer fits
    in a ``Pipeline`` before e.g. ``LogisticRegression`` and clones cheaply.

    Parameters
    ----------
    module : nn.Module class or instance, default=None
        The network. None means :class:`sktransfer.nn.EfficientNetLite0` with
        its ImageNet weights (``module__pretrained=False`` for random ones).
        An instance is deep-copied at fit; a class is built with
        ``module__*`` parameters. Any ``torch.nn.Module`` works, e.g. a
        torchvision or timm model (use ``preprocessing="imagenet"`` for those).
    layer : str, default=None
        Name of the module (as in ``module.named_modules()``) whose output
        becomes the features, e.g. ``"blocks.10"`` for a middle layer of the
        default network. None means the input of the network's last
        ``nn.Linear`` (its head), i.e. the pooled final features (1280 for
        EfficientNet-Lite0), or the network's output if it has no linear
        layer. Layers after the chosen one are not computed.
    pooling : {"avg", "max"} or None, default="avg"
        How activations with spatial axes ``(n, C, H, W)`` become one row per
        image: mean or max over the spatial axes (C features), or None to
        flatten them (C*H*W features).
    preprocessing : {"auto", "efficientnet_lite", "imagenet"}, callable or None, default="auto"
        ``"efficientnet_lite"``: shorter side resized to 256 (bicubic), centre
        crop 224, ``(x - 127) / 128`` on 0..255 pixels (the default network's
        own). ``"imagenet"``: the same resizing, then ImageNet mean/std
        normalisation (torchvision and timm models). Both take uint8 pixels
        (0..255) or floats in [0, 1], grey or RGB. A callable receives a float
        tensor ``(n, C, H, W)`` of the pixels as given and returns the
        network's input. None feeds the pixels as float32. ``"auto"`` is
        ``"efficientnet_lite"`` for the bundled EfficientNet-Lite0 (the
        default, or ``sktransfer.nn.EfficientNetLite0`` passed as ``module``)
        and None otherwise.
    data_format : {"auto", "channels_last", "channels_first"}, default="auto"
        Axis order of 4-D image arrays: ``(n, H, W, C)`` or ``(n, C, H, W)``;
        ``"auto"`` finds the axis with 1 or 3 channels.
    image_shape : tuple of int, default=None
        ``(H, W)`` or ``(H, W, C)``: read each row of a 2-D ``X`` as a
        flattened image (as in ``sklearn.datasets.load_digits``). Without it,
        a 2-D ``X`` goes to the network as rows of features.
    batch_size : int, default=32
        Images per forward pass. Images read from files are loaded one batch
        at a time and never all held in memory.
    device : str or torch.device, default="cpu"
        Where the network runs, e.g. ``"cuda"``.
    channels_last : bool, default=True
        Run the network in the channels-last memory layout (faster on CPUs).
    inference_mode : bool, default=True
        Run under ``torch.inference_mode`` (else ``torch.no_grad``).
    random_state : int, RandomState instance or None, default=None
        Seeds the weights of a network built from a class without pretrained
        weights; pretrained weights do not depend on it.
    verbose : int, default=0
        If positive, show a progress bar over the images.
    **kwargs
        ``module__*`` parameters for a module class.

    Attributes
    ----------
    module_ : nn.Module
        The network, in eval mode.
    layer_ : str or None
        The layer whose output (or, for None, the head's input) is returned.
    n_features_in_ : int
        Columns of ``X`` at fit, when ``X`` was a 2-D array.
    feature_names_in_ : ndarray of str
        Column names of ``X`` at fit, when it was a DataFrame with string column names.

    See Also
    --------
    sktransfer.nn.EfficientNetLite0 : The default network.
    sktransfer.FineTuneClassifier : Train the network's layers too.

    References
    ----------
    A. S. Razavian, H. Azizpour, J. Sullivan and S. Carlsson. CNN Features
    off-the-shelf: an Astounding Baseline for Recognition. CVPR Workshops 2014.

    J. Donahue, Y. Jia, O. Vinyals, J. Hoffman, N. Zhang, E. Tzeng and
    T. Darrell. DeCAF: A Deep Convolutional Activation Feature for Generic
    Visual Recognition. ICML 2014.

    Examples
    --------
    >>> from skimage import data
    >>> from sktransfer.feature_extraction import CNNFeatureExtractor
    >>> images = [data.chelsea(), data.coffee(), data.astronaut()]
    >>> codes = CNNFeatureExtractor().fit_transform(images)
    >>> codes.shape
    (3, 1280)
    >>> CNNFeatureExtractor(layer="blocks.5").fit_transform(images).shape
    (3, 80)
    """

    _net_prefixes = ()

    def __init__(
        self,
        module=None,
        *,
        layer: str | None = None,
        pooling: str | None = "avg",
        preprocessing: str | Callable | None = "auto",
        data_format: str = "auto",
        image_shape: tuple[int, ...] | None = None,
        batch_size: int = 32,
        device="cpu",
        channels_last: bool = True,
        inference_mode: bool = True,
        random_state=None,
        verbose: int = 0,
        **kwargs,
    ):
        self.module = module
        self.layer = layer
        self.pooling = pooling
        self.preprocessing = preprocessing
        self.data_format = data_format
        self.image_shape = image_shape
        self.batch_size = batch_size
        self.device = device
        self.channels_last = channels_last
        self.inference_mode = inference_mode
        self.random_state = random_state
        self.verbose = verbose
        self._store_kwargs(kwargs)

    # ------------------------------------------------------------------
    def _check_params(self) -> None:
        self._check_prefixed_params()
        if self.pooling not in ("avg", "max", None):
            raise ValueError(f"pooling must be 'avg', 'max' or None, got {self.pooling!r}")
        if not (
            self.preprocessing in ("auto", None, *PREPROCESSINGS) or callable(self.preprocessing)
        ):
            raise ValueError(
                "preprocessing must be 'auto', one of "
                f"{sorted(PREPROCESSINGS)}, a callable or None, got {self.preprocessing!r}"
            )
        if self.data_format not in ("auto", "channels_last", "channels_first"):
            raise ValueError(
                "data_format must be 'auto', 'channels_last' or 'channels_first', "
                f"got {self.data_format!r}"
            )
        if self.image_shape is not None and (
            len(tuple(self.image_shape)) not in (2, 3)
            or not all(isinstance(s, numbers.Integral) and s > 0 for s in self.image_shape)
        ):
            raise ValueError(
                f"image_shape must be (H, W) or (H, W, C) of positive ints, got {self.image_shape!r}"
            )
        if not isinstance(self.batch_size, numbers.Integral) or self.batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {self.batch_size!r}")
        if self.layer is not None and not isinstance(self.layer, str):
            raise TypeError(f"layer must be a module name (str) or None, got {self.layer!r}")
        self._device()

    def _preprocessing(self):
        if self.preprocessing == "auto":
            return "efficientnet_lite" if self._is_default_network() else None
        return self.preprocessing

    def _is_default_network(self) -> bool:
        """The bundled EfficientNet-Lite0: None, the class, a partial of it, or an instance."""
        from ..nn import EfficientNetLite0

        module = self.module
        while isinstance(module, functools.partial):
            module = module.func
        return module is None or module is EfficientNetLite0 or isinstance(module, EfficientNetLite0)

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "module_")

    # ------------------------------------------------------------------
    def fit(self, X, y=None):
        """Load the network, check ``layer`` and the input on the first image.

        Parameters
        ----------
        X : array-like or sequence of images
            Images as an array ``(n, H, W)``, ``(n, H, W, C)`` or
            ``(n, C, H, W)``; rows of flattened pixels with ``image_shape``;
            or a sequence of image file paths, PIL images or arrays. Only the
            first image is read.
        y : None
            Ignored.

        Returns
        -------
        self : CNNFeatureExtractor
            The fitted transformer.
        """
        self.__dict__.pop("module_", None)
        self._check_params()
        source = self._image_source(X, reset=True)
        with self._rng_context():
            module = self._build_module(
                "module", EfficientNetLite0, {"pretrained": True},
                **({"n_features_in": self.n_features_in_} if not source.is_image else {}),
            )
        module.eval()
        names = dict(module.named_modules())
        if self.layer is not None and self.layer not in names:
            valid = ", ".join(repr(n) for n in names if n)
            raise ValueError(f"layer={self.layer!r} is not a module of the network; valid names: {valid}")
        self.layer_ = self.layer
        if self.layer is None:
            linear = [name for name, m in module.named_modules() if isinstance(m, nn.Linear)]
            self.layer_ = linear[-1] if linear else None
        self._capture_input = self.layer is None and self.layer_ is not None
        device = self._device()
        module.to(device)
        if self.channels_last:
            module.to(memory_format=torch.channels_last)
        self.module_ = module
        try:
            probe = self._extract(source.load(source.first()))
        except ValueError:
            del self.module_
            raise
        except Exception as exc:  # a torch shape error, most often
            del self.module_
            raise ValueError(
                f"the network failed on the first image of X: {exc}"
            ) from exc
        self._n_features_out = probe.shape[1]
        return self

    def transform(self, X):
        """The activations of ``layer`` for each image.

        Parameters
        ----------
        X : array-like or sequence of images
            As for :meth:`fit`; images may differ in size from those at fit when
            the preprocessing resizes them.

        Returns
        -------
        features : ndarray of shape (n_images, n_features_out)
            One float32 row per image.
        """
        check_is_fitted(self)
        source = self._image_source(X, reset=False)
        outputs = []
        with tqdm(total=len(source), disable=not self.verbose, unit="img",
                  desc=type(self).__name__) as bar:
            for batch in source.batches(self.batch_size):
                outputs.append(self._extract(source.load(batch)))
                bar.update(len(batch))
        return np.concatenate(outputs).astype(np.float32, copy=False)

    # ------------------------------------------------------------------
    def _image_source(self, X, reset: bool) -> ImageSource:
        if hasattr(X, "iloc") and getattr(X, "ndim", 2) == 1:
            X = X.tolist()  # a pandas Series of paths or images
        elif (
            getattr(X, "ndim", None) == 2
            and X.shape[1] == 1
            and (hasattr(X, "iloc") or getattr(getattr(X, "dtype", None), "kind", "") in "OUS")
        ):
            # one column of paths or images (what ColumnTransformer hands a step)
            column = X.iloc[:, 0] if hasattr(X, "iloc") else X[:, 0]
            if _is_item_sequence(list(column)):
                X = list(column)
        if _is_item_sequence(X):
            if reset:
                self.__dict__.pop("n_features_in_", None)
            return ImageSource(X, self.data_format)
        ndim = X.ndim if hasattr(X, "ndim") else np.asarray(X).ndim
        if ndim == 2 or hasattr(X, "toarray"):
            # rows of features, or of flattened pixels with image_shape
            X = validate_data(self, X, reset=reset, dtype="numeric", ensure_min_samples=1)
        else:
            if reset:
                self.__dict__.pop("n_features_in_", None)
            X = check_array(X, allow_nd=True, dtype="numeric")
        return ImageSource(X, self.data_format, self.image_shape)

    def _extract(self, batch) -> np.ndarray:
        x = Preprocessor(self._preprocessing())(batch)
        device = next(self.module_.parameters(), torch.empty(0)).device
        x = x.to(device)
        if self.channels_last and x.dim() == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        grad_context = torch.inference_mode() if self.inference_mode else torch.no_grad()
        with grad_context:
            features = self._forward_to_layer(x)
        return self._pool(features).float().cpu().numpy()

    def _forward_to_layer(self, x: torch.Tensor) -> torch.Tensor:
        if self.layer_ is None:
            return self.module_(x)
        captured = []
        target = self.module_.get_submodule(self.layer_)
        if self._capture_input:
            def hook(_module, args):
                captured.append(args[0])
                raise _Captured
            handle = target.register_forward_pre_hook(hook)
        else:
            def hook(_module, _args, output):
                captured.append(output)
                raise _Captured
            handle = target.register_forward_hook(hook)
        try:
            self.module_(x)
        except _Captured:
            pass
        finally:
            handle.remove()
        if not captured:
            raise ValueError(
                f"layer {self.layer_!r} was not called in the network's forward pass"
            )
        out = captured[0]
        if not isinstance(out, torch.Tensor):
            raise TypeError(
                f"layer {self.layer_!r} returned a {type(out).__name__}, not a tensor"
            )
        return out

    def _pool(self, features: torch.Tensor) -> torch.Tensor:
        if features.dim() <= 1:
            return features.reshape(-1, 1)
        if features.dim() == 2:
            return features
        if self.pooling == "avg":
            return features.flatten(2).mean(dim=2)
        if self.pooling == "max":
            return features.flatten(2).amax(dim=2)
        return features.flatten(1)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags


def _is_item_sequence(X) -> bool:
    """True for a sequence of image files, PIL images or per-image arrays."""
    if isinstance(X, np.ndarray):
        if X.dtype.kind in "US":
            return True
        if X.dtype.kind != "O" or X.ndim != 1:
            return False
    elif not isinstance(X, (list, tuple)):
        return False
    if len(X) == 0:
        return False
    first = X[0]
    return (
        isinstance(first, (str, os.PathLike))
        or _is_pil(first)
        or (isinstance(first, np.ndarray) and first.ndim >= 2)
    )
