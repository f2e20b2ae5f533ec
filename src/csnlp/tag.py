"""FeedbackTagger: complaint and feedback categories (multi-label), with evidence, severity and sentiment.

A customer message can be about several things at once ("the lamp arrived broken *and* the refund was
refused"), so each category gets its own yes/no model: one-vs-rest logistic regressions over the shared word +
character TF-IDF features of :class:`~csnlp.features.TextFeatures`. Each category's decision threshold is
tuned for F1 on out-of-fold scores of the training data (never on evaluation data; features and models are
refitted inside every fold so that the held-out scores look like scores of new texts), because a fixed 0.5
is too strict for rare categories and too loose for frequent ones. Whether a text that reaches no threshold
gets its best category or none is decided on the same out-of-fold scores.

On top of the categories, :meth:`FeedbackTagger.tag` reports

- *evidence*: the words and phrases of the message that pushed each category's score up most, as they
  appear in the normalised message;
- *sentiment*: from a small trained classifier when the training data has a ``sentiment`` field, else
  derived from the predicted categories (see :func:`sentiment_from_labels`);
- *severity*: documented rules (see :func:`rate_severity`), with the lexicons in module constants
  (:data:`ESCALATION_LEXICONS`, :data:`HIGH_SEVERITY_WORDS` ...) so that a router can reuse them.
"""

from __future__ import annotations

import csv
import json
import logging
import math
import os
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from scipy.special import expit
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import KFold
from sklearn.utils.validation import check_is_fitted

from csnlp._validation import MAX_TEXT_LENGTH, check_texts
from csnlp.datasets import Dataset, detect_encoding, load_dataset
from csnlp.evaluation import evaluate_tags
from csnlp.exceptions import InputError, NotFittedError
from csnlp.features import FEATURE_PARAMS, TextFeatures, preprocess_texts
from csnlp.intent import IntentClassifier
from csnlp.persistence import component_from_state, component_state
from csnlp.text import mask, normalize
from csnlp.tokenizer import JiebaTokenizer

__all__ = [
    "FeedbackTagger",
    "TagResult",
    "ESCALATION_LEXICONS",
    "ESCALATION_FALSE_FRIENDS",
    "SOCIAL_PLATFORMS",
    "EXPOSURE_VERBS",
    "LARGE_MONEY_PHRASES",
    "LARGE_MONEY_YUAN",
    "MONEY_VERBS",
    "HIGH_SEVERITY_WORDS",
    "HIGH_SEVERITY_CATEGORIES",
    "HARM_NEGATIONS",
    "POSITIVE_LABELS",
    "NEUTRAL_LABELS",
    "SEVERITIES",
    "SENTIMENTS",
    "escalation_signals",
    "rate_severity",
    "sentiment_from_labels",
    "sentiment_classifier",
    "train_feedback_tagger",
    "evaluate_tagger",
]

logger = logging.getLogger(__name__)


#: Severity levels, mildest first.
SEVERITIES: tuple[str, ...] = ("low", "medium", "high", "critical")
#: Sentiment values.
SENTIMENTS: tuple[str, ...] = ("negative", "neutral", "positive")

# -- lexicons (module constants so that a router can reuse them) -----------------------------------------------
#: Words that make a message *critical*, by kind of escalation. Matched on the normalised, masked text (so
#: that digits inside order or phone numbers never match ``12315``); see :func:`escalation_signals` for the
#: exceptions applied (:data:`ESCALATION_FALSE_FRIENDS`, negated harm words, social platforms).
ESCALATION_LEXICONS: dict[str, tuple[str, ...]] = {
    "regulator": ("12315", "12345", "消协", "消费者协会", "消保委", "工商", "市场监管", "市场监督管理", "黑猫投诉"),
    "legal": ("律师", "起诉", "法院", "诉讼", "打官司", "仲裁", "法律途径", "法律手段"),
    "media": ("媒体", "曝光", "记者", "上热搜", "电视台", "焦点访谈"),
    "police": ("报警", "公安", "派出所", "警察", "打110", "立案"),
    "safety": (
        "起火", "着火", "失火", "爆炸", "漏电", "触电", "被电到", "烫伤", "烧伤", "割伤", "划破手", "过敏",
        "中毒", "住院", "急诊", "送医", "受伤", "误食", "冒烟", "自燃", "吃坏肚子", "上吐下泻",
    ),
}
#: Compounds that contain an escalation word but are not an escalation (工商银行 is a bank, 报警器 a product).
ESCALATION_FALSE_FRIENDS: tuple[str, ...] = (
    "工商银行", "工商行", "多媒体", "曝光度", "曝光补偿", "曝光过度", "曝光不足", "曝光时间", "长曝光",
    "报警器", "报警灯", "报警声", "报警功能", "防过敏", "抗过敏", "不过敏", "没过敏", "无过敏", "低过敏",
    "防漏电", "防触电", "防烫伤", "防爆炸", "防爆", "漏电保护",
)
#: Words right before a harm word that negate it (没有漏电, 未起火): the harm word is then not a signal.
HARM_NEGATIONS: tuple[str, ...] = ("不会", "没有", "没", "未", "不", "无", "防", "免")
#: Social platforms: a *media* signal only together with an exposure verb (发微博, 在抖音上曝光你们),
#: because 抖音 or 微博 alone is usually just the shop the customer bought from.
SOCIAL_PLATFORMS: tuple[str, ...] = ("微博", "抖音", "小红书", "知乎", "快手", "b站")
#: Exposure verbs that turn a social platform into a media signal.
EXPOSURE_VERBS: tuple[str, ...] = ("曝光", "挂", "发帖", "发视频", "发文", "投诉", "评评理", "让大家", "热搜", "晒")
#: Money amounts of at least this many yuan (as found by :func:`csnlp.text.mask`) are *critical*.
LARGE_MONEY_YUAN: float = 1000.0
#: Phrases for a large sum of money without digits.
LARGE_MONEY_PHRASES: tuple[str, ...] = (
    "几千", "好几千", "上千", "数千", "大几千", "上万", "几万", "好几万", "数万", "十几万", "几十万", "上百万",
)
#: Verbs of paying or losing money: a bare number right after one (扣了我4999, 刷了3000多, 价值两万) is an amount.
MONEY_VERBS: tuple[str, ...] = ("扣", "刷", "付", "赔", "花", "骗", "损失", "亏", "退", "转", "充", "价值")
#: Words of anger, fraud or compensation claims that make a message that is not positive *high*.
HIGH_SEVERITY_WORDS: tuple[str, ...] = (
    "投诉", "赔偿", "索赔", "假货", "骗子", "欺诈", "诈骗", "骗人", "维权", "差评", "退一赔三", "假一赔十",
    "忍无可忍", "太过分", "气死", "再也不", "垃圾商家", "垃圾产品", "垃圾服务", "太垃圾", "真垃圾", "坑人", "黑心",
    "无良", "霸王条款", "强制消费", "强制搭售",
)
#: Categories (of the default taxonomy) whose negative messages are *high*: harm to the customer's goods,
#: money, data or trust.
HIGH_SEVERITY_CATEGORIES: tuple[str, ...] = (
    "product_defect", "payment_billing", "account_privacy", "misleading_description",
)
#: Labels that mean praise: a text with only these is *positive* when sentiment is derived from labels.
POSITIVE_LABELS: tuple[str, ...] = ("praise",)
#: Labels that mean no complaint: a text with only these is *neutral* when sentiment is derived from labels.
NEUTRAL_LABELS: tuple[str, ...] = ("other",)


