"""Knowledge base: the replies the bot sends per intent, and FAQ entries matched by similarity.

A reply may hold placeholders (``{order_no}``, ``{tracking_no}``, ``{phone}``, ``{amount}``) inside optional
segments in square brackets: ``"[您的订单{order_no}]已发货"`` reads ``"您的订单123已发货"`` when the message
carried an order number, and ``"已发货"`` when it did not. Each reply has a short SMS variant (<= 70
characters) that :meth:`KnowledgeBase.reply_for` picks for ``channel="sms"``.

FAQ entries (several phrasings of one question, one answer) are matched by cosine similarity of word + char
TF-IDF vectors (:class:`FaqMatcher`); the similarity threshold is tuned on labelled question pairs.
"""

from __future__ import annotations

import json
import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sklearn.preprocessing import normalize as l2_normalize

from csnlp._validation import check_texts
from csnlp.exceptions import PolicyError
from csnlp.features import TextFeatures, preprocess_texts

__all__ = ["KnowledgeBase", "FaqEntry", "FaqMatch", "FaqMatcher", "fill_reply", "tune_similarity_threshold"]

logger = logging.getLogger(__name__)

#: Entity kinds from :func:`csnlp.text.mask` that may fill a reply's placeholders, by placeholder name.
PLACEHOLDER_ENTITIES = {"order_no": "order_no", "tracking_no": "tracking_no", "phone": "phone", "amount": "money"}
SMS_MAX_CHARS = 70
_SEGMENT_RE = re.compile(r"\[([^\[\]]*)\]")
_FIELD_RE = re.compile(r"\{(\w+)\}")


def fill_reply(template: str, values: dict[str, str]) -> str:
    """Fill ``{name}`` placeholders; drop each ``[...]`` segment whose placeholders have no value.

    Examples
    --------
    >>> fill_reply("[您的订单{order_no}]已发货", {"order_no": "2024061512345678"})
    '您的订单2024061512345678已发货'
    >>> fill_reply("[您的订单{order_no}]已发货", {})
    '已发货'
    """

    def segment(m: re.Match) -> str:
        names = _FIELD_RE.findall(m.group(1))
        if all(values.get(n) for n in names):
            return _FIELD_RE.sub(lambda f: str(values[f.group(1)]), m.group(1))
        return ""

    text = _SEGMENT_RE.sub(segment, template)
    return _FIELD_RE.sub(lambda f: str(values.get(f.group(1), "")), text)


@dataclass(frozen=True)
class FaqEntry:
    id: str
    questions: tuple[str, ...]
    answer: str
    sms: str = ""
    intent: str | None = None


@dataclass(frozen=True)
class FaqMatch:
    """The FAQ entry closest to a message and how close (cosine similarity in [0, 1])."""

    entry: FaqEntry
    score: float
    question: str


class FaqMatcher:
    """Nearest FAQ question by cosine similarity of word + character TF-IDF vectors.

    Parameters
    ----------
    threshold : float, default 0.5
        Minimum similarity for :meth:`match` to return an entry.
    """

    def __init__(self, *, threshold: float = 0.5, char_ngram_range=(1, 3), word_ngram_range=(1, 2)) -> None:
        self.threshold = threshold
        self.char_ngram_range = char_ngram_range
        self.word_ngram_range = word_ngram_range

    def _features(self) -> TextFeatures:
        return TextFeatures(
            word_ngram_range=self.word_ngram_range, char_ngram_range=self.char_ngram_range, preprocessed=True, hmm=False
        )

    def fit_texts(self, texts) -> FaqMatcher:
        """Learn the vocabulary and IDF weights from texts (no entries: for pair similarity only)."""
        self.features_ = self._features().fit(preprocess_texts(check_texts(texts)))
        return self

    def fit(self, entries: list[FaqEntry], extra_texts=()) -> FaqMatcher:
        """Index the questions of ``entries`` (IDF learnt from them plus ``extra_texts``)."""
        if not entries:
            raise PolicyError("no FAQ entries to index: add entries to faq.json or leave the FAQ out")
        self.entries_ = list(entries)
        questions = [q for e in entries for q in e.questions]
        self.question_entry_ = np.array([i for i, e in enumerate(entries) for _ in e.questions])
        self.questions_ = questions
        self.fit_texts(questions + list(extra_texts))
        self.matrix_ = self.vectors(questions)
        return self

    def vectors(self, texts) -> np.ndarray:
        """L2-normalised TF-IDF rows of raw texts."""
        X = self.features_.transform(preprocess_texts(check_texts(texts)))
        return l2_normalize(X)

    def similarity(self, texts_a, texts_b) -> np.ndarray:
        """Cosine similarity of each pair (texts_a[i], texts_b[i])."""
        A, B = self.vectors(texts_a), self.vectors(texts_b)
        return np.asarray(A.multiply(B).sum(axis=1)).ravel()

    def match(self, texts) -> list[FaqMatch | None]:
        """The best FAQ entry for each text, or None when no question is at least ``threshold`` similar."""
        texts = check_texts(texts)
        if not texts:
            return []
        sims = (self.vectors(texts) @ self.matrix_.T).toarray()
        out = []
        for row in sims:
            j = int(row.argmax())
            if row[j] >= self.threshold and row[j] > 0:
                out.append(FaqMatch(self.entries_[self.question_entry_[j]], float(row[j]), self.questions_[j]))
            else:
                out.append(None)
        return out


