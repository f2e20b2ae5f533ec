"""Router, policy, knowledge base and threshold tuning."""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import csnlp
from csnlp import Decision, Policy, PolicyError, Router
from csnlp.kb import KnowledgeBase, fill_reply, tune_similarity_threshold
from csnlp.policy import REASONS
from csnlp.route import tune_router
from csnlp.tuning import tune_thresholds

REPLIES = {
    "return_goods": {"reply": "亲，退货请在「我的订单」申请[，订单{order_no}]。", "sms": "退货请在我的订单申请"},
    "refund": {"reply": "退款1-3个工作日原路退回。", "sms": "退款1-3个工作日到账"},
    "shipping": {"reply": "物流请在订单详情查看[，运单{tracking_no}]。", "sms": "物流在订单详情查看"},
    "invoice": {"reply": "发票在订单详情申请。", "sms": "发票在订单详情申请"},
    "change_address": {"reply": "未发货可改地址。", "sms": "未发货可改地址"},
    "human_agent": {"reply": "正在转接人工。", "sms": "正在转接人工"},
}
FAQ = [
    {"id": "return_shipping_fee", "intent": "return_goods", "answer": "质量问题运费我们出。",
     "questions": ["退货运费谁出", "退货邮费要我自己付吗", "退回去的运费谁承担"]},
    {"id": "invoice_title", "intent": "invoice", "answer": "发票抬头在订单详情修改。",
     "questions": ["发票抬头怎么改", "抬头写错了怎么办", "能改发票抬头吗"]},
]


@pytest.fixture(scope="module")
def kb():
    return KnowledgeBase.from_dict({"replies": REPLIES, "faq": FAQ, "faq_threshold": 0.6})


def policy(**changes) -> Policy:
    base = {"threshold": 0.5, "human_only_intents": ["complaint"], "out_of_scope_intents": ["coupon"]}
    return Policy.from_dict(base | changes)


@pytest.fixture(scope="module")
def router(fitted_clf, kb):
    return Router(fitted_clf, kb=kb, policy=policy())


# -- one rule at a time -----------------------------------------------------------------------------------
def test_confident_answer_with_reply_and_placeholder(router):
    d = router.route("帮我把订单2024061512345678退掉")
    assert (d.action, d.intent, d.reason) == ("answer", "return_goods", "confident")
    assert "2024061512345678" in d.reply
    assert d.priority == "low"
    assert "<ORDER_NO>" in d.masked_text and "2024061512345678" not in d.masked_text


def test_reply_drops_optional_segment_without_value(router):
    d = router.route("我要退货")
    assert d.action == "answer" and "{" not in d.reply and "订单" in d.reply and "[" not in d.reply


def test_sms_channel_gets_short_reply(router):
    d = router.route("我要退货", {"channel": "sms"})
    assert d.reply == "退货请在我的订单申请"


@pytest.mark.parametrize("text", ["转人工", "我要人工客服", "能不能找个人来处理", "轉人工", "别用机器人了，找真人"])
def test_explicit_request_for_a_person_hands_off(router, text):
    d = router.route(text)
    assert (d.action, d.reason) == ("handoff", "user_request")
    assert d.reply  # a handoff notice with a KB


@settings(max_examples=40)
@given(
    prefix=st.sampled_from(["", "你好，", "烦死了 ", "订单123456789012还没到，", "[微笑]"]),
    phrase=st.sampled_from(["转人工", "人工客服", "找真人", "真人客服", "转接客服"]),
    suffix=st.sampled_from(["", "!", "，谢谢", " 快点", "😡"]),
)
def test_request_for_a_person_always_hands_off(router, prefix, phrase, suffix):
    d = router.route(prefix + phrase + suffix)
    assert d.action == "handoff" and d.reason == "user_request"


@pytest.mark.parametrize("text", ["再不处理我就打12315", "我要找律师起诉你们", "我已经报警了", "我要在微博上曝光你们"])
def test_escalation_risk_is_urgent(router, text):
    d = router.route(text)
    assert (d.action, d.reason, d.priority, d.queue) == ("handoff", "escalation_risk", "urgent", "escalation")


def test_negative_emotion_is_high_priority(router):
    d = router.route("什么破快递，气死我了")
    assert (d.action, d.reason, d.priority) == ("handoff", "negative_emotion", "high")


def test_human_only_intent(router):
    d = router.route("服务态度太差了")
    assert (d.action, d.reason) == ("handoff", "human_only_intent")


def test_out_of_scope_intent_declines(router):
    d = router.route("优惠券怎么用")
    assert (d.action, d.reason) == ("clarify", "out_of_scope")


