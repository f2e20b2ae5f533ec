"""The ``csnlp`` command: one thin adapter per sub-command over the library's functions.

Exit codes: 0 success, 1 a user error (one readable line on stderr; the traceback only with ``-v``),
2 bad usage. Results go to stdout (JSON lines, ``ensure_ascii=False``); diagnostics and progress to stderr.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import re
import sys
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path

from csnlp import __version__
from csnlp.exceptions import CsnlpError, DataFormatError, InputError

logger = logging.getLogger("csnlp.cli")

EPILOG = """examples:
  csnlp route "快递三天没更新了，到底什么时候到？"
  csnlp train --data train.jsonl --out models/intent
  csnlp evaluate --model models/intent --data test.jsonl --report report.json
  echo "我要退货" | csnlp predict --model models/intent
"""


class _Progress:
    """A line on stderr every ``every`` items, only when stderr is a terminal (or forced)."""

    def __init__(self, label: str, every: int = 10000, enabled: bool | None = None) -> None:
        self.label, self.every, self.n = label, every, 0
        self.enabled = sys.stderr.isatty() if enabled is None else enabled

    def update(self, n: int = 1) -> None:
        before = self.n // self.every
        self.n += n
        if self.enabled and self.n // self.every > before:
            sys.stderr.write(f"\r{self.label}: {self.n:,}")
            sys.stderr.flush()

    def close(self) -> None:
        if self.enabled and self.n >= self.every:
            sys.stderr.write(f"\r{self.label}: {self.n:,} done\n")


_SURROGATE_RE = re.compile("[\ud800-\udfff]")


def _emit(obj: dict, out) -> None:
    """Write ``obj`` as one JSON line, readable (``ensure_ascii=False``) wherever the output can hold it.

    A lone surrogate (from a JSON ``\\ud800`` escape in the input) cannot be written as UTF-8: it is written as
    its JSON escape ``\\ud800`` instead, and the rest of the line stays readable. A stream in a narrower
    encoding (a GBK console) that cannot hold some character gets the whole record with ``\\uXXXX`` escapes.
    Either way the line is valid JSON that reads back as exactly the same strings: nothing is replaced or dropped.
    """
    line = json.dumps(obj, ensure_ascii=False)
    if _SURROGATE_RE.search(line):  # only inside JSON strings, where the escape means the same code point
        line = _SURROGATE_RE.sub(lambda m: f"\\u{ord(m.group()):04x}", line)
    try:
        out.write(line + "\n")
    except UnicodeEncodeError:
        out.write(json.dumps(obj, ensure_ascii=True) + "\n")


def _read_options(args) -> dict:
    return {
        "format": getattr(args, "format", None),
        "encoding": getattr(args, "encoding", None),
        "skip_bad_lines": getattr(args, "skip_bad_lines", False),
    }


def _input_records(args) -> Iterator[tuple[int, dict | Exception]]:
    from csnlp.datasets import iter_text_records

    if args.texts:
        for i, text in enumerate(args.texts, 1):
            yield i, {"text": text}
        return
    if args.input and args.input != "-":
        with open(args.input, encoding=args.encoding or "utf-8-sig") as fh:
            yield from iter_text_records(fh, args.input)
        return
    # decode stdin strictly ourselves: Python's own stdin may be set to replace or escape undecodable bytes
    buffer = getattr(sys.stdin, "buffer", None)
    stream = sys.stdin if buffer is None else io.TextIOWrapper(buffer, encoding=args.encoding or "utf-8-sig")
    yield from iter_text_records(stream, "<stdin>")


def _batched(records: Iterable, size: int) -> Iterator[list]:
    batch = []
    for item in records:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _input_source(args) -> str:
    """How the messages' origin is named in line errors."""
    if args.texts:
        return "argument"
    return args.input if args.input and args.input != "-" else "<stdin>"


