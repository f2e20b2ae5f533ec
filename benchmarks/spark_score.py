"""Score a 1,000,000-row PySpark DataFrame with csnlp.spark in local mode; rows per second; a sample
checked equal to the library's own decisions. Rows: pairs of packaged test messages (mostly distinct).

Usage: python benchmarks/spark_score.py [--rows 1000000] [--master local[2]] [--out r.json]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--out")
    args = parser.parse_args(argv)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    import csnlp
    from csnlp.spark import add_decisions

    router = csnlp.load_default()
    with open(REPO / "data" / "intents" / "test.jsonl", encoding="utf-8") as fh:
        pool = [json.loads(line)["text"] for line in fh if line.strip()]
    rng = random.Random(0)
    with tempfile.TemporaryDirectory() as tmp:
        bundle = str(csnlp.save(router, Path(tmp) / "router.zip"))
        data = Path(tmp) / "messages.jsonl"
        with open(data, "w", encoding="utf-8") as fh:
            # pairs of test messages joined by a comma: mostly distinct texts, since csnlp featurises the
            # repeated texts of a batch once and a resample of ~900 messages would measure that instead
            texts = (f"{rng.choice(pool)}，{rng.choice(pool)}" for _ in range(args.rows))
            distinct: set[int] = set()
            for i, text in enumerate(texts):
                distinct.add(hash(text))
                fh.write(json.dumps({"id": i, "text": text}, ensure_ascii=False) + "\n")
        spark = (SparkSession.builder.master(args.master).appName("csnlp-bench")
                 .config("spark.ui.enabled", "false").config("spark.driver.memory", "4g").getOrCreate())
        df = spark.read.schema("id long, text string").json(str(data))
        start = time.perf_counter()
        counts = add_decisions(df, bundle).groupBy("action").count().collect()
        seconds = time.perf_counter() - start
        sample = add_decisions(df.filter("id < 200"), bundle).orderBy("id").collect()
        spark.stop()
    expected = router.route_many([r["text"] for r in sample])
    same = all(r["action"] == d.action and r["reason"] == d.reason and r["intent"] == d.intent
               for r, d in zip(sample, expected))
    results = {"machine": machine(), "master": args.master, "rows": args.rows,
               "distinct_texts": len(distinct), "seconds": round(seconds, 1),
               "rows_per_s": round(args.rows / seconds), "actions": {r["action"]: r["count"] for r in counts},
               "sample_identical_to_library": same, "sample_size": len(sample)}
    print(json.dumps(results, indent=2, ensure_ascii=False))
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=2, ensure_ascii=False), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