def tune_similarity_threshold(scores, labels) -> tuple[float, float]:
    """The threshold that maximises pair accuracy on labelled pairs (label 1 = same question); (threshold, accuracy)."""
    scores = np.asarray(scores, dtype=float)
    positive = np.asarray(labels, dtype=int) == 1
    if len(scores) == 0:
        raise ValueError("no labelled pairs to tune the similarity threshold on")
    order = np.argsort(scores, kind="stable")
    s, pos = scores[order], positive[order]
    # threshold at s[k] answers pairs k.. as "same": correct = negatives below k + positives from k on
    neg_below = np.r_[0, np.cumsum(~pos)]
    pos_from = np.r_[np.cumsum(pos[::-1])[::-1], 0]
    correct = neg_below + pos_from
    starts = np.r_[True, s[1:] != s[:-1], True]  # a threshold must not split equal scores
    candidates = np.flatnonzero(starts)
    best = candidates[np.argmax(correct[candidates])]
    threshold = float(s[best]) if best < len(s) else float(s[-1]) + 1e-9
    return threshold, float(correct[best] / len(s))


@dataclass
class KnowledgeBase:
    """Replies per intent and FAQ entries.

    Attributes
    ----------
    replies : dict
        ``{intent: {"reply": str, "sms": str}}``.
    faq : list of FaqEntry
    faq_threshold : float
        Similarity needed to answer from the FAQ.
    """

    replies: dict[str, dict[str, str]] = field(default_factory=dict)
    faq: list[FaqEntry] = field(default_factory=list)
    faq_threshold: float = 0.55
    intent_names: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._matcher: FaqMatcher | None = None

    def intent_name(self, intent: str) -> str:
        """The customer-facing (Chinese) name of an intent, or its id."""
        return self.intent_names.get(intent, intent)

    # -- reading ---------------------------------------------------------------------------------------------
    @classmethod
    def from_dir(cls, path: str | os.PathLike) -> KnowledgeBase:
        """Read ``replies.json`` and (optionally) ``faq.json`` from a directory (YAML ``.yml`` also accepted)."""
        path = Path(path)
        if not path.is_dir():
            raise FileNotFoundError(f"no knowledge-base directory at {path}: it should hold replies.json (and faq.json)")
        replies = _read_mapping(path, "replies")
        faq = _read_mapping(path, "faq", required=False)
        return cls.from_dict({"replies": (replies or {}).get("replies", {}), "faq": (faq or {}).get("entries", []),
                              "faq_threshold": (faq or {}).get("threshold", 0.55),
                              "intent_names": (replies or {}).get("intent_names", {})}, source=str(path))

    @classmethod
    def from_dict(cls, data: dict, source: str = "knowledge base") -> KnowledgeBase:
        """Build from plain data (the form :meth:`to_dict` returns); every problem names the key and the fix."""
        if not isinstance(data, dict):
            raise PolicyError(f"{source}: expected a mapping with 'replies' and 'faq'")
        replies = data.get("replies", {})
        if not isinstance(replies, dict):
            raise PolicyError(f"{source}: 'replies' must map intent ids to {{'reply': ..., 'sms': ...}}")
        clean = {}
        for intent, entry in replies.items():
            if isinstance(entry, str):
                entry = {"reply": entry}
            if not isinstance(entry, dict) or not isinstance(entry.get("reply"), str) or not entry["reply"].strip():
                raise PolicyError(f"{source}: replies.{intent} needs a non-empty 'reply' string")
            sms = entry.get("sms") or entry["reply"]
            if len(fill_reply(sms, {})) > SMS_MAX_CHARS:
                logger.warning("%s: replies.%s sms variant is longer than %d characters", source, intent, SMS_MAX_CHARS)
            clean[str(intent)] = {"reply": entry["reply"], "sms": sms}
        faq = []
        seen = set()
        for i, e in enumerate(data.get("faq", []) or []):
            if isinstance(e, FaqEntry):
                faq.append(e)
                continue
            if not isinstance(e, dict):
                raise PolicyError(f"{source}: faq entry {i} must be a mapping with id, questions, answer")
            missing = [k for k in ("id", "questions", "answer") if not e.get(k)]
            if missing:
                raise PolicyError(f"{source}: faq entry {i} ({e.get('id', '?')}) is missing {missing}")
            if not isinstance(e["questions"], list) or not all(isinstance(q, str) and q.strip() for q in e["questions"]):
                raise PolicyError(f"{source}: faq entry {e['id']}: 'questions' must be a list of non-empty strings")
            if e["id"] in seen:
                raise PolicyError(f"{source}: faq id {e['id']!r} appears twice: ids must be unique")
            seen.add(e["id"])
            faq.append(FaqEntry(str(e["id"]), tuple(e["questions"]), e["answer"], e.get("sms") or e["answer"], e.get("intent")))
        threshold = data.get("faq_threshold", 0.55)
        if not isinstance(threshold, (int, float)) or not 0 <= threshold <= 1:
            raise PolicyError(f"{source}: faq_threshold must be in [0, 1], got {threshold!r}")
        names = data.get("intent_names", {}) or {}
        if not isinstance(names, dict) or not all(isinstance(v, str) for v in names.values()):
            raise PolicyError(f"{source}: intent_names must map intent ids to display names")
        return cls(clean, faq, float(threshold), dict(names))

    def to_dict(self) -> dict:
        return {
            "replies": self.replies,
            "faq": [
                {"id": e.id, "questions": list(e.questions), "answer": e.answer, "sms": e.sms, "intent": e.intent}
                for e in self.faq
            ],
            "faq_threshold": self.faq_threshold,
            "intent_names": self.intent_names,
        }

    # -- answering -------------------------------------------------------------------------------------------
    def has_reply(self, intent: str | None) -> bool:
        return intent in self.replies

    def reply_for(self, intent: str, entities=(), channel: str | None = None) -> str | None:
        """The reply for ``intent`` with placeholders filled from ``entities`` (from :func:`csnlp.text.mask`)."""
        entry = self.replies.get(intent)
        if entry is None:
            return None
        return fill_reply(entry["sms"] if channel == "sms" else entry["reply"], _values(entities))

    @property
    def matcher(self) -> FaqMatcher | None:
        if self._matcher is None and self.faq:
            self._matcher = FaqMatcher(threshold=self.faq_threshold).fit(self.faq)
        return self._matcher

    def match_faq(self, texts) -> list[FaqMatch | None]:
        """Best FAQ match per text (None below ``faq_threshold`` or with no FAQ)."""
        texts = check_texts(texts)
        if not self.faq:
            return [None] * len(texts)
        return self.matcher.match(texts)

    def faq_answer(self, match: FaqMatch, entities=(), channel: str | None = None) -> str:
        return fill_reply(match.entry.sms if channel == "sms" else match.entry.answer, _values(entities))


def _values(entities) -> dict[str, str]:
    values: dict[str, str] = {}
    for name, kind in PLACEHOLDER_ENTITIES.items():
        for e in entities or ():
            ek, ev = (e.kind, e.value) if hasattr(e, "kind") else (e.get("kind"), e.get("value"))
            if ek == kind and name not in values:
                # masking saw the lower-cased text; order and tracking numbers read better as written on labels
                values[name] = ev.upper() if kind in ("order_no", "tracking_no") else ev
    return values


def _read_mapping(path: Path, stem: str, required: bool = True) -> dict | None:
    for suffix in (".json", ".yml", ".yaml"):
        file = path / f"{stem}{suffix}"
        if file.is_file():
            text = file.read_text(encoding="utf-8-sig")
            try:
                if suffix == ".json":
                    return json.loads(text)
                import yaml

                return yaml.safe_load(text)
            except Exception as exc:  # json or yaml syntax error: name the file
                raise PolicyError(f"{file}: cannot be parsed ({exc})") from None
    if required:
        raise PolicyError(f"{path}: {stem}.json is missing")
    return None