def _stream(args, label: str, process, check=None) -> int:
    """Read records in batches, ``process(good_records) -> list of dicts``, write one JSON line per input line
    in input order. A bad line is fatal, or with --skip-bad-lines an ``{"line", "error"}`` record.

    ``check(record)``, when given, raises :class:`InputError` for a record the command cannot use (a bad line).
    """
    progress = _Progress(label)
    out = sys.stdout
    skipped = 0
    size = args.batch_size if args.jobs in (None, 1) else max(args.batch_size, 8192)
    records = _input_records(args)
    if check is not None:
        records = _checked(records, check, _input_source(args))
    for batch in _batched(records, size):
        good = [(lineno, rec) for lineno, rec in batch if not isinstance(rec, Exception)]
        results = iter(process(good) if good else [])
        for lineno, rec in batch:
            if isinstance(rec, Exception):
                if not args.skip_bad_lines:
                    raise rec
                skipped += 1
                logger.warning("skipped: %s", rec)
                _emit({"line": lineno, "error": str(rec)}, out)
            else:
                _emit(({"id": rec["id"]} if "id" in rec else {}) | next(results), out)
        progress.update(len(batch))
    progress.close()
    if skipped:
        print(f"skipped {skipped} bad line(s)", file=sys.stderr)
    return 0


def _checked(records, check, source: str) -> Iterator[tuple[int, dict | Exception]]:
    for lineno, rec in records:
        if not isinstance(rec, Exception):
            try:
                check(rec)
            except InputError as exc:
                rec = DataFormatError(f"{source} line {lineno}: {exc}")
        yield lineno, rec


# -- sub-commands -------------------------------------------------------------------------------------------
def cmd_train(args) -> int:
    from csnlp.persistence import save
    from csnlp.training import check_seed, read_config, train_intent_classifier

    check_seed(args.seed)  # for every task, before any data is read
    if args.task == "tag":
        from csnlp.tag import train_feedback_tagger

        model = train_feedback_tagger(args.data, config=read_config(args.config), seed=args.seed,
                                      dev=args.dev, **_read_options(args))
    elif args.streaming:
        from csnlp.streaming import train_streaming

        model = train_streaming(args.data, config=read_config(args.config), seed=args.seed,
                                chunk_size=args.chunk_size, **_read_options(args))
    else:
        model = train_intent_classifier(args.data, config=read_config(args.config), seed=args.seed,
                                        dev=args.dev, **_read_options(args))
        if args.target_precision is not None:
            from csnlp.route import tune_router

            model = tune_router(model, args.data, target_precision=args.target_precision, cv=args.cv or 5,
                                read_options=_read_options(args), out_dir=args.out_curve)
    path = save(model, args.out, overwrite=args.overwrite)
    summary = {"model": str(path), "labels": len(model.classes_)} | (getattr(model, "bundle_metadata_", {}) or {})
    _emit(summary, sys.stdout)
    return 0


_INTENT_KINDS = ("intent_classifier", "streaming_intent_classifier", "router")


def _bundle_kind(model) -> str:
    manifest = getattr(model, "bundle_manifest_", None) or {}
    return manifest.get("kind") or type(model).__name__


def _wrong_kind(path, model, command: str, expected) -> InputError:
    return InputError(f"{path} is a {_bundle_kind(model)} bundle, but 'csnlp {command}' needs one of these "
                      f"kinds: {', '.join(expected)}; pass one with --model (or leave --model out for the "
                      "embedded default model)")


def _load_intent_model(path, command: str = "predict"):
    """The intent classifier of an intent or router bundle (the embedded default without ``path``)."""
    from csnlp.intent import IntentClassifier
    from csnlp.persistence import load
    from csnlp.route import Router
    from csnlp.streaming import StreamingIntentClassifier

    if path is None:
        from csnlp.default import load_default

        return load_default().classifier
    model = load(path)
    if isinstance(model, Router):
        return model.classifier
    if not isinstance(model, (IntentClassifier, StreamingIntentClassifier)):
        raise _wrong_kind(path, model, command, _INTENT_KINDS)
    return model


