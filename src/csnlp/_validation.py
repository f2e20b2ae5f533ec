"""Input checks shared by every estimator: what arrives from users must be a list of str."""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from csnlp.exceptions import InputError

#: Messages longer than this many characters are cut before any model sees them (documented limit).
MAX_TEXT_LENGTH = 2000


def check_texts(X, name: str = "X") -> list[str]:
    """Return ``X`` as a list of str, or raise :class:`InputError` naming the fix.

    Accepts lists, tuples, numpy arrays, pandas Series and any other iterable of str. A bare str, bytes,
    None or numbers are refused; so are elements that are not str (None, NaN, bytes, numbers, dicts).
    """
    if isinstance(X, str):
        raise InputError(f"expected an iterable of texts, got a single str: wrap it in a list, e.g. [{X[:20]!r}]")
    if isinstance(X, (bytes, bytearray)):
        raise InputError("expected an iterable of texts, got bytes: decode it and wrap it in a list")
    if X is None or isinstance(X, (int, float, dict)) or not isinstance(X, (Iterable, np.ndarray)):
        raise InputError(f"expected an iterable of texts, got {type(X).__name__}")
    texts = list(X.ravel()) if isinstance(X, np.ndarray) else list(X)
    for i, t in enumerate(texts):
        if type(t) is str:
            continue
        if isinstance(t, str):  # str subclasses such as numpy.str_
            texts[i] = str(t)
            continue
        if isinstance(t, float) and math.isnan(t):
            raise InputError(f"{name}[{i}] is NaN (a missing value): drop or fill missing texts first")
        if isinstance(t, (bytes, bytearray)):
            raise InputError(f"{name}[{i}] is bytes: decode it first, e.g. .decode('utf-8')")
        raise InputError(f"{name}[{i}] must be str, got {type(t).__name__}")
    return texts


def check_labels(y, n: int, name: str = "y") -> list:
    """Labels as a list of length ``n``: all int when every label is an int, else all str.

    Refuses missing or non-scalar labels. Keeping int labels int lets ``score`` and cross-validation compare
    predictions with ``y``; anything else becomes str (model bundles store labels as JSON).
    """
    if isinstance(y, str):
        raise InputError(f"expected one label per text, got a single str for {name}: pass a list")
    if y is None:
        raise InputError(f"{name} is None: pass one label per text")
    labels = list(np.asarray(y, dtype=object).ravel()) if isinstance(y, np.ndarray) else list(y)
    if len(labels) != n:
        raise InputError(f"got {n} texts but {len(labels)} labels: pass exactly one label per text")
    out = []
    for i, label in enumerate(labels):
        if label is None or (isinstance(label, float) and math.isnan(label)):
            raise InputError(f"{name}[{i}] is missing: every text needs a label")
        if isinstance(label, (list, tuple, set, dict, bytes)):
            raise InputError(f"{name}[{i}] must be a single label, got {type(label).__name__}")
        out.append(label)
    if out and all(isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)) for v in out):
        return [int(v) for v in out]
    out = [str(v).strip() for v in out]
    for i, label in enumerate(out):
        if not label:
            raise InputError(f"{name}[{i}] is an empty label")
    return out
