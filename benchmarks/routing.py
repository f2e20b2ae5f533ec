"""Open-set routing and FAQ matching benchmarks (issue: Router).

1. Open-set protocol on smp2017_ecdt_task1, exactly as ../shared/datasets/README.md describes: the sorted
   class names shuffled in place by random.Random(0).shuffle, the first 23 known; the model is trained on the
   known classes of the train split only (``csnlp train``); thresholds are tuned on that same training file
   by ``csnlp tune --cv 5 --target-precision 0.95`` (5-fold cross-validation, training data only); on the test
   split every message of an unknown class must be handed off. Reported beside the fixed 0.3 threshold.
2. FAQ pair matching on bq_corpus: threshold tuned on dev, pair accuracy on test, beside plain jieba word
   TF-IDF cosine measured in the same run.

Usage: python benchmarks/routing.py [--out results.json]
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"


def read_jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def open_set(target: float = 0.95, cv: int = 5) -> dict:
    import csnlp
    from csnlp.policy import Policy
    from csnlp.route import Router

    folder = DATASETS / "smp2017_ecdt_task1"
    train, test = read_jsonl(folder / "train.jsonl"), read_jsonl(folder / "test.jsonl")
    names = sorted({r["label"] for r in train})
    random.Random(0).shuffle(names)
    known = set(names[:23])
    tr = [r for r in train if r["label"] in known]
    with tempfile.TemporaryDirectory() as tmp:
        # exactly the commands a team runs: train on the known-class training file, tune on it with 5-fold CV
        data = Path(tmp) / "known_train.jsonl"
        data.write_text("".join(json.dumps({"text": r["text"], "label": r["label"]}, ensure_ascii=False) + "\n"
                                for r in tr), encoding="utf-8")
        csnlp_cli = [sys.executable, "-m", "csnlp.cli"]
        start = time.perf_counter()
        subprocess.run(csnlp_cli + ["train", "--data", str(data), "--out", f"{tmp}/intent"], check=True,
                       capture_output=True)
        fit_s = time.perf_counter() - start
        start = time.perf_counter()
        tuned_out = subprocess.run(csnlp_cli + ["tune", "--model", f"{tmp}/intent", "--data", str(data), "--cv",
                                                str(cv), "--target-precision", str(target), "--out", f"{tmp}/router"],
                                   check=True, capture_output=True, text=True).stdout
        tune_s = time.perf_counter() - start
        tuned = csnlp.load(f"{tmp}/router")
    clf = tuned.classifier
    texts = [r["text"] for r in test]
    labels = np.array([r["label"] for r in test])
    is_known = np.array([label in known for label in labels])

    def score(router) -> dict:
        decisions = router.route_many(texts)
        answered = np.array([d.action == "answer" for d in decisions])
        right = np.array([d.intent == t for d, t in zip(decisions, labels)])
        return {
            "threshold": router.policy.threshold,
            "answered_precision": float(right[answered].mean()) if answered.any() else 1.0,
            "known_coverage": float((answered & is_known).sum() / is_known.sum()),
            "unknown_handed_off": float((~answered & ~is_known).sum() / (~is_known).sum()),
            "answered": int(answered.sum()),
        }

    fixed = Router(clf, policy=Policy(threshold=0.3))
    return {
        "protocol": "smp2017_ecdt_task1, 23 of 31 classes known (random.Random(0).shuffle of sorted names)",
        "known_classes": sorted(known),
        "n_test": len(texts),
        "n_test_unknown": int((~is_known).sum()),
        "target_precision": target,
        "cv_tuned": score(tuned) | {"csnlp_tune_output_last_line": tuned_out.strip().splitlines()[-1]},
        "fixed_0.3": score(fixed),
        "fit_seconds": round(fit_s, 2),
        "tune_seconds": round(tune_s, 2),
    }


def faq_pairs() -> dict:
    import jieba
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.preprocessing import normalize

    from csnlp.kb import FaqMatcher, tune_similarity_threshold

    folder = DATASETS / "bq_corpus"
    dev, test = read_jsonl(folder / "dev.jsonl"), read_jsonl(folder / "test.jsonl")

    def split(rows):
        return [r["q1"] for r in rows], [r["q2"] for r in rows], np.array([r["label"] for r in rows])

    a, b, y = split(dev)
    ta, tb, ty = split(test)
    matcher = FaqMatcher().fit_texts(a + b)
    t, dev_acc = tune_similarity_threshold(matcher.similarity(a, b), y)
    acc = float(((matcher.similarity(ta, tb) >= t) == (ty == 1)).mean())

    tk = jieba.Tokenizer()
    vec = TfidfVectorizer(tokenizer=tk.lcut, token_pattern=None, lowercase=False).fit(a + b)

    def cos(x, z):
        return np.asarray(normalize(vec.transform(x)).multiply(normalize(vec.transform(z))).sum(axis=1)).ravel()

    bt, _ = tune_similarity_threshold(cos(a, b), y)
    base = float(((cos(ta, tb) >= bt) == (ty == 1)).mean())
    return {"csnlp_faq_matcher": {"threshold": t, "dev_accuracy": dev_acc, "test_accuracy": acc},
            "jieba_word_tfidf_cosine": {"threshold": bt, "test_accuracy": base}}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", help="write the results as JSON here")
    args = parser.parse_args(argv)
    if not DATASETS.is_dir():
        print(f"the shared datasets are not at {DATASETS}: nothing to measure", file=sys.stderr)
        return 1
    results = {"open_set": open_set(), "faq_pairs": faq_pairs()}
    o = results["open_set"]
    print("| policy | threshold | answered precision | known coverage | unknown handed off |")
    print("|---|---|---|---|---|")
    for name in ("cv_tuned", "fixed_0.3"):
        r = o[name]
        print(f"| {name} | {r['threshold']:.3f} | {r['answered_precision']:.3f} | {r['known_coverage']:.3f} | "
              f"{r['unknown_handed_off']:.3f} |")
    f = results["faq_pairs"]
    print(f"\nbq_corpus test pair accuracy: csnlp {f['csnlp_faq_matcher']['test_accuracy']:.3f}, "
          f"jieba word TF-IDF cosine {f['jieba_word_tfidf_cosine']['test_accuracy']:.3f}")
    if args.out:
        Path(args.out).write_text(json.dumps(results, ensure_ascii=False, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