def cmd_evaluate(args) -> int:
    from csnlp.datasets import load_dataset

    if args.task == "tag":
        from csnlp.tag import evaluate_tagger

        tagger = _load_tagger(args.model, "evaluate --task tag")
        ds = load_dataset(args.data, multi_label=True, **_read_options(args))
        report = evaluate_tagger(tagger, ds.texts, ds.labels)
        report["data"] = str(args.data)
        _write_report(report, args.report)
        _print_table(report, "per_label", sys.stderr)
        print(f"micro-F1 {report['micro_f1']:.4f}  macro-F1 {report['macro_f1']:.4f}  n {report['n']}", file=sys.stderr)
        return 0
    from csnlp.evaluation import evaluate_intents, save_intent_plots

    model = _load_intent_model(args.model, "evaluate")
    ds = load_dataset(args.data, multi_label=False, **_read_options(args))
    report = evaluate_intents(model, ds.texts, ds.labels)
    report["data"] = str(args.data)
    if ds.bad_lines:
        report["bad_lines_skipped"] = len(ds.bad_lines)
    _write_report(report, args.report)
    _print_table(report, "per_label", sys.stderr)
    if report["confusions"]:
        print("most confused (true -> predicted):", file=sys.stderr)
        for c in report["confusions"][:5]:
            print(f"  {c['true']} -> {c['predicted']}: {c['count']}", file=sys.stderr)
    if args.plots:
        for p in save_intent_plots(report, model, ds.texts, ds.labels, args.plots):
            print(f"wrote {p}", file=sys.stderr)
    print(
        f"accuracy {report['accuracy']:.4f}  macro-F1 {report['macro_f1']:.4f}  ECE {report['ece']:.4f}  n {report['n']}",
        file=sys.stderr,
    )
    _emit({k: report[k] for k in ("n", "accuracy", "macro_f1", "ece")}, sys.stdout)
    return 0


def _write_report(report: dict, path) -> None:
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
        print(f"wrote {path}", file=sys.stderr)


def _print_table(report: dict, key: str, out) -> None:
    rows = report.get(key) or {}
    width = max([len(k) for k in rows] + [5])
    out.write(f"{'label'.ljust(width)}  precision  recall     f1  support\n")
    for label, m in sorted(rows.items()):
        out.write(f"{label.ljust(width)}  {m['precision']:9.3f}  {m['recall']:6.3f}  {m['f1']:5.3f}  {m['support']:7d}\n")


def cmd_predict(args) -> int:
    model = _load_intent_model(args.model, "predict")
    model.n_jobs = args.jobs

    def process(good):
        preds = model.predictions([rec["text"] for _, rec in good], k=args.top)
        rows = []
        for (_, rec), pred in zip(good, preds):
            row = {"text": rec["text"]} | pred.to_dict()
            if not row["truncated"]:
                del row["truncated"]
            rows.append(row)
        return rows

    return _stream(args, "predicted", process)


def _load_router(args):
    """The router for route/chat: a router bundle, or a plain intent bundle with the default policy."""
    from csnlp.kb import KnowledgeBase
    from csnlp.persistence import load
    from csnlp.policy import Policy
    from csnlp.route import Router

    if args.model is None:
        from csnlp.default import load_default

        router = load_default()
    else:
        model = load(args.model)
        router = model if isinstance(model, Router) else Router(_intent_model(args.model, model, args.command))
    if getattr(args, "kb", None):
        router.kb = KnowledgeBase.from_dir(args.kb)
    if getattr(args, "policy", None):
        router.policy = Policy.from_file(args.policy)
        router._matchers = None
    return router


def _intent_model(path, model, command: str):
    """``model`` when it is an intent classifier, else the error naming the kind expected and found."""
    from csnlp.intent import IntentClassifier
    from csnlp.streaming import StreamingIntentClassifier

    if not isinstance(model, (IntentClassifier, StreamingIntentClassifier)):
        raise _wrong_kind(path, model, command, _INTENT_KINDS)
    return model


_CONTEXT_KEYS = ("failures", "previous", "tier", "channel")


