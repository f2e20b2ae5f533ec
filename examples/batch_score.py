"""Score a file of customer messages into JSON-lines decisions, in chunks, with bounded memory.

    python examples/batch_score.py messages.jsonl --out decisions.jsonl
    python examples/batch_score.py export.csv --out decisions.jsonl --jobs -1 --chunk-size 20000
    python examples/batch_score.py big.jsonl --model models/router.zip > decisions.jsonl

Input: JSONL (one object per line with ``text``; optional ``id``, ``channel``, ``tier``, ``failures``), plain
text (one message per line), or CSV/TSV with a header (a ``text`` column, or ``--text-column``). CSV exports
from Excel on Chinese Windows (GBK/GB18030) are detected. Output: one JSON object per input message, in input
order: ``{"line": 3, "id": ..., "action": ..., "intent": ..., ...}`` (``csnlp.Decision.to_dict``). Raw
entity values (phone, card and order numbers) are left out unless ``--with-entity-values``; ``masked_text``
is always there.

The file is read and written one chunk at a time (``--chunk-size`` messages), so memory does not grow with
the file. ``--jobs`` spreads each chunk over worker processes through ``Router.route_many(..., n_jobs=)``;
it pays off from a few thousand messages per worker, so use large chunks with it.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from collections.abc import Iterator
from contextlib import nullcontext
from pathlib import Path

import csnlp
from csnlp.datasets import detect_encoding, iter_text_records

CONTEXT_KEYS = ("failures", "previous", "tier", "channel")


def read_records(path: Path, *, text_column: str = "text", encoding: str | None = None) -> Iterator[tuple[int, dict | Exception]]:
    """``(line_number, record)`` pairs; a record is a dict with ``text``, or the exception of a bad line."""
    suffix = path.suffix.lower()
    if suffix in (".csv", ".tsv"):
        enc = encoding or detect_encoding(path)
        with open(path, encoding=enc, newline="") as fh:
            reader = csv.DictReader(fh, delimiter="\t" if suffix == ".tsv" else ",")
            if text_column not in (reader.fieldnames or []):
                raise csnlp.DataFormatError(
                    f"{path}: no {text_column!r} column among {reader.fieldnames}: pass --text-column")
            for row in reader:
                text = row.get(text_column)
                if text is None:
                    yield reader.line_num, csnlp.DataFormatError(f"{path} line {reader.line_num}: too few fields")
                else:
                    yield reader.line_num, dict(row, text=text)
        return
    with open(path, encoding=encoding or "utf-8-sig") as fh:
        yield from iter_text_records(fh, str(path))


def chunks(records, size: int) -> Iterator[list]:
    chunk = []
    for item in records:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _context(record: dict) -> dict | None:
    ctx = {k: record[k] for k in CONTEXT_KEYS if record.get(k) not in (None, "")}
    if isinstance(ctx.get("failures"), str) and ctx["failures"].isdigit():  # CSV cells are strings
        ctx["failures"] = int(ctx["failures"])
    return ctx or None


def score_file(router, path: Path, out, *, chunk_size: int = 5000, n_jobs: int | None = None,
               text_column: str = "text", encoding: str | None = None, skip_bad_lines: bool = False,
               with_entity_values: bool = False) -> dict:
    """Route every message of ``path`` and write one JSON line per message to ``out``; returns counts."""
    counts = {"messages": 0, "bad_lines": 0, "answer": 0, "clarify": 0, "handoff": 0}
    for chunk in chunks(read_records(path, text_column=text_column, encoding=encoding), chunk_size):
        good = [(line, rec) for line, rec in chunk if not isinstance(rec, Exception)]
        decisions = iter(router.route_many([rec["text"] for _, rec in good], [_context(rec) for _, rec in good],
                                           n_jobs=n_jobs) if good else [])
        for line, rec in chunk:
            if isinstance(rec, Exception):
                if not skip_bad_lines:
                    raise rec
                counts["bad_lines"] += 1
                row = {"line": line, "error": str(rec)}
            else:
                d = next(decisions)
                counts["messages"] += 1
                counts[d.action] += 1
                row = {"line": line} | ({"id": rec["id"]} if "id" in rec else {}) | d.to_dict(
                    include_entity_values=with_entity_values)
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
        print(f"{path}: {counts['messages'] + counts['bad_lines']} lines scored", file=sys.stderr)
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("input", type=Path, help="JSONL, plain-text or CSV/TSV file of messages")
    parser.add_argument("--out", type=Path, help="JSONL file to write (default: stdout)")
    parser.add_argument("--model", help="router or intent bundle (default: csnlp's default model)")
    parser.add_argument("--chunk-size", type=int, default=5000, help="messages per chunk (default 5000)")
    parser.add_argument("--jobs", "-j", type=int, default=None, help="worker processes per chunk (-1: all cores)")
    parser.add_argument("--text-column", default="text", help="text column of a CSV/TSV file (default text)")
    parser.add_argument("--encoding", help="input encoding (default: UTF-8; CSV: detected, GBK exports included)")
    parser.add_argument("--skip-bad-lines", action="store_true", help="write an error record for a bad line and go on")
    parser.add_argument("--with-entity-values", action="store_true", help="include raw phone/order/card numbers")
    args = parser.parse_args(argv)
    if args.chunk_size < 1:
        parser.error(f"--chunk-size must be at least 1, got {args.chunk_size}")
    if not args.input.is_file():
        print(f"batch_score: error: no input file at {args.input}", file=sys.stderr)
        return 1
    if args.model is None:
        router = csnlp.load_default()
    else:
        loaded = csnlp.load(args.model)
        router = loaded if isinstance(loaded, csnlp.Router) else csnlp.Router(loaded)
    start = time.perf_counter()
    target = open(args.out, "w", encoding="utf-8") if args.out else nullcontext(sys.stdout)
    try:
        with target as out:
            counts = score_file(router, args.input, out, chunk_size=args.chunk_size, n_jobs=args.jobs,
                                text_column=args.text_column, encoding=args.encoding,
                                skip_bad_lines=args.skip_bad_lines, with_entity_values=args.with_entity_values)
    except (csnlp.CsnlpError, UnicodeDecodeError) as exc:
        print(f"batch_score: error: {exc}", file=sys.stderr)
        return 1
    seconds = time.perf_counter() - start
    rate = counts["messages"] / seconds if seconds else 0.0
    print(json.dumps(counts | {"seconds": round(seconds, 2), "messages_per_second": round(rate)}), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