@pytest.mark.parametrize("text", ["", "   ", "😂😂😂", "。。。！！", "[微笑]"])
def test_empty_input_asks_to_rephrase(router, text):
    d = router.route(text)
    assert (d.action, d.reason, d.intent) == ("clarify", "empty_input", None)


def test_repeated_failure_from_count_and_from_previous_decisions(router):
    assert router.route("快递到哪了", {"failures": 2}).reason == "repeated_failure"
    previous = [router.route("😂"), router.route("。。")]
    assert all(p.action == "clarify" for p in previous)
    assert router.route("快递到哪了", {"previous": previous}).reason == "repeated_failure"
    assert router.route("快递到哪了", {"previous": [p.to_dict() for p in previous]}).reason == "repeated_failure"
    assert router.route("快递到哪了", {"failures": 1}).reason != "repeated_failure"


def test_vip_tier_raises_handoff_priority(router):
    assert router.route("转人工", {"tier": "vip"}).priority == "high"
    assert router.route("转人工", {"tier": "SVIP"}).priority == "urgent"


def test_low_confidence_hands_off(fitted_clf, kb):
    r = Router(fitted_clf, kb=kb, policy=policy(threshold=1.0, ambiguity_min_score=1.0))
    d = r.route("快递到哪了")
    assert (d.action, d.reason) == ("handoff", "low_confidence")
    assert d.queue == "general" and d.intent == "shipping"


def test_faq_match_when_no_intent_is_confident(fitted_clf, kb):
    r = Router(fitted_clf, kb=kb, policy=policy(threshold=1.0, ambiguity_min_score=1.0))
    d = r.route("发票抬头怎么改")
    assert (d.action, d.reason, d.faq_id) == ("answer", "faq_match", "invoice_title")
    assert d.reply == "发票抬头在订单详情修改。"


def test_faq_refines_a_confident_intent(router):
    d = router.route("退货运费谁出")
    assert d.intent == "return_goods" and d.reason == "faq_match" and d.faq_id == "return_shipping_fee"


def test_no_reply_for_a_confident_intent_hands_off(fitted_clf):
    kb = KnowledgeBase.from_dict({"replies": {"refund": "退款原路退回"}})
    d = Router(fitted_clf, kb=kb, policy=policy()).route("我要退货")
    assert (d.action, d.reason) == ("handoff", "no_reply")


def test_without_kb_answers_carry_no_reply(fitted_clf):
    d = Router(fitted_clf, policy=policy()).route("我要退货")
    assert d.action == "answer" and d.reply is None


def test_keyword_rules_pin_intent_or_hand_off(fitted_clf, kb):
    rules = [{"phrases": ["以旧换新"], "intent": "invoice"}, {"phrases": ["食物中毒"], "handoff": True, "queue": "safety",
                                                               "priority": "urgent"}]
    r = Router(fitted_clf, kb=kb, policy=policy(keyword_rules=rules))
    d = r.route("以旧换新怎么弄")
    assert (d.action, d.intent, d.reason, d.confidence) == ("answer", "invoice", "keyword_rule", 1.0)
    d = r.route("吃了你们的东西食物中毒了")
    assert (d.action, d.reason, d.queue, d.priority) == ("handoff", "keyword_handoff", "safety", "urgent")


def test_ambiguous_asks_which_of_the_two(fitted_clf, kb):
    r = Router(fitted_clf, kb=kb, policy=policy(threshold=0.99, ambiguity_margin=1.0, ambiguity_min_score=0.01))
    texts = ["地址发票", "退货退款", "发票和退款", "退款还是退货"]
    decisions = [r.route(t) for t in texts]
    ambiguous = [d for d in decisions if d.reason == "ambiguous"]
    assert ambiguous, [(d.reason, d.candidates[:2]) for d in decisions]
    d = ambiguous[0]
    assert d.action == "clarify" and d.candidates[0][0] in d.reply and d.candidates[1][0] in d.reply


def test_target_unreachable_hands_everything_off(fitted_clf, kb):
    p = policy(threshold=1.0, ambiguity_min_score=1.0, tuning={"reachable": False, "target_precision": 0.999})
    d = Router(fitted_clf, kb=kb, policy=p).route("快递到哪了")
    assert (d.action, d.reason) == ("handoff", "target_unreachable")


def test_every_reason_code_is_documented():
    for code, (action, meaning) in REASONS.items():
        assert action in ("answer", "clarify", "handoff") and meaning