def _context_of(rec: dict, channel: str | None) -> dict | None:
    context = {k: rec[k] for k in _CONTEXT_KEYS if k in rec} or None
    return {"channel": channel} | (context or {}) if channel else context


def cmd_route(args) -> int:
    from csnlp.route import check_context

    router = _load_router(args)
    show_private = args.show_private

    def process(good):
        contexts = [_context_of(rec, args.channel) for _, rec in good]
        decisions = router.route_many([rec["text"] for _, rec in good], contexts, n_jobs=args.jobs)
        return [d.to_dict(include_private_values=show_private) for d in decisions]

    # a bad context (failures, previous) is a bad line of the input, like a line without 'text'
    return _stream(args, "routed", process, check=lambda rec: check_context(_context_of(rec, args.channel)))


def format_decision(decision) -> str:
    """A decision as two readable lines (for chat and demo)."""
    head = f"[{decision.action} · {decision.intent or '-'} {decision.confidence:.2f} · {decision.reason}"
    if decision.action == "handoff":
        head += f" · queue {decision.queue} · {decision.priority}"
    if decision.tags:
        head += f" · tags {','.join(decision.tags)} · severity {decision.severity}"
    head += "]"
    return head + ("\n  " + decision.reply if decision.reply else "")


def cmd_chat(args) -> int:
    router = _load_router(args)
    previous: list = []
    interactive = sys.stdin.isatty()
    if interactive:
        print("csnlp chat: type a customer message; 'exit' or Ctrl-D to stop.", file=sys.stderr)
    while True:
        if interactive:
            sys.stderr.write("顾客> ")
            sys.stderr.flush()
        line = sys.stdin.readline()
        if not line:
            break
        text = line.strip()
        if text.lower() in ("exit", "quit", "退出"):
            break
        if not text:
            continue
        decision = router.route(text, {"previous": previous, "channel": args.channel, "tier": args.tier})
        previous.append(decision)
        if decision.action == "handoff":
            previous.clear()  # a person takes over: the bot's failure count starts again
        print(format_decision(decision), flush=True)
    return 0


DEMO_CONVERSATION = [
    ("app", "在吗"),
    ("app", "我的快递单号SF1234567890123，三天了物流一直没更新"),
    ("wechat", "订单2026100812345678还没发货，能帮我催一下吗"),
    ("app", "衣服洗了一次就掉色了，我要退货"),
    ("sms", "退款什么时候到账"),
    ("app", "七天无理由退货需要什么条件"),
    ("miniprogram", "今天北京天气怎么样"),
    ("app", "😂😂😂"),
    ("app", "电饭煲用了两天就冒烟起火了，我要打12315投诉你们"),
    ("web", "转人工"),
    ("app", "谢谢，没事了"),
]


def _load_tagger(path, command: str = "tag"):
    """The feedback tagger of a tagger or router bundle (the embedded default's without ``path``)."""
    from csnlp.persistence import load
    from csnlp.route import Router
    from csnlp.tag import FeedbackTagger

    if path is None:
        from csnlp.default import load_default

        tagger = load_default().tagger
    else:
        model = load(path)
        if not isinstance(model, (Router, FeedbackTagger)):
            raise _wrong_kind(path, model, command, ("feedback_tagger", "router"))
        tagger = model.tagger if isinstance(model, Router) else model
    if tagger is None:
        raise CsnlpError("this model has no feedback tagger: train one with 'csnlp train --task tag'")
    return tagger


def cmd_tag(args) -> int:
    tagger = _load_tagger(args.model, "tag")
    return _stream(args, "tagged", lambda good: [r.to_dict() for r in tagger.tag([rec["text"] for _, rec in good])])


def cmd_demo(args) -> int:
    from csnlp.default import load_default

    router = load_default() if args.model is None else _load_router(args)
    print("csnlp demo: a scripted conversation routed by the embedded default model\n")
    for channel, text in DEMO_CONVERSATION:
        decision = router.route(text, {"channel": channel})
        print(f"顾客 ({channel}): {text}")
        print(format_decision(decision) + "\n")
    return 0


