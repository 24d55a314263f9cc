"""Features from pretrained networks: CNN codes."""

from ._cnn import CNNFeatureExtractor

__all__ = ["CNNFeatureExtractor"]
