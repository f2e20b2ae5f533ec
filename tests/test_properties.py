"""Properties that must hold for every input (hypothesis): text, tokenizer, intent classifier."""

from __future__ import annotations

import re
import unicodedata

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from csnlp import JiebaTokenizer, mask, normalize, preprocess

# -- strategies -------------------------------------------------------------------------------------------------------
TRICKY = list(
    "！？。，、～…·：；（）【】「」《》\u3000"  # full-width and CJK punctuation
    "\u200b\u200c\u200d\u200e\u200f\u202e\u2066\ufeff\x00\x07\x1b\x7f\x85\u2028"  # invisible and control
    "\ud800\udbff\udc00\udfff"  # lone surrogates
    "😀😢👍🏻🇨🇳\U0001F468\u200d\U0001F469\u200d\U0001F467"  # emoji, modifiers, flags, ZWJ sequences
    "ＡＢＣａｂｃ１２３＠．"  # full-width letters and digits
    "這個訂單發貨樂乾後髮臺麼們說話"  # traditional characters
    "İıẞßﬁ℃㎏①Ⅻ½"  # characters whose case or compatibility forms change length
    "<>[]_PHONE微笑"  # pieces of placeholders and WeChat codes
)
any_char = st.one_of(st.characters(codec=None, exclude_categories=()), st.sampled_from(TRICKY))
any_text = st.text(any_char, max_size=60)

CHAT = list("我要退货款快递到哪了发票地址改人工投诉优惠券怎么还没的吗呢啊好谢谢，。！？ ~") + [
    "<PHONE>",
    "<ORDER_NO>",
    "[微笑]",
    "[捂脸]",
    "😀",
    "👍🏻",
    "ＡＰＰ",
    "訂單",
    "13812345678",
    "¥199",
    "\u200b",
]
chat_text = st.lists(st.sampled_from(CHAT), max_size=12).map("".join)
message = st.one_of(chat_text, any_text)


def luhn_complete(body: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(body + "0")):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return body + str((10 - total % 10) % 10)


def digits(n: int):
    return st.text("0123456789", min_size=n, max_size=n)


mobiles = st.builds(
    lambda cc, second, a, b, sep: f"{cc}1{second}{a[0]}{sep}{a[1:]}{sep}{b}",
    st.sampled_from(["", "+86", "+86 ", "86-"]),
    st.sampled_from("3456789"),
    digits(5),
    digits(4),
    st.sampled_from(["", " ", "-"]),
)


@st.composite
def id_cards(draw):
    region = draw(st.sampled_from("123456789")) + draw(digits(5))
    year, month, day = draw(st.integers(1900, 2024)), draw(st.integers(1, 12)), draw(st.integers(1, 28))
    return f"{region}{year}{month:02d}{day:02d}{draw(digits(3))}{draw(st.sampled_from('0123456789Xx'))}"


@st.composite
def bank_cards(draw):
    n = draw(st.integers(16, 19))
    card = luhn_complete(draw(st.sampled_from("3456")) + draw(digits(n - 2)))
    if n == 16 and draw(st.booleans()):
        card = " ".join(card[i : i + 4] for i in range(0, 16, 4))
    return card


_label = st.text("abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=10).filter(
    lambda s: s[0] != "-" and s[-1] != "-"
)
emails = st.builds(
    lambda local, domain, tld: f"{local}@{domain}.{tld}",
    st.text("abcdefghijklmnopqrstuvwxyzABCXYZ0123456789._%+-", min_size=1, max_size=16),
    _label,
    st.sampled_from(["com", "cn", "com.cn", "net", "org", "edu.cn"]),
)
private_values = st.one_of(
    mobiles.map(lambda v: ("phone", v)),
    id_cards().map(lambda v: ("id_card", v)),
    bank_cards().map(lambda v: ("bank_card", v)),
    emails.map(lambda v: ("email", v)),
)
# what a person writes around a number or an address: words and punctuation, no letters or digits glued on
context = st.text(st.sampled_from(list("我的电话号码是请联系邮箱卡号身份证退款谢谢你好，。！？：:; 、（）\n")), max_size=10)