def cmd_tune(args) -> int:
    from csnlp.persistence import load, save
    from csnlp.route import Router, tune_router

    model = load(args.model)
    if not isinstance(model, Router):
        model = _intent_model(args.model, model, "tune")
    router = tune_router(model, args.data, target_precision=args.target_precision, cv=args.cv,
                         per_intent=args.per_intent, read_options=_read_options(args), out_dir=args.curve)
    result = router.tuning_result_
    print(result.table())
    print(result.summary())
    if result.intent_thresholds:
        print("per-intent thresholds: " + ", ".join(f"{k} {v:.3f}" for k, v in sorted(result.intent_thresholds.items())))
    out = args.out or args.model
    save(router, out, overwrite=True)
    print(f"wrote the tuned router to {out}", file=sys.stderr)
    return 0 if result.reachable else 1 if args.strict else 0


def cmd_report(args) -> int:
    from csnlp.insights import build_report, write_report

    progress = _Progress("lines")
    report = build_report(args.logs, args.model, since=args.since, until=args.until, encoding=args.encoding,
                          format=args.format, skip_bad_lines=args.skip_bad_lines, batch_size=args.batch_size,
                          n_jobs=args.jobs, progress=progress.update)
    progress.close()
    for path in write_report(report, args.out).values():
        print(f"wrote {path}", file=sys.stderr)
    data = report.data
    _emit({"out": str(args.out), "lines": data["lines_read"], "analysed": data["analysed"], "bad_lines": data["bad"],
           "automation_rate": report.automation["rate"], "spikes": len(report.spikes),
           "faq_gap_clusters": len(report.faq_gaps["clusters"])}, sys.stdout)
    return 0


