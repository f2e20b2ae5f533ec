"""Training bigger than memory: csnlp train --streaming against the in-memory model, and its peak memory.

1. Accuracy on online_shopping_10_cats (train on train, score on test): the in-memory IntentClassifier and
   the StreamingIntentClassifier trained from the same file by ``train_streaming``.
2. Peak resident memory of ``csnlp train --streaming`` in a fresh process on 100k and 1M generated
   messages (online_shopping train texts resampled with their labels), beside the file size.

Usage: python benchmarks/streaming.py [--sizes 100000 1000000] [--out r.json]
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, read_split, require_datasets  # noqa: E402


def write_jsonl(path: Path, texts, labels) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        for t, l in zip(texts, labels):
            fh.write(json.dumps({"text": t, "label": l}, ensure_ascii=False) + "\n")


def accuracy(tmp: Path) -> dict:
    from sklearn.metrics import accuracy_score

    from csnlp import IntentClassifier
    from csnlp.streaming import train_streaming

    train, test = read_split("online_shopping_10_cats", "train"), read_split("online_shopping_10_cats", "test")
    path = tmp / "train.jsonl"
    write_jsonl(path, *train)
    start = time.process_time()
    mem = IntentClassifier().fit(*train)
    mem_s = time.process_time() - start
    start = time.process_time()
    stream = train_streaming(path)
    stream_s = time.process_time() - start
    return {
        "in_memory_accuracy": round(float(accuracy_score(test[1], mem.predict(test[0]))), 4),
        "streaming_accuracy": round(float(accuracy_score(test[1], stream.predict(test[0]))), 4),
        "in_memory_train_cpu_s": round(mem_s, 1),
        "streaming_train_cpu_s": round(stream_s, 1),
    }


def peak_memory(tmp: Path, n: int) -> dict:
    texts, labels = read_split("online_shopping_10_cats", "train")
    rng = random.Random(0)
    idx = [rng.randrange(len(texts)) for _ in range(n)]
    path = tmp / f"gen-{n}.jsonl"
    write_jsonl(path, (texts[i] for i in idx), (labels[i] for i in idx))
    # the child reports its own peak (VmHWM): ru_maxrss survives fork and exec on Linux, so a child of this
    # process would report the peak of the in-memory training above
    code = ("import sys; from csnlp.cli import main; rc = main(sys.argv[1:]); "
            "print('PEAK', open('/proc/self/status').read().split('VmHWM:')[1].split()[0], file=sys.stderr); "
            "sys.exit(rc)")
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code, "train", "--streaming", "--data", str(path),
                           "--out", str(tmp / f"model-{n}.zip")], check=True, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    peak_kb = int(done.stderr.split("PEAK")[-1].split()[0])
    return {"messages": n, "file_mb": round(path.stat().st_size / 1e6, 1), "wall_s": round(seconds, 1),
            "peak_rss_mb": round(peak_kb / 1024, 1)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="+", type=int, default=[100000, 1000000])
    parser.add_argument("--skip-accuracy", action="store_true")
    parser.add_argument("--out", help="write the results as JSON here")
    args = parser.parse_args(argv)
    require_datasets()
    results: dict = {"machine": machine()}
    with tempfile.TemporaryDirectory() as tmp:
        if not args.skip_accuracy:
            results["accuracy"] = accuracy(Path(tmp))
            print(json.dumps(results["accuracy"]), flush=True)
        # smallest first: RUSAGE_CHILDREN keeps the maximum over all children so far
        results["memory"] = []
        for n in sorted(args.sizes):
            results["memory"].append(peak_memory(Path(tmp), n))
            print(json.dumps(results["memory"][-1]), flush=True)
    if args.out:
        Path(args.out).write_text(json.dumps(results, ensure_ascii=False, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
