"""One table from one run: csnlp vs fastText (jieba-segmented) vs jieba TF-IDF + LogisticRegression.

For each dataset (train on train, accuracy on test) and each system, in the same process and run:
accuracy, macro-F1, training time (wall, one core), single-core throughput, 2-core throughput, p50/p99
latency of one message, load time of the saved model in a fresh process and the time of the first
prediction after it (which loads jieba's dictionary from its cache), and the size of the saved model.

Throughput is measured on the distinct texts of the test and train splits (up to --n), so that no system
profits from repeated messages (csnlp featurises repeated texts of a batch once). Single-core: one batch
call per system (csnlp ``predict``; the references score text by text, as their APIs do). 2-core: the same
messages split in two halves scored by two forked worker processes, the same way for every system. Both
are the best of five rounds, each round timing every system in turn.
Latency: the test messages one call each.

Usage: python benchmarks/compare.py [--datasets smp2017_ecdt_task1 online_shopping_10_cats] [--n 20000]
                                    [--out r.json]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import accuracy_score, f1_score

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import FastTextJieba, JiebaTfidfLogistic, fasttext_available, machine, read_split, require_datasets  # noqa: E402

#: per system: imports (not timed), loading the saved model (timed: load_s), one prediction (timed: first_s)
LOAD = {
    "csnlp": ("import csnlp", "m = csnlp.load(path)", "m.predict(['快递什么时候到'])"),
    "fasttext": ("import fasttext, jieba", "m = fasttext.load_model(path)",
                 "tk = jieba.Tokenizer(); m.predict(' '.join(tk.lcut('快递什么时候到')))"),
    "logistic": (f"import sys; sys.path.insert(0, {str(Path(__file__).resolve().parent)!r}); import joblib, sklearn",
                 "m = joblib.load(path)", "m.predict(['快递什么时候到'])"),
}


class Csnlp:
    name, kind = "csnlp IntentClassifier (defaults)", "csnlp"

    def fit(self, texts, labels):
        from csnlp import IntentClassifier

        self.model = IntentClassifier().fit(texts, labels)
        return self

    def predict(self, texts):
        return list(self.model.predict(texts))

    def predict_one(self, text):
        return self.model.predict([text])[0]

    def save(self, folder: Path) -> Path:
        import csnlp

        return csnlp.save(self.model, folder / "csnlp.zip")


class FastText(FastTextJieba):
    kind = "fasttext"

    def save(self, folder: Path) -> Path:
        path = folder / "fasttext.bin"
        self.model.save_model(str(path))
        return path


class Logistic(JiebaTfidfLogistic):
    kind = "logistic"

    def predict(self, texts):
        return list(self.clf.predict(self.vec.transform(texts)))

    def save(self, folder: Path) -> Path:
        import joblib

        from sklearn.pipeline import make_pipeline

        path = folder / "logistic.joblib"
        joblib.dump(make_pipeline(self.vec, self.clf), path)
        return path


_WORKER_SYSTEM = None
REPEATS = 5


def _one_core(system, texts) -> float:
    start = time.perf_counter()
    system.predict(texts)
    return len(texts) / (time.perf_counter() - start)


def _score_half(texts):
    return _WORKER_SYSTEM.predict(texts)


def two_cores(system, texts) -> float:
    """Messages per second with two forked workers, each scoring one half (start-up included)."""
    global _WORKER_SYSTEM
    _WORKER_SYSTEM = system
    half = len(texts) // 2
    start = time.perf_counter()
    with mp.get_context("fork").Pool(2) as pool:
        parts = pool.map(_score_half, [texts[:half], texts[half:]])
    elapsed = time.perf_counter() - start
    assert sum(len(p) for p in parts) == len(texts)
    return len(texts) / elapsed


def load_seconds(kind: str, path: Path) -> tuple[float, float]:
    """(load, first prediction) in a fresh process, best of three after one warm-up run (jieba's cache built)."""
    imports, load, first = LOAD[kind]
    code = (f"import sys, time; path = sys.argv[1]; {imports}; t0 = time.perf_counter(); {load}; "
            f"t1 = time.perf_counter(); {first}; print(t1 - t0, time.perf_counter() - t1)")
    runs = []
    for _ in range(4):
        done = subprocess.run([sys.executable, "-c", code, str(path)], check=True, capture_output=True, text=True)
        runs.append(tuple(float(x) for x in done.stdout.split()[-2:]))
    return min(runs[1:])


def measure(systems, train, test, throughput_texts) -> list[dict]:
    """All figures of all systems on one dataset. Throughput is measured in rounds that take every system in
    turn, best of REPEATS rounds: this virtual machine has slow spells that last minutes, and measuring the
    systems one after the other would hand a slow spell to one of them only."""
    rows = []
    for system in systems:
        start = time.perf_counter()
        system.fit(*train)
        row = {"system": system.name, "train_s": time.perf_counter() - start}
        pred = system.predict(test[0])
        row["accuracy"] = accuracy_score(test[1], pred)
        row["macro_f1"] = f1_score(test[1], pred, average="macro")
        system.predict(throughput_texts[:200])  # warm
        row["msgs_s_1core"] = row["msgs_s_2core"] = 0.0
        rows.append(row)
    for _ in range(REPEATS):
        for system, row in zip(systems, rows):
            row["msgs_s_1core"] = max(row["msgs_s_1core"], _one_core(system, throughput_texts))
        for system, row in zip(systems, rows):
            row["msgs_s_2core"] = max(row["msgs_s_2core"], two_cores(system, throughput_texts))
    for system, row in zip(systems, rows):
        lat = []
        for text in test[0]:
            t = time.perf_counter()
            system.predict_one(text)
            lat.append(time.perf_counter() - t)
        row["p50_ms"], row["p99_ms"] = (float(np.percentile(lat, q)) * 1000 for q in (50, 99))
        with tempfile.TemporaryDirectory() as tmp:
            path = system.save(Path(tmp))
            row["model_mb"] = path.stat().st_size / 1e6
            row["load_s"], row["first_predict_s"] = load_seconds(system.kind, path)
    return [{k: (round(v, 4) if isinstance(v, float) else v) for k, v in row.items()} for row in rows]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="+", default=["smp2017_ecdt_task1", "online_shopping_10_cats"])
    parser.add_argument("--n", type=int, default=20000, help="distinct messages timed for throughput")
    parser.add_argument("--out", help="write the results as JSON here")
    args = parser.parse_args(argv)
    require_datasets()
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # one core per process: BLAS threads would blur the columns
    systems = [Csnlp, Logistic] + ([FastText] if fasttext_available() else [])
    rows = []
    for name in args.datasets:
        train, test = read_split(name, "train"), read_split(name, "test")
        texts = list(dict.fromkeys(test[0] + train[0]))[: args.n]
        for row in measure([make() for make in systems], train, test, texts):
            row = {"dataset": name, "n_throughput": len(texts), **row}
            print(json.dumps(row, ensure_ascii=False), flush=True)
            rows.append(row)
    print(f"\nmachine: {machine()}\n")
    cols = ["accuracy", "macro_f1", "train_s", "msgs_s_1core", "msgs_s_2core", "p50_ms", "p99_ms", "load_s", "first_predict_s",
            "model_mb"]
    print("| dataset | system | " + " | ".join(cols) + " |")
    print("|---|---|" + "---|" * len(cols))
    for r in rows:
        print(f"| {r['dataset']} | {r['system']} | " + " | ".join(str(r[c]) for c in cols) + " |")
    if args.out:
        Path(args.out).write_text(json.dumps({"machine": machine(), "rows": rows}, ensure_ascii=False, indent=2),
                                  encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
