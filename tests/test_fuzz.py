"""Fuzzing every public entry point (hypothesis): bad input must give a defined result or a readable error.

The contract checked everywhere: a call returns normally with a result of the documented type, or raises a
:class:`csnlp.CsnlpError`, ``TypeError``, ``ValueError`` or ``FileNotFoundError`` whose message is not empty and
that was not raised from inside a third-party library (scikit-learn, numpy, jieba...). ``UnicodeError`` is a
``ValueError`` but never an acceptable answer. Nothing may hang: text functions run under a hypothesis deadline,
long-running ones in a subprocess with a timeout.

Inputs that currently trigger a known bug are kept out of the broad strategies (see ``KNOWN BUG`` comments) and
pinned instead by a deterministic ``xfail(strict=True)`` test next to them: once the bug is fixed, the strict
xfail turns red, and the exclusion in the strategy should go too.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import math
import os
import subprocess
import sys
import warnings
import zipfile
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

import csnlp
from csnlp import (
    CsnlpError,
    Decision,
    IncompatibleModelError,
    IntegrityError,
    JiebaTokenizer,
    Policy,
    Prediction,
    Router,
)
from csnlp._validation import MAX_TEXT_LENGTH
from csnlp.cli import main as cli_main
from csnlp.datasets import DataWarning, iter_text_records
from csnlp.kb import KnowledgeBase
from csnlp.tag import FeedbackTagger, TagResult
from csnlp.text import MaskedText

# -- the contract ------------------------------------------------------------------------------------------------
ALLOWED = (CsnlpError, TypeError, ValueError, FileNotFoundError)
_THIRD_PARTY = ("site-packages", "dist-packages")


def _innermost_file(exc: BaseException) -> str:
    tb = exc.__traceback__
    last = None
    while tb is not None:
        last = tb
        tb = tb.tb_next
    return last.tb_frame.f_code.co_filename if last is not None else ""


def check_error(exc: BaseException, what: str) -> None:
    """``exc`` escaped ``what``: fail unless it is an allowed, readable, csnlp-raised error."""
    where = _innermost_file(exc)
    assert isinstance(exc, ALLOWED) and not isinstance(exc, UnicodeError), (
        f"{what} let {type(exc).__name__} escape: {exc!r} (raised in {where})"
    )
    assert str(exc).strip(), f"{what} raised {type(exc).__name__} without a message"
    third_party = any(part in where for part in _THIRD_PARTY) and "csnlp" not in Path(where).parts
    assert isinstance(exc, CsnlpError) or not third_party, (
        f"{what} crashed inside a library: {type(exc).__name__}: {exc} (raised in {where})"
    )


def outcome(func, *args, **kwargs):
    """(True, result) or (False, exception) after checking the exception against the contract."""
    try:
        return True, func(*args, **kwargs)
    except BaseException as exc:  # noqa: BLE001 - everything is judged by check_error
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise
        check_error(exc, getattr(func, "__qualname__", repr(func)))
        return False, exc


# -- strategies ----------------------------------------------------------------------------------------------------
SPECIAL = [
    # zero-width, bidi and other format characters; controls; BOM; line and paragraph separators
    "\u200b", "\u200c", "\u200d", "\u200e", "\u200f", "\u202a", "\u202b", "\u202c", "\u202d", "\u202e",
    "\u2066", "\u2067", "\u2068", "\u2069", "\ufeff", "\x00", "\x07", "\x1b", "\x7f", "\x85", "\u2028", "\u2029",
    # lone surrogates (a str can hold them; UTF-8 cannot encode them)
    "\ud800", "\udbff", "\udc00", "\udfff", "\udcff",
    # emoji: ZWJ families, flags, skin tones, variation selectors
    "👨\u200d👩\u200d👧\u200d👦", "🏳\ufe0f\u200d🌈", "👍🏻", "🇨🇳", "❤\ufe0f", "🧑🏽\u200d💻", "\u200d😀\u200d",
    # right-to-left text and an RTL override inside Chinese
    "مرحبا بك", "שלום", "\u202e订单已发货\u202c", "\u0627\u0644\u0637\u0644\u0628 123",
    # HTML and script fragments
    "<script>alert('x')</script>", "<img src=x onerror=alert(1)>", "</div><div>", "&lt;&amp;&#x5c0f;", "<!--", "-->",
    "javascript:alert(1)", "<PHONE>", "<ORDER_NO", "<<>>", "[微笑]", "[", "]", "[捂脸", "{order_no}", "%s%s%n",
    # values the masker looks for, and near misses
    "13812345678", "+86 138 1234 5678", "2024061512345678", "SF1234567890123", "¥199", "50块", "a@b.cn", "@.",
    "http://x.cn/a?b=1", "110101199003074578", "6222021234567890128", "12315",
    # ordinary and traditional chat, full width, characters whose case or compatibility form changes length
    "我要退货", "快递到哪了", "轉人工", "退款什么时候到", "ＡＰＰ打不開了！！！", "İ", "ß", "ﬁ", "①", "℃", "\u0301", "ǅ",
    "\t", "\n", "\r\n", " ", "\u3000",
]
any_char = st.characters(codec=None, exclude_categories=())
piece = st.one_of(st.text(any_char, max_size=12), st.sampled_from(SPECIAL))
short_text = st.lists(piece, max_size=8).map("".join)
# lengths around the documented limit (MAX_TEXT_LENGTH = 2000) with a variety of content
around_limit = st.builds(
    lambda unit, n: (unit * n)[:n],
    st.sampled_from(["我要退货", "a", "😀", "\u200b", "1", "<", "订单2024061512345678,", "[微笑]", "\ud800", "退 "]),
    st.integers(MAX_TEXT_LENGTH - 10, MAX_TEXT_LENGTH + 10),
)
texts = st.one_of(short_text, short_text, around_limit)
wrong_types = st.one_of(
    st.none(),
    st.binary(max_size=8),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    st.lists(st.integers(), max_size=2),
    st.tuples(st.integers()),
    st.just(np.float64("nan")),
    st.just(object()),
)
one_message = st.one_of(texts, texts, wrong_types)
# batches: a list/tuple/array of messages (some of them of the wrong type), a bare str, or another wrong type
batch = st.one_of(
    st.lists(texts, max_size=6),
    st.lists(texts, max_size=6).map(tuple),
    st.lists(texts, min_size=1, max_size=4).map(lambda xs: np.asarray(xs, dtype=object)),
    st.lists(st.one_of(texts, wrong_types), min_size=1, max_size=5),
    texts,
    wrong_types,
)


def _is_text_batch(X) -> bool:
    if isinstance(X, (str, bytes, bytearray, dict)) or X is None:
        return False
    if isinstance(X, np.ndarray):
        return all(isinstance(x, str) for x in X.ravel())
    return isinstance(X, (list, tuple)) and all(isinstance(x, str) for x in X)


def _as_list(X) -> list[str]:
    return list(X.ravel()) if isinstance(X, np.ndarray) else list(X)


FAST = settings(max_examples=100, deadline=timedelta(seconds=3), suppress_health_check=[HealthCheck.too_slow])
MODEL = settings(max_examples=60, deadline=timedelta(seconds=6), suppress_health_check=[HealthCheck.too_slow])

# -- models ----------------------------------------------------------------------------------------------------------
FEEDBACK = {
    "logistics": ["快递太慢了,等了一个星期", "物流信息三天没更新", "包裹扔在门口没人管", "配送太慢,说好次日达", "快递一直不派送"],
    "product_defect": ["屏幕有坏点", "开机就黑屏", "充电器用两天就坏了", "耳机一边没声音", "电池鼓包了"],
    "after_sales": ["退款申请一直没人处理", "退货寄回去十天了还没退款", "申请换货被拒绝了", "退款被驳回", "售后电话打不通"],
    "praise": ["质量很好,非常满意", "客服态度很好,谢谢", "包装精美,很喜欢", "性价比很高,会回购", "东西不错,好评"],
}
REPLIES = {
    "return_goods": {"reply": "亲，退货请在「我的订单」申请[，订单{order_no}]。", "sms": "退货请在我的订单申请"},
    "refund": {"reply": "退款1-3个工作日原路退回[{amount}元]。", "sms": "退款1-3个工作日到账"},
    "shipping": {"reply": "物流请在订单详情查看[，运单{tracking_no}]。", "sms": "物流在订单详情查看"},
    "invoice": {"reply": "发票在订单详情申请。", "sms": "发票在订单详情申请"},
    "change_address": {"reply": "未发货可改地址。", "sms": "未发货可改地址"},
    "coupon": {"reply": "优惠券在「领券中心」领取。", "sms": "领券中心领取"},
}
FAQ = [
    {"id": "return_fee", "intent": "return_goods", "answer": "质量问题运费我们出。",
     "questions": ["退货运费谁出", "退货邮费要我自己付吗", "退回去的运费谁承担"]},
]


@pytest.fixture(scope="module")
def tagger() -> FeedbackTagger:
    texts = [t for ts in FEEDBACK.values() for t in ts]
    labels = [[label] for label, ts in FEEDBACK.items() for _ in ts]
    return FeedbackTagger(threshold_folds=0, random_state=0).fit(texts, labels)


@pytest.fixture(scope="module")
def router(fitted_clf, tagger) -> Router:
    kb = KnowledgeBase.from_dict({"replies": REPLIES, "faq": FAQ})
    policy = Policy.from_dict({"human_only_intents": ["complaint"], "complaint_intents": ["complaint", "refund"]})
    r = Router(fitted_clf, kb=kb, policy=policy, tagger=tagger)
    r.route("热身")  # build the phrase matchers and load the dictionaries before any deadline applies
    return r


@pytest.fixture(scope="module")
def tokenizer() -> JiebaTokenizer:
    tok = JiebaTokenizer()
    tok.tokenize("热身")
    return tok


# -- text functions ---------------------------------------------------------------------------------------------------
@FAST
@given(one_message)
def test_normalize_fuzz(text):
    ok, result = outcome(csnlp.normalize, text)
    if isinstance(text, str):
        assert ok, f"normalize refused a str: {result!r}"
        assert isinstance(result, str)
        assert csnlp.normalize(result) == result  # a defined, stable result
        result.encode("utf-8")  # no lone surrogates left over
    else:
        assert not ok, f"normalize accepted a {type(text).__name__}"


@FAST
@given(one_message)
def test_mask_and_preprocess_fuzz(text):
    for func in (csnlp.mask, csnlp.preprocess):
        ok, result = outcome(func, text)
        if not isinstance(text, str):
            assert not ok, f"{func.__name__} accepted a {type(text).__name__}"
            continue
        assert ok, f"{func.__name__} refused a str: {result!r}"
        assert isinstance(result, MaskedText) and isinstance(result.text, str)
        source = text if func is csnlp.mask else csnlp.normalize(text)
        for e in result.entities:
            assert source[e.start : e.end] == e.value and e.kind in csnlp.text.PLACEHOLDERS


@FAST
@given(one_message)
def test_tokenize_fuzz(tokenizer, text):
    ok, result = outcome(tokenizer.tokenize, text)
    if isinstance(text, str):
        assert ok, f"tokenize refused a str: {result!r}"
        assert all(isinstance(t, str) and t for t in result)
        assert "".join(result) == text
    else:
        assert not ok


# -- intent classifier ------------------------------------------------------------------------------------------------
@MODEL
@given(batch, st.one_of(st.integers(-2, 12), st.sampled_from([None, 1.5, "3", True, 10**9])))
def test_classifier_batch_methods_fuzz(fitted_clf, X, k):
    classes = list(fitted_clf.classes_)
    valid = _is_text_batch(X)
    n = len(_as_list(X)) if valid else None
    ok, proba = outcome(fitted_clf.predict_proba, X)
    assert ok == valid, f"predict_proba on {type(X).__name__}: {proba!r}"
    if ok:
        assert proba.shape == (n, len(classes)) and np.isfinite(proba).all()
        np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-6)
    ok, pred = outcome(fitted_clf.predict, X)
    assert ok == valid
    if ok:
        assert len(pred) == n and set(pred) <= set(classes)
    ok, top = outcome(fitted_clf.top_k, X, k)
    k_valid = isinstance(k, int) and k >= 1  # True counts as 1, like everywhere in Python
    if ok:
        assert valid and k_valid and len(top) == n
        for row in top:
            assert len(row) == min(k, len(classes)) and all(label in classes for label, _ in row)
    else:
        assert not (valid and k_valid), f"top_k refused a valid call: {top!r}"


@MODEL
@given(one_message)
def test_classifier_predict_one_fuzz(fitted_clf, text):
    ok, pred = outcome(fitted_clf.predict_one, text)
    assert ok == isinstance(text, str), f"predict_one on {type(text).__name__}: {pred!r}"
    if ok:
        assert isinstance(pred, Prediction) and pred.intent in fitted_clf.classes_
        assert 0.0 <= pred.confidence <= 1.0 and math.isfinite(pred.confidence)
        assert pred.truncated == (len(text) > MAX_TEXT_LENGTH)
        json.dumps(pred.to_dict())


# -- router ----------------------------------------------------------------------------------------------------------
_previous_item = st.one_of(
    st.none(),
    st.fixed_dictionaries({}, optional={"action": st.sampled_from(["answer", "clarify", "handoff", "x"]) | st.integers(),
                                        "reason": st.sampled_from(["out_of_scope", "ambiguous", "x"]) | st.none()}),
)
# KNOWN BUG (test_route_with_malformed_previous_context): 'previous' that is not a list of decisions/dicts/None
# (a str, a dict, a list of ints or lists) crashes with AttributeError; such values are left out here.
contexts = st.one_of(
    st.none(),
    st.fixed_dictionaries(
        {},
        optional={
            "failures": st.one_of(st.integers(0, 5), st.integers(-3, -1), st.none(), st.booleans(),
                                  st.floats(allow_nan=True), st.text(max_size=2)),
            "previous": st.one_of(st.none(), st.lists(_previous_item, max_size=4)),
            "tier": st.one_of(st.none(), texts, st.sampled_from(["vip", "SVIP", "normal"]), st.integers()),
            "channel": st.one_of(st.none(), texts, st.sampled_from(["sms", "app", "wechat"]), st.integers()),
            "extra": st.integers(),
        },
    ),
    wrong_types.filter(lambda v: v is not None),
)


def _context_ok(ctx) -> bool:
    if ctx is None:
        return True
    if not isinstance(ctx, dict):
        return False
    f = ctx.get("failures")
    return f is None or (isinstance(f, int) and not isinstance(f, bool) and f >= 0)


def _check_decision(d, text: str, router: Router) -> None:
    assert isinstance(d, Decision)
    assert d.action in ("answer", "clarify", "handoff")
    assert d.reason in csnlp.policy.REASONS and csnlp.policy.REASONS[d.reason][0] == d.action
    assert d.priority in csnlp.policy.PRIORITIES
    assert d.intent is None or d.intent in router.classes_
    assert 0.0 <= d.confidence <= 1.0
    assert d.truncated == (len(text) > MAX_TEXT_LENGTH)
    json.dumps(d.to_dict(), ensure_ascii=False).encode("utf-8")
    json.dumps(d.to_dict(include_entity_values=False), ensure_ascii=False)


@MODEL
@given(one_message, contexts)
def test_route_fuzz(router, text, ctx):
    ok, d = outcome(router.route, text, ctx)
    assert ok == (isinstance(text, str) and _context_ok(ctx)), f"route({type(text).__name__}, {ctx!r}): {d!r}"
    if ok:
        _check_decision(d, text, router)


@MODEL
@given(batch, st.one_of(st.none(), st.lists(contexts, max_size=6), contexts))
def test_route_many_fuzz(router, X, ctxs):
    ok, decisions = outcome(router.route_many, X, ctxs)
    valid = _is_text_batch(X)
    if valid:
        n = len(_as_list(X))
        valid = ctxs is None or (isinstance(ctxs, list) and len(ctxs) == n and all(map(_context_ok, ctxs)))
    assert ok == valid, f"route_many({X!r:.80}, {ctxs!r:.80}): {decisions!r}"
    if ok:
        assert len(decisions) == len(_as_list(X))
        for d, t in zip(decisions, _as_list(X)):
            _check_decision(d, t, router)


@pytest.mark.parametrize("previous", ["abc", {"action": "clarify"}, [1, 2], [["clarify"]]],
                         ids=["str", "dict", "ints", "lists"])
def test_route_with_malformed_previous_context(router, previous):
    with pytest.raises(csnlp.InputError, match="previous"):
        router.route("还是不行", {"previous": previous})


# -- feedback tagger ----------------------------------------------------------------------------------------------------
@MODEL
@given(batch, st.one_of(st.integers(-1, 5), st.sampled_from([None, 1.5, True])))
def test_tag_fuzz(tagger, X, n_evidence):
    ok, results = outcome(tagger.tag, X, n_evidence=n_evidence)
    n_ok = isinstance(n_evidence, int) and not isinstance(n_evidence, bool) and n_evidence >= 0
    assert ok == (_is_text_batch(X) and n_ok), f"tag({X!r:.80}, n_evidence={n_evidence!r}): {results!r}"
    if ok:
        assert len(results) == len(_as_list(X))
        for r, t in zip(results, _as_list(X)):
            assert isinstance(r, TagResult) and set(r.categories) <= set(tagger.classes_)
            assert r.severity in ("low", "medium", "high", "critical")
            assert r.sentiment in ("negative", "neutral", "positive")
            assert r.truncated == (len(t) > MAX_TEXT_LENGTH)
            assert all(0.0 <= s <= 1.0 for s in r.scores.values())
            json.dumps(r.to_dict(), ensure_ascii=False)


# -- very long texts (1 MB): a handful, each entry point once ---------------------------------------------------------------
MB = 1_000_000


def _fill(unit: str, n: int) -> str:
    return (unit * (n // len(unit) + 1))[:n]


LONG = {
    "chinese": _fill("我要退货，快递到哪了？", MB),
    "emoji_zwj": _fill("👨\u200d👩\u200d👧\u200d👦🇨🇳👍🏻", MB),
    "html_rtl": _fill("<script>alert('退款')</script>\u202eمرحبا\u202c[微笑]", MB),
    "invisible": _fill("\u200b\ufeff\x00\ud800退", MB),
}


@pytest.mark.parametrize("name", sorted(LONG))
def test_one_megabyte_texts(name, fitted_clf, router, tagger, tokenizer):
    text = LONG[name]
    assert len(text) == MB
    assert isinstance(csnlp.normalize(text), str)
    assert isinstance(csnlp.preprocess(text).text, str)
    pred = fitted_clf.predict_one(text)
    assert pred.truncated and pred.intent in fitted_clf.classes_
    assert fitted_clf.predictions([text, "我要退货"])[0].truncated
    assert not fitted_clf.predictions([text, "我要退货"])[1].truncated
    proba = fitted_clf.predict_proba([text])
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    decision = router.route(text)
    assert decision.truncated and len(decision.masked_text) <= MAX_TEXT_LENGTH
    assert [d.truncated for d in router.route_many([text, "快递到哪了"])] == [True, False]
    assert [r.truncated for r in tagger.tag([text, "快递太慢"])] == [True, False]
    tokens = tokenizer.tokenize(text[: MB // 4] if name == "chinese" else text)  # jieba: ~8 s per MB of Chinese
    assert "".join(tokens) == (text[: MB // 4] if name == "chinese" else text)


def _run_python(code: str, timeout: float) -> subprocess.CompletedProcess | None:
    """Run ``code`` in a fresh interpreter; None when it did not finish within ``timeout`` seconds."""
    try:
        return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout,
                              env=os.environ.copy())
    except subprocess.TimeoutExpired:
        return None


def test_mask_of_one_megabyte_finishes():
    # normalize() of 1 MB takes well under a second; mask() must stay in the same league (linear time). One
    # interpreter for all four texts.
    units = ["1", "13812345678 ", ".", "¥1 "]
    code = f"import csnlp\nfor u in {units!r}:\n    csnlp.mask((u * {MB})[:{MB}])\nprint('done')"
    done = _run_python(code, timeout=15)
    assert done is not None, "csnlp.mask of 4 x 1 MB did not finish in 15 s"
    assert done.returncode == 0 and "done" in done.stdout, done.stderr


# -- data files ----------------------------------------------------------------------------------------------------------------
# KNOWN BUG (test_explicit_utf16_without_bom): encoding="utf-16" on a file without a BOM lets UnicodeError escape.
ENCODINGS = [None, None, "utf-8", "utf-8-sig", "gbk", "gb18030", "latin-1", "utf-16-le", "no-such-codec"]
safe_text = st.text(st.characters(codec="utf-8", exclude_characters="\r\n\x85\u2028\u2029\x0b\x0c\x1c\x1d\x1e"),
                    max_size=12)
label = st.one_of(st.sampled_from(["退货", "refund", "shipping", " ", ""]), safe_text)
record = st.fixed_dictionaries(
    {},
    optional={"text": st.one_of(safe_text, st.integers(), st.none(), st.lists(safe_text, max_size=2)),
              "label": st.one_of(label, st.integers(), st.none(), st.floats(), st.dictionaries(safe_text, st.integers(), max_size=1)),
              "labels": st.one_of(st.lists(label, max_size=3), label, st.integers()),
              "id": st.integers()},
)
jsonl_line = st.one_of(
    record.map(lambda r: json.dumps(r, ensure_ascii=False)),
    record.map(json.dumps),
    st.sampled_from(["", "   ", "{", "[1, 2]", "null", '{"text": "a", "label": NaN}', '{"text": "a"', "\ufeff{}", "🙂"]),
    safe_text,
)
csv_line = st.one_of(
    st.lists(st.one_of(safe_text, st.sampled_from(["退货", "a,b", "'x'", "\t"])), min_size=0, max_size=4).map(
        lambda cells: ",".join(cells)),
    st.sampled_from(["text,label", "label,text", "内容,意图", "text", ",,,", ""]),
)


@st.composite
def data_file(draw):
    fmt = draw(st.sampled_from(["jsonl", "csv", "tsv", "yml", "txt"]))
    kind = draw(st.sampled_from(["structured", "structured", "garbage"]))
    if kind == "garbage":
        return fmt, draw(st.binary(max_size=300))
    if fmt == "yml":
        body = draw(st.sampled_from(["nlu:\n- intent: a\n  examples: |\n    - 我要退货\n    - 退货\n",
                                     "nlu: 5\n", "nlu:\n- intent: a\n  examples: 5\n", "- a\n- b\n", "a: [1\n",
                                     "nlu:\n- synonym: x\n  examples: |\n    - y\n", ""]))
    else:
        lines = draw(st.lists(jsonl_line if fmt in ("jsonl", "txt") else csv_line, max_size=8))
        if fmt != "jsonl" and draw(st.booleans()):
            lines = [draw(st.sampled_from(["text,label", "text\tlabel", "内容,标签"]))] + lines
        if fmt == "tsv":
            lines = [line.replace(",", "\t") for line in lines]
        body = draw(st.sampled_from(["\n", "\r\n"])).join(lines)
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "gbk", "gb18030", "utf-16"]))
    return fmt, body.encode(encoding, errors="replace")


def _decodes(data: bytes, encoding: str | None) -> bool:
    candidates = [encoding] if encoding else ["utf-8-sig", "gb18030"]
    for enc in candidates:
        try:
            data.decode(enc)
            return True
        except LookupError:
            return True  # an unknown codec is refused before anything is decoded
        except UnicodeError:
            continue
    return False


def test_undecodable_rasa_file(tmp_path):
    path = tmp_path / "nlu.yml"
    path.write_bytes("nlu:\n- intent: 退货\n  examples: |\n    - 我要退货\n    - 怎么退\n".encode("gbk"))
    with pytest.raises(csnlp.DataFormatError, match="nlu.yml"):
        csnlp.load_dataset(path, encoding="utf-8")


@settings(max_examples=60, deadline=timedelta(seconds=5))
@given(data_file(), st.sampled_from(ENCODINGS), st.booleans(), st.sampled_from([None, True, False]),
       st.sampled_from([None, None, "jsonl", "csv", "tsv", "rasa", "xml"]))
def test_load_dataset_fuzz(tmp_path_factory, file, encoding, skip, multi_label, fmt):
    suffix, data = file
    # KNOWN BUG (test_undecodable_rasa_file): a Rasa file that does not decode lets UnicodeDecodeError escape
    if fmt == "rasa" or (fmt is None and suffix == "yml"):
        assume(_decodes(data, encoding))
    path = tmp_path_factory.mktemp("data") / f"train.{suffix}"
    path.write_bytes(data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        ok, ds = outcome(csnlp.load_dataset, path, format=fmt, encoding=encoding, skip_bad_lines=skip,
                         multi_label=multi_label)
    if ok:
        assert len(ds.texts) == len(ds.labels) > 0
        assert all(isinstance(t, str) and t.strip() for t in ds.texts)
        for value in ds.labels:
            items = value if isinstance(value, list) else [value]
            assert all(isinstance(v, str) and v.strip() for v in items)
        if not skip:
            assert ds.bad_lines == []
        assert all(isinstance(n, int) and n >= 1 and msg for n, msg in ds.bad_lines)


def test_explicit_utf16_without_bom(tmp_path):
    path = tmp_path / "train.jsonl"
    path.write_bytes('{"text": "我要退货", "label": "a"}\n'.encode("utf-16-le"))
    with pytest.raises(csnlp.DataFormatError, match="utf-16"):
        csnlp.load_dataset(path, encoding="utf-16")


@settings(max_examples=60, deadline=timedelta(seconds=5))
@given(st.lists(jsonl_line, max_size=12), st.sampled_from(["\n", "\r\n"]))
def test_load_dataset_never_drops_jsonl_lines_silently(tmp_path_factory, lines, newline):
    # every non-blank line is either kept or reported, with its own line number
    path = tmp_path_factory.mktemp("data") / "train.jsonl"
    path.write_bytes(newline.join(lines).encode("utf-8"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        ok, ds = outcome(csnlp.load_dataset, path, skip_bad_lines=True)
    # blank lines are skipped, like the reader does (a BOM is stripped from the first line only)
    non_blank = [i for i, line in enumerate(lines, 1) if (line.lstrip("\ufeff") if i == 1 else line).strip()]
    if ok:
        assert len(ds) + len(ds.bad_lines) == len(non_blank), (len(ds), ds.bad_lines, non_blank)
        assert {n for n, _ in ds.bad_lines} <= set(non_blank)
    else:
        assert isinstance(ds, csnlp.DataFormatError)


@FAST
@given(st.lists(st.one_of(texts, jsonl_line, st.sampled_from(['{"text": 5}', '{"text": "a", "id": [1]}', "{}"])),
                max_size=10))
def test_iter_text_records_fuzz(lines):
    ok, records = outcome(lambda: list(iter_text_records(lines, "fuzz")))
    assert ok, records
    numbers = [n for n, _ in records]
    assert numbers == sorted(set(numbers))
    assert len(records) == sum(1 for line in lines if line.rstrip("\r\n").strip())
    for n, rec in records:
        if isinstance(rec, Exception):
            assert isinstance(rec, csnlp.DataFormatError) and f"line {n}" in str(rec)
        else:
            assert isinstance(rec, dict) and isinstance(rec["text"], str)


def _deep_json(depth: int = 100_000) -> str:
    return '{"text": "a", "x": ' + "[" * depth + "]" * depth + "}"


def test_deeply_nested_json_line_is_a_bad_line(tmp_path):
    line = _deep_json()
    records = list(iter_text_records([line, '{"text": "ok"}'], "fuzz"))
    assert isinstance(records[0][1], csnlp.DataFormatError) and records[1][1] == {"text": "ok"}
    path = tmp_path / "train.jsonl"
    path.write_text('{"text": "我要退货", "label": "a"}\n' + line + '\n{"text": "退款", "label": "b"}\n',
                    encoding="utf-8")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        ds = csnlp.load_dataset(path, skip_bad_lines=True)
    assert len(ds) == 2 and [n for n, _ in ds.bad_lines] == [2]


# -- model bundles -------------------------------------------------------------------------------------------------------------
MEMBERS = ("manifest.json", "model.json", "arrays.npz")
PROBE = ["我要退货", "", "订单2024061512345678", "\ud800<script>"]


class _Members(dict):
    """Bundle members by name; a short repr keeps hypothesis reports readable."""

    def __repr__(self) -> str:
        return f"<bundle members {sorted(self)}>"


@pytest.fixture(scope="module")
def good_members(fitted_clf, tmp_path_factory) -> _Members:
    path = csnlp.save(fitted_clf, tmp_path_factory.mktemp("bundle") / "m")
    return _Members({name: (path / name).read_bytes() for name in MEMBERS})


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=5)),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)
# byte-level damage. KNOWN BUGS kept out here: semantic edits with recomputed checksums and edited manifest fields
# (test_hardening.py::test_edited_bundle_is_refused_with_integrity_error), and bit flips inside the zip container
# (same test, zip cases): both let KeyError, AttributeError, zlib.error... escape.
mutation = st.one_of(
    st.tuples(st.just("drop"), st.sampled_from(MEMBERS)),
    st.tuples(st.just("truncate"), st.sampled_from(MEMBERS), st.floats(0, 0.999)),
    st.tuples(st.just("flip"), st.sampled_from(MEMBERS[1:]), st.floats(0, 0.999), st.integers(0, 7)),
    st.tuples(st.just("replace"), st.sampled_from(MEMBERS), st.binary(max_size=64)),
    st.tuples(st.just("json"), st.sampled_from(MEMBERS), json_values),
    st.tuples(st.just("extra"), st.sampled_from(["x.json", "model.pkl", "manifest.json.bak"]), st.binary(max_size=16)),
)


def _mutate(original: dict[str, bytes], mutations) -> tuple[dict[str, bytes], bool]:
    """Apply the mutations; also say whether a bundle member ended up different (two flips can cancel out)."""
    members = dict(original)
    for m in mutations:
        kind, name = m[0], m[1]
        if kind == "extra":
            members[name] = m[2]
            continue
        if name not in members:
            continue
        data = members[name]
        if kind == "drop":
            del members[name]
        elif kind == "truncate":
            members[name] = data[: int(len(data) * m[2])]
        elif kind == "flip" and data:
            pos = int(len(data) * m[2])
            members[name] = data[:pos] + bytes([data[pos] ^ (1 << m[3])]) + data[pos + 1 :]
        elif kind == "replace":
            members[name] = m[2]
        elif kind == "json":
            members[name] = json.dumps(m[2]).encode("utf-8")
    damaged = any(members.get(name) != original[name] for name in MEMBERS)
    return members, damaged


@settings(max_examples=40, deadline=timedelta(seconds=10))
@given(st.lists(mutation, min_size=1, max_size=3), st.booleans())
def test_load_damaged_bundles_fuzz(good_members, tmp_path_factory, mutations, as_zip):
    members, damaged = _mutate(good_members, mutations)
    root = tmp_path_factory.mktemp("damaged")
    if as_zip:
        path = root / "m.zip"
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
            for name, data in members.items():
                zf.writestr(name, data)
    else:
        path = root / "m"
        path.mkdir()
        for name, data in members.items():
            (path / name).write_bytes(data)
    ok, model = outcome(csnlp.load, path)
    if damaged:
        assert not ok, f"a damaged bundle loaded: {mutations!r}"
        assert isinstance(model, (IntegrityError, IncompatibleModelError)), repr(model)
    else:
        assert ok, f"an intact bundle (extra files only) was refused: {model!r}"
        np.testing.assert_allclose(model.predict_proba(PROBE).sum(axis=1), 1.0)


@settings(max_examples=30, deadline=timedelta(seconds=5))
@given(st.binary(max_size=400), st.sampled_from(["m.zip", "m", "m.json", "m.npz"]), st.booleans())
def test_load_garbage_paths_fuzz(tmp_path_factory, data, name, as_dir):
    root = tmp_path_factory.mktemp("garbage")
    path = root / name
    if as_dir:
        path.mkdir()
        (path / "manifest.json").write_bytes(data)
    else:
        path.write_bytes(data)
    ok, model = outcome(csnlp.load, path)
    assert not ok and isinstance(model, (IntegrityError, IncompatibleModelError)), repr(model)


@pytest.mark.parametrize("bad", [None, 5, b"model", ["m"], {"path": "m"}])
def test_load_wrong_argument_types(bad):
    ok, exc = outcome(csnlp.load, bad)
    assert not ok and isinstance(exc, TypeError)


def test_load_missing_and_empty_paths(tmp_path):
    with pytest.raises(FileNotFoundError, match="no model bundle"):
        csnlp.load(tmp_path / "missing.zip")
    (tmp_path / "empty").mkdir()
    with pytest.raises(IntegrityError, match="manifest.json is missing"):
        csnlp.load(tmp_path / "empty")


# -- the command line ----------------------------------------------------------------------------------------------------------
@contextlib.contextmanager
def _std_streams(stdin: bytes):
    """Real-looking std streams: strict UTF-8 text wrappers over bytes, as a pipe or terminal would give.

    Yields a dict that holds "out" and "err" (bytes) once the block is left.
    """
    saved = sys.stdin, sys.stdout, sys.stderr
    out, err = io.BytesIO(), io.BytesIO()
    wrappers = (
        io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8"),
        io.TextIOWrapper(out, encoding="utf-8", write_through=True),
        io.TextIOWrapper(err, encoding="utf-8", errors="backslashreplace", write_through=True),
    )
    sys.stdin, sys.stdout, sys.stderr = wrappers
    root = logging.getLogger("csnlp")
    level = root.level
    captured: dict[str, bytes] = {}
    try:
        yield captured
    finally:
        sys.stdin, sys.stdout, sys.stderr = saved
        for w in wrappers[1:]:
            with contextlib.suppress(ValueError):
                w.flush()
        captured["out"], captured["err"] = out.getvalue(), err.getvalue()
        for w in wrappers:
            with contextlib.suppress(ValueError):
                w.detach()  # so that garbage collection does not close the buffers under a later reader
        root.handlers = [h for h in root.handlers if not getattr(h, "_csnlp_cli", False)]  # cli.main's handler
        root.setLevel(level)


def run_cli(argv: list[str], stdin: bytes = b"") -> tuple[int, str, str]:
    """Run ``csnlp.cli.main`` in-process; (exit code, stdout, stderr). Fails the test on any escaping exception."""
    with _std_streams(stdin) as captured:
        try:
            rc = cli_main(argv)
        except SystemExit as exc:  # argparse: --help, --version, usage errors
            rc = exc.code if isinstance(exc.code, int) else 2
            assert rc in (0, 2), f"csnlp {argv!r:.200}: SystemExit({exc.code!r})"
        except BaseException as exc:  # noqa: BLE001
            pytest.fail(f"csnlp {argv!r:.200} let {type(exc).__name__} escape: {exc!s:.300}")
    return rc, captured["out"].decode("utf-8", "replace"), captured["err"].decode("utf-8", "replace")


@pytest.fixture(scope="module")
def cli_files(fitted_clf, tagger, router, tmp_path_factory, intent_texts, intent_labels):
    root = tmp_path_factory.mktemp("cli")
    paths = {
        "intent": csnlp.save(fitted_clf, root / "intent"),
        "tagger": csnlp.save(tagger, root / "tagger.zip"),
        "router": csnlp.save(router, root / "router"),
        "garbage": root / "garbage.bin",
        "missing": root / "missing",
        "dir": root / "emptydir",
        "train": root / "train.jsonl",
        "train_gbk": root / "train.csv",
        "feedback": root / "feedback.jsonl",
        "policy": root / "policy.json",
        "config": root / "config.json",
        "messages": root / "messages.txt",
    }
    paths["garbage"].write_bytes(bytes(range(256)) * 2)
    paths["dir"].mkdir()
    pairs = list(zip(intent_texts, intent_labels))[::3]
    paths["train"].write_text("".join(json.dumps({"text": t, "label": l}, ensure_ascii=False) + "\n"
                                      for t, l in pairs), encoding="utf-8")
    paths["train_gbk"].write_bytes(("text,label\r\n" + "".join(f"{t.replace(',', '，')},{l}\r\n" for t, l in pairs))
                                   .encode("gb18030"))
    paths["feedback"].write_text("".join(json.dumps({"text": t, "labels": [l]}, ensure_ascii=False) + "\n"
                                         for l, ts in FEEDBACK.items() for t in ts), encoding="utf-8")
    paths["policy"].write_text(json.dumps({"threshold": 0.3}), encoding="utf-8")
    paths["config"].write_text(json.dumps({"calibration_folds": 0}), encoding="utf-8")
    paths["messages"].write_text("我要退货\n快递到哪了\n", encoding="utf-8")
    return {k: str(v) for k, v in paths.items()}


# argv text from a shell has no lone surrogates except surrogate-escaped bytes (\udc80-\udcff).
# KNOWN BUG (test_stream_commands_with_lone_surrogates): `csnlp predict` echoes texts with lone surrogates and
# crashes writing them; surrogates are left out of CLI texts here.
cli_text = st.lists(st.one_of(st.text(st.characters(codec="utf-8"), max_size=10),
                              st.sampled_from([s for s in SPECIAL if s.encode("utf-8", "ignore").decode() == s])),
                    max_size=4).map("".join)
stdin_line = st.one_of(
    cli_text,
    st.builds(lambda t, i, ctx: json.dumps({"text": t, "id": i} | ctx, ensure_ascii=False), cli_text,
              st.one_of(st.integers(), cli_text),
              st.fixed_dictionaries({}, optional={"failures": st.integers(-1, 3), "tier": st.sampled_from(["vip", "x"]),
                                                  "channel": st.sampled_from(["sms", "app"]),
                                                  "previous": st.lists(st.fixed_dictionaries(
                                                      {"action": st.sampled_from(["clarify", "answer"])}), max_size=2)})),
    st.sampled_from(['{"text": 5}', "{", '{"id": 1}', "[]", "   "]),
)
stdin_bytes = st.one_of(
    st.lists(stdin_line, max_size=6).map(lambda lines: "\n".join(lines).encode("utf-8")),
    st.binary(max_size=60),
    st.lists(stdin_line, max_size=3).map(lambda lines: "\r\n".join(lines).encode("gbk", errors="replace")),
)


@st.composite
def cli_argv(draw, files):
    pick = lambda *keys: files[draw(st.sampled_from(keys))]  # noqa: E731
    command = draw(st.sampled_from(["predict", "route", "tag", "evaluate", "train", "chat", "demo", "tune", "other"]))
    argv = ["-v"] if draw(st.booleans()) else []
    # KNOWN BUG (test_cli_model_of_the_wrong_kind): a bundle of the wrong kind gives AttributeError: each command
    # gets a bundle of the kind it reads (or garbage / missing / a directory).
    bad_model = ("garbage", "missing", "dir", "train")
    # KNOWN BUG (test_cli_unknown_encoding_for_stream_input): an unknown --encoding crashes the stream commands.
    stream_enc = st.sampled_from(["utf-8", "gbk", "gb18030", "utf-8-sig", "latin-1"])
    if command == "predict":
        argv += ["predict", "--model", pick("intent", "router", "intent", *bad_model)]
        argv += draw(st.sampled_from([[], ["--top", draw(st.sampled_from(["1", "3", "0", "-1", "x", "99"]))]]))
    elif command == "route":
        argv += ["route", "--model", pick("intent", "router", "router", *bad_model)]
        argv += draw(st.sampled_from([[], ["--channel", "sms"], ["--policy", pick("policy", "garbage", "missing")],
                                      ["--kb", pick("dir", "missing")]]))
    elif command == "tag":
        argv += ["tag", "--model", pick("tagger", "router", "tagger", *bad_model)]
    elif command == "chat":
        argv += ["chat", "--model", pick("router", "intent", *bad_model), "--tier", draw(cli_text)]
    elif command == "demo":
        argv += ["demo", "--model", pick("router", "intent", *bad_model)]
    elif command == "evaluate":
        task = draw(st.sampled_from(["intent", "tag"]))
        model = pick("intent", "router") if task == "intent" else pick("tagger", "router")
        data = pick("train", "train_gbk", "garbage", "missing") if task == "intent" else pick("feedback", "garbage")
        argv += ["evaluate", "--task", task, "--model", draw(st.sampled_from([model, model, files["missing"]])),
                 "--data", data]
    elif command == "train":
        # KNOWN BUG (test_cli_train_with_a_negative_seed): a negative --seed escapes from scikit-learn.
        argv += ["train", "--data", pick("train", "train_gbk", "garbage", "missing", "dir"),
                 "--out", files["missing"] + "-out" + str(draw(st.integers(0, 3))), "--overwrite",
                 "--config", pick("config", "config", "garbage", "missing")]
        argv += draw(st.sampled_from([[], ["--seed", "3"], ["--seed", "x"], ["--encoding", "gbk"],
                                      ["--encoding", "no-such"], ["--format", "csv"]]))
    elif command == "tune":
        # KNOWN BUG (test_cli_tune_with_more_folds_than_texts): --cv larger than the data escapes from sklearn.
        argv += ["tune", "--model", pick("intent", "garbage", "missing"), "--data", pick("train", "garbage"),
                 "--out", files["missing"] + "-tuned", "--target-precision",
                 draw(st.sampled_from(["0.9", "2", "nan", "-1", "x"]))]
        argv += draw(st.sampled_from([[], ["--cv", "2"], ["--cv", "1"], ["--cv", "0"]]))
    else:
        argv += draw(st.sampled_from([[], ["--version"], ["--help"], ["nope"], ["predict", "--top"], ["route", "--help"],
                                      ["train"], ["--verbose", "--verbose"], ["-x"]]))
    if command in ("predict", "route", "tag"):
        argv += draw(st.sampled_from([[], [], ["--skip-bad-lines"], ["--batch-size", "1"], ["--batch-size", "0"],
                                      ["--input", pick("messages", "missing", "dir", "garbage")]]))
        argv += draw(st.sampled_from([[], ["--encoding", draw(stream_enc)]]))
        argv += draw(st.lists(cli_text, max_size=2))
    return argv


@settings(max_examples=60, deadline=timedelta(seconds=30), suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_cli_main_fuzz(cli_files, data):
    argv = data.draw(cli_argv(cli_files), label="argv")
    stdin = data.draw(stdin_bytes, label="stdin")
    rc, out, err = run_cli(argv, stdin)
    event(f"{next((a for a in argv if not a.startswith('-')), '-')} exit {rc}")
    assert rc in (0, 1, 2), rc
    if rc == 1:
        assert "error" in err.lower(), err
    if rc == 0 and out and argv and argv[-1] not in ("--help", "--version"):
        for line in out.split("\n"):  # JSON lines end in \n; U+0085 or U+2028 inside a string are not breaks
            if line.startswith("{"):
                json.loads(line)


@pytest.mark.parametrize("line", ['{"text": "退货\\ud800"}', '{"text": "退货", "id": "\\udfff"}'],
                         ids=["text", "id"])
def test_stream_commands_with_lone_surrogates(cli_files, line):
    rc, out, err = run_cli(["predict", "--model", cli_files["intent"]], line.encode("utf-8") + b"\n")
    assert rc == 0 and len(out.strip("\n").split("\n")) == 1, err


def test_cli_unknown_encoding_for_stream_input(cli_files):
    rc, out, err = run_cli(["predict", "--model", cli_files["intent"], "--encoding", "no-such-codec"], b"x\n")
    assert rc == 1 and "no-such-codec" in err


def test_cli_deeply_nested_json_line(cli_files):
    rc, out, err = run_cli(["predict", "--model", cli_files["intent"], "--skip-bad-lines"],
                           (_deep_json() + "\n我要退货\n").encode("utf-8"))
    assert rc == 0 and len(out.strip("\n").split("\n")) == 2


@pytest.mark.parametrize("command,model", [("tag", "intent"), ("predict", "tagger"), ("evaluate-tag", "intent")])
def test_cli_model_of_the_wrong_kind(cli_files, command, model):
    if command == "evaluate-tag":
        argv = ["evaluate", "--task", "tag", "--model", cli_files[model], "--data", cli_files["feedback"]]
    else:
        argv = [command, "--model", cli_files[model], "我要退货"]
    rc, out, err = run_cli(argv)
    assert rc == 1 and "error" in err


def test_cli_evaluate_intents_with_a_tagger_bundle(cli_files):
    rc, out, err = run_cli(["evaluate", "--model", cli_files["tagger"], "--data", cli_files["train"]])
    assert rc == 1 and "tagger" in err.lower()


def test_cli_train_with_a_negative_seed(cli_files, tmp_path):
    rc, out, err = run_cli(["train", "--data", cli_files["train"], "--out", str(tmp_path / "m"), "--seed", "-5"])
    assert rc in (1, 2) and "seed" in err


def test_cli_tune_with_more_folds_than_texts(cli_files, tmp_path):
    rc, out, err = run_cli(["tune", "--model", cli_files["intent"], "--data", cli_files["train"],
                            "--cv", "1000", "--out", str(tmp_path / "t")])
    assert rc == 1 and "cv" in err


def test_cli_route_with_malformed_previous(cli_files):
    rc, out, err = run_cli(["route", "--model", cli_files["router"]], b'{"text": "a", "previous": "abc"}\n')
    assert rc == 1 and "previous" in err


# -- tokenizer construction --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("freq", [float("inf"), -5], ids=["inf", "negative"])
def test_user_word_with_a_bad_frequency(freq):
    with pytest.raises(csnlp.InputError, match="freq"):
        JiebaTokenizer(user_words=[("运费险", freq)]).tokenize("运费险怎么赔")
