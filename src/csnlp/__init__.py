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
import logging as _logging

from csnlp.datasets import Dataset, load_dataset
from csnlp.default import load_default
from csnlp.intent import IntentClassifier, Prediction
from csnlp.persistence import load, read_manifest, save
from csnlp.policy import Policy
from csnlp.route import Decision, Router
from csnlp.text import mask, normalize, preprocess
from csnlp.tokenizer import JiebaTokenizer

# The library logs but never configures logging; a NullHandler keeps Python's last-resort printer quiet.
_logging.getLogger(__name__).addHandler(_logging.NullHandler())

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
    "Dataset",
    "Decision",
    "Policy",
    "Router",
    "IntentClassifier",
    "JiebaTokenizer",
    "Prediction",
    "load",
    "load_dataset",
    "load_default",
    "mask",
    "normalize",
    "preprocess",
    "read_manifest",
    "save",
]
