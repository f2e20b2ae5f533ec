"""Threshold tuning: answer as much as possible while answered precision stays at or above a target.

Scores come either from held-out data the model never saw, or from K-fold cross-validated predictions on the
training data (the model's configuration refitted on each fold), which is how a team without a held-out set
tunes. The risk-coverage curve says, for every threshold, which share of messages the bot would answer
(coverage, the expected automation rate) and how often those answers are right (precision).
"""

from __future__ import annotations

import json
import logging
import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from sklearn.base import clone
from sklearn.model_selection import StratifiedKFold, KFold

from csnlp._validation import check_labels, check_texts
from csnlp.exceptions import InputError, TuningError

__all__ = [
    "TuningResult",
    "risk_coverage_curve",
    "tune_thresholds",
    "cross_val_proba",
    "wilson_interval",
    "fit_answer_model",
    "answer_scores",
]

logger = logging.getLogger(__name__)


def wilson_interval(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval of a proportion."""
    if n == 0:
        return (0.0, 1.0)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def risk_coverage_curve(confidence, correct, n_total: int | None = None, points: int = 101) -> list[dict]:
    """Coverage and precision of the answered messages at thresholds 0.00, 0.01, ..., 1.00.

    ``confidence`` and ``correct`` describe the messages the bot could answer (in-scope predictions);
    ``n_total`` (default: their number) is the denominator of coverage.
    """
    confidence = np.asarray(confidence, dtype=float)
    correct = np.asarray(correct, dtype=bool)
    n_total = len(confidence) if n_total is None else n_total
    rows = []
    for t in np.linspace(0, 1, points):
        answered = confidence >= t
        n_ans = int(answered.sum())
        rows.append(
            {
                "threshold": round(float(t), 4),
                "coverage": n_ans / n_total if n_total else 0.0,
                "precision": float(correct[answered].mean()) if n_ans else 1.0,
                "n_answered": n_ans,
            }
        )
    return rows


def _best_threshold(confidence: np.ndarray, correct: np.ndarray, target: float) -> tuple[float, bool]:
    """Lowest threshold (most coverage) whose answered precision is >= target; (1.0, False) if none."""
    if len(confidence) == 0:
        return 1.0, False
    order = np.argsort(-confidence, kind="stable")
    conf_sorted = confidence[order]
    precision = np.cumsum(correct[order]) / np.arange(1, len(order) + 1)
    # a threshold can only sit between distinct confidence values: look at the last index of each value
    last_of_value = np.r_[conf_sorted[1:] != conf_sorted[:-1], True]
    ok = np.flatnonzero(last_of_value & (precision >= target))
    if len(ok) == 0:
        return 1.0, False
    return float(conf_sorted[ok[-1]]), True


@dataclass
class TuningResult:
    """Thresholds chosen by :func:`tune_thresholds` and what they are expected to give."""

    target_precision: float
    threshold: float
    intent_thresholds: dict[str, float]
    reachable: bool
    precision: float
    coverage: float
    coverage_ci: tuple[float, float]
    n: int
    n_answered: int
    source: str = ""
    curve: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)

    def table(self, step: float = 0.05) -> str:
        """The risk-coverage table as text (one row per ``step`` of threshold)."""
        lines = ["threshold  coverage  precision  answered"]
        every = max(1, round(step * (len(self.curve) - 1)))
        for row in self.curve[::every]:
            mark = "  <- chosen" if abs(row["threshold"] - self.threshold) < step / 2 and self.reachable else ""
            lines.append(f"{row['threshold']:9.2f}  {row['coverage']:8.3f}  {row['precision']:9.3f}  {row['n_answered']:8d}{mark}")
        return "\n".join(lines)

    def summary(self) -> str:
        if not self.reachable:
            return (f"precision target {self.target_precision} cannot be reached on {self.source or 'this data'}: "
                    "every message will be handed to a person")
        lo, hi = self.coverage_ci
        return (f"threshold {self.threshold:.3f}: answered precision {self.precision:.3f} (target "
                f"{self.target_precision}), expected automation rate {self.coverage:.3f} "
                f"(95% CI {lo:.3f}-{hi:.3f}) over {self.n} messages")

    def write(self, out_dir: str | os.PathLike) -> list[Path]:
        """Write ``risk_coverage.json`` and, with matplotlib installed, ``risk_coverage.png``."""
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        paths = [out_dir / "risk_coverage.json"]
        paths[0].write_text(json.dumps(self.to_dict(), ensure_ascii=False, indent=2), encoding="utf-8")
        try:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:
            logger.info("matplotlib not installed: risk_coverage.png not written (pip install 'csnlp[plots]')")
            return paths
        fig, ax = plt.subplots(figsize=(6, 4))
        ax.plot([r["coverage"] for r in self.curve], [r["precision"] for r in self.curve], "-", label="risk-coverage")
        ax.axhline(self.target_precision, color="grey", ls="--", label=f"target {self.target_precision}")
        if self.reachable:
            ax.plot([self.coverage], [self.precision], "o", color="red", label=f"threshold {self.threshold:.2f}")
        ax.set_xlabel("coverage (share answered by the bot)")
        ax.set_ylabel("precision of answers")
        ax.legend(loc="lower left")
        fig.tight_layout()
        paths.append(out_dir / "risk_coverage.png")
        fig.savefig(paths[1], dpi=120)
        plt.close(fig)
        return paths


def tune_thresholds(
    proba,
    classes,
    y_true,
    *,
    target_precision: float = 0.95,
    per_intent: bool = False,
    out_of_scope_intents=("out_of_scope",),
    min_support: int = 20,
    scores=None,
    source: str = "",
) -> TuningResult:
    """Choose thresholds on calibrated probabilities so that answered precision >= ``target_precision``.

    A message is *answered* when its best intent is in scope and its probability reaches the threshold;
    it is right when that intent is its label. Coverage is answered / all messages.

    Parameters
    ----------
    proba : array (n, n_classes)
        Calibrated probabilities on held-out or cross-validated predictions.
    classes : array of str
    y_true : list of str
    target_precision : float
    per_intent : bool
        Also choose a threshold per predicted intent with at least ``min_support`` predictions (each meets
        the target on its own; the rest use the global threshold).
    scores : array (n,), optional
        What to threshold instead of the best intent's probability (e.g. :func:`answer_scores`).
    """
    if not 0 < target_precision <= 1:
        raise InputError(f"target_precision must be in (0, 1], got {target_precision}")
    proba = np.asarray(proba, dtype=float)
    classes = np.asarray(classes).astype(str)
    y_true = np.asarray(y_true).astype(str)
    if proba.shape != (len(y_true), len(classes)):
        raise InputError(f"proba has shape {proba.shape}, expected ({len(y_true)}, {len(classes)})")
    pred = classes[proba.argmax(axis=1)]
    conf = proba.max(axis=1) if scores is None else np.asarray(scores, dtype=float)
    oos = set(out_of_scope_intents)
    in_scope = np.array([p not in oos for p in pred])
    correct = pred == y_true
    threshold, reachable = _best_threshold(conf[in_scope], correct[in_scope], target_precision)
    intent_thresholds: dict[str, float] = {}
    if per_intent and reachable:
        for intent in sorted(set(pred[in_scope])):
            rows = pred == intent
            if rows.sum() >= min_support:
                t, ok = _best_threshold(conf[rows], correct[rows], target_precision)
                intent_thresholds[intent] = t if ok else 1.0
    thresholds = np.array([intent_thresholds.get(p, threshold) for p in pred])
    answered = in_scope & (conf >= thresholds) if reachable else np.zeros(len(pred), dtype=bool)
    n_answered = int(answered.sum())
    n = len(pred)
    precision = float(correct[answered].mean()) if n_answered else 1.0
    return TuningResult(
        target_precision=target_precision,
        threshold=float(threshold) if reachable else 1.0,
        intent_thresholds=intent_thresholds,
        reachable=reachable,
        precision=precision,
        coverage=n_answered / n if n else 0.0,
        coverage_ci=wilson_interval(n_answered, n),
        n=n,
        n_answered=n_answered,
        source=source,
        curve=risk_coverage_curve(np.where(in_scope, conf, -1.0), correct & in_scope, n_total=n),
    )


UNKNOWN = "__unknown__"
ANSWER_FEATURES = ("logit_confidence", "margin", "known_share_per_block")


def _answer_features(proba: np.ndarray, stats: np.ndarray) -> np.ndarray:
    top2 = -np.sort(-proba, axis=1)[:, :2] if proba.shape[1] > 1 else np.c_[proba, np.zeros(len(proba))]
    p = np.clip(top2[:, 0], 1e-6, 1 - 1e-6)
    return np.column_stack([np.log(p / (1 - p)), top2[:, 0] - top2[:, 1], stats])


def fit_answer_model(proba, stats, correct) -> dict:
    """Learn P(the bot's answer is right) from the top probability, the top-two margin and how much of the
    message the model's vocabulary covers (a logistic regression; JSON-safe result for the policy).

    Fitted on cross-validated predictions with simulated unseen intents, it ranks answerable messages
    above unanswerable ones better than the probability alone: new intents bring new words.
    """
    from sklearn.linear_model import LogisticRegression

    Z = _answer_features(np.asarray(proba, dtype=float), np.asarray(stats, dtype=float))
    correct = np.asarray(correct, dtype=bool)
    if correct.all() or not correct.any():
        raise InputError("the answer model needs both right and wrong answers among the scored messages")
    model = LogisticRegression(C=1.0, max_iter=1000).fit(Z, correct)
    return {"features": list(ANSWER_FEATURES), "n_stats": int(np.asarray(stats).shape[1]),
            "coef": model.coef_[0].tolist(), "intercept": float(model.intercept_[0])}


def answer_scores(model: dict, proba, stats) -> np.ndarray:
    """P(answer right) of each message under an answer model from :func:`fit_answer_model`."""
    Z = _answer_features(np.asarray(proba, dtype=float), np.asarray(stats, dtype=float))
    if Z.shape[1] != len(model["coef"]):
        raise InputError(f"answer model expects {len(model['coef'])} features, got {Z.shape[1]}: re-tune the router")
    z = Z @ np.asarray(model["coef"]) + model["intercept"]
    return 1.0 / (1.0 + np.exp(-z))


def cross_val_proba(
    classifier, X, y, *, cv: int = 5, random_state: int | None = 0, simulate_unknown: bool = False,
    return_stats: bool = False,
):
    """Out-of-fold calibrated probabilities: ``classifier``'s configuration refitted on K folds.

    Columns follow ``np.unique(y)``; a class missing from a fold's training part gets probability 0 there.

    With ``simulate_unknown=True`` the classes are also dealt into K groups, and fold k's model is trained
    without group k's classes: its messages in fold k play the intents a deployed model has never seen,
    which real traffic always brings (about 1/K of the messages). Their labels are returned as ``UNKNOWN``
    (an answer to them is always wrong): the result is ``(proba, labels)`` then. ``return_stats`` appends
    the vocabulary-coverage statistics of each message under its fold's model.

    Raises
    ------
    InputError
        ``cv`` is not an int >= 2.
    TuningError
        ``cv`` is larger than the number of texts, or a fold would train on fewer than 2 intents.
    """
    texts = check_texts(X)
    labels = np.asarray(check_labels(y, len(texts)))
    if isinstance(cv, bool) or not isinstance(cv, int) or cv < 2:
        raise InputError(f"cv must be an int >= 2, got {cv!r}")
    if cv > len(texts):
        raise TuningError(f"cv={cv} folds need at least {cv} texts, got {len(texts)}: lower cv (CLI: --cv) to at "
                          f"most {len(texts)}, or give more labelled data")
    classes, counts = np.unique(labels, return_counts=True)
    if len(classes) < 2:
        raise TuningError(f"cross-validation needs at least 2 intents in the data, got {len(classes)}")
    # Folds are stratified when every intent has at least ``cv`` texts; otherwise plain shuffled folds, in which
    # an intent missing from a fold's training part gets probability 0 for that fold's messages.
    if counts.min() >= cv:
        splits = StratifiedKFold(n_splits=cv, shuffle=True, random_state=random_state).split(texts, labels)
    else:
        splits = KFold(n_splits=cv, shuffle=True, random_state=random_state).split(texts)
    out = np.zeros((len(texts), len(classes)))
    stats = None
    effective = labels.astype(object).copy()
    groups = np.arange(len(classes)) % cv
    np.random.default_rng(random_state).shuffle(groups)
    for k, (train, test) in enumerate(splits):
        if simulate_unknown and len(classes) > cv:
            held_out = np.isin(labels, classes[groups == k])
            train = train[~held_out[train]]
            effective[test[held_out[test]]] = UNKNOWN
        if len(np.unique(labels[train])) < 2:
            raise TuningError(f"cross-validation fold {k + 1} of {cv} leaves fewer than 2 intents to train on: "
                              "lower cv (CLI: --cv) or give more texts per intent")
        model = clone(classifier)
        model.fit([texts[i] for i in train], labels[train])
        cols = np.searchsorted(classes, model.classes_)
        fold_proba, fold_stats = model.predict_proba_with_stats([texts[i] for i in test])
        out[np.ix_(test, cols)] = fold_proba
        if stats is None:
            stats = np.zeros((len(texts), fold_stats.shape[1]))
        stats[test] = fold_stats
        logger.info("cross-validation fold %d/%d done", k + 1, cv)
    effective = effective.astype(str)
    result = (out,) + ((effective,) if simulate_unknown else ()) + ((stats,) if return_stats else ())
    return result if len(result) > 1 else out
