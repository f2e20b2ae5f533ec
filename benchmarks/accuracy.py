"""Accuracy of csnlp's default IntentClassifier against reference systems, measured in the same run.

On ../shared/datasets (train on train, score on test): smp2017_ecdt_task1 and online_shopping_10_cats.
Systems: csnlp IntentClassifier() with default settings; jieba word 1-2-gram TF-IDF + LogisticRegression(C=10);
fastText on jieba-segmented text (wordNgrams=2, 25 epochs) when the bench extra is installed.
Also csnlp on its own packaged corpus (data/intents/train.jsonl -> data/intents/test.jsonl).

Usage: python benchmarks/accuracy.py [--datasets smp2017_ecdt_task1 online_shopping_10_cats] [--out r.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from sklearn.metrics import accuracy_score, f1_score

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import FastTextJieba, JiebaTfidfLogistic, fasttext_available, machine, read_split, require_datasets, timed  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


class Csnlp:
    name = "csnlp IntentClassifier (defaults)"

    def fit(self, texts, labels):
        from csnlp import IntentClassifier

        self.clf = IntentClassifier().fit(texts, labels)
        return self

    def predict(self, texts):
        return self.clf.predict(texts)


def score(system, train, test) -> dict:
    (Xtr, ytr), (Xte, yte) = train, test
    _, fit_s = timed(system.fit, Xtr, ytr)
    pred = system.predict(Xte)
    return {
        "system": system.name,
        "accuracy": round(float(accuracy_score(yte, pred)), 4),
        "macro_f1": round(float(f1_score(yte, pred, average="macro")), 4),
        "train_seconds": round(fit_s, 1),
    }


def packaged_corpus() -> dict:
    def read(path):
        rows = [json.loads(line) for line in open(path, encoding="utf-8") if line.strip()]
        return [r["text"] for r in rows], [r["label"] for r in rows]

    train, test = read(REPO / "data" / "intents" / "train.jsonl"), read(REPO / "data" / "intents" / "test.jsonl")
    from csnlp import IntentClassifier
    from csnlp.evaluation import evaluate_intents

    clf, fit_s = timed(IntentClassifier().fit, *train)
    report = evaluate_intents(clf, *test)
    worst = min(report["per_label"].items(), key=lambda kv: kv[1]["recall"])
    return {"accuracy": round(report["accuracy"], 4), "macro_f1": round(report["macro_f1"], 4),
            "ece": round(report["ece"], 4), "min_recall": [worst[0], round(worst[1]["recall"], 3)],
            "train_seconds": round(fit_s, 1), "n_test": report["n"]}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="+", default=["smp2017_ecdt_task1", "online_shopping_10_cats"])
    parser.add_argument("--out", help="write the results as JSON here")
    args = parser.parse_args(argv)
    require_datasets()
    systems = [Csnlp, JiebaTfidfLogistic] + ([FastTextJieba] if fasttext_available() else [])
    if not fasttext_available():
        print("fastText not installed (pip install -e '.[bench]'): skipped", file=sys.stderr)
    results = {"machine": machine(), "datasets": {}}
    for name in args.datasets:
        train, test = read_split(name, "train"), read_split(name, "test")
        rows = []
        for cls in systems:
            row = score(cls(), train, test)
            rows.append(row)
            print(f"{name}: {row}", file=sys.stderr, flush=True)
        results["datasets"][name] = rows
    results["packaged_corpus"] = packaged_corpus()
    print(f"\nmachine: {results['machine']}\n")
    print("| dataset | system | accuracy | macro-F1 | train s |")
    print("|---|---|---|---|---|")
    for name, rows in results["datasets"].items():
        for r in rows:
            print(f"| {name} | {r['system']} | {r['accuracy']:.4f} | {r['macro_f1']:.4f} | {r['train_seconds']} |")
    p = results["packaged_corpus"]
    print(f"\npackaged corpus (data/intents test.jsonl, n={p['n_test']}): accuracy {p['accuracy']:.4f}, macro-F1 "
          f"{p['macro_f1']:.4f}, ECE {p['ece']:.4f}, lowest recall {p['min_recall'][0]} {p['min_recall'][1]}")
    if args.out:
        Path(args.out).write_text(json.dumps(results, ensure_ascii=False, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
