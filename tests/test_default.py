"""The embedded default: it loads, answers plain questions of every area, hands off what it must, and its
packaged corpus and knowledge base are valid."""

from __future__ import annotations

import json
from collections import Counter
from importlib import resources

import pytest

import csnlp
from csnlp.route import Router

#: The fixed intent ids of the default (other code and reports rely on them), plus the out-of-scope class.
INTENTS = {
    "greeting", "thanks", "goodbye", "human_agent", "product_info", "price_promotion", "coupon", "order_status",
    "shipping_progress", "urge_shipment", "change_address", "cancel_order", "payment_issue", "invoice",
    "return_request", "exchange_request", "refund_status", "quality_issue", "wrong_or_missing_item",
    "repair_warranty", "delivery_complaint", "price_protection", "account_register", "login_problem",
    "password_reset", "account_security", "app_malfunction", "membership_points", "service_complaint",
    "suggestion",
}
OUT_OF_SCOPE = "out_of_scope"


def _packaged(*parts: str) -> str:
    return resources.files("csnlp._data").joinpath(*parts).read_text(encoding="utf-8")


def _rows(name: str) -> list[dict]:
    return [json.loads(line) for line in _packaged("intents", name).splitlines() if line.strip()]


@pytest.fixture(scope="module")
def default() -> Router:
    return csnlp.load_default()


def test_load_default_gives_a_complete_router(default):
    assert isinstance(default, Router)
    assert set(default.classifier.classes_) == INTENTS | {OUT_OF_SCOPE}
    assert default.kb is not None and default.tagger is not None
    assert 0 < default.policy.threshold < 1
    assert csnlp.load_default() is not default  # no global state: every call gives the caller its own router


@pytest.mark.parametrize(("text", "intent"), [
    ("你好，在吗", "greeting"),
    ("好的谢谢你", "thanks"),
    ("这个手机壳是什么材质的", "product_info"),
    ("双十一有满减活动吗", "price_promotion"),
    ("优惠券怎么用不了", "coupon"),
    ("我的订单到哪一步了", "order_status"),
    ("快递到哪了，怎么还没到", "shipping_progress"),
    ("什么时候发货啊，都两天了", "urge_shipment"),
    ("收货地址填错了能改吗", "change_address"),
    ("我不想要了，订单怎么取消", "cancel_order"),
    ("付款一直失败怎么办", "payment_issue"),
    ("我要开发票", "invoice"),
    ("衣服不合适我想退货", "return_request"),
    ("鞋子小了能换大一码吗", "exchange_request"),
    ("退款什么时候到账", "refund_status"),
    ("收到的杯子是裂的", "quality_issue"),
    ("少发了一件东西", "wrong_or_missing_item"),
    ("耳机坏了在保修期内能修吗", "repair_warranty"),
    ("刚买就降价了能退差价吗", "price_protection"),
    ("注册收不到验证码", "account_register"),
    ("登录不上去了", "login_problem"),
    ("忘记密码了怎么找回", "password_reset"),
    ("APP一打开就闪退", "app_malfunction"),
    ("会员积分怎么兑换", "membership_points"),
    ("今天北京天气怎么样", OUT_OF_SCOPE),
])
def test_plain_questions_get_their_intent(default, text, intent):
    decision = default.route(text)
    assert decision.intent == intent, decision.to_dict()
    if intent != OUT_OF_SCOPE:
        assert decision.action == "answer" and decision.reply, decision.to_dict()


@pytest.mark.parametrize("text", ["转人工", "我要找真人客服", "人工客服在哪", "别跟我说机器人了，给我转人工"])
def test_explicit_request_for_a_person_is_handed_off(default, text):
    decision = default.route(text)
    assert (decision.action, decision.reason) == ("handoff", "user_request"), decision.to_dict()
    assert decision.queue


@pytest.mark.parametrize("text", ["我的账号被盗了，有陌生订单", "你们客服态度太差了，我要投诉"])
def test_human_only_intents_reach_a_person(default, text):
    assert default.route(text).action == "handoff"


def test_escalation_is_urgent(default):
    decision = default.route("再不给我退款我就打12315投诉你们")
    assert (decision.action, decision.reason, decision.priority) == ("handoff", "escalation_risk", "urgent")


# -- the packaged corpus -----------------------------------------------------------------------------------------
def test_corpus_is_valid():
    train, test = _rows("train.jsonl"), _rows("test.jsonl")
    for name, rows in (("train", train), ("test", test)):
        labels = {r["label"] for r in rows}
        assert labels == INTENTS | {OUT_OF_SCOPE}, f"{name}: unexpected or missing ids {labels ^ INTENTS}"
        assert all(isinstance(r["text"], str) and r["text"].strip() for r in rows), f"{name}: empty text"
        duplicates = [t for t, n in Counter(r["text"] for r in rows).items() if n > 1]
        assert not duplicates, f"{name}: duplicate texts {duplicates[:5]}"
        # the same once normalised: only the deliberate traditional-character twins of the training file
        twins = [t for t, n in Counter(csnlp.normalize(r["text"]) for r in rows).items() if n > 1]
        assert len(twins) <= (8 if name == "train" else 0), f"{name}: near-duplicates {twins[:10]}"
    assert min(Counter(r["label"] for r in train).values()) >= 60
    assert min(Counter(r["label"] for r in test).values()) >= 15
    overlap = {r["text"] for r in train} & {r["text"] for r in test}
    assert not overlap, f"train and test share {sorted(overlap)[:5]}"
    normalised = {csnlp.normalize(r["text"]) for r in train} & {csnlp.normalize(r["text"]) for r in test}
    assert not normalised, f"train and test share after normalisation {sorted(normalised)[:5]}"


def test_knowledge_base_answers_every_answerable_intent_with_a_short_sms_variant():
    replies = json.loads(_packaged("kb", "replies.json"))
    entries = replies.get("replies", replies)
    answerable = INTENTS - {"human_agent", "account_security", "service_complaint"}
    missing = sorted(i for i in answerable if i not in entries)
    assert not missing, f"no reply for {missing}"
    for intent in answerable:
        entry = entries[intent]
        assert entry["reply"].strip()
        assert 0 < len(entry["sms"]) <= 70, (intent, len(entry["sms"]))