def _alternation(words: Iterable[str]) -> str:
    return "|".join(re.escape(w) for w in sorted(set(words), key=len, reverse=True))


def _lexicon_re(words: Iterable[str]) -> re.Pattern:
    # digits in a lexicon word must not be part of a longer number (12315 inside 2023123150001)
    parts = []
    for w in sorted(set(words), key=len, reverse=True):
        p = re.escape(w)
        if w[:1].isdigit():
            p = r"(?<!\d)" + p
        if w[-1:].isdigit():
            p = p + r"(?!\d)"
        parts.append(p)
    return re.compile("|".join(parts))


_KIND_RES = {kind: _lexicon_re(words) for kind, words in ESCALATION_LEXICONS.items()}
_FALSE_FRIEND_RE = re.compile(_alternation(ESCALATION_FALSE_FRIENDS))
_NEGATION_RE = re.compile("(?:" + _alternation(HARM_NEGATIONS) + ")$")
_CLAUSE = r"[^,.!?;。!?;,\n]"
_PLATFORM_RE = re.compile(
    "(?:(?:" + _alternation(EXPOSURE_VERBS + ("发",)) + ")(?:到|在|上)?(?:" + _alternation(SOCIAL_PLATFORMS) + "))"
    "|(?:(?:" + _alternation(SOCIAL_PLATFORMS) + ")" + _CLAUSE + "{0,4}(?:" + _alternation(EXPOSURE_VERBS) + "))"
)
_LARGE_MONEY_RE = re.compile(
    _alternation(LARGE_MONEY_PHRASES)
    + r"|\d+(?:\.\d+)?\s*[千万](?:多)?(?:元|块|rmb)"
    + r"|[一二两三四五六七八九十]+[千万](?:多)?(?:元|块)"
)
_MONEY_NUMBER_RE = re.compile(r"\d+(?:\.\d+)?")
_MONEY_AFTER_VERB_RE = re.compile(
    "(?:" + _alternation(MONEY_VERBS) + r")了?(?:我|掉|走)?(?:(\d+(?:\.\d+)?)\s*([千万])?|([一二两三四五六七八九十几]+)([千万]))"
    # not a count of something else: 花了2023年, 刷了1000次, 付了3000积分
    r"(?![\d.]|\s*(?:年|月|日|号|个|件|次|天|台|部|只|分|秒|点|条|张|位|人|岁|斤|克|米|小时|公里|积分|单|g|ml|%))"
)
_HIGH_WORDS_RE = re.compile(_alternation(HIGH_SEVERITY_WORDS))


def _money_yuan(value: str) -> float:
    """The amount of a money entity found by :func:`csnlp.text.mask` (``¥1999``, ``2万元``, ``300块``)."""
    m = _MONEY_NUMBER_RE.search(value)
    if m is None:
        return 0.0
    amount = float(m.group())
    rest = value[m.end():]
    if rest.lstrip().startswith("万"):
        amount *= 10000
    elif rest.lstrip().startswith("千"):
        amount *= 1000
    return amount


def escalation_signals(text: str) -> dict[str, list[str]]:
    """Signals that make a message critical, by kind: what was found in the normalised text.

    Kinds: ``regulator``, ``legal``, ``media``, ``police``, ``safety`` (words of
    :data:`ESCALATION_LEXICONS`) and ``money`` (an amount of at least :data:`LARGE_MONEY_YUAN` yuan found by
    :func:`csnlp.text.mask`, a number with 千/万 and a currency unit, a number right after a verb of
    :data:`MONEY_VERBS` (扣了我4999), or a phrase of :data:`LARGE_MONEY_PHRASES`; currencies are not
    converted). The words are matched on the normalised
    text with private values masked (digits of an order number never match 12315). Exceptions: a word
    inside one of :data:`ESCALATION_FALSE_FRIENDS` (工商银行, 报警器) does not count; a harm word right after
    a negation of :data:`HARM_NEGATIONS` (没有漏电) does not count; a social platform of
    :data:`SOCIAL_PLATFORMS` counts as ``media`` only next to an exposure verb (发微博, 在抖音上曝光).
    Negated threats (我不想起诉) still count.

    Parameters
    ----------
    text : str
        One raw message.

    Returns
    -------
    dict of str to list of str
        Only kinds with at least one signal, each with the matched strings in order of appearance.

    Examples
    --------
    >>> escalation_signals("再不退款我就打12315投诉,还要找律师")
    {'regulator': ['12315'], 'legal': ['律师']}
    >>> escalation_signals("用工商银行卡付的款,报警器坏了")
    {}
    """
    if not isinstance(text, str):
        raise InputError(f"text must be str, got {type(text).__name__}")
    masked = mask(normalize(text))
    t = masked.text
    blocked = [m.span() for m in _FALSE_FRIEND_RE.finditer(t)]
    found: dict[str, list[str]] = {}
    for kind, regex in _KIND_RES.items():
        for m in regex.finditer(t):
            s, e = m.span()
            if any(bs <= s and e <= be for bs, be in blocked):
                continue
            if kind == "safety" and _NEGATION_RE.search(t[max(0, s - 2) : s]):
                continue
            found.setdefault(kind, []).append(m.group())
    for m in _PLATFORM_RE.finditer(t):
        found.setdefault("media", []).append(m.group())
    money = [e.value for e in masked.entities if e.kind == "money" and _money_yuan(e.value) >= LARGE_MONEY_YUAN]
    spans = [m.span() for m in _LARGE_MONEY_RE.finditer(t)]
    for m in _MONEY_AFTER_VERB_RE.finditer(t):
        number, unit = (m.group(1), m.group(2)) if m.group(1) else (None, m.group(4))
        amount = float(number) if number else 1.0  # 两万, 几千: at least one thousand
        amount *= {"千": 1000, "万": 10000}.get(unit or "", 1)
        if amount >= LARGE_MONEY_YUAN and not any(s < m.end() and m.start() < e for s, e in spans):
            spans.append(m.span())
    money += [t[s:e] for s, e in sorted(spans)]
    if money:
        found["money"] = money
    return found


