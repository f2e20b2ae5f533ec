"""FeedbackTagger: multi-label categories, evidence, severity, sentiment, persistence, input checks."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import KFold, cross_val_score

import csnlp
from csnlp.tag import (
    ESCALATION_LEXICONS,
    FeedbackTagger,
    TagResult,
    escalation_signals,
    evaluate_tagger,
    rate_severity,
    sentiment_from_labels,
    train_feedback_tagger,
)

LOGISTICS = [
    "快递太慢了,等了一个星期", "物流信息三天没更新", "快递员态度差,包裹扔在门口", "发货太慢了", "物流一直不动",
    "快递送错地址了", "包裹在路上丢了", "配送太慢,说好次日达", "快递一直不派送", "物流显示签收但我没收到",
]
DEFECT = [
    "屏幕有坏点", "开机就黑屏", "充电器用两天就坏了", "耳机一边没声音", "拉链一拉就断了",
    "杯子有裂缝漏水", "电池鼓包了", "按键失灵按不动", "衣服洗一次就掉色", "鞋底开胶了",
]
REFUND = [
    "退款申请一直没人处理", "退货寄回去十天了还没退款", "售后让我自己承担运费", "申请换货被拒绝了", "退款被驳回",
    "售后电话打不通", "说好的七天无理由不给退", "维修了两次还是不行", "换货要等一个月", "退款到现在还没到账",
]
PRAISE = [
    "质量很好,非常满意", "客服态度很好,谢谢", "包装精美,很喜欢", "性价比很高,会回购", "东西不错,好评",
    "用着很舒服,推荐", "做工精细,物超所值", "非常好用,五星好评", "颜色很正,很满意", "味道很好,家人都喜欢",
]
MIXED = [
    ("快递太慢而且屏幕有坏点", ["logistics", "product_defect"]),
    ("物流丢件,退款也一直不处理", ["after_sales_process", "logistics"]),
    ("开机黑屏,申请退货被拒绝了", ["after_sales_process", "product_defect"]),
    ("包裹三天没更新,到了发现电池鼓包", ["logistics", "product_defect"]),
    ("电池鼓包了,退款被驳回", ["after_sales_process", "product_defect"]),
    ("快递员态度差,退款也没到账", ["after_sales_process", "logistics"]),
]
TEXTS = LOGISTICS + DEFECT + REFUND + PRAISE + [t for t, _ in MIXED]
LABELS = (
    [["logistics"]] * len(LOGISTICS)
    + [["product_defect"]] * len(DEFECT)
    + [["after_sales_process"]] * len(REFUND)
    + [["praise"]] * len(PRAISE)
    + [labels for _, labels in MIXED]
)
HELD_OUT = ["快递慢得离谱,屏幕还有坏点", "物流不动,退款也不处理", "质量很好,很满意", "电池鼓包,充电器也坏了"]


@pytest.fixture(scope="module")
def tagger() -> FeedbackTagger:
    return FeedbackTagger(random_state=0).fit(TEXTS, LABELS)


# -- fitting and prediction ------------------------------------------------------------------------------------------
def test_fit_sets_fitted_attributes(tagger):
    assert tagger.classes_.tolist() == ["after_sales_process", "logistics", "praise", "product_defect"]
    n_features = len(tagger.feature_names_)
    assert tagger.coef_.shape == (4, n_features)
    assert tagger.intercept_.shape == (4,) and tagger.thresholds_.shape == (4,)
    assert tagger.sentiment_ is None


def test_predict_proba_is_one_score_per_label_in_unit_interval(tagger):
    proba = tagger.predict_proba(HELD_OUT)
    assert proba.shape == (len(HELD_OUT), 4)
    assert ((proba >= 0) & (proba <= 1)).all()
    assert tagger.predict_proba([]).shape == (0, 4)


def test_predict_gives_several_labels_for_mixed_complaints(tagger):
    pred = tagger.predict(["快递太慢了,而且屏幕有坏点", "物流一直不动,退款也不处理"])
    assert set(pred[0]) == {"logistics", "product_defect"}
    assert set(pred[1]) == {"logistics", "after_sales_process"}
    assert tagger.predict(["质量很好,非常满意"]) == [["praise"]]


def test_predict_lists_labels_best_first(tagger):
    proba = tagger.predict_proba(HELD_OUT)
    index = {c: j for j, c in enumerate(tagger.classes_)}
    for row, labels in zip(proba, tagger.predict(HELD_OUT)):
        scores = [row[index[c]] for c in labels]
        assert scores == sorted(scores, reverse=True)


def test_single_str_label_means_one_element_list():
    texts = LOGISTICS[:5] + DEFECT[:5]
    as_str = ["logistics"] * 5 + ["product_defect"] * 5
    a = FeedbackTagger(threshold_folds=2).fit(texts, as_str)
    b = FeedbackTagger(threshold_folds=2).fit(texts, [[label] for label in as_str])
    np.testing.assert_array_equal(a.predict_proba(HELD_OUT), b.predict_proba(HELD_OUT))
    np.testing.assert_array_equal(a.thresholds_, b.thresholds_)


def test_texts_without_a_category_can_be_trained_and_predicted():
    texts = TEXTS + ["你好", "在吗", "谢谢"]
    labels = LABELS + [[], [], []]
    tagger = FeedbackTagger(threshold_folds=0).fit(texts, labels)
    assert tagger.fill_empty_ is False  # the training data says some texts have no category
    every = FeedbackTagger(threshold_folds=0).fit(TEXTS, LABELS)
    assert every.fill_empty_ is True
    assert all(len(ls) >= 1 for ls in every.predict(["你好", "在吗", "完全无关的一句话"]))


def test_n_evidence_limits_and_validates(tagger):
    assert all(len(v) <= 1 for v in tagger.tag(HELD_OUT, n_evidence=1)[0].evidence.values())
    assert all(v == [] for v in tagger.tag(HELD_OUT, n_evidence=0)[0].evidence.values())
    with pytest.raises(ValueError, match="n_evidence must be an int >= 0"):
        tagger.tag(HELD_OUT, n_evidence=-1)


# -- thresholds: tuned on training data only --------------------------------------------------------------------------
def test_thresholds_are_tuned_not_fixed(tagger):
    assert ((tagger.thresholds_ > 0) & (tagger.thresholds_ < 1)).all()
    assert not np.allclose(tagger.thresholds_, 0.5)
    fixed = FeedbackTagger(threshold_folds=0).fit(TEXTS, LABELS)
    np.testing.assert_array_equal(fixed.thresholds_, np.full(4, 0.5))


def test_thresholds_come_from_training_data_only(tagger):
    before = tagger.thresholds_.copy()
    tagger.predict(HELD_OUT)
    tagger.tag(HELD_OUT + ["完全无关的一句话"])
    np.testing.assert_array_equal(tagger.thresholds_, before)
    # refitting on the same training data gives the same thresholds, whatever was predicted in between
    again = FeedbackTagger(random_state=0).fit(TEXTS, LABELS)
    np.testing.assert_array_equal(again.thresholds_, before)
    # and they move when the training data changes
    other = FeedbackTagger(random_state=0).fit(TEXTS[:-6], LABELS[:-6])
    assert not np.array_equal(other.thresholds_, before)


def test_prediction_does_not_depend_on_the_batch(tagger):
    together = tagger.predict_proba(HELD_OUT)
    alone = np.vstack([tagger.predict_proba([t]) for t in HELD_OUT])
    np.testing.assert_allclose(together, alone, rtol=0, atol=1e-12)


# -- tag(): evidence, severity, sentiment -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text",
    HELD_OUT
    + [
        "快递 太慢了!!!屏幕也坏了",
        "ＡＰＰ里申請退款,一直沒人處理",  # full width and traditional characters are normalised first
        "退款 iPhone 13 Pro 电池鼓包",
        "电话13812345678,快递三天没动",
        "差评!!质量太差,客服不理人,物流还慢",
    ],
)
def test_evidence_ngrams_occur_in_the_normalised_text(tagger, text):
    result = tagger.tag([text])[0]
    norm = csnlp.normalize(text)
    assert set(result.evidence) == set(result.categories)
    if result.categories:
        assert any(result.evidence.values()), "a predicted category should have some evidence"
    for category, ngrams in result.evidence.items():
        assert len(ngrams) <= 3
        assert len(set(ngrams)) == len(ngrams)
        for ngram in ngrams:
            assert ngram and ngram in norm, (category, ngram, norm)


def test_evidence_points_at_the_words_of_the_category(tagger):
    result = tagger.tag(["快递太慢了,而且屏幕有坏点"])[0]
    assert any("快递" in e or "慢" in e for e in result.evidence["logistics"])
    assert any("坏点" in e or "屏幕" in e for e in result.evidence["product_defect"])


def test_tag_result_fields_and_json(tagger):
    results = tagger.tag(HELD_OUT)
    assert len(results) == len(HELD_OUT) and all(isinstance(r, TagResult) for r in results)
    for r in results:
        assert set(r.scores) == set(tagger.classes_)
        assert r.severity in ("low", "medium", "high", "critical")
        assert r.sentiment in ("negative", "neutral", "positive")
        d = json.loads(json.dumps(r.to_dict(), ensure_ascii=False))
        assert d["categories"] == r.categories and d["severity"] == r.severity
    assert tagger.tag([]) == []


def test_truncated_flag():
    tagger = FeedbackTagger(max_length=10, threshold_folds=0).fit(TEXTS, LABELS)
    short, long = tagger.tag(["快递太慢", "快递太慢" * 10])
    assert not short.truncated and long.truncated


def _critical(tagger, text, kind):
    result = tagger.tag([text])[0]
    assert result.severity == "critical", result
    assert kind in result.escalation, result.escalation


def test_critical_when_a_regulator_is_named(tagger):
    _critical(tagger, "退款拖了一个月,我已经打12315投诉了", "regulator")
    _critical(tagger, "再不处理我就去消费者协会", "regulator")
    _critical(tagger, "我要向市场监管局举报你们", "regulator")


def test_critical_when_a_lawyer_or_court_is_named(tagger):
    _critical(tagger, "屏幕坏了不给换,我会请律师", "legal")
    _critical(tagger, "不退款就去法院起诉你们", "legal")


def test_critical_when_media_exposure_is_threatened(tagger):
    _critical(tagger, "物流丢件不管,我要找记者曝光", "media")
    _critical(tagger, "再不处理我就发微博", "media")
    _critical(tagger, "我要在抖音上把你们挂出来", "media")


def test_critical_when_the_police_are_named(tagger):
    _critical(tagger, "快递被冒领了,我已经报警了", "police")


def test_critical_on_harm_to_safety_or_health(tagger):
    _critical(tagger, "充电器用的时候起火了", "safety")
    _critical(tagger, "热水壶漏电,孩子被电到了", "safety")
    _critical(tagger, "吃了你们的零食过敏住院了", "safety")


def test_critical_on_a_large_money_loss(tagger):
    _critical(tagger, "被多扣了3000元,退款一直不到账", "money")
    _critical(tagger, "¥1999的耳机用两天就坏了", "money")
    _critical(tagger, "损失了好几千,售后不管", "money")
    _critical(tagger, "花了2万元买的电脑开机就黑屏", "money")
    _critical(tagger, "莫名其妙扣了我4999,退款也不处理", "money")  # a bare number after a money verb


@pytest.mark.parametrize(
    "text",
    [
        "用工商银行卡付的款,快递太慢",  # a bank, not the regulator
        "烟雾报警器收到就坏了",  # a product, not the police
        "用了一个月,没有过敏,很满意",  # negated harm
        "在抖音直播间买的,快递太慢",  # a shop, not media exposure
        "订单2023123150001还没发货",  # digits of an order number, not 12315
        "多扣了50元,请退给我",  # a small amount
        "充电到一半就断了",  # 电到 inside 充电到一半, not an electric shock
        "屏幕划伤了一道",  # a scratched screen, not an injury
        "这个月刷了1000次都没抢到券",  # a count, not an amount
    ],
)
def test_not_critical_on_false_friends(tagger, text):
    result = tagger.tag([text])[0]
    assert result.severity != "critical", result.escalation
    assert result.escalation == {}


def test_lexicons_are_public_constants():
    assert {"regulator", "legal", "media", "police", "safety"} <= set(ESCALATION_LEXICONS)
    for word in ("12315", "消协", "律师", "起诉", "媒体", "曝光", "报警", "公安", "起火", "中毒", "误食"):
        assert any(word in words for words in ESCALATION_LEXICONS.values()), word
    assert escalation_signals("我要去法院起诉") == {"legal": ["法院", "起诉"]}


def test_severity_rules_below_critical():
    assert rate_severity("手机屏幕有坏点", ["product_defect"], "negative") == "high"
    assert rate_severity("快递慢,我要投诉", ["logistics"], "negative") == "high"
    assert rate_severity("快递有点慢", ["logistics"], "negative") == "medium"
    assert rate_severity("东西很好", ["praise"], "positive") == "low"
    assert rate_severity("你们几点下班", ["other"], "neutral") == "low"
    assert rate_severity("你们就是骗子", [], "neutral") == "high"  # anger words count unless the text is positive
    assert rate_severity("说好的赔偿很快到账了,谢谢", ["praise"], "positive") == "low"
    with pytest.raises(csnlp.InputError, match="sentiment must be one of"):
        rate_severity("快递慢", ["logistics"], "angry")


def test_praise_is_low_severity_and_positive(tagger):
    result = tagger.tag(["质量很好,非常满意"])[0]
    assert result.categories == ["praise"]
    assert result.sentiment == "positive" and result.severity == "low"


def test_sentiment_derived_from_labels():
    assert sentiment_from_labels(["praise"]) == "positive"
    assert sentiment_from_labels(["other"]) == "neutral"
    assert sentiment_from_labels([]) == "neutral"
    assert sentiment_from_labels(["praise", "logistics"]) == "negative"
    assert sentiment_from_labels(["feature_request"]) == "negative"


def test_sentiment_classifier_trained_on_a_sentiment_field():
    sentiment = [0] * (len(TEXTS) - len(PRAISE) - len(MIXED)) + [1] * len(PRAISE) + [0] * len(MIXED)
    tagger = FeedbackTagger(threshold_folds=0).fit(TEXTS, LABELS, sentiment=sentiment)
    assert tagger.sentiment_ is not None
    assert sorted(tagger.sentiment_.classes_) == ["negative", "positive"]  # 0/1 means negative/positive
    assert tagger.predict_sentiment(["非常满意,好评", "快递太慢了"]) == ["positive", "negative"]
    with pytest.raises(csnlp.InputError, match="only the value"):
        FeedbackTagger(threshold_folds=0).fit(TEXTS, LABELS, sentiment=["negative"] * len(TEXTS))
    with pytest.raises(csnlp.InputError, match="use negative/neutral/positive"):
        FeedbackTagger(threshold_folds=0).fit(TEXTS, LABELS, sentiment=["angry"] * len(TEXTS))


# -- persistence, clone, scikit-learn -----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["tagger_bundle", "tagger.zip"])
def test_save_load_round_trip_is_identical(tagger, tmp_path, name):
    path = csnlp.save(tagger, tmp_path / name)
    loaded = csnlp.load(path)
    assert type(loaded) is FeedbackTagger
    np.testing.assert_array_equal(loaded.predict_proba(HELD_OUT), tagger.predict_proba(HELD_OUT))
    np.testing.assert_array_equal(loaded.thresholds_, tagger.thresholds_)
    assert [r.to_dict() for r in loaded.tag(HELD_OUT)] == [r.to_dict() for r in tagger.tag(HELD_OUT)]
    assert csnlp.read_manifest(path)["kind"] == "feedback_tagger"


def test_save_load_round_trip_with_sentiment_model(tmp_path):
    sentiment = ["negative"] * (len(TEXTS) - len(PRAISE) - len(MIXED)) + ["positive"] * len(PRAISE)
    sentiment += ["negative"] * len(MIXED)
    tagger = FeedbackTagger(threshold_folds=2).fit(TEXTS, LABELS, sentiment=sentiment)
    loaded = csnlp.load(csnlp.save(tagger, tmp_path / "t"))
    np.testing.assert_array_equal(loaded.predict_proba(HELD_OUT), tagger.predict_proba(HELD_OUT))
    np.testing.assert_array_equal(
        loaded.sentiment_.predict_proba(HELD_OUT), tagger.sentiment_.predict_proba(HELD_OUT)
    )
    assert loaded.predict_sentiment(HELD_OUT) == tagger.predict_sentiment(HELD_OUT)


def test_clone_and_refit_are_reproducible(tagger):
    twin = clone(tagger)
    assert twin.get_params() == tagger.get_params()
    assert not hasattr(twin, "coef_")
    twin.fit(TEXTS, LABELS)
    np.testing.assert_array_equal(twin.predict_proba(HELD_OUT), tagger.predict_proba(HELD_OUT))


def test_cross_val_score_with_kfold():
    scores = cross_val_score(
        FeedbackTagger(threshold_folds=2), TEXTS, LABELS, cv=KFold(3, shuffle=True, random_state=0)
    )
    assert scores.shape == (3,) and (scores > 0.5).all()


def test_not_fitted():
    with pytest.raises(csnlp.NotFittedError, match="call fit"):
        FeedbackTagger().tag(["快递太慢"])


# -- bad input ------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("X", "match"),
    [
        (None, "expected an iterable of texts, got NoneType"),
        ("快递太慢了", "got a single str: wrap it in a list"),
        (b"\xe5\xbf\xab", "got bytes: decode it"),
        (["快递太慢", math.nan], r"X\[1\] is NaN"),
        (["快递太慢", b"\xe5\xbf\xab"], r"X\[1\] is bytes: decode it"),
        (["快递太慢", None], r"X\[1\] must be str, got NoneType"),
    ],
)
def test_bad_texts_raise_input_error(tagger, X, match):
    with pytest.raises(csnlp.InputError, match=match):
        tagger.predict(X)
    with pytest.raises(csnlp.InputError, match=match):
        tagger.tag(X)
    with pytest.raises(csnlp.InputError, match=match):
        FeedbackTagger().fit(X, [["logistics"], ["praise"]])


def test_empty_training_list_raises_input_error():
    with pytest.raises(csnlp.InputError, match="cannot fit on an empty list of texts"):
        FeedbackTagger().fit([], [])


@pytest.mark.parametrize(
    ("Y", "match"),
    [
        (None, "Y is None: pass one list of labels per text"),
        ("logistics", "got a single str for Y: pass a list of lists"),
        ([["logistics"]], "got 2 texts but 1 label lists"),
        ([["logistics"], None], r"Y\[1\] is missing: give \[\] for a text with no category"),
        ([["logistics"], [3]], r"Y\[1\] contains 3 \(int\): labels must be str"),
        ([[], []], "no text has a category"),
    ],
)
def test_bad_labels_raise_input_error(Y, match):
    with pytest.raises(csnlp.InputError, match=match):
        FeedbackTagger().fit(["快递太慢", "屏幕坏了"], Y)


def test_bad_parameters_raise_value_error():
    with pytest.raises(ValueError, match="threshold_folds must be 0 or an int >= 2"):
        FeedbackTagger(threshold_folds=1).fit(TEXTS, LABELS)
    with pytest.raises(ValueError, match="C must be a positive number"):
        FeedbackTagger(C=0).fit(TEXTS, LABELS)


# -- training from files, evaluation ------------------------------------------------------------------------------------
def _write_jsonl(path, texts, labels, sentiment=None):
    with open(path, "w", encoding="utf-8") as fh:
        for i, (text, ls) in enumerate(zip(texts, labels)):
            record = {"text": text, "labels": ls}
            if sentiment is not None:
                record["sentiment"] = sentiment[i]
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")


def test_train_feedback_tagger_from_a_file(tmp_path):
    sentiment = ["positive" if ls == ["praise"] else "negative" for ls in LABELS]
    _write_jsonl(tmp_path / "train.jsonl", TEXTS, LABELS, sentiment)
    dev_labels = [["logistics", "product_defect"], ["after_sales_process", "logistics"], ["praise"], ["product_defect"]]
    _write_jsonl(tmp_path / "dev.jsonl", HELD_OUT * 2, dev_labels * 2)  # every label twice: no DataWarning
    tagger = train_feedback_tagger(tmp_path / "train.jsonl", config={"C": 5.0}, seed=3, dev=tmp_path / "dev.jsonl")
    assert tagger.C == 5.0 and tagger.random_state == 3
    assert tagger.sentiment_ is not None
    meta = tagger.bundle_metadata_
    assert len(meta["training_data_sha256"]) == 64
    assert meta["metrics"]["n"] == 8 and 0 <= meta["metrics"]["micro_f1"] <= 1
    manifest = csnlp.read_manifest(csnlp.save(tagger, tmp_path / "bundle"))
    assert manifest["training_data_sha256"] == meta["training_data_sha256"]
    with pytest.raises(csnlp.InputError, match="unknown FeedbackTagger parameter"):
        train_feedback_tagger(tmp_path / "train.jsonl", config={"C_logistic": 1.0})


def test_evaluate_tagger_report(tagger):
    truth = [["logistics", "product_defect"], ["after_sales_process", "logistics"], ["praise"], ["product_defect"]]
    report = evaluate_tagger(tagger, HELD_OUT, truth)
    assert {"n", "micro_f1", "macro_f1", "per_label"} <= set(report)
    assert report["n"] == 4
    assert set(report["per_label"]) == set(tagger.classes_)
    assert report["micro_f1"] >= 0.8
    json.dumps(report)
    with pytest.raises(csnlp.InputError, match="got 4 texts but 1 label lists"):
        evaluate_tagger(tagger, HELD_OUT, [["praise"]])
