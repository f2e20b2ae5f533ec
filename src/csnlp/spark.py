"""Score PySpark DataFrames with a csnlp model (optional: ``pip install 'csnlp[spark]'``).

The model bundle is read from a path every executor can reach (a shared file system, or a file shipped
with ``spark-submit --files``), once per Python worker process, and then reused for every partition that
worker scores; rows are routed in batches with ``mapInPandas``. Results equal the library's own.

Example (a real cluster)::

    spark-submit --master yarn --files /shared/models/router.zip score.py

    # score.py
    from pyspark.sql import SparkSession
    from csnlp.spark import add_decisions
    spark = SparkSession.builder.getOrCreate()
    logs = spark.read.json("hdfs:///logs/2026-10/*.jsonl")
    add_decisions(logs, "router.zip").write.parquet("hdfs:///scored/2026-10")
"""

from __future__ import annotations

import threading

__all__ = ["add_intents", "add_decisions", "add_tags"]

_models: dict[str, object] = {}
_lock = threading.Lock()

INTENT_COLUMNS = ("intent", "confidence")
DECISION_COLUMNS = ("action", "intent", "confidence", "reason", "queue", "priority", "masked_text")
TAG_COLUMNS = ("categories", "severity", "sentiment")


def _model(path: str | None):
    """The model at ``path`` (None: the default), loaded once per worker process."""
    key = path or "<default>"
    with _lock:
        if key not in _models:
            import csnlp

            _models[key] = csnlp.load(path) if path else csnlp.load_default()
        return _models[key]


def _schema(df, text_col: str, columns: dict[str, str]) -> str:
    if text_col not in df.columns:
        from csnlp.exceptions import InputError

        raise InputError(f"the DataFrame has no column {text_col!r}: pass text_col= one of {df.columns}")
    fields = [f"`{f.name}` {f.dataType.simpleString()}" for f in df.schema.fields]
    fields += [f"`{name}` {kind}" for name, kind in columns.items()]
    return ", ".join(fields)


def _map(df, text_col: str, columns: dict[str, str], score):
    schema = _schema(df, text_col, columns)

    def run(batches):
        for pdf in batches:
            texts = ["" if t is None else str(t) for t in pdf[text_col].tolist()]
            rows = score(texts)
            for name in columns:
                pdf[name] = [row[name] for row in rows]
            yield pdf

    return df.mapInPandas(run, schema=schema)


def add_intents(df, model_path: str | None = None, text_col: str = "text"):
    """Add ``intent`` and ``confidence`` columns (an intent or router bundle; None: the default model)."""

    def score(texts):
        model = _model(model_path)
        clf = getattr(model, "classifier", model)
        return [{"intent": str(p.intent), "confidence": float(p.confidence)} for p in clf.predictions(texts)]

    return _map(df, text_col, {"intent": "string", "confidence": "double"}, score)


def add_decisions(df, model_path: str | None = None, text_col: str = "text"):
    """Add the router's decision columns: action, intent, confidence, reason, queue, priority, masked_text."""

    def score(texts):
        from csnlp.route import Router

        model = _model(model_path)
        router = model if isinstance(model, Router) else Router(model)
        return [{k: d.to_dict()[k] for k in DECISION_COLUMNS} for d in router.route_many(texts)]

    columns = {"action": "string", "intent": "string", "confidence": "double", "reason": "string",
               "queue": "string", "priority": "string", "masked_text": "string"}
    return _map(df, text_col, columns, score)


def add_tags(df, model_path: str | None = None, text_col: str = "text"):
    """Add the feedback tagger's columns: categories (array of str), severity, sentiment."""

    def score(texts):
        model = _model(model_path)
        tagger = getattr(model, "tagger", model)
        return [{"categories": list(r.categories), "severity": r.severity, "sentiment": r.sentiment}
                for r in tagger.tag(texts)]

    return _map(df, text_col, {"categories": "array<string>", "severity": "string", "sentiment": "string"}, score)