def sentiment_from_labels(labels: Iterable[str]) -> str:
    """Sentiment derived from categories: praise only -> positive, other only (or none) -> neutral, else negative.

    Uses :data:`POSITIVE_LABELS` and :data:`NEUTRAL_LABELS` (praise together with other counts as praise).
    Any other category, alone or mixed with praise, makes the text negative: a complaint needs an answer
    even when it is polite. This is also what a feature request gets: it asks for a change.

    Examples
    --------
    >>> [sentiment_from_labels(ls) for ls in (["praise"], ["other"], ["praise", "logistics"])]
    ['positive', 'neutral', 'negative']
    """
    labels = set(labels)
    if not labels or labels <= set(NEUTRAL_LABELS):
        return "neutral"
    if labels <= set(POSITIVE_LABELS) | set(NEUTRAL_LABELS):
        return "positive"
    return "negative"


def rate_severity(
    text: str,
    categories: Iterable[str] = (),
    sentiment: str = "negative",
    *,
    signals: dict[str, list[str]] | None = None,
) -> str:
    """Severity of one message: ``"low"``, ``"medium"``, ``"high"`` or ``"critical"``.

    Rules, first match wins:

    1. **critical**: any :func:`escalation_signals` (regulator, lawyer or court, media exposure, police, harm
       to health or safety, a large sum of money), whatever the sentiment.
    2. **high**: a word of :data:`HIGH_SEVERITY_WORDS` (投诉, 赔偿, 假货, 骗子, 差评 ...) in a message that is
       not positive, or a negative message in a category of :data:`HIGH_SEVERITY_CATEGORIES` (defect,
       billing, account and privacy, misleading description).
    3. **medium**: any other negative message.
    4. **low**: other neutral or positive messages.

    Parameters
    ----------
    text : str
        The raw message.
    categories : iterable of str
        Its predicted categories.
    sentiment : {"negative", "neutral", "positive"}
    signals : dict, optional
        The message's :func:`escalation_signals` when already computed.

    Examples
    --------
    >>> rate_severity("手机充电时冒烟了", ["product_defect"])
    'critical'
    >>> rate_severity("手机屏幕有坏点", ["product_defect"])
    'high'
    >>> rate_severity("快递有点慢", ["logistics"])
    'medium'
    >>> rate_severity("东西很好,谢谢", ["praise"], "positive")
    'low'
    """
    if sentiment not in SENTIMENTS:
        raise InputError(f"sentiment must be one of {list(SENTIMENTS)}, got {sentiment!r}")
    if signals is None:
        signals = escalation_signals(text)
    if signals:
        return "critical"
    if sentiment != "positive" and _HIGH_WORDS_RE.search(normalize(text)):
        return "high"
    if sentiment != "negative":
        return "low"
    return "high" if set(categories) & set(HIGH_SEVERITY_CATEGORIES) else "medium"


# -- results ----------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TagResult:
    """One message's result from :meth:`FeedbackTagger.tag`.

    Attributes
    ----------
    categories : list of str
        The predicted categories, highest score first.
    scores : dict of str to float
        Score in [0, 1] of every category the tagger knows.
    evidence : dict of str to list of str
        For each predicted category, the n-grams of this message that raised its score most, strongest first;
        each occurs verbatim in the normalised message (:func:`csnlp.text.normalize`).
    severity : {"low", "medium", "high", "critical"}
        See :func:`rate_severity`.
    sentiment : {"negative", "neutral", "positive"}
    truncated : bool
        The message was longer than ``max_length`` and only its beginning was read.
    escalation : dict of str to list of str
        The :func:`escalation_signals` that made it critical (empty otherwise).
    """

    categories: list[str]
    scores: dict[str, float]
    evidence: dict[str, list[str]]
    severity: str
    sentiment: str
    truncated: bool = False
    escalation: dict[str, list[str]] = field(default_factory=dict)

    def to_dict(self) -> dict:
        """A JSON-safe dict (plain str, float, bool, list and dict)."""
        return {
            "categories": [str(c) for c in self.categories],
            "scores": {str(k): float(v) for k, v in self.scores.items()},
            "evidence": {str(k): [str(s) for s in v] for k, v in self.evidence.items()},
            "severity": self.severity,
            "sentiment": self.sentiment,
            "truncated": bool(self.truncated),
            "escalation": {str(k): [str(s) for s in v] for k, v in self.escalation.items()},
        }


# -- input checks -------------------------------------------------------------------------------------------------
def _check_label_lists(Y, n: int, name: str = "Y") -> list[list[str]]:
    """One list of str per text; a single str label means a one-element list, [] means no category."""
    if isinstance(Y, str):
        raise InputError(f"expected one label list per text, got a single str for {name}: pass a list of lists")
    if Y is None:
        raise InputError(f"{name} is None: pass one list of labels per text, e.g. [['logistics'], ['praise']]")
    if isinstance(Y, np.ndarray) and Y.ndim == 2 and Y.dtype != object:
        raise InputError(
            f"{name} is a 2-D array: pass label names, one list per text (e.g. MultiLabelBinarizer.inverse_transform)"
        )
    if sp.issparse(Y) or not isinstance(Y, Iterable):
        raise InputError(f"{name} must be a list of label lists, got {type(Y).__name__}")
    items = list(Y)
    if len(items) != n:
        raise InputError(f"got {n} texts but {len(items)} label lists: pass exactly one label list per text")
    out = []
    for i, item in enumerate(items):
        if item is None or (isinstance(item, float) and math.isnan(item)):
            raise InputError(f"{name}[{i}] is missing: give [] for a text with no category")
        if isinstance(item, (bytes, bytearray)):
            raise InputError(f"{name}[{i}] is bytes: decode it first, e.g. .decode('utf-8')")
        if isinstance(item, str):
            item = [item]
        elif isinstance(item, dict) or not isinstance(item, (Iterable, np.ndarray)):
            raise InputError(f"{name}[{i}] must be a label or a list of labels, got {type(item).__name__}")
        labels = []
        for label in item:
            if not isinstance(label, str):
                raise InputError(f"{name}[{i}] contains {label!r} ({type(label).__name__}): labels must be str")
            label = label.strip()
            if not label:
                raise InputError(f"{name}[{i}] contains an empty label")
            if label not in labels:
                labels.append(label)
        out.append(labels)
    return out


_SENTIMENT_ALIASES = {
    "negative": "negative", "neg": "negative", "负面": "negative", "消极": "negative",
    "neutral": "neutral", "neu": "neutral", "中性": "neutral",
    "positive": "positive", "pos": "positive", "正面": "positive", "积极": "positive",
}