def test_critical_severity_from_tagger_escalates(fitted_clf, kb):
    class Tag:
        def __init__(self):
            self.categories, self.severity, self.sentiment = ["product_defect"], "critical", "negative"

    class Tagger:
        def tag(self, texts):
            return [Tag() for _ in texts]

    r = Router(fitted_clf, kb=kb, policy=policy(human_only_intents=[], complaint_intents=["complaint"]), tagger=Tagger())
    d = r.route("服务态度太差了")
    assert (d.action, d.reason, d.priority) == ("handoff", "escalation_risk", "urgent")
    assert d.tags == ("product_defect",) and d.severity == "critical"


# -- properties -------------------------------------------------------------------------------------------
from conftest import HELDOUT  # noqa: E402

MESSAGES = st.sampled_from([t for t, _ in HELDOUT] + ["退货退款", "发票地址", "快递发票", "优惠退货"])


@settings(max_examples=60)
@given(text=MESSAGES, t1=st.floats(0, 1), t2=st.floats(0, 1))
def test_raising_the_threshold_never_turns_a_handoff_into_an_answer(fitted_clf, kb, text, t1, t2):
    low, high = sorted((t1, t2))
    d_low = Router(fitted_clf, kb=kb, policy=policy(threshold=low)).route(text)
    d_high = Router(fitted_clf, kb=kb, policy=policy(threshold=high)).route(text)
    if d_low.action != "answer":
        assert d_high.action != "answer"


def test_batch_single_and_threads_agree(router, heldout):
    texts = [t for t, _ in heldout] * 5 + ["转人工", "", "12315", "😂"]
    batch = router.route_many(texts)
    single = [router.route(t) for t in texts]
    assert batch == single
    results: dict[int, list] = {}

    def work(k):
        results[k] = [router.route(t) for t in texts]

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(results[k] == single for k in range(4))


def test_decision_to_dict_is_json_safe(router):
    d = router.route("订单2024061512345678什么时候发货，电话13812345678")
    data = json.loads(json.dumps(d.to_dict(), ensure_ascii=False))
    assert {"action", "intent", "confidence", "reason", "queue", "priority", "reply", "masked_text", "entities",
            "candidates"} <= set(data)
    assert len(data["candidates"]) == 3
    redacted = d.to_dict(include_entity_values=False)
    assert "13812345678" not in json.dumps(redacted, ensure_ascii=False)


def test_long_message_is_truncated_with_flag(router):
    d = router.route("快递" * 60000)
    assert d.truncated is True
    assert router.route("快递到哪了").truncated is False


# -- bad input ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("bad", [None, b"\xe9\x80\x80", 3, ["a"]])
def test_route_rejects_non_str(router, bad):
    with pytest.raises(csnlp.InputError, match="must be str"):
        router.route(bad)


def test_route_many_rejects_bare_str_and_bad_contexts(router):
    with pytest.raises(csnlp.InputError, match="single str"):
        router.route_many("转人工")
    with pytest.raises(csnlp.InputError, match="one context"):
        router.route_many(["a", "b"], [{}])
    with pytest.raises(csnlp.InputError, match="context must be a dict"):
        router.route("a", "vip")
    with pytest.raises(csnlp.InputError, match="failures"):
        router.route("a", {"failures": -1})
    assert router.route_many([]) == []


def test_unfitted_classifier_is_refused():
    with pytest.raises(csnlp.NotFittedError, match="not fitted"):
        Router(csnlp.IntentClassifier()).route("你好")


# -- policy validation --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "changes, message",
    [
        ({"threshold": 1.5}, r"threshold must be in \[0, 1\], got 1.5"),
        ({"intent_thresholds": {"refund": -0.1}}, r"intent_thresholds.refund must be in \[0, 1\]"),
        ({"thresold": 0.5}, r"unknown policy key\(s\) \['thresold'\]"),
        ({"tier_priority": {"vip": "asap"}}, r"tier_priority.vip is 'asap'"),
        ({"failure_limit": 0}, r"failure_limit must be an int >= 1"),
        ({"human_only_intents": "complaint"}, r"human_only_intents must be a list"),
        ({"keyword_rules": [{"phrases": ["x"], "intent": "a", "handoff": True}]}, r"exactly one of 'intent'"),
        ({"keyword_rules": [{"phrases": [], "intent": "a"}]}, r"phrases must be a non-empty list"),
        ({"keyword_rules": [{"phrases": ["x"], "intent": "a", "when": 1}]}, r"unknown key\(s\) \['when'\]"),
        ({"answer_model": {"coef": "x"}}, r"answer_model must be null"),
    ],
)
def test_policy_errors_name_the_key(changes, message):
    with pytest.raises(PolicyError, match=message):
        policy(**changes)


