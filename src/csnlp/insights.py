"""Reports over conversation logs: what customers ask, what the bot misses, what is spiking.

:func:`build_report` streams a log (JSONL or CSV with at least ``ts`` and ``text``) through a router in
batches and keeps only counters and bounded, seeded reservoir samples, so its memory does not grow with the
number of lines (it grows with the number of *days*, intents, categories and channels, each small).
:func:`write_report` writes ``report.html`` (one self-contained file), ``report.md``, ``report.json`` and
``faq_gaps.jsonl``. The building blocks work on their own: :func:`iter_log` (reading and validation),
:func:`detect_spikes` (the spike rule) and :func:`cluster_gaps` (the FAQ-gap clustering).

The rules, in one place (each is also in the report's ``method`` section):

* **Day.** The calendar date of ``ts`` as written, in its own UTC offset (``2026-10-08T23:30:00+08:00`` is
  2026-10-08); timestamps without an offset are taken as they are.
* **Period and comparison.** ``since``/``until`` (inclusive dates) bound the analysed period. The intent
  distribution is compared with the *previous period*: with ``since``, the same number of days right before
  ``since`` (the period ends at ``until``, or at the last day with data); without ``since``, the first half of
  the days from the first to the last day in the log (``n // 2`` days) against the second half (the other
  ``n - n // 2`` days, so the later half is the longer one when ``n`` is odd). Lines before ``since`` are
  routed only to feed that comparison and the spike baselines (as far back as needed: ``max(14, period
  length)`` days when ``until`` is given, all earlier lines otherwise); lines after ``until`` are skipped.
* **Automation rate.** The share of messages the router *answered* (action ``answer``: a confident intent,
  a keyword rule or an FAQ match). Clarifications and handoffs are not automated.
* **Spikes** (:func:`detect_spikes`). For each day, baseline = median of the counts of the previous 14 days
  (at least 7 needed; missing days count 0), scale = max(1.4826 x MAD, 1). A day is a spike when
  count >= 10, count >= 3 x max(baseline, 1) and robust z = (count - baseline) / scale >= 5. Applied to the
  daily count of every intent and every complaint category; only days inside the period are reported.
* **FAQ gaps** (:func:`cluster_gaps`). Messages the router handed off with reason ``low_confidence``,
  ``no_reply`` or ``target_unreachable`` (``out_of_scope`` is *not* a gap: the bot rightly declines). A seeded
  reservoir sample of at most 2,000 of them (masked text) is clustered: jieba words without filler words
  (:data:`GAP_STOP_WORDS`), placeholders, digits and punctuation, plus the character bigrams inside longer
  words; TF-IDF with document frequencies from a sample of *all* messages (so that words every customer uses,
  such as 订单 or 快递, do not glue unrelated questions together); agglomerative clustering, average linkage
  on cosine distance, merging stops at distance 0.9 (so the number of clusters follows from the data).
  Clusters of at least max(3, 1 % of the sample) messages are reported, largest first, with their size
  scaled to the full count of gap messages. A cluster whose messages the model mostly (>= 60 %) files under
  one known intent is suggested as an FAQ entry of that intent; otherwise as a new intent
  ``new_intent_<term>_<term>`` from its two top key terms.

Only masked text (:attr:`csnlp.route.Decision.masked_text`) ever reaches a report: phone, ID-card and
bank-card numbers, e-mail addresses and the like are placeholders. Bad lines are listed by number and
reason, never with their content.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import logging
import math
import os
import random
import re
import statistics
from collections import Counter, defaultdict, deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from csnlp.exceptions import DataFormatError, InputError

__all__ = [
    "LogRecord",
    "Report",
    "Spike",
    "GapCluster",
    "build_report",
    "iter_log",
    "detect_spikes",
    "cluster_gaps",
    "write_report",
    "GAP_REASONS",
    "GAP_STOP_WORDS",
]

logger = logging.getLogger(__name__)

#: Handoff reasons that count as an FAQ gap (the bot could not answer something it should learn to answer).
GAP_REASONS = ("low_confidence", "no_reply", "target_unreachable")

#: Filler of customer-service chat left out of the gap clustering: greetings, politeness, particles,
#: pronouns, question words and other words every topic shares.
GAP_STOP_WORDS = frozenset(
    """
    你好 您好 在吗 在不在 亲 亲亲 客服 小姐姐 请问 问一下 问下 问问 想问 麻烦 打扰 一下 谢谢 感谢 多谢 谢了 辛苦 辛苦了
    麻烦了 拜托 尽快 急 急急 着急 在 吗 呢 吧 啊 呀 哦 哈 哈哈 嗯 嘛 啦 喔 噢 呗 哇 了 的 地 得 着 过 是 我 你 您
    你们 我们 他 她 它 他们 这 那 这个 那个 这样 那样 就 都 也 还 又 和 与 跟 及 把 被 给 让 对 么 什么 怎么 怎样
    怎么样 怎么回事 咋 咋回事 为什么 为啥 请 帮 帮忙 帮我 看 看下 看看 能 能不能 可以 可不可以 可否 有 没有 没 不
    要 想 会 下 一 个 好 好的 服了 无语 真的 到底 赶紧 快点 处理 投诉 是不是 是否 不是 时候 到 现在 已经 还是 还没
    哪 哪里 在哪 哪儿 多久 几天 今天 昨天 明天 怎么办 如何 问题 一直 显示 又是 太 很 非常 最 再 才 但 但是 可是
    而且 所以 因为 如果 然后 之后 以后 里 上 中 后 前 去 来 说 做 弄 搞 用 拿 多少 几 次 第 离谱 太离谱 呀 点
    一点 有点 有没有 东西 这边 那边 一样 不行 不了 不到 可能 应该 需要 没法 一些 还有 这么 那么 多 少 大 小
    """.split()
)

_PLACEHOLDER_OR_CODE_RE = re.compile(r"<[A-Z_]{2,16}>|\[[\u4e00-\u9fffa-zA-Z]{1,6}\]")
_NON_WORD_RE = re.compile(r"[\W\d_]+")
_TS_FORMATS = ("%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M", "%Y/%m/%d", "%Y-%m-%d %H:%M")
_TRUE = {"true", "1", "yes", "y", "是", "已解决"}
_FALSE = {"false", "0", "no", "n", "否", "未解决"}
_TS_COLUMNS = ("ts", "timestamp", "time", "created_at", "datetime", "时间")
_TEXT_COLUMNS = ("text", "message", "content", "query", "内容", "消息", "文本")
_MAX_DISTINCT = 200  # distinct channels / agent labels kept; the rest count as "(other)"
_MAX_BAD_LISTED = 20
_NONE_KEY = "(none)"
_OTHER_KEY = "(other)"


# -- records ----------------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class LogRecord:
    """One validated line of a conversation log."""

    ts: dt.datetime
    text: str
    channel: str = "unknown"
    user_id: str | None = None
    conversation_id: str | None = None
    resolved: bool | None = None
    satisfaction: int | None = None
    agent_label: str | None = None

    @property
    def day(self) -> dt.date:
        return self.ts.date()


def _parse_ts(value, where: str) -> dt.datetime:
    if not isinstance(value, str):
        if value is None:
            raise DataFormatError(f'{where}: "ts" is missing')
        raise DataFormatError(
            f'{where}: "ts" must be an ISO 8601 string such as "2026-10-08T14:03:11+08:00", got {type(value).__name__}'
        )
    s = value.strip()
    if not s:
        raise DataFormatError(f'{where}: "ts" is empty')
    if s[-1] in "Zz":
        s = s[:-1] + "+00:00"
    try:
        return dt.datetime.fromisoformat(s)
    except ValueError:
        pass
    for fmt in _TS_FORMATS:
        try:
            return dt.datetime.strptime(s, fmt)
        except ValueError:
            continue
    # the value itself is not repeated: a broken export may have put a phone number there
    raise DataFormatError(f'{where}: "ts" is not a date-time like "2026-10-08T14:03:11+08:00" or "2026/10/8 14:03"')


def _opt_str(value, name: str, where: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise DataFormatError(f'{where}: "{name}" must be a string, got {type(value).__name__}')
    value = str(value).strip()
    return value or None


def _opt_bool(value, where: str) -> bool | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        v = value.strip().lower()
        if not v:
            return None
        if v in _TRUE:
            return True
        if v in _FALSE:
            return False
    raise DataFormatError(f'{where}: "resolved" must be true/false (or TRUE/FALSE, 1/0), got {type(value).__name__}')


def _opt_rating(value, where: str) -> int | None:
    if value is None:
        return None
    rating = None
    if isinstance(value, bool):
        rating = None
    elif isinstance(value, int):
        rating = value
    elif isinstance(value, float) and value.is_integer():
        rating = int(value)
    elif isinstance(value, str):
        v = value.strip()
        if not v:
            return None
        try:
            f = float(v)
        except ValueError:
            f = math.nan
        rating = int(f) if f.is_integer() else None
    if rating is None or not 1 <= rating <= 5:
        raise DataFormatError(f'{where}: "satisfaction" must be an integer from 1 to 5 (or empty)')
    return rating


def _record_from_dict(obj: dict, where: str, keys: tuple[str, str] = ("ts", "text")) -> LogRecord:
    ts_key, text_key = keys
    ts = _parse_ts(obj.get(ts_key), where)
    text = obj.get(text_key)
    if text is None:
        raise DataFormatError(f'{where}: "text" is missing')
    if not isinstance(text, str):
        raise DataFormatError(f'{where}: "text" must be a string, got {type(text).__name__}')
    if not text.strip():
        raise DataFormatError(f'{where}: "text" is empty')
    return LogRecord(
        ts=ts,
        text=text,
        channel=_opt_str(obj.get("channel"), "channel", where) or "unknown",
        user_id=_opt_str(obj.get("user_id"), "user_id", where),
        conversation_id=_opt_str(obj.get("conversation_id"), "conversation_id", where),
        resolved=_opt_bool(obj.get("resolved"), where),
        satisfaction=_opt_rating(obj.get("satisfaction"), where),
        agent_label=_opt_str(obj.get("agent_label"), "agent_label", where),
    )


def _format_of(path: Path, fmt: str | None) -> str:
    if fmt:
        fmt = fmt.lower()
        if fmt not in ("jsonl", "csv", "tsv"):
            raise InputError(f"unknown log format {fmt!r}: use jsonl, csv or tsv")
        return fmt
    name = path.name.lower()
    if name.endswith((".jsonl", ".ndjson", ".json")):
        return "jsonl"
    if name.endswith(".tsv"):
        return "tsv"
    if name.endswith(".csv"):
        return "csv"
    raise InputError(f"{path}: cannot tell the log format from the file name: pass format='jsonl'|'csv'|'tsv'")


def _open_log(path: Path, encoding: str | None):
    from csnlp.datasets import detect_encoding

    return open(path, encoding=encoding or detect_encoding(path), errors="strict", newline="")


def _pick_column(header: list[str], names: tuple[str, ...]) -> str | None:
    lowered = {h.strip().lower(): h for h in header if h}
    return next((lowered[n] for n in names if n in lowered), None)


def iter_log(
    path: str | os.PathLike,
    *,
    encoding: str | None = None,
    format: str | None = None,
) -> Iterator[tuple[int, LogRecord | DataFormatError]]:
    """Read a conversation log lazily, one line at a time.

    Parameters
    ----------
    path : str or path-like
        JSONL (one object per line) or CSV/TSV with a header. Required fields: ``ts`` (ISO 8601, or
        ``2026/10/8 14:03`` as Excel writes it) and ``text``; optional ``channel``, ``user_id``,
        ``conversation_id``, ``resolved`` (bool or TRUE/FALSE), ``satisfaction`` (1-5), ``agent_label``.
    encoding : str, optional
        Default: UTF-8 (BOM allowed), or GB18030 when the start of the file is not valid UTF-8.
    format : {"jsonl", "csv", "tsv"}, optional
        Default: from the file name.

    Yields
    ------
    (int, LogRecord or DataFormatError)
        The line number and the record, or the error describing a bad line (broken JSON, missing or empty
        ``ts``/``text``, an unreadable ``ts``, a wrong type). Blank lines are skipped.

    Raises
    ------
    FileNotFoundError
        Nothing at ``path``.
    DataFormatError
        The file as a whole cannot be read (undecodable bytes, no ``ts``/``text`` column).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "log.jsonl"
    >>> _ = p.write_text('{"ts": "2026-10-08T10:00:00+08:00", "text": "支付失败了"}\\n{"text": "还在吗"}\\n', "utf-8")
    >>> [(n, r.text if isinstance(r, LogRecord) else str(r).split(": ", 1)[1]) for n, r in iter_log(p)]
    [(1, '支付失败了'), (2, '"ts" is missing')]
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no log file at {path}")
    fmt = _format_of(path, format)
    if encoding is not None:
        try:
            "".encode(encoding)
        except LookupError:
            raise InputError(f"unknown encoding {encoding!r}: use e.g. utf-8, gbk or gb18030") from None
    return _read_log(path, fmt, encoding)  # checked now, read lazily