_COLLAPSED = re.compile(r"([!?,.;:~。、…·])\1")


# -- text ---------------------------------------------------------------------------------------------------------------------
@settings(max_examples=300)
@given(any_text)
def test_normalize_never_raises_and_is_idempotent(text):
    once = normalize(text)
    assert isinstance(once, str)
    assert normalize(once) == once


@settings(max_examples=300)
@given(any_text)
def test_normalize_output_is_clean(text):
    out = normalize(text)
    assert out == out.strip()
    assert "  " not in out
    assert not re.search(r"\s", out.replace(" ", ""))  # the only white space left is single spaces
    assert not _COLLAPSED.search(out)
    for ch in out:
        category = unicodedata.category(ch)
        assert category not in ("Cc", "Cs"), repr(ch)
        assert category != "Cf" or ch == "\u200d", repr(ch)  # ZWJ survives only inside emoji sequences


@settings(max_examples=200)
@given(st.text(st.sampled_from(list("我要退货ABCabc,. ？！這個")), max_size=10), st.sampled_from(["<PHONE>", "<ORDER_NO>", "[微笑]", "[OK]"]),
       st.text(st.sampled_from(list("我要退货ABCabc,. ？！這個")), max_size=10))
def test_placeholders_and_wechat_codes_survive_normalize(before, token, after):
    # the alphabet around the token cannot spell a placeholder, so the token must come through unchanged
    assert token in normalize(before + token + after)


@settings(max_examples=300)
@given(message)
def test_preprocess_never_raises_and_is_idempotent(text):
    once = preprocess(text).text
    assert preprocess(once).text == once
    assert normalize(once) == once


@settings(max_examples=300)
@given(st.one_of(any_text, st.lists(st.one_of(context, private_values.map(lambda kv: kv[1])), max_size=6).map("".join)))
def test_mask_spans_point_into_the_text(text):
    result = mask(text)
    pos = 0
    rebuilt = []
    for entity in result.entities:
        assert text[entity.start : entity.end] == entity.value
        assert entity.start >= pos  # in order, not overlapping
        rebuilt.append(text[pos : entity.start])
        rebuilt.append(f"<{entity.kind.upper()}>")
        pos = entity.end
    rebuilt.append(text[pos:])
    assert "".join(rebuilt) == result.text


@settings(max_examples=400)
@given(context, private_values, context)
def test_masked_text_never_contains_the_masked_value(before, kind_value, after):
    kind, value = kind_value
    result = preprocess(before + value + after)
    normalised_value = normalize(value)
    assert normalised_value not in result.text
    assert result.entities
    if kind != "bank_card":  # an 18-digit card number can also read as an ID-card number: masked either way
        assert kind in [e.kind for e in result.entities], result
    if kind == "phone":
        assert "<PHONE>" in result.text


@settings(max_examples=100)
@given(st.lists(st.tuples(context.filter(bool), private_values), min_size=2, max_size=4))
def test_several_private_values_are_all_masked(parts):
    text = "".join(c + v for c, (_, v) in parts)
    masked = preprocess(text).text
    for _, (_, value) in parts:
        assert normalize(value) not in masked


# -- tokenizer --------------------------------------------------------------------------------------------------------------------
_TOKENIZERS = {
    "default": JiebaTokenizer(),
    "no-hmm-user-words": JiebaTokenizer(user_words=["运费险", "七天无理由", "人工客服"], hmm=False),
}


@pytest.mark.parametrize("name", sorted(_TOKENIZERS))
@settings(max_examples=200)
@given(text=message)
def test_tokens_join_back_to_the_normalised_text(name, text):
    tok = _TOKENIZERS[name]
    normalised = normalize(text)
    tokens = tok.tokenize(normalised)
    assert "".join(tokens) == normalised
    assert all(tokens)  # no empty tokens