def test_policy_file_round_trip_and_errors(tmp_path):
    p = policy(threshold=0.7, keyword_rules=[{"phrases": ["以旧换新"], "intent": "invoice"}])
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(p.to_dict(), ensure_ascii=False), encoding="utf-8")
    assert Policy.from_file(path) == p
    yml = tmp_path / "policy.yml"
    yml.write_text("threshold: 0.8\nfailure_limit: 3\n", encoding="utf-8")
    assert Policy.from_file(yml).threshold == 0.8
    bad = tmp_path / "bad.json"
    bad.write_text("{threshold: }", encoding="utf-8")
    with pytest.raises(PolicyError, match="bad.json: cannot be parsed"):
        Policy.from_file(bad)


# -- knowledge base ---------------------------------------------------------------------------------------
def test_fill_reply_segments():
    assert fill_reply("[订单{order_no}]已发货[，运单{tracking_no}]", {"order_no": "1"}) == "订单1已发货"
    assert fill_reply("您好", {}) == "您好"


@pytest.mark.parametrize(
    "data, message",
    [
        ({"replies": {"refund": {"sms": "x"}}}, r"replies.refund needs a non-empty 'reply'"),
        ({"faq": [{"id": "a", "questions": ["q"]}]}, r"faq entry 0 \(a\) is missing \['answer'\]"),
        ({"faq": [{"id": "a", "questions": ["q"], "answer": "x"}, {"id": "a", "questions": ["p"], "answer": "y"}]},
         r"faq id 'a' appears twice"),
        ({"faq_threshold": 2}, r"faq_threshold must be in \[0, 1\]"),
    ],
)
def test_kb_errors_name_the_key(data, message):
    with pytest.raises(PolicyError, match=message):
        KnowledgeBase.from_dict(data)


def test_kb_from_dir_and_missing_dir(tmp_path):
    (tmp_path / "replies.json").write_text(json.dumps({"replies": REPLIES}, ensure_ascii=False), encoding="utf-8")
    kb = KnowledgeBase.from_dir(tmp_path)
    assert kb.reply_for("refund") == "退款1-3个工作日原路退回。"
    with pytest.raises(FileNotFoundError, match="replies.json"):
        KnowledgeBase.from_dir(tmp_path / "nope")


def test_similarity_threshold_tuning_separates_pairs():
    t, acc = tune_similarity_threshold([0.1, 0.2, 0.35, 0.8, 0.9], [0, 0, 1, 1, 1])
    assert 0.2 < t <= 0.35 and acc == 1.0


# -- tuning -----------------------------------------------------------------------------------------------
def test_tune_thresholds_meets_target_on_synthetic_scores():
    rng = np.random.default_rng(0)
    n = 2000
    conf = rng.uniform(0.3, 1.0, n)
    right = rng.uniform(size=n) < conf  # calibrated: P(right) == confidence
    classes = np.array(["a", "b"])
    proba = np.c_[conf, 1 - conf]
    y = np.where(right, "a", "b")
    result = tune_thresholds(proba, classes, y, target_precision=0.9)
    assert result.reachable and result.precision >= 0.9
    answered = conf >= result.threshold
    assert right[answered].mean() >= 0.9
    # the chosen threshold is the lowest that meets the target: a bit lower misses it
    lower = conf >= result.threshold - 0.02
    assert right[lower].mean() < 0.9 or lower.sum() == answered.sum()
    lo, hi = result.coverage_ci
    assert lo <= result.coverage <= hi
    assert "chosen" in result.table()


def test_tune_thresholds_reports_unreachable_target():
    proba = np.array([[0.9, 0.1], [0.8, 0.2]])
    result = tune_thresholds(proba, np.array(["a", "b"]), ["b", "b"], target_precision=0.95)
    assert not result.reachable and result.threshold == 1.0 and result.n_answered == 0
    assert "cannot be reached" in result.summary()


def test_tune_router_refuses_training_data_without_cv(corpus_jsonl):
    from csnlp.training import train_intent_classifier

    clf = train_intent_classifier(corpus_jsonl)
    with pytest.raises(csnlp.exceptions.TuningError, match="training data"):
        tune_router(clf, corpus_jsonl, target_precision=0.9)


def test_tune_router_with_cv_stores_thresholds_and_answer_model(fitted_clf, corpus_jsonl, tmp_path):
    router = tune_router(fitted_clf, corpus_jsonl, target_precision=0.8, cv=3, out_dir=tmp_path / "curve")
    assert router.policy.tuning["target_precision"] == 0.8
    assert router.policy.answer_model is not None
    assert (tmp_path / "curve" / "risk_coverage.json").is_file()
    path = csnlp.save(router, tmp_path / "router")
    loaded = csnlp.load(path)
    texts = [t for t, _ in HELDOUT]
    assert loaded.route_many(texts) == router.route_many(texts)
