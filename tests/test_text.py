"""csnlp.text: normalisation and masking of chat messages (properties live in test_properties.py)."""

from __future__ import annotations

import pytest

import csnlp
from csnlp import InputError, mask, normalize, preprocess
from csnlp.text import PLACEHOLDERS


def luhn_complete(body: str) -> str:
    """``body`` plus the check digit that makes it pass the Luhn test (to build bank-card numbers)."""
    total = 0
    for i, ch in enumerate(reversed(body + "0")):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return body + str((10 - total % 10) % 10)


# -- normalize ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("ＡＰＰ打不開了！！！", "app打不开了!"),  # full-width, traditional, case, repeated punctuation
        ("在嗎？？[微笑]", "在吗?[微笑]"),  # WeChat emoji code kept
        ("１２３４５ｋｇ", "12345kg"),  # full-width digits and letters
        ("這個訂單怎麼還沒發貨", "这个订单怎么还没发货"),  # traditional -> simplified
        ("HELLO World", "hello world"),
        ("請撥打<PHONE>聯繫ABC", "请拨打<PHONE>联系abc"),  # placeholder kept upper-case, the rest lowered
        ("好的。。。。", "好的。"),
        ("什么？？？！！！", "什么?!"),
        ("在吗~~~~~", "在吗~"),
        ("等等，，，，", "等等,"),
        ("  我 \t 要\n\n退货  ", "我 要 退货"),  # white space collapsed and stripped
        ("我\u3000要", "我 要"),  # ideographic space
        ("退\u200b货\u200e\ufeff", "退货"),  # zero-width space, LRM, BOM dropped
        ("退\x00货\x07", "退货"),  # control characters dropped
        ("退\ud800货", "退货"),  # lone surrogate dropped
        ("", ""),
    ],
)
def test_normalize_examples(raw, expected):
    assert normalize(raw) == expected


def test_normalize_keeps_meaningful_punctuation_runs():
    # '/', '-' and '.' between digits carry meaning in URLs, numbers and dates
    assert normalize("https://example.com/a--b") == "https://example.com/a--b"
    assert normalize("价格1.5元") == "价格1.5元"


def test_normalize_keeps_emoji_and_zwj_sequences_but_drops_stray_zwj():
    family = "\U0001F468\u200d\U0001F469\u200d\U0001F467"
    assert normalize(f"谢谢{family}") == f"谢谢{family}"
    assert normalize("好评👍🏻") == "好评👍🏻"
    assert normalize("退\u200d货") == "退货"


@pytest.mark.parametrize("bad", [None, 42, 3.5, ["我要退货"], b"\xe9\x80\x80"])
def test_normalize_refuses_non_str(bad):
    with pytest.raises(InputError, match="must be str"):
        normalize(bad)


def test_input_error_is_a_type_error():
    with pytest.raises(TypeError):
        normalize(b"bytes")


@pytest.mark.parametrize("func", [mask, preprocess])
@pytest.mark.parametrize("bad", [None, 13812345678, b"13812345678"])
def test_mask_and_preprocess_refuse_non_str(func, bad):
    with pytest.raises(InputError, match="must be str"):
        func(bad)


def test_bytes_error_says_how_to_fix():
    with pytest.raises(InputError, match="decode"):
        mask(b"x")


# -- mask ------------------------------------------------------------------------------------------------------
VISA_TEST = "4111111111111111"  # a well-known Luhn-valid test card number
UNIONPAY_19 = luhn_complete("622202123456789012")


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [
        ("我的电话13812345678谢谢", "phone", "13812345678"),
        ("电话 138 1234 5678", "phone", "138 1234 5678"),
        ("电话+8613912345678", "phone", "+8613912345678"),
        ("座机010-12345678", "phone", "010-12345678"),
        ("打0755 87654321找我", "phone", "0755 87654321"),
        ("客服热线400-123-4567", "phone", "400-123-4567"),
        ("免费电话8008001234", "phone", "8008001234"),
        ("身份证号11010519491231002X", "id_card", "11010519491231002X"),
        ("身份证440305200001010018", "id_card", "440305200001010018"),
        (f"卡号{VISA_TEST}", "bank_card", VISA_TEST),
        (f"银行卡{UNIONPAY_19}退款", "bank_card", UNIONPAY_19),
        ("卡号6225 8801 2345 6789", "bank_card", "6225 8801 2345 6789"),
        ("邮箱foo.bar@example.com有问题", "email", "foo.bar@example.com"),
        ("发到 zhang_san+shop@mail.qq.com.cn 吧", "email", "zhang_san+shop@mail.qq.com.cn"),
        ("链接https://shop.example.com/item?id=42打不开", "url", "https://shop.example.com/item?id=42"),
        ("看www.example.cn/help", "url", "www.example.cn/help"),
        ("订单2024061512345678还没发货", "order_no", "2024061512345678"),
        ("订单号E2024061500123怎么查", "order_no", "E2024061500123"),
        ("单号SF1234567890123", "tracking_no", "SF1234567890123"),
        ("快递单号773012345678901", "tracking_no", "773012345678901"),
        ("退款¥199什么时候到", "money", "¥199"),
        ("差价50元", "money", "50元"),
        ("才3块钱", "money", "3块钱"),
        ("人民币1200", "money", "人民币1200"),
        ("赔了1.5万元", "money", "1.5万元"),
        ("运费$9.99", "money", "$9.99"),
    ],
)
def test_mask_finds_kind_value_and_span(text, kind, value):
    result = mask(text)
    assert [e.kind for e in result.entities] == [kind], result
    entity = result.entities[0]
    assert entity.value == value
    assert text[entity.start : entity.end] == value
    assert PLACEHOLDERS[kind] in result.text
    assert value not in result.text
    assert result.text == text[: entity.start] + PLACEHOLDERS[kind] + text[entity.end :]


