"""Speed and memory of ``csnlp report`` on large logs (issue: Insights).

Generates conversation logs of each size by resampling the lines of data/examples/conversations.jsonl (seeded;
text, channel, ids, outcome, rating and agent label kept together) with timestamps spread evenly over
``--days`` days, writes them into a temporary directory, and runs the report on each in a fresh subprocess
(``build_report`` + ``write_report``, the library functions behind the command). Prints lines/s and the peak
RSS (``resource.getrusage(...).ru_maxrss``) of the report process and of its worker processes, and the
report process's current RSS after each tenth of the lines: memory must level off instead of growing with the
number of lines, because the report keeps only counters and bounded samples.

The default model is built (or loaded from the cache) once before the timed runs; its load is timed apart.

Usage: python benchmarks/report_speed.py [--sizes 100000,1000000] [--jobs 1] [--days 90] [--keep DIR]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[1] / "data" / "examples" / "conversations.jsonl"


def generate(path: Path, n: int, days: int, seed: int = 0) -> None:
    """n lines resampled from the example log, timestamps evenly over ``days`` days from 2026-01-01 (+08:00)."""
    with open(EXAMPLE, encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh if line.strip()]
    rng = random.Random(seed)
    start = dt.datetime(2026, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    step = days * 86400 / n
    with open(path, "w", encoding="utf-8") as out:
        for i in range(n):
            row = dict(rng.choice(rows))
            row["ts"] = (start + dt.timedelta(seconds=int(i * step))).isoformat()
            out.write(json.dumps(row, ensure_ascii=False) + "\n")


def _current_rss_mb() -> float:
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return float("nan")


def run_report(log: str, out: str, jobs: int, batch_size: int) -> dict:
    """Inside the fresh subprocess: load the model, build and write the report, measure."""
    import csnlp
    from csnlp.insights import build_report, write_report

    t0 = time.perf_counter()
    router = csnlp.load_default()
    t1 = time.perf_counter()
    with open(log, "rb") as fh:
        total = sum(1 for _ in fh)
    marks = [round(total * k / 10) for k in range(1, 11)]
    curve: list[float] = []  # current RSS (MB) after each tenth of the lines
    done = 0

    def progress(n: int) -> None:
        nonlocal done
        done += n
        while marks and done >= marks[0]:
            marks.pop(0)
            curve.append(_current_rss_mb())

    report = build_report(log, router, n_jobs=jobs, batch_size=batch_size, progress=progress)
    t2 = time.perf_counter()
    write_report(report, out)
    t3 = time.perf_counter()
    return {
        "lines": report.data["lines_read"],
        "load_s": round(t1 - t0, 2),
        "report_s": round(t2 - t1, 2),
        "write_s": round(t3 - t2, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "workers_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1),
        "rss_curve_mb": curve,
        "spikes": len(report.spikes),
        "gap_clusters": len(report.faq_gaps["clusters"]),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100000,1000000", help="comma-separated line counts")
    parser.add_argument("--jobs", type=int, default=1, help="routing worker processes (csnlp report --jobs)")
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--days", type=int, default=90, help="days the generated logs span")
    parser.add_argument("--keep", help="write the logs and reports here instead of a temporary directory")
    parser.add_argument("--run", nargs=2, metavar=("LOG", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        print(json.dumps(run_report(args.run[0], args.run[1], args.jobs, args.batch_size)))
        return 0

    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}; jobs {args.jobs}, batch size {args.batch_size}", flush=True)
    # build (or load) the default model once, untimed, so that no run pays for building it
    subprocess.run([sys.executable, "-c", "import csnlp; csnlp.load_default()"], check=True)
    with tempfile.TemporaryDirectory(prefix="csnlp-report-speed-") as tmp:
        root = Path(args.keep or tmp)
        root.mkdir(parents=True, exist_ok=True)
        results = []
        for n in sizes:
            log = root / f"log_{n}.jsonl"
            t = time.perf_counter()
            generate(log, n, args.days)
            size_mb = log.stat().st_size / 1e6
            print(f"generated {n:,} lines ({size_mb:.0f} MB) in {time.perf_counter() - t:.0f} s", flush=True)
            cmd = [sys.executable, __file__, "--run", str(log), str(root / f"report_{n}"), "--jobs", str(args.jobs),
                   "--batch-size", str(args.batch_size)]
            t = time.perf_counter()
            proc = subprocess.run(cmd, capture_output=True, text=True)
            wall = time.perf_counter() - t
            if proc.returncode != 0:
                print(proc.stderr[-3000:], file=sys.stderr)
                return 1
            r = json.loads(proc.stdout.strip().splitlines()[-1])
            r["lines_per_s"] = round(r["lines"] / r["report_s"])
            r["wall_s"] = round(wall, 1)
            results.append(r)
            print(f"{r['lines']:>9,} lines: {r['lines_per_s']:>6,} lines/s (report {r['report_s']} s, model load "
                  f"{r['load_s']} s, writing {r['write_s']} s, process wall {r['wall_s']} s); peak RSS "
                  f"{r['peak_rss_mb']} MB" + (f", workers {r['workers_peak_rss_mb']} MB" if args.jobs > 1 else "")
                  + f"; {r['spikes']} spikes, {r['gap_clusters']} gap clusters", flush=True)
            print("  current RSS (MB) after each tenth of the lines: " + " ".join(f"{v:.0f}" for v in r["rss_curve_mb"]),
                  flush=True)
            if not args.keep:
                log.unlink()
        if len(results) > 1:
            a, b = results[0], results[-1]
            print(f"peak RSS {a['peak_rss_mb']} MB at {a['lines']:,} lines vs {b['peak_rss_mb']} MB at "
                  f"{b['lines']:,} lines ({b['lines'] / a['lines']:.0f}x the lines, "
                  f"{b['peak_rss_mb'] / a['peak_rss_mb']:.2f}x the memory)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
