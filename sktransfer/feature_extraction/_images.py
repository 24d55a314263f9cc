"""Reading images from arrays, PIL images or files, and preparing them for a CNN.

Everything here works one batch at a time, so that images read from files are
never all held in memory.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as F

#: The preprocessing a network was trained with: shorter side resized to
#: ``resize`` (bicubic, antialiased), centre crop of ``crop``, then
#: ``(x - mean) / std`` per channel on pixels in 0..255.
PREPROCESSINGS = {
    # EfficientNet-Lite (TensorFlow's preprocessing of the released weights)
    "efficientnet_lite": {"resize": 256, "crop": 224, "mean": (127.0,) * 3, "std": (128.0,) * 3},
    # torchvision's and timm's ImageNet models
    "imagenet": {
        "resize": 256,
        "crop": 224,
        "mean": (0.485 * 255, 0.456 * 255, 0.406 * 255),
        "std": (0.229 * 255, 0.224 * 255, 0.225 * 255),
    },
}


def _is_path(item) -> bool:
    return isinstance(item, (str, os.PathLike))


def _is_pil(item) -> bool:
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - Pillow is a dependency
        return False
    return isinstance(item, Image.Image)


class ImageSource:
    """Images given as one numeric array, or as a sequence of items.

    Parameters
    ----------
    X : ndarray or sequence
        A numeric array ``(n, H, W)``, ``(n, H, W, C)`` or ``(n, C, H, W)``
        (``data_format`` says which for 4-D), rows of flattened pixels
        ``(n, H*W*C)`` with ``image_shape``, or any 2-D array for a module that
        takes rows; or a sequence of image file paths, PIL images or per-image
        arrays ``(H, W)`` / ``(H, W, C)``, which may differ in size.
    """

    def __init__(self, X, data_format: str = "auto", image_shape=None):
        self.data_format = data_format
        self.image_shape = image_shape
        if isinstance(X, np.ndarray) and X.dtype != object and X.dtype.kind not in "US":
            self.kind = "array"
            self.X = X
        else:
            items = list(X.tolist() if isinstance(X, np.ndarray) else X)
            if not items:
                raise ValueError("X holds no images (an empty sequence)")
            for i, item in enumerate(items):
                if not (_is_path(item) or _is_pil(item) or isinstance(item, np.ndarray)):
                    raise TypeError(
                        "X must be a numeric array of images, or a sequence of image "
                        "file paths, PIL images or arrays; item "
                        f"{i} is a {type(item).__name__}"
                    )
            self.kind = "items"
            self.X = items
        if self.kind == "array":
            self._check_array_shape(self.X.shape)

    def __len__(self) -> int:
        return len(self.X)

    def _check_array_shape(self, shape) -> None:
        if len(shape) == 2:
            if self.image_shape is not None:
                expected = math.prod(self.image_shape)
                if shape[1] != expected:
                    raise ValueError(
                        f"image_shape={tuple(self.image_shape)} needs rows of {expected} "
                        f"pixels, but X has {shape[1]} columns"
                    )
            return
        if self.image_shape is not None:
            raise ValueError(
                "image_shape is for rows of flattened pixels (2-D X); X already has "
                f"shape {shape}"
            )
        if len(shape) not in (3, 4):
            raise ValueError(
                "images must be an array of rank 3 (n, H, W) or 4 (n, H, W, C) or "
                f"(n, C, H, W), or rows of flattened pixels with image_shape; got rank "
                f"{len(shape)}, shape {shape}"
            )
        if len(shape) == 3 and shape[-1] in (3, 4) and min(shape[1], shape[0]) > 4:
            raise ValueError(
                f"X has shape {shape}: read as {shape[0]} grey images of {shape[1]}x"
                f"{shape[2]} pixels, it looks like one colour image (H, W, {shape[-1]}); "
                "pass a batch of one, X[None], or a list of images"
            )
        if len(shape) == 4:
            self.channel_axis = _channel_axis(shape, self.data_format)

    @property
    def is_image(self) -> bool:
        """False for rows of a 2-D array without ``image_shape`` (fed as they are)."""
        return not (self.kind == "array" and self.X.ndim == 2 and self.image_shape is None)

    def batches(self, batch_size: int) -> Iterator[list | np.ndarray]:
        for start in range(0, len(self.X), batch_size):
            yield self.X[start : start + batch_size]

    def first(self):
        return self.X[:1]

    def load(self, batch) -> list[np.ndarray] | np.ndarray:
        """A batch as one array ``(n, C, H, W)`` (array input) or a list of
        ``(C, H, W)`` arrays (items, whose sizes may differ)."""
        if self.kind == "array":
            return self._array_to_nchw(np.asarray(batch))
        return [_item_to_chw(item, self.data_format) for item in batch]

    def _array_to_nchw(self, batch: np.ndarray) -> np.ndarray:
        if batch.ndim == 2:
            if self.image_shape is None:
                return batch  # rows for a module that takes rows
            shape = tuple(self.image_shape)
            batch = batch.reshape(len(batch), *shape)
            return batch[:, None] if len(shape) == 2 else batch.transpose(0, 3, 1, 2)
        if batch.ndim == 3:
            return batch[:, None]
        return batch.transpose(0, 3, 1, 2) if self.channel_axis == -1 else batch


def _channel_axis(shape, data_format: str) -> int:
    if data_format == "channels_last":
        return -1
    if data_format == "channels_first":
        return 1
    last, first = shape[-1] in (1, 3), shape[1] in (1, 3)
    if last and not first:
        return -1
    if first and not last:
        return 1
    if last and first:
        raise ValueError(
            f"cannot tell the channel axis of images of shape {shape}: both axis 1 "
            "and the last axis could hold 1 or 3 channels; set "
            "data_format='channels_last' or 'channels_first'"
        )
    raise ValueError(
        f"images of shape {shape} have neither 1 nor 3 channels on axis 1 or the "
        "last axis; expected (n, H, W, C) or (n, C, H, W) with C = 1 (grey) or 3 (RGB)"
    )


def _item_to_chw(item, data_format: str) -> np.ndarray:
    if _is_path(item):
        item = _read_image(item)
    elif _is_pil(item):
        item = np.asarray(item.convert("RGB"))
    arr = np.asarray(item)
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        raise ValueError("an image of X contains NaN or infinity")
    if arr.ndim == 2:
        return arr[None]
    if arr.ndim != 3:
        raise ValueError(
            f"each image must be (H, W) or (H, W, C) / (C, H, W); got shape {arr.shape}"
        )
    axis = _channel_axis((1, *arr.shape), data_format)
    return arr.transpose(2, 0, 1) if axis == -1 else arr


def _read_image(path) -> np.ndarray:
    """An RGB uint8 array ``(H, W, 3)`` from an image file; the file is closed."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            return np.asarray(image.convert("RGB"))
    except FileNotFoundError:
        raise ValueError(f"cannot read image file {os.fspath(path)!r}: no such file") from None
    except (UnidentifiedImageError, OSError) as exc:
        raise ValueError(f"cannot read image file {os.fspath(path)!r}: {exc}") from None


