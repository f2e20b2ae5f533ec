"""Benchmark the feedback tagger and its sentiment classifier on real data, against plain baselines.

Reads the evaluation sets in ``../shared/datasets`` beside the project (never copied into it):

(a) ``ccf2018_car_topics``: FeedbackTagger trained on train (``labels``), thresholds tuned on train only,
    micro/macro-F1 on test; beside it, the reference one-vs-rest word + char TF-IDF logistic regression at
    the fixed thresholds 0.3 and 0.5 (README of the datasets: 0.850 / 0.827 at 0.3).
(b) ``online_shopping_10_cats``: sentiment (``sentiment`` 0/1): csnlp's sentiment classifier
    (:func:`csnlp.tag.sentiment_classifier`, what FeedbackTagger trains on a sentiment field) against jieba word
    TF-IDF + LogisticRegression, accuracy on test.
(c) the default taxonomy: train on ``data/feedback/train.jsonl``, micro/macro-F1 on ``data/feedback/test.jsonl``.

Usage (from the repository root)::

    python benchmarks/tagger.py --out benchmarks/out/tagger.json

Prints a Markdown table to stdout and writes all figures as JSON to ``--out``. Single-threaded (n_jobs=1).
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import sys
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from scipy.special import expit
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score

import csnlp
from csnlp.tag import FeedbackTagger, evaluate_tagger, sentiment_classifier, train_feedback_tagger
from csnlp.tokenizer import JiebaTokenizer

logger = logging.getLogger("benchmarks.tagger")

ROOT = Path(__file__).resolve().parents[1]
DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"
TASKS = ("ccf", "sentiment", "feedback")
FEATURE_PARAMS = ("word_ngram_range", "char_ngram_range", "min_df", "max_features", "sublinear_tf", "user_words",
                  "stop_words", "hmm", "max_length")


def read_jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def multilabel_scores(truth: list[list[str]], pred: list[list[str]], labels: list[str]) -> dict:
    T = np.array([[c in set(t) for c in labels] for t in truth])
    P = np.array([[c in set(p) for c in labels] for p in pred])
    return {
        "micro_f1": float(f1_score(T, P, average="micro", zero_division=0)),
        "macro_f1": float(f1_score(T, P, average="macro", zero_division=0)),
    }


# -- (a) car topics --------------------------------------------------------------------------------------------
def reference_ovr_proba(train_texts, train_labels, test_texts, labels, C=20.0) -> tuple[np.ndarray, float]:
    """Scores of the reference: one-vs-rest LogisticRegression(C=20) on word (jieba 1-2) + char (1-3) TF-IDF.

    Plain scikit-learn on the raw texts (no csnlp normalisation, no tuning); it reproduces the datasets'
    README figures (0.850 / 0.827 at 0.3). The caller applies the fixed thresholds. Returns the (n_test, n_labels) scores and the seconds taken.
    """
    start = time.perf_counter()
    word = TfidfVectorizer(tokenizer=JiebaTokenizer(), token_pattern=None, ngram_range=(1, 2), sublinear_tf=True)
    char = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True)
    A = sp.hstack([word.fit_transform(train_texts), char.fit_transform(train_texts)], format="csr")
    B = sp.hstack([word.transform(test_texts), char.transform(test_texts)], format="csr")
    proba = np.zeros((len(test_texts), len(labels)))
    for j, label in enumerate(labels):
        y = np.array([label in ls for ls in train_labels])
        model = LogisticRegression(C=C, solver="liblinear", dual=True, max_iter=1000, random_state=0).fit(A, y)
        proba[:, j] = expit(model.decision_function(B))
    return proba, time.perf_counter() - start


def bench_ccf(datasets: Path) -> list[dict]:
    folder = datasets / "ccf2018_car_topics"
    train, test = read_jsonl(folder / "train.jsonl"), read_jsonl(folder / "test.jsonl")
    X, Y = [r["text"] for r in train], [r["labels"] for r in train]
    Xt, Yt = [r["text"] for r in test], [r["labels"] for r in test]
    labels = sorted({l for ls in Y for l in ls})
    rows = []
    start = time.perf_counter()
    tagger = FeedbackTagger().fit(X, Y)  # thresholds tuned on out-of-fold scores of train only
    train_s = time.perf_counter() - start
    start = time.perf_counter()
    report = evaluate_tagger(tagger, Xt, Yt)
    predict_s = time.perf_counter() - start
    rows.append({
        "set": "ccf2018_car_topics", "system": "csnlp FeedbackTagger (thresholds tuned on train, OOF)",
        "metric": "micro/macro-F1", "micro_f1": report["micro_f1"], "macro_f1": report["macro_f1"],
        "train_s": round(train_s, 1), "predict_msgs_per_s": round(len(Xt) / predict_s),
        "targets": {"micro_f1": 0.85, "macro_f1": 0.83},
        "thresholds": report["thresholds"], "fill_empty": bool(tagger.fill_empty_),
        "per_label": {k: round(v["f1"], 4) for k, v in report["per_label"].items()},
    })
    proba, seconds = reference_ovr_proba(X, Y, Xt, labels)
    for t in (0.3, 0.5):
        pred = [[labels[j] for j in np.flatnonzero(row >= t)] for row in proba]
        rows.append({
            "set": "ccf2018_car_topics", "system": f"reference OvR word+char TF-IDF LR(C=20), fixed threshold {t}",
            "metric": "micro/macro-F1", **multilabel_scores(Yt, pred, labels), "train_s": round(seconds, 1),
        })
    return rows


# -- (b) sentiment -----------------------------------------------------------------------------------------------
def bench_sentiment(datasets: Path, max_train: int | None) -> list[dict]:
    folder = datasets / "online_shopping_10_cats"
    train, test = read_jsonl(folder / "train.jsonl"), read_jsonl(folder / "test.jsonl")
    if max_train and max_train < len(train):  # a seeded random subset: the file is sorted by category
        keep = np.random.default_rng(0).choice(len(train), size=max_train, replace=False)
        train = [train[i] for i in sorted(keep)]
    names = {0: "negative", 1: "positive"}
    X, y = [r["text"] for r in train], [names[int(r["sentiment"])] for r in train]
    Xt, yt = [r["text"] for r in test], [names[int(r["sentiment"])] for r in test]
    rows = []
    start = time.perf_counter()
    # exactly what FeedbackTagger.fit trains on a sentiment field: the tagger's feature settings
    tagger_params = FeedbackTagger().get_params()
    clf = sentiment_classifier(**{k: tagger_params[k] for k in FEATURE_PARAMS}).fit(X, y)
    train_s = time.perf_counter() - start
    start = time.perf_counter()
    pred = clf.predict(Xt).tolist()
    predict_s = time.perf_counter() - start
    rows.append({
        "set": "online_shopping_10_cats (sentiment)", "system": "csnlp sentiment classifier (FeedbackTagger's)",
        "metric": "accuracy", "accuracy": float(accuracy_score(yt, pred)),
        "macro_f1": float(f1_score(yt, pred, average="macro")), "train_s": round(train_s, 1),
        "predict_msgs_per_s": round(len(Xt) / predict_s), "n_train": len(X),
    })
    # baseline: jieba word 1-2-gram TF-IDF + LogisticRegression on the raw (un-normalised) text
    start = time.perf_counter()
    vec = TfidfVectorizer(tokenizer=JiebaTokenizer(), token_pattern=None, ngram_range=(1, 2), sublinear_tf=True)
    A = vec.fit_transform(X)
    lr = LogisticRegression(C=10.0, solver="liblinear", max_iter=1000).fit(A, y)
    train_s = time.perf_counter() - start
    pred = lr.predict(vec.transform(Xt)).tolist()
    rows.append({
        "set": "online_shopping_10_cats (sentiment)", "system": "baseline jieba word 1-2 TF-IDF + LogisticRegression(C=10)",
        "metric": "accuracy", "accuracy": float(accuracy_score(yt, pred)),
        "macro_f1": float(f1_score(yt, pred, average="macro")), "train_s": round(train_s, 1), "n_train": len(X),
    })
    rows[0]["check"] = {"accuracy >= baseline": rows[0]["accuracy"] >= rows[1]["accuracy"]}
    return rows


# -- (c) default taxonomy ------------------------------------------------------------------------------------------
def bench_feedback() -> list[dict]:
    folder = ROOT / "data" / "feedback"
    start = time.perf_counter()
    tagger = train_feedback_tagger(folder / "train.jsonl")
    train_s = time.perf_counter() - start
    test = read_jsonl(folder / "test.jsonl")
    report = evaluate_tagger(tagger, [r["text"] for r in test], [r["labels"] for r in test])
    return [{
        "set": "data/feedback (default taxonomy)", "system": "csnlp FeedbackTagger (thresholds tuned on train, OOF)",
        "metric": "micro/macro-F1", "micro_f1": report["micro_f1"], "macro_f1": report["macro_f1"],
        "train_s": round(train_s, 1), "targets": {"micro_f1": 0.80}, "fill_empty": bool(tagger.fill_empty_),
        "per_label": {k: round(v["f1"], 4) for k, v in report["per_label"].items()},
    }]


def markdown(rows: list[dict]) -> str:
    lines = ["| set | system | micro-F1 | macro-F1 | accuracy | train s | target |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        f = lambda k: f"{r[k]:.4f}" if k in r else ""  # noqa: E731
        target = ", ".join(f"{k} >= {v}" for k, v in r.get("targets", {}).items())
        if "targets" in r:
            ok = all(r[k] >= v for k, v in r["targets"].items())
            target += " ✅" if ok else " ❌"
        for name, ok in r.get("check", {}).items():
            target += f"{name} {'✅' if ok else '❌'}"
        lines.append(f"| {r['set']} | {r['system']} | {f('micro_f1')} | {f('macro_f1')} | {f('accuracy')} | "
                     f"{r.get('train_s', '')} | {target} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, type=Path, help="write the figures as JSON to this path")
    parser.add_argument("--tasks", nargs="+", choices=TASKS, default=list(TASKS), help="which benchmarks to run")
    parser.add_argument("--datasets", type=Path, default=DATASETS, help=f"evaluation sets (default {DATASETS})")
    parser.add_argument("--max-train", type=int, default=None,
                        help="train the sentiment models on a random N of the training texts (quick runs)")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(name)s %(message)s")
    needs_shared = {"ccf", "sentiment"} & set(args.tasks)
    if needs_shared and not args.datasets.is_dir():
        print(f"error: evaluation datasets not found at {args.datasets}: they live beside the project in "
              "../shared/datasets (pass --datasets PATH, or run only --tasks feedback)", file=sys.stderr)
        return 2
    rows: list[dict] = []
    if "ccf" in args.tasks:
        rows += bench_ccf(args.datasets)
    if "sentiment" in args.tasks:
        rows += bench_sentiment(args.datasets, args.max_train)
    if "feedback" in args.tasks:
        rows += bench_feedback()
    table = markdown(rows)
    print(table)
    checks = {}
    for r in rows:
        if "targets" in r:
            checks[f"{r['set']}: {r['system']}"] = all(r[k] >= v for k, v in r["targets"].items())
        for name, ok in r.get("check", {}).items():
            checks[f"{r['set']}: {name}"] = ok
    result = {
        "rows": rows, "checks": checks, "markdown": table,
        "environment": {"python": platform.python_version(), "csnlp": csnlp.__version__, "machine": platform.machine()},
        "command": " ".join(["python", "benchmarks/tagger.py", *(argv if argv is not None else sys.argv[1:])]),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, ensure_ascii=False, indent=2), encoding="utf-8")
    print(f"\nwrote {args.out}", file=sys.stderr)
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
