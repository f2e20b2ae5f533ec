"""The embedded default: a Chinese e-commerce customer-service router that works the minute csnlp is installed.

It is built from the data shipped in the package (``csnlp._data``: intent corpus, knowledge base, feedback
corpus) on first use and cached as a bundle in the per-user cache directory, keyed by the fingerprint of
that data and the versions of csnlp, scikit-learn, jieba and numpy. Building takes seconds, loading the
cached bundle well under one; nothing is ever written into site-packages.

Why build on first use rather than ship a trained bundle: the wheel stays small and the model always
matches the installed library versions exactly (no cross-version warning, no stale model).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from importlib import resources
from pathlib import Path

from csnlp.exceptions import IntegrityError
from csnlp.kb import KnowledgeBase
from csnlp.policy import Policy

__all__ = ["load_default", "build_default", "default_data_files", "DEFAULT_TARGET_PRECISION"]

logger = logging.getLogger(__name__)

#: Answered precision the default thresholds are tuned for (on out-of-fold predictions of the corpus).
DEFAULT_TARGET_PRECISION = 0.95
_DATA_FILES = ("intents/train.jsonl", "kb/replies.json", "kb/faq.json", "feedback/train.jsonl")


def default_data_files() -> dict[str, bytes]:
    """The packaged data the default is built from, by relative path."""
    root = resources.files("csnlp._data")
    out = {}
    for rel in _DATA_FILES:
        node = root.joinpath(*rel.split("/"))
        if node.is_file():
            out[rel] = node.read_bytes()
    if "intents/train.jsonl" not in out:
        raise FileNotFoundError("the packaged intent corpus is missing: reinstall csnlp")
    return out


def _fingerprint(files: dict[str, bytes]) -> str:
    from csnlp.persistence import _versions

    h = hashlib.sha256(json.dumps(_versions(), sort_keys=True).encode())
    for rel in sorted(files):
        h.update(rel.encode() + b"\0" + hashlib.sha256(files[rel]).digest())
    return h.hexdigest()[:16]


def _read_jsonl(data: bytes) -> list[dict]:
    return [json.loads(line) for line in data.decode("utf-8-sig").splitlines() if line.strip()]


def build_default(files: dict[str, bytes] | None = None):
    """Train the default router from the packaged data (no caching); returns a :class:`~csnlp.route.Router`."""
    from csnlp.datasets import data_fingerprint
    from csnlp.intent import IntentClassifier
    from csnlp.route import Router, apply_tuning
    from csnlp.tuning import tune_thresholds

    files = files or default_data_files()
    start = time.perf_counter()
    records = _read_jsonl(files["intents/train.jsonl"])
    texts, labels = [r["text"] for r in records], [r["label"] for r in records]
    classifier = IntentClassifier().fit(texts, labels)
    classifier.bundle_metadata_ = {"training_data_sha256": data_fingerprint(texts, labels)}
    kb = KnowledgeBase.from_dict(
        {
            "replies": json.loads(files["kb/replies.json"])["replies"],
            "intent_names": json.loads(files["kb/replies.json"]).get("intent_names", {}),
            "faq": json.loads(files["kb/faq.json"])["entries"] if "kb/faq.json" in files else [],
        },
        source="packaged knowledge base",
    )
    policy = Policy()
    # One global threshold from the out-of-fold probabilities the classifier computed for its calibration
    # (no extra fits). Per-intent thresholds on ~80 examples an intent were too noisy to trust.
    result = tune_thresholds(
        classifier.oof_proba_, classifier.classes_, [labels[i] for i in classifier.oof_index_],
        target_precision=DEFAULT_TARGET_PRECISION,
        per_intent=False, out_of_scope_intents=policy.out_of_scope_intents,
        source="3-fold out-of-fold predictions on the packaged intent corpus",
    )
    apply_tuning(policy, result)
    tagger = None
    if "feedback/train.jsonl" in files:
        try:
            from csnlp.tag import FeedbackTagger
        except ImportError:  # tagger not available in this build
            FeedbackTagger = None
        if FeedbackTagger is not None:
            fb = _read_jsonl(files["feedback/train.jsonl"])
            tagger = FeedbackTagger().fit([r["text"] for r in fb], [r.get("labels") or [r["label"]] for r in fb])
    router = Router(classifier, kb=kb, policy=policy, tagger=tagger)
    logger.info("built the default model in %.1f s", time.perf_counter() - start)
    return router


def load_default(cache_dir: str | os.PathLike | None = None):
    """The ready default router (intent classifier, knowledge base, tuned policy, feedback tagger).

    The first call builds it (a few seconds) and caches it in ``cache_dir`` (default: the per-user cache
    directory, ``$CSNLP_CACHE_DIR`` overrides); later calls load the cached bundle.

    Examples
    --------
    >>> router = load_default()
    >>> router.route("快递三天没更新了，到底什么时候到？").intent
    'shipping_progress'
    """
    from csnlp.persistence import load, save
    from csnlp.tokenizer import cache_dir as default_cache_dir

    files = default_data_files()
    folder = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    path = folder / f"default-{_fingerprint(files)}.zip"
    if path.is_file():
        try:
            return load(path)
        except IntegrityError:
            logger.warning("cached default model %s is damaged: rebuilding it", path)
    router = build_default(files)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        save(router, path, overwrite=True)
    except OSError as exc:  # read-only cache: still usable, just rebuilt next time
        logger.warning("could not cache the default model in %s (%s)", folder, exc)
    return router