def _tensor(x: np.ndarray, dtype=None) -> torch.Tensor:
    """``x`` as a tensor, sharing its memory unless it is read-only.

    A read-only batch (a slice of a memory-mapped ``X``) is copied: torch cannot
    mark a tensor read-only, and warns that writing to one is undefined.
    """
    x = np.ascontiguousarray(x, dtype=dtype)
    return torch.from_numpy(x if x.flags.writeable else x.copy())


def _pixels_0_255(x: np.ndarray) -> torch.Tensor:
    """Float pixels on 0..255: integers as they are, floats from [0, 1]."""
    if x.dtype.kind == "f":
        if x.size and (np.nanmax(x) > 1.0 + 1e-6 or np.nanmin(x) < -1e-6):
            raise ValueError(
                "float images must hold pixels in [0, 1] (scikit-image's convention); "
                f"got values in [{np.nanmin(x):.3g}, {np.nanmax(x):.3g}]. Pass uint8 "
                "arrays for pixels in 0..255"
            )
        return _tensor(x, np.float32) * 255.0
    if x.dtype.kind in "iub":
        if x.size and (x.min() < 0 or x.max() > 255):
            raise ValueError(
                f"integer images must hold pixels in 0..255; got values in [{x.min()}, {x.max()}]"
            )
        return _tensor(x).float()
    raise TypeError(f"images must be numeric, got dtype {x.dtype}")


class Preprocessor:
    """Turns a loaded batch into the network's input tensor ``(n, C, H, W)``.

    Parameters
    ----------
    spec : str, callable or None
        A key of :data:`PREPROCESSINGS`; a callable taking a float tensor
        ``(n, C, H, W)`` of pixels as given and returning the network's input;
        or None (pixels cast to float32, nothing else).
    """

    def __init__(self, spec: str | Callable | None):
        self.spec = spec
        self.params = PREPROCESSINGS.get(spec) if isinstance(spec, str) else None

    def __call__(self, batch: list[np.ndarray] | np.ndarray) -> torch.Tensor:
        if self.params is None:
            x = _stack([_tensor(a, np.float32) for a in batch]) \
                if isinstance(batch, list) else _tensor(batch, np.float32)
            return self.spec(x) if callable(self.spec) else x
        if isinstance(batch, list):
            return torch.cat([self._resize_crop_normalise(_pixels_0_255(a)[None]) for a in batch])
        if batch.ndim != 4:
            raise ValueError(
                f"preprocessing={self.spec!r} is for images; X is 2-D (rows of "
                f"{batch.shape[1]} features): pass image_shape to read each row as an image"
            )
        return self._resize_crop_normalise(_pixels_0_255(batch))

    def _resize_crop_normalise(self, x: torch.Tensor) -> torch.Tensor:
        p = self.params
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        elif x.shape[1] != 3:
            raise ValueError(
                f"preprocessing={self.spec!r} needs grey (1) or RGB (3) channels, "
                f"got {x.shape[1]}"
            )
        h, w = x.shape[-2:]
        if min(h, w) != p["resize"]:
            scale = p["resize"] / min(h, w)
            size = (max(p["resize"], round(h * scale)), max(p["resize"], round(w * scale)))
            x = F.interpolate(x, size=size, mode="bicubic", antialias=True, align_corners=False)
            x = x.clamp_(0.0, 255.0)
        h, w = x.shape[-2:]
        top, left = (h - p["crop"]) // 2, (w - p["crop"]) // 2
        x = x[..., top : top + p["crop"], left : left + p["crop"]]
        mean = torch.tensor(p["mean"]).reshape(1, 3, 1, 1)
        std = torch.tensor(p["std"]).reshape(1, 3, 1, 1)
        return (x - mean) / std


def _stack(tensors: Sequence[torch.Tensor]) -> torch.Tensor:
    shapes = {tuple(t.shape) for t in tensors}
    if len(shapes) > 1:
        raise ValueError(
            f"the images have different shapes {sorted(shapes)} and the preprocessing "
            "does not resize them; use preprocessing='efficientnet_lite' or 'imagenet', "
            "or give images of one size"
        )
    return torch.stack(list(tensors))