def test_mask_several_entities_in_order_with_correct_spans():
    text = "订单2024061512345678还没发货,电话13812345678,邮箱a@b.cn,退我¥88"
    result = mask(text)
    assert [e.kind for e in result.entities] == ["order_no", "phone", "email", "money"]
    for e in result.entities:
        assert text[e.start : e.end] == e.value
    assert result.text == "订单<ORDER_NO>还没发货,电话<PHONE>,邮箱<EMAIL>,退我<MONEY>"
    assert result.values("phone") == ["13812345678"]
    assert result.values("bank_card") == []


def test_luhn_decides_between_bank_card_and_order_number():
    body = "622202123456789"
    valid = luhn_complete(body)
    invalid = valid[:-1] + str((int(valid[-1]) + 1) % 10)
    assert [e.kind for e in mask(f"卡号{valid}").entities] == ["bank_card"]
    assert [e.kind for e in mask(f"单号{invalid}").entities] != ["bank_card"]
    assert invalid not in mask(f"单号{invalid}").text  # still masked, as an order number


def test_id_card_needs_a_valid_date():
    # month 13 is no date: this is not an ID-card number (it is masked as a long number instead)
    result = mask("编号110105194913310021")
    assert "id_card" not in [e.kind for e in result.entities]


@pytest.mark.parametrize(
    "text",
    [
        "我要退货",
        "2024年6月15日下午3点",
        "买了3件,第2件有问题",
        "版本1.2.3",
        "15:30以后再打",
        "",
    ],
)
def test_mask_leaves_ordinary_text_alone(text):
    result = mask(text)
    assert result.text == text
    assert result.entities == ()


def test_mask_does_not_cut_digits_out_of_longer_numbers():
    # an 11-digit run inside a 20-digit number is not a phone number
    result = mask("流水号12013812345678123456")
    assert "phone" not in [e.kind for e in result.entities]


def test_url_does_not_swallow_trailing_sentence_punctuation():
    result = mask("请看https://a.example.com/x.")
    assert result.values("url") == ["https://a.example.com/x"]
    assert result.text.endswith("<URL>.")


def test_entity_to_dict_is_json_safe():
    import json

    entity = mask("电话13812345678").entities[0]
    assert json.loads(json.dumps(entity.to_dict())) == {
        "kind": "phone",
        "value": "13812345678",
        "start": 2,
        "end": 13,
    }


# -- preprocess -------------------------------------------------------------------------------------------------
def test_preprocess_normalises_then_masks():
    result = preprocess("我的快遞單號SF1234567890123，怎麼還沒到？？")
    assert result.text == "我的快递单号<TRACKING_NO>,怎么还没到?"
    assert result.values("tracking_no") == ["sf1234567890123"]


def test_preprocess_masks_full_width_numbers():
    result = preprocess("電話：１３８１２３４５６７８")
    assert result.text == "电话:<PHONE>"
    assert result.values("phone") == ["13812345678"]


def test_preprocess_spans_index_the_normalised_text():
    raw = "ＡＰＰ退款￥１９９，電話１３８１２３４５６７８"
    normalised = normalize(raw)
    for e in preprocess(raw).entities:
        assert normalised[e.start : e.end] == e.value


def test_public_api_exports():
    for name in ("normalize", "mask", "preprocess", "InputError"):
        assert name in csnlp.__all__


def test_url_without_dot_or_digit_is_masked():
    # the cheap pre-check before the patterns must not skip a URL that has no digit and no dot
    assert mask("看这里http://shop/xyz").text == "看这里<URL>"