# -- parser -------------------------------------------------------------------------------------------------
def _positive_int(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {value!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {n}")
    return n


def _add_read_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--format", choices=["jsonl", "csv", "tsv", "rasa"], help="data format (default: from the file name)")
    p.add_argument("--encoding", help="file encoding (default: UTF-8, or GB18030 when the file is not UTF-8)")
    p.add_argument("--skip-bad-lines", action="store_true", help="skip unreadable lines and report how many")


def _add_stream_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("texts", nargs="*", metavar="TEXT", help="messages; none: read one per line from --input or stdin")
    p.add_argument("--input", "-i", help="file of messages (plain lines or JSONL with 'text'); default stdin")
    p.add_argument("--encoding", help="input encoding (default UTF-8)")
    p.add_argument("--skip-bad-lines", action="store_true", help="report bad JSONL lines and go on")
    p.add_argument("--batch-size", type=_positive_int, default=512, help=argparse.SUPPRESS)
    p.add_argument("--jobs", "-j", type=int, default=None,
                   help="worker processes for large inputs (-1: all cores); output order is unchanged")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="csnlp",
        description="Chinese customer-service NLP: intents, routing to bot or human, complaint tags, reports.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"csnlp {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="-v: info and tracebacks, -vv: debug")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("train", help="train an intent classifier (or a feedback tagger) from a labelled file",
                       epilog="example: csnlp train --data train.jsonl --out models/intent --dev dev.jsonl",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="training data: JSONL {text,label}, CSV/TSV with a header, Rasa nlu.yml")
    p.add_argument("--out", required=True, help="where to write the model bundle (a directory, or a .zip file)")
    p.add_argument("--task", choices=["intent", "tag"], default="intent", help="intent classifier (default) or feedback tagger")
    p.add_argument("--dev", help="held-out data scored after training; metrics go into the manifest")
    p.add_argument("--config", help="JSON/YAML file of model parameters, e.g. {\"C\": 1.0}")
    p.add_argument("--seed", type=int, default=None, help="random seed (default 0)")
    p.add_argument("--target-precision", type=float, help="also tune routing thresholds for this answered precision")
    p.add_argument("--cv", type=int, help="folds for --target-precision (default 5)")
    p.add_argument("--out-curve", help=argparse.SUPPRESS)
    p.add_argument("--streaming", action="store_true",
                   help="train from a file larger than memory (hashed features, chunk by chunk, bounded memory)")
    p.add_argument("--chunk-size", type=_positive_int, help="texts per chunk with --streaming (default 10000)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing bundle at --out")
    _add_read_options(p)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", help="score a model on labelled data",
                       epilog="example: csnlp evaluate --model models/intent --data test.jsonl --report r.json --plots plots/",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", help="model bundle (default: the embedded default model)")
    p.add_argument("--data", required=True, help="labelled data file")
    p.add_argument("--task", choices=["intent", "tag"], default="intent")
    p.add_argument("--report", help="write the full report as JSON here")
    p.add_argument("--plots", help="write a confusion matrix and a reliability diagram (PNG) into this directory")
    _add_read_options(p)
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("predict", help="intent and confidence of each message, one JSON line per input",
                       epilog='examples:\n  csnlp predict "我要退货"\n  csnlp predict --model m < messages.txt',
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", help="model bundle (default: the embedded default model)")
    p.add_argument("--top", type=_positive_int, default=3, help="how many best intents to list (default 3)")
    _add_stream_options(p)
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("route", help="answer, clarify or hand off each message (one JSON decision per line)",
                       epilog='examples:\n  csnlp route "快递三天没更新了，到底什么时候到？"\n'
                              '  echo \'{"text": "还是不行", "failures": 2, "tier": "vip"}\' | csnlp route',
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_router_options(p)
    p.add_argument("--channel", help="channel of every message (app, wechat, miniprogram, sms, web): sms gets short replies")
    p.add_argument("--show-private", action="store_true",
                   help="print private values (phone, ID-card and bank-card numbers, e-mail addresses) in "
                        "'entities' and 'reply'; by default they are left out of 'entities' and replaced in 'reply' by "
                        "the placeholders of 'masked_text' (order and tracking numbers are always shown)")
    _add_stream_options(p)
    p.set_defaults(func=cmd_route)

    p = sub.add_parser("chat", help="an interactive conversation with the router (keeps the context)",
                       epilog="example: csnlp chat --tier vip")
    _add_router_options(p)
    p.add_argument("--channel", default="app", help="channel of the conversation (default app)")
    p.add_argument("--tier", help="customer tier, e.g. vip")
    p.set_defaults(func=cmd_chat)

    p = sub.add_parser("tag", help="complaint categories, evidence, severity and sentiment of each message (JSON lines)",
                       epilog='examples:\n  csnlp tag "快递员态度太差，包裹还被压坏了"\n  csnlp tag --model models/tagger < feedback.txt',
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", help="tagger or router bundle (default: the embedded default model's tagger)")
    _add_stream_options(p)
    p.set_defaults(func=cmd_tag)

    p = sub.add_parser("demo", help="route a short scripted conversation with the embedded default model")
    _add_router_options(p)
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("tune", help="choose confidence thresholds for a precision target and store them in the bundle",
                       epilog="examples:\n  csnlp tune --model m --data train.jsonl --cv 5 --target-precision 0.95\n"
                              "  csnlp tune --model m --data heldout.jsonl --target-precision 0.9 --per-intent --curve out/",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="intent or router bundle to tune")
    p.add_argument("--data", required=True, help="labelled data: held-out, or the training data with --cv")
    p.add_argument("--target-precision", type=float, default=0.95, help="answered precision to reach (default 0.95)")
    p.add_argument("--cv", type=int, help="score by K-fold cross-validation on --data (refits the model's configuration)")
    p.add_argument("--per-intent", action="store_true", help="also a threshold per intent with enough data")
    p.add_argument("--out", help="where to write the tuned router bundle (default: replace --model)")
    p.add_argument("--curve", help="directory for risk_coverage.json and risk_coverage.png")
    p.add_argument("--strict", action="store_true", help="exit 1 when the target cannot be reached")
    _add_read_options(p)
    p.set_defaults(func=cmd_tune)

    p = sub.add_parser("report", help="insights over a conversation log: volume, intents, automation, complaints, "
                                      "spikes, FAQ gaps (HTML, Markdown, JSON)",
                       epilog="examples:\n  csnlp report --logs conversations.jsonl --out report/\n"
                              "  csnlp report --logs export.csv --out weekly/ --since 2026-10-19 --until 2026-10-25",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--logs", required=True, help="conversation log: JSONL or CSV with ts and text (optional: channel, "
                                                 "user_id, conversation_id, resolved, satisfaction, agent_label)")
    p.add_argument("--out", required=True, help="directory for report.html, report.md, report.json, faq_gaps.jsonl")
    p.add_argument("--model", help="router or intent bundle (default: the embedded default model)")
    p.add_argument("--since", help="first day of the period, YYYY-MM-DD (compared with as many days before it)")
    p.add_argument("--until", help="last day of the period, YYYY-MM-DD")
    p.add_argument("--format", choices=["jsonl", "csv", "tsv"], help="log format (default: from the file name)")
    p.add_argument("--encoding", help="file encoding (default: UTF-8, or GB18030 when the file is not UTF-8)")
    p.add_argument("--skip-bad-lines", action="store_true", help="count bad lines (listed in the report) and go on")
    p.add_argument("--batch-size", type=_positive_int, default=1024, help="messages routed per batch (default 1024)")
    p.add_argument("--jobs", "-j", type=int, default=1, help="worker processes for routing (-1: all cores; default 1)")
    p.set_defaults(func=cmd_report)
    return parser


def _add_router_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", help="router or intent bundle (default: the embedded default model)")
    p.add_argument("--kb", help="knowledge-base directory (replies.json, faq.json) for a plain intent bundle")
    p.add_argument("--policy", help="policy file (JSON/YAML) replacing the bundle's")


def _configure_logging(verbosity: int) -> None:
    level = logging.WARNING if verbosity == 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("csnlp")
    root.handlers = [h for h in root.handlers if not getattr(h, "_csnlp_cli", False)]
    handler._csnlp_cli = True
    root.addHandler(handler)
    root.setLevel(level)


def _is_text_encoding(name: str) -> bool:
    """True for a codec that turns bytes into str (not e.g. 'rot13' or 'base64', nor an unknown name)."""
    try:
        "".encode(name)
        b"".decode(name)
    except LookupError:
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    """Run the ``csnlp`` command line; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help(sys.stderr)
        return 2
    _configure_logging(args.verbose)
    encoding = getattr(args, "encoding", None)
    if encoding is not None and not _is_text_encoding(encoding):
        print(f"csnlp {args.command}: error: unknown encoding {encoding!r}: use e.g. --encoding utf-8, gbk or "
              "gb18030", file=sys.stderr)
        return 1
    with warnings.catch_warnings():
        warnings.simplefilter("default")
        warnings.showwarning = lambda msg, cat, *a, **k: print(f"warning: {msg}", file=sys.stderr)
        try:
            return args.func(args)
        except UnicodeDecodeError as exc:
            if args.verbose:
                logger.exception("failed")
            print(f"csnlp {args.command}: error: input cannot be decoded as {exc.encoding} ({exc.reason} at byte "
                  f"{exc.start}): pass its encoding, e.g. --encoding gbk", file=sys.stderr)
            return 1
        except UnicodeError as exc:  # e.g. utf-16 without a byte-order mark
            if args.verbose:
                logger.exception("failed")
            print(f"csnlp {args.command}: error: input cannot be decoded ({exc}): pass its exact encoding, e.g. "
                  "--encoding utf-16-le", file=sys.stderr)
            return 1
        except (CsnlpError, FileNotFoundError, IsADirectoryError, PermissionError) as exc:
            if args.verbose:
                logger.exception("failed")
            print(f"csnlp {args.command}: error: {exc}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            return 130
        except BrokenPipeError:
            return 0


if __name__ == "__main__":
    sys.exit(main())
