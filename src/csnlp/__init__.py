"""csnlp: Chinese customer-service NLP.

Normalise chat text, classify intents, route each message to the bot or a person, tag complaints, and
report over conversation logs.
"""

from __future__ import annotations

__version__ = "0.1.0"

from csnlp.exceptions import (
    BundleExistsError,
    CsnlpError,
    DataFormatError,
    IncompatibleModelError,
    InputError,
    IntegrityError,
    NotFittedError,
    PolicyError,
)
from csnlp.text import mask, normalize, preprocess

__all__ = [
    "__version__",
    "BundleExistsError",
    "CsnlpError",
    "DataFormatError",
    "IncompatibleModelError",
    "InputError",
    "IntegrityError",
    "NotFittedError",
    "PolicyError",
    "mask",
    "normalize",
    "preprocess",
]
