"""Metrics and reports for intent classifiers and feedback taggers, and optional plots."""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path

import numpy as np
from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support

from csnlp._validation import check_labels, check_texts

__all__ = [
    "expected_calibration_error",
    "evaluate_intents",
    "evaluate_tags",
    "reliability_curve",
    "save_intent_plots",
]

logger = logging.getLogger(__name__)


def reliability_curve(confidence, correct, n_bins: int = 10) -> list[dict]:
    """Per confidence bin: mean confidence, accuracy and count (only non-empty bins)."""
    confidence = np.asarray(confidence, dtype=float)
    correct = np.asarray(correct, dtype=float)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    idx = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, n_bins - 1)
    out = []
    for b in range(n_bins):
        mask = idx == b
        if mask.any():
            out.append(
                {
                    "low": float(edges[b]),
                    "high": float(edges[b + 1]),
                    "confidence": float(confidence[mask].mean()),
                    "accuracy": float(correct[mask].mean()),
                    "n": int(mask.sum()),
                }
            )
    return out


def expected_calibration_error(confidence, correct, n_bins: int = 10) -> float:
    """ECE: the count-weighted mean gap between confidence and accuracy over equal-width bins.

    Examples
    --------
    >>> expected_calibration_error([0.9, 0.9, 0.6, 0.6], [1, 1, 1, 0])
    0.1
    """
    bins = reliability_curve(confidence, correct, n_bins)
    n = sum(b["n"] for b in bins)
    if n == 0:
        return 0.0
    return round(sum(abs(b["confidence"] - b["accuracy"]) * b["n"] for b in bins) / n, 12)


def _per_label(y_true, y_pred, labels) -> dict:
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    return {
        str(label): {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "support": int(s[i])}
        for i, label in enumerate(labels)
    }


def evaluate_intents(model, X, y, *, top_confusions: int = 10) -> dict:
    """Score an intent classifier on labelled texts.

    Returns a JSON-safe dict with ``n``, ``accuracy``, ``macro_f1``, ``weighted_f1``, ``ece`` (expected
    calibration error of the top confidence), ``per_label`` (precision/recall/F1/support per intent),
    ``confusions`` (most frequent (true, predicted) pairs) and ``unknown_labels`` (labels in ``y`` that the
    model does not know; their texts count as errors).
    """
    texts = check_texts(X)
    labels = check_labels(y, len(texts))
    if not texts:
        raise ValueError("cannot evaluate on an empty list of texts")
    proba = model.predict_proba(texts)
    classes = np.asarray(model.classes_)
    pred = classes[proba.argmax(axis=1)]
    conf = proba.max(axis=1)
    y_true = np.asarray(labels, dtype=object)
    correct = pred.astype(object) == y_true
    all_labels = sorted(set(labels) | set(map(str, classes)))
    confusions = Counter((t, p) for t, p in zip(labels, pred.tolist()) if t != p)
    return {
        "n": len(texts),
        "accuracy": float(accuracy_score(y_true, pred.astype(object))),
        "macro_f1": float(f1_score(y_true, pred.astype(object), labels=sorted(set(labels)), average="macro", zero_division=0)),
        "weighted_f1": float(f1_score(y_true, pred.astype(object), average="weighted", zero_division=0)),
        "ece": float(expected_calibration_error(conf, correct)),
        "per_label": _per_label(y_true, pred.astype(object), all_labels),
        "confusions": [
            {"true": t, "predicted": p, "count": c} for (t, p), c in confusions.most_common(top_confusions)
        ],
        "unknown_labels": sorted(set(labels) - set(map(str, classes))),
        "reliability": reliability_curve(conf, correct),
    }


def evaluate_tags(y_true: list[list[str]], y_pred: list[list[str]], labels: list[str]) -> dict:
    """Micro/macro F1 and per-label P/R/F1 of multi-label predictions (lists of category ids)."""
    from sklearn.preprocessing import MultiLabelBinarizer

    mlb = MultiLabelBinarizer(classes=list(labels))
    known = set(labels)
    T = mlb.fit_transform([[l for l in ls if l in known] for ls in y_true])
    P = mlb.transform([[l for l in ls if l in known] for ls in y_pred])
    p, r, f, s = precision_recall_fscore_support(T, P, zero_division=0)
    return {
        "n": len(y_true),
        "micro_f1": float(f1_score(T, P, average="micro", zero_division=0)),
        "macro_f1": float(f1_score(T, P, average="macro", zero_division=0)),
        "samples_exact_match": float(np.mean([set(a) == set(b) for a, b in zip(y_true, y_pred)])) if y_true else 0.0,
        "per_label": {
            str(label): {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "support": int(s[i])}
            for i, label in enumerate(labels)
        },
        "unknown_labels": sorted({l for ls in y_true for l in ls} - known),
    }


def save_intent_plots(report: dict, model, X, y, out_dir: str | Path) -> list[Path]:
    """Write a confusion matrix and a reliability diagram as PNG (needs matplotlib: ``pip install csnlp[plots]``)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        from csnlp.exceptions import CsnlpError

        raise CsnlpError("plots need matplotlib: pip install 'csnlp[plots]'") from None
    from sklearn.metrics import confusion_matrix

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    texts, labels = check_texts(X), check_labels(y, len(X))
    pred = model.predict(texts)
    classes = sorted(set(labels) | set(map(str, model.classes_)))
    cm = confusion_matrix(labels, pred, labels=classes)
    fig, ax = plt.subplots(figsize=(max(6, len(classes) * 0.35), max(5, len(classes) * 0.35)))
    ax.imshow(cm, cmap="Blues")
    ax.set_xticks(range(len(classes)), classes, rotation=90, fontsize=7)
    ax.set_yticks(range(len(classes)), classes, fontsize=7)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"confusion matrix (accuracy {report['accuracy']:.3f})")
    fig.tight_layout()
    paths = [out_dir / "confusion_matrix.png"]
    fig.savefig(paths[0], dpi=120)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(5, 5))
    bins = report["reliability"]
    ax.plot([0, 1], [0, 1], "--", color="grey", label="perfect")
    ax.plot([b["confidence"] for b in bins], [b["accuracy"] for b in bins], "o-", label="model")
    ax.set_xlabel("confidence")
    ax.set_ylabel("accuracy")
    ax.set_title(f"reliability (ECE {report['ece']:.3f})")
    ax.legend()
    fig.tight_layout()
    paths.append(out_dir / "reliability.png")
    fig.savefig(paths[1], dpi=120)
    plt.close(fig)
    return paths
