"""Training from files: read the data, fit, score on a dev set, and record where the model came from."""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path

import numpy as np

from csnlp.datasets import Dataset, load_dataset
from csnlp.evaluation import evaluate_intents
from csnlp.exceptions import InputError
from csnlp.intent import IntentClassifier

__all__ = ["check_seed", "read_config", "train_intent_classifier"]

logger = logging.getLogger(__name__)


def read_config(path: str | os.PathLike | None) -> dict:
    """Hyper-parameters from a JSON or YAML file (a flat mapping of parameter names to values)."""
    if path is None:
        return {}
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() in (".yml", ".yaml"):
        import yaml

        try:
            config = yaml.safe_load(text) or {}
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" line {mark.line + 1}" if mark is not None else ""
            raise InputError(f"{path}{where}: not valid YAML ({getattr(exc, 'problem', None) or 'syntax error'})") from None
    else:
        try:
            config = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(config, dict):
        raise InputError(f"{path}: expected a mapping of parameter names to values")
    return config


def check_seed(seed: object) -> int | None:
    """``seed`` as an int when it is None or a whole number in [0, 2**32 - 1] (what NumPy and scikit-learn accept).

    Examples
    --------
    >>> check_seed(42)
    42
    >>> check_seed(-5)
    Traceback (most recent call last):
    ...
    csnlp.exceptions.InputError: seed must be a whole number from 0 to 4294967295, got -5: e.g. --seed 0
    """
    if seed is None:
        return None
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**32:
        raise InputError(f"seed must be a whole number from 0 to {2**32 - 1}, got {seed!r}: e.g. --seed 0")
    return int(seed)


def _make_classifier(config: dict, seed: int | None) -> IntentClassifier:
    seed = check_seed(seed)
    allowed = set(IntentClassifier().get_params())
    unknown = sorted(set(config) - allowed)
    if unknown:
        raise InputError(f"unknown IntentClassifier parameter(s) {unknown} in the config: allowed are {sorted(allowed)}")
    params = dict(config)
    if seed is not None:
        params["random_state"] = seed
    for key in ("word_ngram_range", "char_ngram_range"):
        if isinstance(params.get(key), list):
            params[key] = tuple(params[key])
    clf = IntentClassifier(**params)
    try:
        clf._check_params()
    except ValueError as exc:
        raise InputError(f"bad parameter in the config: {exc}") from None
    return clf


def train_intent_classifier(
    data: Dataset | str | os.PathLike,
    *,
    config: dict | None = None,
    seed: int | None = None,
    dev: Dataset | str | os.PathLike | None = None,
    **read_options,
) -> IntentClassifier:
    """Fit an :class:`IntentClassifier` on a data file (or a :class:`Dataset`).

    The model's ``bundle_metadata_`` records the training data's fingerprint, its size, the training time
    and, when ``dev`` is given, the dev-set metrics; :func:`csnlp.save` writes them into the manifest.
    """
    check_seed(seed)  # before reading what may be a large file
    ds = data if isinstance(data, Dataset) else load_dataset(data, **read_options)
    if ds.multi_label:
        raise InputError(f"{ds.source} has multi-label records: train a feedback tagger (--task tag) instead")
    clf = _make_classifier(config or {}, seed)
    start = time.perf_counter()
    clf.fit(ds.texts, ds.labels)
    seconds = time.perf_counter() - start
    logger.info("trained on %d texts, %d intents in %.1f s", len(ds), len(clf.classes_), seconds)
    metrics = None
    if dev is not None:
        dev_ds = dev if isinstance(dev, Dataset) else load_dataset(dev, **read_options)
        report = evaluate_intents(clf, dev_ds.texts, dev_ds.labels)
        metrics = {k: report[k] for k in ("n", "accuracy", "macro_f1", "ece")} | {"data": dev_ds.source}
    clf.bundle_metadata_ = {
        "training_data_sha256": ds.fingerprint(),
        "metrics": metrics,
        "training": {"n_texts": len(ds), "source": Path(ds.source).name, "seconds": round(seconds, 2),
                     "bad_lines_skipped": len(ds.bad_lines)},
    }
    return clf
