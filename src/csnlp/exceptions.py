"""Errors raised by csnlp.

Every error a user can cause is a :class:`CsnlpError`. Each child also derives from the built-in
exception a Python programmer would expect, so ``except ValueError`` keeps working.
"""

from __future__ import annotations

__all__ = [
    "CsnlpError",
    "InputError",
    "DataFormatError",
    "IntegrityError",
    "IncompatibleModelError",
    "BundleExistsError",
    "PolicyError",
    "NotFittedError",
    "TuningError",
]

from sklearn.exceptions import NotFittedError as _SklearnNotFittedError


class CsnlpError(Exception):
    """Base class of every error csnlp raises on purpose."""


class InputError(CsnlpError, TypeError):
    """A function got an argument of the wrong type or shape (a bare str where a list is expected, None, bytes...)."""


class DataFormatError(CsnlpError, ValueError):
    """A training, evaluation or log file (or a record in it) is malformed. The message names file and line."""


class IntegrityError(CsnlpError, ValueError):
    """A model bundle is truncated, edited or otherwise does not match its checksums."""


class IncompatibleModelError(CsnlpError, ValueError):
    """A model bundle was written in a format this version of csnlp cannot read."""


class BundleExistsError(CsnlpError, FileExistsError):
    """Saving would overwrite an existing bundle and ``overwrite=True`` was not given."""


class PolicyError(CsnlpError, ValueError):
    """A routing policy or knowledge-base file has a missing, unknown or invalid key."""


class NotFittedError(CsnlpError, _SklearnNotFittedError):
    """A model was used before ``fit`` (also a scikit-learn ``NotFittedError``)."""


class TuningError(CsnlpError, ValueError):
    """Threshold tuning was asked to use data it must not use (e.g. the training data without cross-validation)."""