def _check_sentiment(sentiment, n: int) -> list[str]:
    """Sentiment values as "negative"/"neutral"/"positive"; 0/1 and -1/0/1 codings are understood."""
    if isinstance(sentiment, str) or sentiment is None:
        raise InputError("sentiment must be a list with one value per text")
    values = list(sentiment)
    if len(values) != n:
        raise InputError(f"got {n} texts but {len(values)} sentiment values: pass one per text")
    numbers = set()
    for i, v in enumerate(values):
        if isinstance(v, (bool, np.bool_)):
            v = int(v)
        elif isinstance(v, str) and v.strip() in ("-1", "0", "1"):
            v = int(v)
        values[i] = v
        if isinstance(v, (int, np.integer, float, np.floating)) and not (isinstance(v, float) and math.isnan(v)):
            if float(v) not in (-1.0, 0.0, 1.0):
                raise InputError(f"sentiment[{i}] = {v!r}: numeric sentiment must be -1, 0 or 1")
            numbers.add(int(v))
        elif not (isinstance(v, str) and v.strip().lower() in _SENTIMENT_ALIASES):
            raise InputError(
                f"sentiment[{i}] = {v!r}: use negative/neutral/positive, 0/1 (negative/positive) or -1/0/1"
            )
    # 0/1 coding (online reviews): 0 negative, 1 positive; -1/0/1 coding: 0 neutral
    zero = "neutral" if -1 in numbers else "negative"
    coded = {-1: "negative", 0: zero, 1: "positive"}
    out = []
    for v in values:
        if isinstance(v, str):
            out.append(_SENTIMENT_ALIASES[v.strip().lower()])
        else:
            out.append(coded[int(v)])
    return out


