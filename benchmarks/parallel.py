"""Scaling of batch prediction and routing with worker processes (n_jobs), on the default model.

100,000 distinct messages (pairs of packaged test messages joined by a comma), timed with n_jobs=1 and n_jobs=2; results checked
identical. Usage: python benchmarks/parallel.py [--n 100000] [--out r.json]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=100000)
    parser.add_argument("--out")
    args = parser.parse_args(argv)
    import csnlp

    router = csnlp.load_default()
    with open(REPO / "data" / "intents" / "test.jsonl", encoding="utf-8") as fh:
        pool = [json.loads(line)["text"] for line in fh if line.strip()]
    # distinct messages (two test messages joined): csnlp featurises repeated texts of a batch once, so
    # resampling would measure deduplication instead of scaling
    rng = random.Random(0)
    seen: dict[str, None] = {}
    while len(seen) < args.n:
        seen[f"{rng.choice(pool)}，{rng.choice(pool)}"] = None
    messages = list(seen)
    results = {"machine": machine(), "n": args.n}
    outputs = {}
    for jobs in (1, 2):
        clf = router.classifier
        clf.n_jobs = jobs
        start = time.perf_counter()
        outputs[("predict", jobs)] = clf.predict_proba(messages)
        results[f"predict_msgs_s_{jobs}"] = round(args.n / (time.perf_counter() - start))
        start = time.perf_counter()
        outputs[("route", jobs)] = router.route_many(messages, n_jobs=jobs)
        results[f"route_msgs_s_{jobs}"] = round(args.n / (time.perf_counter() - start))
        clf.n_jobs = None
    results["predict_speedup"] = round(results["predict_msgs_s_2"] / results["predict_msgs_s_1"], 2)
    results["route_speedup"] = round(results["route_msgs_s_2"] / results["route_msgs_s_1"], 2)
    results["identical"] = bool(
        (outputs[("predict", 1)] == outputs[("predict", 2)]).all() and outputs[("route", 1)] == outputs[("route", 2)]
    )
    print(json.dumps(results, indent=2))
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