def _read_log(path: Path, fmt: str, encoding: str | None) -> Iterator[tuple[int, LogRecord | DataFormatError]]:
    try:
        with _open_log(path, encoding) as fh:
            if fmt == "jsonl":
                yield from _jsonl_records(fh, path)
            else:
                yield from _csv_records(fh, path, "\t" if fmt == "tsv" else ",")
    except UnicodeDecodeError as exc:
        raise DataFormatError(
            f"{path}: cannot be decoded as {encoding or 'UTF-8 or GB18030'} ({exc.reason} at byte {exc.start}): "
            "pass the right encoding (CLI: --encoding gbk)"
        ) from None


def _jsonl_records(fh, path: Path) -> Iterator[tuple[int, LogRecord | DataFormatError]]:
    for lineno, line in enumerate(fh, 1):
        if not line.strip():
            continue
        where = f"{path} line {lineno}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            yield lineno, DataFormatError(f"{where}: not valid JSON ({exc.msg})")
            continue
        if not isinstance(obj, dict):
            yield lineno, DataFormatError(f"{where}: expected a JSON object, got {type(obj).__name__}")
            continue
        try:
            yield lineno, _record_from_dict(obj, where)
        except DataFormatError as exc:
            yield lineno, exc


def _csv_records(fh, path: Path, delimiter: str) -> Iterator[tuple[int, LogRecord | DataFormatError]]:
    reader = csv.reader(fh, delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        return
    except csv.Error as exc:
        raise DataFormatError(f"{path} line 1: broken CSV header ({exc})") from None
    header = [h.strip().lstrip("\ufeff") for h in header]
    ts_key, text_key = _pick_column(header, _TS_COLUMNS), _pick_column(header, _TEXT_COLUMNS)
    if ts_key is None or text_key is None:
        missing = "ts" if ts_key is None else "text"
        raise DataFormatError(f"{path}: no {missing!r} column in the header {header}: name the columns ts and text")
    width = len(header)
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield reader.line_num, DataFormatError(f"{path} line {reader.line_num}: broken CSV ({exc})")
            continue
        lineno = reader.line_num
        if not row or not any(cell.strip() for cell in row):
            continue
        where = f"{path} line {lineno}"
        if len(row) != width:
            yield lineno, DataFormatError(f"{where}: expected {width} fields like the header, got {len(row)}")
            continue
        obj = {k: (v if v.strip() else None) for k, v in zip(header, row)}
        try:
            yield lineno, _record_from_dict(obj, where, (ts_key, text_key))
        except DataFormatError as exc:
            yield lineno, exc


def _iter_given_records(records: Iterable, source: str) -> Iterator[tuple[int, LogRecord | DataFormatError]]:
    for i, rec in enumerate(records, 1):
        where = f"{source} record {i}"
        if isinstance(rec, LogRecord):
            yield i, rec
        elif isinstance(rec, Mapping):
            try:
                yield i, _record_from_dict(dict(rec), where)
            except DataFormatError as exc:
                yield i, exc
        else:
            yield i, DataFormatError(f"{where}: expected a dict with ts and text, got {type(rec).__name__}")


# -- spikes -----------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Spike:
    """A day whose count is far above its own recent baseline (see :func:`detect_spikes`)."""

    day: str
    count: int
    baseline: float
    scale: float
    factor: float
    z: float

    def to_dict(self) -> dict:
        return {"day": self.day, "count": self.count, "baseline": self.baseline, "scale": self.scale,
                "factor": round(self.factor, 3), "z": round(self.z, 3)}


def _as_date(value, name: str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise InputError(f"{name} must be a date like '2026-10-01' (str or datetime.date), got {value!r}")


def detect_spikes(
    daily_counts: Mapping,
    *,
    window: int = 14,
    min_history: int = 7,
    min_factor: float = 3.0,
    min_z: float = 5.0,
    min_count: int = 10,
    min_scale: float = 1.0,
) -> list[Spike]:
    """Days whose count is far above the median of the days before.

    For each day: baseline = median of the counts of the previous ``window`` days (days missing from
    ``daily_counts`` count 0; days before the first key do not exist, and a day with fewer than
    ``min_history`` previous days is never a spike); scale = max(1.4826 x MAD of those counts, ``min_scale``).
    The day is a spike when ``count >= min_count``, ``count / max(baseline, 1) >= min_factor`` and
    ``(count - baseline) / scale >= min_z``.

    Parameters
    ----------
    daily_counts : mapping of date (or "YYYY-MM-DD") to int
    window, min_history : int
        Baseline days, and how many of them must exist.
    min_factor, min_z, min_count, min_scale : float
        The thresholds above; ``min_scale`` keeps a perfectly flat history from making every bump a spike.

    Returns
    -------
    list of Spike
        In date order.

    Raises
    ------
    InputError
        Bad keys, counts or parameters.

    Examples
    --------
    >>> counts = {f"2026-10-{d:02d}": 4 for d in range(1, 21)}
    >>> counts["2026-10-16"] = 35
    >>> [(s.day, s.count, s.baseline, s.factor) for s in detect_spikes(counts)]
    [('2026-10-16', 35, 4.0, 8.75)]
    """
    if isinstance(daily_counts, (str, bytes)) or not isinstance(daily_counts, Mapping):
        raise InputError(f"daily_counts must be a mapping of day -> count, got {type(daily_counts).__name__}")
    for name, value in (("window", window), ("min_history", min_history), ("min_count", min_count)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise InputError(f"{name} must be an int >= 1, got {value!r}")
    if min_history > window:
        raise InputError(f"min_history ({min_history}) cannot exceed window ({window})")
    for name, value in (("min_factor", min_factor), ("min_z", min_z), ("min_scale", min_scale)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
            raise InputError(f"{name} must be a number > 0, got {value!r}")
    counts: dict[dt.date, int] = {}
    for key, value in daily_counts.items():
        day = _as_date(key, "every key of daily_counts")
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise InputError(f"daily_counts[{key!r}] must be a count (int >= 0), got {value!r}")
        counts[day] = counts.get(day, 0) + int(value)
    if not counts:
        return []
    first, last = min(counts), max(counts)
    series = [counts.get(first + dt.timedelta(days=i), 0) for i in range((last - first).days + 1)]
    spikes = []
    for i, count in enumerate(series):
        if i < min_history or count < min_count:
            continue
        history = series[max(0, i - window) : i]
        baseline = float(statistics.median(history))
        mad = float(statistics.median(abs(h - baseline) for h in history))
        scale = max(1.4826 * mad, float(min_scale))
        factor = count / max(baseline, 1.0)
        z = (count - baseline) / scale
        if factor >= min_factor and z >= min_z:
            spikes.append(Spike((first + dt.timedelta(days=i)).isoformat(), int(count), baseline, round(scale, 4),
                                factor, z))
    return spikes


# -- FAQ-gap clustering -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class GapCluster:
    """One group of similar unanswered messages (see :func:`cluster_gaps`).

    Attributes
    ----------
    size : int
        Estimated number of gap messages like these in the whole log (``n_sampled`` scaled to ``total``).
    n_sampled : int
        Messages of the clustered sample in this cluster.
    key_terms : list of str
        Top TF-IDF words of the cluster centroid.
    representatives : list of str
        Sampled messages closest to the centroid, leaving out near-copies (cosine >= 0.8) of one already chosen.
    suggestion : str
        ``"new_intent"`` or ``"faq_entry"`` (the model already files most of them under ``intent``).
    label : str
        The suggested label for training: ``new_intent_<term>_<term>`` or the existing intent id.
    suggested_id : str
        ``label`` for a new intent, ``faq_<intent>_<term>_<term>`` for an FAQ entry.
    model_intents : list of (str, float)
        The intents the model chose for these messages, with their shares (when intents were given).
    members : list of int
        Indices (into the ``texts`` given) of the sampled messages in this cluster, closest first.
    """

    size: int
    n_sampled: int
    key_terms: list[str]
    representatives: list[str]
    suggestion: str
    label: str
    suggested_id: str
    model_intents: list[tuple[str, float]]
    members: list[int]
    cohesion: float

    def to_dict(self) -> dict:
        return {
            "size": self.size,
            "n_sampled": self.n_sampled,
            "key_terms": list(self.key_terms),
            "representatives": list(self.representatives),
            "suggestion": self.suggestion,
            "label": self.label,
            "suggested_id": self.suggested_id,
            "model_intents": [{"intent": i, "share": round(s, 4)} for i, s in self.model_intents],
            "cohesion": round(self.cohesion, 4),
        }


class GapAnalyzer:
    """Turns a masked message into clustering features: content words and the character bigrams inside them.

    Placeholders (``<ORDER_NO>``), WeChat codes (``[微笑]``), digits and punctuation are dropped; so are the
    filler words of ``stop_words``. Words of three or more characters also yield their character bigrams
    (直播间 -> 直播间, 直播, 播间), so that 直播 and 直播间 meet.
    """

    def __init__(self, stop_words: Iterable[str] | None = None) -> None:
        self.stop_words = frozenset(GAP_STOP_WORDS if stop_words is None else stop_words)
        self.words: set[str] = set()  # terms seen as whole words (key terms are chosen among them)
        self._tokenizer = None

    def __getstate__(self):
        return {"stop_words": self.stop_words}

    def __setstate__(self, state):
        self.__init__(state["stop_words"])

    def __call__(self, text: str) -> list[str]:
        if self._tokenizer is None:
            from csnlp.tokenizer import JiebaTokenizer

            self._tokenizer = JiebaTokenizer(hmm=True)
        text = _NON_WORD_RE.sub(" ", _PLACEHOLDER_OR_CODE_RE.sub(" ", text)).strip()
        if not text:
            return []
        out: list[str] = []
        for word in self._tokenizer.tokenize(text):
            word = word.strip()
            if not word or word in self.stop_words:
                continue
            out.append(word)
            self.words.add(word)
            if len(word) >= 3:
                out.extend(word[i : i + 2] for i in range(len(word) - 1))
        return out


def _key_terms(centroid: np.ndarray, names: np.ndarray, n: int, words: set[str]) -> list[str]:
    chosen: list[str] = []
    for j in np.argsort(-centroid, kind="stable"):
        if centroid[j] <= 0 or len(chosen) == n:
            break
        term = str(names[j])
        if term not in words or any(term in c or c in term for c in chosen):
            continue
        chosen.append(term)
    return chosen


def _average_linkage_labels(X, distance_threshold: float, block: int = 256) -> np.ndarray:
    """Average-linkage clusters of the L2-normalised rows of X on cosine distance, cut at ``distance_threshold``.

    The condensed distance vector (n(n-1)/2 doubles) is filled block by block, so the peak memory is that
    vector plus one block of rows, never a dense n x n matrix.
    """
    from scipy.cluster.hierarchy import fcluster, linkage

    n = X.shape[0]
    condensed = np.empty(n * (n - 1) // 2, dtype=np.float64)
    pos = 0
    for start in range(0, n, block):
        sims = (X[start : start + block] @ X.T).toarray()
        for i in range(sims.shape[0]):
            row = start + i
            seg = sims[i, row + 1 :]
            condensed[pos : pos + len(seg)] = 1.0 - seg
            pos += len(seg)
    np.clip(condensed, 0.0, 2.0, out=condensed)
    tree = linkage(condensed, method="average")
    # merges happen while the average distance is below the threshold (scikit-learn's distance_threshold)
    return fcluster(tree, t=np.nextafter(distance_threshold, 0.0), criterion="distance")


def cluster_gaps(
    texts,
    *,
    background=None,
    intents=None,
    total: int | None = None,
    distance_threshold: float = 0.9,
    min_cluster_size: int | None = None,
    max_clusters: int = 12,
    max_samples: int = 2000,
    n_terms: int = 5,
    n_representatives: int = 5,
    faq_share: float = 0.6,
    stop_words: Iterable[str] | None = None,
    random_state: int = 0,
) -> list[GapCluster]:
    """Group unanswered messages into topics, largest first, each with key terms and a suggested label.

    Parameters
    ----------
    texts : list of str
        Masked messages the bot could not answer.
    background : list of str, optional
        A sample of all messages; document frequencies (IDF) come from it plus ``texts``, so that words every
        customer uses weigh little. Default: ``texts`` alone.
    intents : list of str, optional
        The model's intent for each text: a cluster mostly (``faq_share``) under one intent is suggested as an
        FAQ entry of that intent instead of a new intent.
    total : int, optional
        How many gap messages ``texts`` were sampled from (scales ``GapCluster.size``); default ``len(texts)``.
    distance_threshold : float, default 0.9
        Average-linkage merging stops at this cosine distance; it decides the number of clusters.
    min_cluster_size : int, optional
        Smaller clusters are not reported. Default max(3, 1 % of the clustered messages).
    max_clusters : int, default 12
    max_samples : int, default 2000
        At most this many texts are clustered (a seeded random sample); the distance matrix is this squared.
    n_terms, n_representatives : int
    faq_share : float, default 0.6
    stop_words : iterable of str, optional
        Default :data:`GAP_STOP_WORDS`.
    random_state : int, default 0

    Returns
    -------
    list of GapCluster

    Examples
    --------
    >>> texts = ["直播间抽奖中奖了奖品没发", "直播抽奖的奖品什么时候发", "中奖的奖品一直没收到",
    ...          "发票抬头开错了", "发票抬头写错了能改吗", "电子发票抬头错了"]
    >>> [c.key_terms[:2] for c in cluster_gaps(texts, min_cluster_size=2)]
    [['发票', '抬头'], ['奖品', '中奖']]
    """
    from sklearn.feature_extraction.text import TfidfVectorizer

    from csnlp._validation import check_texts

    texts = check_texts(texts, "texts")
    if intents is not None:
        intents = [None if i is None else str(i) for i in intents]
        if len(intents) != len(texts):
            raise InputError(f"got {len(texts)} texts but {len(intents)} intents: pass one intent per text")
    if not 0 < distance_threshold <= 1:
        raise InputError(f"distance_threshold must be in (0, 1], got {distance_threshold!r}")
    for name, value in (("max_clusters", max_clusters), ("max_samples", max_samples), ("n_terms", n_terms),
                        ("n_representatives", n_representatives)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise InputError(f"{name} must be an int >= 1, got {value!r}")
    total = len(texts) if total is None else int(total)
    index = list(range(len(texts)))
    if len(index) > max_samples:
        index = sorted(random.Random(random_state).sample(index, max_samples))
    sample = [texts[i] for i in index]
    if len(sample) < 2:
        return []
    analyzer = GapAnalyzer(stop_words)
    bg = check_texts(background, "background") if background is not None else []
    vectorizer = TfidfVectorizer(analyzer=analyzer, min_df=2, sublinear_tf=True, dtype=np.float64)
    try:
        vectorizer.fit(list(bg) + sample)
    except ValueError:  # no term occurs twice: nothing to group by
        return []
    X = vectorizer.transform(sample)
    nonzero = np.flatnonzero(X.getnnz(axis=1))
    if len(nonzero) < 2:
        return []
    X = X[nonzero]
    n = X.shape[0]
    labels = _average_linkage_labels(X, distance_threshold)
    min_size = max(3, math.ceil(0.01 * n)) if min_cluster_size is None else int(min_cluster_size)
    names = vectorizer.get_feature_names_out()
    groups = [np.flatnonzero(labels == k) for k in np.unique(labels)]
    groups = [g for g in groups if len(g) >= min_size]
    found = []
    for rows in groups:
        centroid = np.asarray(X[rows].mean(axis=0)).ravel()
        norm = float(np.linalg.norm(centroid)) or 1.0
        sims = np.asarray(X[rows] @ centroid).ravel() / norm
        order = rows[np.argsort(-sims, kind="stable")]
        terms = _key_terms(centroid, names, n_terms, analyzer.words)
        # representatives: closest to the centroid first, skipping near-copies (cosine >= 0.8) of one already shown
        near = order[:50]
        pair = (X[near] @ X[near].T).toarray()
        reps: list[int] = []
        for a in range(len(near)):
            if all(pair[a, b] < 0.8 for b in reps):
                reps.append(a)
            if len(reps) == n_representatives:
                break
        found.append((len(rows), terms, order, float(sims.mean()), [int(near[a]) for a in reps]))
    found.sort(key=lambda f: (-f[0], f[1]))
    clusters: list[GapCluster] = []
    used_ids: set[str] = set()
    for size, terms, order, cohesion, rep_rows in found[:max_clusters]:
        members = [index[nonzero[r]] for r in order]
        reps = [texts[index[nonzero[r]]] for r in rep_rows]
        model_intents: list[tuple[str, float]] = []
        if intents is not None:
            counts = Counter(intents[m] or _NONE_KEY for m in members)
            model_intents = [(i, c / len(members)) for i, c in sorted(counts.items(), key=lambda ic: (-ic[1], ic[0]))[:3]]
        stem = "_".join(terms[:2]) or "misc"
        if model_intents and model_intents[0][1] >= faq_share and model_intents[0][0] != _NONE_KEY:
            kind, label = "faq_entry", model_intents[0][0]
            suggested = f"faq_{label}_{stem}"
        else:
            kind = "new_intent"
            label = suggested = f"new_intent_{stem}"
        base, k = suggested, 2
        while suggested in used_ids:
            suggested = f"{base}_{k}"
            k += 1
        used_ids.add(suggested)
        if kind == "new_intent":
            label = suggested
        clusters.append(GapCluster(
            size=max(1, round(size / len(sample) * total)), n_sampled=size, key_terms=terms, representatives=reps,
            suggestion=kind, label=label, suggested_id=suggested, model_intents=model_intents, members=members,
            cohesion=cohesion,
        ))
    return clusters


# -- the streaming aggregation ------------------------------------------------------------------------------------
class _Reservoir:
    """Algorithm R: a uniform sample of at most ``k`` items of a stream, with a shared seeded RNG."""

    __slots__ = ("k", "items", "seen", "rng")

    def __init__(self, k: int, rng: random.Random) -> None:
        self.k, self.items, self.seen, self.rng = k, [], 0, rng

    def add(self, item) -> None:
        self.seen += 1
        if len(self.items) < self.k:
            self.items.append(item)
        else:
            j = self.rng.randrange(self.seen)
            if j < self.k:
                self.items[j] = item


class _Capped:
    """Maps free-text values (channels, agent labels) to themselves, up to ``cap`` distinct ones, then "(other)"."""

    def __init__(self, cap: int = _MAX_DISTINCT) -> None:
        self.cap, self.seen = cap, {}

    def __call__(self, value: str | None) -> str | None:
        if value is None:
            return None
        known = self.seen.get(value)
        if known is not None:
            return known
        if len(self.seen) >= self.cap:
            return _OTHER_KEY
        from csnlp.text import mask, normalize

        cleaned = mask(normalize(value)).text[:60] or _NONE_KEY  # a free-text field may hold private data too
        self.seen[value] = cleaned
        return cleaned


def _slim(d) -> tuple:
    """What the report needs of a Decision (no entity values)."""
    return (d.action, d.intent, float(d.confidence), d.reason, d.masked_text, tuple(d.tags), d.severity)


_SEVERITIES = ("low", "medium", "high", "critical")


class _Aggregator:
    def __init__(self, *, rng: random.Random, n_examples: int, gap_sample: int, background_sample: int) -> None:
        self.rng = rng
        self.n_examples = n_examples
        self.n = 0
        self.by_day = Counter()
        self.by_channel = Counter()
        self.by_day_channel = Counter()
        self.intents = Counter()
        self.daily_intent = Counter()  # (day, intent), also for context days
        self.daily_category = Counter()  # (day, category), also for context days
        self.actions = Counter()
        self.reasons = Counter()
        self.intent_action = Counter()
        self.intent_reason = Counter()  # handoffs only
        self.channel_action = Counter()
        self.channel_reason = Counter()  # handoffs only
        self.intent_examples: dict[str, _Reservoir] = {}
        self.spike_examples: dict[tuple, _Reservoir] = {}
        self.n_tagged = 0
        self.categories = Counter()
        self.severities = Counter()
        self.day_severity = Counter()
        self.category_severity = Counter()
        self.category_examples: dict[str, _Reservoir] = {}
        self.sat_sum = defaultdict(float)
        self.sat_n = Counter()
        self.sat_dist = Counter()
        self.resolved = Counter()
        self.intent_resolved = Counter()
        self.agent_n = 0
        self.agent_known_n = 0
        self.agent_agree = 0
        self.agent_pairs = Counter()
        self.agent_unknown = Counter()
        self.agent_unknown_examples: dict[str, _Reservoir] = {}
        self.n_gaps = 0
        self.gap_reasons = Counter()
        self.gaps = _Reservoir(gap_sample, rng)
        self.background = _Reservoir(background_sample, rng)

    def _sample(self, table: dict, key, item) -> None:
        res = table.get(key)
        if res is None:
            res = table[key] = _Reservoir(self.n_examples, self.rng)
        res.add(item)

    def add_context(self, day: str, slim: tuple) -> None:
        _, intent, _, _, _, tags, _ = slim
        self.daily_intent[(day, intent or _NONE_KEY)] += 1
        for tag in tags:
            self.daily_category[(day, tag)] += 1

    def add(self, rec: LogRecord, day: str, channel: str, agent_label: str | None, slim: tuple, known: frozenset) -> None:
        action, intent, conf, reason, masked, tags, severity = slim
        intent = intent or _NONE_KEY
        self.n += 1
        self.by_day[day] += 1
        self.by_channel[channel] += 1
        self.by_day_channel[(day, channel)] += 1
        self.intents[intent] += 1
        self.daily_intent[(day, intent)] += 1
        self.actions[action] += 1
        self.reasons[reason] += 1
        self.intent_action[(intent, action)] += 1
        self.channel_action[(channel, action)] += 1
        if action == "handoff":
            self.intent_reason[(intent, reason)] += 1
            self.channel_reason[(channel, reason)] += 1
        self._sample(self.intent_examples, intent, masked)
        self._sample(self.spike_examples, ("intent", intent, day), masked)
        if tags or severity:
            self.n_tagged += 1
            if severity:
                self.severities[severity] += 1
                self.day_severity[(day, severity)] += 1
            for tag in tags:
                self.categories[tag] += 1
                self.daily_category[(day, tag)] += 1
                if severity:
                    self.category_severity[(tag, severity)] += 1
                self._sample(self.category_examples, tag, masked)
                self._sample(self.spike_examples, ("category", tag, day), masked)
        if rec.satisfaction is not None:
            for key in (("intent", intent), ("action", action), ("all", "all")):
                self.sat_sum[key] += rec.satisfaction
                self.sat_n[key] += 1
            self.sat_dist[rec.satisfaction] += 1
        if rec.resolved is not None:
            self.resolved[rec.resolved] += 1
            self.intent_resolved[(intent, rec.resolved)] += 1
        if agent_label is not None:
            self.agent_n += 1
            if agent_label in known:
                self.agent_known_n += 1
                self.agent_agree += agent_label == intent
                if agent_label != intent:
                    self.agent_pairs[(agent_label, intent)] += 1
            else:
                self.agent_unknown[agent_label] += 1
                self._sample(self.agent_unknown_examples, agent_label, masked)
        if reason in GAP_REASONS and action == "handoff":
            self.n_gaps += 1
            self.gap_reasons[reason] += 1
            self.gaps.add((masked, intent, reason, day))
        self.background.add(masked)


# -- the report -----------------------------------------------------------------------------------------------
@dataclass
class Report:
    """Everything :func:`build_report` found, as plain dicts and lists (``to_dict()`` is JSON-safe).

    Attributes
    ----------
    meta : dict
        Source, period, previous period, model, parameters, csnlp version.
    data : dict
        Lines read, analysed, outside the period, bad (count and the first ones with line numbers).
    volume, intents, automation, complaints, satisfaction, agent_labels, faq_gaps : dict
        One section each (see the module documentation for the rules).
    spikes : list of dict
        ``kind`` (intent or category), ``key``, ``day``, ``count``, ``baseline``, ``scale``, ``factor``, ``z``,
        ``examples`` (masked).
    labelling : list of dict
        The rows of ``faq_gaps.jsonl``: ``{"text", "label", "cluster"}``.
    method : dict
        The rules, in words.
    """

    meta: dict
    data: dict
    volume: dict
    intents: dict
    automation: dict
    complaints: dict
    spikes: list
    faq_gaps: dict
    satisfaction: dict
    agent_labels: dict
    labelling: list = field(default_factory=list)
    method: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """A JSON-safe dict of every section."""
        return {
            "meta": self.meta, "data": self.data, "volume": self.volume, "intents": self.intents,
            "automation": self.automation, "complaints": self.complaints, "spikes": self.spikes,
            "faq_gaps": self.faq_gaps, "satisfaction": self.satisfaction, "agent_labels": self.agent_labels,
            "labelling": self.labelling, "method": self.method,
        }


METHOD = {
    "day": "the calendar date of ts as written, in its own UTC offset",
    "previous_period": (
        "with since: the same number of days right before since (the period ends at until, or at the last day "
        "with data); without since: the first n // 2 days of the log against the remaining days"
    ),
    "automation_rate": "share of messages the router answered (action 'answer': confident, keyword rule or FAQ match)",
    "spikes": (
        "per day: baseline = median of the previous 14 days (>= 7 needed, missing days count 0), "
        "scale = max(1.4826 x MAD, 1); spike when count >= 10, count >= 3 x max(baseline, 1) and "
        "(count - baseline) / scale >= 5; factor = count / max(baseline, 1)"
    ),
    "faq_gaps": (
        "handoffs with reason low_confidence, no_reply or target_unreachable (out_of_scope is not a gap); a "
        "seeded sample of at most 2000, masked; jieba words without filler + bigrams inside longer words, TF-IDF "
        "with document frequencies from a sample of all messages; average-linkage agglomerative clustering on "
        "cosine distance, merging stops at 0.9; clusters of >= max(3, 1% of the sample) reported, largest first, "
        "size scaled to all gap messages; >= 60% under one known intent -> FAQ entry of that intent, else "
        "new_intent_<term>_<term>"
    ),
    "satisfaction": "mean rating of the messages that carry one (a conversation's rating counts on each of its lines)",
    "privacy": "only masked text (Decision.masked_text) is shown; bad lines are listed by number, never by content",
    "routing": "each message is routed on its own with its channel as context (no conversation history)",
}


def _resolve_router(router):
    """(Router, description) from None (the default), a bundle path, a Router or a plain IntentClassifier."""
    from csnlp.route import Router

    if router is None:
        from csnlp.default import load_default

        router, name = load_default(), "csnlp default model"
    elif isinstance(router, (str, os.PathLike)):
        from csnlp.persistence import load

        model = load(router)
        if isinstance(model, Router):
            router, name = model, f"router bundle {Path(router).name}"
        elif hasattr(model, "predict_proba") and hasattr(model, "classes_"):
            router, name = Router(model), f"intent bundle {Path(router).name} with the default policy"
        else:
            raise InputError(f"{router} holds a {type(model).__name__}: pass a router or an intent classifier bundle")
    elif isinstance(router, Router):
        name = "router"
    elif hasattr(router, "predict_proba") and hasattr(router, "classes_"):
        router, name = Router(router), f"{type(router).__name__} with the default policy"
    else:
        raise InputError(
            f"router must be None, a bundle path, a Router or a fitted IntentClassifier, got {type(router).__name__}"
        )
    if not hasattr(router.classifier, "classes_"):
        raise InputError("the router's classifier is not fitted: fit it or load a trained bundle first")
    parts = [f"{len(router.classes_)} intents"]
    parts += ["knowledge base"] if router.kb is not None else []
    parts += ["feedback tagger"] if router.tagger is not None else ["no feedback tagger"]
    return router, f"{name} ({', '.join(parts)})"


_WORKER_ROUTER = None


def _init_worker(router) -> None:
    global _WORKER_ROUTER
    _WORKER_ROUTER = router


def _route_chunk(texts: list[str], channels: list[str]) -> list[tuple]:
    decisions = _WORKER_ROUTER.route_many(texts, [{"channel": c} for c in channels])
    return [_slim(d) for d in decisions]


def _batched(items: Iterable, size: int) -> Iterator[list]:
    batch = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _routed(router, batches: Iterable[list], n_jobs: int) -> Iterator[tuple[list, list[tuple]]]:
    """(batch, slim decisions) in input order; with ``n_jobs > 1`` in worker processes, a bounded window ahead."""
    if n_jobs == 1:
        for batch in batches:
            decisions = router.route_many([b[1].text for b in batch], [{"channel": b[2]} for b in batch])
            yield batch, [_slim(d) for d in decisions]
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    # spawn: no fork of a threaded parent; the router is pickled once per worker (initializer), not per batch
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=n_jobs, mp_context=ctx, initializer=_init_worker,
                             initargs=(router,)) as pool:
        pending: deque = deque()
        for batch in batches:
            pending.append((batch, pool.submit(_route_chunk, [b[1].text for b in batch], [b[2] for b in batch])))
            if len(pending) >= 2 * n_jobs:
                b, fut = pending.popleft()
                yield b, fut.result()
        while pending:
            b, fut = pending.popleft()
            yield b, fut.result()


def build_report(
    records_or_path,
    router=None,
    *,
    since=None,
    until=None,
    encoding: str | None = None,
    format: str | None = None,
    skip_bad_lines: bool = False,
    batch_size: int = 1024,
    n_jobs: int = 1,
    n_examples: int = 3,
    gap_sample: int = 2000,
    background_sample: int = 5000,
    spike_params: dict | None = None,
    gap_params: dict | None = None,
    random_state: int = 0,
    progress: Callable[[int], None] | None = None,
) -> Report:
    """Stream a conversation log through a router and summarise it.

    Parameters
    ----------
    records_or_path : str, path-like, or iterable of dict / LogRecord
        A JSONL or CSV/TSV log file (see :func:`iter_log`), or records with at least ``ts`` and ``text``.
    router : Router, IntentClassifier, bundle path or None
        Default: :func:`csnlp.load_default`. A plain intent classifier (or intent bundle) is wrapped in a
        :class:`~csnlp.route.Router` with the default policy (no replies, no tagger: no complaint section).
    since, until : date or "YYYY-MM-DD", optional
        The analysed period, both days included.
    encoding, format
        For a file: see :func:`iter_log`.
    skip_bad_lines : bool, default False
        Count bad lines and go on (the first ones are listed in ``report.data``); otherwise the first bad line
        raises :class:`~csnlp.exceptions.DataFormatError` naming the file and the line.
    batch_size : int, default 1024
        Messages per ``route_many`` call.
    n_jobs : int, default 1
        Worker processes for routing (each gets the model once; -1: one per core); the reading and counting stay
        in this process, and the report is the same as with one process.
    n_examples : int, default 3
        Masked example messages kept per intent, category, spike day.
    gap_sample, background_sample : int
        Sizes of the seeded reservoir samples of gap messages and of all messages.
    spike_params, gap_params : dict, optional
        Keyword arguments for :func:`detect_spikes` and :func:`cluster_gaps`.
    random_state : int, default 0
        Seeds every sample: the same input gives the same report.
    progress : callable, optional
        Called with the number of lines read after each batch (the CLI draws a progress line with it).

    Returns
    -------
    Report

    Raises
    ------
    FileNotFoundError, DataFormatError, InputError
    """
    for name, value in (("batch_size", batch_size), ("n_examples", n_examples), ("gap_sample", gap_sample),
                        ("background_sample", background_sample)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise InputError(f"{name} must be an int >= 1, got {value!r}")
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or n_jobs == 0 or n_jobs < -1:
        raise InputError(f"n_jobs must be an int >= 1, or -1 for all cores, got {n_jobs!r}")
    n_jobs = (os.cpu_count() or 1) if n_jobs == -1 else n_jobs
    since_d = _as_date(since, "since") if since is not None else None
    until_d = _as_date(until, "until") if until is not None else None
    if since_d and until_d and since_d > until_d:
        raise InputError(f"since ({since_d}) is after until ({until_d}): swap them")
    if isinstance(records_or_path, (str, os.PathLike)):
        path = Path(records_or_path)
        if not path.is_file():
            raise FileNotFoundError(f"no log file at {path}")
        source = str(path)
        lines = iter_log(path, encoding=encoding, format=format)
    elif isinstance(records_or_path, (bytes, bytearray)) or not isinstance(records_or_path, Iterable):
        raise InputError(f"expected a log file path or an iterable of records, got {type(records_or_path).__name__}")
    else:
        source = "<records>"
        lines = _iter_given_records(records_or_path, source)
    spike_params = dict(spike_params or {})
    spike_window = int(spike_params.get("window", 14))
    router, model_name = _resolve_router(router)
    known = frozenset(str(c) for c in router.classes_)

    lookback = None  # days before since worth routing
    if since_d is not None and until_d is not None:
        lookback = max(spike_window, (until_d - since_d).days + 1)
    rng = random.Random(random_state)
    agg = _Aggregator(rng=rng, n_examples=n_examples, gap_sample=gap_sample, background_sample=background_sample)
    channels, agent_labels = _Capped(), _Capped()
    stats = Counter()
    bad: list[dict] = []
    context_days: set[str] = set()

    def wanted() -> Iterator[tuple]:
        for lineno, rec in lines:
            stats["read"] += 1
            if isinstance(rec, Exception):
                if not skip_bad_lines:
                    raise rec
                stats["bad"] += 1
                if len(bad) < _MAX_BAD_LISTED:
                    bad.append({"line": lineno, "error": str(rec).split(f" {lineno}: ", 1)[-1]})
                continue
            day = rec.day
            if until_d is not None and day > until_d:
                stats["after_until"] += 1
                continue
            in_period = since_d is None or day >= since_d
            if not in_period and lookback is not None and (since_d - day).days > lookback:
                stats["before_since"] += 1
                continue
            yield (in_period, rec, channels(rec.channel) or "unknown", day.isoformat())

    for batch, slims in _routed(router, _batched(wanted(), batch_size), n_jobs):
        for (in_period, rec, channel, day), slim in zip(batch, slims):
            if in_period:
                agg.add(rec, day, channel, agent_labels(rec.agent_label), slim, known)
            else:
                stats["context"] += 1
                context_days.add(day)
                agg.add_context(day, slim)
        if progress is not None:
            progress(len(batch))
    if bad:
        logger.warning("%s: skipped %d bad line(s), first at line %d", source, stats["bad"], bad[0]["line"])
    return _assemble(agg, stats, bad, source=source, model_name=model_name, since=since_d, until=until_d,
                     context_days=context_days, spike_params=spike_params, gap_params=dict(gap_params or {}),
                     random_state=random_state, n_jobs=n_jobs)


def _shares(counter: Counter, total: int) -> dict:
    return {k: round(v / total, 6) if total else 0.0 for k, v in counter.items()}


def _sorted_counts(counter: Counter) -> dict:
    return dict(sorted(counter.items(), key=lambda kv: (-kv[1], str(kv[0]))))


def _days_between(first: dt.date, last: dt.date) -> list[str]:
    return [(first + dt.timedelta(days=i)).isoformat() for i in range((last - first).days + 1)]


def _periods(agg: _Aggregator, since, until, context_days: set[str]) -> tuple[dict, dict | None, str]:
    """(current period, previous period or None, rule): each {"start", "end"} as ISO dates."""
    days = sorted(agg.by_day)
    if not days:
        return {"start": None, "end": None}, None, "no data in the period"
    first, last = dt.date.fromisoformat(days[0]), dt.date.fromisoformat(days[-1])
    if since is not None:
        end = until or last
        length = (end - since).days + 1
        prev = {"start": (since - dt.timedelta(days=length)).isoformat(), "end": (since - dt.timedelta(days=1)).isoformat()}
        rule = f"the {length} day(s) before since"
        return {"start": since.isoformat(), "end": end.isoformat()}, prev, rule
    n = (last - first).days + 1
    if n < 2:
        return {"start": first.isoformat(), "end": last.isoformat()}, None, "one day only: no comparison"
    half = n // 2
    prev = {"start": first.isoformat(), "end": (first + dt.timedelta(days=half - 1)).isoformat()}
    cur = {"start": (first + dt.timedelta(days=half)).isoformat(), "end": last.isoformat()}
    return cur, prev, f"first {half} day(s) of the log against the last {n - half}"


def _in(day: str, period: dict | None) -> bool:
    return period is not None and period["start"] is not None and period["start"] <= day <= period["end"]


def _assemble(agg: _Aggregator, stats: Counter, bad: list, *, source, model_name, since, until, context_days,
              spike_params, gap_params, random_state, n_jobs) -> Report:
    from csnlp import __version__

    n = agg.n
    days = sorted(agg.by_day)
    first = dt.date.fromisoformat(days[0]) if days else None
    last = dt.date.fromisoformat(days[-1]) if days else None
    all_days = _days_between(first, last) if days else []
    current, previous, rule = _periods(agg, since, until, context_days)

    # -- volume
    channel_order = [c for c, _ in agg.by_channel.most_common()]
    volume = {
        "total": n,
        "by_day": {d: agg.by_day.get(d, 0) for d in all_days},
        "by_channel": _sorted_counts(agg.by_channel),
        "by_day_channel": {d: {c: agg.by_day_channel[(d, c)] for c in channel_order if agg.by_day_channel[(d, c)]}
                           for d in all_days},
    }

    # -- intents and their change
    cur_counts, prev_counts = Counter(), Counter()
    for (day, intent), c in agg.daily_intent.items():
        if _in(day, current):
            cur_counts[intent] += c
        elif _in(day, previous):
            prev_counts[intent] += c
    cur_total, prev_total = sum(cur_counts.values()), sum(prev_counts.values())
    change = []
    for intent in set(cur_counts) | set(prev_counts):
        s_cur = cur_counts[intent] / cur_total if cur_total else 0.0
        s_prev = prev_counts[intent] / prev_total if prev_total else 0.0
        change.append({"intent": intent, "current": cur_counts[intent], "previous": prev_counts[intent],
                       "share_current": round(s_cur, 6), "share_previous": round(s_prev, 6),
                       "delta_pp": round(100 * (s_cur - s_prev), 3)})
    change.sort(key=lambda r: (-abs(r["delta_pp"]), r["intent"]))
    intents = {
        "counts": _sorted_counts(agg.intents),
        "shares": _shares(Counter(_sorted_counts(agg.intents)), n),
        "examples": {k: list(agg.intent_examples[k].items) for k in _sorted_counts(agg.intents)},
        "current_period": current,
        "previous_period": previous,
        "comparison_rule": rule,
        "current_total": cur_total,
        "previous_total": prev_total,
        "change": change,
    }

    # -- automation and handoffs
    def action_table(pairs: Counter, reasons: Counter, keys) -> dict:
        out = {}
        for key in keys:
            total = sum(pairs[(key, a)] for a in ("answer", "clarify", "handoff"))
            hand = {r: c for (k, r), c in reasons.items() if k == key}
            out[key] = {
                "n": total,
                "answered": pairs[(key, "answer")],
                "clarified": pairs[(key, "clarify")],
                "handed_off": pairs[(key, "handoff")],
                "automation_rate": round(pairs[(key, "answer")] / total, 6) if total else 0.0,
                "handoff_reasons": _sorted_counts(Counter(hand)),
            }
        return out

    handoff_reasons = Counter({r: c for r, c in agg.reasons.items() if _reason_action(r) == "handoff"})
    automation = {
        "rate": round(agg.actions["answer"] / n, 6) if n else 0.0,
        "actions": {a: agg.actions.get(a, 0) for a in ("answer", "clarify", "handoff")},
        "reasons": _sorted_counts(agg.reasons),
        "handoff_reasons": _sorted_counts(handoff_reasons),
        "by_intent": action_table(agg.intent_action, agg.intent_reason, list(_sorted_counts(agg.intents))),
        "by_channel": action_table(agg.channel_action, agg.channel_reason, channel_order),
    }

    # -- complaints
    complaints = {
        "available": agg.n_tagged > 0,
        "n_tagged": agg.n_tagged,
        "categories": _sorted_counts(agg.categories),
        "severity": {s: agg.severities.get(s, 0) for s in _SEVERITIES},
        "severity_by_day": {d: {s: agg.day_severity[(d, s)] for s in _SEVERITIES} for d in all_days},
        "category_by_day": {c: {d: agg.daily_category.get((d, c), 0) for d in all_days} for c in _sorted_counts(agg.categories)},
        "category_severity": {c: {s: agg.category_severity[(c, s)] for s in _SEVERITIES} for c in _sorted_counts(agg.categories)},
        "examples": {c: list(agg.category_examples[c].items) for c in _sorted_counts(agg.categories)},
    }

    # -- spikes (baselines may use the context days before since)
    spikes = []
    for kind, table in (("intent", agg.daily_intent), ("category", agg.daily_category)):
        series: dict[str, dict[str, int]] = defaultdict(dict)
        for (day, key), c in table.items():
            if key != _NONE_KEY:
                series[key][day] = c
        for key in sorted(series):
            counts = series[key]
            # every day of the log exists (zero when quiet), including context days before since
            span = sorted(set(counts) | set(days) | context_days)
            full = {d: counts.get(d, 0) for d in _days_between(dt.date.fromisoformat(span[0]), dt.date.fromisoformat(span[-1]))}
            for s in detect_spikes(full, **spike_params):
                if s.day not in agg.by_day:
                    continue
                ex = agg.spike_examples.get((kind, key, s.day))
                spikes.append({"kind": kind, "key": key} | s.to_dict() | {
                    "examples": list(ex.items) if ex else [],
                    "series": {d: full.get(d, 0) for d in _days_between(
                        dt.date.fromisoformat(s.day) - dt.timedelta(days=14), dt.date.fromisoformat(s.day) + dt.timedelta(days=3))
                        if d in full},
                })
    spikes.sort(key=lambda s: (-s["z"], s["day"], s["kind"], s["key"]))

    # -- FAQ gaps
    gap_items = list(agg.gaps.items)
    params = {"random_state": random_state} | gap_params
    clusters = cluster_gaps([g[0] for g in gap_items], background=list(agg.background.items),
                            intents=[g[1] for g in gap_items], total=agg.n_gaps, **params) if gap_items else []
    labelling, cluster_dicts = [], []
    for k, c in enumerate(clusters):
        member_days = sorted(gap_items[m][3] for m in c.members)
        cluster_dicts.append({"cluster": k} | c.to_dict() | {
            "first_day": member_days[0], "last_day": member_days[-1],
            "share_of_gaps": round(c.size / agg.n_gaps, 6) if agg.n_gaps else 0.0,
        })
        seen = set()
        for m in c.members:
            text = gap_items[m][0]
            if text in seen:
                continue
            seen.add(text)
            labelling.append({"text": text, "label": c.label, "cluster": k})
    faq_gaps = {
        "n_gap_messages": agg.n_gaps,
        "share_of_messages": round(agg.n_gaps / n, 6) if n else 0.0,
        "reasons": _sorted_counts(agg.gap_reasons),
        "n_sampled": len(gap_items),
        "n_clustered": sum(c.n_sampled for c in clusters),
        "clusters": cluster_dicts,
    }

    # -- satisfaction
    def sat(kind: str, keys) -> dict:
        return {k: {"n": agg.sat_n[(kind, k)], "mean": round(agg.sat_sum[(kind, k)] / agg.sat_n[(kind, k)], 4)}
                for k in keys if agg.sat_n[(kind, k)]}

    satisfaction = {
        "n_rated": agg.sat_n[("all", "all")],
        "mean": round(agg.sat_sum[("all", "all")] / agg.sat_n[("all", "all")], 4) if agg.sat_n[("all", "all")] else None,
        "distribution": {str(r): agg.sat_dist.get(r, 0) for r in range(1, 6)},
        "by_intent": sat("intent", list(_sorted_counts(agg.intents))),
        "by_action": sat("action", ("answer", "clarify", "handoff")),
        "resolved_rate": round(agg.resolved[True] / (agg.resolved[True] + agg.resolved[False]), 6)
        if agg.resolved[True] + agg.resolved[False] else None,
        "resolved_by_intent": {
            k: round(agg.intent_resolved[(k, True)] / (agg.intent_resolved[(k, True)] + agg.intent_resolved[(k, False)]), 4)
            for k in _sorted_counts(agg.intents) if agg.intent_resolved[(k, True)] + agg.intent_resolved[(k, False)]
        },
    }

    agent = {
        "n_labelled": agg.agent_n,
        "n_known_to_model": agg.agent_known_n,
        "agreement": round(agg.agent_agree / agg.agent_known_n, 6) if agg.agent_known_n else None,
        "confusions": [{"agent_label": a, "model_intent": m, "count": c}
                       for (a, m), c in sorted(agg.agent_pairs.items(), key=lambda kv: (-kv[1], kv[0]))[:10]],
        "unknown_to_model": [{"agent_label": a, "count": c, "examples": list(agg.agent_unknown_examples[a].items)}
                             for a, c in sorted(agg.agent_unknown.items(), key=lambda kv: (-kv[1], kv[0]))[:10]],
    }

    meta = {
        "source": source,
        "model": model_name,
        "csnlp_version": __version__,
        "since": since.isoformat() if since else None,
        "until": until.isoformat() if until else None,
        "first_day": first.isoformat() if first else None,
        "last_day": last.isoformat() if last else None,
        "n_days": len(all_days),
        "random_state": random_state,
        "n_jobs": n_jobs,
    }
    data = {
        "lines_read": stats["read"],
        "analysed": n,
        "bad": stats["bad"],
        "bad_lines": bad,
        "before_since_routed": stats["context"],
        "before_since_skipped": stats["before_since"],
        "after_until": stats["after_until"],
    }
    return Report(meta=meta, data=data, volume=volume, intents=intents, automation=automation,
                  complaints=complaints, spikes=spikes, faq_gaps=faq_gaps, satisfaction=satisfaction,
                  agent_labels=agent, labelling=labelling, method=dict(METHOD))


def _reason_action(reason: str) -> str | None:
    from csnlp.policy import REASONS

    return REASONS.get(reason, (None, ""))[0]


# -- writing ------------------------------------------------------------------------------------------------------
def write_report(report: Report, out_dir: str | os.PathLike) -> dict[str, Path]:
    """Write ``report.html``, ``report.md``, ``report.json`` and ``faq_gaps.jsonl`` into ``out_dir``.

    Returns
    -------
    dict of str to Path
        ``{"html": ..., "md": ..., "json": ..., "faq_gaps": ...}``.
    """
    from csnlp.report_html import render_html, render_markdown

    if not isinstance(report, Report):
        raise InputError(f"expected a Report from build_report, got {type(report).__name__}")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise InputError(f"{out} exists and is not a directory: choose another --out")
    out.mkdir(parents=True, exist_ok=True)
    data = report.to_dict()
    paths = {"html": out / "report.html", "md": out / "report.md", "json": out / "report.json",
             "faq_gaps": out / "faq_gaps.jsonl"}
    paths["json"].write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    paths["md"].write_text(render_markdown(data), encoding="utf-8")
    paths["html"].write_text(render_html(data), encoding="utf-8")
    with open(paths["faq_gaps"], "w", encoding="utf-8", newline="\n") as fh:
        for row in report.labelling:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    return paths