# -- thresholds -------------------------------------------------------------------------------------------------
def _best_f1_threshold(scores: np.ndarray, truth: np.ndarray) -> float:
    """The threshold on ``scores`` that maximises F1 of ``scores >= t`` against ``truth`` (0.5 if undefined).

    Among cuts of equal F1 the middle one is taken; the threshold sits half-way between the scores on
    either side of the cut, so it does not hug one training example.
    """
    n_pos = int(truth.sum())
    if n_pos == 0 or len(scores) == 0:
        return 0.5
    order = np.argsort(-scores, kind="stable")
    s, y = scores[order], truth[order].astype(float)
    tp = np.cumsum(y)
    k = np.arange(1, len(s) + 1)
    f1 = 2 * tp / (k + n_pos)
    # only cut between distinct scores
    valid = np.r_[s[1:] < s[:-1], True]
    f1 = np.where(valid, f1, -1.0)
    best = f1.max()
    cuts = np.flatnonzero(f1 >= best - 1e-12)
    cut = int(cuts[len(cuts) // 2])
    upper = s[cut]
    lower = s[cut + 1] if cut + 1 < len(s) else max(0.0, upper - 0.05)
    return float(np.clip((upper + lower) / 2, 1e-6, 1 - 1e-6))


#: Prior weight (in examples) of the shared threshold when a category's own threshold is estimated.
_THRESHOLD_PRIOR = 50.0
#: Evidence phrases weaker than this share of the strongest one are not shown.
_EVIDENCE_MIN_SHARE = 0.25


def _decide(proba: np.ndarray, thresholds: np.ndarray, fill_empty: bool) -> np.ndarray:
    """Boolean (n, n_labels) decisions: scores at or above their thresholds, plus the best one for empty rows."""
    decided = proba >= thresholds
    if fill_empty and len(proba):
        empty = ~decided.any(axis=1)
        best = np.argmax(proba / thresholds, axis=1)
        decided[np.flatnonzero(empty), best[empty]] = True
    return decided


def _micro_f1(truth: np.ndarray, decided: np.ndarray) -> float:
    tp = float((truth & decided).sum())
    total = float(truth.sum() + decided.sum())
    return 2 * tp / total if total else 0.0


def sentiment_classifier(*, random_state: int | None = 0, **params) -> IntentClassifier:
    """The (unfitted) text classifier that :class:`FeedbackTagger` trains on a ``sentiment`` field.

    An :class:`~csnlp.intent.IntentClassifier` over the same word + character features, with its default
    linear models and calibration; the classes are "negative", "neutral" and "positive" (those present in the
    training data). Exposed so that it can be benchmarked and used on its own; ``params`` are
    :class:`~csnlp.intent.IntentClassifier` parameters (the tagger passes its feature settings).

    Examples
    --------
    >>> clf = sentiment_classifier(calibration_folds=0).fit(
    ...     ["质量很好", "非常满意", "太差了", "很失望"], ["positive", "positive", "negative", "negative"])
    >>> clf.predict(["很满意"]).tolist()
    ['positive']
    """
    return IntentClassifier(**({"random_state": random_state} | params))


class FeedbackTagger(ClassifierMixin, BaseEstimator):
    """Multi-label feedback tagger over raw Chinese customer messages.

    One logistic regression per category on shared word + character TF-IDF features; per-category thresholds
    tuned for F1 on out-of-fold scores of the training data.

    Parameters
    ----------
    word_ngram_range, char_ngram_range, min_df, max_features, sublinear_tf, user_words, stop_words, hmm
        Feature settings, see :class:`~csnlp.features.TextFeatures`.
    max_length : int, default 2000
        Messages longer than this are cut (``TagResult.truncated`` says so).
    C : float, default 30.0
        Inverse regularisation strength of each category's logistic regression (weak regularisation suits
        sparse TF-IDF features; chosen by nested cross-validation on training data).
    class_weight : "balanced", dict or None, default "balanced"
        Weights of the negative (key 0) and positive (key 1) examples of each category's model; "balanced"
        up-weights the rarer side, the positives of every category in one-vs-rest.
    threshold_folds : int, default 5
        Folds of the out-of-fold scores of the training data that the thresholds are tuned on (features and
        models refitted in every fold). A category's threshold is its own F1-optimal one shrunk toward the
        one threshold best for all categories together, ``(n * own + 50 * shared) / (n + 50)`` for a
        category with ``n`` examples. 0 keeps a fixed 0.5 threshold for every category.
    random_state : int or None, default 0
        Seed of the fold split and of the solver (fits with the same seed are identical).

    Attributes
    ----------
    classes_ : ndarray of str
        The categories, sorted.
    features_ : TextFeatures
        The fitted feature extractor.
    feature_names_ : ndarray of str
        Name of each feature column (``word:退货``, ``char:退``).
    coef_ : ndarray of shape (n_classes, n_features), float32
    intercept_ : ndarray of shape (n_classes,)
    thresholds_ : ndarray of shape (n_classes,)
        Per-category decision thresholds on :meth:`predict_proba`.
    fill_empty_ : bool
        Whether :meth:`predict` gives the best category to texts where no category reaches its threshold
        (chosen on out-of-fold scores, see :meth:`predict`).
    sentiment_ : IntentClassifier or None
        The sentiment classifier, when ``fit`` was given sentiment values.

    Notes
    -----
    ``score`` is the micro-averaged F1. With scikit-learn's ``cross_val_score`` or ``GridSearchCV`` pass
    ``cv=KFold(...)``: their default stratified split does not accept lists of labels.

    Examples
    --------
    >>> texts = ["快递太慢了", "物流一直不动", "屏幕有坏点", "开机就黑屏", "快递慢而且屏幕坏了", "质量很好谢谢"]
    >>> labels = [["logistics"], ["logistics"], ["product_defect"], ["product_defect"],
    ...           ["logistics", "product_defect"], ["praise"]]
    >>> tagger = FeedbackTagger(threshold_folds=0).fit(texts, labels)
    >>> tagger.predict(["物流太慢了"])
    [['logistics']]
    >>> r = tagger.tag(["开机黑屏,打12315投诉"])[0]
    >>> r.categories, r.severity
    (['product_defect'], 'critical')
    """

    def __init__(
        self,
        *,
        word_ngram_range: tuple[int, int] | None = (1, 2),
        char_ngram_range: tuple[int, int] | None = (1, 3),
        min_df: int = 1,
        max_features: int | None = None,
        sublinear_tf: bool = True,
        user_words=None,
        stop_words=None,
        hmm: bool = False,
        max_length: int = MAX_TEXT_LENGTH,
        C: float = 30.0,
        class_weight="balanced",
        threshold_folds: int = 5,
        random_state: int | None = 0,
    ) -> None:
        self.word_ngram_range = word_ngram_range
        self.char_ngram_range = char_ngram_range
        self.min_df = min_df
        self.max_features = max_features
        self.sublinear_tf = sublinear_tf
        self.user_words = user_words
        self.stop_words = stop_words
        self.hmm = hmm
        self.max_length = max_length
        self.C = C
        self.class_weight = class_weight
        self.threshold_folds = threshold_folds
        self.random_state = random_state

    # -- fitting -------------------------------------------------------------------------------------------------
    def _check_params(self) -> None:
        if isinstance(self.C, bool) or not (isinstance(self.C, (int, float)) and self.C > 0):
            raise ValueError(f"C must be a positive number, got {self.C!r}")
        folds = self.threshold_folds
        if isinstance(folds, bool) or not (isinstance(folds, int) and (folds == 0 or folds >= 2)):
            raise ValueError(f"threshold_folds must be 0 or an int >= 2, got {folds!r}")
        if isinstance(self.max_length, bool) or not (isinstance(self.max_length, int) and self.max_length > 0):
            raise ValueError(f"max_length must be a positive int, got {self.max_length!r}")
        cw = self.class_weight
        if not (cw is None or cw == "balanced" or isinstance(cw, dict)):
            raise ValueError(f"class_weight must be None, 'balanced' or a dict, got {cw!r}")

    def _fit_one(self, A, y: np.ndarray) -> tuple[np.ndarray, float]:
        """Coefficients and intercept of one category's model (a constant model when y has one value)."""
        if y.all() or not y.any():
            return np.zeros(A.shape[1]), (10.0 if y.all() else -10.0)
        # liblinear's dual solver is several times faster when there are more features than texts (the
        # usual case with n-gram features) and reaches the same optimum
        model = LogisticRegression(C=self.C, class_weight=self.class_weight, solver="liblinear",
                                   dual=A.shape[1] > A.shape[0], max_iter=1000, random_state=self.random_state)
        model.fit(A, y.astype(np.int8))
        return np.asarray(model.coef_[0]), float(model.intercept_[0])

    def _fit_all(self, A, Y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        coef = np.zeros((Y.shape[1], A.shape[1]), dtype=np.float32)
        intercept = np.zeros(Y.shape[1])
        for j in range(Y.shape[1]):
            c, b = self._fit_one(A, Y[:, j])
            coef[j], intercept[j] = c, b
        return coef, intercept

    def fit(self, X, Y, *, sentiment=None) -> FeedbackTagger:
        """Fit on raw texts ``X`` and their label lists ``Y``.

        Parameters
        ----------
        X : iterable of str
            Raw messages.
        Y : iterable of list of str
            The categories of each message; a single str means a one-element list, ``[]`` no category.
        sentiment : iterable, optional
            One sentiment per message ("negative"/"neutral"/"positive", 0/1 meaning negative/positive, or
            -1/0/1). When given, a sentiment classifier is trained on it; otherwise sentiment is derived from
            the predicted categories (:func:`sentiment_from_labels`).

        Returns
        -------
        self

        Raises
        ------
        InputError
            Texts or labels of the wrong type or number, or fewer than one category.
        """
        self._check_params()
        texts = check_texts(X)
        label_lists = _check_label_lists(Y, len(texts))
        if not texts:
            raise InputError("cannot fit on an empty list of texts: pass at least one text per category")
        classes = np.asarray(sorted({label for labels in label_lists for label in labels}), dtype=str)
        if len(classes) == 0:
            raise InputError("no text has a category: give at least one label, e.g. [['logistics'], []]")
        sentiments = _check_sentiment(sentiment, len(texts)) if sentiment is not None else None
        if sentiments is not None and len(set(sentiments)) < 2:
            raise InputError(
                f"sentiment has only the value {sentiments[0]!r}: give at least two different values, "
                "or leave sentiment out to derive it from the categories"
            )
        index = {c: j for j, c in enumerate(classes)}
        Ymat = np.zeros((len(texts), len(classes)), dtype=bool)
        for i, labels in enumerate(label_lists):
            for label in labels:
                Ymat[i, index[label]] = True

        start = time.perf_counter()
        pre = preprocess_texts(texts, self.max_length)
        features = TextFeatures(**{k: getattr(self, k) for k in FEATURE_PARAMS}, preprocessed=True)
        A = features.fit_transform(pre)
        coef, intercept = self._fit_all(A, Ymat)
        thresholds, fill_empty = self._tune_thresholds(pre, Ymat)

        sentiment_model = None
        if sentiments is not None:
            sentiment_model = sentiment_classifier(
                random_state=self.random_state, **{k: getattr(self, k) for k in FEATURE_PARAMS}
            ).fit(texts, sentiments)

        self.classes_ = classes
        self.features_ = features
        self.feature_names_ = features.get_feature_names_out()
        self.coef_ = coef
        self.intercept_ = intercept
        self.thresholds_ = thresholds
        self.fill_empty_ = fill_empty
        self.sentiment_ = sentiment_model
        logger.info(
            "fitted FeedbackTagger on %d texts, %d categories, %d features in %.1f s",
            len(texts), len(classes), A.shape[1], time.perf_counter() - start,
        )
        return self

    def _oof_scores(self, pre: list[str], Ymat: np.ndarray) -> np.ndarray | None:
        """Out-of-fold scores of the training texts, features refitted inside every fold.

        The fold's features must not know the held-out texts: with the full training vocabulary, n-grams
        seen only in the held-out texts would keep their share of each row's norm while getting no weight,
        making out-of-fold scores systematically lower than scores of new texts (whose unseen n-grams are
        dropped), and thresholds tuned on them too low.
        """
        n = len(pre)
        folds = min(self.threshold_folds, n)
        if folds < 2:
            return None
        oof = np.zeros(Ymat.shape)
        splitter = KFold(n_splits=folds, shuffle=True, random_state=self.random_state)
        for train, test in splitter.split(pre):
            features = TextFeatures(**{k: getattr(self, k) for k in FEATURE_PARAMS}, preprocessed=True)
            A_train = features.fit_transform([pre[i] for i in train])
            A_test = features.transform([pre[i] for i in test])
            coef, intercept = self._fit_all(A_train, Ymat[train])
            oof[test] = expit(np.asarray(A_test @ coef.T, dtype=np.float64) + intercept)
        return oof

    def _tune_thresholds(self, pre: list[str], Ymat: np.ndarray) -> tuple[np.ndarray, bool]:
        """Per-category thresholds and the empty-prediction rule, both from out-of-fold scores.

        Each category's threshold is its own F1-optimal threshold shrunk toward the single threshold that
        is best for micro-F1 over all categories, weighted by its number of examples ``n``:
        ``(n * own + 50 * shared) / (n + 50)``. A category with few examples has a noisy optimum of its own
        and borrows from the others; one with hundreds keeps its own.
        """
        oof = self._oof_scores(pre, Ymat)
        if oof is None:
            return np.full(Ymat.shape[1], 0.5), bool(Ymat.any(axis=1).all())
        own = np.array([_best_f1_threshold(oof[:, j], Ymat[:, j]) for j in range(Ymat.shape[1])])
        shared = _best_f1_threshold(oof.ravel(), Ymat.ravel())  # the one threshold best for micro-F1
        n_pos = Ymat.sum(axis=0)
        thresholds = (n_pos * own + _THRESHOLD_PRIOR * shared) / (n_pos + _THRESHOLD_PRIOR)
        plain = _micro_f1(Ymat, _decide(oof, thresholds, fill_empty=False))
        filled = _micro_f1(Ymat, _decide(oof, thresholds, fill_empty=True))
        logger.debug("out-of-fold micro-F1 %.4f leaving texts empty, %.4f filling them", plain, filled)
        return thresholds, bool(filled > plain)

    # -- prediction ----------------------------------------------------------------------------------------------
    def _check_fitted(self) -> None:
        try:
            check_is_fitted(self, "coef_")
        except Exception:
            raise NotFittedError(
                "this FeedbackTagger is not fitted yet: call fit(texts, label_lists) or csnlp.load(path) first"
            ) from None

    def _proba_from_features(self, A) -> np.ndarray:
        return expit(np.asarray(A @ self.coef_.T, dtype=np.float64) + self.intercept_)

    def predict_proba(self, X) -> np.ndarray:
        """Score in [0, 1] of each category (columns in the order of ``classes_``); rows need not sum to 1."""
        self._check_fitted()
        texts = check_texts(X)
        if not texts:
            return np.zeros((0, len(self.classes_)))
        return self._proba_from_features(self.features_.transform(preprocess_texts(texts, self.max_length)))

    def decision_function(self, X) -> np.ndarray:
        """Log-odds of each category (monotone in :meth:`predict_proba`)."""
        self._check_fitted()
        with np.errstate(divide="ignore"):
            p = self.predict_proba(X)
            return np.log(p) - np.log1p(-p)

    def _labels_from_proba(self, proba: np.ndarray) -> list[list[str]]:
        decided = _decide(proba, self.thresholds_, self.fill_empty_)
        out = []
        for row, keep in zip(proba, decided):
            chosen = np.flatnonzero(keep)
            chosen = chosen[np.argsort(-row[chosen], kind="stable")]
            out.append([str(self.classes_[j]) for j in chosen])
        return out

    def predict(self, X) -> list[list[str]]:
        """The categories of each text: those whose score reaches its threshold, highest score first.

        When no category reaches its threshold, the rule chosen at fit time applies (``fill_empty_``): either
        the list stays empty, or the one category whose score is the largest fraction of its threshold is
        returned. ``fit`` picks whichever gives the higher micro-F1 on the out-of-fold scores of the training
        data: on short messages with an ``other`` category (the default taxonomy) a weak best guess is more
        often wrong than right and texts stay empty; on long texts that always have a topic (car reviews)
        the best guess pays.
        """
        self._check_fitted()
        return self._labels_from_proba(self.predict_proba(X))

    def predict_sentiment(self, X) -> list[str]:
        """Sentiment of each text: from the sentiment classifier if one was trained, else from the categories."""
        self._check_fitted()
        texts = check_texts(X)
        if not texts:
            return []
        if self.sentiment_ is not None:
            return [str(s) for s in self.sentiment_.predict(texts)]
        return [sentiment_from_labels(labels) for labels in self.predict(texts)]

    def score(self, X, Y, sample_weight=None) -> float:
        """Micro-averaged F1 of :meth:`predict` on ``X`` against the label lists ``Y`` (what thresholds aim at).

        Use ``cv=KFold(...)`` with scikit-learn's ``cross_val_score`` and ``GridSearchCV``: their default
        stratified split does not accept lists of labels.
        """
        texts = check_texts(X)
        truth = _check_label_lists(Y, len(texts))
        return evaluate_tags(truth, self.predict(texts), [str(c) for c in self.classes_])["micro_f1"]

    def _evidence_tokenizer(self) -> JiebaTokenizer:
        # the same settings as the word features' tokenizer (tokenizers share one jieba dictionary)
        return JiebaTokenizer(user_words=self.user_words, stop_words=self.stop_words, hmm=self.hmm)

    @staticmethod
    def _token_spans(tokenizer: JiebaTokenizer, text: str) -> list[tuple[int, int, str]]:
        """(start, end, token) of the tokens the word features see (no white space, no stop words)."""
        kept = set(tokenizer(text))
        spans, pos = [], 0
        for token in tokenizer.tokenize(text):
            if token in kept and not token.isspace():
                spans.append((pos, pos + len(token), token))
            pos += len(token)
        return spans

    def _evidence(self, row, j: int, masked: str, norm: str, tokens, token_index, k: int) -> list[str]:
        """The words of ``masked`` that raised category ``j`` most, adjacent ones joined, strongest first.

        Every feature of the text adds its contribution (tf-idf value x coefficient, negative ones too) to the
        characters it covers (all occurrences share it); a word's weight is the sum over its characters, so
        a character n-gram that crosses words credits each word for its part. The strongest positive words
        are kept, runs of adjacent ones are joined into one phrase, phrases weaker than a quarter of the
        strongest are dropped, and each phrase is checked to occur in the normalised text (placeholders such
        as ``<PHONE>`` are never evidence).
        """
        weight = np.zeros(len(masked) + 1)
        contrib = row.data * self.coef_[j, row.indices]
        for col, value in zip(row.indices, contrib):
            kind, _, term = str(self.feature_names_[col]).partition(":")
            if kind == "word":
                starts = token_index.get(tuple(term.split(" ")), ())
                n = term.count(" ") + 1
                spans = [(tokens[i][0], tokens[i + n - 1][1]) for i in starts]
            else:
                found = re.finditer("(?=" + re.escape(term) + ")", masked)  # overlapping occurrences
                spans = [(m.start(), m.start() + len(term)) for m in found]
            if not spans:
                continue
            share = float(value) / len(spans)
            for s, e in spans:
                weight[s:e] += share / (e - s)
        scored = []
        for t, (s, e, token) in enumerate(tokens):
            w = float(weight[s:e].sum())
            if w > 0 and token.isalnum():
                scored.append((w, t))
        keep = sorted(t for _, t in sorted(scored, reverse=True)[: 2 * k])
        phrases: list[tuple[float, str]] = []
        run: list[int] = []
        for t in keep + [None]:
            if run and (t is None or t != run[-1] + 1 or tokens[t][0] != tokens[run[-1]][1]):
                phrase = masked[tokens[run[0]][0] : tokens[run[-1]][1]]
                if phrase in norm:
                    phrases.append((float(weight[tokens[run[0]][0] : tokens[run[-1]][1]].sum()), phrase))
                run = []
            if t is not None:
                run.append(t)
        out: list[str] = []
        phrases.sort(key=lambda p: (-p[0], p[1]))
        for w, phrase in phrases:
            # weak tails (的, 了 picked up by a neighbouring n-gram) explain little: keep phrases of real weight
            if phrase not in out and w >= _EVIDENCE_MIN_SHARE * phrases[0][0]:
                out.append(phrase)
        return out[:k]

    def tag(self, texts, *, n_evidence: int = 3) -> list[TagResult]:
        """Categories, scores, evidence, severity and sentiment of each message.

        Parameters
        ----------
        texts : iterable of str
            Raw messages.
        n_evidence : int, default 3
            At most this many evidence n-grams per predicted category.

        Returns
        -------
        list of TagResult
            One per text, in order.

        Examples
        --------
        >>> tagger = FeedbackTagger(threshold_folds=0).fit(
        ...     ["快递太慢了", "物流一直不动", "屏幕有坏点", "开机就黑屏"],
        ...     [["logistics"], ["logistics"], ["product_defect"], ["product_defect"]])
        >>> r = tagger.tag(["快递太慢"])[0]
        >>> r.categories, r.sentiment, r.severity
        (['logistics'], 'negative', 'medium')
        >>> all(e in "快递太慢" for e in r.evidence["logistics"])
        True
        """
        self._check_fitted()
        if isinstance(n_evidence, bool) or not isinstance(n_evidence, int) or n_evidence < 0:
            raise ValueError(f"n_evidence must be an int >= 0, got {n_evidence!r}")
        texts = check_texts(texts)
        if not texts:
            return []
        pre = preprocess_texts(texts, self.max_length)
        A = self.features_.transform(pre)
        proba = self._proba_from_features(A)
        label_lists = self._labels_from_proba(proba)
        if self.sentiment_ is not None:
            sentiments = [str(s) for s in self.sentiment_.predict(texts)]
        else:
            sentiments = [sentiment_from_labels(labels) for labels in label_lists]
        index = {c: j for j, c in enumerate(self.classes_)}
        tokenizer = self._evidence_tokenizer()
        word_range = tuple(self.word_ngram_range) if self.word_ngram_range is not None else (1, 1)
        results = []
        for i, (text, labels, sentiment) in enumerate(zip(texts, label_lists, sentiments)):
            cut = text[: self.max_length]
            norm = normalize(cut)
            evidence: dict[str, list[str]] = {c: [] for c in labels}
            if n_evidence and labels:
                row = A.getrow(i)
                tokens = self._token_spans(tokenizer, pre[i])
                token_index: dict[tuple[str, ...], list[int]] = {}
                for n in range(word_range[0], word_range[1] + 1):
                    for t in range(len(tokens) - n + 1):
                        token_index.setdefault(tuple(tok for _, _, tok in tokens[t : t + n]), []).append(t)
                for c in labels:
                    evidence[c] = self._evidence(row, index[c], pre[i], norm, tokens, token_index, n_evidence)
            signals = escalation_signals(cut)
            results.append(
                TagResult(
                    categories=labels,
                    scores={str(c): float(p) for c, p in zip(self.classes_, proba[i])},
                    evidence=evidence,
                    severity=rate_severity(cut, labels, sentiment, signals=signals),
                    sentiment=sentiment,
                    truncated=len(text) > self.max_length,
                    escalation=signals,
                )
            )
        return results

    # -- persistence (see csnlp.persistence): JSON-safe parameters and state, plain numeric arrays --------------
    def _to_state(self) -> tuple[dict, dict[str, np.ndarray]]:
        self._check_fitted()
        vocab, arrays = self.features_._to_state()
        arrays = dict(arrays)
        arrays["coef"] = self.coef_
        arrays["intercept"] = np.asarray(self.intercept_, dtype=np.float64)
        arrays["thresholds"] = np.asarray(self.thresholds_, dtype=np.float64)
        state = {
            "classes": [str(c) for c in self.classes_],
            "vocabulary": vocab,
            "fill_empty": bool(self.fill_empty_),
            "sentiment": None,
        }
        if self.sentiment_ is not None:
            state["sentiment"], s_arrays = component_state(self.sentiment_)
            arrays.update({f"sentiment/{name}": value for name, value in s_arrays.items()})
        return state, arrays

    @classmethod
    def _from_state(cls, params: dict, state: dict, arrays: dict[str, np.ndarray]) -> FeedbackTagger:
        self = cls(**params)
        self.features_ = TextFeatures._from_state(
            {k: params[k] for k in FEATURE_PARAMS} | {"preprocessed": True}, state["vocabulary"], arrays
        )
        self.classes_ = np.asarray(state["classes"], dtype=str)
        self.feature_names_ = self.features_.get_feature_names_out()
        self.coef_ = arrays["coef"]
        self.intercept_ = arrays["intercept"]
        self.thresholds_ = arrays["thresholds"]
        self.fill_empty_ = bool(state["fill_empty"])
        self.sentiment_ = None
        if state.get("sentiment"):
            prefix = "sentiment/"
            s_arrays = {name[len(prefix):]: value for name, value in arrays.items() if name.startswith(prefix)}
            self.sentiment_ = component_from_state(state["sentiment"], s_arrays)
        return self


# -- training from files and evaluation --------------------------------------------------------------------------
def _make_tagger(config: dict, seed: int | None) -> FeedbackTagger:
    allowed = set(FeedbackTagger().get_params())
    unknown = sorted(set(config) - allowed)
    if unknown:
        raise InputError(f"unknown FeedbackTagger parameter(s) {unknown} in the config: allowed are {sorted(allowed)}")
    params = dict(config)
    if seed is not None:
        params["random_state"] = seed
    for key in ("word_ngram_range", "char_ngram_range"):
        if isinstance(params.get(key), list):
            params[key] = tuple(params[key])
    return FeedbackTagger(**params)


def _read_sentiment_field(path: Path, ds: Dataset, encoding: str | None, fmt: str | None) -> list | None:
    """The ``sentiment`` field of each record of ``ds`` read from ``path`` (JSONL or CSV/TSV), or None.

    Records are matched to ``ds`` in order by their (stripped) text, so lines skipped as bad stay aligned.
    """
    name = path.name.lower()
    fmt = (fmt or "").lower() or (
        "jsonl" if name.endswith((".jsonl", ".ndjson", ".json")) else "tsv" if name.endswith(".tsv")
        else "csv" if name.endswith(".csv") else ""
    )
    if fmt not in ("jsonl", "csv", "tsv"):
        return None
    enc = encoding or detect_encoding(path)
    records: list[tuple[str, object]] = []
    with open(path, encoding=enc, newline="") as fh:
        if fmt == "jsonl":
            for line in fh:
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if isinstance(obj, dict) and isinstance(obj.get("text"), str):
                    records.append((obj["text"].strip(), obj.get("sentiment")))
        else:
            for row in csv.DictReader(fh, delimiter="\t" if fmt == "tsv" else ","):
                text = row.get("text")
                if isinstance(text, str):
                    value = row.get("sentiment")
                    records.append((text.strip(), value if value not in ("", None) else None))
    if not any(value is not None for _, value in records):
        return None
    out, pos = [], 0
    for text in ds.texts:
        while pos < len(records) and records[pos][0] != text:
            pos += 1
        if pos == len(records):
            raise InputError(f"{path}: could not match the sentiment field to the records: use a JSONL file")
        value = records[pos][1]
        if value is None:
            raise InputError(f"{path}: a record has no sentiment (text {text[:20]!r}): give every record one or none")
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            value = int(value)
        out.append(value)
        pos += 1
    return out


def train_feedback_tagger(
    data: Dataset | str | os.PathLike,
    *,
    config: dict | None = None,
    seed: int | None = None,
    dev: Dataset | str | os.PathLike | None = None,
    **read_options,
) -> FeedbackTagger:
    """Fit a :class:`FeedbackTagger` on a multi-label data file (or a :class:`~csnlp.datasets.Dataset`).

    Records carry ``labels`` (a list, or ``a|b`` in CSV); a single ``label`` counts as a one-element list. When
    the records of a JSONL or CSV file also carry ``sentiment``, a sentiment classifier is trained on it. The
    model's ``bundle_metadata_`` records the training data's fingerprint, its size, the training time and,
    when ``dev`` is given, the dev-set metrics; :func:`csnlp.save` writes them into the manifest.

    Parameters
    ----------
    data : Dataset, str or path-like
        The training data.
    config : dict, optional
        :class:`FeedbackTagger` parameters (unknown names raise :class:`InputError`).
    seed : int, optional
        Overrides ``random_state``.
    dev : Dataset, str or path-like, optional
        Data to score the fitted tagger on (:func:`evaluate_tagger`).
    **read_options
        Passed to :func:`csnlp.datasets.load_dataset` (``format``, ``encoding``, ``skip_bad_lines``).

    Returns
    -------
    FeedbackTagger
    """
    read_options = {k: v for k, v in read_options.items() if k != "multi_label"}
    if isinstance(data, Dataset):
        ds, sentiment = data, None
    else:
        ds = load_dataset(data, multi_label=True, **read_options)
        sentiment = _read_sentiment_field(
            Path(data), ds, read_options.get("encoding"), read_options.get("format")
        )
    tagger = _make_tagger(config or {}, seed)
    start = time.perf_counter()
    tagger.fit(ds.texts, ds.labels, sentiment=sentiment)
    seconds = time.perf_counter() - start
    logger.info("trained a feedback tagger on %d texts, %d categories in %.1f s",
                len(ds), len(tagger.classes_), seconds)
    metrics = None
    if dev is not None:
        dev_ds = dev if isinstance(dev, Dataset) else load_dataset(dev, multi_label=True, **read_options)
        report = evaluate_tagger(tagger, dev_ds.texts, dev_ds.labels)
        metrics = {k: report[k] for k in ("n", "micro_f1", "macro_f1", "samples_exact_match")} | {"data": dev_ds.source}
    tagger.bundle_metadata_ = {
        "training_data_sha256": ds.fingerprint(),
        "metrics": metrics,
        "training": {"n_texts": len(ds), "source": Path(ds.source).name if ds.source else "",
                     "seconds": round(seconds, 2), "bad_lines_skipped": len(ds.bad_lines),
                     "sentiment": "trained" if sentiment is not None else "derived from categories"},
    }
    return tagger


def evaluate_tagger(tagger: FeedbackTagger, texts: Sequence[str], label_lists) -> dict:
    """Score a fitted tagger on labelled texts.

    Returns
    -------
    dict
        JSON-safe: ``n``, ``micro_f1``, ``macro_f1``, ``samples_exact_match``, ``per_label`` (precision,
        recall, F1 and support per category), ``unknown_labels`` (labels in ``label_lists`` the tagger does
        not know: ``micro_f1`` counts them as missed, ``macro_f1`` and ``per_label`` cover the tagger's own
        categories) and ``thresholds`` (the tagger's per-category thresholds).

    Examples
    --------
    >>> tagger = FeedbackTagger(threshold_folds=0).fit(
    ...     ["快递太慢了", "物流一直不动", "屏幕有坏点", "开机就黑屏"],
    ...     [["logistics"], ["logistics"], ["product_defect"], ["product_defect"]])
    >>> evaluate_tagger(tagger, ["快递很慢", "屏幕坏点"], [["logistics"], ["product_defect"]])["micro_f1"]
    1.0
    """
    texts = check_texts(texts)
    truth = _check_label_lists(label_lists, len(texts), name="label_lists")
    if not texts:
        raise InputError("cannot evaluate on an empty list of texts")
    labels = [str(c) for c in tagger.classes_]
    predicted = tagger.predict(texts)
    report = evaluate_tags(truth, predicted, labels)
    if report["unknown_labels"]:
        # labels the tagger cannot know are misses: count them in micro-F1 instead of dropping them
        tp = sum(len(set(t) & set(p)) for t, p in zip(truth, predicted))
        n_true = sum(len(t) for t in truth)
        n_pred = sum(len(p) for p in predicted)
        report["micro_f1"] = float(2 * tp / (n_true + n_pred)) if n_true + n_pred else 0.0
    report["thresholds"] = {c: float(t) for c, t in zip(labels, tagger.thresholds_)}
    return report
