"""The embedded default model: accuracy on its independent test file, out-of-scope declines, load times.

1. data/intents/test.jsonl (written independently of the training file): accuracy, macro-F1, every intent's
   recall, ECE of the classifier; and what the router does with those messages.
2. Out of scope: the smp2017_ecdt_task1 test utterances outside its `chat` class (voice-assistant requests:
   weather, flights, music...) routed by the default: share handed off or declined (not answered).
3. First call of load_default() (builds and caches) and a later call (loads the cache), in fresh processes.

Usage: python benchmarks/default_model.py [--out r.json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DATASETS, machine  # noqa: E402

TIMING = "import time, csnlp; t = time.perf_counter(); csnlp.load_default(); print(time.perf_counter() - t)"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out")
    args = parser.parse_args(argv)
    results: dict = {"machine": machine()}
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, CSNLP_CACHE_DIR=cache)
        runs = [float(subprocess.run([sys.executable, "-c", TIMING], env=env, capture_output=True, text=True,
                                     check=True).stdout.split()[-1]) for _ in range(2)]
        results["load_default_first_s"], results["load_default_cached_s"] = round(runs[0], 2), round(runs[1], 2)
    import csnlp
    from csnlp.evaluation import evaluate_intents

    router = csnlp.load_default()
    rows = [json.loads(line) for line in open(REPO / "data" / "intents" / "test.jsonl", encoding="utf-8")]
    texts, labels = [r["text"] for r in rows], [r["label"] for r in rows]
    report = evaluate_intents(router.classifier, texts, labels)
    recalls = {k: round(v["recall"], 3) for k, v in report["per_label"].items()}
    decisions = router.route_many(texts)
    answered = [d for d in decisions if d.action == "answer"]
    results["packaged_test"] = {
        "n": report["n"], "accuracy": round(report["accuracy"], 4), "macro_f1": round(report["macro_f1"], 4),
        "ece": round(report["ece"], 4), "min_recall": min(recalls.items(), key=lambda kv: kv[1]),
        "recall_below_0.75": sorted(k for k, v in recalls.items() if v < 0.75),
        "router_answered_share": round(len(answered) / len(decisions), 3),
        "router_answered_precision": round(sum(d.intent == l for d, l in zip(decisions, labels)
                                               if d.action == "answer") / max(len(answered), 1), 4),
        "router_reasons": dict(Counter(d.reason for d in decisions).most_common()),
    }
    smp = DATASETS / "smp2017_ecdt_task1" / "test.jsonl"
    if smp.is_file():
        other = [json.loads(line)["text"] for line in open(smp, encoding="utf-8")
                 if json.loads(line)["label"] != "chat"]
        ds = router.route_many(other)
        results["out_of_scope_smp2017_non_chat"] = {
            "n": len(other),
            "handed_off_or_declined": round(sum(d.action != "answer" for d in ds) / len(ds), 4),
            "by_reason": dict(Counter(d.reason for d in ds).most_common()),
        }
    print(json.dumps(results, indent=2, ensure_ascii=False))
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=2, ensure_ascii=False), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
