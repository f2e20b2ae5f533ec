"""Speed and footprint of csnlp's IntentClassifier, with jieba-only tokenisation as the reference, one run.

For each dataset (train on train, messages = the distinct texts of the test then the train split, up to
--n; distinct, because csnlp featurises repeated texts of a batch once): single-message
throughput (one predict call per message, the way a service calls it), batch throughput (one call for all),
p50/p99 latency of one message, model load time and first prediction in a fresh process, bundle size,
training time and peak memory (in a fresh process). References in the same run: jieba segmentation alone
(``jieba.Tokenizer().lcut``, HMM on as jieba defaults, and off as csnlp uses it) and the fastText pipeline
(jieba + fastText predict) when the bench extra is installed.

Usage: python benchmarks/speed.py [--datasets smp2017_ecdt_task1 online_shopping_10_cats] [--n 5000] [--out r.json]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import FastTextJieba, fasttext_available, machine, read_split, require_datasets  # noqa: E402

FRESH_PROCESS = r"""
import json, resource, sys, time
t0 = time.perf_counter()
import csnlp
t1 = time.perf_counter()
mode, path = sys.argv[1], sys.argv[2]
if mode == "load":
    model = csnlp.load(path)
    t2 = time.perf_counter()
    model.predict(["快递什么时候到"])
    t3 = time.perf_counter()
    out = {"import_s": t1 - t0, "load_s": t2 - t1, "first_predict_s": t3 - t2}
else:
    rows = [json.loads(l) for l in open(path, encoding="utf-8")]
    t2 = time.perf_counter()
    csnlp.IntentClassifier().fit([r["text"] for r in rows], [r["label"] for r in rows])
    out = {"train_s": time.perf_counter() - t2}
# VmHWM, not ru_maxrss: Linux carries ru_maxrss across fork and exec, so a child of the (large) benchmark
# process would report the parent's peak
out["peak_rss_mb"] = int(open("/proc/self/status").read().split("VmHWM:")[1].split()[0]) / 1024
print(json.dumps(out))
"""


def fresh(mode: str, path: str) -> dict:
    res = subprocess.run([sys.executable, "-c", FRESH_PROCESS, mode, path], capture_output=True, text=True, check=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def per_message(fn, messages) -> tuple[float, np.ndarray]:
    lat = np.empty(len(messages))
    start = time.perf_counter()
    for i, m in enumerate(messages):
        t = time.perf_counter()
        fn(m)
        lat[i] = time.perf_counter() - t
    return len(messages) / (time.perf_counter() - start), lat


def measure(name: str, n: int) -> dict:
    import jieba

    import csnlp

    train = read_split(name, "train")
    # distinct texts only: csnlp featurises repeated texts of a batch once, which would flatter it
    messages = list(dict.fromkeys(read_split(name, "test")[0] + train[0]))[:n]
    n = len(messages)
    clf = csnlp.IntentClassifier().fit(*train)
    clf.predict_one(messages[0])  # warm: jieba dictionary loaded
    tk = jieba.Tokenizer()
    tk.lcut("预热")
    out: dict = {"dataset": name, "n_messages": n, "mean_chars": round(float(np.mean([len(m) for m in messages])), 1)}
    # best of three for the references and the batch: this virtual machine's speed varies between runs
    out["jieba_hmm_msgs_s"] = max(per_message(tk.lcut, messages)[0] for _ in range(3))
    out["jieba_no_hmm_msgs_s"] = max(per_message(lambda m: tk.lcut(m, HMM=False), messages)[0] for _ in range(3))
    out["csnlp_single_msgs_s"], lat = per_message(clf.predict_one, messages)
    out["csnlp_p50_ms"], out["csnlp_p99_ms"] = (float(np.percentile(lat, q) * 1000) for q in (50, 99))
    batch = []
    for _ in range(3):
        start = time.perf_counter()
        clf.predict(messages)
        batch.append(n / (time.perf_counter() - start))
    out["csnlp_batch_msgs_s"] = max(batch)
    out["ratio_single_vs_jieba_hmm"] = out["csnlp_single_msgs_s"] / out["jieba_hmm_msgs_s"]
    out["ratio_batch_vs_jieba_hmm"] = out["csnlp_batch_msgs_s"] / out["jieba_hmm_msgs_s"]
    if fasttext_available():
        ft = FastTextJieba().fit(*train)
        out["fasttext_pipeline_msgs_s"], ft_lat = per_message(ft.predict_one, messages)
        out["fasttext_p50_ms"], out["fasttext_p99_ms"] = (float(np.percentile(ft_lat, q) * 1000) for q in (50, 99))
    with tempfile.TemporaryDirectory() as tmp:
        bundle = csnlp.save(clf, Path(tmp) / "model.zip")
        out["bundle_mb"] = bundle.stat().st_size / 1e6
        out.update(fresh("load", str(bundle)))
        data = Path(tmp) / "train.jsonl"
        with open(data, "w", encoding="utf-8") as fh:
            for text, label in zip(*train):
                fh.write(json.dumps({"text": text, "label": label}, ensure_ascii=False) + "\n")
        training = fresh("train", str(data))
        out["train_s"] = training["train_s"]
        out["train_peak_rss_mb"] = training["peak_rss_mb"]
    return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in out.items()}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="+", default=["smp2017_ecdt_task1", "online_shopping_10_cats"])
    parser.add_argument("--n", type=int, default=5000, help="distinct messages timed per dataset")
    parser.add_argument("--out", help="write the results as JSON here")
    args = parser.parse_args(argv)
    require_datasets()
    results = {"machine": machine(), "runs": [measure(name, args.n) for name in args.datasets]}
    print(f"machine: {results['machine']}\n")
    keys = [k for k in results["runs"][0] if k != "dataset"]
    print("| metric | " + " | ".join(r["dataset"] for r in results["runs"]) + " |")
    print("|---|" + "---|" * len(results["runs"]))
    for k in keys:
        print(f"| {k} | " + " | ".join(str(r.get(k, "")) for r in results["runs"]) + " |")
    if args.out:
        Path(args.out).write_text(json.dumps(results, ensure_ascii=False, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