@settings(max_examples=200)
@given(chat_text)
def test_placeholders_and_emoji_are_whole_tokens(text):
    tokens = JiebaTokenizer().tokenize(normalize(text))
    for token in ("<PHONE>", "<ORDER_NO>", "[微笑]", "[捂脸]", "😀", "👍🏻"):
        assert normalize(text).count(token) == tokens.count(token)


@settings(max_examples=100)
@given(message)
def test_features_never_contain_white_space_tokens(text):
    assert not any(t.isspace() for t in JiebaTokenizer()(normalize(text)))


# -- intent classifier ----------------------------------------------------------------------------------------------------------------
@settings(max_examples=40)
@given(st.lists(message, min_size=1, max_size=6))
def test_probability_rows_sum_to_one(fitted_clf, texts):
    proba = fitted_clf.predict_proba(texts)
    assert proba.shape == (len(texts), len(fitted_clf.classes_))
    assert np.all(np.isfinite(proba))
    assert np.all(proba >= 0) and np.all(proba <= 1)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=0, atol=1e-9)


@settings(max_examples=40)
@given(st.lists(message, min_size=1, max_size=8), st.data())
def test_prediction_does_not_depend_on_the_batch(fitted_clf, batch, data):
    i = data.draw(st.integers(0, len(batch) - 1), label="index")
    alone = fitted_clf.predict_proba([batch[i]])[0]
    in_batch = fitted_clf.predict_proba(batch)[i]
    np.testing.assert_allclose(in_batch, alone, rtol=0, atol=1e-12)
    assert fitted_clf.predict(batch)[i] == fitted_clf.predict([batch[i]])[0]
    assert fitted_clf.predictions(batch)[i].intent == fitted_clf.predict_one(batch[i]).intent


@settings(max_examples=40)
@given(message)
def test_top_k_agrees_with_predict_and_predict_proba(fitted_clf, text):
    proba = fitted_clf.predict_proba([text])[0]
    top = fitted_clf.top_k([text], k=len(fitted_clf.classes_))[0]
    assert top[0][0] == fitted_clf.predict([text])[0]
    assert sorted(label for label, _ in top) == sorted(fitted_clf.classes_.tolist())
    scores = [score for _, score in top]
    assert scores == sorted(scores, reverse=True)
    lookup = dict(zip(fitted_clf.classes_.tolist(), proba.tolist()))
    assert all(lookup[label] == pytest.approx(score, abs=1e-12) for label, score in top)


@settings(max_examples=30)
@given(message)
def test_equivalent_spellings_get_the_same_prediction(fitted_clf, text):
    # normalisation is part of the model: a message and its normalised form are the same message
    np.testing.assert_allclose(
        fitted_clf.predict_proba([text]), fitted_clf.predict_proba([normalize(text)]), rtol=0, atol=1e-12
    )


def _reference_grams(units, word: bool, lo: int, hi: int) -> list[str]:
    grams = list(units) if lo == 1 else []
    for n in range(max(lo, 2), hi + 1):
        if word:
            grams.extend(" ".join(units[i : i + n]) for i in range(len(units) - n + 1))
        else:
            grams.extend(units[i : i + n] for i in range(len(units) - n + 1))
    return grams


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=12), st.lists(st.text(min_size=1, max_size=3), max_size=8), st.integers(1, 4),
       st.integers(0, 3))
def test_ngrams_are_every_contiguous_run(text, tokens, lo, extra):
    """The fast n-gram builder (C-level map calls) gives exactly the n-grams of the plain definition."""
    from csnlp.features import _Block

    hi = lo + extra
    assert _Block("char", (lo, hi))._grams(text)[0] == _reference_grams(text, False, lo, hi)
    assert _Block("word", (lo, hi))._grams(tokens)[0] == _reference_grams(tokens, True, lo, hi)
