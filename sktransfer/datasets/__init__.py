"""Toy and benchmark datasets for transfer learning.

Every domain loader returns ``X, y, sample_domain`` with the true labels of all rows;
:func:`mask_target_labels` hides the target labels (``-1``) before fitting.
``sample_domain`` holds positive ids for source domains and negative ids for
target domains. :func:`load_awa_attributes` returns the Animals-with-Attributes
class table for zero-shot learning. The benchmark files are read from a local folder
(:func:`get_data_home`); nothing is downloaded.
"""

from ._base import get_data_home, mask_target_labels
from ._benchmarks import (
    AMAZON_REVIEWS_DOMAINS,
    MNIST_USPS_DOMAINS,
    OFFICE_CALTECH_DOMAINS,
    load_amazon_reviews,
    load_domain,
    load_mnist_usps,
    load_office_caltech,
)
from ._moons import make_rotated_moons
from ._zsl import load_awa_attributes

__all__ = [
    "AMAZON_REVIEWS_DOMAINS",
    "MNIST_USPS_DOMAINS",
    "OFFICE_CALTECH_DOMAINS",
    "get_data_home",
    "load_amazon_reviews",
    "load_awa_attributes",
    "load_domain",
    "load_mnist_usps",
    "load_office_caltech",
    "make_rotated_moons",
    "mask_target_labels",
]
